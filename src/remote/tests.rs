use super::*;

#[test]
fn fingerprints_match_openssh() {
    let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOCch6LldDJRBN335LAX0NYYW1gySJU1QV8goN7W9hRL node1@lab-spark";
    // What `ssh-keygen -lf` prints for this key.
    assert_eq!(fingerprint(line), "SHA256:w6g/dju2tYbotLP0hijsiOtEb1QqRVi4/3cUBucM0JI");
}

#[test]
fn only_the_pinned_algorithms_are_offered() {
    let a = algorithms(&["ssh-ed25519 AAAA".into()]);
    assert_eq!(a, vec![Algorithm::Ed25519]);
    let b = algorithms(&["ssh-rsa AAAA".into(), "ecdsa-sha2-nistp256 AAAA".into()]);
    assert_eq!(b.len(), 3, "{b:?}");
    assert!(b.contains(&Algorithm::Rsa { hash: Some(HashAlg::Sha512) }));
}
