//! `lab validate`: the lab file, checked; every problem reported at once; nothing changed. A
//! valid file is also measured against this computer's memory (doctor's memory check): a lab
//! that does not fit is said, without failing, since memory comes and goes.

use serde_json::json;

use super::LabCx;
use crate::error::Result;

pub fn run(cx: &LabCx<'_>) -> Result<i32> {
    let lab = &cx.lab;
    let printer = cx.printer;
    let memory = crate::doctor::memory_of(lab);
    if printer.is_json() {
        let nodes: Vec<_> = lab
            .nodes
            .iter()
            .map(|n| json!({"name": n.name, "role": format!("{:?}", n.role).to_lowercase(), "ip": n.ip.to_string(), "cpus": n.cpus, "memory_mib": n.memory_mib, "disk_gib": n.disk_gib}))
            .collect();
        printer.json(&json!({
            "valid": true,
            "file": lab.file.display().to_string(),
            "name": lab.name,
            "provider": lab.provider.name(),
            "image": lab.image.as_ref().map(|i| i.name.clone()),
            "network": lab.network.cidr.to_string(),
            "host": lab.network.host.to_string(),
            "user": lab.user,
            "nodes": nodes,
            "java": lab.java.version,
            "spark": lab.spark.version.to_string(),
            "memory": memory,
        }));
        return Ok(0);
    }
    let image = lab.image.as_ref().map(|i| format!(", image {}", i.name)).unwrap_or_default();
    printer.out(&format!(
        "{}: ok: lab {:?}, provider {}{image}, {} nodes ({}), Java {}, Spark {}",
        lab.file.display(),
        lab.name,
        lab.provider.name(),
        lab.nodes.len(),
        lab.nodes.iter().map(|n| format!("{} {}", n.name, n.ip)).collect::<Vec<_>>().join(", "),
        lab.java.version,
        lab.spark.version,
    ));
    if matches!(memory.level, crate::doctor::Level::Warning | crate::doctor::Level::Problem) {
        printer.out(crate::doctor::render(std::slice::from_ref(&memory)).trim_end());
    }
    Ok(0)
}
