//! Splitting a shell line into words the way zkCli does: whitespace separates words, and a
//! word that starts with `"` or `'` runs to the matching quote (quotes removed, no escapes),
//! so `set /a "hello world"` sets eleven bytes.

use crate::error::ParseError;

/// The words of `line`; an empty or blank line has none.
pub fn split(line: &str) -> Result<Vec<String>, ParseError> {
    let mut words = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' || c == '\'' {
            chars.next();
            let body_start = start + c.len_utf8();
            let end = loop {
                match chars.next() {
                    Some((i, q)) if q == c => break i,
                    Some(_) => {}
                    None => {
                        return Err(ParseError::Quote(format!(
                            "unterminated {c} quote starting at column {}",
                            start + 1
                        )))
                    }
                }
            };
            // zkCli would silently start a new word here; refusing is clearer than guessing.
            if let Some(&(i, n)) = chars.peek() {
                if !n.is_whitespace() {
                    return Err(ParseError::Quote(format!(
                        "unexpected {n:?} right after the closing quote at column {}",
                        i
                    )));
                }
            }
            words.push(line[body_start..end].to_string());
            continue;
        }
        let mut end = line.len();
        while let Some(&(i, n)) = chars.peek() {
            if n.is_whitespace() {
                end = i;
                break;
            }
            chars.next();
        }
        words.push(line[start..end].to_string());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Vec<String> {
        split(line).expect("splits")
    }

    #[test]
    fn whitespace_separates_words() {
        assert_eq!(ok("  ls   -s\t/a  "), ["ls", "-s", "/a"]);
        assert!(ok("").is_empty());
        assert!(ok("   \t ").is_empty());
    }

    #[test]
    fn quotes_group_words_and_are_removed() {
        assert_eq!(ok(r#"set /a "hello world""#), ["set", "/a", "hello world"]);
        assert_eq!(ok("set /a 'it is \"x\"'"), ["set", "/a", "it is \"x\""]);
        assert_eq!(ok(r#"set /a """#), ["set", "/a", ""]);
        assert_eq!(ok("create /é 'ü ß'"), ["create", "/é", "ü ß"]);
    }

    #[test]
    fn quotes_inside_a_word_are_kept() {
        assert_eq!(ok(r#"set /a b"c"#), ["set", "/a", r#"b"c"#]);
    }

    #[test]
    fn bad_quoting_is_an_error() {
        assert!(matches!(split(r#"set /a "abc"#), Err(ParseError::Quote(_))));
        assert!(matches!(split("set /a 'abc"), Err(ParseError::Quote(_))));
        assert!(matches!(
            split(r#"set /a "ab"cd"#),
            Err(ParseError::Quote(_))
        ));
    }
}
