#!/usr/bin/env python3
"""Seeds the fuzzer with every golden frame, with and without its length prefix."""
import glob, hashlib, os, sys

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "seeds", "request_decode")
os.makedirs(out, exist_ok=True)
for path in sorted(glob.glob(os.path.join(here, "..", "tests", "golden", "*.txt"))):
    for line in open(path):
        line = line.strip()
        if line[:1] in "<>" and len(line) > 1:
            frame = bytes.fromhex(line[1:].strip())
            for blob in (frame, frame[4:]):
                name = hashlib.sha1(blob).hexdigest()[:16]
                with open(os.path.join(out, name), "wb") as f:
                    f.write(blob)
print(len(os.listdir(out)), "seeds in", out, file=sys.stderr)
