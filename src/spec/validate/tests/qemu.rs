//! The qemu provider's part of the lab file: which cloud image the nodes boot, and what only
//! the other providers take.

use super::*;
use crate::spec::{Checksum, ChecksumAlgo};

fn qemu(extra: &str) -> String {
    replace("provider: virtualbox\n", &format!("provider: qemu\n{extra}"))
}

#[test]
fn the_catalog_image_gives_its_cloud_image_for_this_computers_architecture() {
    let lab = ok(&qemu(""));
    assert_eq!(lab.provider, ProviderKind::Qemu);
    let img = lab.qemu.image.as_ref().expect("a cloud image");
    assert!(img.url.ends_with("CentOS-Stream-GenericCloud-9-latest.x86_64.qcow2"), "{}", img.url);
    assert!(matches!(&img.checksum, Checksum::File { algo: ChecksumAlgo::Sha256, url } if url.ends_with(".SHA256SUM")), "{:?}", img.checksum);
    assert!(lab.qemu.internet);
    assert_eq!(lab.machine_arch(), Some(crate::spec::Arch::X86_64));
    let arm = parse(Path::new("lab.yaml"), &qemu(""), &HostFacts { arch: crate::spec::Arch::Aarch64, ..HostFacts::default() }).expect("valid on arm64");
    assert!(arm.qemu.image.is_some_and(|i| i.url.ends_with(".aarch64.qcow2")));
}

#[test]
fn a_labs_own_image_is_a_url_or_a_file_beside_the_lab_file_with_its_digest() {
    let digest = "a".repeat(64);
    let own =
        ok(&qemu(&format!("qemu:\n  image:\n    url: images/course.qcow2\n    sha256: {digest}\n  internet: false\n")).replace("image: centos-stream-9\n", ""));
    let img = own.qemu.image.expect("the lab's image");
    assert!(img.url.starts_with("file://") && img.url.ends_with("/images/course.qcow2"), "{}", img.url);
    assert_eq!(img.checksum, Checksum::Pinned { algo: ChecksumAlgo::Sha256, hex: digest });
    assert!(!own.qemu.internet);
    assert_eq!(own.qemu.title, "course.qcow2");
    let d = errs(&qemu("qemu:\n  image:\n    url: https://example.edu/course.qcow2\n"));
    has(&d, "qemu.image", 4, "exactly one of `sha256` and `checksum_url`");
}

#[test]
fn an_image_without_a_cloud_image_and_iso_settings_are_refused() {
    let d = errs(&qemu("").replace("image: centos-stream-9", "image: centos-7"));
    has(&d, "image", 3, "no cloud image for x86_64");
    let d = errs(&qemu("offline: true\n"));
    has(&d, "offline", 3, "the qemu provider boots the image's cloud image");
    let d = errs(&replace("user: spark\n", "user: spark\nqemu:\n  internet: false\n"));
    has(&d, "qemu", 8, "only by the qemu provider");
}
