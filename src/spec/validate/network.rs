//! The lab network and its nodes: addresses inside the network, names, roles and sizes.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::{CPUS, Check, DEFAULT_CIDR, DISK_GIB, MAX_WORKERS, MEMORY_MIB, VBOX_MIN_MEMORY_MIB};
use crate::spec::{FieldPath, HostFacts, Ipv4Net, Network, Node, ProviderKind, Role, checks, net, raw};

pub(super) fn network(c: &mut Check<'_>, provider: ProviderKind, facts: &HostFacts) -> Option<Network> {
    let path = FieldPath::root().key("network");
    let raw: Option<raw::Network> = if c.doc.has(&path) { c.get(&path) } else { Some(raw::Network { cidr: DEFAULT_CIDR.into(), host: None, start: None }) };
    let raw = raw?;
    let cidr_path = path.key("cidr");
    let cidr: Ipv4Net = match raw.cidr.parse() {
        Ok(n) => n,
        Err(e) => {
            c.error(&cidr_path, e, Some("write the network as address/prefix, like 192.168.56.0/24"));
            return None;
        }
    };
    if cidr.has_host_bits() {
        let hint = format!("write the network address: {}/{}", cidr.network(), cidr.prefix());
        c.error(&cidr_path, format!("{cidr} has host bits set"), Some(&hint));
        return None;
    }
    if cidr.prefix() > 29 || cidr.prefix() < 8 {
        c.error(&cidr_path, format!("prefix /{} leaves no room for a lab", cidr.prefix()), Some("use a prefix from /8 to /29, usually /24"));
        return None;
    }
    if provider == ProviderKind::Virtualbox && !net::hostonly_allowed(&cidr, facts.networks_conf.as_deref()) {
        let hint = if facts.networks_conf.is_some() {
            format!("/etc/vbox/networks.conf does not list it; add a line `* {cidr}` there, or use 192.168.56.0/24")
        } else {
            format!(
                "VirtualBox 6.1.28+ allows only 192.168.56.0/21 for host-only networks; use 192.168.56.0/24, or create /etc/vbox/networks.conf with the line `* {cidr}`"
            )
        };
        c.error(&cidr_path, format!("VirtualBox refuses host-only network {cidr}"), Some(&hint));
    }
    let host = match raw.host.as_deref().map(str::parse::<Ipv4Addr>) {
        None => cidr.nth(1)?,
        Some(Ok(ip)) => ip,
        Some(Err(_)) => {
            c.error(&path.key("host"), "not an IPv4 address", Some("the host's address on the lab network, like 192.168.56.1"));
            return None;
        }
    };
    if !address_in(c, &path.key("host"), host, &cidr, None) {
        return None;
    }
    Some(Network { cidr, host })
}

/// Checks that `ip` is a usable host address of `cidr` (and not the host's own address).
pub(super) fn address_in(c: &mut Check<'_>, path: &FieldPath, ip: Ipv4Addr, cidr: &Ipv4Net, host: Option<Ipv4Addr>) -> bool {
    let hint = format!("use an address from {} to {}", Ipv4Addr::from(u32::from(cidr.network()) + 1), Ipv4Addr::from(u32::from(cidr.broadcast()) - 1));
    if !cidr.contains(ip) {
        c.error(path, format!("{ip} is outside the lab network {cidr}"), Some(&hint));
        false
    } else if ip == cidr.network() {
        c.error(path, format!("{ip} is the network address of {cidr}"), Some(&hint));
        false
    } else if ip == cidr.broadcast() {
        c.error(path, format!("{ip} is the broadcast address of {cidr}"), Some(&hint));
        false
    } else if Some(ip) == host {
        c.error(path, format!("{ip} is the host's own address on the lab network"), Some("give the node another address, or change network.host"));
        false
    } else {
        true
    }
}

pub(super) fn nodes(c: &mut Check<'_>, network: Option<&Network>, (cpus, memory, disk): (u32, u32, u32), provider: ProviderKind) -> Option<Vec<Node>> {
    let root = FieldPath::root();
    let np = root.key("nodes");
    let wp = root.key("workers");
    let has_nodes = c.doc.has(&np);
    let has_workers = c.doc.has(&wp);
    let mut out: Vec<(FieldPath, Node)> = Vec::new();
    let mut broken = false;
    match (has_nodes, has_workers) {
        (true, true) => {
            c.error(&wp, "`workers` and `nodes` are both set", Some("use `nodes` to list every node, or `workers: N` for a master and N workers"));
            return None;
        }
        (false, false) => {
            c.error(&np, "missing field", Some("list the nodes under `nodes:`, or write `workers: 2` for master, node1 and node2"));
            return None;
        }
        (false, true) => {
            let n: u32 = c.get(&wp)?;
            if n == 0 || n > MAX_WORKERS {
                c.error(&wp, format!("{n} workers is out of range"), Some(&format!("use 1 to {MAX_WORKERS}")));
                return None;
            }
            let net = network?;
            let start_path = root.key("network").key("start");
            let start = match c.get::<String>(&start_path).map(|s| s.parse::<Ipv4Addr>()) {
                None => match net.cidr.nth(10) {
                    Some(ip) => ip,
                    None => {
                        c.error(
                            &wp,
                            format!("the network {} has no room for a master at its 10th address", net.cidr),
                            Some("use a larger network (like /24), or set network.start"),
                        );
                        return None;
                    }
                },
                Some(Ok(ip)) => ip,
                Some(Err(_)) => {
                    c.error(&start_path, "not an IPv4 address", Some("the master's address; workers follow it"));
                    return None;
                }
            };
            let last = u32::from(start).checked_add(n).map(Ipv4Addr::from);
            if !last.is_some_and(|l| net.cidr.contains(l) && l != net.cidr.broadcast()) {
                let room = u32::from(net.cidr.broadcast()).saturating_sub(u32::from(start)).saturating_sub(1);
                c.error(
                    &wp,
                    format!("a master at {start} and {n} workers do not fit in {}", net.cidr),
                    Some(&format!("use at most {room} workers here, a larger network, or an earlier network.start")),
                );
                return None;
            }
            for i in 0..=n {
                let ip = Ipv4Addr::from(u32::from(start).wrapping_add(i));
                let name = if i == 0 { "master".to_string() } else { format!("node{i}") };
                let role = if i == 0 { Role::Master } else { Role::Worker };
                out.push((wp.clone(), Node { name, role, ip, cpus, memory_mib: memory, disk_gib: disk }));
            }
        }
        (true, false) => {
            let len = match c.doc.seq_len(&np) {
                Ok(l) => l,
                Err(d) => {
                    c.diags.push(d);
                    return None;
                }
            };
            for i in 0..len {
                let p = np.index(i);
                let Some(raw) = c.get::<raw::Node>(&p) else {
                    broken = true;
                    continue;
                };
                let ip = match raw.ip.parse::<Ipv4Addr>() {
                    Ok(ip) => ip,
                    Err(_) => {
                        c.error(&p.key("ip"), format!("{:?} is not an IPv4 address", raw.ip), Some("write the node's static address, like 192.168.56.11"));
                        broken = true;
                        continue;
                    }
                };
                if let Some(v) = raw.cpus {
                    c.range(&p.key("cpus"), "cpus", v, CPUS);
                }
                if let Some(v) = raw.memory {
                    c.range(&p.key("memory"), "memory (MiB)", v, MEMORY_MIB);
                }
                if let Some(v) = raw.disk {
                    c.range(&p.key("disk"), "disk (GiB)", v, DISK_GIB);
                }
                out.push((
                    p,
                    Node {
                        name: raw.name,
                        role: raw.role,
                        ip,
                        cpus: raw.cpus.unwrap_or(cpus),
                        memory_mib: raw.memory.unwrap_or(memory),
                        disk_gib: raw.disk.unwrap_or(disk),
                    },
                ));
            }
            if len == 0 {
                c.error(&np, "no nodes", Some("list one master and at least one worker"));
                return None;
            }
        }
    }

    let mut names: HashMap<String, FieldPath> = HashMap::new();
    let mut ips: HashMap<Ipv4Addr, FieldPath> = HashMap::new();
    for (p, n) in &out {
        let name_path = if has_nodes { p.key("name") } else { p.clone() };
        let ip_path = if has_nodes { p.key("ip") } else { p.clone() };
        c.rule(&name_path, checks::hostname(&n.name), "node names are host names: lowercase letters, digits and '-'");
        if let Some(first) = names.insert(n.name.clone(), name_path.clone()) {
            let pos = c.doc.pos(&first);
            c.error(&name_path, format!("duplicate node name {:?} (first used at line {})", n.name, pos.line), Some("give every node its own name"));
        }
        if let Some(first) = ips.insert(n.ip, ip_path.clone()) {
            let pos = c.doc.pos(&first);
            c.error(&ip_path, format!("duplicate address {} (first used at line {})", n.ip, pos.line), Some("give every node its own address"));
        }
        if let Some(net) = network {
            address_in(c, &ip_path, n.ip, &net.cidr, Some(net.host));
        }
        if provider == ProviderKind::Virtualbox && n.memory_mib < VBOX_MIN_MEMORY_MIB {
            let mp = if has_nodes && c.doc.has(&p.key("memory")) { p.key("memory") } else { FieldPath::root().key("defaults").key("memory") };
            c.error(
                &mp,
                format!("{} MiB is too little to install the OS in a VM", n.memory_mib),
                Some(&format!("use at least {VBOX_MIN_MEMORY_MIB} MiB (2048 recommended)")),
            );
        }
    }
    let masters = out.iter().filter(|(_, n)| n.role == Role::Master).count();
    if !broken && masters != 1 {
        let msg = if masters == 0 { "no node has `role: master`".to_string() } else { format!("{masters} nodes have `role: master`") };
        c.error(&np, msg, Some("a lab has exactly one master; give the others `role: worker`"));
    }
    if !broken && !out.iter().any(|(_, n)| n.role == Role::Worker) {
        c.error(&np, "no node has `role: worker`", Some("add at least one node with `role: worker`"));
    }
    if broken { None } else { Some(out.into_iter().map(|(_, n)| n).collect()) }
}
