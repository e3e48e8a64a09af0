//! The seed disc that gives a machine made from an image its identity at first boot (a VirtualBox
//! linked clone of a base; a QEMU overlay on a cloud image next): cloud-init's
//! NoCloud source, an ISO 9660 image labelled `cidata` holding `meta-data` (instance id, host
//! name), `user-data` (the lab user with the lab key and passwordless sudo, the SSH host key lab
//! pinned, `/etc/hosts`) and `network-config` version 2 (NIC1 by DHCP, NIC2 static on the
//! host-only network; both matched by their MAC address, not by interface names). Every value
//! goes through a YAML serializer, so nothing the lab file holds can add YAML of its own.

use serde_json::json;

use crate::error::{Error, Result};
use crate::kickstart::oemdrv::{self, Timestamp};
use crate::spec::{Lab, Node, checks};
use crate::state::Keys;

pub const LABEL: &str = "cidata";

/// The three NoCloud files for `node`: (meta-data, user-data, network-config).
pub fn files(lab: &Lab, node: &Node, keys: &Keys, instance: &str) -> Result<(String, String, String)> {
    let host = keys.hosts.get(&node.name).ok_or_else(|| Error::Kickstart(format!("no host key for node {}", node.name)))?;
    let path = host.private_path.as_ref().ok_or_else(|| Error::Kickstart(format!("lab has no private host key for node {}", node.name)))?;
    let private = std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    files_with(lab, node, &keys.client.public_line, &private, host.public(), instance)
}

/// The files, from explicit key material (tests use fixed keys).
pub fn files_with(lab: &Lab, node: &Node, client_public: &str, private: &str, host_public: &str, instance: &str) -> Result<(String, String, String)> {
    checks::hostname(&node.name).map_err(Error::Kickstart)?;
    checks::username(&lab.user).map_err(Error::Kickstart)?;
    checks::timezone(&lab.locale.timezone).map_err(Error::Kickstart)?;
    if !private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        return Err(Error::Kickstart("the host key is not an OpenSSH private key".into()));
    }
    let yaml = |v: &serde_json::Value| serde_yaml::to_string(v).map_err(|e| Error::Internal(format!("writing the seed: {e}")));
    let meta = yaml(&json!({"instance-id": instance, "local-hostname": node.name}))?;
    let user = json!({
        "users": [{
            "name": lab.user,
            "gecos": "Spark lab",
            "groups": ["wheel"],
            "shell": "/bin/bash",
            "sudo": "ALL=(ALL) NOPASSWD:ALL",
            "lock_passwd": false,
            "ssh_authorized_keys": [client_public],
        }],
        "ssh_pwauth": false,
        "disable_root": true,
        // With `ssh_keys` given, cloud-init writes those and generates none (cc_ssh.py, `handle`:
        // generation is the `else` of `"ssh_keys" in cfg`); `ssh_genkeytypes: []` would only fail
        // its schema ("[] is too short").
        "ssh_deletekeys": true,
        "ssh_keys": {"ed25519_private": private.trim_end().to_string() + "\n", "ed25519_public": host_public},
        "preserve_hostname": false,
        // The lab's time zone (cc_timezone, the distribution's own way: `timedatectl` on EL,
        // /etc/localtime on Debian; every image carries tzdata). Not its `locale.lang`: a
        // cloud image carries only the language packs it was built with, and nothing installs
        // another before cloud-init runs (kickstart installs are given theirs).
        "timezone": lab.locale.timezone,
        "manage_etc_hosts": false,
        "write_files": [{"path": "/etc/hosts", "permissions": "0644", "content": crate::files::hosts_file(lab)}],
        // No password at all ('*' is not a lock, so keys still work with PAM).
        "runcmd": [["usermod", "-p", "*", lab.user]],
    });
    let user = format!("#cloud-config\n{}", yaml(&user)?);
    let (nat, host_only) = crate::identity::macs(lab, &node.name);
    let network = json!({
        "version": 2,
        "ethernets": {
            "nat": {"match": {"macaddress": nat.to_string()}, "dhcp4": true},
            "lab": {
                "match": {"macaddress": host_only.to_string()},
                "dhcp4": false,
                "addresses": [format!("{}/{}", node.ip, lab.network.cidr.prefix())],
            },
        },
    });
    Ok((meta, user, yaml(&network)?))
}

/// The seed disc's image.
pub fn build(lab: &Lab, node: &Node, keys: &Keys, instance: &str) -> Result<Vec<u8>> {
    image(files(lab, node, keys, instance)?)
}

fn image((meta, user, network): (String, String, String)) -> Result<Vec<u8>> {
    oemdrv::volume(LABEL, &[("META-DATA;1", meta.as_bytes()), ("USER-DATA;1", user.as_bytes()), ("NETWORK-CONFIG;1", network.as_bytes())], Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF1olcpEunI8nEDHJEIHO/HTJABkd8bHFecSIjIDX2RJ lab-spark";
    const HOST_PUB: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOCch6LldDJRBN335LAX0NYYW1gySJU1QV8goN7W9hRL";
    const HOST_PRIV: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

    #[test]
    fn the_seed_names_the_node_its_user_key_and_addresses() {
        let lab = crate::spec::parse(std::path::Path::new("lab.yaml"), include_str!("../labs/spark.yaml"), &crate::spec::HostFacts::default()).expect("valid");
        let node = lab.node("node1").expect("node1");
        let (meta, user, network) = files_with(&lab, node, CLIENT, HOST_PRIV, HOST_PUB, "i-1").expect("files");
        let meta: serde_yaml::Value = serde_yaml::from_str(&meta).expect("meta-data is YAML");
        assert_eq!(meta["local-hostname"].as_str(), Some("node1"));
        assert_eq!(meta["instance-id"].as_str(), Some("i-1"));
        assert!(user.starts_with("#cloud-config\n"));
        let user: serde_yaml::Value = serde_yaml::from_str(&user).expect("user-data is YAML");
        assert_eq!(user["users"][0]["name"].as_str(), Some(lab.user.as_str()));
        assert_eq!(user["users"][0]["sudo"].as_str(), Some("ALL=(ALL) NOPASSWD:ALL"));
        assert_eq!(user["users"][0]["ssh_authorized_keys"][0].as_str(), Some(CLIENT));
        assert_eq!(user["ssh_keys"]["ed25519_private"].as_str(), Some(HOST_PRIV));
        assert_eq!(user["timezone"].as_str(), Some(lab.locale.timezone.as_str()));
        let hosts = user["write_files"][0]["content"].as_str().expect("/etc/hosts");
        assert!(hosts.contains("192.168.56.12   node2"), "{hosts}");
        // cloud-init writes it as given: a text file ends with its newline (a real guest showed
        // the last line, lab's END mark, without one).
        assert!(hosts.ends_with("# END lab spark\n") && !hosts.ends_with("\n\n"), "{hosts:?}");
        let network: serde_yaml::Value = serde_yaml::from_str(&network).expect("network-config is YAML");
        let (nat, host_only) = crate::identity::macs(&lab, "node1");
        assert_eq!(network["version"].as_u64(), Some(2));
        assert_eq!(network["ethernets"]["nat"]["match"]["macaddress"].as_str(), Some(nat.to_string().as_str()));
        assert_eq!(network["ethernets"]["lab"]["match"]["macaddress"].as_str(), Some(host_only.to_string().as_str()));
        assert_eq!(network["ethernets"]["lab"]["addresses"][0].as_str(), Some("192.168.56.11/24"));
        let img = image(files_with(&lab, node, CLIENT, HOST_PRIV, HOST_PUB, "i-1").expect("files")).expect("image");
        assert_eq!(&img[16 * 2048 + 40..16 * 2048 + 46], b"cidata");
        assert!(files_with(&lab, node, CLIENT, "not a key", HOST_PUB, "i-1").is_err());
    }
}
