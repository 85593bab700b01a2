#!/usr/bin/env python3
"""make soak: mixed requests against mote for a long time while
its RSS is sampled; passes if RSS stays flat and every response is right.

The load, from several client threads: GET, HEAD, single ranges (and unsatisfiable
ones), conditionals (If-None-Match -> 304, If-Modified-Since -> 304, If-Match ->
412), 404s, directory redirects, pipelined batches, keep-alive sequences and
one-shot Connection: close requests, HTTP/1.0, malformed heads (400 and close),
and clients that abandon a large response half-way. Every response is checked:
status, framing, and body bytes against the files on disk.

RSS (VmRSS) is sampled every --sample seconds. The baseline is the sample after
the first minute (or after half of a run shorter than two minutes); the run passes
if RSS at the end is at most baseline + max(10 %, 256 KiB).

Usage: soak.py --bin target/release/mote [--seconds 600] [--clients 6]
"""

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

FIXED_MTIME = 1_000_000_000
IMF_AT_MTIME = "Sun, 09 Sep 2001 01:46:40 GMT"
LATER = "Sat, 01 Jan 2022 00:00:00 GMT"


def build_site(root):
    rnd = random.Random(8)
    files = {
        "index.html": b"<!doctype html><title>soak</title>soak\n",
        "style.css": b"body{color:#123}\n" * 20,
        "small.txt": b"small\n",
        "medium.bin": bytes(rnd.getrandbits(8) for _ in range(100 * 1024)),  # in memory
        "large.bin": bytes(rnd.getrandbits(8) for _ in range(1536 * 1024)),  # sendfile
        "docs/index.html": b"DOCS\n",
        "docs/page.html": b"PAGE\n" * 100,
    }
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    return {"/" + k: v for k, v in files.items()}


class Conn:
    """One client connection with a buffered, framing-exact response reader."""

    def __init__(self, addr):
        self.sock = socket.create_connection(addr, timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        end = self.buf.index(b"\r\n\r\n")
        head = self.buf[:end].decode("latin-1")
        self.buf = self.buf[end + 4 :]
        lines = head.split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if not head_request and status not in (204, 304):
            length = int(headers["content-length"])
            while len(self.buf) < length:
                self._fill()
            body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def closed_after(self):
        """True if the server closes with nothing more to say."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return self.buf == b""
                self.buf += chunk
        except ConnectionResetError:
            return self.buf == b""

    def close(self):
        self.sock.close()


class Load:
    def __init__(self, addr, files, etags, deadline):
        self.addr, self.files, self.etags, self.deadline = addr, files, etags, deadline
        self.lock = threading.Lock()
        self.counts = {}
        self.requests = 0
        self.errors = []

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def fail(self, message):
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(message)

    # One request: (raw bytes, is HEAD, check(status, headers, body) -> error or None).
    def pick(self, rnd, close=False, version="1.1"):
        path = rnd.choice(list(self.files))
        data = self.files[path]
        extra = "Connection: close\r\n" if close else ""
        host = "Host: soak\r\n" if version == "1.1" else ""

        def req(method, target, headers=""):
            return f"{method} {target} HTTP/{version}\r\n{host}{headers}{extra}\r\n".encode()

        def expect(status, body=None):
            def check(s, h, b):
                if s != status:
                    return f"status {s}, want {status}"
                if body is not None and b != body:
                    return f"body of {len(b)} bytes differs from the {len(body)} expected"
                return None

            return check

        kind = rnd.choices(
            ["get", "head", "range", "suffix", "unsatisfiable", "inm", "ims", "ifmatch", "404", "redirect", "query"],
            [30, 8, 10, 4, 2, 8, 5, 2, 8, 3, 3],
        )[0]
        self.count(kind)
        if kind == "get":
            return req("GET", path), False, expect(200, data)
        if kind == "head":
            return req("HEAD", path), True, expect(200)
        if kind == "range":
            first = rnd.randrange(len(data))
            last = min(len(data) - 1, first + rnd.randrange(65536))
            return req("GET", path, f"Range: bytes={first}-{last}\r\n"), False, expect(206, data[first : last + 1])
        if kind == "suffix":
            n = rnd.randrange(1, 5000)
            return req("GET", path, f"Range: bytes=-{n}\r\n"), False, expect(206, data[-n:])
        if kind == "unsatisfiable":
            return req("GET", path, f"Range: bytes={len(data) + 10}-\r\n"), False, expect(416)
        if kind == "inm":
            return req("GET", path, f"If-None-Match: {self.etags[path]}\r\n"), False, expect(304)
        if kind == "ims":
            return req("GET", path, f"If-Modified-Since: {LATER}\r\n"), False, expect(304)
        if kind == "ifmatch":
            return req("GET", path, 'If-Match: "nope"\r\n'), False, expect(412)
        if kind == "404":
            return req("GET", f"/missing/{rnd.randrange(1 << 30)}.html"), False, expect(404)
        if kind == "redirect":
            return req("GET", "/docs"), False, expect(301)
        return req("GET", f"{path}?v={rnd.randrange(1000)}"), False, expect(200, data)

    def exchange(self, conn, raw, head, check, what):
        conn.send(raw)
        status, headers, body = conn.response(head)
        error = check(status, headers, body)
        with self.lock:
            self.requests += 1
        if error:
            self.fail(f"{what}: {raw[:80]!r}: {error}")
        return headers

    def keep_alive(self, rnd):
        conn = Conn(self.addr)
        n = rnd.randrange(2, 20)
        for i in range(n):
            raw, head, check = self.pick(rnd, close=(i == n - 1 and rnd.random() < 0.5))
            headers = self.exchange(conn, raw, head, check, "keep-alive")
            if "close" in headers.get("connection", "").lower():
                if not conn.closed_after():
                    self.fail("keep-alive: bytes after a closing response")
                break
        conn.close()

    def one_shot(self, rnd):
        conn = Conn(self.addr)
        raw, head, check = self.pick(rnd, close=True)
        self.exchange(conn, raw, head, check, "one-shot")
        if not conn.closed_after():
            self.fail("one-shot: bytes after the response")
        conn.close()

    def http10(self, rnd):
        conn = Conn(self.addr)
        raw, head, check = self.pick(rnd, version="1.0")
        self.exchange(conn, raw, head, check, "HTTP/1.0")
        if not conn.closed_after():
            self.fail("HTTP/1.0: not closed")
        conn.close()

    def pipelined(self, rnd):
        conn = Conn(self.addr)
        batch = [self.pick(rnd) for _ in range(rnd.randrange(2, 16))]
        conn.send(b"".join(raw for raw, _, _ in batch))
        for raw, head, check in batch:
            status, headers, body = conn.response(head)
            with self.lock:
                self.requests += 1
            error = check(status, headers, body)
            if error:
                self.fail(f"pipelined: {raw[:80]!r}: {error}")
        conn.close()

    def malformed(self, rnd):
        conn = Conn(self.addr)
        raw = rnd.choice(
            [
                b"GET / HTTP/1.1\r\n\r\n",  # no Host
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                b"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
                b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
            ]
        )
        self.exchange(conn, raw, False, lambda s, h, b: None if s == 400 else f"status {s}, want 400", "malformed")
        if not conn.closed_after():
            self.fail("malformed: not closed after the 400")
        conn.close()

    def abandon(self, rnd):
        conn = Conn(self.addr)
        conn.send(b"GET /large.bin HTTP/1.1\r\nHost: soak\r\n\r\n")
        conn.sock.recv(rnd.randrange(1, 200000))
        if rnd.random() < 0.5:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    def run(self, seed):
        rnd = random.Random(seed)
        actions = [self.keep_alive, self.one_shot, self.http10, self.pipelined, self.malformed, self.abandon]
        weights = [40, 15, 5, 25, 5, 3]
        while time.monotonic() < self.deadline:
            action = rnd.choices(actions, weights)[0]
            self.count(action.__name__)
            try:
                action(rnd)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                self.fail(f"{action.__name__}: {type(e).__name__}: {e}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS", 600)))
    ap.add_argument("--sample", type=int, default=10)
    ap.add_argument("--clients", type=int, default=6)
    args = ap.parse_args()
    if args.seconds < 20:
        sys.exit("soak: --seconds must be at least 20")

    work = tempfile.mkdtemp(prefix="mote-soak.")
    root = os.path.join(work, "root")
    files = build_site(root)
    stderr = open(os.path.join(work, "stderr"), "w+")
    proc = subprocess.Popen([args.bin, "--listen", "127.0.0.1:0", "--root", root], stderr=stderr)
    try:
        addr = None
        for _ in range(200):
            stderr.seek(0)
            m = re.search(r"listening on http://([0-9.]+):(\d+)", stderr.read())
            if m:
                addr = (m.group(1), int(m.group(2)))
                break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        if not addr:
            stderr.seek(0)
            sys.exit("soak: mote did not start:\n" + stderr.read())

        etags = {}
        for path in files:
            c = Conn(addr)
            c.send(f"HEAD {path} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n".encode())
            _, headers, _ = c.response(head_request=True)
            etags[path] = headers["etag"]
            c.close()

        baseline_at = min(60, args.seconds // 2)
        start = time.monotonic()
        load = Load(addr, files, etags, start + args.seconds)
        threads = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(args.clients)]
        for t in threads:
            t.start()
        print(f"soak: {args.seconds} s of mixed requests from {args.clients} clients against {addr[0]}:{addr[1]} "
              f"(pid {proc.pid}); RSS every {args.sample} s, baseline at {baseline_at} s", flush=True)
        samples = []
        baseline, baseline_t = None, None
        next_sample = start
        while True:
            now = time.monotonic()
            if now >= next_sample:
                t = now - start
                rss = rss_kib(proc.pid)
                samples.append((t, rss))
                if baseline is None and t >= baseline_at - 0.5:
                    baseline, baseline_t = rss, t
                with load.lock:
                    reqs, errs = load.requests, len(load.errors)
                print(f"soak: t={t:6.1f}s  VmRSS {rss:6d} KiB  requests {reqs:8d}  errors {errs}", flush=True)
                next_sample += args.sample
            if now >= start + args.seconds:
                break
            if proc.poll() is not None:
                break
            time.sleep(min(0.5, max(0.0, next_sample - time.monotonic())))
        for t in threads:
            t.join(timeout=60)
        alive = proc.poll() is None
        end = rss_kib(proc.pid) if alive else None
        elapsed = time.monotonic() - start
        peak = max(r for _, r in samples)
        print(f"soak: {load.requests} requests in {elapsed:.0f} s ({load.requests / elapsed:.0f}/s); mix: "
              + ", ".join(f"{k} {v}" for k, v in sorted(load.counts.items())))
        ok = True
        if not alive:
            print(f"soak: FAIL: mote exited with {proc.returncode}")
            ok = False
        if load.errors:
            print(f"soak: FAIL: {len(load.errors)} bad responses, first ones:")
            for e in load.errors[:10]:
                print(f"soak:   {e}")
            ok = False
        if alive:
            allowed = baseline + max(baseline // 10, 256)
            verdict = "flat" if end <= allowed else "GROWING"
            print(f"soak: VmRSS at {baseline_t:.0f} s {baseline} KiB, at the end {end} KiB "
                  f"({end - baseline:+d} KiB), peak {peak} KiB; allowed up to {allowed} KiB: {verdict}")
            ok = ok and end <= allowed
        print("soak: PASS" if ok else "soak: FAIL")
        return 0 if ok else 1
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
