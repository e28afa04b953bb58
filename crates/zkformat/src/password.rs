//! The password Apache ZooKeeper gives a session: `ZooKeeperServer.generatePasswd`, that is
//! `new java.util.Random(sessionId ^ 0xB3415C00L).nextBytes(16)`. A server that knows only the
//! session id can check it, which is what lets a session move from ZooKeeper to zk-node.

/// `ZooKeeperServer.superSecret`.
const SUPER_SECRET: i64 = 0xB341_5C00;

/// `java.util.Random`'s linear congruential generator (its spec: Knuth's 48-bit LCG).
pub struct JavaRandom {
    seed: u64,
}

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const ADDEND: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

impl JavaRandom {
    /// `new Random(seed)`: only the low 48 bits of the seed count.
    pub fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed as u64 ^ MULTIPLIER) & MASK,
        }
    }

    /// `next(bits)`.
    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        (self.seed >> (48 - bits)) as i64 as i32
    }

    /// `nextInt()`.
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextBytes(bytes)`: each int fills four bytes, lowest byte first.
    pub fn next_bytes(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(4) {
            let mut rnd = self.next_int();
            for b in chunk {
                *b = rnd as u8;
                rnd >>= 8;
            }
        }
    }
}

/// The 16-byte password ZooKeeper generated for `session_id`.
pub fn zookeeper_password(session_id: i64) -> [u8; 16] {
    let mut p = [0u8; 16];
    JavaRandom::new(session_id ^ SUPER_SECRET).next_bytes(&mut p);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Expected values printed by Java 17 (`new Random(...)` as generatePasswd uses it).
    #[test]
    fn matches_java() {
        let mut r = JavaRandom::new(42);
        assert_eq!((r.next_int(), r.next_int()), (-1_170_105_035, 234_785_527));
        for (id, want) in [
            (1_i64, "054cc74a37327db215e702e20c73f005"),
            (0x0100_0000_0000_0001, "054cc74a37327db215e702e20c73f005"),
            (0x0100_0a2b_3c4d_0000, "a92640f4827d6da02f083ac59bfe0500"),
            (-1, "20f62cb5648dc2d771471c8a2486a9ee"),
            (0x72c3_f4a5_0001, "c483de958a88898d6c3a56ca17197f14"),
        ] {
            assert_eq!(hex(&zookeeper_password(id)), want, "session {id:#x}");
        }
    }
}
