//! A small builder to run the real `lab` binary and look at what it did.

#![allow(dead_code)]

pub mod dvd;
pub mod http;
pub mod term;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn lab_bin() -> &'static str {
    env!("CARGO_BIN_EXE_lab")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One invocation of `lab`.
pub struct Lab {
    cmd: Command,
    argv: Vec<String>,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub argv: Vec<String>,
}

impl Output {
    /// Panics with everything `lab` printed unless it exited with `code`.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code, code, "lab {:?} exited {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}", self.argv, self.code, self.stdout, self.stderr);
        self
    }
    pub fn ok(self) -> Self {
        self.expect_code(0)
    }
}

/// The Windows build of lab (`lab.exe`, cross-built by `tests/run.sh`), with the Wine that runs
/// it: `(wine64, lab.exe, the Wine prefix)`.
pub fn windows_lab() -> (PathBuf, PathBuf, PathBuf) {
    let how = "build it with `bash tests/run.sh` (it installs mingw-w64 and Wine, cross-builds lab.exe and sets LAB_WINDOWS_EXE)";
    let exe = std::env::var_os("LAB_WINDOWS_EXE").map(PathBuf::from).unwrap_or_else(|| panic!("LAB_WINDOWS_EXE is not set: {how}"));
    assert!(exe.exists(), "{} does not exist: {how}", exe.display());
    let wine = PathBuf::from("/usr/lib/wine/wine64");
    assert!(wine.exists(), "{} does not exist: {how}", wine.display());
    let prefix = std::env::var_os("WINEPREFIX").map_or_else(|| repo().join("target/wine"), PathBuf::from);
    (wine, exe, prefix)
}

impl Lab {
    pub fn new(dir: &Path) -> Self {
        Self::with(Command::new(lab_bin()), dir)
    }

    /// `lab.exe` under Wine, as a Windows user runs it.
    pub fn windows(dir: &Path) -> Self {
        let (wine, exe, prefix) = windows_lab();
        let mut cmd = Command::new(wine);
        // Wine 8 lacks ProcessPrng, which Rust's standard library needs: tests/windows/ has a
        // shim DLL, placed beside lab.exe by tests/run.sh.
        cmd.arg(exe).env("WINEPREFIX", prefix).env("WINEDEBUG", "-all").env("WINEDLLOVERRIDES", "bcryptprimitives=n,b");
        Self::with(cmd, dir)
    }

    fn with(mut cmd: Command, dir: &Path) -> Self {
        cmd.current_dir(dir).env_remove("SOURCE_DATE_EPOCH").env("NO_COLOR", "1").stdin(Stdio::null());
        // Tests talk only to 127.0.0.1 and their own namespaces: any other HTTP(S) request goes
        // to a closed local port and fails at once instead of leaving the machine.
        for k in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"] {
            cmd.env(k, "http://127.0.0.1:9");
        }
        cmd.env("NO_PROXY", "127.0.0.1,localhost").env("no_proxy", "127.0.0.1,localhost");
        // And a cache of their own, never the user's.
        if std::env::var_os("LAB_CACHE_DIR").is_none() {
            cmd.env("LAB_CACHE_DIR", std::env::temp_dir().join(format!("lab-test-cache-{}", std::process::id())));
        }
        Self { cmd, argv: Vec::new() }
    }
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for a in args {
            self.argv.push(a.as_ref().to_string());
            self.cmd.arg(a.as_ref());
        }
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.cmd.env(k, v);
        self
    }
    /// Starts lab with its stdout piped, and returns at once.
    pub fn spawn(mut self) -> std::process::Child {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("running {}: {e}", lab_bin()))
    }
    pub fn run(mut self) -> Output {
        let out = self.cmd.output().unwrap_or_else(|e| panic!("running {}: {e}", lab_bin()));
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            argv: self.argv,
        }
    }
}

/// A temporary folder holding `lab.yaml` with `text`.
pub fn lab_dir(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("lab.yaml"), text).expect("write lab.yaml");
    dir
}

/// A Python program from tests/tools, or a failure that says how to get what it needs.
pub fn python_tool(tool: &str, args: &[&str]) -> Output {
    let script = repo().join("tests/tools").join(tool);
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for this test ({e}); run the whole suite with `bash tests/run.sh`, which installs it"));
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        argv: std::iter::once(tool.to_string()).chain(args.iter().map(|s| (*s).to_string())).collect(),
    }
}

/// The folder of built fixtures (Spark and JDK tarballs); fails saying how to build them.
pub fn fixtures() -> PathBuf {
    let dir = repo().join("tests/fixtures/cache");
    for f in [
        "spark-3.5.7-bin-hadoop3.tgz",
        "spark-3.5.7-bin-hadoop3.tgz.sha512",
        "spark-4.3.0-bin-hadoop3.tgz",
        "spark-4.3.0-bin-hadoop3.tgz.sha512",
        "jdk-17-lab.tar.gz",
        "jdk-17-lab.tar.gz.sha256",
        "jdk-21-lab.tar.gz",
        "jdk-21-lab.tar.gz.sha256",
    ] {
        assert!(dir.join(f).is_file(), "fixture {f} is missing: run `bash tests/tools/make_fixtures.sh` (`bash tests/run.sh` does)");
    }
    dir
}

/// The first word of a checksum file.
pub fn digest_in(path: &Path) -> String {
    std::fs::read_to_string(path).expect("checksum file").split_whitespace().next().expect("digest").to_string()
}

/// Tests that run whole Spark clusters take this, one at a time: two clusters' JVMs at once
/// would crowd a 2-core machine and turn timeouts into false failures.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The steps `lab up --dry-run` lists, as (target, step), in order.
pub fn planned(lab: Lab) -> Vec<(String, String)> {
    let out = lab.run().ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("dry-run --json: {e}\n{}", out.stdout));
    v.as_array()
        .expect("a list of steps")
        .iter()
        .map(|s| (s["target"].as_str().expect("target").to_string(), s["step"].as_str().expect("step").to_string()))
        .collect()
}

/// The steps a `lab -v up` reported as run (`target: step: ok|done (...)`), as (target, step).
pub fn reported(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let (target, rest) = l.split_once(": ")?;
            let (step, rest) = rest.split_once(": ")?;
            (rest.starts_with("ok (") || rest.starts_with("done (")).then(|| (target.to_string(), step.to_string()))
        })
        .collect()
}

/// Asserts that `lab -v up` ran exactly the steps its dry run listed (same steps, same order
/// within each target).
pub fn assert_plan_is_what_ran(plan: &[(String, String)], stderr: &str) {
    let ran = reported(stderr);
    let mut a = plan.to_vec();
    let mut b = ran.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the steps that ran differ from the plan\n--- plan\n{plan:?}\n--- ran\n{stderr}");
    for t in plan.iter().map(|(t, _)| t) {
        let p: Vec<&String> = plan.iter().filter(|(x, _)| x == t).map(|(_, s)| s).collect();
        let r: Vec<&String> = ran.iter().filter(|(x, _)| x == t).map(|(_, s)| s).collect();
        assert_eq!(p, r, "{t}: steps ran in another order than planned");
    }
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
