//! The lab user exists on a machine lab did not make, logs in with the lab key and has
//! passwordless sudo (set up as `existing.login` when it does not).

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::provider::existing::{Existing, host_keys_of, lab_target, login_target};
use crate::remote::Session;
use crate::script::sh;
use crate::spec::{Lab, Node};
use crate::state::Change;
use crate::steps::{Check, Cx, Head, Stage, Step};
use crate::ui::Outcome;

pub struct LabUser {
    node: String,
    head: Head,
}

pub fn step(lab: &Lab, n: &Node) -> Box<dyn Step> {
    let login = lab.existing.login.clone().unwrap_or_else(|| lab.user.clone());
    Box::new(LabUser {
        node: n.name.clone(),
        head: Head::node(
            "lab_user",
            Stage::Machines,
            &n.name,
            format!("user {} logs in with the lab key and has passwordless sudo (set up as {login})", lab.user),
        ),
    })
}

impl Step for LabUser {
    fn head(&self) -> &Head {
        &self.head
    }
    fn check(&self, _: &Cx<'_>) -> Result<Check> {
        // Cannot look first: logging in as the lab user is the check; its session is kept for the run.
        Ok(Check::InApply)
    }
    fn apply(&self, cx: &Cx<'_>) -> Result<Outcome> {
        Existing::ensure_lab_user(cx, cx.node(&self.node)?)
    }
}

fn keep(cx: &Cx<'_>, node: &Node, s: Session) {
    cx.put_remote(&node.name, Arc::new(crate::remote::seam::Ssh::new(s, cx.rt.clone())));
}

impl Existing {
    /// The lab user exists, logs in with the lab key and has passwordless sudo. Checked in one
    /// round trip as the lab user; only when that fails does lab log in as `existing.login`.
    fn ensure_lab_user(cx: &Cx<'_>, node: &Node) -> Result<Outcome> {
        let keys = host_keys_of(cx.lab, cx.sd)?.remove(&node.name).unwrap_or_default();
        let lab_t = lab_target(cx.lab, cx.sd, node, keys.clone());
        if let Ok(s) = cx.block_on(Session::connect(&lab_t, Duration::from_secs(10))) {
            let ok = cx.block_on(s.exec(&sh("sudo -n true", &[]))).is_ok_and(|o| o.ok());
            if ok {
                keep(cx, node, s);
                return Ok(Outcome::Satisfied);
            }
            cx.block_on(s.close());
        }
        let t = login_target(cx.lab, cx.sd, node, keys);
        let s = cx.block_on(Session::connect(&t, Duration::from_secs(15))).map_err(|e| match e {
            Error::Node { node, problem, hint: None } => Error::Node {
                node,
                problem,
                hint: Some(format!("lab logs in as {} with {}; set existing.login and existing.identity_file", t.user, t.key.display())),
            },
            other => other,
        })?;
        let public = std::fs::read_to_string(cx.sd.client_key_path().with_extension("pub")).map_err(|e| Error::io("reading the lab's public key", e))?;
        let r = cx.block_on(Self::make_lab_user(cx, node, &s, public.trim()));
        // The lab user must now get in with the lab key; when it cannot, say why if lab can tell.
        let r = r.and_then(|()| match cx.block_on(Session::connect(&lab_t, Duration::from_secs(10))) {
            Ok(lab_s) => {
                keep(cx, node, lab_s);
                Ok(())
            }
            Err(e) => {
                let user = &cx.lab.user;
                let status = cx.block_on(s.sudo_check(&sh("passwd -S {{u}} 2>/dev/null | cut -d' ' -f2", &[("u", user)]))).map(|o| o.stdout.trim().to_string());
                let hint = if status.as_deref().is_ok_and(|st| st == "L" || st == "LK") {
                    format!(
                        "the account {user} has a locked password (`!` in /etc/shadow), and an sshd without PAM refuses key logins to locked accounts; `sudo usermod -p '*' {user}` on the node keeps password logins impossible and lets keys in"
                    )
                } else {
                    format!("lab added its key to {user}'s authorized_keys; check sshd's AllowUsers/AuthorizedKeysFile on the node")
                };
                Err(Error::node_hint(&node.name, format!("{user} cannot log in with the lab key after lab set it up: {e}"), hint))
            }
        });
        cx.block_on(s.close());
        r?;
        Ok(Outcome::Applied)
    }

    async fn make_lab_user(cx: &Cx<'_>, node: &Node, s: &Session, public: &str) -> Result<()> {
        let user = &cx.lab.user;
        // A system account (uid below 1000, or no login shell) is never handed sudo and a key,
        // unless lab made it; another account that exists only with `existing.take_account`.
        let made_by_lab = cx.sd.load()?.is_some_and(|st| st.nodes.get(&node.name).is_some_and(|n| n.changes.contains(&Change::User { name: user.clone() })));
        let probe = s
            .sudo_check(&sh(
                "if u=$(getent passwd {{user}}); then echo \"exists $(printf '%s' \"$u\" | cut -d: -f3) $(printf '%s' \"$u\" | cut -d: -f7)\"; else useradd -m -s /bin/bash {{user}} && usermod -p '*' {{user}} && echo created; fi",
                &[("user", user)],
            ))
            .await?;
        let answer = probe.stdout.trim().to_string();
        if answer == "created" {
            cx.track(&node.name, Change::User { name: user.clone() })?;
        } else if !made_by_lab {
            let mut words = answer.split_whitespace().skip(1);
            let uid: u32 = words.next().and_then(|u| u.parse().ok()).unwrap_or(0);
            let shell = words.next().unwrap_or("");
            if uid < 1000 || shell.ends_with("nologin") || shell.ends_with("false") {
                return Err(Error::node_hint(
                    &node.name,
                    format!(
                        "`user: {user}` names an existing system account (uid {uid}, shell {shell}); lab gives its user passwordless sudo and a key, so it refuses to take that account"
                    ),
                    "choose another `user:` in the lab file (lab creates it), like `user: spark`",
                ));
            }
            if !cx.lab.existing.take_account {
                return Err(Error::node_hint(
                    &node.name,
                    format!(
                        "`user: {user}` names an account that already exists (uid {uid}); lab would give it passwordless sudo and the lab key, so it takes it only when told"
                    ),
                    "choose another `user:` in the lab file (lab creates it), or add `take_account: true` under `existing:` if that account is meant for the lab",
                ));
            }
        }
        let home = s.sudo_check(&sh("getent passwd {{user}} | cut -d: -f6", &[("user", user)])).await?.stdout.trim().to_string();
        let keys_file = format!("{home}/.ssh/authorized_keys");
        let out = s
            .sudo_check(&sh(
                "install -d -m 0700 -o {{user}} -g {{user}} {{dir}}; f={{file}}; if [ -f \"$f\" ]; then existed=1; else existed=0; fi; \
                 if ! grep -qxF {{key}} \"$f\" 2>/dev/null; then printf '%s\\n' {{key}} >> \"$f\"; chown {{user}}:{{user}} \"$f\"; chmod 600 \"$f\"; echo \"added $existed\"; fi; \
                 command -v restorecon >/dev/null && restorecon -R {{dir}}; true",
                &[("user", user), ("dir", &format!("{home}/.ssh")), ("file", &keys_file), ("key", &public.to_string())],
            ))
            .await?;
        match out.stdout.trim() {
            "added 1" => cx.track(&node.name, Change::Line { path: keys_file, line: public.to_string() })?,
            "added 0" => cx.track(&node.name, Change::Created { path: keys_file })?,
            _ => {}
        }
        let sudoers = format!("/etc/sudoers.d/90-lab-{user}");
        let out = s
            .sudo_check(&sh(
                "f={{file}}; if [ ! -f \"$f\" ]; then printf '%s ALL=(ALL) NOPASSWD: ALL\\n' {{user}} > \"$f.lab-new\" && chmod 0440 \"$f.lab-new\" && visudo -cf \"$f.lab-new\" >/dev/null && mv \"$f.lab-new\" \"$f\" && echo created; fi",
                &[("file", &sudoers), ("user", user)],
            ))
            .await?;
        if out.stdout.trim() == "created" {
            cx.track(&node.name, Change::Created { path: sudoers })?;
        }
        Ok(())
    }
}
