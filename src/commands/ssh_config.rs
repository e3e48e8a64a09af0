//! `lab ssh-config`: an OpenSSH config block per node, for ssh, scp, rsync and editors (OpenSSH
//! on Linux, macOS and Windows alike: paths are quoted, with forward slashes on Windows).

use super::LabCx;
use crate::error::Result;

/// A path as OpenSSH's config reads it: quoted, `/` separators.
fn ssh_path(p: &std::path::Path) -> String {
    format!("\"{}\"", p.display().to_string().replace('\\', "/"))
}

pub fn run(cx: &LabCx<'_>) -> Result<i32> {
    let lab = &cx.lab;
    let keys = cx.keys()?;
    cx.sd.write_known_hosts(lab, &keys.hosts)?;
    let mut out = String::new();
    for n in &lab.nodes {
        // Where lab itself reaches the node's SSH (a forward on 127.0.0.1 for the qemu provider
        // without root).
        let addr = cx.provider.target(lab, &cx.sd, &keys, n)?.addr;
        out.push_str(&format!(
            "Host lab-{lab}-{node}\n  HostName {ip}\n  Port {port}\n  User {user}\n  IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n  StrictHostKeyChecking yes\n  HostKeyAlias {node}\n\n",
            lab = lab.name,
            node = n.name,
            ip = addr.ip(),
            port = addr.port(),
            user = lab.user,
            key = ssh_path(&cx.sd.client_key_path()),
            known = ssh_path(&cx.sd.known_hosts_path()),
        ));
    }
    cx.printer.out(out.trim_end());
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn windows_paths_become_quoted_forward_slashes() {
        assert_eq!(
            super::ssh_path(std::path::Path::new("C:\\Users\\João\\Área de Trabalho\\.lab\\x\\id_ed25519")),
            "\"C:/Users/João/Área de Trabalho/.lab/x/id_ed25519\""
        );
    }
}
