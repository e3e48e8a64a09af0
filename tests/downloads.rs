//! The downloader through `lab fetch`, against a real HTTP server on 127.0.0.1.

use sha2::{Digest, Sha512};

use crate::support::http::FileServer;
use crate::support::{Lab, lab_dir};

fn lab_text(server: &FileServer, file: &str, checksum: &str) -> String {
    format!(
        "name: dl\nprovider: sandbox\nnetwork:\n  cidr: 10.99.0.0/24\nnodes:\n  - {{name: master, role: master, ip: 10.99.0.10}}\n  - {{name: node1, role: worker, ip: 10.99.0.11}}\n\
         java:\n  version: 17\n  install: package\nspark:\n  version: 9.9.9\n  url: {}\n  {checksum}\n",
        server.url(file)
    )
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from((i * 7 + i / 251) % 256).unwrap_or(0)).collect()
}

#[test]
fn downloads_once_resumes_and_rejects_corruption() {
    let served = tempfile::tempdir().expect("tmp");
    let name = "spark-9.9.9-bin-hadoop3.tgz";
    let data = payload(3 * 1024 * 1024 + 17);
    std::fs::write(served.path().join(name), &data).expect("write");
    let sum = format!("{:x}", Sha512::digest(&data));
    let server = FileServer::start(served.path());
    let cache = tempfile::tempdir().expect("cache");
    let c = cache.path().to_str().expect("utf-8");
    let dir = lab_dir(&lab_text(&server, name, &format!("sha512: {sum}")));

    // Cut half-way: the same run resumes from where it stopped, with a Range request.
    server.cut_next(name, 1024 * 1024);
    let out = Lab::new(dir.path()).env("LAB_CACHE_DIR", c).args(["fetch"]).run().ok();
    let path = out.stdout.split_whitespace().nth(1).expect("path").to_string();
    assert_eq!(std::fs::read(&path).expect("cached file"), data);
    assert_eq!(server.requests(name), 2);
    assert_eq!(server.ranges(), vec!["bytes=1048576-".to_string()]);

    // A second run uses the cache and downloads nothing.
    Lab::new(dir.path()).env("LAB_CACHE_DIR", c).args(["fetch"]).run().ok();
    assert_eq!(server.requests(name), 2);

    // A corrupted download is detected, removed and reported with the URL and both sums.
    let bad = "spark-9.9.9-bin-hadoop3.tgz";
    let mut corrupt = data.clone();
    corrupt[12345] ^= 0xff;
    let served2 = tempfile::tempdir().expect("tmp");
    std::fs::write(served2.path().join(bad), &corrupt).expect("write");
    let server2 = FileServer::start(served2.path());
    let cache2 = tempfile::tempdir().expect("cache");
    let dir2 = lab_dir(&lab_text(&server2, bad, &format!("sha512: {sum}")));
    let out = Lab::new(dir2.path()).env("LAB_CACHE_DIR", cache2.path().to_str().expect("utf-8")).args(["fetch"]).run().expect_code(1);
    let got = format!("{:x}", Sha512::digest(&corrupt));
    assert!(
        out.stderr.contains("checksum mismatch") && out.stderr.contains(&server2.url(bad)) && out.stderr.contains(&sum) && out.stderr.contains(&got),
        "{}",
        out.stderr
    );
    let left: Vec<_> = walk(cache2.path()).into_iter().filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 1000)).collect();
    assert!(left.is_empty(), "the corrupt file was kept: {left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

#[test]
fn checksum_files_in_both_apache_formats() {
    let served = tempfile::tempdir().expect("tmp");
    let name = "spark-9.9.9-bin-hadoop3.tgz";
    let data = payload(100_000);
    std::fs::write(served.path().join(name), &data).expect("write");
    let hex = format!("{:x}", Sha512::digest(&data));
    let grouped: Vec<String> = hex.to_uppercase().as_bytes().chunks(8).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let old = format!(
        "{name}: {}\n{}\n",
        grouped[..5].join(" "),
        grouped[5..].chunks(5).map(|c| format!("{:width$}{}", "", c.join(" "), width = name.len() + 2)).collect::<Vec<_>>().join("\n")
    );
    std::fs::write(served.path().join("old.sha512"), old).expect("old");
    std::fs::write(served.path().join("new.sha512"), format!("{hex}  {name}\n")).expect("new");
    let server = FileServer::start(served.path());
    for file in ["old.sha512", "new.sha512"] {
        let cache = tempfile::tempdir().expect("cache");
        let dir = lab_dir(&lab_text(&server, name, &format!("checksum_url: {}", server.url(file))));
        Lab::new(dir.path()).env("LAB_CACHE_DIR", cache.path().to_str().expect("utf-8")).args(["fetch"]).run().ok();
    }
}

#[test]
fn a_missing_file_fails_at_once_with_the_url() {
    let served = tempfile::tempdir().expect("tmp");
    let server = FileServer::start(served.path());
    let cache = tempfile::tempdir().expect("cache");
    let dir = lab_dir(&lab_text(&server, "spark-9.9.9-bin-hadoop3.tgz", &format!("sha512: {}", "a".repeat(128))));
    let out = Lab::new(dir.path()).env("LAB_CACHE_DIR", cache.path().to_str().expect("utf-8")).args(["fetch"]).run().expect_code(1);
    assert!(out.stderr.contains("404") && out.stderr.contains("spark-9.9.9-bin-hadoop3.tgz"), "{}", out.stderr);
    assert_eq!(server.requests("spark-9.9.9-bin-hadoop3.tgz"), 1, "a 404 is not worth retrying");
}

#[test]
fn a_damaged_cache_is_never_used_and_a_moved_latest_is_followed() {
    let served = tempfile::tempdir().expect("tmp");
    let name = "spark-9.9.9-bin-hadoop3.tgz";
    let v1 = payload(200_000);
    let publish = |data: &[u8]| {
        std::fs::write(served.path().join(name), data).expect("write");
        std::fs::write(served.path().join("latest.sha512"), format!("{:x}  {name}\n", Sha512::digest(data))).expect("write");
    };
    publish(&v1);
    let server = FileServer::start(served.path());
    let cache = tempfile::tempdir().expect("cache");
    let c = cache.path().to_str().expect("utf-8");
    let dir = lab_dir(&lab_text(&server, name, &format!("checksum_url: {}", server.url("latest.sha512"))));
    let fetch = || Lab::new(dir.path()).env("LAB_CACHE_DIR", c).args(["fetch"]).run();
    let out = fetch().ok();
    let path = out.stdout.split_whitespace().nth(1).expect("path").to_string();

    // A truncated cache file, then one replaced by other bytes of the same size: each is found
    // out and downloaded again, never used.
    std::fs::write(&path, &v1[..1000]).expect("truncate");
    let out = fetch().ok();
    assert!(out.stderr.contains("damaged"), "{}", out.stderr);
    assert_eq!(std::fs::read(&path).expect("cached"), v1);
    assert_eq!(server.requests(name), 2);
    let mut other = v1.clone();
    other[777] ^= 1;
    std::fs::write(&path, &other).expect("replace");
    fetch().ok();
    assert_eq!(std::fs::read(&path).expect("cached"), v1);
    assert_eq!(server.requests(name), 3);
    // An intact cache costs no request.
    fetch().ok();
    assert_eq!(server.requests(name), 3);

    // Upstream moves "latest" after lab cached its checksum: the download no longer matches the
    // cached checksum, so the checksum file is fetched again, once, and the new file is taken.
    std::fs::remove_file(&path).expect("rm");
    let v2 = payload(210_000);
    publish(&v2);
    let sums_before = server.requests("latest.sha512");
    let out = fetch().ok();
    let new_path = out.stdout.split_whitespace().nth(1).expect("path").to_string();
    assert_eq!(std::fs::read(&new_path).expect("cached"), v2);
    assert_eq!(server.requests("latest.sha512"), sums_before + 1);

    // A file that matches neither is refused after that one retry.
    std::fs::remove_file(&new_path).expect("rm");
    std::fs::write(served.path().join(name), payload(1000)).expect("write");
    let before = server.requests(name);
    let out = fetch().expect_code(1);
    assert!(out.stderr.contains("checksum mismatch"), "{}", out.stderr);
    assert_eq!(server.requests(name), before + 2);
}
