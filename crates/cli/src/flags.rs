//! Single-letter flags as zkCli's (commons-cli POSIX) parser takes them: anywhere among the
//! arguments, bundled (`-es`), a value flag's value next or attached (`-v 3`, `-v3`); `--`
//! ends the flags so data may start with `-`.

/// The flags and plain arguments of one command line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Flags {
    switches: Vec<char>,
    values: Vec<(char, String)>,
    /// The arguments that are not flags, in order.
    pub args: Vec<String>,
}

impl Flags {
    /// Splits `words` (the command name excluded): `switches` are the letters that take no
    /// value, `valued` those that take one. Unknown letters and missing values are errors.
    pub fn parse(words: &[String], switches: &str, valued: &str) -> Result<Flags, String> {
        let mut out = Flags::default();
        let mut words = words.iter();
        while let Some(w) = words.next() {
            if w == "--" {
                out.args.extend(words.by_ref().cloned());
                break;
            }
            let Some(letters) = w.strip_prefix('-').filter(|l| !l.is_empty()) else {
                out.args.push(w.clone());
                continue;
            };
            for (i, c) in letters.char_indices() {
                if switches.contains(c) {
                    out.switches.push(c);
                    continue;
                }
                if !valued.contains(c) {
                    // "-1" or "-é" is more likely data than a mistyped flag: say how to pass it.
                    return Err(if c.is_ascii_alphabetic() {
                        format!("unknown flag -{c}")
                    } else {
                        format!("unknown flag {w:?} (put -- before an argument starting with -)")
                    });
                }
                let rest = &letters[i + c.len_utf8()..];
                let value = if rest.is_empty() {
                    words
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("flag -{c} needs a value"))?
                } else {
                    rest.to_string()
                };
                out.values.push((c, value));
                break;
            }
        }
        Ok(out)
    }

    /// Whether switch `c` was given.
    pub fn has(&self, c: char) -> bool {
        self.switches.contains(&c)
    }

    /// The value of flag `c` (the last one if repeated).
    pub fn value(&self, c: char) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn switches_anywhere_and_bundled() {
        let f = Flags::parse(&words("-s /a -w"), "swR", "").expect("parses");
        assert!(f.has('s') && f.has('w') && !f.has('R'));
        assert_eq!(f.args, ["/a"]);
        let f = Flags::parse(&words("-es /q"), "esc", "t").expect("parses");
        assert!(f.has('e') && f.has('s'));
    }

    #[test]
    fn values_next_or_attached() {
        let f = Flags::parse(&words("-v 3 /a x"), "s", "v").expect("parses");
        assert_eq!(f.value('v'), Some("3"));
        assert_eq!(f.args, ["/a", "x"]);
        let f = Flags::parse(&words("-sv7 /a"), "s", "v").expect("parses");
        assert!(f.has('s'));
        assert_eq!(f.value('v'), Some("7"));
    }

    #[test]
    fn double_dash_ends_flags() {
        let f = Flags::parse(&words("/a -- -1"), "s", "v").expect("parses");
        assert_eq!(f.args, ["/a", "-1"]);
        let f = Flags::parse(&words("/a -"), "s", "v").expect("a lone dash is an argument");
        assert_eq!(f.args, ["/a", "-"]);
    }

    #[test]
    fn unknown_flags_and_missing_values_are_errors() {
        assert_eq!(
            Flags::parse(&words("-x /a"), "s", "v"),
            Err("unknown flag -x".into())
        );
        assert!(Flags::parse(&words("/a -1"), "s", "v")
            .unwrap_err()
            .contains("put --"));
        assert_eq!(
            Flags::parse(&words("/a -v"), "s", "v"),
            Err("flag -v needs a value".into())
        );
    }
}
