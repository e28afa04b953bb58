//! The words themselves and the `--4lw` allow-list.

use std::fmt;
use std::str::FromStr;

/// A four-letter word ZooKeeper 3.8 recognises on the client port.
///
/// `Gtmk`, `Stmk` and `Hash` are recognised but never executed by zk-node (trace masks and
/// the digest log have no counterpart here): they get the "not in the whitelist" reply,
/// which is what ZooKeeper sends for a known word it will not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Word {
    /// `ruok`: liveness, answers `imok`.
    Ruok,
    /// `srvr`: version, latency, counters, zxid, mode, node count.
    Srvr,
    /// `stat`: `srvr` plus one line per client connection.
    Stat,
    /// `mntr`: tab-separated `zk_*` metrics.
    Mntr,
    /// `conf`: the serving configuration.
    Conf,
    /// `envi`: the process environment.
    Envi,
    /// `cons`: full per-connection statistics.
    Cons,
    /// `wchs`: watch summary.
    Wchs,
    /// `wchc`: data watches by session.
    Wchc,
    /// `wchp`: data watches by path.
    Wchp,
    /// `dirs`: bytes held by the snapshot and log directories.
    Dirs,
    /// `dump`: sessions with their expiry and ephemeral nodes.
    Dump,
    /// `isro`: `rw` (zk-node has no read-only mode).
    Isro,
    /// `crst`: the server resets per-connection statistics, then this prints a confirmation.
    Crst,
    /// `srst`: the server resets server statistics, then this prints a confirmation.
    Srst,
    /// `gtmk`: recognised, never executed.
    Gtmk,
    /// `stmk`: recognised, never executed.
    Stmk,
    /// `hash`: recognised, never executed.
    Hash,
}

impl Word {
    /// Every word zk-node executes, in the order ZooKeeper's documentation lists them.
    pub const SERVED: [Word; 15] = [
        Word::Conf,
        Word::Cons,
        Word::Crst,
        Word::Dirs,
        Word::Dump,
        Word::Envi,
        Word::Ruok,
        Word::Srst,
        Word::Srvr,
        Word::Stat,
        Word::Wchs,
        Word::Wchc,
        Word::Wchp,
        Word::Mntr,
        Word::Isro,
    ];

    /// Every word [`Word::parse`] recognises.
    pub const KNOWN: [Word; 18] = [
        Word::Conf,
        Word::Cons,
        Word::Crst,
        Word::Dirs,
        Word::Dump,
        Word::Envi,
        Word::Gtmk,
        Word::Ruok,
        Word::Stmk,
        Word::Srst,
        Word::Srvr,
        Word::Stat,
        Word::Wchc,
        Word::Wchp,
        Word::Wchs,
        Word::Mntr,
        Word::Isro,
        Word::Hash,
    ];

    /// Recognises the first four bytes of a connection as a word; `None` means they are a
    /// frame length.
    ///
    /// Exact lower-case match, as ZooKeeper compares the bytes as an int. Telnet's close
    /// sequence (`ff f4 ff fd`), which ZooKeeper also knows, is left out: as a length it is
    /// negative, so the caller closes the connection either way.
    pub fn parse(first4: [u8; 4]) -> Option<Word> {
        Word::KNOWN
            .into_iter()
            .find(|w| w.as_str().as_bytes() == first4)
    }

    /// The word as sent on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Word::Ruok => "ruok",
            Word::Srvr => "srvr",
            Word::Stat => "stat",
            Word::Mntr => "mntr",
            Word::Conf => "conf",
            Word::Envi => "envi",
            Word::Cons => "cons",
            Word::Wchs => "wchs",
            Word::Wchc => "wchc",
            Word::Wchp => "wchp",
            Word::Dirs => "dirs",
            Word::Dump => "dump",
            Word::Isro => "isro",
            Word::Crst => "crst",
            Word::Srst => "srst",
            Word::Gtmk => "gtmk",
            Word::Stmk => "stmk",
            Word::Hash => "hash",
        }
    }

    /// Whether zk-node ever executes this word (false for `gtmk`, `stmk`, `hash`).
    pub const fn is_served(self) -> bool {
        !matches!(self, Word::Gtmk | Word::Stmk | Word::Hash)
    }

    /// Which of [`crate::fourlw::ServerStats`]'s costly listings this word reads, so the
    /// server can leave the others empty.
    pub const fn needs(self) -> Needs {
        Needs {
            connections: matches!(self, Word::Stat | Word::Cons),
            watches: matches!(self, Word::Wchs | Word::Wchc | Word::Wchp),
            sessions: matches!(self, Word::Dump),
        }
    }

    const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The listings of [`crate::fourlw::ServerStats`] a word reads (see [`Word::needs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// `connections` (stat, cons).
    pub connections: bool,
    /// `watches` (wchs, wchc, wchp).
    pub watches: bool,
    /// `sessions` and `ephemerals` (dump).
    pub sessions: bool,
}

/// The words the `--4lw` flag enables (ZooKeeper's `4lw.commands.whitelist`).
///
/// `srvr` is always allowed, as in ZooKeeper, because `zkServer.sh status` and other tools
/// depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    bits: u32,
}

impl AllowList {
    /// Every served word (the `*` setting).
    pub fn all() -> AllowList {
        AllowList {
            bits: Word::SERVED.iter().fold(0, |acc, w| acc | w.bit()),
        }
    }

    /// Only `srvr`, which cannot be turned off (the empty setting).
    pub fn none() -> AllowList {
        AllowList { bits: 0 }
    }

    /// Whether `word` is executed; a disallowed word gets [`crate::fourlw::not_allowed`].
    pub fn allows(&self, word: Word) -> bool {
        word == Word::Srvr || (word.is_served() && self.bits & word.bit() != 0)
    }
}

impl Default for AllowList {
    fn default() -> Self {
        AllowList::all()
    }
}

impl fmt::Display for AllowList {
    /// Prints the setting back in `--4lw` syntax.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == AllowList::all() {
            return f.write_str("*");
        }
        let mut first = true;
        for w in Word::SERVED.iter().filter(|w| self.bits & w.bit() != 0) {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(w.as_str())?;
        }
        Ok(())
    }
}

/// Why a `--4lw` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowListError {
    /// Not a four-letter word ZooKeeper knows.
    #[error("unknown four-letter word `{word}` (known: {known}, or `*` for all)")]
    Unknown {
        /// The entry as given.
        word: String,
        /// The words that are accepted.
        known: String,
    },
    /// A word ZooKeeper knows but zk-node never executes.
    #[error("four-letter word `{0}` is not supported by zk-node")]
    Unsupported(Word),
}

impl FromStr for AllowList {
    type Err = AllowListError;

    /// Parses comma- and/or whitespace-separated words, or `*` for all; case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bits = 0;
        let mut star = false;
        for token in s.split(|c: char| c == ',' || c.is_whitespace()) {
            if token.is_empty() {
                continue;
            }
            if token == "*" {
                // Keep checking the rest so a typo next to `*` is still reported.
                star = true;
                continue;
            }
            let lower = token.to_ascii_lowercase();
            let word = <[u8; 4]>::try_from(lower.as_bytes())
                .ok()
                .and_then(Word::parse)
                .ok_or_else(|| AllowListError::Unknown {
                    word: token.to_string(),
                    known: served_names(),
                })?;
            if !word.is_served() {
                return Err(AllowListError::Unsupported(word));
            }
            bits |= word.bit();
        }
        if star {
            return Ok(AllowList::all());
        }
        Ok(AllowList { bits })
    }
}

fn served_names() -> String {
    Word::SERVED
        .iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_recognises_known_words_only() {
        assert_eq!(Word::parse(*b"ruok"), Some(Word::Ruok));
        assert_eq!(Word::parse(*b"mntr"), Some(Word::Mntr));
        assert_eq!(Word::parse(*b"stmk"), Some(Word::Stmk));
        assert_eq!(Word::parse(*b"RUOK"), None);
        assert_eq!(Word::parse([0, 0, 0, 45]), None);
        assert_eq!(Word::parse([0xff, 0xf4, 0xff, 0xfd]), None);
        for w in Word::KNOWN {
            let bytes = <[u8; 4]>::try_from(w.as_str().as_bytes()).ok();
            assert_eq!(bytes.and_then(Word::parse), Some(w));
        }
    }

    #[test]
    fn every_known_word_has_a_distinct_bit() {
        let mut seen = 0u32;
        for w in Word::KNOWN {
            assert_eq!(seen & w.bit(), 0, "{w}");
            seen |= w.bit();
        }
    }

    #[test]
    fn allow_list_parses_lists_and_star() -> Result<(), AllowListError> {
        let all: AllowList = "*".parse()?;
        assert_eq!(all, AllowList::all());
        assert_eq!(AllowList::default(), all);
        assert!(Word::SERVED.iter().all(|w| all.allows(*w)));
        assert!(!all.allows(Word::Stmk));
        assert!(!all.allows(Word::Hash));

        let some: AllowList = "ruok, stat mntr,,CONF".parse()?;
        assert!(some.allows(Word::Ruok));
        assert!(some.allows(Word::Stat));
        assert!(some.allows(Word::Mntr));
        assert!(some.allows(Word::Conf));
        assert!(!some.allows(Word::Cons));
        assert!(!some.allows(Word::Isro));
        assert_eq!(some.to_string(), "conf,ruok,stat,mntr");
        assert_eq!(all.to_string(), "*");

        assert_eq!("ruok,*".parse::<AllowList>()?, AllowList::all());
        Ok(())
    }

    #[test]
    fn srvr_is_always_allowed() -> Result<(), AllowListError> {
        let empty: AllowList = "".parse()?;
        assert_eq!(empty, AllowList::none());
        assert!(empty.allows(Word::Srvr));
        assert!(!empty.allows(Word::Ruok));
        assert_eq!(empty.to_string(), "");
        Ok(())
    }

    #[test]
    fn allow_list_errors_name_the_word() {
        let err = "ruok,rouk".parse::<AllowList>().err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("`rouk`"), "{msg}");
        assert!(msg.contains("mntr"), "{msg}");

        let err = "*,statistics".parse::<AllowList>().err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("`statistics`"), "{msg}");

        let err = "stmk".parse::<AllowList>().err();
        assert_eq!(err, Some(AllowListError::Unsupported(Word::Stmk)));
    }

    #[test]
    fn needs_match_the_listings_read() {
        assert!(Word::Stat.needs().connections);
        assert!(!Word::Srvr.needs().connections);
        assert!(Word::Wchp.needs().watches);
        assert!(Word::Dump.needs().sessions);
        assert_eq!(Word::Mntr.needs(), Needs::default());
    }
}
