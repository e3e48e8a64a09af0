//! Plain http:// where it decides what the nodes run.

use super::*;

#[test]
fn a_mirror_over_plain_http_needs_the_lab_file_to_say_it_trusts_the_way() {
    let with = |extra: &str| replace("user: spark\n", &format!("user: spark\n{extra}"));
    let plain = with("mirror: http://mirror.example.edu/centos-stream/9-stream/\n");
    let d = errs(&plain);
    has(&d, "mirror", 8, "plain http://");
    assert!(d.iter().any(|d| d.hint.as_deref().is_some_and(|h| h.contains("https://") && h.contains("insecure_mirror: true"))), "{d:?}");
    let lab = ok(&with("mirror: http://mirror.example.edu/centos-stream/9-stream/\ninsecure_mirror: true\n"));
    assert!(lab.image.as_ref().is_some_and(|i| i.mirror_repos().iter().all(|(_, u)| u.starts_with("http://mirror.example.edu/"))), "{:?}", lab.image);
    // https://, and a mirror on this computer, need nothing.
    ok(&with("mirror: https://mirror.example.edu/centos-stream/9-stream/\n"));
    ok(&with("mirror: http://127.0.0.1:8000/9-stream/\n"));
    // The opt-in alone, or with a mirror that does not need it, is a mistake to point out.
    has(&errs(&with("insecure_mirror: true\n")), "insecure_mirror", 8, "there is no `mirror`");
    has(&errs(&with("mirror: https://m.example.edu/9-stream/\ninsecure_mirror: true\n")), "insecure_mirror", 9, "is not");
    has(&errs(&with("insecure_mirror: yes please\n")), "insecure_mirror", 8, "");
}
