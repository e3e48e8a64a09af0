//! Contents of files lab writes on nodes, shared by the kickstart and provisioning so every path
//! to a node writes the same thing.

use std::fmt::Write as _;

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
/// name on 127.0.0.1, which would make Spark bind to loopback), then the lab block.
pub fn hosts_file(lab: &Lab) -> String {
    format!(
        "127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n::1         localhost localhost.localdomain localhost6 localhost6.localdomain6\n{}",
        hosts_block(lab)
    )
}
