//! Small pure predicates on single values. Each returns `Err(reason)` in words a user can act on.
//! They also guard everything that reaches a kickstart, a shell or a config file on a node, so
//! they are strict on purpose.

/// An RFC 1123 host name label: 1 to 63 of `a-z 0-9 -`, not starting or ending with `-`.
/// Lowercase only, since node names are also Spark worker names and `/etc/hosts` entries.
pub fn hostname(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 63 {
        return Err(format!("{s:?} must be 1 to 63 characters long"));
    }
    if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(format!("{s:?} may contain only lowercase letters, digits and '-'"));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(format!("{s:?} must not start or end with '-'"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} must not be all digits"));
    }
    if s == "localhost" {
        return Err("\"localhost\" is reserved for 127.0.0.1".into());
    }
    Ok(())
}

/// A POSIX-portable Linux user name, not root.
pub fn username(s: &str) -> Result<(), String> {
    let first_ok = s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    if s.is_empty() || s.len() > 32 || !first_ok || !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
        return Err(format!("{s:?} is not a valid user name: 1 to 32 of a-z, 0-9, '_' and '-', starting with a letter or '_'"));
    }
    if s == "root" {
        return Err("Spark must not run as root".into());
    }
    Ok(())
}

/// A download URL lab can fetch: `https://`, `http://` with a host, or `file://` with an
/// absolute path. No spaces, quotes or control characters (URLs reach shell commands and files).
pub fn url(s: &str) -> Result<(), String> {
    if s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '`' | '\\' | '<' | '>')) {
        return Err(format!("{s:?} contains spaces, quotes or control characters; percent-encode them"));
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(format!("{s:?} is not a URL (expected https://, http:// or file://)"));
    };
    match scheme {
        "https" | "http" => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            if host.is_empty() {
                return Err(format!("{s:?} has no host"));
            }
            Ok(())
        }
        "file" => {
            if !rest.starts_with('/') {
                return Err(format!("{s:?}: a file URL needs an absolute path, like file:///srv/spark.tgz"));
            }
            Ok(())
        }
        other => Err(format!("unsupported URL scheme {other:?}: use https, http or file")),
    }
}

/// A hex digest of `len` characters. Spaces are tolerated (old Apache `.sha512` files group the
/// digest in blocks of eight) and case is ignored; returns the normalised lowercase digest.
pub fn hex_digest(s: &str, len: usize) -> Result<String, String> {
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    if !cleaned.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{s:?} is not hexadecimal"));
    }
    if cleaned.len() != len {
        return Err(format!("has {} hex digits, expected {len}", cleaned.len()));
    }
    Ok(cleaned)
}

/// A Spark memory size such as `1g` or `512m`.
pub fn memory_size(s: &str) -> Result<(), String> {
    memory_mib(s).map(drop).ok_or_else(|| format!("{s:?} is not a memory size like 512m or 2g"))
}

/// A Spark memory size in MiB (`1g` is 1024), or `None` when it is not one.
pub fn memory_mib(s: &str) -> Option<u64> {
    let unit = s.chars().last()?;
    let num = &s[..s.len() - unit.len_utf8()];
    if num.is_empty() || num.len() > 9 || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = num.parse().ok().filter(|n| *n > 0)?;
    match unit {
        'm' | 'M' => Some(n),
        'g' | 'G' => Some(n * 1024),
        _ => None,
    }
}

/// A locale name such as `en_US.UTF-8`.
pub fn lang(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 40
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@'));
    if ok { Ok(()) } else { Err(format!("{s:?} is not a locale name like en_US.UTF-8")) }
}

/// A keyboard layout such as `us` or `de-nodeadkeys` (never starting with `-`: it would reach
/// the kickstart as an option).
pub fn keyboard(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 40
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok { Ok(()) } else { Err(format!("{s:?} is not a keyboard layout like us or de-nodeadkeys")) }
}

/// A tz database name such as `Etc/UTC` or `Europe/Paris`.
pub fn timezone(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && !s.ends_with('/')
        && !s.contains("//")
        && !s.split('/').any(|p| p == "..")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'/'));
    if ok { Ok(()) } else { Err(format!("{s:?} is not a time zone like Etc/UTC or Europe/Paris")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        for ok in ["master", "node1", "a", "spark-worker-01"] {
            assert!(hostname(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Node1", "node_1", "-a", "a-", "123", "localhost", "a.b", "x\ny", "$(id)", &"a".repeat(64)] {
            assert!(hostname(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usernames() {
        assert!(username("spark").is_ok());
        assert!(username("_svc-1").is_ok());
        for bad in ["root", "", "1abc", "Spark", "a b", "a\nb", "x\"y", &"a".repeat(33)] {
            assert!(username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        for ok in ["https://archive.apache.org/dist/x.tgz", "http://127.0.0.1:8000/x", "file:///srv/x.tgz"] {
            assert!(url(ok).is_ok(), "{ok}");
        }
        for bad in ["ftp://x/y", "archive.apache.org/x", "https:///x", "file://relative/x", "https://a/b c", "https://a/$(x)'"] {
            assert!(url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digests() {
        let h = "a".repeat(64);
        assert_eq!(hex_digest(&h, 64).as_deref(), Ok(h.as_str()));
        assert_eq!(hex_digest("ABCD EF01", 8).as_deref(), Ok("abcdef01"));
        assert!(hex_digest(&"a".repeat(63), 64).is_err());
        assert!(hex_digest(&"g".repeat(64), 64).is_err());
    }

    #[test]
    fn memory_sizes() {
        assert!(memory_size("1g").is_ok());
        assert!(memory_size("512m").is_ok());
        for bad in ["", "g", "1", "1k", "0g", "1.5g", "-1g", "1é", "é", "1gé", "99999999999g"] {
            assert!(memory_size(bad).is_err(), "{bad}");
        }
        assert_eq!(memory_mib("2g"), Some(2048));
        assert_eq!(memory_mib("512M"), Some(512));
    }

    #[test]
    fn locale_values() {
        assert!(lang("en_US.UTF-8").is_ok());
        assert!(lang("en_US\n%post").is_err());
        assert!(keyboard("us").is_ok());
        assert!(keyboard("us --foo").is_err());
        assert!(timezone("America/Argentina/Buenos_Aires").is_ok());
        assert!(timezone("Etc/GMT+3").is_ok());
        assert!(timezone("../etc/passwd").is_err());
        assert!(timezone("UTC; reboot").is_err());
        assert!(timezone("-UTC").is_err() && timezone("+0300").is_err());
        assert!(keyboard("-us").is_err());
        assert!(lang("-en_US").is_err());
    }
}
