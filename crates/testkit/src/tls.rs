//! Certificates for TLS tests, made when the test runs (nothing secret is committed): a CA,
//! a server certificate for `localhost` and 127.0.0.1 signed by it, and client certificates
//! with the subject a test names. Files are written in the layout zk-node's flags and
//! ZooKeeper's PEM stores take: the key store is one file with the key and the certificate.

use std::path::Path;
use std::path::PathBuf;

use rcgen::BasicConstraints;
use rcgen::CertificateParams;
use rcgen::DistinguishedName;
use rcgen::DnType;
use rcgen::IsCa;
use rcgen::Issuer;
use rcgen::KeyPair;
use rcgen::SanType;

/// A CA and a server certificate it signed.
pub struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
    server_cert_pem: String,
    server_key_pem: String,
}

fn key() -> KeyPair {
    KeyPair::generate().expect("generate a key")
}

impl Pki {
    /// A CA named `name` (its subject `CN=<name> CA`) and a server certificate for
    /// `localhost` and 127.0.0.1 (subject `CN=zk-node,O=<name>`).
    pub fn new(name: &str) -> Pki {
        let ca_key = key();
        let mut ca = CertificateParams::default();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name = DistinguishedName::new();
        ca.distinguished_name
            .push(DnType::CommonName, format!("{name} CA"));
        let ca_pem = ca.self_signed(&ca_key).expect("self-sign the CA").pem();
        let issuer = Issuer::new(ca, ca_key);
        let server_key = key();
        let mut server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".into()])
            .expect("server names");
        server.distinguished_name = dn("zk-node", name);
        let server_cert_pem = server
            .signed_by(&server_key, &issuer)
            .expect("sign the server certificate")
            .pem();
        Pki {
            ca_pem,
            issuer,
            server_cert_pem,
            server_key_pem: server_key.serialize_pem(),
        }
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server certificate (PEM).
    pub fn server_cert_pem(&self) -> &str {
        &self.server_cert_pem
    }

    /// The server's private key (PEM, unencrypted PKCS#8).
    pub fn server_key_pem(&self) -> &str {
        &self.server_key_pem
    }

    /// A client certificate and key (PEM) with the subject `CN=<cn>,O=<org>` (Java's order),
    /// signed by this CA.
    pub fn client(&self, cn: &str, org: &str) -> (String, String) {
        let k = key();
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        params.distinguished_name = dn(cn, org);
        let cert = params
            .signed_by(&k, &self.issuer)
            .expect("sign the client certificate");
        (cert.pem(), k.serialize_pem())
    }

    /// Writes `dir/server.pem` (key and certificate: the key store) and `dir/ca.pem` (the
    /// trust store); returns their paths.
    pub fn write_server(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let server = dir.join("server.pem");
        let ca = dir.join("ca.pem");
        write(
            &server,
            &format!("{}{}", self.server_key_pem, self.server_cert_pem),
        );
        write(&ca, &self.ca_pem);
        (server, ca)
    }

    /// Writes `dir/member-<id>.pem`: a key and a certificate signed by this CA naming
    /// `hosts` (IP addresses or DNS names) and, with `names_id`, the member id
    /// (`zk-raft:server.<names_id>`), the key store of a member's peer link. Returns its path.
    pub fn write_member(
        &self,
        dir: &Path,
        id: u64,
        hosts: &[&str],
        names_id: Option<u64>,
    ) -> PathBuf {
        let k = key();
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        params.distinguished_name = dn(&format!("member {id}"), "zk-raft");
        for host in hosts {
            params.subject_alt_names.push(match host.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*host).try_into().expect("a DNS name")),
            });
        }
        if let Some(n) = names_id {
            let uri = format!("zk-raft:server.{n}");
            params
                .subject_alt_names
                .push(SanType::URI(uri.as_str().try_into().expect("a URI")));
        }
        let cert = params
            .signed_by(&k, &self.issuer)
            .expect("sign the member certificate");
        let path = dir.join(format!("member-{id}.pem"));
        write(&path, &format!("{}{}", k.serialize_pem(), cert.pem()));
        path
    }

    /// Writes the CA certificate as `dir/ca.pem` (a trust store); returns its path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let ca = dir.join("ca.pem");
        write(&ca, &self.ca_pem);
        ca
    }

    /// Writes a client certificate (`CN=<cn>,O=<org>`) as `dir/<cn>.crt` and its key as
    /// `dir/<cn>.key`; returns their paths.
    pub fn write_client(&self, dir: &Path, cn: &str, org: &str) -> (PathBuf, PathBuf) {
        let (cert, k) = self.client(cn, org);
        let cert_path = dir.join(format!("{cn}.crt"));
        let key_path = dir.join(format!("{cn}.key"));
        write(&cert_path, &cert);
        write(&key_path, &k);
        (cert_path, key_path)
    }
}

/// Encoded O first, so Java (and zk-node) print `CN=<cn>,O=<org>`.
fn dn(cn: &str, org: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::CommonName, cn);
    dn
}

/// Writes `text` to `path` through a temporary file and a rename, so a reader polling the
/// file (zk-node's reload) never sees half of it.
pub fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
}
