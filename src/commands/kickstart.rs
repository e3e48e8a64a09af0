//! `lab kickstart NODE [--iso PATH]`: what the installer is told, and the OEMDRV image that
//! carries it. The image holds the node's private SSH host key: it is written private, and the
//! printed kickstart shows the key only with `--show-secrets`. `--seed PATH` writes the node's
//! cloud-init seed disc (what a linked clone of the base boots with); `--base` prints the base
//! image's kickstart.

use std::path::Path;

use super::LabCx;
use crate::error::{Error, Result};
use crate::fsx::{self, Access};
use crate::kickstart;

pub fn run(cx: &LabCx<'_>, node: Option<&str>, base: bool, iso: Option<&Path>, seed: Option<&Path>, show_secrets: bool) -> Result<i32> {
    let lab = &cx.lab;
    if lab.image.is_none() {
        return Err(Error::Usage(format!(
            "lab {:?} uses the {} provider: kickstarts are made only for virtualbox labs, whose VMs install an OS",
            lab.name,
            lab.provider.name()
        )));
    }
    if base {
        // The base holds nothing secret: no key, no user, no node.
        let text = kickstart::render_base(lab).map_err(Error::Kickstart)?;
        if let Some(path) = iso {
            let image = kickstart::oemdrv::build(text.as_bytes(), kickstart::oemdrv::Timestamp::now())?;
            fsx::write_atomic(path, &image, Access::Private)?;
            cx.printer.info(&format!("wrote {} ({} bytes, label OEMDRV, the base's ks.cfg at its root)", path.display(), image.len()));
        }
        cx.printer.out(&text);
        return Ok(0);
    }
    let Some(node) = node else { return Err(Error::Usage("name a node (`lab kickstart node1`), or pass --base for the base image's kickstart".into())) };
    let node = cx.node(node)?.clone();
    let keys = {
        let _lock = cx.sd.lock("kickstart")?;
        let client = cx.sd.ensure_client_key(lab)?;
        let hosts = cx.sd.ensure_host_keys(lab)?;
        cx.sd.write_known_hosts(lab, &hosts)?;
        crate::state::Keys { client, hosts }
    };
    let text = kickstart::render(lab, &node, &keys)?;
    if let Some(path) = iso {
        let image = kickstart::oemdrv::build(text.as_bytes(), kickstart::oemdrv::Timestamp::now())?;
        fsx::write_atomic(path, &image, Access::Private)?;
        cx.printer.info(&format!(
            "wrote {} ({} bytes, label OEMDRV, ks.cfg at its root; private: it holds the node's SSH host key)",
            path.display(),
            image.len()
        ));
    }
    if let Some(path) = seed {
        let instance = format!("{}-check", lab.machine_name(&node.name));
        let image = crate::seed::build(lab, &node, &keys, &instance)?;
        fsx::write_atomic(path, &image, Access::Private)?;
        cx.printer.info(&format!(
            "wrote {} ({} bytes, label cidata: meta-data, user-data, network-config; private: it holds the node's SSH host key)",
            path.display(),
            image.len()
        ));
    }
    cx.printer.out(&if show_secrets { text } else { kickstart::redact(&text) });
    Ok(0)
}
