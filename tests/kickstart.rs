//! Kickstarts and OEMDRV images for every image in the catalog and every node of the course
//! labs, checked with the real tools (ksvalidator, pykickstart, bash -n, pycdlib, blkid).

use serde_json::json;

use crate::support::{Lab, lab_dir, python_tool, repo};

/// Every image, its kickstart syntax, and whether a lab on it makes a base by default (its
/// install, from the mirror where the image has a network install, carries cloud-init).
const IMAGES: &[(&str, &str, bool)] = &[
    ("centos-stream-9", "RHEL9", true),
    ("rocky-9", "RHEL9", true),
    ("almalinux-9", "RHEL9", true),
    ("rocky-9-dvd", "RHEL9", true),
    ("almalinux-9-dvd", "RHEL9", true),
    ("centos-stream-10", "RHEL10", true),
    ("centos-7", "RHEL7", false),
];

/// The lab file on another image; an image whose install has no cloud-init has no base.
fn with_image(text: &str, image: &str) -> String {
    let base = IMAGES.iter().any(|(i, _, b)| *i == image && *b);
    // CentOS 7 packages no Java 17 or 21: the lab takes a JDK tarball there (the 3.5 lab's).
    let tarball = include_str!("../labs/spark-3.5.yaml");
    let java = |t: &str| {
        let start = t.find("\njava:\n").map_or(0, |s| s + 1);
        let end = t[start..].find("\n\n").map_or(t.len(), |e| start + e + 1);
        (start, end)
    };
    let text = if image == "centos-7" && text.contains("  install: package\n") {
        let (s, e) = java(text);
        let (ts, te) = java(tarball);
        format!("{}{}{}", &text[..s], &tarball[ts..te], &text[e..])
    } else {
        text.to_string()
    };
    text.lines()
        .map(|l| match l {
            _ if l.starts_with("image: ") => format!("image: {image}"),
            "install: base" if !base => "install: per-node".to_string(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn catalog_covers_every_image_file() {
    let files: Vec<String> =
        std::fs::read_dir(repo().join("images")).expect("images/").map(|e| e.expect("e").file_name().to_string_lossy().replace(".yaml", "")).collect();
    for f in &files {
        assert!(IMAGES.iter().any(|(i, _, _)| i == f), "images/{f}.yaml is not covered by this test");
    }
}

#[test]
fn every_kickstart_validates_and_every_image_reads_back() {
    let mut cases = Vec::new();
    let work = tempfile::tempdir().expect("tempdir");
    for lab_file in ["spark.yaml", "course-2018.yaml"] {
        let original = std::fs::read_to_string(repo().join("labs").join(lab_file)).expect("lab");
        for (image, syntax, base) in IMAGES {
            let dir = lab_dir(&with_image(&original, image));
            let validate = Lab::new(dir.path()).args(["--json", "validate"]).run().ok();
            let v: serde_json::Value = serde_json::from_str(&validate.stdout).expect("json");
            let user = v["user"].as_str().expect("user").to_string();
            let key_file = dir.path().join(".lab").join(v["name"].as_str().expect("name")).join("id_ed25519.pub");
            for node in v["nodes"].as_array().expect("nodes") {
                let name = node["name"].as_str().expect("name");
                let stem = format!("{}-{image}-{name}", lab_file.trim_end_matches(".yaml"));
                let iso = work.path().join(format!("{stem}.iso"));
                let ks = work.path().join(format!("{stem}.ks"));
                let seed = work.path().join(format!("{stem}-cidata.iso"));
                let out = Lab::new(dir.path())
                    .args(["kickstart", name, "--show-secrets", "--iso", iso.to_str().expect("utf-8"), "--seed", seed.to_str().expect("utf-8")])
                    .run()
                    .ok();
                std::fs::write(&ks, &out.stdout).expect("write ks");
                let key = std::fs::read_to_string(&key_file).expect("the lab's public key");
                cases.push(json!({
                    "ks": ks, "iso": iso, "seed": seed, "syntax": syntax, "hostname": name, "ip": node["ip"],
                    "netmask": "255.255.255.0", "user": user, "key": key.trim(),
                }));
            }
            // The base image's kickstart, where the image has one (its install carries cloud-init).
            if *base {
                let stem = format!("{}-{image}-base", lab_file.trim_end_matches(".yaml"));
                let (ks, iso) = (work.path().join(format!("{stem}.ks")), work.path().join(format!("{stem}.iso")));
                let out = Lab::new(dir.path()).args(["kickstart", "--base", "--iso", iso.to_str().expect("utf-8")]).run().ok();
                std::fs::write(&ks, &out.stdout).expect("write ks");
                cases.push(json!({"base": true, "ks": ks, "iso": iso, "syntax": syntax}));
            }
        }
    }
    // 3 nodes per lab and image, and a base for each image that can make one.
    assert_eq!(cases.len(), 2 * IMAGES.len() * 3 + 2 * IMAGES.iter().filter(|i| i.2).count());
    let manifest = work.path().join("manifest.json");
    std::fs::write(&manifest, serde_json::to_string(&cases).expect("json")).expect("manifest");
    let out = python_tool("check_kickstart.py", &[manifest.to_str().expect("utf-8")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("checked {} kickstarts: 0 problems", cases.len())), "{}", out.stdout);
}

#[test]
fn same_input_gives_the_same_image_bytes() {
    let dir = lab_dir(include_str!("../labs/spark.yaml"));
    let build = |node: &str, name: &str, epoch: &str| -> Vec<u8> {
        let iso = dir.path().join(name);
        Lab::new(dir.path()).env("SOURCE_DATE_EPOCH", epoch).args(["-q", "kickstart", node, "--iso", iso.to_str().expect("utf-8")]).run().ok();
        std::fs::read(&iso).expect("iso")
    };
    let a = build("node1", "a.iso", "1700000000");
    let b = build("node1", "b.iso", "1700000000");
    assert_eq!(a, b, "same node, same time: the images must be identical");
    assert_ne!(a, build("node2", "c.iso", "1700000000"), "another node must give another image");
    assert_ne!(a, build("node1", "d.iso", "1700000001"), "the timestamp is part of the image");
}

#[test]
fn kickstart_is_for_virtualbox_labs_only() {
    let dir = lab_dir(include_str!("../labs/sandbox.yaml"));
    let out = Lab::new(dir.path()).args(["kickstart", "master"]).run().expect_code(2);
    assert!(out.stderr.contains("virtualbox"), "{}", out.stderr);
    assert!(!dir.path().join(".lab").exists(), "a refused kickstart must not create state");
}

#[test]
fn the_image_holding_a_private_key_is_private_and_the_printed_kickstart_hides_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = lab_dir(include_str!("../labs/spark.yaml"));
    let iso = dir.path().join("node1.iso");
    let out = Lab::new(dir.path()).args(["kickstart", "node1", "--iso", iso.to_str().expect("utf-8")]).run().ok();
    assert_eq!(std::fs::metadata(&iso).expect("iso").permissions().mode() & 0o777, 0o600);
    assert!(!out.stdout.contains("BEGIN OPENSSH PRIVATE KEY"), "the private host key was printed:\n{}", out.stdout);
    assert!(out.stdout.contains("--show-secrets"), "{}", out.stdout);
    let shown = Lab::new(dir.path()).args(["kickstart", "node1", "--show-secrets"]).run().ok();
    assert!(shown.stdout.contains("BEGIN OPENSSH PRIVATE KEY"), "{}", shown.stdout);
}
