#[test]
fn lab_cache_dir_wins_and_the_system_s_cache_folder_is_used_otherwise() {
    use std::path::PathBuf;
    let sys = Some(PathBuf::from("/home/ana/.cache"));
    assert_eq!(super::cache_dir_from(Some("/mnt/stick/lab".into()), sys.clone()), PathBuf::from("/mnt/stick/lab"));
    assert_eq!(super::cache_dir_from(Some("".into()), sys.clone()), PathBuf::from("/home/ana/.cache/lab"));
    assert_eq!(super::cache_dir_from(None, sys), PathBuf::from("/home/ana/.cache/lab"));
    assert!(super::cache_dir_from(None, None).ends_with("lab-cache"));
}

/// Where each system keeps a user's caches, as this system answers.
#[test]
fn the_cache_is_where_this_system_keeps_caches() {
    let c = dirs::cache_dir().expect("this system names a cache folder").join("lab");
    #[cfg(target_os = "linux")]
    {
        let xdg = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty());
        let want = xdg.map_or_else(|| dirs::home_dir().expect("a home folder").join(".cache"), Into::into);
        assert_eq!(c, want.join("lab"));
    }
    #[cfg(target_os = "macos")]
    assert!(c.ends_with("Library/Caches/lab"), "{}", c.display());
    #[cfg(windows)]
    {
        // The user's own local application data (under Wine too), never a drive's root.
        let local = std::env::var_os("LOCALAPPDATA").map(std::path::PathBuf::from);
        assert!(c.ends_with(r"AppData\Local\lab") || local.is_some_and(|l| c == l.join("lab")), "{}", c.display());
    }
}

use super::*;

const A: &str = "a3b1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

#[test]
fn gnu_and_bsd_and_signed_checksum_files() {
    let gnu = format!("{A}  CentOS-7-x86_64-Minimal-2009.iso\n{}  other.iso\n", "b".repeat(64));
    assert_eq!(parse_checksum_file(&gnu, "CentOS-7-x86_64-Minimal-2009.iso", &ChecksumAlgo::Sha256).as_deref(), Some(A));
    assert_eq!(parse_checksum_file(&gnu, "other.iso", &ChecksumAlgo::Sha256), Some("b".repeat(64)));
    let bsd = format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n# Rocky-9.iso: 2252013568 bytes\nSHA256 (Rocky-9.iso) = {A}\n-----BEGIN PGP SIGNATURE-----\nxyz\n"
    );
    assert_eq!(parse_checksum_file(&bsd, "Rocky-9.iso", &ChecksumAlgo::Sha256).as_deref(), Some(A));
    // A file naming only another name: its single digest is used (CentOS's "latest" alias
    // is listed under the dated name); with two entries and no match there is no answer.
    assert_eq!(parse_checksum_file(&bsd, "Rocky-9-latest.iso", &ChecksumAlgo::Sha256).as_deref(), Some(A));
    assert_eq!(parse_checksum_file(&gnu, "third.iso", &ChecksumAlgo::Sha256), None);
}

#[test]
fn both_apache_sha512_formats() {
    let new = format!("{}  spark-3.5.8-bin-hadoop3.tgz\n", "c".repeat(128));
    assert_eq!(parse_checksum_file(&new, "spark-3.5.8-bin-hadoop3.tgz", &ChecksumAlgo::Sha512), Some("c".repeat(128)));
    let old = "spark-2.3.2-bin-hadoop2.7.tgz: E61D9330 125746A2 4D778416 6A15B415 14546CAD\n                               874357C9 8DCA0A2C 39FA7303 D8FA7C04 9BA6CDF5\n                               A24C172D 4F47A2E5 B6E1F658 A57A9B2A 30D46D98\n                               58CDB531\n";
    assert_eq!(
        parse_checksum_file(old, "spark-2.3.2-bin-hadoop2.7.tgz", &ChecksumAlgo::Sha512).as_deref(),
        Some("e61d9330125746a24d7784166a15b41514546cad874357c98dca0a2c39fa7303d8fa7c049ba6cdf5a24c172d4f47a2e5b6e1f658a57a9b2a30d46d9858cdb531")
    );
}

#[test]
fn single_digest_fallback() {
    assert_eq!(parse_checksum_file(&format!("{A}\n"), "anything", &ChecksumAlgo::Sha256).as_deref(), Some(A));
    assert_eq!(parse_checksum_file("nothing here", "x", &ChecksumAlgo::Sha256), None);
}

#[test]
fn hashes_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("f");
    fs::write(&p, b"abc").expect("write");
    assert_eq!(hash_file(&p, &ChecksumAlgo::Sha256).expect("hash"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/// A shelf (a teacher's stick): a file is taken from it only when it matches the checksum lab
/// has (pinned here), and copied into the cache; a damaged one is not used, and offline that is
/// an error naming the file and what to do. The manifest never supplies a checksum: with only a
/// checksum URL, offline is refused. Nothing touches the network (the URLs lead nowhere).
#[test]
fn a_shelf_file_is_checked_and_copied_and_a_damaged_one_is_refused() {
    use sha2::Digest as _;
    let tmp = tempfile::tempdir().expect("tmp");
    let (stick, cache) = (tmp.path().join("stick"), tmp.path().join("cache"));
    std::fs::create_dir_all(&stick).expect("stick");
    let data = b"spark, as Apache publishes it".repeat(1000);
    let hex = format!("{:x}", sha2::Sha512::digest(&data));
    std::fs::write(stick.join("spark-4.3.0-bin-hadoop3.tgz"), &data).expect("file");
    let sums = "http://127.0.0.1:9/spark-4.3.0-bin-hadoop3.tgz.sha512";
    let mut m = shelf::Manifest::default();
    m.put(shelf::Entry {
        file: "spark-4.3.0-bin-hadoop3.tgz".into(),
        url: "http://127.0.0.1:9/spark-4.3.0-bin-hadoop3.tgz".into(),
        checksum_url: Some(sums.into()),
        algo: "sha512".into(),
        digest: hex.clone(),
        size: data.len() as u64,
    });
    m.write(&stick).expect("manifest");
    let quiet = crate::ui::Silent;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    // Only a checksum URL: the stick's word is not taken for the checksum.
    let by_url =
        Artifact { url: "http://127.0.0.1:9/spark-4.3.0-bin-hadoop3.tgz".into(), checksum: Checksum::File { algo: ChecksumAlgo::Sha512, url: sums.into() } };
    let dl = Downloader::with_cache(cache.clone(), &quiet).expect("dl").shelved(vec![stick.clone()], true);
    assert!(!dl.available_offline(&by_url));
    match rt.block_on(dl.fetch(&by_url, &mut false)).expect_err("no checksum") {
        crate::error::Error::Preflight { problem, fix } => assert!(problem.contains("has not read") && fix.contains("pin it"), "{problem} / {fix}"),
        other => panic!("{other}"),
    }
    // A stick whose list lies about a file (someone put another tarball there) proves nothing.
    let mut lying = m.clone();
    lying.files[0].digest = format!("{:x}", sha2::Sha512::digest(b"something else"));
    let pinned_other = Artifact { url: by_url.url.clone(), checksum: Checksum::Pinned { algo: ChecksumAlgo::Sha512, hex: lying.files[0].digest.clone() } };
    lying.write(&stick).expect("manifest");
    let err = rt.block_on(dl.fetch(&pinned_other, &mut false)).expect_err("not that file").to_string();
    assert!(err.contains("spark-4.3.0-bin-hadoop3.tgz"), "{err}");
    m.write(&stick).expect("manifest");
    let artifact = Artifact { url: by_url.url.clone(), checksum: Checksum::Pinned { algo: ChecksumAlgo::Sha512, hex: hex.clone() } };
    assert!(dl.available_offline(&artifact));
    let got = rt.block_on(dl.fetch(&artifact, &mut false)).expect("from the shelf");
    assert_eq!(std::fs::read(&got.path).expect("cached"), data);
    assert!(got.path.starts_with(&cache), "copied into the cache");

    // Damaged on the stick, and not in this cache: refused, offline says what is missing.
    let empty = tmp.path().join("empty-cache");
    let mut bad = data.clone();
    bad[10] ^= 1;
    std::fs::write(stick.join("spark-4.3.0-bin-hadoop3.tgz"), &bad).expect("damage");
    let dl = Downloader::with_cache(empty, &quiet).expect("dl").shelved(vec![stick], true);
    let err = rt.block_on(dl.fetch(&artifact, &mut false)).expect_err("damaged");
    let text = err.to_string();
    assert!(text.contains("spark-4.3.0-bin-hadoop3.tgz") && text.contains("LAB_CACHE_PATH"), "{text}");
}
