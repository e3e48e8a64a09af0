use super::*;
use crate::steps::fake::World;

fn zone(master: bool) -> (World, Rules) {
    let w = World::sandbox();
    let node = w.lab.node(if master { "master" } else { "node1" }).expect("node").clone();
    let r = rules(&w.lab, &node, None);
    (w, r)
}

#[test]
fn the_zone_opens_spark_s_pinned_ports_to_the_nodes_and_this_computer_only() {
    let (w, master) = zone(true);
    assert_eq!(master.sources, ["192.168.57.1", "192.168.57.10", "192.168.57.11", "192.168.57.12"]);
    // SSH, the application UIs, the master, its UI, drivers, block managers, history (not
    // Connect: it listens on the master's loopback).
    assert_eq!(master.ports, ["22/tcp", "4040-4056/tcp", "7077/tcp", "7100-7116/tcp", "7200-7216/tcp", "8080/tcp", "18080/tcp"]);
    let (_, worker) = zone(false);
    assert_eq!(worker.ports, ["22/tcp", "7078/tcp", "7200-7216/tcp", "8081/tcp"]);
    // Where lab's SSH comes from joins when it is on the lab network (an `existing` machine
    // reached from a laptop that is not network.host), never when it is not.
    let node = w.lab.node("node1").expect("node");
    assert!(rules(&w.lab, node, Some("192.168.57.77".parse().expect("ip"))).sources.contains(&"192.168.57.77".to_string()));
    assert_eq!(rules(&w.lab, node, Some("10.0.2.2".parse().expect("ip"))).sources.len(), 4);
}

#[test]
fn no_running_firewalld_needs_nothing() {
    let w = World::sandbox();
    let plan = vec![step(&w.lab, "node1")];
    let cx = w.cx(&plan);
    let node = w.remote(&cx, "node1");
    node.probe(&[(ID, "state=absent\n")]);
    assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);
    assert_eq!(node.scripts().len(), 1, "only the probe ran");
}

#[test]
fn the_check_says_what_differs() {
    let (w, want) = zone(false);
    let plan = vec![step(&w.lab, "node1")];
    let check = |fact: &str| {
        let cx = w.cx(&plan);
        w.remote(&cx, "node1").probe(&[(ID, fact)]);
        plan[0].check(&cx).expect("check")
    };
    let seen = |sources: &str, ports: &str, legacy: bool| {
        let legacy = if legacy { "legacy=yes\n" } else { "" };
        format!("state=running\nclient=192.168.57.1 40000 22\nsources={sources}\nports={ports}\n{legacy}")
    };
    let (src, ports) = (want.sources.join(" "), want.ports.join(" "));
    assert_eq!(check(&seen(&src, &ports, false)), Check::Satisfied);
    // Another order is the same zone.
    assert_eq!(check(&seen(&want.sources.iter().rev().cloned().collect::<Vec<_>>().join(" "), &ports, false)), Check::Satisfied);
    assert!(matches!(check(&seen(&src, "22/tcp 8081/tcp", false)), Check::Needed(why) if why.contains("7078/tcp")));
    assert!(matches!(check(&seen(&src, &ports, true)), Check::Needed(why) if why.contains("trusted zone opens every port to all of 192.168.57.0/24")));
    assert_eq!(check("state=running\nclient=192.168.57.1 40000 22\n"), Check::Needed("no firewalld zone lab".into()));
    assert!(matches!(check("state=unreadable\n"), Check::Needed(_)));
    // The master's ports, listed by firewalld in its own order.
    let (w, want) = zone(true);
    let plan = vec![step(&w.lab, "master")];
    let cx = w.cx(&plan);
    let mut ports = want.ports.clone();
    ports.sort();
    w.remote(&cx, "master").probe(&[(ID, &seen(&want.sources.join(" "), &ports.join(" "), false))]);
    assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);
}

#[test]
fn an_existing_machine_keeps_a_trusted_source_lab_did_not_add() {
    let text = include_str!("../../../labs/sandbox.yaml").replace("provider: sandbox", "provider: existing");
    let w = World::with(&text, true);
    let plan = vec![step(&w.lab, "node1")];
    let cx = w.cx(&plan);
    let node = w.remote(&cx, "node1");
    let want = rules(&w.lab, w.lab.node("node1").expect("node"), None);
    node.probe(&[(ID, &format!("state=running\nsources={}\nports={}\nlegacy=yes\n", want.sources.join(" "), want.ports.join(" ")))]);
    assert_eq!(plan[0].check(&cx).expect("check"), Check::Satisfied);
    // The zone lab made is recorded, so `lab destroy` deletes it.
    node.answer("firewall-cmd", 0, "made=yes\n");
    assert_eq!(plan[0].apply(&cx).expect("apply"), Outcome::Applied);
    assert!(node.scripts().iter().any(|s| s.contains("--new-zone") && s.contains("[ no = yes ]")), "{:?}", node.scripts());
    let st = w.sd.load().expect("load").expect("state");
    assert_eq!(st.nodes["node1"].changes, [Change::FirewallZone { zone: "lab".into() }]);
    node.answer("firewall-cmd", 1, "");
    assert!(plan[0].apply(&cx).expect_err("failed").to_string().contains("setting firewalld's zone lab failed"));
}

/// firewalld's command line as the converge script uses it, over files: `--state` (exit 252
/// "not running" when stopped), `--info-zone` (exit 112 INVALID_ZONE for an unknown zone),
/// `--new-zone`, `--list-sources|ports` (one line, space-separated), `--query-*` (exit 0 yes,
/// 1 no), `--add-*`/`--remove-*`, `--reload` (firewall-cmd(1); firewalld's
/// src/firewall/errors.py for the codes).
#[cfg(unix)]
const FIREWALL_CMD: &str = r#"#!/bin/sh
d=$FAKE_FIREWALLD; z=public; echo "$*" >> "$d/log"
for a in "$@"; do case "$a" in --zone=*) z=${a#--zone=};; esac; done
for a in "$@"; do case "$a" in
  --state) [ -e "$d/running" ] && { echo running; exit 0; }; echo "not running"; exit 252;;
  --reload) exit 0;;
  --info-zone=*) [ -d "$d/${a#*=}" ] && exit 0; exit 112;;
  --new-zone=*) [ -d "$d/${a#*=}" ] && exit 26; mkdir "$d/${a#*=}"; touch "$d/${a#*=}/source" "$d/${a#*=}/port"; exit 0;;
  --list-sources|--list-ports) k=${a#--list-}; k=${k%s}; tr '\n' ' ' < "$d/$z/$k" | sed 's/ $//'; echo; exit 0;;
  --query-*=*) k=${a#--query-}; k=${k%%=*}; grep -qxF -- "${a#*=}" "$d/$z/$k"; exit;;
  --add-*=*) k=${a#--add-}; k=${k%%=*}; grep -qxF -- "${a#*=}" "$d/$z/$k" || echo "${a#*=}" >> "$d/$z/$k"; exit 0;;
  --remove-*=*) k=${a#--remove-}; k=${k%%=*}; grep -vxF -- "${a#*=}" "$d/$z/$k" > "$d/t"; mv "$d/t" "$d/$z/$k"; exit 0;;
esac; done
exit 2
"#;

#[cfg(unix)]
#[test]
fn the_converge_script_makes_the_zone_exactly_what_lab_wants_and_takes_the_old_trust_out() {
    use std::os::unix::fs::PermissionsExt;
    let (_, want) = zone(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    let fw = dir.path().join("fw");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::create_dir_all(fw.join("trusted")).expect("fw");
    std::fs::write(bin.join("firewall-cmd"), FIREWALL_CMD).expect("write");
    std::fs::set_permissions(bin.join("firewall-cmd"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(fw.join("trusted/source"), "192.168.57.0/24\n").expect("trusted");
    std::fs::write(fw.join("trusted/port"), "").expect("trusted");
    let run = |legacy: bool| {
        let out = std::process::Command::new("sh")
            .args(["-c", converge(&want, legacy, "192.168.57.0/24").as_str()])
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("FAKE_FIREWALLD", &fw)
            .output()
            .expect("sh");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let lines = |f: &str| std::fs::read_to_string(fw.join(f)).expect("read").lines().map(String::from).collect::<Vec<_>>();
    assert_eq!(run(true), "absent", "a stopped firewalld is left alone");
    std::fs::write(fw.join("running"), "").expect("running");
    assert_eq!(run(false), "made=yes");
    assert_eq!(lines("lab/source"), want.sources);
    assert_eq!(lines("lab/port"), want.ports);
    assert_eq!(lines("trusted/source"), ["192.168.57.0/24"], "kept without legacy");
    // Someone widened the zone; lab takes it back, and the old trust goes.
    std::fs::write(fw.join("lab/source"), "10.0.0.0/8\n192.168.57.10\n").expect("widen");
    std::fs::write(fw.join("lab/port"), "1-65535/tcp\n").expect("widen");
    assert_eq!(run(true), "made=no");
    assert_eq!(lines("lab/source").iter().collect::<std::collections::BTreeSet<_>>(), want.sources.iter().collect());
    assert_eq!(lines("lab/port").iter().collect::<std::collections::BTreeSet<_>>(), want.ports.iter().collect());
    assert!(lines("trusted/source").is_empty());
}

#[cfg(unix)]
#[test]
fn the_probe_is_shell_and_says_absent_without_firewalld() {
    let w = World::sandbox();
    let plan = vec![step(&w.lab, "node1")];
    let cx = w.cx(&plan);
    let probes = plan[0].probes(&cx).expect("probes");
    let empty = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new("/bin/sh").args(["-c", probes[0].1.as_str()]).env("PATH", empty.path()).output().expect("sh");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "state=absent\n", "{}", String::from_utf8_lossy(&out.stderr));
}
