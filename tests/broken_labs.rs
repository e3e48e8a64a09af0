//! Every file in tests/fixtures/broken/ is a lab file broken in one way. Its first line says
//! where lab must point: `# expect: FIELD | LINE | WORDS` (LINE 0: any line).

use std::path::Path;

use crate::support::{Lab, lab_dir, repo};

struct Expect {
    field: String,
    line: usize,
    words: String,
}

fn expectation(text: &str, file: &Path) -> Expect {
    let first = text.lines().next().unwrap_or("");
    let rest = first.strip_prefix("# expect: ").unwrap_or_else(|| panic!("{}: first line must be `# expect: FIELD | LINE | WORDS`", file.display()));
    let parts: Vec<&str> = rest.split(" | ").collect();
    assert_eq!(parts.len(), 3, "{}: bad expect line", file.display());
    Expect { field: parts[0].into(), line: parts[1].parse().expect("line number"), words: parts[2].into() }
}

fn fixtures() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(repo().join("tests/fixtures/broken"))
        .expect("tests/fixtures/broken")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

#[test]
fn corpus_is_large_and_distinct() {
    let files = fixtures();
    assert!(files.len() >= 25, "only {} broken fixtures", files.len());
    let mut bodies: Vec<String> = files.iter().map(|f| std::fs::read_to_string(f).expect("read")).collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), files.len(), "two fixtures are identical");
}

#[test]
fn every_broken_lab_is_refused_with_field_and_line_and_touches_nothing() {
    let mut failures = Vec::new();
    for file in fixtures() {
        let text = std::fs::read_to_string(&file).expect("read fixture");
        let e = expectation(&text, &file);
        let dir = lab_dir(&text);
        for args in [vec!["validate"], vec!["up"], vec!["kickstart", "master"], vec!["--json", "validate"]] {
            let out = Lab::new(dir.path()).args(&args).run();
            let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if out.code != 2 {
                failures.push(format!("{name}: `lab {}` exited {}, expected 2\n{}", args.join(" "), out.code, out.stderr));
                continue;
            }
            let located = if args[0] == "--json" {
                let v: serde_json::Value = serde_json::from_str(&out.stderr).unwrap_or_default();
                v["problems"].as_array().is_some_and(|ps| {
                    ps.iter().any(|p| {
                        p["field"] == e.field.as_str()
                            && (e.line == 0 || p["line"] == e.line)
                            && p["message"].as_str().is_some_and(|m| m.contains(&e.words))
                            && p["hint"].is_string()
                    })
                })
            } else {
                let want = if e.line == 0 { "lab.yaml:".to_string() } else { format!("lab.yaml:{}:", e.line) };
                out.stderr.lines().any(|l| l.starts_with(&format!("error: {want}")) && l.contains(&format!(": {}: ", e.field)) && l.contains(&e.words))
                    && out.stderr.contains("hint: ")
            };
            if !located {
                failures.push(format!("{name}: `lab {}` did not report {} at line {} with {:?}:\n{}", args.join(" "), e.field, e.line, e.words, out.stderr));
            }
            if dir.path().join(".lab").exists() {
                failures.push(format!("{name}: `lab {}` created .lab/", args.join(" ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
