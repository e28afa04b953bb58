#!/usr/bin/env python3
"""Seeds for the `handshake` target (run once before a first fuzzing run; the minimized
corpus is what is kept): the input's first byte chooses the server's configuration
(handshake_check.rs), the rest is a client's first bytes. ConnectRequests for a new session,
a resume with the right password under the fuzz secret, a wrong one, and a pre-3.4 client's
request without the readOnly flag."""
import hashlib, hmac, os, struct, sys

SECRET = b"zk-raft fuzz: the cluster secret"
out = sys.argv[1] if len(sys.argv) > 1 else "seeds/handshake"
os.makedirs(out, exist_ok=True)

def connect(session, passwd, timeout=30000, zxid=0, ro=b"\x00"):
    body = struct.pack(">iqiqi", 0, zxid, timeout, session, len(passwd)) + passwd + ro
    return struct.pack(">i", len(body)) + body

def password(session):
    return hmac.new(SECRET, struct.pack(">q", session), hashlib.sha256).digest()[:16]

seeds = {
    "new": b"\x00" + connect(0, b"\x00" * 16),
    "new_old_client": b"\x00" + connect(0, b"\x00" * 16, ro=b""),
    "new_small_limit": b"\x01" + connect(0, b"\x00" * 16, timeout=-1),
    "resume": b"\x02" + connect(0x1234, password(0x1234), zxid=77),
    "resume_negative_id": b"\x04" + connect(-5, password(-5), timeout=1 << 30),
    "resume_wrong": b"\x06" + connect(0x1234, b"\x01" * 16),
    "resume_null_passwd": b"\x08" + struct.pack(">i", 28) + struct.pack(">iqiqi", 0, 0, 1, 9, -1),
    "derived_bounds": b"\x0c" + struct.pack(">III", 2000, 0xFFFFFFFF, 90000) + connect(0, b""),
    "too_long": b"\x00" + struct.pack(">i", 1 << 24) + b"abc",
    "ruok": b"\x00ruok",
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
