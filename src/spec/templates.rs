//! The lab files of `labs/`, built into the binary for `lab init`.

pub struct Template {
    pub name: &'static str,
    pub summary: &'static str,
    pub text: &'static str,
}

pub const ALL: &[Template] = &[
    Template {
        name: "spark",
        summary: "the course lab: master + 2 workers, CentOS Stream 9 VMs in VirtualBox, Java 17, Spark 3.5",
        text: include_str!("../../labs/spark.yaml"),
    },
    Template {
        name: "spark-4",
        summary: "the course lab on Spark's current 4.x line: master + 2 workers, CentOS Stream 9 VMs, Java 21, Spark 4.3",
        text: include_str!("../../labs/spark-4.yaml"),
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
];

pub fn find(name: &str) -> Option<&'static Template> {
    let name = name.strip_suffix(".yaml").unwrap_or(name);
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
