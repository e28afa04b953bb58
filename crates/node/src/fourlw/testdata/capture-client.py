# minimal ZooKeeper client to populate cons/wchs/etc. Usage: zkc.py PORT TAG SECONDS
import socket, struct, sys, time
port, tag, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
def send(b): s.sendall(struct.pack(">i", len(b)) + b)
def recv():
    n = struct.unpack(">i", rd(4))[0]; return rd(n)
def rd(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise EOFError
        b += c
    return b
def st(x): x = x.encode(); return struct.pack(">i", len(x)) + x
def buf(x): return struct.pack(">i", len(x)) + x
send(struct.pack(">iqiq", 0, 0, 30000, 0) + buf(b"\0"*16) + b"\0")
r = recv(); print("connected", r[:20].hex(), flush=True)
xid = [0]
def req(t, body):
    xid[0] += 1
    send(struct.pack(">ii", xid[0], t) + body)
    while True:
        r = recv()
        x, z, e = struct.unpack(">iqi", r[:16])
        if x == xid[0]: return e
acl = struct.pack(">i", 1) + struct.pack(">i", 31) + st("world") + st("anyone")
print("create app", req(1, st("/app") + buf(b"hello") + acl + struct.pack(">i", 0)))
print("create eph", req(1, st("/app/" + tag) + buf(b"x"*10) + acl + struct.pack(">i", 1)))
print("getData w", req(4, st("/app") + b"\1"))
print("exists w", req(3, st("/app/" + tag) + b"\1"))
print("children w", req(8, st("/app") + b"\1"))
print("exists missing w", req(3, st("/nope-" + tag) + b"\1"))
end = time.time() + secs
while time.time() < end:
    time.sleep(3)
    send(struct.pack(">ii", -2, 11)); recv()
