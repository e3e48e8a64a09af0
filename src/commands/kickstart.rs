//! `lab kickstart NODE [--iso PATH]`: what the installer is told, and the OEMDRV image that
//! carries it. The image holds the node's private SSH host key: it is written private, and the
//! printed kickstart shows the key only with `--show-secrets`.

use std::path::Path;

use super::LabCx;
use crate::error::{Error, Result};
use crate::fsx::{self, Access};
use crate::kickstart;

pub fn run(cx: &LabCx<'_>, node: &str, iso: Option<&Path>, show_secrets: bool) -> Result<i32> {
    let lab = &cx.lab;
    let node = cx.node(node)?.clone();
    if lab.image.is_none() {
        return Err(Error::Usage(format!(
            "lab {:?} uses the {} provider: kickstarts are made only for virtualbox labs, whose VMs install an OS",
            lab.name,
            lab.provider.name()
        )));
    }
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
    cx.printer.out(&if show_secrets { text } else { kickstart::redact(&text) });
    Ok(0)
}
