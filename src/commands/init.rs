//! `lab init [TEMPLATE]`: writes lab.yaml from one of the built-in lab files in `labs/`.

use std::path::{Path, PathBuf};

use super::{Cx, LAB_FILE};
use crate::error::{Error, Result};
use crate::spec::templates;

pub fn run(cx: &Cx<'_>, template: &str, force: bool, list: bool) -> Result<i32> {
    let printer = cx.printer;
    if list {
        for t in templates::ALL {
            printer.out(&format!("{:<12} {}", t.name, t.summary));
        }
        return Ok(0);
    }
    let t = templates::find(template)
        .ok_or_else(|| Error::UnknownTemplate { name: template.to_string(), known: templates::ALL.iter().map(|t| t.name.to_string()).collect() })?;
    let target = cx.global.file.as_deref().map_or_else(|| PathBuf::from(LAB_FILE), Path::to_path_buf);
    if target.exists() && !force {
        return Err(Error::Exists { file: target });
    }
    std::fs::write(&target, t.text).map_err(|e| Error::io(format!("writing {}", target.display()), e))?;
    printer.info(&format!("wrote {} from the {} template ({})", target.display(), t.name, t.summary));
    printer.info("next: read it, then `lab validate` and `lab up`");
    Ok(0)
}
