//! Whole-file writes on a node: compare, and replace only when content, mode or owner differ.

use crate::error::{Error, Result};
use crate::remote::{Session, shell_quote};
use crate::ui::Outcome;

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

/// Makes `path` hold exactly `content` with `mode` and `owner`, in one round trip: the content
/// goes to a temporary file next to the target, which replaces it only if anything differs
/// (rename, so readers see the old file or the new one). Returns whether it changed.
pub async fn put_file(s: &Session, path: &str, content: &str, mode: u32, owner: &Owner) -> Result<Outcome> {
    let script = format!(
        "set -e; p={p}; d=$(dirname \"$p\"); mkdir -p \"$d\"; t=$(mktemp \"$d/.lab.XXXXXX\"); cat > \"$t\"; \
         if [ -f \"$p\" ] && cmp -s \"$t\" \"$p\" && [ \"$(stat -c %a:%U:%G \"$p\")\" = {want} ]; then rm -f \"$t\"; echo same; \
         else chmod {mode:o} \"$t\"; chown {u}:{g} \"$t\"; mv -f \"$t\" \"$p\"; echo changed; fi",
        p = shell_quote(path),
        want = shell_quote(&format!("{mode:o}:{}:{}", owner.user, owner.group)),
        u = owner.user,
        g = owner.group,
    );
    let command = format!("sudo -n sh -c {}", shell_quote(&script));
    let mut input = content.as_bytes();
    let out = s.exec_with(&command, Some(&mut input), None, &mut |_, _| {}).await?;
    match (out.status, out.stdout.trim()) {
        (0, "same") => Ok(Outcome::Satisfied),
        (0, "changed") => Ok(Outcome::Applied),
        _ => Err(Error::Node {
            node: s.target.node.clone(),
            problem: format!("writing {path} failed: {}", out.stderr.trim()),
            hint: Some("the lab user needs passwordless sudo on the node".into()),
        }),
    }
}
