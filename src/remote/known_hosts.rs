//! OpenSSH's `known_hosts` format, read whole (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): comma
//! lists of host patterns (`*` and `?` wildcards, `!` negation), `[host]:port` for other ports,
//! hashed names (`|1|salt|hash`, Debian's and Ubuntu's default), and the `@revoked` and
//! `@cert-authority` markers. `ssh-keyscan HOST > known_hosts` lists one line per key type.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// What a known_hosts file says about one host.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Known {
    /// Keys the host may present (`alg base64`), in file order.
    pub keys: Vec<String>,
    /// Keys marked `@revoked`: refused even if also listed as good.
    pub revoked: Vec<String>,
}

/// The names a host is looked up by: `name` and `addr` on port 22, `[name]:port` otherwise.
fn lookup_names(names: &[&str], port: u16) -> Vec<String> {
    names.iter().map(|n| if port == 22 { (*n).to_string() } else { format!("[{n}]:{port}") }).collect()
}

/// Shell-style pattern match with `*` and `?`, case-insensitive (host names are).
fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

fn hashed_match(entry: &str, name: &str) -> bool {
    let mut parts = entry.strip_prefix("|1|").unwrap_or("").split('|');
    let (Some(salt), Some(hash)) = (parts.next(), parts.next()) else { return false };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else { return false };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else { return false };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Whether a host field (comma list) matches any of `names`.
fn field_matches(field: &str, names: &[String]) -> bool {
    if field.starts_with("|1|") {
        return names.iter().any(|n| hashed_match(field, n));
    }
    let mut positive = false;
    for pat in field.split(',') {
        if let Some(neg) = pat.strip_prefix('!') {
            if names.iter().any(|n| glob(neg, n)) {
                return false;
            }
        } else if names.iter().any(|n| glob(pat, n)) {
            positive = true;
        }
    }
    positive
}

/// Everything `text` says about the host known as `names` (its name and address) on `port`.
pub fn lookup(text: &str, names: &[&str], port: u16) -> Known {
    let wanted = lookup_names(names, port);
    let mut known = Known::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let mut first = words.next().unwrap_or("");
        let marker = first.strip_prefix('@').map(str::to_string);
        if marker.is_some() {
            first = words.next().unwrap_or("");
        }
        let (Some(alg), Some(b64)) = (words.next(), words.next()) else { continue };
        if !field_matches(first, &wanted) {
            continue;
        }
        let key = format!("{alg} {b64}");
        match marker.as_deref() {
            None => {
                if !known.keys.contains(&key) {
                    known.keys.push(key);
                }
            }
            Some("revoked") => known.revoked.push(key),
            // A CA signs host certificates; lab pins plain keys, so CA lines give no key.
            Some(_) => {}
        }
    }
    known.keys.retain(|k| !known.revoked.contains(k));
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOCch6LldDJRBN335LAX0NYYW1gySJU1QV8goN7W9hRL";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBE";

    #[test]
    fn keyscan_output_lists_every_key_type() {
        let text = format!("# 10.0.0.5:22 SSH-2.0-OpenSSH_9.2\n10.0.0.5 {RSA}\n10.0.0.5 {ECDSA}\n10.0.0.5 {ED}\nother {ED}x\n");
        let k = lookup(&text, &["node1", "10.0.0.5"], 22);
        assert_eq!(k.keys, vec![RSA.to_string(), ECDSA.to_string(), ED.to_string()]);
    }

    #[test]
    fn hashed_names_ports_patterns_and_markers() {
        // `ssh-keygen -H` of "node1" with this salt.
        let salt = [7u8; 20];
        let mut mac = Hmac::<Sha1>::new_from_slice(&salt).expect("hmac");
        mac.update(b"node1");
        let hashed = format!("|1|{}|{}", STANDARD.encode(salt), STANDARD.encode(mac.finalize().into_bytes()));
        let text = format!("{hashed} {ED}\n[10.0.0.6]:2222 {RSA}\n*.lab,!bad.lab {ECDSA}\n@revoked 10.0.0.7 {ED}\n10.0.0.7 {ED}\n");
        assert_eq!(lookup(&text, &["node1", "10.0.0.9"], 22).keys, vec![ED.to_string()]);
        assert!(lookup(&text, &["node2", "10.0.0.9"], 22).keys.is_empty());
        assert_eq!(lookup(&text, &["x", "10.0.0.6"], 2222).keys, vec![RSA.to_string()]);
        assert!(lookup(&text, &["x", "10.0.0.6"], 22).keys.is_empty(), "a port-22 lookup must not take a [host]:port line");
        assert_eq!(lookup(&text, &["a.lab"], 22).keys, vec![ECDSA.to_string()]);
        assert!(lookup(&text, &["bad.lab"], 22).keys.is_empty());
        let revoked = lookup(&text, &["10.0.0.7"], 22);
        assert!(revoked.keys.is_empty() && revoked.revoked == vec![ED.to_string()]);
    }
}
