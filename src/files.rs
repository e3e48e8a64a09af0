//! Contents of files lab writes on nodes, shared by the kickstart and provisioning so every path
//! to a node writes the same thing.

use std::fmt::Write as _;

use crate::spark;
use crate::spec::Lab;

/// The lines lab manages in `/etc/hosts`, between markers that name the lab.
pub fn hosts_block(lab: &Lab) -> String {
    let mut s = format!("# BEGIN lab {} (managed by lab; changes here are replaced)\n", lab.name);
    for n in &lab.nodes {
        let _ = writeln!(s, "{:<15} {}", n.ip, n.name);
    }
    let _ = write!(s, "# END lab {}", lab.name);
    s
}

/// A whole `/etc/hosts` for a freshly installed node: loopback names only (never a node's own
/// name on 127.0.0.1, which would make Spark bind to loopback), then the lab block; a text
/// file, so it ends with a newline (cloud-init's `write_files` writes the content as given).
pub fn hosts_file(lab: &Lab) -> String {
    format!(
        "127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n::1         localhost localhost.localdomain localhost6 localhost6.localdomain6\n{}\n",
        hosts_block(lab)
    )
}

/// The node's `/etc/hosts` made right: lab's block replaced (or added), and the node's own
/// name taken off loopback lines (with it there, Spark binds to 127.0.0.1 and workers cannot
/// reach the master). Everything else is kept.
pub fn merge_hosts(current: &str, lab: &Lab, node: &str) -> String {
    let begin = format!("# BEGIN lab {} ", lab.name);
    let end = format!("# END lab {}", lab.name);
    let names: Vec<&str> = lab.nodes.iter().map(|n| n.name.as_str()).collect();
    let lines: Vec<&str> = current.lines().collect();
    let mut out = String::new();
    if current.trim().is_empty() {
        // A missing (or emptied) file: localhost resolves again, as every distribution ships it.
        out.push_str("127.0.0.1 localhost\n::1 localhost\n");
    }
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.starts_with(&begin) {
            // Skip lab's block, but only when it is closed: a BEGIN without its END (a file cut
            // short, or edited by hand) must not take the rest of the file with it.
            if let Some(close) = lines[i..].iter().position(|l| l.trim_end() == end) {
                i += close + 1;
            }
            continue;
        }
        if line.trim_end() == end {
            continue;
        }
        let mut fields = line.split_whitespace();
        let addr = fields.next().unwrap_or("");
        let comment = line.trim_start().starts_with('#');
        if !comment && (addr.starts_with("127.") || addr == "::1") {
            let kept: Vec<&str> = fields.filter(|f| *f != node && !f.starts_with(&format!("{node}."))).collect();
            if kept.is_empty() {
                continue;
            }
            out.push_str(&format!("{addr} {}\n", kept.join(" ")));
            continue;
        }
        // A lab node's name mapped elsewhere outside the block would shadow lab's entry.
        if !addr.is_empty() && !comment && line.split_whitespace().skip(1).any(|f| names.contains(&f)) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&hosts_block(lab));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HostFacts, parse};
    use std::path::Path;

    fn lab() -> Lab {
        parse(Path::new("x"), include_str!("../labs/sandbox.yaml"), &HostFacts::default()).expect("valid")
    }

    #[test]
    fn own_name_leaves_loopback_and_block_is_replaced() {
        let current = "127.0.0.1 localhost\n127.0.1.1 node1.example node1\n::1 localhost ip6-localhost\n10.0.0.5 nas\n192.168.1.9 node2\n# BEGIN lab sandbox (managed by lab; changes here are replaced)\n1.2.3.4 stale\n# END lab sandbox\n";
        let merged = merge_hosts(current, &lab(), "node1");
        assert!(merged.starts_with("127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.0.0.5 nas\n"), "{merged}");
        assert!(!merged.contains("stale") && !merged.contains("192.168.1.9"), "{merged}");
        assert!(merged.contains("192.168.57.11   node1\n"));
        assert_eq!(merge_hosts(&merged, &lab(), "node1"), merged, "merging twice changes nothing");
    }

    #[test]
    fn a_block_without_its_end_does_not_swallow_the_file() {
        let current = "127.0.0.1 localhost\n# BEGIN lab sandbox (managed by lab; changes here are replaced)\n10.0.0.5 nas\n10.0.0.6 printer\n";
        let merged = merge_hosts(current, &lab(), "node1");
        assert!(merged.contains("10.0.0.5 nas\n") && merged.contains("10.0.0.6 printer\n"), "{merged}");
        assert_eq!(merged.matches("# BEGIN lab sandbox").count(), 1, "{merged}");
    }
}

/// A short, stable fingerprint of a text.
pub fn short_hash(text: &str) -> String {
    crate::hash::fnv_hex(text)
}

/// `conf/spark-env.sh` for `node`: the same SPARK_HOME everywhere, the master's name, this
/// node's own lab address (never the NAT address every VM shares), worker resources, and pid
/// files outside /tmp.
pub fn spark_env(lab: &Lab, node: &crate::spec::Node, java_home: &str) -> String {
    use crate::script::quote;
    let mut s = String::from("#!/usr/bin/env bash\n# Written by lab; `lab up` replaces changes made here.\n");
    let _ = writeln!(s, "export JAVA_HOME={}", quote(java_home));
    let _ = writeln!(s, "export SPARK_HOME={}", spark::HOME);
    let _ = writeln!(s, "export SPARK_MASTER_HOST={}", quote(&lab.master().name));
    let _ = writeln!(s, "export SPARK_MASTER_PORT={}", spark::MASTER_PORT);
    let _ = writeln!(s, "export SPARK_MASTER_WEBUI_PORT={}", spark::MASTER_UI_PORT);
    let _ = writeln!(s, "export SPARK_LOCAL_IP={}", node.ip);
    let _ = writeln!(s, "export SPARK_WORKER_PORT={}", spark::WORKER_PORT);
    let _ = writeln!(s, "export SPARK_PID_DIR={}", spark::PID_DIR);
    let _ = writeln!(s, "export SPARK_DAEMON_MEMORY={}", quote(&lab.spark.daemon_memory));
    // The REST submission server (6066) ignores Spark's secret (CVE-2018-11770; on by default
    // before 2.4, SPARK-25088): off on every release.
    let _ = writeln!(s, "export SPARK_MASTER_OPTS=\"-Dspark.master.rest.enabled=false\"");
    if let Some(c) = lab.spark.worker_cores {
        let _ = writeln!(s, "export SPARK_WORKER_CORES={c}");
    }
    if let Some(m) = &lab.spark.worker_memory {
        let _ = writeln!(s, "export SPARK_WORKER_MEMORY={}", quote(m));
    }
    s
}

/// A known_hosts text with lab's entries (`hosts`, `key`) replacing any line for those hosts.
pub fn known_hosts(current: &str, entries: &[(String, String)]) -> String {
    let ours: Vec<&str> = entries.iter().flat_map(|(h, _)| h.split(',')).collect();
    let mut out: String = current
        .lines()
        .filter(|l| {
            let hosts = l.split_whitespace().next().unwrap_or("");
            !l.trim().is_empty() && !hosts.split(',').any(|h| ours.contains(&h))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    for (h, k) in entries {
        let _ = writeln!(out, "{h} {k}");
    }
    out
}

#[cfg(test)]
mod more_tests {
    use super::*;

    #[test]
    fn lines_and_known_hosts() {
        let k = known_hosts("node1,10.0.0.11 ssh-ed25519 OLD\ngithub.com ssh-ed25519 GH\n", &[("node1,10.0.0.11".into(), "ssh-ed25519 NEW".into())]);
        assert_eq!(k, "github.com ssh-ed25519 GH\nnode1,10.0.0.11 ssh-ed25519 NEW\n");
    }
}
