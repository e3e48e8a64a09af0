//! What every step on a node uses: the node's probe section, files written only when they
//! differ (the original kept on machines lab did not create), verified tarballs unpacked, and
//! every change recorded where the provider tracks them.

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::remote::seam::Remote;
use crate::script::{Sh, sh};
use crate::spec::Node;
use crate::state::Change;
use crate::steps::Cx;
use crate::ui::Outcome;

/// A step on one node: the run, the node, its session.
pub struct NodeCx<'c, 'a> {
    pub cx: &'c Cx<'a>,
    pub node: &'a Node,
    pub s: Arc<dyn Remote>,
}

/// Who owns a file lab writes.
#[derive(Debug, Clone)]
pub struct Owner {
    pub user: String,
    pub group: String,
}

impl Owner {
    pub fn root() -> Self {
        Self { user: "root".into(), group: "root".into() }
    }
    pub fn user(name: &str) -> Self {
        Self { user: name.into(), group: name.into() }
    }
}

/// The name a replaced file's original is kept under, beside it.
/// The distribution's package manager installs `rpm` (EL: dnf, or yum where there is none) or
/// `deb` (Debian, Ubuntu: apt-get), as root, and prints the package's name; on another
/// distribution the script exits 3 saying `unknown` (what the user can do instead).
pub fn package_install(rpm: &str, deb: &str, unknown: &str) -> Sh {
    sh(
        ". /etc/os-release; case \" $ID $ID_LIKE \" in \
         *' rhel '*|*' centos '*|*' fedora '*|*' rocky '*|*' almalinux '*) \
           if command -v dnf >/dev/null; then dnf -y -q install {{rpm}}; else yum -y -q install {{rpm}}; fi; echo {{rpm}} ;; \
         *' debian '*|*' ubuntu '*) DEBIAN_FRONTEND=noninteractive apt-get install -y -q {{deb}} >/dev/null; echo {{deb}} ;; \
         *) echo \"unknown distribution $ID: \"{{unknown}} >&2; exit 3 ;; esac",
        &[("rpm", &rpm), ("deb", &deb), ("unknown", &unknown)],
    )
    .sudo()
}

pub fn backup_of(path: &str) -> String {
    format!("{path}.lab-orig")
}

impl<'c, 'a> NodeCx<'c, 'a> {
    /// `node`'s context, with its session.
    pub fn new(cx: &'c Cx<'a>, node: &str) -> Result<Self> {
        Ok(Self { cx, node: cx.node(node)?, s: cx.remote(node)? })
    }

    pub fn name(&self) -> &str {
        &self.node.name
    }

    pub fn track(&self, change: Change) -> Result<()> {
        self.cx.track(&self.node.name, change)
    }

    /// `put_file` unless `fact` (the file's `stat -c %a:%U:%G` line, then its content, from the
    /// probe) shows it holds `content` with `mode` and `owner` already.
    pub fn put_file_unless(&self, fact: &str, path: &str, content: &str, mode: u32, owner: &Owner) -> Result<Outcome> {
        let want = format!("{mode:o}:{}:{}\n", owner.user, owner.group);
        if fact.strip_prefix(want.as_str()) == Some(content) {
            return Ok(Outcome::Satisfied);
        }
        self.put_file(path, content, mode, owner)
    }

    /// Makes `path` hold exactly `content` with `mode` and `owner`, in one round trip: the
    /// content goes to a temporary file next to the target, which replaces it only if anything
    /// differs (rename, so readers see the old file or the new one). The first time lab
    /// replaces a file it did not write, the original is kept beside it and the change is
    /// recorded.
    pub fn put_file(&self, path: &str, content: &str, mode: u32, owner: &Owner) -> Result<Outcome> {
        let tracking = self.cx.machines.tracks_changes();
        let script = sh(
            "set -e; p={{p}}; b={{b}}; d=$(dirname \"$p\"); mkdir -p \"$d\"; t=$(mktemp \"$d/.lab.XXXXXX\"); cat > \"$t\"; \
             if [ -f \"$p\" ] && cmp -s \"$t\" \"$p\" && [ \"$(stat -c %a:%U:%G \"$p\")\" = {{want}} ]; then rm -f \"$t\"; echo same; \
             else chmod {{mode}} \"$t\"; chown {{owner}} \"$t\"; \
               if [ {{track}} = yes ] && [ -e \"$p\" ] && [ ! -e \"$b\" ]; then cp -a \"$p\" \"$b\"; r=replaced; elif [ -e \"$p\" ]; then r=changed; else r=created; fi; \
               mv -f \"$t\" \"$p\"; echo \"$r\"; fi",
            &[
                ("p", &path),
                ("b", &backup_of(path)),
                ("want", &format!("{mode:o}:{}:{}", owner.user, owner.group)),
                ("mode", &format!("{mode:o}")),
                ("owner", &format!("{}:{}", owner.user, owner.group)),
                ("track", &if tracking { "yes" } else { "no" }),
            ],
        );
        let out = self.s.exec_input(&script.sudo(), content.as_bytes())?;
        let outcome = match (out.status, out.stdout.trim()) {
            (0, "same") => Outcome::Satisfied,
            (0, "replaced") => {
                self.track(Change::Replaced { path: path.to_string(), backup: backup_of(path) })?;
                Outcome::Applied
            }
            (0, "created") => {
                self.track(Change::Created { path: path.to_string() })?;
                Outcome::Applied
            }
            (0, "changed") => Outcome::Applied,
            _ => {
                return Err(Error::node_hint(
                    self.name(),
                    format!("writing {path} failed: {}", out.stderr.trim()),
                    "the lab user needs passwordless sudo on the node",
                ));
            }
        };
        Ok(outcome)
    }

    /// Pushes a verified tarball from the cache and unpacks it into `dir` (a new folder, then a
    /// rename), owned by the lab user. The bytes are checked against their checksum as they go.
    pub fn unpack(&self, tarball: &crate::download::Cached, dir: &str) -> Result<()> {
        let label = Path::new(dir).file_name().and_then(|n| n.to_str()).unwrap_or(dir).to_string();
        let total = std::fs::metadata(&tarball.path).map(|m| m.len()).ok();
        let reporter = self.cx.reporter;
        let node = self.node.name.clone();
        let remote = self.s.upload(&tarball.path, &tarball.digest, &mut |done| reporter.progress(&node, &label, done, total))?;
        let user = &self.cx.lab.user;
        // On machines lab did not create, a folder lab did not make is kept, never removed.
        let keep = self.cx.machines.tracks_changes() && !self.made(dir);
        let script = sh(
            "set -e; rm -rf {{d}}.lab-new; mkdir -p {{d}}.lab-new; tar xzf {{tmp}} -C {{d}}.lab-new --strip-components=1 --no-same-owner; \
             if [ -e {{d}} ] && [ {{keep}} = yes ] && [ ! -e {{b}} ]; then mv {{d}} {{b}}; echo replaced; elif [ -e {{d}} ]; then rm -rf {{d}}; else echo created; fi; \
             mv {{d}}.lab-new {{d}}; rm -f {{tmp}}; chown -R {{owner}} {{d}}",
            &[("d", &dir), ("b", &backup_of(dir)), ("keep", &if keep { "yes" } else { "no" }), ("tmp", &remote), ("owner", &format!("{user}:{user}"))],
        );
        match self.s.sudo_check(&script) {
            Ok(out) => {
                match out.stdout.trim() {
                    "replaced" => self.track(Change::Replaced { path: dir.to_string(), backup: backup_of(dir) })?,
                    "created" => self.track(Change::Created { path: dir.to_string() })?,
                    _ => {}
                }
                Ok(())
            }
            Err(e) => {
                let _ = self.s.exec(&sh("rm -f {{t}}", &[("t", &remote)]));
                Err(e)
            }
        }
    }

    /// Whether lab recorded creating `path` on this node.
    pub fn made(&self, path: &str) -> bool {
        self.cx
            .sd
            .load()
            .ok()
            .flatten()
            .is_some_and(|st| st.nodes.get(&self.node.name).is_some_and(|n| n.changes.contains(&Change::Created { path: path.to_string() })))
    }
}
