//! Colour for people's terminals: on only when asked (`--color always`) or when stderr is a
//! terminal and `NO_COLOR` is not set.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Red,
    Green,
    Cyan,
    Dim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    pub on: bool,
}

impl Paint {
    pub fn paint(self, c: Color, text: &str) -> String {
        if !self.on {
            return text.to_string();
        }
        let code = match c {
            Color::Red => "31",
            Color::Green => "32",
            Color::Cyan => "36",
            Color::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_escapes_when_off() {
        assert_eq!(Paint { on: false }.paint(Color::Red, "FAIL"), "FAIL");
        assert_eq!(Paint { on: true }.paint(Color::Green, "ok"), "\x1b[32mok\x1b[0m");
    }
}
