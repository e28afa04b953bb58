//! Java's spellings of numbers, dates and socket addresses, which the replies inherit.

use std::net::SocketAddr;

/// A mean latency as ZooKeeper prints it: `BigDecimal(avg).setScale(4, HALF_UP)` printed
/// with `Double.toString`.
pub(crate) fn avg_latency(avg_ms: f64) -> String {
    java_decimal(round_half_up_4(avg_ms), 4)
}

/// The exact binary value of `v` rounded half-up to 4 decimals, as an integer count of
/// 1/10000ths; negative, NaN and infinite values give 0 (ZooKeeper never has them).
fn round_half_up_4(v: f64) -> u128 {
    if !v.is_finite() || v <= 0.0 {
        return 0;
    }
    let bits = v.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    // v = mant * 2^exp exactly.
    let (mant, exp) = if exp_bits == 0 {
        (u128::from(frac), -1074)
    } else {
        (u128::from(frac | (1u64 << 52)), exp_bits - 1075)
    };
    let scaled = mant * 10_000;
    if exp >= 0 {
        return u32::try_from(exp)
            .ok()
            .and_then(|e| scaled.checked_shl(e))
            .filter(|s| s.leading_zeros() as i32 > exp)
            .unwrap_or(u128::MAX);
    }
    let shift = exp.unsigned_abs();
    if shift >= 127 {
        // Below 2^-74: far under half of 1/10000.
        return 0;
    }
    let q = scaled >> shift;
    let rem = scaled & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if rem >= half {
        q + 1
    } else {
        q
    }
}

/// Java's `Double.toString` of the double nearest to `units * 10^-scale`: plain notation
/// with at least one fractional digit in [10^-3, 10^7), computerized scientific otherwise.
fn java_decimal(units: u128, scale: i32) -> String {
    if units == 0 {
        return "0.0".to_string();
    }
    let mut digits = units.to_string();
    let mut exp = -scale;
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
        exp += 1;
    }
    let n = digits.len() as i32;
    let sci = n - 1 + exp;
    if (-3..7).contains(&sci) {
        let point = n + exp;
        if exp >= 0 {
            format!("{digits}{}.0", "0".repeat(exp.unsigned_abs() as usize))
        } else if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else {
            let (int, fraction) = digits.split_at(point.unsigned_abs() as usize);
            format!("{int}.{fraction}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{first}.{rest}E{sci}")
    }
}

/// Java's `Long.toHexString`: lower case, two's complement for negatives.
pub(crate) fn hex(v: i64) -> String {
    format!("{v:x}")
}

/// Java's `InetSocketAddress.toString` for an accepted socket: `/1.2.3.4:5`,
/// `/[0:0:0:0:0:0:0:1]:5`; IPv4-mapped IPv6 prints as IPv4, as Java converts it.
pub(crate) fn socket_addr(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("/{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => {
            if let Some(v4) = a.ip().to_ipv4_mapped() {
                return format!("/{}:{}", v4, a.port());
            }
            let groups: Vec<String> = a.ip().segments().iter().map(|g| format!("{g:x}")).collect();
            let scope = if a.scope_id() != 0 {
                format!("%{}", a.scope_id())
            } else {
                String::new()
            };
            format!("/[{}{}]:{}", groups.join(":"), scope, a.port())
        }
    }
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Java's `Date.toString` in UTC: `Tue Nov 24 20:00:31 UTC 2026`.
pub(crate) fn java_date_utc(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(m - 1) as usize];
    format!(
        "{weekday} {month} {d:02} {:02}:{:02}:{:02} UTC {y}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Proleptic Gregorian (year, month 1-12, day 1-31) of a day count since 1970-01-01
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected strings printed by Java 17 (`System.out.println(double)`) and ZooKeeper.
    #[test]
    fn avg_latency_matches_java() {
        let cases = [
            (0.0, "0.0"),
            (0.0001, "1.0E-4"),
            (0.0009, "9.0E-4"),
            (0.001, "0.001"),
            (0.5, "0.5"),
            (23.0 / 18.0, "1.2778"),
            (36.0 / 7.0, "5.1429"),
            (12345.0, "12345.0"),
            (9_999_999.999_9, "9999999.9999"),
            (10_000_000.0, "1.0E7"),
            (123_456_789.123_4, "1.234567891234E8"),
            (0.00004, "0.0"),
            (0.00005, "1.0E-4"),
            (f64::NAN, "0.0"),
            (-3.0, "0.0"),
        ];
        for (v, want) in cases {
            assert_eq!(avg_latency(v), want, "{v}");
        }
    }

    #[test]
    fn rounding_is_half_up_on_the_exact_value() {
        // 1.03125 is exact in binary: a true tie, rounded up.
        assert_eq!(round_half_up_4(1.03125), 10313);
        // 0.00015 is just below its decimal in binary, so it rounds down.
        assert_eq!(round_half_up_4(0.00015), 1);
        assert_eq!(round_half_up_4(2.0), 20000);
        assert_eq!(round_half_up_4(f64::MAX), u128::MAX);
        assert_eq!(round_half_up_4(f64::MIN_POSITIVE), 0);
    }

    #[test]
    fn hex_is_twos_complement() {
        assert_eq!(hex(0x1_0000_0006), "100000006");
        assert_eq!(hex(-1), "ffffffffffffffff");
        assert_eq!(hex(0), "0");
    }

    /// Expected strings printed by Java 17's `InetSocketAddress.toString`.
    #[test]
    fn socket_addrs_match_java() {
        let cases = [
            ("127.0.0.1:60398", "/127.0.0.1:60398"),
            ("[::1]:5", "/[0:0:0:0:0:0:0:1]:5"),
            ("[fe80::1:2]:5", "/[fe80:0:0:0:0:0:1:2]:5"),
            ("[::ffff:1.2.3.4]:5", "/1.2.3.4:5"),
        ];
        for (addr, want) in cases {
            let parsed: Result<SocketAddr, _> = addr.parse();
            assert_eq!(parsed.map(|a| socket_addr(&a)).ok().as_deref(), Some(want));
        }
    }

    /// Expected strings printed by Java 17's `Date.toString` with TZ=UTC.
    #[test]
    fn dates_match_java() {
        assert_eq!(
            java_date_utc(1_795_550_431_000),
            "Tue Nov 24 20:00:31 UTC 2026"
        );
        assert_eq!(java_date_utc(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date_utc(-1), "Wed Dec 31 23:59:59 UTC 1969");
        assert_eq!(
            java_date_utc(951_782_400_000),
            "Tue Feb 29 00:00:00 UTC 2000"
        );
    }
}
