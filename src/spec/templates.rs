//! The lab files of `labs/`, built into the binary for `lab init`.

pub struct Template {
    pub name: &'static str,
    pub summary: &'static str,
    pub text: &'static str,
}

pub const ALL: &[Template] = &[
    Template {
        name: "spark",
        summary: "the course lab: master + 2 workers, CentOS Stream 9 VMs in VirtualBox, Java 21, Spark 4.3 with Spark Connect and the history server",
        text: include_str!("../../labs/spark.yaml"),
    },
    Template {
        name: "spark-3.5",
        summary: "the course lab on Spark's 3.5 line (no Spark Connect server): CentOS Stream 9 VMs, Java 17, Spark 3.5.8",
        text: include_str!("../../labs/spark-3.5.yaml"),
    },
    Template {
        name: "course-2018",
        summary: "the original course: CentOS 7 VMs, JDK 8, Spark 2.3.2 (conf/slaves)",
        text: include_str!("../../labs/course-2018.yaml"),
    },
    Template {
        name: "sandbox",
        summary: "master + 2 workers as Linux namespaces on this machine (needs root), no VirtualBox",
        text: include_str!("../../labs/sandbox.yaml"),
    },
    Template {
        name: "qemu",
        summary: "master + 2 workers as QEMU VMs from CentOS Stream 9's cloud image (Linux, macOS; no root needed), no VirtualBox",
        text: include_str!("../../labs/qemu.yaml"),
    },
];

pub fn find(name: &str) -> Option<&'static Template> {
    let name = name.strip_suffix(".yaml").unwrap_or(name);
    // `spark-4` was the 4.x lab's name before it became the default.
    let name = if name == "spark-4" { "spark" } else { name };
    ALL.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HostFacts, parse};
    use std::path::Path;

    #[test]
    fn every_template_is_a_valid_lab() {
        for t in ALL {
            parse(Path::new(t.name), t.text, &HostFacts::default()).unwrap_or_else(|d| panic!("{}: {d:?}", t.name));
        }
    }

    #[test]
    fn every_file_in_labs_is_a_template() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs");
        for entry in std::fs::read_dir(dir).expect("labs/") {
            let name = entry.expect("entry").file_name().to_string_lossy().to_string();
            assert!(find(&name).is_some(), "labs/{name} is not built into `lab init`");
        }
    }
}
