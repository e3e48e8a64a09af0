//! The only module that knows the YAML libraries.
//!
//! `serde_yaml` turns text into values and values into typed structs; `yaml-rust2`'s event parser
//! is used only to learn where each key and item stands in the file, because `serde_yaml` keeps no
//! positions for values that parsed fine. Every other module talks in [`FieldPath`] and
//! [`Diagnostic`] and never sees a YAML type.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::diag::{Diagnostic, FieldPath, Pos, Segment};

type Value = serde_yaml::Value;

/// A parsed YAML document that remembers where every key and sequence item was written.
pub struct Document {
    file: PathBuf,
    root: Value,
    marks: HashMap<String, Pos>,
}

impl Document {
    /// Parses `text`, read from `file`. A syntax error comes back as one diagnostic with its
    /// position.
    pub fn parse(file: &Path, text: &str) -> Result<Self, Diagnostic> {
        let root: Value = serde_yaml::from_str(text).map_err(|e| {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            let message = e.to_string();
            // serde_yaml appends " at line L column C"; the position is printed in front already.
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            Diagnostic::new(file, Pos { line, col }, FieldPath::root(), format!("YAML syntax: {message}"))
                .hint("fix the YAML syntax; indentation must use spaces and be consistent")
        })?;
        let mut marks = MarkIndex::default();
        // The text parsed above, so this parse succeeds too; positions are best effort anyway.
        let _ = Parser::new_from_str(text).load(&mut marks, false);
        Ok(Self { file: file.to_path_buf(), root, marks: marks.marks })
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Where `path` was written: the key of a mapping entry, the start of a sequence item, or the
    /// nearest enclosing thing that exists (for a missing field, the mapping that lacks it).
    pub fn pos(&self, path: &FieldPath) -> Pos {
        let mut p = path.clone();
        loop {
            if let Some(pos) = self.marks.get(&p.to_string()) {
                return *pos;
            }
            if p.is_root() {
                return Pos { line: 1, col: 1 };
            }
            p = p.parent();
        }
    }

    /// A diagnostic positioned at `path`.
    pub fn diag(&self, path: &FieldPath, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.file, self.pos(path), path.clone(), message)
    }

    fn lookup(&self, path: &FieldPath) -> Option<&Value> {
        let mut v = &self.root;
        for seg in path.segments() {
            v = match seg {
                Segment::Key(k) => v.as_mapping()?.get(k.as_str())?,
                Segment::Index(i) => v.as_sequence()?.get(*i)?,
            };
        }
        Some(v)
    }

    /// True when `path` names something present and not null.
    pub fn has(&self, path: &FieldPath) -> bool {
        self.lookup(path).is_some_and(|v| !v.is_null())
    }

    /// The keys of the mapping at `path`, in file order; a diagnostic when it is not a mapping.
    pub fn keys(&self, path: &FieldPath) -> Result<Vec<String>, Diagnostic> {
        match self.lookup(path) {
            Some(Value::Mapping(m)) => m
                .keys()
                .map(|k| match k {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.diag(path, format!("keys must be text, found {}", describe(other))).hint("write keys as plain words")),
                })
                .collect(),
            Some(Value::Null) | None if path.is_root() => {
                Err(self.diag(path, "the file is empty").hint("start from `lab init`, which writes a commented lab file"))
            }
            Some(other) => Err(self
                .diag(path, format!("expected a mapping of `key: value` lines, found {}", describe(other)))
                .hint("write `key: value` lines, indented under this one")),
            None => Ok(Vec::new()),
        }
    }

    /// The number of items of the sequence at `path`; a diagnostic when it is something else.
    pub fn seq_len(&self, path: &FieldPath) -> Result<usize, Diagnostic> {
        match self.lookup(path) {
            Some(Value::Sequence(s)) => Ok(s.len()),
            Some(other) => Err(self
                .diag(path, format!("expected a list (lines starting with `- `), found {}", describe(other)))
                .hint("write one `- ` item per line, indented under this one")),
            None => Ok(0),
        }
    }

    /// Deserializes the value at `path` into `T`. `Ok(None)` when absent or null. Errors name the
    /// exact field inside the value (for example `nodes[1].cpus`) and where it stands.
    pub fn get<T: DeserializeOwned>(&self, path: &FieldPath) -> Result<Option<T>, Diagnostic> {
        let Some(value) = self.lookup(path) else { return Ok(None) };
        if value.is_null() {
            return Ok(None);
        }
        serde_path_to_error::deserialize(value).map(Some).map_err(|e| {
            let mut at = path.clone();
            for seg in e.path().iter() {
                match seg {
                    serde_path_to_error::Segment::Seq { index } => at = at.index(*index),
                    serde_path_to_error::Segment::Map { key } => at = at.key(key),
                    serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
                }
            }
            // For an unknown key the path already ends with that key.
            self.diag(&at, e.into_inner().to_string())
        })
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text {s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// Records the position of every mapping key and sequence item, keyed by its field path.
#[derive(Default)]
struct MarkIndex {
    stack: Vec<Frame>,
    marks: HashMap<String, Pos>,
    started: bool,
}

enum Frame {
    /// `item`: the mapping is a sequence item, whose position is best given by its first key
    /// (the parser marks a block mapping's start at its first `:`).
    Map {
        path: FieldPath,
        key: Option<String>,
        item: bool,
        first: bool,
    },
    Seq {
        path: FieldPath,
        next: usize,
    },
}

impl MarkIndex {
    /// The path of the node that starts now, or `None` when the node is a mapping key.
    fn place(&mut self, mark: Marker, scalar: Option<&str>) -> Option<FieldPath> {
        let pos = Pos { line: mark.line(), col: mark.col() + 1 }; // yaml-rust2 columns count from 0
        match self.stack.last_mut() {
            None => Some(FieldPath::root()),
            Some(Frame::Seq { path, next }) => {
                let p = path.index(*next);
                *next += 1;
                self.marks.entry(p.to_string()).or_insert(pos);
                Some(p)
            }
            Some(Frame::Map { path, key, item, first }) => match key.take() {
                Some(k) => Some(path.key(&k)),
                None => {
                    let k = scalar.unwrap_or("?").to_string();
                    self.marks.entry(path.key(&k).to_string()).or_insert(pos);
                    if *item && *first {
                        self.marks.insert(path.to_string(), pos);
                    }
                    *first = false;
                    *key = Some(k);
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for MarkIndex {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::DocumentStart => {
                if self.started {
                    // Only the first document counts; serde_yaml refuses more than one anyway.
                    self.stack.push(Frame::Seq { path: FieldPath::root().key("<ignored>"), next: 0 });
                }
                self.started = true;
            }
            Event::Scalar(s, ..) => {
                let is_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                if is_key {
                    self.place(mark, Some(&s));
                } else {
                    self.place(mark, None);
                }
            }
            Event::Alias(_) => {
                self.place(mark, None);
            }
            Event::MappingStart(..) => {
                let item = matches!(self.stack.last(), Some(Frame::Seq { .. }));
                let path = self.place(mark, None).unwrap_or_else(|| FieldPath::root().key("<complex key>"));
                self.stack.push(Frame::Map { path, key: None, item, first: true });
            }
            Event::SequenceStart(..) => {
                let path = self.place(mark, None).unwrap_or_else(|| FieldPath::root().key("<complex key>"));
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document::parse(Path::new("t.yaml"), text).expect("parses")
    }

    #[test]
    fn positions_of_keys_and_items() {
        let d = doc("name: x\nnodes:\n  - name: a\n    ip: 1.2.3.4\n  - name: b\n");
        let p = FieldPath::root().key("nodes").index(1).key("name");
        assert_eq!(d.pos(&p), Pos { line: 5, col: 5 });
        let ip = FieldPath::root().key("nodes").index(0).key("ip");
        assert_eq!(d.pos(&ip), Pos { line: 4, col: 5 });
        assert_eq!(d.pos(&FieldPath::root().key("name")), Pos { line: 1, col: 1 });
        // A missing field points at the nearest thing that exists.
        let missing = FieldPath::root().key("nodes").index(1).key("ip");
        assert_eq!(d.pos(&missing), Pos { line: 5, col: 5 });
    }

    #[test]
    fn syntax_error_has_position() {
        let e = Document::parse(Path::new("t.yaml"), "a: 1\nb: [1, 2\n").err().expect("fails");
        assert!(e.pos.line >= 2, "{e}");
        assert!(e.message.starts_with("YAML syntax"), "{e}");
    }

    #[test]
    fn type_error_names_inner_field() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct N {
            cpus: u32,
        }
        let d = doc("nodes:\n  - cpus: two\n");
        let e = d.get::<N>(&FieldPath::root().key("nodes").index(0)).expect_err("fails");
        assert_eq!(e.path.to_string(), "nodes[0].cpus");
        assert_eq!(e.pos.line, 2);
        let d = doc("nodes:\n  - cpus: 1\n    cpu: 2\n");
        let e = d.get::<N>(&FieldPath::root().key("nodes").index(0)).expect_err("fails");
        assert_eq!(e.path.to_string(), "nodes[0].cpu");
        assert_eq!(e.pos.line, 3);
    }
}
