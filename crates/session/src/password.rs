//! Session passwords: HMAC-SHA256 of the session id under a cluster secret (S3.2).
//!
//! Any node can check a reconnecting client's password without asking the node that created
//! the session, because every node holds the same secret (committed through Raft).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::id::SessionId;

/// Bytes of a session password: the reference's length, so every client stores it unchanged.
pub const PASSWORD_LEN: usize = 16;
/// Bytes of a cluster secret: the SHA-256 output size, the most an HMAC-SHA256 key benefits from.
pub const SECRET_LEN: usize = 32;

/// Why an operator-supplied secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Hex text of the wrong length.
    #[error("cluster secret must be {digits} hex digits ({SECRET_LEN} bytes), got {0} digits", digits = SECRET_LEN * 2)]
    HexLength(usize),
    /// A character that is not a hex digit (position counts characters after trimming).
    #[error("cluster secret has a non-hex character {ch:?} at position {position}")]
    HexDigit {
        /// 0-based character position in the trimmed text.
        position: usize,
        /// The offending character.
        ch: char,
    },
    /// Raw bytes of the wrong length.
    #[error("cluster secret must be {SECRET_LEN} bytes, got {0}")]
    ByteLength(usize),
    /// All zero bytes: almost surely a placeholder left in a config file, not a secret.
    #[error("cluster secret is all zero bytes; supply a random one (e.g. `openssl rand -hex 32`)")]
    AllZero,
}

/// The 32-byte key every node uses to derive and check session passwords; Debug never shows it.
#[derive(Clone, Serialize, Deserialize)]
pub struct ClusterSecret([u8; SECRET_LEN]);

impl ClusterSecret {
    /// Wraps bytes generated at cluster bootstrap (the caller owns the randomness).
    pub const fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        ClusterSecret(bytes)
    }

    /// Wraps bytes of unchecked length, e.g. read from a replicated command.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SecretError> {
        let arr: [u8; SECRET_LEN] = bytes
            .try_into()
            .map_err(|_| SecretError::ByteLength(bytes.len()))?;
        Ok(ClusterSecret(arr))
    }

    /// Parses an operator-supplied secret: 64 hex digits, surrounding whitespace ignored
    /// (so a file with a trailing newline works), an all-zero value refused.
    pub fn from_hex(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let digits = text.chars().count();
        if digits != SECRET_LEN * 2 {
            return Err(SecretError::HexLength(digits));
        }
        let mut out = [0u8; SECRET_LEN];
        for (position, ch) in text.chars().enumerate() {
            let nibble = ch
                .to_digit(16)
                .ok_or(SecretError::HexDigit { position, ch })? as u8;
            out[position / 2] |= if position % 2 == 0 {
                nibble << 4
            } else {
                nibble
            };
        }
        if out.iter().all(|&b| b == 0) {
            return Err(SecretError::AllZero);
        }
        Ok(ClusterSecret(out))
    }

    /// The raw key, for replicating it; never log this.
    pub const fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// A short non-secret tag (first 4 bytes of SHA-256 of the key, hex) so operators can
    /// check that every node holds the same secret without printing it.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.0);
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The password of session `id` under this secret.
    pub fn password(&self, id: SessionId) -> [u8; PASSWORD_LEN] {
        let full = hmac_sha256(&self.0, &id.to_be_bytes());
        let mut out = [0u8; PASSWORD_LEN];
        out.copy_from_slice(&full[..PASSWORD_LEN]);
        out
    }

    /// Whether `candidate` is session `id`'s password under this secret.
    ///
    /// The length is public (always 16 on the wire), so a wrong length is refused at once; the
    /// bytes are compared in constant time so a client cannot learn a prefix by timing.
    pub fn verify(&self, id: SessionId, candidate: &[u8]) -> bool {
        candidate.len() == PASSWORD_LEN && bool::from(self.password(id).ct_eq(candidate))
    }
}

/// Constant-time equality, so comparing secrets never leaks where they differ.
impl PartialEq for ClusterSecret {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}
impl Eq for ClusterSecret {}

/// Shows only the fingerprint: secrets end up in logs through Debug more than any other way.
impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterSecret")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

/// HMAC-SHA256(key, msg); kept separate so the known-answer tests prove the primitive itself.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length (long ones are hashed), so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// The secrets a node accepts: the current one, plus the previous one for a grace window
/// after a rotation so that clients holding old passwords can still resume.
///
/// Node-local, not replicated: the window is in this node's [`crate::Clock`] time, which means
/// nothing on another node. The replicated state records the rotation; each node builds its
/// window when it applies it.
#[derive(Debug, Clone)]
pub struct Secrets {
    current: ClusterSecret,
    previous: Option<(ClusterSecret, u64)>,
}

impl Secrets {
    /// Only `current` is accepted.
    pub fn new(current: ClusterSecret) -> Self {
        Secrets {
            current,
            previous: None,
        }
    }

    /// The secret new passwords are derived from.
    pub fn current(&self) -> &ClusterSecret {
        &self.current
    }

    /// The previous secret and the clock time (ms) from which it is no longer accepted.
    pub fn previous(&self) -> Option<(&ClusterSecret, u64)> {
        self.previous.as_ref().map(|(s, until)| (s, *until))
    }

    /// Makes `new` current; the old current stays valid until `now_ms + window_ms`
    /// (callers pass the max session timeout: by then every session that could only prove
    /// itself with the old secret has either reconnected or expired). A still-open older
    /// window is dropped: only one previous secret is kept.
    pub fn rotate(&mut self, new: ClusterSecret, now_ms: u64, window_ms: u64) {
        let old = std::mem::replace(&mut self.current, new);
        self.previous = Some((old, now_ms.saturating_add(window_ms)));
    }

    /// The password to hand out for `id` (always from the current secret).
    pub fn password(&self, id: SessionId) -> [u8; PASSWORD_LEN] {
        self.current.password(id)
    }

    /// Whether `candidate` is `id`'s password under the current secret, or under the previous
    /// one while `now_ms` is before its end of validity.
    pub fn verify(&self, id: SessionId, candidate: &[u8], now_ms: u64) -> bool {
        // Evaluate both without short-circuit so timing does not reveal which secret matched.
        let current = self.current.verify(id, candidate);
        let previous = match &self.previous {
            Some((old, until)) => old.verify(id, candidate) & (now_ms < *until),
            None => false,
        };
        current | previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn id(raw: i64) -> SessionId {
        SessionId::from_raw(raw).unwrap()
    }

    fn secret(byte: u8) -> ClusterSecret {
        ClusterSecret::from_bytes([byte; SECRET_LEN])
    }

    #[test]
    fn rfc4231_known_answers() {
        // S3.2: the primitive is real HMAC-SHA256. RFC 4231 test cases 1, 2 and 5.
        assert_eq!(
            hmac_sha256(&[0x0b; 20], b"Hi There").to_vec(),
            unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        );
        assert_eq!(
            hmac_sha256(b"Jefe", b"what do ya want for nothing?").to_vec(),
            unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        // Case 5 is the 128-bit truncation: exactly our password shape.
        assert_eq!(
            hmac_sha256(&[0x0c; 20], b"Test With Truncation")[..16].to_vec(),
            unhex("a3b6167473100ee06e0c796c2955552b")
        );
    }

    #[test]
    fn password_is_truncated_hmac_of_big_endian_id() {
        // S3.1 / S3.2: 16 bytes, HMAC-SHA256(secret, id as 8 BE bytes)[..16].
        let s = secret(7);
        let full = hmac_sha256(s.as_bytes(), &0x0102_0304_0506_0708_i64.to_be_bytes());
        assert_eq!(s.password(id(0x0102_0304_0506_0708)), full[..16]);
    }

    #[test]
    fn verify_accepts_own_password_on_any_node() {
        // S3.2: another node with the same secret verifies without asking the creator.
        let creator = secret(1);
        let other_node = ClusterSecret::from_slice(&[1; SECRET_LEN]).unwrap();
        let pw = creator.password(id(42));
        assert!(other_node.verify(id(42), &pw));
    }

    #[test]
    fn wrong_password_rejected() {
        // S3.3: a wrong password does not resume the session.
        let s = secret(1);
        let mut pw = s.password(id(42));
        pw[15] ^= 1;
        assert!(!s.verify(id(42), &pw));
        assert!(!s.verify(id(42), &[0; 16]));
        // A different secret (another cluster) produces different passwords.
        assert!(!secret(2).verify(id(42), &s.password(id(42))));
    }

    #[test]
    fn forged_id_rejected() {
        // S3.3: a valid password for one session does not open another.
        let s = secret(1);
        let pw = s.password(id(42));
        assert!(!s.verify(id(43), &pw));
        assert!(!s.verify(id(-42), &pw));
    }

    #[test]
    fn truncated_or_long_password_rejected() {
        // S3.2: exactly 16 bytes; a prefix or the full 32-byte HMAC must not pass.
        let s = secret(1);
        let pw = s.password(id(42));
        assert!(!s.verify(id(42), &pw[..15]));
        assert!(!s.verify(id(42), &pw[..8]));
        assert!(!s.verify(id(42), &[]));
        let full = hmac_sha256(s.as_bytes(), &id(42).to_be_bytes());
        assert!(!s.verify(id(42), &full));
        let mut long = pw.to_vec();
        long.push(0);
        assert!(!s.verify(id(42), &long));
    }

    #[test]
    fn rotation_window() {
        // Design: rotation keeps the previous secret valid for one max timeout.
        let (old, new) = (secret(1), secret(2));
        let old_pw = old.password(id(9));
        let mut secrets = Secrets::new(old);
        assert!(secrets.verify(id(9), &old_pw, 0));

        secrets.rotate(new.clone(), 1_000, 40_000);
        let new_pw = secrets.password(id(9));
        assert_eq!(new_pw, new.password(id(9)));
        assert_ne!(new_pw, old_pw);
        assert!(secrets.verify(id(9), &new_pw, 1_000));
        assert!(secrets.verify(id(9), &old_pw, 1_000));
        assert!(secrets.verify(id(9), &old_pw, 40_999));
        assert!(!secrets.verify(id(9), &old_pw, 41_000), "window is over");
        assert!(secrets.verify(id(9), &new_pw, 1_000_000));
        assert!(
            !secrets.verify(id(10), &old_pw, 2_000),
            "forged id in window"
        );

        // A second rotation forgets the first secret at once.
        secrets.rotate(secret(3), 2_000, 40_000);
        assert!(!secrets.verify(id(9), &old_pw, 2_000));
        assert!(secrets.verify(id(9), &new_pw, 2_000));
    }

    #[test]
    fn hex_parsing() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let s = ClusterSecret::from_hex(&format!("  {hex}\n")).unwrap();
        assert_eq!(s.as_bytes()[..3], [0x00, 0x11, 0x22]);
        assert_eq!(s.as_bytes()[31], 0xff);
        assert_eq!(
            ClusterSecret::from_hex("abcd"),
            Err(SecretError::HexLength(4))
        );
        let mut bad = hex.to_string();
        bad.replace_range(5..6, "g");
        assert_eq!(
            ClusterSecret::from_hex(&bad),
            Err(SecretError::HexDigit {
                position: 5,
                ch: 'g'
            })
        );
        // Multi-byte characters are counted as characters and never panic on slicing.
        let weird = "é".repeat(64);
        assert!(matches!(
            ClusterSecret::from_hex(&weird),
            Err(SecretError::HexDigit { position: 0, .. })
        ));
        assert_eq!(
            ClusterSecret::from_hex(&"0".repeat(64)),
            Err(SecretError::AllZero)
        );
        assert_eq!(
            ClusterSecret::from_slice(&[1; 31]),
            Err(SecretError::ByteLength(31))
        );
        let msg = ClusterSecret::from_hex("abcd").unwrap_err().to_string();
        assert!(msg.contains("64 hex digits"), "{msg}");
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let s = secret(0xab);
        let shown = format!("{s:?} {:?}", Secrets::new(s.clone()));
        assert!(!shown.contains("ab, ab"), "{shown}");
        assert!(!shown.to_lowercase().contains(&"ab".repeat(8)), "{shown}");
        assert!(!shown.contains("171,"), "{shown}");
        assert!(shown.contains(&s.fingerprint()));
        assert_eq!(s.fingerprint().len(), 8);
    }
}
