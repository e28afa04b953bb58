//! The `x509` scheme's id of a client certificate: its subject distinguished name as
//! ZooKeeper's X509AuthenticationProvider gives it (Java's `X500Principal.getName()`, the
//! RFC 2253 form), so an ACL written for ZooKeeper (`x509:CN=client,O=Example`) names the
//! same client here.
//!
//! Java's form, which this follows: the RDNs from the last encoded to the first, joined with
//! `,` (no spaces); the values of a multi-valued RDN joined with `+` in encoded order; the
//! RFC 2253 keywords (CN, C, L, ST, O, OU, STREET, DC, UID) and a dotted OID for any other
//! type; a string value with `,=+<>#;"\` escaped by a backslash, a NUL as `\00` and leading
//! or trailing spaces escaped; a value of another ASN.1 type, or of a type without a
//! keyword, as `#` and the hex of its DER encoding.

use x509_parser::der_parser::asn1_rs::Any;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::x509::X509Name;

/// Why a certificate has no id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the client certificate cannot be read: {0}")]
pub struct BadCertificate(String);

/// The subject of the DER certificate `der`, in Java's RFC 2253 form.
pub(crate) fn subject_id(der: &[u8]) -> Result<String, BadCertificate> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| BadCertificate(e.to_string()))?;
    Ok(rfc2253(cert.subject()))
}

/// `name` in Java's `X500Principal.getName()` form (see the module docs).
pub(crate) fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    match keyword(&oid) {
                        Some(k) => match java_string(atv.attr_value()) {
                            Some(s) => format!("{k}={}", escape(&s)),
                            None => format!("{k}=#{}", der_hex(atv.attr_value())),
                        },
                        None => format!("{oid}=#{}", der_hex(atv.attr_value())),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    // Java prints the most specific RDN (encoded last) first.
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// The RFC 2253 keyword Java prints for an attribute type.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The text of a value of one of the string types Java prints as text (`isDerString`);
/// `None` for any other type (printed as hex).
fn java_string(v: &Any<'_>) -> Option<String> {
    let data = v.data;
    match v.tag() {
        Tag::PrintableString | Tag::Ia5String | Tag::Utf8String | Tag::GeneralString => {
            Some(String::from_utf8_lossy(data).into_owned())
        }
        // T61String: Java reads it as ISO-8859-1.
        Tag::T61String => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            let units: Vec<u16> = data
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

/// RFC 2253 escaping as Java applies it.
fn escape(s: &str) -> String {
    const ESCAPEES: &str = ",=+<>#;\"\\";
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if ESCAPEES.contains(c) {
            out.push('\\');
            out.push(c);
        } else if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
    // Leading and trailing spaces are escaped one by one.
    let lead = out.len() - out.trim_start_matches(' ').len();
    let trail = out.len() - out.trim_end_matches(' ').len();
    if lead == 0 && trail == 0 {
        return out;
    }
    if lead == out.len() {
        return "\\ ".repeat(lead);
    }
    let core = &out[lead..out.len() - trail];
    format!("{}{core}{}", "\\ ".repeat(lead), "\\ ".repeat(trail))
}

/// The DER encoding of `v` (its tag, length and content) in lower-case hex.
fn der_hex(v: &Any<'_>) -> String {
    let mut der = Vec::with_capacity(v.data.len() + 4);
    // Low tag numbers only: every string and primitive type a DN holds has one.
    let class = (v.header.class() as u8) << 6;
    let constructed = if v.header.is_constructed() { 0x20 } else { 0 };
    der.push(class | constructed | (v.tag().0 as u8 & 0x1f));
    let len = v.data.len();
    if len < 0x80 {
        der.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        der.push(0x80 | (bytes.len() - skip) as u8);
        der.extend_from_slice(&bytes[skip..]);
    }
    der.extend_from_slice(v.data);
    der.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with(dn: rcgen::DistinguishedName) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = dn;
        let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
        cert.der().to_vec()
    }

    /// Java's order (most specific first), keywords, no spaces.
    #[test]
    fn subject_in_javas_rfc2253_form() {
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "DE");
        dn.push(rcgen::DnType::OrganizationName, "Example");
        dn.push(rcgen::DnType::OrganizationalUnitName, "Ops");
        dn.push(rcgen::DnType::CommonName, "client");
        let id = subject_id(&cert_with(dn)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id, "CN=client,OU=Ops,O=Example,C=DE");
    }

    /// Special characters are escaped as Java escapes them; an attribute without a keyword
    /// is its OID and the hex of its DER value (emailAddress, IA5String).
    #[test]
    fn escapes_and_unknown_types() {
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "Acme, Inc.");
        dn.push(rcgen::DnType::CommonName, " a+b=c ");
        dn.push(
            rcgen::DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            rcgen::DnValue::Ia5String(
                rcgen::string::Ia5String::try_from("a@b").unwrap_or_else(|e| panic!("{e}")),
            ),
        );
        let id = subject_id(&cert_with(dn)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            id,
            "1.2.840.113549.1.9.1=#1603614062,CN=\\ a\\+b\\=c\\ ,O=Acme\\, Inc."
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(subject_id(b"not a certificate").is_err());
    }
}
