//! Java: a JDK tarball unpacked under /opt (named after its checksum, so a new JDK gets a new
//! folder), or the distribution's JDK package (the one that ships `jps`); a login-shell profile;
//! and the JDK's tools linked into /usr/local/bin for commands run over SSH without a login
//! shell (`lab ssh node -- jps`). [`home`] gives later steps the node's JAVA_HOME.

use crate::download::Cached;
use crate::error::{Error, Result};
use crate::script::{Sh, sh};
use crate::spark;
use crate::spec::{Arch, JavaInstall, Lab};
use crate::state::Change;
use crate::steps::node::{NodeCx, Owner, backup_of, package_install};
use crate::steps::{Check, Cx, Fingerprint, Head, Stage, Step, artifacts};
use crate::ui::Outcome;

pub const ID: &str = "java_installed";

/// The JDK whose modules were checked for Spark 4 (its home).
pub const MODULES: Fingerprint = Fingerprint::new("java_modules");

pub struct JavaInstalled {
    node: String,
    head: Head,
}

pub fn step(lab: &Lab, node: &str) -> Box<dyn Step> {
    let goal = match &lab.java.install {
        JavaInstall::Package => format!("Java {} from the distribution's JDK package", lab.java.version),
        JavaInstall::Tarball(t) => {
            format!("Java {} from {}", lab.java.version, t.needed(lab.machine_arch()).iter().map(|(_, a)| a.file_name()).collect::<Vec<_>>().join(" or "))
        }
    };
    Box::new(JavaInstalled { node: node.to_string(), head: Head::node(ID, Stage::Nodes, node, goal) })
}

/// The node's JAVA_HOME: the one this run's Java step installed or found, else the one the
/// node's probe shows.
pub fn home(cx: &Cx<'_>, node: &str) -> Result<String> {
    if let Some(h) = cx.java_homes.get(node) {
        return Ok(h);
    }
    let seen = Seen::read(cx, node)?;
    let home = seen.home.ok_or_else(|| Error::node_hint(node, format!("no JDK {} with jps is installed", cx.lab.java.version), "run `lab up`"))?;
    sane_home(node, &home)
}

/// Where a tarball JDK is unpacked: `/opt/jdk-<first 12 hex digits of its checksum>`.
pub fn tarball_home(digest: &str) -> String {
    let hex = digest.split_once('-').map_or(digest, |(_, h)| h);
    format!("/opt/jdk-{}", &hex[..hex.len().min(12)])
}

/// The distribution package with `jps` for Java `v`, by package manager.
fn package_names(v: u32) -> (String, String) {
    let rpm = if v == 8 { "java-1.8.0-openjdk-devel".to_string() } else { format!("java-{v}-openjdk-devel") };
    (rpm, format!("openjdk-{v}-jdk-headless"))
}

fn profile(home: &str) -> String {
    format!(
        "# Written by lab: Java for login shells.\nexport JAVA_HOME={}\ncase \":$PATH:\" in *\":$JAVA_HOME/bin:\"*) ;; *) export PATH=\"$JAVA_HOME/bin:$PATH\" ;; esac\n",
        crate::script::quote(home)
    )
}

/// A JAVA_HOME read back from a node is used in files and commands: it must look like one.
fn sane_home(node: &str, home: &str) -> Result<String> {
    let ok = home.starts_with('/') && home.len() < 200 && home.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b));
    if ok { Ok(home.to_string()) } else { Err(Error::node(node, format!("the JDK was found at {home:?}, which lab does not accept as a JAVA_HOME"))) }
}

fn find_package_home(v: u32) -> Sh {
    sh(
        "for d in /usr/lib/jvm/java-{{v}}-openjdk* /usr/lib/jvm/java-1.{{v}}.0-openjdk* /usr/lib/jvm/temurin-{{v}}-jdk*; do \
         if [ -x \"$d/bin/jps\" ] && [ -x \"$d/bin/java\" ]; then echo \"home=$d\"; break; fi; done",
        &[("v", &v)],
    )
}

/// The node's architecture, where a JDK is, where the tool links point, the profile as it is.
fn probe(cx: &Cx<'_>) -> Result<Sh> {
    let tarballs = artifacts::jdks(cx)?;
    let locate = if tarballs.is_empty() {
        find_package_home(cx.lab.java.version)
    } else {
        let homes: Vec<String> = tarballs.values().map(|t| tarball_home(&t.digest)).collect();
        sh(
            "for h in {{homes}}; do if [ -x \"$h/bin/java\" ] && [ -x \"$h/bin/jps\" ]; then echo \"have=$h\"; fi; done",
            &[("homes", &crate::script::Words(&homes))],
        )
    };
    Ok(sh(
        "echo \"arch=$(uname -m)\"; {{locate}}; for t in {{tools}}; do echo \"link:$t=$(readlink /usr/local/bin/$t 2>/dev/null || { [ -e /usr/local/bin/$t ] && echo other; })\"; done; echo ---; cat {{profile}} 2>/dev/null; true",
        &[
            ("locate", &locate),
            ("tools", &crate::script::Words(&spark::JDK_TOOLS.iter().map(|t| (*t).to_string()).collect::<Vec<_>>())),
            ("profile", &spark::JAVA_PROFILE),
        ],
    ))
}

/// What the probe showed of Java on a node.
struct Seen {
    /// The tarball this node's architecture needs (none: the package).
    tarball: Option<Cached>,
    /// The JDK found (the tarball's unpacked, or the package's).
    home: Option<String>,
    /// Tool links in /usr/local/bin: tool, where it points (`other`: not a link).
    links: Vec<(String, String)>,
    profile: String,
}

impl Seen {
    fn read(cx: &Cx<'_>, node: &str) -> Result<Self> {
        let tarballs = artifacts::jdks(cx)?;
        let out = cx.fact(node, ID)?;
        let (head, profile) = out.split_once("---\n").unwrap_or((out.as_str(), ""));
        let node_arch = head.lines().find_map(|l| l.strip_prefix("arch=")).and_then(Arch::parse);
        let tarball = if tarballs.is_empty() {
            None
        } else {
            let pick = tarballs.iter().find(|(a, _)| a.is_some() && **a == node_arch).or_else(|| tarballs.iter().find(|(a, _)| a.is_none()));
            let found = pick.map(|(_, t)| t.clone()).ok_or_else(|| {
                Error::node_hint(
                    node,
                    format!("the lab file has no JDK tarball for this node's architecture ({})", node_arch.map_or("unknown", |a| a.name())),
                    format!("add `{}: {{url: ..., sha256: ...}}` under java", node_arch.map_or("x86_64", |a| a.name())),
                )
            })?;
            Some(found)
        };
        let home = match &tarball {
            Some(t) => {
                let h = tarball_home(&t.digest);
                head.lines().any(|l| l.strip_prefix("have=") == Some(h.as_str())).then_some(h)
            }
            None => head.lines().find_map(|l| l.strip_prefix("home=")).map(str::to_string),
        };
        let links =
            head.lines().filter_map(|l| l.strip_prefix("link:")).filter_map(|l| l.split_once('=')).map(|(t, v)| (t.to_string(), v.to_string())).collect();
        Ok(Self { tarball, home, links, profile: profile.to_string() })
    }

    fn stale_links(&self, home: &str) -> Vec<&(String, String)> {
        self.links.iter().filter(|(t, target)| *target != format!("{home}/bin/{t}")).collect()
    }
}

impl Step for JavaInstalled {
    fn head(&self) -> &Head {
        &self.head
    }
    fn probes(&self, cx: &Cx<'_>) -> Result<Vec<(String, Sh)>> {
        Ok(vec![(self.node.clone(), probe(cx)?)])
    }
    fn check(&self, cx: &Cx<'_>) -> Result<Check> {
        let seen = Seen::read(cx, &self.node)?;
        let Some(home) = &seen.home else { return Ok(Check::Needed(format!("no JDK {} with jps", cx.lab.java.version))) };
        let home = sane_home(&self.node, home)?;
        if cx.lab.spark.version.0 >= 4 && cx.current(&self.node, MODULES).as_deref() != Some(home.as_str()) {
            return Ok(Check::Needed("the JDK's modules were not checked for Spark 4".into()));
        }
        if seen.profile != profile(&home) {
            return Ok(Check::Needed(format!("{} does not set JAVA_HOME={home}", spark::JAVA_PROFILE)));
        }
        if !seen.stale_links(&home).is_empty() {
            return Ok(Check::Needed("the JDK's tools are not linked in /usr/local/bin".into()));
        }
        Ok(Check::Satisfied)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        let n = NodeCx::new(cx, &self.node)?;
        let v = cx.lab.java.version;
        let seen = Seen::read(cx, &self.node)?;
        let mut outcome = Outcome::Satisfied;
        let home = match (&seen.home, &seen.tarball) {
            (Some(h), _) => h.clone(),
            (None, Some(t)) => {
                let h = tarball_home(&t.digest);
                n.unpack(t, &h)?;
                outcome = Outcome::Applied;
                h
            }
            (None, None) => {
                outcome = Outcome::Applied;
                install_package(&n, v)?
            }
        };
        let home = sane_home(n.name(), &home)?;
        if cx.lab.spark.version.0 >= 4 && cx.current(n.name(), MODULES).as_deref() != Some(home.as_str()) {
            spark4_modules(&n, &home)?;
            cx.record(n.name(), MODULES, &home)?;
        }
        if seen.profile != profile(&home) && n.put_file(spark::JAVA_PROFILE, &profile(&home), 0o644, &Owner::root())? == Outcome::Applied {
            outcome = Outcome::Applied;
        }
        let stale = seen.stale_links(&home);
        if !stale.is_empty() {
            link_tools(&n, &home, &stale)?;
            outcome = Outcome::Applied;
        }
        cx.java_homes.set(&self.node, home);
        Ok(outcome)
    }
}

/// Installs the distribution's JDK package; returns its home.
fn install_package(n: &NodeCx<'_, '_>, v: u32) -> Result<String> {
    let (rpm, deb) = package_names(v);
    let out = n.s.exec(&package_install(&rpm, &deb, "install a JDK with jps by hand, or use java.install: tarball"))?;
    if !out.ok() {
        return Err(Error::node_hint(
            n.name(),
            format!("installing the Java {v} package failed: {}", out.stderr.trim()),
            "the node needs its distribution's repositories (internet through NAT); or use `java.install: tarball`",
        ));
    }
    if let Some(pkg) = out.stdout.lines().last() {
        n.track(Change::Package { name: pkg.trim().to_string() })?;
    }
    let found = n.s.check(&find_package_home(v))?.stdout;
    found
        .lines()
        .find_map(|l| l.strip_prefix("home="))
        .map(str::to_string)
        .ok_or_else(|| Error::node(n.name(), format!("no JDK {v} with jps was found after installing it")))
}

/// Points /usr/local/bin/<tool> at the JDK's, keeping a tool lab did not link aside.
fn link_tools(n: &NodeCx<'_, '_>, home: &str, stale: &[&(String, String)]) -> Result<()> {
    let tracking = n.cx.machines.tracks_changes();
    for (tool, target) in stale {
        let link = format!("/usr/local/bin/{tool}");
        let script = sh(
            "if [ -e {{src}} ]; then mkdir -p /usr/local/bin; if [ {{track}} = yes ] && [ -n {{old}} ] && [ ! -e {{b}} ] && [ ! -L {{b}} ]; then mv {{link}} {{b}}; echo replaced; elif [ -z {{old}} ]; then echo created; fi; ln -sfn {{src}} {{link}}; fi",
            &[
                ("src", &format!("{home}/bin/{tool}")),
                ("link", &link),
                ("b", &backup_of(&link)),
                ("old", target),
                ("track", &if tracking && !n.made(&link) { "yes" } else { "no" }),
            ],
        );
        match n.s.sudo_check(&script)?.stdout.trim() {
            "replaced" => n.track(Change::Replaced { path: link.clone(), backup: backup_of(&link) })?,
            "created" => n.track(Change::Created { path: link.clone() })?,
            _ => {}
        }
    }
    Ok(())
}

/// Spark 4 starts every JVM with `--add-modules=jdk.incubator.vector`: a trimmed Java runtime
/// without that module cannot run it (the daemons die at once with a `FindException`).
fn spark4_modules(n: &NodeCx<'_, '_>, home: &str) -> Result<()> {
    let out = n.s.exec(&sh("{{java}} --list-modules 2>&1", &[("java", &format!("{home}/bin/java"))]))?;
    if out.stdout.lines().any(|l| l.starts_with("jdk.incubator.vector@") || l == "jdk.incubator.vector") {
        return Ok(());
    }
    Err(Error::node_hint(
        n.name(),
        format!(
            "the Java runtime in {home} has no module jdk.incubator.vector, which Spark {} needs (its JVMs start with --add-modules=jdk.incubator.vector)",
            n.cx.lab.spark.version
        ),
        "use a full JDK (Temurin, or the distribution's package with `java.install: package`), not a trimmed runtime",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homes_and_profiles() {
        assert_eq!(tarball_home("sha256-0123456789abcdef0123"), "/opt/jdk-0123456789ab");
        assert!(profile("/usr/lib/jvm/java-17-openjdk").contains("export JAVA_HOME=/usr/lib/jvm/java-17-openjdk\n"));
        assert!(sane_home("n", "/usr/lib/jvm/java-1.8.0-openjdk-1.8.0.412.b08-1.el7_9.x86_64").is_ok());
        assert!(sane_home("n", "/usr/lib/jvm/x; reboot").is_err());
        assert!(sane_home("n", "relative/jdk").is_err());
        assert_eq!(package_names(8).0, "java-1.8.0-openjdk-devel");
        assert_eq!(package_names(21).1, "openjdk-21-jdk-headless");
    }
}

#[cfg(test)]
mod step_tests {
    use super::*;
    use crate::steps::Jdks;
    use crate::steps::fake::World;

    const HOME: &str = "/usr/lib/jvm/java-17-openjdk-amd64";

    fn links(home: &str) -> String {
        spark::JDK_TOOLS.iter().map(|t| format!("link:{t}={home}/bin/{t}\n")).collect()
    }

    #[test]
    fn a_package_jdk_with_profile_and_links_is_satisfied_and_gives_its_home() {
        let w = World::sandbox_3_5();
        let plan = vec![step(&w.lab, "node1")];
        let cx = w.cx(&plan);
        cx.jdks.set(Jdks::new());
        let node = w.remote(&cx, "node1");
        node.probe(&[(ID, &format!("arch=x86_64\nhome={HOME}\n{}---\n{}", links(HOME), profile(HOME)))]);
        assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);
        assert_eq!(home(&cx, "node1").expect("home"), HOME);
        assert_eq!(node.scripts().len(), 1, "the probe only");
    }

    #[test]
    fn a_missing_package_is_installed_as_root_then_profiled_and_linked() {
        let w = World::sandbox_3_5();
        let plan = vec![step(&w.lab, "node1")];
        let cx = w.cx(&plan);
        cx.jdks.set(Jdks::new());
        let node = w.remote(&cx, "node1");
        node.probe(&[(ID, "arch=x86_64\nlink:java=\nlink:jps=\n---\n")]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref why) if why.contains("JDK 17")));
        node.answer("/etc/os-release", 0, "openjdk-17-jdk-headless\n");
        node.answer("for d in /usr/lib/jvm/java-17-openjdk*", 0, &format!("home={HOME}\n"));
        node.answer("mktemp", 0, "created\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        assert!(node.ran_as_root("apt-get install -y -q openjdk-17-jdk-headless"), "{:?}", node.scripts());
        assert!(node.ran_as_root("dnf -y -q install java-17-openjdk-devel"));
        let scripts = node.scripts();
        assert!(scripts.iter().any(|s| s.contains(&format!("ln -sfn {HOME}/bin/jps /usr/local/bin/jps"))), "{scripts:?}");
        assert_eq!(home(&cx, "node1").expect("home"), HOME);
    }

    #[test]
    fn a_tarball_jdk_is_unpacked_into_a_folder_named_by_its_checksum() {
        let w = World::sandbox_3_5();
        let plan = vec![step(&w.lab, "node1")];
        let cx = w.cx(&plan);
        let digest = "sha256-0123456789abcdef";
        cx.jdks.set([(None, Cached { path: "/cache/jdk.tar.gz".into(), digest: digest.into() })].into_iter().collect());
        let node = w.remote(&cx, "node1");
        node.probe(&[(ID, "arch=aarch64\n---\n")]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(_)));
        node.answer("tar xzf", 0, "created\n");
        node.answer("mktemp", 0, "created\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
        assert_eq!(*node.uploads.lock().expect("uploads"), ["/cache/jdk.tar.gz"]);
        assert!(node.ran_as_root("tar xzf /tmp/lab-upload.TEST -C /opt/jdk-0123456789ab.lab-new"), "{:?}", node.scripts());
        assert_eq!(home(&cx, "node1").expect("home"), "/opt/jdk-0123456789ab");
    }

    #[test]
    fn spark_4_refuses_a_runtime_without_the_vector_module() {
        let w = World::sandbox();
        let plan = vec![step(&w.lab, "node1")];
        let cx = w.cx(&plan);
        cx.jdks.set(Jdks::new());
        let node = w.remote(&cx, "node1");
        node.probe(&[(ID, &format!("arch=x86_64\nhome={HOME}\n{}---\n{}", links(HOME), profile(HOME)))]);
        assert!(matches!(plan[0].check(&cx).expect("check"), Check::Needed(ref why) if why.contains("Spark 4")));
        node.answer("--list-modules", 0, "java.base@17\njava.sql@17\n");
        let e = plan[0].apply(&cx).expect_err("a trimmed runtime");
        assert!(e.to_string().contains("jdk.incubator.vector"), "{e}");
        node.answer("--list-modules", 0, "java.base@17\njdk.incubator.vector@17\n");
        assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Satisfied);
        assert_eq!(cx.current("node1", MODULES).as_deref(), Some(HOME));
    }
}
