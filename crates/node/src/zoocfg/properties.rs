//! The file format of zoo.cfg: `java.util.Properties` text, which ZooKeeper loads with
//! `Properties.load` (comments, `=`/`:`/blank separators, backslash escapes, continuation
//! lines). Only the syntax: what the keys mean is `super`'s job.

/// One `key=value` entry, with the line it started on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) line: usize,
    pub(crate) key: String,
    pub(crate) value: String,
}

/// Splits `text` into entries in file order (a key given twice appears twice; the caller
/// decides, as `Properties` keeps the last).
///
/// Keys and values are trimmed, as ZooKeeper trims both before looking at them.
pub(crate) fn entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, raw)) = lines.next() {
        let first = raw.trim_start();
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // A line ending in an odd number of backslashes continues on the next one, whose
        // leading blanks are dropped (Properties' rule; comments never continue).
        let mut logical = String::from(first);
        while ends_in_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        out.push(Entry {
            line: index + 1,
            key: unescape(key).trim().to_string(),
            value: unescape(value).trim().to_string(),
        });
    }
    out
}

fn ends_in_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// The key ends at the first unescaped `=`, `:` or blank; one `=` or `:` after blanks
/// still belongs to the separator.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\x0c' {
            end = i;
            break;
        }
    }
    let key = &line[..end];
    let mut rest = line[end..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

/// `\t`, `\n`, `\r`, `\f`, `\uXXXX`; any other escaped character stands for itself (so a
/// Windows path needs doubled backslashes, as with ZooKeeper).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) if hex.len() == 4 => {
                        out.push(ch);
                        for _ in 0..4 {
                            chars.next();
                        }
                    }
                    // Java throws on a malformed \u; keep the text so the value is refused
                    // by its key's own check with the text the operator wrote.
                    _ => out.push_str("\\u"),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(usize, String, String)> {
        entries(text)
            .into_iter()
            .map(|e| (e.line, e.key, e.value))
            .collect()
    }

    #[test]
    fn separators_comments_and_blank_lines() {
        let text = "# comment\n! also\n\n tickTime=2000\ninitLimit : 10\nsyncLimit 5\nempty=\n";
        assert_eq!(
            kv(text),
            vec![
                (4, "tickTime".into(), "2000".into()),
                (5, "initLimit".into(), "10".into()),
                (6, "syncLimit".into(), "5".into()),
                (7, "empty".into(), String::new()),
            ]
        );
    }

    /// The first `=` ends the key, so `server.N` values keep their colons.
    #[test]
    fn server_lines_keep_their_colons() {
        assert_eq!(
            kv("server.1=127.0.0.1:2888:3888;2181"),
            vec![(1, "server.1".into(), "127.0.0.1:2888:3888;2181".into())]
        );
    }

    #[test]
    fn continuation_and_escapes() {
        let text =
            "4lw.commands.whitelist=ruok,\\\n    srvr\ndataDir=C\\:\\\\zk\\u0041\nx=a\\\\\ny=2\n";
        assert_eq!(
            kv(text),
            vec![
                (1, "4lw.commands.whitelist".into(), "ruok,srvr".into()),
                (3, "dataDir".into(), "C:\\zkA".into()),
                (4, "x".into(), "a\\".into()),
                (5, "y".into(), "2".into()),
            ]
        );
    }

    #[test]
    fn crlf_and_trailing_blanks() {
        assert_eq!(
            kv("clientPort=2181  \r\ndataDir=/d\r\n"),
            vec![
                (1, "clientPort".into(), "2181".into()),
                (2, "dataDir".into(), "/d".into()),
            ]
        );
    }
}
