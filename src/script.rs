//! Remote shell text is data, built in one place. A script is a `'static` template whose
//! `{{name}}` placeholders are filled with values that are always quoted for a POSIX shell,
//! whether or not they were validated before; a finished [`Sh`] may be placed inside another
//! template as it is. Sessions run only [`Sh`] values, so no command line reaches a node without
//! passing through here.
//!
//! The rule: every interpolated value is quoted. Paths, names, addresses, keys: all of them.

use std::fmt;
use std::path::Path;

/// A finished shell command line.
#[derive(Clone, PartialEq, Eq)]
pub struct Sh(String);

impl Sh {
    /// A command line written by the user (`lab ssh NODE -- CMD`): theirs to write, and run as
    /// they wrote it.
    pub fn user_command(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This script run as root, one at a time per node: `sudo -n sh -c '<lock> <script>'`.
    /// A `lab up` killed on this computer leaves its last script running on the node (sshd
    /// does not stop it); the next one waits for it (`flock`, where the node has it) rather
    /// than unpacking into the same folder at the same time. The lock is not passed on to
    /// what the script starts (`-o`: Spark's daemons outlive it).
    #[must_use]
    pub fn sudo(&self) -> Self {
        Self(format!("sudo -n sh -c {} {}", quote(NODE_LOCK), quote(&self.0)))
    }

    /// This script run by `sh -c` (so `set -e` and `exit` stay inside it).
    #[must_use]
    pub fn subshell(&self) -> Self {
        Self(format!("sh -c {}", quote(&self.0)))
    }

    /// This script, then `other`.
    #[must_use]
    pub fn then(self, other: &Sh) -> Self {
        Self(format!("{}\n{}", self.0, other.0))
    }
}

impl fmt::Display for Sh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sh({:?})", self.0)
    }
}

/// A value for a placeholder.
pub trait Arg {
    fn shell(&self) -> String;
}

impl<T: Arg + ?Sized> Arg for &T {
    fn shell(&self) -> String {
        (**self).shell()
    }
}

impl Arg for str {
    fn shell(&self) -> String {
        quote(self)
    }
}

impl Arg for String {
    fn shell(&self) -> String {
        quote(self)
    }
}

impl Arg for Path {
    fn shell(&self) -> String {
        quote(&self.to_string_lossy())
    }
}

impl Arg for Sh {
    fn shell(&self) -> String {
        self.0.clone()
    }
}

/// A list of words, each quoted, separated by spaces.
pub struct Words<'a>(pub &'a [String]);

impl Arg for Words<'_> {
    fn shell(&self) -> String {
        self.0.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
    }
}

macro_rules! display_arg {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            fn shell(&self) -> String {
                quote(&self.to_string())
            }
        }
    )*};
}
display_arg!(u16, u32, u64, usize, std::net::Ipv4Addr, crate::spec::Ipv4Net);

/// Fills `template`'s `{{name}}` placeholders with quoted values. A placeholder without a value,
/// or a value without a placeholder, is a bug caught by the tests of the script that uses it.
/// Runs the script given as `$0` under the node's lab lock (10 minutes at most), or plainly
/// where `flock` is missing.
const NODE_LOCK: &str = "command -v flock >/dev/null 2>&1 || exec sh -c \"$0\"
flock -o -w 600 -E 75 /run/lab.lock sh -c \"$0\"
s=$?
[ $s -ne 75 ] || echo 'another lab command has been changing this node for 10 minutes (the last step of a lab that was killed?); run lab again when it ends' >&2
exit $s";

pub fn sh(template: &'static str, vars: &[(&str, &dyn Arg)]) -> Sh {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        match vars.iter().find(|(k, _)| *k == name) {
            Some((_, v)) => out.push_str(&v.shell()),
            None => {
                debug_assert!(false, "script placeholder {{{{{name}}}}} has no value");
                out.push_str("''");
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    debug_assert!(vars.iter().all(|(k, _)| template.contains(&format!("{{{{{k}}}}}"))), "a value without a placeholder in {template:?}");
    Sh(out)
}

/// Quotes `s` for a POSIX shell: words of safe characters stay as they are, everything else is
/// single-quoted.
pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@+,%".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("abc-1.2/x"), "abc-1.2/x");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$(reboot)"), "'$(reboot)'");
    }

    #[test]
    fn every_value_is_quoted_and_scripts_nest() {
        let path = "/home/my user/.ssh";
        let s = sh("mkdir -p {{dir}} && chown {{user}} {{dir}}", &[("dir", &path), ("user", &"spark")]);
        assert_eq!(s.as_str(), "mkdir -p '/home/my user/.ssh' && chown spark '/home/my user/.ssh'");
        let outer = sh("if true; then {{inner}}; fi", &[("inner", &s)]);
        assert!(outer.as_str().contains("chown spark"));
        assert_eq!(sh("echo {{x}}", &[("x", &"; rm -rf /")]).as_str(), "echo '; rm -rf /'");
        assert!(Sh::user_command("echo $HOME".into()).sudo().as_str().starts_with("sudo -n sh -c 'command -v flock"));
        assert!(Sh::user_command("echo $HOME".into()).sudo().as_str().ends_with(" 'echo $HOME'"));
    }

    #[test]
    #[cfg(unix)] // runs the text in the POSIX sh a node has
    fn scripts_run_in_sh_as_quoted() {
        let hostile = "a'b\"c $(x) `y` \\z\nnew line";
        let s = sh("printf '%s' {{v}}", &[("v", &hostile)]);
        let out = std::process::Command::new("sh").args(["-c", s.as_str()]).output().expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), hostile);
    }

    #[test]
    #[cfg(unix)] // runs the text in the POSIX sh and util-linux flock a node has
    fn root_scripts_on_one_node_run_one_at_a_time() {
        let dir = tempfile::tempdir().expect("tmp");
        let wrapper = NODE_LOCK.replace("/run/lab.lock", &dir.path().join("lab.lock").display().to_string());
        let log = dir.path().join("log");
        let script = format!("echo start >> {0}; sleep 1; echo end >> {0}", log.display());
        let run = || std::process::Command::new("sh").args(["-c", &wrapper, &script]).spawn().expect("sh");
        let (mut a, mut b) = (run(), run());
        assert!(a.wait().expect("wait").success() && b.wait().expect("wait").success());
        assert_eq!(std::fs::read_to_string(&log).expect("log"), "start\nend\nstart\nend\n", "the two scripts overlapped");
        let status = std::process::Command::new("sh").args(["-c", &wrapper, "echo out; exit 3"]).output().expect("sh");
        assert_eq!((status.status.code(), String::from_utf8_lossy(&status.stdout).as_ref()), (Some(3), "out\n"));
    }
}
