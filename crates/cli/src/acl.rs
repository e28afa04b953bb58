//! ACL arguments as zkCli reads them: `scheme:id:perms` entries separated by commas, the id
//! being everything between the first and the last colon (so `digest:user:hash:cdrwa` has
//! the id `user:hash`), perms letters from `cdrwa`. Unlike zkCli, an unknown letter or a
//! malformed entry refuses the whole ACL instead of being skipped with a warning.

use zk_client::{perms, Acl, Id};

/// The entries of an ACL argument, or why it is not one.
pub fn parse(spec: &str) -> Result<Vec<Acl>, String> {
    let mut out = Vec::new();
    for entry in spec.split(',') {
        let (Some(first), Some(last)) = (entry.find(':'), entry.rfind(':')) else {
            return Err(not_the_form(entry));
        };
        if first == last {
            return Err(not_the_form(entry));
        }
        let scheme = &entry[..first];
        if scheme.is_empty() {
            return Err(format!("{entry:?} has an empty scheme"));
        }
        out.push(Acl {
            perms: parse_perms(&entry[last + 1..])
                .map_err(|c| format!("unknown permission {c:?} in {entry:?} (use cdrwa)"))?,
            id: Id::new(scheme, &entry[first + 1..last]),
        });
    }
    Ok(out)
}

fn not_the_form(entry: &str) -> String {
    format!("{entry:?} does not have the form scheme:id:perms")
}

/// The permission bits of letters from `cdrwa`; the first unknown letter otherwise.
pub fn parse_perms(letters: &str) -> Result<i32, char> {
    letters.chars().try_fold(0, |acc, c| {
        let bit = match c {
            'c' => perms::CREATE,
            'd' => perms::DELETE,
            'r' => perms::READ,
            'w' => perms::WRITE,
            'a' => perms::ADMIN,
            other => return Err(other),
        };
        Ok(acc | bit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    #[test]
    fn zkcli_forms_parse() {
        assert_eq!(parse("world:anyone:cdrwa"), Ok(Acl::open_unsafe()));
        assert_eq!(
            parse("digest:user:smGaoVKd/cQkjm7b88GyorAUz20=:rw"),
            Ok(vec![acl(
                perms::READ | perms::WRITE,
                "digest",
                "user:smGaoVKd/cQkjm7b88GyorAUz20="
            )])
        );
        assert_eq!(parse("auth::cdrwa"), Ok(vec![acl(perms::ALL, "auth", "")]));
        assert_eq!(
            parse("ip:1.2.3.4:r,world:anyone:cdra"),
            Ok(vec![
                acl(perms::READ, "ip", "1.2.3.4"),
                acl(perms::ALL & !perms::WRITE, "world", "anyone")
            ])
        );
        assert_eq!(parse("world:anyone:"), Ok(vec![acl(0, "world", "anyone")]));
    }

    #[test]
    fn malformed_acls_are_refused_with_a_reason() {
        let err = |s: &str| parse(s).expect_err(s);
        assert!(err("world:anyone").contains("scheme:id:perms"));
        assert!(err("foo").contains("scheme:id:perms"));
        assert!(err("world:anyone:rx").contains("'x'"));
        assert!(err(":anyone:r").contains("empty scheme"));
        assert!(err("world:anyone:r,").contains("scheme:id:perms"));
        assert!(err("").contains("scheme:id:perms"));
    }
}
