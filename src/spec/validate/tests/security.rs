//! Fields where a lab file could hand the lab to others: plain http:// that decides what the
//! nodes run, an account on existing machines lab would take.

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

#[test]
fn taking_the_account_lab_logs_in_with_must_be_said() {
    let existing = "\
name: t
provider: existing
network:
  cidr: 10.1.2.0/24
user: teacher
nodes:
  - {name: master, role: master, ip: 10.1.2.10}
  - {name: node1, role: worker, ip: 10.1.2.11}
java: {version: 17, install: package}
spark:
  version: 3.5.8
  url: https://archive.apache.org/dist/spark/spark-3.5.8/spark-3.5.8-bin-hadoop3.tgz
  checksum_url: https://archive.apache.org/dist/spark/spark-3.5.8/spark-3.5.8-bin-hadoop3.tgz.sha512
existing:
  login: teacher
";
    let d = errs(existing);
    has(&d, "existing.login", 15, "is the lab user");
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d.iter().any(|d| d.hint.as_deref().is_some_and(|h| h.contains("take_account: true"))), "{d:?}");
    let lab = ok(&format!("{existing}  take_account: true\n"));
    assert!(lab.existing.take_account);
    assert!(!ok(&existing.replace("user: teacher", "user: spark")).existing.take_account);
}
