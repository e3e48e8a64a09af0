//! The whole course lab on sandbox nodes: real sshd, real Java, real Spark, downloads from a
//! real HTTP server on 127.0.0.1. One test, because each step builds on the last and the JVMs
//! of two clusters at once would crowd a small machine.

use std::time::{Duration, Instant};

use crate::sandbox::SandboxLab;
use crate::support::http::FileServer;
use crate::support::{digest_in, fixtures};

fn software(server: &FileServer, version: &str) -> String {
    let f = fixtures();
    format!(
        "java:\n  version: 17\n  install: tarball\n  url: {}\n  sha256: {}\nspark:\n  version: {version}\n  url: {}\n  checksum_url: {}\n  worker_cores: 1\n  worker_memory: 512m\nverify:\n  timeout: 240\n",
        server.url("jdk-17-lab.tar.gz"),
        digest_in(&f.join("jdk-17-lab.tar.gz.sha256")),
        server.url(&format!("spark-{version}-bin-hadoop3.tgz")),
        server.url(&format!("spark-{version}-bin-hadoop3.tgz.sha512")),
    )
}

fn verify_json(lab: &SandboxLab) -> (i32, serde_json::Value) {
    let out = lab.lab().args(["--json", "verify"]).run();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("verify --json: {e}\n{}\n{}", out.stdout, out.stderr));
    (out.code, v)
}

fn failed_checks(v: &serde_json::Value) -> Vec<String> {
    v["checks"].as_array().expect("checks").iter().filter(|c| c["ok"] == false).map(|c| format!("{} on {}: {}", c["check"], c["node"], c["evidence"])).collect()
}

fn daemon_pid(lab: &SandboxLab, host: u8, class: &str) -> String {
    lab.ssh(host, &format!("cat /var/lib/lab-spark/spark-spark-org.apache.spark.deploy.{class}-1.pid")).ok().stdout.trim().to_string()
}

#[test]
fn spark_cluster_up_verify_break_repair_grow_upgrade() {
    let _one_cluster_at_a_time = crate::support::heavy();
    // The HTTP server serves the fixtures, plus the same Spark under the next version's name
    // (a new release, as far as lab can tell: another URL, another install folder).
    let served = tempfile::tempdir().expect("tempdir");
    let f = fixtures();
    for name in ["jdk-17-lab.tar.gz", "spark-3.5.7-bin-hadoop3.tgz", "spark-3.5.7-bin-hadoop3.tgz.sha512"] {
        std::fs::hard_link(f.join(name), served.path().join(name))
            .or_else(|_| std::fs::copy(f.join(name), served.path().join(name)).map(drop))
            .expect("link fixture");
    }
    std::fs::hard_link(f.join("spark-3.5.7-bin-hadoop3.tgz"), served.path().join("spark-3.5.8-bin-hadoop3.tgz")).expect("link");
    let sum = digest_in(&f.join("spark-3.5.7-bin-hadoop3.tgz.sha512"));
    std::fs::write(served.path().join("spark-3.5.8-bin-hadoop3.tgz.sha512"), format!("{sum}  spark-3.5.8-bin-hadoop3.tgz\n")).expect("sha512");
    let server = FileServer::start(served.path());
    let cache = tempfile::tempdir().expect("cache");
    let cache_dir = cache.path().to_str().expect("utf-8").to_string();

    let lab = SandboxLab::with(2, |_| software(&server, "3.5.7"));
    let up = |lab: &SandboxLab| lab.lab().env("LAB_CACHE_DIR", &cache_dir).env("LAB_REPORT_PEAK_MEMORY", "1").args(["up"]).run().ok();

    // Up, with the JDK and Spark downloaded once and pushed to three nodes in little memory.
    let out = up(&lab);
    let peak = out.stderr.lines().find_map(|l| l.strip_prefix("lab: peak memory ")).expect("peak memory line");
    let kib: u64 = peak.trim_end_matches(" kB").trim().parse().expect("kB");
    assert!(kib < 64 * 1024, "lab used {kib} KiB pushing 390 MB to 3 nodes");
    assert_eq!(server.requests("spark-3.5.7-bin-hadoop3.tgz"), 1);

    let (code, v) = verify_json(&lab);
    assert_eq!(code, 0, "verify failed: {:?}", failed_checks(&v));
    let job = v["checks"].as_array().expect("checks").iter().find(|c| c["check"] == "spark_job").expect("spark_job check");
    assert!(job["evidence"].as_str().is_some_and(|e| e.contains("node1, node2")), "{job}");
    let jps = lab.lab().args(["ssh", "master", "--", "jps"]).run().ok();
    assert!(jps.stdout.lines().any(|l| l.ends_with(" Master")), "{}", jps.stdout);

    // Passwordless SSH works for a person who runs start-all.sh by hand.
    lab.ssh(10, "ssh -o BatchMode=yes node2 true").ok();
    let modes = lab.ssh(11, "stat -c %a ~/.ssh ~/.ssh/authorized_keys").ok();
    assert_eq!(modes.stdout.split_whitespace().collect::<Vec<_>>(), ["700", "600"]);

    // Break it: kill node2's Worker JVM. verify names node2; up repairs; verify is green again.
    lab.ssh(12, "kill -9 $(cat /var/lib/lab-spark/spark-spark-org.apache.spark.deploy.worker.Worker-1.pid)").ok();
    let (code, v) = verify_json(&lab);
    assert_eq!(code, 1);
    let failed = failed_checks(&v);
    assert!(failed.iter().any(|f| f.starts_with("\"jps\" on \"node2\"")), "{failed:?}");
    let human = lab.lab().args(["verify"]).run().expect_code(1);
    assert!(human.stdout.lines().any(|l| l.starts_with("FAIL jps") && l.contains("node2")), "{}", human.stdout);
    let repair = up(&lab);
    assert!(repair.stderr.contains("node2: spark_worker_running: done"), "{}", repair.stderr);
    assert!(!repair.stderr.contains("node1: spark_worker_running: done"), "node1's healthy worker was restarted:\n{}", repair.stderr);
    let (code, v) = verify_json(&lab);
    assert_eq!(code, 0, "verify after repair: {:?}", failed_checks(&v));

    // The plan is what runs.
    let plan = crate::support::planned(lab.lab().args(["--json", "up", "--dry-run"]));
    let verbose = lab.lab().env("LAB_CACHE_DIR", &cache_dir).args(["-v", "up"]).run().ok();
    crate::support::assert_plan_is_what_ran(&plan, &verbose.stderr);

    // Nothing to do: nothing done, fast.
    let start = Instant::now();
    let again = up(&lab);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "a no-op `lab up` of 3 nodes took {took:?}");
    assert!(!again.stderr.contains(": done"), "a no-op `lab up` changed something:\n{}", again.stderr);
    assert_eq!(server.requests("spark-3.5.7-bin-hadoop3.tgz"), 1, "the cache was not used");

    // Grow: a third worker appears everywhere it must and runs.
    lab.write(3, &software(&server, "3.5.7"));
    up(&lab);
    for host in [10, 11, 12, 13] {
        assert!(lab.ssh(host, "getent hosts node3").ok().stdout.contains(&lab.ip(13)));
    }
    assert_eq!(lab.ssh(10, "cat /opt/spark/conf/workers").ok().stdout, "node1\nnode2\nnode3\n");
    lab.ssh(10, "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes node3 true").ok();
    let (code, v) = verify_json(&lab);
    assert_eq!(code, 0, "verify with node3: {:?}", failed_checks(&v));

    // Upgrade: a new Spark version is installed beside the old one and the daemons restart.
    let master_before = daemon_pid(&lab, 10, "master.Master");
    lab.write(3, &software(&server, "3.5.8"));
    up(&lab);
    assert_eq!(lab.ssh(10, "readlink /opt/spark").ok().stdout.trim(), "/opt/spark-3.5.8");
    assert_ne!(daemon_pid(&lab, 10, "master.Master"), master_before, "the master was not restarted on the new version");
    assert_eq!(server.requests("spark-3.5.8-bin-hadoop3.tgz"), 0, "same bytes, same checksum: served from the cache");
    let (code, v) = verify_json(&lab);
    assert_eq!(code, 0, "verify after upgrade: {:?}", failed_checks(&v));

    lab.lab().args(["destroy", "--yes"]).run().ok();
    assert!(lab.traces().is_empty(), "{:?}", lab.traces());
}
