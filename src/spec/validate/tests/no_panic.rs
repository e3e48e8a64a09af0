//! The property test: no input makes validation panic.

use super::*;

/// A small deterministic generator for the property test below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
}

const TOKENS: &[&str] = &[
    "name",
    "provider",
    "nodes",
    "workers",
    "java",
    "spark",
    "network",
    "cidr",
    "host",
    "start",
    "version",
    "url",
    "sha512",
    "sha256",
    "install",
    "tarball",
    "package",
    "x86_64",
    "aarch64",
    "role",
    "master",
    "worker",
    "ip",
    "cpus",
    "memory",
    "disk",
    "worker_memory",
    "worker_cores",
    "locale",
    "timezone",
    "keyboard",
    "lang",
    "image",
    "iso",
    "existing",
    "sandbox",
    "verify",
    "timeout",
    ":",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "\n    ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\"",
    "'",
    "#",
    "&a",
    "*a",
    "!!str",
    "~",
    "null",
    "true",
    "-1",
    "0",
    "4294967296",
    "1e309",
    "3.5.8",
    "4.3.0",
    "1é",
    "é",
    "𝔘",
    "\u{0}",
    "192.168.56.0/24",
    "192.168.56.10",
    "10.0.0.0/8",
    "255.255.255.255",
    "1g",
    "512m",
    "https://x/spark-3.5.8-bin-hadoop3.tgz",
    "file:///x",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

/// No input may panic: random YAML made of the lab file's own words, and mutations of every
/// shipped lab file, each parsed under both host architectures; every one must come back as a
/// lab or as diagnostics.
#[test]
fn no_input_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let facts = [HostFacts::default(), HostFacts { arch: crate::spec::Arch::Aarch64, linux: false, ..HostFacts::default() }];
    let shipped = [
        include_str!("../../../../labs/spark.yaml"),
        include_str!("../../../../labs/spark-3.5.yaml"),
        include_str!("../../../../labs/course-2018.yaml"),
        include_str!("../../../../labs/sandbox.yaml"),
        BASE,
    ];
    let mut tried = 0;
    for i in 0..6000 {
        let text = if i % 3 == 0 {
            (0..rng.below(60)).map(|_| TOKENS[rng.below(TOKENS.len())]).collect::<String>()
        } else {
            let mut t: Vec<char> = shipped[rng.below(shipped.len())].chars().collect();
            for _ in 0..=rng.below(4) {
                let at = rng.below(t.len());
                match rng.below(4) {
                    0 => {
                        let end = (at + rng.below(40)).min(t.len());
                        t.drain(at..end);
                    }
                    1 => {
                        let tok: Vec<char> = TOKENS[rng.below(TOKENS.len())].chars().collect();
                        t.splice(at..at, tok);
                    }
                    2 => {
                        let end = (at + rng.below(80)).min(t.len());
                        let copy: Vec<char> = t[at..end].to_vec();
                        let to = rng.below(t.len());
                        t.splice(to..to, copy);
                    }
                    _ => {
                        if at < t.len() {
                            t[at] = TOKENS[rng.below(TOKENS.len())].chars().next().unwrap_or('x');
                        }
                    }
                }
            }
            t.into_iter().collect()
        };
        for f in &facts {
            let _ = parse(Path::new("lab.yaml"), &text, f);
            tried += 1;
        }
    }
    assert_eq!(tried, 12000);
}
