"""TLS on the secure client port (issue 19): kazoo with ``use_ssl=True`` and the server's CA.

Certificates are made per module with the ``openssl`` command (a CA, the server's for
localhost/127.0.0.1, clients' with subjects ``CN=<name>,O=Example``); nothing secret is
committed.  The server is a zk-node with ``--secure-client-addr`` and PEM stores, or, with
``ZK_TEST_SERVER=zookeeper``, Apache ZooKeeper with ``secureClientPort``, the Netty connection
factory and the x509 provider, so the same expectations are checked against both.
"""

import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import ACL, Id, Permissions

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


class Pki:
    """A CA and certificates it signs, as PEM files in ``dir``."""

    def __init__(self, dir, name):
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.ca = self.dir / f"{name}-ca.pem"
        self.ca_key = self.dir / f"{name}-ca.key"
        openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", self.ca_key, "-out", self.ca, "-subj", f"/CN={name} CA", "-days", "2",
            cwd=self.dir,
        )

    def issue(self, stem, subject, ext):
        key, csr, crt = (self.dir / f"{stem}.{x}" for x in ("key", "csr", "crt"))
        extfile = self.dir / f"{stem}.ext"
        extfile.write_text(ext)
        openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", subject, cwd=self.dir,
        )
        # v3 extensions: rustls (webpki) refuses X.509 v1 certificates.
        openssl(
            "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
            "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", extfile, cwd=self.dir,
        )
        return crt, key

    def server_store(self):
        """The server's key store: its key and certificate in one PEM file."""
        crt, key = self.issue(
            f"{self.name}-server", "/O=Kazoo/CN=zk-node",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        store = self.dir / f"{self.name}-server.pem"
        store.write_text(key.read_text() + crt.read_text())
        return store

    def client(self, cn):
        return self.issue(
            f"{self.name}-{cn}", f"/O=Example/CN={cn}",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("tls"), "kazoo")


@pytest.fixture
def secure_server(own_server, pki):
    """A server whose secure port needs client certificates (ssl.clientAuth=need)."""

    def make(client_auth="need"):
        store = pki.server_store()
        port = free_port()
        srv_impl = own_server(start=False).impl
        if srv_impl == "zookeeper":
            extra = [
                f"secureClientPort={port}",
                "secureClientPortAddress=127.0.0.1",
                "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
                f"ssl.keyStore.location={store}",
                "ssl.keyStore.type=PEM",
                f"ssl.trustStore.location={pki.ca}",
                "ssl.trustStore.type=PEM",
                f"ssl.clientAuth={client_auth}",
                "authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider",
            ]
        else:
            extra = [
                "--secure-client-addr", f"127.0.0.1:{port}",
                "--ssl-keystore", str(store),
                "--ssl-truststore", str(pki.ca),
                "--ssl-client-auth", client_auth,
            ]
        srv = own_server(extra_args=extra)
        return srv, f"127.0.0.1:{port}"

    return make


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tls_client(make_client, pki):
    """kazoo over TLS: tls_client(hosts, cn=None, ca=None, start_timeout=...)."""

    def make(hosts, cn=None, ca=None, start_timeout=20.0):
        kw = {"use_ssl": True, "verify_certs": True, "ca": str(ca or pki.ca)}
        if cn:
            crt, key = pki.client(cn)
            kw.update(certfile=str(crt), keyfile=str(key))
        return make_client(hosts=hosts, start_timeout=start_timeout, **kw)

    return make


def test_mutual_tls_crud_and_x509_acl(secure_server, tls_client):
    """kazoo with use_ssl=True, the CA and a client certificate creates and reads; an ACL
    naming the certificate's x509 id (ZooKeeper's RFC 2253 subject) admits that client only."""
    _, hosts = secure_server("need")
    alice = tls_client(hosts, cn="alice")
    bob = tls_client(hosts, cn="bob")
    alice.create("/tls-crud", b"over TLS")
    assert alice.get("/tls-crud")[0] == b"over TLS"
    assert bob.get("/tls-crud")[0] == b"over TLS"

    only_alice = [ACL(Permissions.ALL, Id("x509", "CN=alice,O=Example"))]
    alice.create("/tls-secret", b"alice's", acl=only_alice)
    assert alice.get("/tls-secret")[0] == b"alice's"
    with pytest.raises(NoAuthError):
        bob.get("/tls-secret")
    assert alice.get_acls("/tls-secret")[0] == only_alice


def test_a_client_without_the_ca_is_refused(secure_server, tls_client, pki, tmp_path):
    """A client that does not trust the server's CA never gets a session (its handshake
    fails), and the server keeps serving the others."""
    _, hosts = secure_server("need")
    stranger = Pki(tmp_path / "stranger", "stranger")
    with pytest.raises(KazooTimeoutError):
        tls_client(hosts, cn="carol", ca=stranger.ca, start_timeout=3.0)
    ok = tls_client(hosts, cn="dave")
    assert ok.exists("/") is not None


def test_client_auth_need_refuses_a_client_without_a_certificate(secure_server, tls_client):
    """ssl.clientAuth=need: trusting the CA is not enough without a client certificate."""
    _, hosts = secure_server("need")
    with pytest.raises(KazooTimeoutError):
        tls_client(hosts, start_timeout=3.0)


def test_client_auth_none_serves_a_client_without_a_certificate(secure_server, tls_client):
    _, hosts = secure_server("none")
    zk = tls_client(hosts)
    zk.ensure_path("/tls-none")
    assert zk.exists("/tls-none") is not None


def test_plain_client_on_the_secure_port_is_refused(secure_server, make_client, tls_client):
    """A plain client on the secure port gets no session; a TLS client still does."""
    srv, hosts = secure_server("none")
    with pytest.raises(KazooTimeoutError):
        make_client(hosts=hosts, start_timeout=3.0)
    zk = tls_client(hosts)
    assert zk.exists("/") is not None
    # And a TLS client on the plain port gets none either.
    with pytest.raises((KazooTimeoutError, ssl.SSLError)):
        tls_client(srv.addr, start_timeout=3.0)
