#!/usr/bin/env python3
"""`make bench`: mote side by side with nginx, lighttpd, busybox httpd and a
hyper reference server, in one run, on this machine, over HTTP and over HTTPS (the
HTTPS rows: mote built with TLS, nginx, hyper-ref built with rustls, and mote's ACME
build beside its TLS build). Writes bench/RESULTS.md and bench/results.svg; every
verdict in them is computed here from the numbers.

    python3 bench/run.py            full run (~8 min), writes bench/RESULTS.md + results.svg
    python3 bench/run.py --smoke    ~1 min: mote and hyper-ref only, 1 s loads, tiny counts;
                                    writes into a temp dir; exits non-zero if the harness
                                    breaks (never because a target is missed)

Environment overrides (all optional): MOTE_BIN, MOTE_STATIC_BIN, MOTE_ARM_BIN, HYPER_BIN,
HYPER_ARM_BIN, MOTE_TLS_BIN, MOTE_ACME_BIN, HYPER_TLS_BIN, MOTE_ARM_TLS_BIN (use these
binaries, do not build them); BENCH_NO_BUILD=1 (build nothing: the HTTPS rows then need
the TLS ones); BENCH_OUT=DIR (where RESULTS.md and results.svg go); HYPER_TARGET_DIR
(cargo target dir of bench/hyper-ref, default <mote target dir>/hyper-ref).

Method, in short: every server serves the same generated ~6 KB page from 127.0.0.1, pinned
to CPU 0 (sched_setaffinity in the child before exec, i.e. `taskset -c 0`); wrk and this
script run on CPU 1. Server CPU time is read from a cpuacct cgroup the server is started
in (every thread and every child, even children that were reaped by the kernel, as
busybox's are) and cross-checked with utime+stime(+cutime+cstime) from /proc/PID/stat
summed over the server's process tree. The ARMv6 builds of mote and hyper-ref are compared
on an emulated Pi Zero booted with Debian's kernel (QEMU raspi0, .ci/board/boot.py, the
guest script bench/board.sh), and their user-space instructions per request are counted
under qemu-arm. Python standard library only; nothing is left running: every process
started here is stopped by PID in a `finally`.
"""

import contextlib
import importlib.util
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SMOKE = "--smoke" in sys.argv[1:]
# --only=redirects: that measure alone, its section printed, nothing written to bench/.
ONLY = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--only=")), None)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_PATH = "/index.html"
X86_MUSL = "x86_64-unknown-linux-musl"
ARMV6 = "arm-unknown-linux-musleabihf"
ARMV6_CPU = "arm1176jzf-s"

# ----------------------------------------------------------------------------- knobs
if SMOKE:
    K = dict(servers=["mote", "hyper-ref"], main_secs=1, main_conns=20, warm_secs=1, rounds=1,
             strace_secs=1, idle_conns=50, cold_runs=3, cg_requests=50, cg_servers=["mote"],
             sweep=[10, 100], sweep_big={}, sweep_secs=1, sweep_rounds=1, arm=False)
else:
    K = dict(servers=["mote", "nginx", "lighttpd", "busybox", "hyper-ref"], main_secs=2,
             main_conns=50, warm_secs=1, rounds=9, strace_secs=1, idle_conns=2000, cold_runs=40,
             cg_requests=2000, cg_servers=["mote", "hyper-ref", "lighttpd", "nginx"],
             sweep=[10, 100, 1000], sweep_big={"mote": 10000, "nginx": 10000}, sweep_secs=2,
             sweep_rounds=3, arm=True)

# Rows run beside the servers in the main and system-call measures, never peers and never
# in a verdict: mote without its io_uring batch (what the batch costs and saves), mote
# writing an access log to a file in the run's temp dir (what logging costs), and
# bench/bare-ref, the least a readiness server can do per request (the floor).
MOTE_OFF = "mote --io-uring off"
MOTE_LOG = "mote --access-log FILE"
BARE = "bare-ref (floor)"
VARIANTS = {BARE: dict(kind="bare-ref", extra={}, label="bare-ref")}
if not SMOKE:
    VARIANTS[MOTE_OFF] = dict(kind="mote", extra={"args": ["--io-uring", "off"]}, label="mote-off")
    VARIANTS[MOTE_LOG] = dict(kind="mote", extra={"access_log": True}, label="mote-log")

# Rounds for rows no verdict compares with mote, in the main run and in the sweep (the rest
# get K["rounds"] / K["sweep_rounds"]): busybox forks per request and sits some forty
# times above every other server, and the variants are informational.
FEW_ROUNDS = {} if SMOKE else {"busybox": 3, MOTE_OFF: 5, MOTE_LOG: 5}
FEW_SWEEP_ROUNDS = {} if SMOKE else {"busybox": 1}


def main_order():
    """The main run's order: mote, then the peer nearest to it in the CPU target's reference
    figures (hyper-ref) and the floor, so the pair the CPU verdict reads runs back to back
    in every round, whichever way the round goes; then the other servers and the variants."""
    first = [n for n in ("mote", "hyper-ref", BARE) if n in K["servers"] or n in VARIANTS]
    return first + [n for n in K["servers"] + list(VARIANTS) if n not in first]


# The performance targets mote is held to.
T_CPU_RATIO = 0.9
T_SYSCALLS_KA = 2.0
T_SYSCALLS_PIPE = 0.15
T_IDLE_CONN_BYTES = 256
T_IDLE_RSS = 1 << 20
T_ARM_RATIO = 1.4

STARTED = []      # every Popen started here, stopped in `finally`
CGROUPS = []      # every cgroup directory made here, removed in `finally`
COMMANDS = []     # distinct commands, for the report
CONFIGS = {}      # one config file per peer that needs one, for the report
NOTES = []        # what was skipped or failed, and why
FAILURES = []     # harness failures (smoke: any of these fails the run)


def log(msg):
    print(f"bench: {msg}", flush=True)


def note(msg):
    NOTES.append(msg)
    log(msg)


def record(cmd, tmp):
    """Remember a command for the report, with the temp dir and ports made generic."""
    s = " ".join(shlex.quote(str(c)) for c in cmd)
    s = s.replace(tmp, "$BENCH_TMP").replace(REPO + "/", "")
    s = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", s)
    s = re.sub(r"(nginx|lighttpd)-\d{4,5}\b", r"\1-PORT", s)
    s = re.sub(r"-p \d+(?= |$)", "-p PID", s)
    if s not in COMMANDS:
        COMMANDS.append(s)


def keep_config(kind, path, port, tmp):
    if kind not in CONFIGS:
        with open(path) as f:
            CONFIGS[kind] = f.read().replace(tmp, "$BENCH_TMP").replace(str(port), "PORT")


# ------------------------------------------------------------------------ utilities
def run(cmd, check=True, timeout=None, env=None, cwd=None, quiet=True):
    r = subprocess.run(cmd, cwd=cwd or REPO, env=env, timeout=timeout,
                       stdout=subprocess.PIPE if quiet else None,
                       stderr=subprocess.STDOUT if quiet else None, text=True)
    if check and r.returncode != 0:
        out = (r.stdout or "")[-3000:]
        raise RuntimeError(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{out}")
    return r


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_table():
    """pid -> (ppid, utime+stime+cutime+cstime, utime+cutime) in ticks for every process."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rindex(")") + 2:].split()
        # rest[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17
        table[int(d)] = (int(rest[1]), sum(int(x) for x in rest[11:15]), int(rest[11]) + int(rest[13]))
    return table


def tree(root, table=None):
    table = table or proc_table()
    pids, frontier = [], [root]
    while frontier:
        p = frontier.pop()
        if p in table and p not in pids:
            pids.append(p)
            frontier.extend(c for c, (pp, *_) in table.items() if pp == p)
    return pids


def rss_bytes(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def http_get(port, path=PAGE_PATH, sock=None, timeout=5.0):
    """One GET on `sock` (or a new connection); returns (status, sock). Reads exactly one
    response (Content-Length framing, or to EOF)."""
    own = sock is None
    if own:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    if m:
        need = int(m.group(1))
        while len(body) < need:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed mid-body")
            body += chunk
    else:
        while sock.recv(65536):
            pass
    return status, sock


# --------------------------------------------------------------------- cpu accounting
class Cgroup:
    """A cpuacct cgroup (v1) or a cgroup v2 directory the server is started in, so its
    CPU time covers every thread and every child, even ones the kernel reaped."""

    def __init__(self, name):
        self.path = None
        for base, counter in (("/sys/fs/cgroup/cpuacct", "cpuacct.usage"),
                              ("/sys/fs/cgroup/cpu,cpuacct", "cpuacct.usage"),
                              ("/sys/fs/cgroup/unified", "cpu.stat"),
                              ("/sys/fs/cgroup", "cpu.stat")):
            if not os.path.exists(os.path.join(base, "cgroup.procs")):
                continue
            path = os.path.join(base, f"mote-bench-{os.getpid()}-{name}")
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
            except OSError:
                continue
            if os.path.exists(os.path.join(path, counter)):
                self.path, self.counter = path, counter
                CGROUPS.append(path)
                break
            os.rmdir(path)

    def join(self):  # runs in the child, before exec
        if self.path:
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write("0\n")

    def usage_ns(self):
        if not self.path:
            return None
        with open(os.path.join(self.path, self.counter)) as f:
            text = f.read()
        if self.counter == "cpu.stat":
            return int(re.search(r"usage_usec (\d+)", text).group(1)) * 1000
        return int(text)

    def pids(self):
        if not self.path:
            return []
        with open(os.path.join(self.path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]


def remove_cgroup(path):
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
    note(f"could not remove cgroup {path}")


# --------------------------------------------------------------------------- servers
class Server:
    """One server process (tree), pinned to CPU 0, in its own cgroup."""

    def __init__(self, kind, bins, tmp, site, port=None, runner=None, extra=None, label=None,
                 conns=0, pin=True):
        self.kind, self.bins, self.tmp, self.site = kind, bins, tmp, site
        self.conns = conns  # most connections the test will open (sizes nginx/lighttpd)
        self.pin = pin
        self.port = port or free_port()
        self.runner = runner or []
        self.extra = extra or {}
        self.label = label or kind
        # The `--access-log` file of a mote variant that logs, removed when it stops.
        self.access_log = (os.path.join(tmp, f"access-{self.port}.log")
                           if self.extra.get("access_log") else None)
        self.proc = None
        self.cg = None

    def command(self):
        if getattr(self, "_cmd", None) is None:
            self._cmd = self._command()
        return self._cmd

    def _command(self):
        k, port, tmp = self.kind, self.port, self.tmp
        listen = f"127.0.0.1:{port}"
        if k == "mote":
            cmd = [self.bins["mote"], "--listen", listen]
            if self.extra.get("root", True):
                cmd += ["--root", self.site]
            if self.access_log:
                cmd += ["--access-log", self.access_log]
            return cmd + self.extra.get("args", [])
        if k in ("hyper-ref", "bare-ref"):
            return [self.bins[k], "--listen", listen, "--page", os.path.join(self.site, "index.html")]
        if k == "nginx":
            conf = os.path.join(tmp, f"nginx-{port}.conf")
            d = os.path.join(tmp, f"nginx-{port}")
            os.makedirs(d, exist_ok=True)
            master = "off" if self.extra.get("single") else "on"
            # sized to the test, as an operator would: nginx touches its whole connection
            # array at start-up, so an oversized one would inflate its idle RSS
            # (+20 %: below 1/16 free, nginx starts closing idle keep-alive connections)
            wc = max(1024, int(self.conns * 1.2) + 128)
            with open(conf, "w") as f:
                f.write(f"""daemon off;
master_process {master};
worker_processes 1;
worker_rlimit_nofile {2 * wc};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections {wc}; use epoll; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    types {{ text/html html; }}
    default_type application/octet-stream;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen {listen};
        root {self.site};
        index index.html;
    }}
}}
""")
            keep_config("nginx", conf, port, tmp)
            return ["nginx", "-p", d, "-e", f"{d}/error.log", "-c", conf]
        if k == "lighttpd":
            conf = os.path.join(tmp, f"lighttpd-{port}.conf")
            with open(conf, "w") as f:
                f.write(f"""server.document-root = "{self.site}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{tmp}/lighttpd-{port}.err"
server.max-fds = {2 * max(1024, self.conns + 128)}
server.max-connections = {max(1024, self.conns + 128)}
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 120
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html; charset=utf-8" )
""")
            keep_config("lighttpd", conf, port, tmp)
            return ["lighttpd", "-D", "-f", conf]
        if k == "busybox":
            return ["busybox", "httpd", "-f", "-p", listen, "-h", self.site]
        raise ValueError(k)

    def start(self, wait=True, timeout=15.0, cgroup=True):
        """Pinned to CPU 0 and in its own cgroup. With cgroup=False (cold start) there is no
        preexec hook, so Python can vfork: the affinity is inherited from the driver, which
        sits on CPU 0 just for the Popen call."""
        cmd = self.runner + self.command()
        record((["taskset", "-c", "0"] if self.pin else []) + cmd, self.tmp)
        self.cg = Cgroup(f"{self.label}-{self.port}".replace(" ", "_")) if cgroup else None
        cg, pin = self.cg, self.pin

        def child():
            if pin:
                os.sched_setaffinity(0, {0})
            if cg:
                cg.join()

        self.err = open(os.path.join(self.tmp, f"{self.label}-{self.port}.log".replace(" ", "_")), "w")
        if cgroup or not pin:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.err,
                                         stderr=subprocess.STDOUT, preexec_fn=child, cwd=self.tmp)
        else:
            mine = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {0})
            try:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.err,
                                             stderr=subprocess.STDOUT, cwd=self.tmp)
            finally:
                os.sched_setaffinity(0, mine)
        STARTED.append(self)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                status, s = self.get(timeout=2.0)
                s.close()
                if status == 200:
                    return
                last = f"status {status}"
            except OSError as e:
                last = e
            time.sleep(0.01)
        self.stop()
        with open(self.err.name) as f:
            out = f.read()[-2000:]
        raise RuntimeError(f"{self.label} did not answer 200 on port {self.port} ({last}); log:\n{out}")

    def get(self, **kw):
        """One GET of the page on a new connection: (status, socket)."""
        return http_get(self.port, **kw)

    def wrap(self, sock):
        """A connected socket as this server's clients speak on it (TlsServer: over TLS)."""
        return sock

    def pids(self):
        if not self.proc or self.proc.poll() is not None:
            return self.cg.pids() if self.cg else []
        return tree(self.proc.pid)

    def cpu(self):
        """(cgroup ns or None, /proc ticks per pid, /proc user-mode ticks per pid)"""
        table = proc_table()
        pids = tree(self.proc.pid, table)
        return (self.cg.usage_ns() if self.cg else None), {p: table[p][1] for p in pids}, {p: table[p][2] for p in pids}

    def stop(self):
        if not self.proc:
            return
        pids = set(self.pids()) | {self.proc.pid}
        if self.cg:
            pids |= set(self.cg.pids())
        for p in sorted(pids):
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 3
        while True:
            alive = [p for p in pids if os.path.exists(f"/proc/{p}") and not _zombie(p)]
            if self.cg:
                alive += [p for p in self.cg.pids() if p not in alive]
            if not alive:
                break
            if time.monotonic() > deadline:
                for p in alive:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + 3
            time.sleep(0.02)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err.close()
        if self.access_log:
            # Every round's lines: a few hundred MB by the end, on what may be a tmpfs.
            with contextlib.suppress(OSError):
                os.remove(self.access_log)
        if self.cg and self.cg.path:
            remove_cgroup(self.cg.path)
            CGROUPS.remove(self.cg.path)
        if self in STARTED:
            STARTED.remove(self)
        self.proc = None


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2] == "Z"
    except OSError:
        return False


def cpu_delta(before, after):
    """(cgroup µs or None, /proc µs, /proc user-mode µs) between two Server.cpu() readings."""
    cg = (after[0] - before[0]) / 1000 if before[0] is not None else None
    ticks = sum(t - before[1].get(p, 0) for p, t in after[1].items())
    user = sum(t - before[2].get(p, 0) for p, t in after[2].items())
    return cg, ticks * 1e6 / CLK_TCK, user * 1e6 / CLK_TCK


# ------------------------------------------------------------------------------- wrk
WRK_DONE = r"""
done = function(s, lat, req)
  io.write(string.format("WRKJSON {\"requests\":%d,\"bytes\":%d,\"duration_us\":%d,\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d,\"p50\":%d,\"p99\":%d}\n",
    s.requests, s.bytes, s.duration, s.errors.connect, s.errors.read, s.errors.write,
    s.errors.status, s.errors.timeout, lat:percentile(50), lat:percentile(99)))
end
"""
WRK_PIPELINE = r"""
init = function(args)
  local depth = tonumber(args[1] or "16")
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil) end
  req = table.concat(r)
end
request = function() return req end
"""


def wrk(tmp, port, conns, secs, pipeline=0, timeout_s=10, threads=1, pin=True, header=None,
        scheme="http"):
    script = os.path.join(tmp, "pipeline.lua" if pipeline else "report.lua")
    cmd = (["taskset", "-c", "1"] if pin else []) + ["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--latency",
           f"--timeout", f"{timeout_s}s"] + (["-H", header] if header else []) + [
           "-s", script, f"{scheme}://127.0.0.1:{port}{PAGE_PATH}"]
    if pipeline:
        cmd += ["--", str(pipeline)]
    record(cmd, tmp)
    r = run(cmd, timeout=secs + 60)
    m = re.search(r"WRKJSON (\{.*\})", r.stdout)
    if not m:
        raise RuntimeError(f"wrk printed no summary:\n{r.stdout[-2000:]}")
    res = json.loads(m.group(1))
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6) if res["duration_us"] else 0
    res["errors"] = sum(res[k] for k in ("connect", "read", "write", "status", "timeout"))
    res["bytes_per_resp"] = res["bytes"] / res["requests"] if res["requests"] else 0
    return res


def loaded(srv, tmp, conns, secs, pipeline=0, **kw):
    """A wrk run with the server's CPU time around it."""
    before = srv.cpu()
    res = wrk(tmp, srv.port, conns, secs, pipeline, **kw)
    after = srv.cpu()
    cg, pr, user = cpu_delta(before, after)
    n = max(res["requests"], 1)
    res["user_share"] = user / pr if pr else 0
    res["cpu_us"] = (cg if cg is not None else pr) / n
    res["cpu_proc_us"] = pr / n
    res["cpu_src"] = "cgroup" if cg is not None else "/proc"
    return res


# --------------------------------------------------------------------- the measures
def warm(port, conns=10, each=20):
    """A few hundred requests over a few keep-alive connections (wrk's -d is whole seconds)."""
    socks = [http_get(port)[1] for _ in range(conns)]
    for _ in range(each - 1):
        for i, s in enumerate(socks):
            try:
                http_get(port, sock=s)
            except OSError:  # busybox closes after each response
                s.close()
                socks[i] = http_get(port)[1]
    for s in socks:
        s.close()


def m_main(ctx):
    """Every server up at once (idle ones cost nothing), then ROUNDS rounds of one wrk run
    per server in turn: the medians are what the report shows, so a burst of other work
    on the box hits one round of one server, not a server's only figure."""
    servers = {}
    try:
        for name in main_order():
            servers[name] = ctx.named(name).start()
            log(f"load: warming {name}")
            wrk(ctx.tmp, servers[name].port, K["main_conns"], K["warm_secs"])
        runs = {name: [] for name in servers}
        for rnd in range(K["rounds"]):
            # Every other round in reverse order: no server always follows the same one.
            for name, srv in (list(servers.items())[::-1] if rnd % 2 else servers.items()):
                if rnd >= FEW_ROUNDS.get(name, K["rounds"]):
                    continue
                log(f"load: round {rnd + 1}/{K['rounds']} {name}, c={K['main_conns']}, {K['main_secs']}s")
                runs[name].append(loaded(srv, ctx.tmp, K["main_conns"], K["main_secs"]))
    finally:
        for srv in servers.values():
            srv.stop()
    out = {}
    for name, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs)
               for k in ("rps", "p50", "p99", "cpu_us", "cpu_proc_us", "bytes_per_resp", "user_share")}
        med["requests"] = sum(r["requests"] for r in rs)
        med["errors"] = sum(r["errors"] for r in rs)
        med["cpu_all"] = [r["cpu_us"] for r in rs]
        out[name] = med
    return out


def paired_ratio(main, a, b):
    """Median over rounds of a's CPU/request ÷ b's in the same round (run seconds apart),
    and the rounds' min and max: drift on the box cancels out of each round's ratio."""
    ratios = [x / y for x, y in zip(main[a]["cpu_all"], main[b]["cpu_all"]) if y > 0]
    return (statistics.median(ratios), min(ratios), max(ratios)) if ratios else (None, None, None)


def m_scaling(ctx):
    """mote --threads 1 vs 2, neither pinned (wrk shares the two cores): informational."""
    out = {}
    for threads in (1, 2):
        label = f"mote --threads {threads}"
        log(f"scaling: {label} (unpinned)")
        srv = ctx.server("mote", extra={"args": ["--threads", str(threads)]}, label=f"mote-t{threads}",
                         pin=False).start()
        try:
            wrk(ctx.tmp, srv.port, K["main_conns"], 1, threads=2, pin=False)
            out[label] = loaded(srv, ctx.tmp, K["main_conns"], K["main_secs"], threads=2, pin=False)
        finally:
            srv.stop()
    return out


def strace_count(srv, tmp, conns, secs, pipeline):
    out = os.path.join(tmp, f"strace-{srv.label}-{pipeline}.txt")
    cmd = ["strace", "-f", "-c", "-U", "calls,errors,name", "-o", out]
    for p in srv.pids():
        cmd += ["-p", str(p)]
    record(cmd, tmp)
    errlog = open(out + ".log", "w")
    st = subprocess.Popen(cmd, stdout=errlog, stderr=subprocess.STDOUT)
    STARTED.append(st)
    try:
        deadline = time.monotonic() + 5
        want = len(srv.pids())
        while time.monotonic() < deadline:  # wait until strace says it attached to all
            with open(out + ".log") as f:
                if f.read().count("attached") >= want:
                    break
            time.sleep(0.02)
        time.sleep(0.2)
        res = wrk(tmp, srv.port, conns, secs, pipeline)
    finally:
        st.send_signal(signal.SIGINT)
        try:
            st.wait(timeout=20)
        except subprocess.TimeoutExpired:
            st.kill()
            st.wait()
        STARTED.remove(st)
        errlog.close()
    calls, by_name = 0, {}
    with open(out) as f:
        for line in f:
            t = line.split()
            if len(t) >= 2 and t[0].isdigit():
                if t[-1] == "total":
                    calls = int(t[0])
                else:
                    by_name[t[-1]] = int(t[0])
    n = max(res["requests"], 1)
    top = sorted(by_name.items(), key=lambda kv: -kv[1])[:5]
    return {"requests": res["requests"], "calls": calls, "per_req": calls / n,
            "top": ", ".join(f"{k} {v / n:.2f}" for k, v in top), "errors": res["errors"]}


def m_syscalls(ctx):
    out = {}
    for name in K["servers"] + list(VARIANTS):
        out[name] = {}
        for mode, pipeline in (("keepalive", 0), ("pipelined", 16)):
            if name == "busybox" and pipeline:
                out[name][mode] = {"na": "closes after each response: no pipelining"}
                continue
            log(f"strace: {name} {mode}")
            srv = ctx.named(name).start()
            try:
                warm(srv.port)
                out[name][mode] = strace_count(srv, ctx.tmp, K["main_conns"], K["strace_secs"],
                                               pipeline)
            finally:
                srv.stop()
    return out


def m_idle_conns(ctx):
    out = {}
    n = K["idle_conns"]
    for name in K["servers"]:
        if name == "busybox":
            out[name] = {"na": "closes after each response: no idle keep-alive connections"}
            continue
        log(f"idle connections: {name}, {n}")
        out[name] = hold_idle(ctx.server(name, conns=n).start(), n)
    return out


def hold_idle(srv, n):
    """RSS of the server's processes before and after opening n connections that each made
    one request and stay idle; stops the server."""
    socks = []
    try:
        srv.get()[1].close()
        time.sleep(0.3)
        before = rss_bytes(srv.pids())
        for _ in range(n):
            status, s = srv.get(timeout=10)
            socks.append(s)
            if status != 200:
                raise RuntimeError(f"{srv.label}: status {status} while opening idle connections")
        time.sleep(0.5)
        after = rss_bytes(srv.pids())
        # every connection must still be open: a read would block, not see EOF
        still = 0
        for s in socks:
            s.setblocking(False)
            try:
                still += 0 if s.recv(1) == b"" else 1
            except (BlockingIOError, ssl.SSLWantReadError):
                still += 1
            except OSError:
                pass
        return {"before": before, "after": after, "conns": n, "open": still,
                "per_conn": (after - before) / n}
    finally:
        for s in socks:
            s.close()
        srv.stop()


def m_idle_rss(ctx):
    out = {}
    rows = []
    if ctx.bins.get("mote-static"):
        rows.append(("mote (static musl, embedded site)", "mote",
                     {"bins": {"mote": ctx.bins["mote-static"]}, "extra": {"root": False}}))
        rows.append(("mote (static musl, --root)", "mote",
                     {"bins": {"mote": ctx.bins["mote-static"]}}))
    rows.append(("mote (glibc, --root)", "mote", {}))
    rows += [(n, n, {}) for n in K["servers"] if n != "mote"]
    for label, kind, kw in rows:
        log(f"idle RSS: {label}")
        srv = ctx.server(kind, label=label.split(" ")[0], **kw).start()
        try:
            http_get(srv.port)[1].close()
            time.sleep(0.3)
            pids = srv.pids()
            out[label] = {"rss": rss_bytes(pids), "procs": len(pids)}
        finally:
            srv.stop()
    return out


def m_cold_start(ctx):
    """Runs interleaved (mote, nginx, ..., mote, nginx, ...) so a burst of other work on
    the box does not land on one server's runs only."""
    rows = [(n, n, {}) for n in K["servers"]]
    if ctx.bins.get("mote-static"):
        # The static musl binary is what ships (make pi / make static); it serves the
        # same --root page as the peers, so it is the row the verdict uses.
        rows.append(("mote (static musl, --root)", "mote", {"bins": {"mote": ctx.bins["mote-static"]}}))
        rows.append(("mote (static musl, embedded site)", "mote",
                     {"bins": {"mote": ctx.bins["mote-static"]}, "extra": {"root": False}}))
    times = {label: [] for label, _, _ in rows}
    log(f"cold start: {len(rows)} servers x{K['cold_runs']}, interleaved")
    for _ in range(K["cold_runs"]):
        for label, kind, kw in rows:
            srv = ctx.server(kind, label=label.split(" ")[0], **kw)
            srv.command()  # write its config before the clock starts
            t0 = time.perf_counter()
            srv.start(wait=False, cgroup=False)
            try:
                got = None
                while time.perf_counter() - t0 < 10:
                    try:
                        status, s = http_get(srv.port, timeout=5)
                        s.close()
                        if status == 200:
                            got = time.perf_counter() - t0
                            break
                    except OSError:
                        pass
                    if srv.proc.poll() is not None:
                        break
                if got is None:
                    raise RuntimeError(f"{label}: no 200 within 10 s of exec")
                times[label].append(got * 1000)
            finally:
                srv.stop()
    return {label: {"median_ms": statistics.median(t), "min_ms": min(t), "max_ms": max(t),
                    "runs": len(t)} for label, t in times.items()}


def requests_then_stop(srv, what, count, listen_secs, get_secs, path=PAGE_PATH, status_wanted=200):
    """Starts SRV outside a cgroup, waits for its port without sending a request (every
    request counts), sends COUNT keep-alive GETs of PATH on one connection, each answered
    STATUS_WANTED, and stops it. Returns what a TLS connection negotiated (else None)."""
    srv.start(wait=False, cgroup=False)
    try:
        deadline = time.monotonic() + listen_secs
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or srv.proc.poll() is not None:
                    raise RuntimeError(f"{what} did not listen")
                time.sleep(0.05)
        s.settimeout(get_secs)
        s = srv.wrap(s)
        for _ in range(count):
            status, s = http_get(srv.port, path, sock=s, timeout=get_secs)
            if status != status_wanted:
                raise RuntimeError(f"{what}: status {status}")
        spoke = f"{s.version()} {s.cipher()[0]}" if isinstance(s, ssl.SSLSocket) else None
        s.close()
        time.sleep(0.3)
    finally:
        srv.stop()
    return spoke


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def callgrind_runs(ctx, tag, server, what, r, **kw):
    """Two runs under callgrind, one connection each: 1 and 1 + r requests (requests_then_stop;
    `server(runner)` makes the server). The instructions of the first run (start-up, one
    request, exit), the difference per extra request, and what a TLS connection negotiated."""
    totals = []
    for count in (1, 1 + r):
        cgout = os.path.join(ctx.tmp, f"callgrind-{tag}-{count}.out")
        spoke = requests_then_stop(server(["valgrind", "--tool=callgrind", f"--callgrind-out-file={cgout}"]),
                                   what, count, 60, 30, **kw)
        totals.append(callgrind_total(cgout))
    return totals[0], (totals[1] - totals[0]) / r, spoke


def m_callgrind(ctx):
    out = {}
    r = K["cg_requests"]
    for name in K["cg_servers"]:
        if name not in K["servers"] and not SMOKE:
            continue
        log(f"callgrind: {name}, 1 and 1+{r} requests")
        startup, per_req, _ = callgrind_runs(
            ctx, name, lambda runner: ctx.server(name, runner=runner, extra={"single": True}),
            f"{name} under valgrind", r)
        out[name] = {"startup_ir": startup, "per_req": per_req, "requests": r}
    return out


# `_redirects` rows: (row, site, path, status). "rules" is the bench page's site with a
# 1,000-rule `_redirects` beside it: 500 exact paths and 500 splats with placeholders,
# as a moved blog's file reads.
REDIRECT_RULES = 1000
REDIRECT_ROWS = [
    ("static file, no _redirects", "plain", PAGE_PATH, 200),
    ("matched: an exact rule of 1,000 (301)", "rules", "/old/250", 301),
    ("matched: a splat rule of 1,000 (302, Location built per request)", "rules", "/p250/a/b", 302),
    ("unmatched: a file, with the 1,000 rules", "rules", PAGE_PATH, 200),
    ("for scale: a directory without its slash (301 built per request, no rule)", "rules", "/sub", 301),
]


def rules_site(ctx):
    """The bench page's site with REDIRECT_RULES rules in its `_redirects`."""
    site = os.path.join(ctx.tmp, "site-rules")
    if not os.path.isdir(site):
        os.makedirs(site)
        shutil.copy(os.path.join(ctx.site, "index.html"), site)
        os.makedirs(os.path.join(site, "sub"))
        shutil.copy(os.path.join(ctx.site, "index.html"), os.path.join(site, "sub"))
        with open(os.path.join(site, "_redirects"), "w") as f:
            for n in range(REDIRECT_RULES // 2):
                f.write(f"/old/{n} /new/{n}\n/p{n}/* /to/{n}/:splat 302\n")
    return site


def m_redirects(ctx):
    """Callgrind's instructions per request for the REDIRECT_ROWS, as m_callgrind counts
    them: one connection, runs of 1 and 1 + N requests, the difference over N."""
    r = K["cg_requests"]
    sites = {"plain": ctx.site, "rules": rules_site(ctx)}
    out = {}
    for row, site, path, status in REDIRECT_ROWS:
        log(f"redirects: {row}, 1 and 1+{r} requests")
        n = len(out)
        _, per_req, _ = callgrind_runs(
            ctx, f"redirects-{n}",
            lambda runner: Server("mote", ctx.bins, ctx.tmp, sites[site], runner=runner, label=f"mote-rules-{n}"),
            f"mote under valgrind ({row})", r, path=path, status_wanted=status)
        out[row] = {"path": path, "status": status, "per_req": per_req}
    return out


def redirect_targets(T, rd):
    """The targets for `_redirects`: with 1,000 rules, a matched request at no more
    instructions than a static file, an unmatched one at no more than without rules."""
    if len(rd) != len(REDIRECT_ROWS):
        return
    static, exact, _, unmatched, _ = (rd[row]["per_req"] for row, *_ in REDIRECT_ROWS)
    # callgrind repeats to a few instructions (the rules' hash tables are seeded per
    # process, so a lookup's probes vary by a few); 1% is that noise, not a cost.
    T.append(("_redirects, 1,000 rules: a matched request ≤ a static file (callgrind)",
              f"{exact:,.0f} Ir", f"static file {static:,.0f} Ir (+1% noise)", exact <= static * 1.01))
    T.append(("_redirects, 1,000 rules: an unmatched request ≤ a static file without rules",
              f"{unmatched:,.0f} Ir", f"static file {static:,.0f} Ir (+1% noise)", unmatched <= static * 1.01))


def redirect_section(w, rd):
    w("## `_redirects`: instructions per request (`valgrind --tool=callgrind`)\n")
    w(f"Method as above (mote only, 1 and 1 + {K['cg_requests']} keep-alive GETs of one path). "
      f"\"rules\" is the bench page's site with a {REDIRECT_RULES:,}-rule `_redirects` "
      "(half exact paths, half splats with placeholders). A redirect whose Location is fixed is "
      "answered from a head built at load, which the memo recalls as it does a file's; one that "
      "carries the request's path is built per request.\n")
    w("| row | path | status | Ir per request |")
    w("|---|---|---|---|")
    for row, r in rd.items():
        w(f"| {row} | `{r['path']}` | {r['status']} | {r['per_req']:,.0f} |")
    w("")


def m_sweep(ctx):
    """Like the main run: every server up at once, and per level ROUNDS rounds that visit
    the servers in turn (reversed every other round); each cell is the median round."""
    levels = {name: list(K["sweep"]) + ([K["sweep_big"][name]] if name in K["sweep_big"] else [])
              for name in K["servers"]}
    servers = {}
    runs = {name: {} for name in K["servers"]}
    try:
        for name in K["servers"]:
            servers[name] = ctx.server(name, conns=max(levels[name])).start()
        for c in sorted({c for ls in levels.values() for c in ls}):
            here = [(n, srv) for n, srv in servers.items() if c in levels[n]]
            for rnd in range(K["sweep_rounds"]):
                for name, srv in (here[::-1] if rnd % 2 else here):
                    if rnd >= FEW_SWEEP_ROUNDS.get(name, K["sweep_rounds"]):
                        continue
                    log(f"sweep: c={c} round {rnd + 1}/{K['sweep_rounds']} {name}")
                    runs[name].setdefault(c, []).append(loaded(srv, ctx.tmp, c, K["sweep_secs"]))
    finally:
        for srv in servers.values():
            srv.stop()
    out = {}
    for name, by_level in runs.items():
        out[name] = {}
        for c, rs in by_level.items():
            cell = {k: statistics.median(r[k] for r in rs) for k in ("rps", "p99", "cpu_us")}
            cell["errors"] = sum(r["errors"] for r in rs)
            cell["cpu_all"] = [r["cpu_us"] for r in rs]
            out[name][c] = cell
    return out


def m_conn_cost(ctx):
    """CPU per request when every request opens its own connection (`Connection: close`):
    what a server pays per connection, which the high sweep levels include."""
    out = {}
    for name in K["servers"]:
        srv = ctx.server(name).start()
        try:
            log(f"connection cost: {name}")
            out[name] = loaded(srv, ctx.tmp, K["main_conns"], K["sweep_secs"], header="Connection: close")
        finally:
            srv.stop()
    return out


def build_hyper_arm(ctx):
    if os.environ.get("HYPER_ARM_BIN"):
        return os.environ["HYPER_ARM_BIN"]
    target_dir = ctx.hyper_target_dir
    binp = os.path.join(target_dir, ARMV6, "release", "hyper-ref")
    if os.environ.get("BENCH_NO_BUILD"):
        return binp if os.path.exists(binp) else None
    if not shutil.which("cargo-zigbuild"):
        r = run(["make", "--no-print-directory", "tools-cross"], check=False)
        if r.returncode != 0 or not shutil.which("cargo-zigbuild"):
            note("ARMv6: cargo-zigbuild could not be installed (`make tools-cross`); skipped")
            return None
    log("building hyper-ref for ARMv6 (cargo zigbuild, std rebuilt; slow the first time)")
    env = dict(os.environ, RUSTC_BOOTSTRAP="1", CARGO_TARGET_DIR=target_dir,
               RUSTFLAGS=f"-C link-self-contained=no -C target-cpu={ARMV6_CPU}")
    cmd = ["cargo", "zigbuild", "-q", "--release", "--target", ARMV6,
           "-Zbuild-std=std,panic_abort", "--manifest-path",
           os.path.join(HERE, "hyper-ref", "Cargo.toml")]
    record(["RUSTC_BOOTSTRAP=1", f"RUSTFLAGS='{env['RUSTFLAGS']}'"] + cmd, ctx.tmp)
    run(cmd, env=env, timeout=900)
    return binp


# ------------------------------------------------------------ ARMv6 on the booted board
# The ARM figures come from Debian's rpi kernel on QEMU's Pi Zero board (raspi0, one
# ARM1176 core): both servers in one guest, the keep-alive client of make pi-boot
# (.ci/board/client.c) beside them, the guest script bench/board.sh. qemu-user would
# run every system call natively on the host and leave out the kernel's share of a
# request, most of the cost on a Pi. The board emulates neither the ARM1176's caches
# nor its timing, so the user-space instruction count per request is measured beside it
# (m_arm_insns), a figure that repeats.
# Rounds repeat to the instruction under -icount (below), so three show the spread.
BOARD_ROUNDS, BOARD_CONNS, BOARD_REQUESTS = 3, 8, 2000
BOARD_TIMEOUT = 900
# The guest's clock advances by the instructions it runs (-icount, 2^0 ns each: a 1 GHz
# core at one instruction a cycle), not by the host's: otherwise the CPU time the guest
# accounts follows how busy the host is, and the rounds spread by 2x on a shared machine.
BOARD_QEMU = ["-icount", "shift=0"]


def board_module():
    """.ci/board/boot.py, which boots the board for make pi-boot."""
    path = os.path.join(REPO, ".ci", "board", "boot.py")
    spec = importlib.util.spec_from_file_location("board_boot", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def m_board(ctx):
    mote_arm = ctx.bins.get("mote-arm")
    if not mote_arm or not os.path.exists(mote_arm):
        raise RuntimeError(f"{mote_arm or 'the ARMv6 mote'} is not built (`make pi`)")
    hyper_arm = build_hyper_arm(ctx)
    if not hyper_arm or not os.path.exists(hyper_arm):
        raise RuntimeError("hyper-ref for ARMv6 is not built")
    target = os.path.abspath(os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target"))
    cache = os.path.join(target, "board")
    client = os.path.join(cache, "mote-client")
    log("board: qemu-system-arm, cpio and the guest's client (make tools-board board-client)")
    run(["make", "--no-print-directory", "tools-board", "board-client"], timeout=900)
    board = board_module()
    files = board.board_files(cache, board.Archive(cache), "raspi0")
    work = os.path.join(cache, "boot", "raspi0-bench")
    os.makedirs(work, exist_ok=True)
    fs = board.Rootfs(os.path.join(work, "rootfs"), files["busybox"])
    fs.put(mote_arm, "/bench/mote")
    fs.put(hyper_arm, "/bench/hyper-ref")
    fs.put(client, "/bench/mote-client")
    fs.put(os.path.join(ctx.site, "index.html"), "/bench/site/index.html", 0o644)
    fs.put(os.path.join(HERE, "board.sh"), "/bench/board.sh")
    fs.write("/etc/inittab", "::sysinit:/etc/init.d/rcS\n::once:/bench/board.sh\n")
    fs.env(BOARD="raspi0", BUILD="bench", LOG="", RUN_USER="", ROUNDS=str(BOARD_ROUNDS),
           CONNS=str(BOARD_CONNS), REQUESTS=str(BOARD_REQUESTS))
    initrd = board.cpio_gz(fs.path, os.path.join(work, "initramfs.cpio.gz"))
    rounds, rss, info = {"mote": [], "hyper-ref": []}, {}, {}

    def on_line(text):
        f = text.split()
        if text.startswith("BENCH-FAIL"):
            raise board.BootError(text)
        if text.startswith("BENCH-START"):
            info["guest"] = text[len("BENCH-START "):]
        elif f[:1] == ["ROUND"] and len(f) == 8 and f[2] in rounds:
            requests, utime, stime, wall, ns = map(int, f[3:])
            # The total from schedstat; its split by the sampled ticks' shares.
            cpu = ns / 1000 / requests
            user = cpu * utime / max(utime + stime, 1)
            rounds[f[2]].append(dict(user_us=user, sys_us=cpu - user, cpu_us=cpu,
                                     ticks_us=(utime + stime) * 1e4 / requests,
                                     rps=requests * 100 / max(wall, 1)))
            log(f"board: round {f[1]} {f[2]}: {cpu:.1f} µs CPU per request (user {user:.1f}, "
                f"system {cpu - user:.1f}; {utime} + {stime} ticks)")
        elif f[:1] == ["RSS"] and len(f) == 4:
            rss[f[1]] = dict(rss_kb=int(f[2]), hwm_kb=int(f[3]))

    log(f"board: booting the Pi Zero board: {BOARD_ROUNDS} rounds of {BOARD_CONNS} x {BOARD_REQUESTS} requests")
    try:
        _, elapsed = board.console_run("bench", "raspi0", files["kernel"], files["dtb"], initrd, work,
                                       BOARD_TIMEOUT, on_line, BOARD_QEMU)
    except board.BootError as e:
        raise RuntimeError(f"board run: {e}")
    if any(len(r) != BOARD_ROUNDS for r in rounds.values()) or set(rss) != set(rounds):
        raise RuntimeError(f"board run: not every round or RSS line was seen (console in {work})")
    out = {"kernel": files["kernel"], "guest": info.get("guest", ""), "secs": elapsed,
           "mote_bin": mote_arm, "mote_mtime": os.path.getmtime(mote_arm),
           "rounds": BOARD_ROUNDS, "conns": BOARD_CONNS, "requests": BOARD_REQUESTS}
    for name, rs in rounds.items():
        out[name] = {k: statistics.median(r[k] for r in rs) for k in ("user_us", "sys_us", "cpu_us", "ticks_us", "rps")}
        out[name]["cpu_min"] = min(r["cpu_us"] for r in rs)
        out[name]["cpu_max"] = max(r["cpu_us"] for r in rs)
        out[name].update(rss[name])
    ratios = [m["cpu_us"] / h["cpu_us"] for m, h in zip(rounds["mote"], rounds["hyper-ref"])]
    out["paired"] = dict(median=statistics.median(ratios), lo=min(ratios), hi=max(ratios))
    return out


def qemu_insns(ctx, name, binp, requests):
    """User-space instructions qemu-arm (-cpu arm1176) executed in NAME from its start
    through REQUESTS keep-alive GETs and its stop: qemu runs one instruction per
    translation block (-singlestep) and logs each block it executes (-d exec,nochain)
    into a pipe, where the lines are counted."""
    fifo = os.path.join(ctx.tmp, f"insns-{name}-{requests}")
    os.mkfifo(fifo)
    counted = {}

    def reader():
        n, carry = 0, b""
        with open(fifo, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                buf = carry + chunk
                n += buf.count(b"Trace ")
                carry = buf[-5:]
        counted["n"] = n

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    runner = ["qemu-arm", "-cpu", "arm1176", "-singlestep", "-d", "exec,nochain", "-D", fifo]
    srv = ctx.server(name, runner=runner, bins={name: binp}, label=f"{name}-armv6-insns")
    requests_then_stop(srv, f"{name} under qemu-arm -singlestep", requests, 120, 60)
    thread.join(timeout=300)
    os.unlink(fifo)
    if "n" not in counted:
        raise RuntimeError(f"{name} under qemu-arm: the instruction log did not end")
    return counted["n"]


def m_arm_insns(ctx):
    """Instructions per request of the ARMv6 builds, from two runs that differ by
    ARM_INSN_REQUESTS requests (so start-up and stop cancel out)."""
    if not shutil.which("qemu-arm"):
        raise RuntimeError("qemu-arm is missing (apt: qemu-user)")
    bins = {"mote": ctx.bins.get("mote-arm"), "hyper-ref": build_hyper_arm(ctx)}
    out = {}
    for name, binp in bins.items():
        if not binp or not os.path.exists(binp):
            raise RuntimeError(f"{name} for ARMv6 is not built")
        r = ARM_INSN_REQUESTS[name]
        per_req, startup = [], []
        for run_ in range(ARM_INSN_REPEATS):
            log(f"ARMv6 instructions: {name}, 1 and 1+{r} requests under qemu-arm -singlestep "
                f"({run_ + 1} of {ARM_INSN_REPEATS})")
            totals = [qemu_insns(ctx, name, binp, count) for count in (1, 1 + r)]
            per_req.append((totals[1] - totals[0]) / r)
            startup.append(totals[0])
        out[name] = {"startup": min(startup), "per_req": statistics.median(per_req),
                     "per_req_all": per_req, "requests": r}
    return out


# N for each server (hyper-ref's requests cost ten times mote's), and how many times the
# pair of runs is repeated: the count moves by a few per cent between runs, with how the
# client's requests and the server's waits fall.
ARM_INSN_REQUESTS = {"mote": 2000, "hyper-ref": 500}
ARM_INSN_REPEATS = 2


def board_target(T, board):
    """The ARM target: capacity on the board, hyper-ref's CPU per request ÷ mote's, met
    when the medians and the median of the rounds' own ratios both say so."""
    if not (board and "mote" in board and "hyper-ref" in board):
        if not SMOKE:
            T.append((f"ARMv6 on the emulated Pi Zero: capacity ≥ {T_ARM_RATIO}× hyper-ref", "not measured",
                      "see notes", None))
        return
    m, h, p = board["mote"], board["hyper-ref"], board["paired"]
    cap = h["cpu_us"] / m["cpu_us"]
    T.append((f"ARMv6 on the emulated Pi Zero (raspi0, Debian's rpi kernel): capacity ≥ {T_ARM_RATIO}× "
              "hyper-ref (its CPU per request ÷ mote's)",
              f"{cap:.2f}× by medians, {1 / p['median']:.2f}× median of the {board['rounds']} rounds' ratios; "
              f"mote {m['cpu_us']:.1f} µs (user {m['user_us']:.1f}, system {m['sys_us']:.1f})",
              f"hyper-ref {h['cpu_us']:.1f} µs (user {h['user_us']:.1f}, system {h['sys_us']:.1f}); "
              "emulated µs (1 ns per guest instruction), not a Pi's", cap >= T_ARM_RATIO and 1 / p["median"] >= T_ARM_RATIO))


def board_section(w, board, insns):
    if board:
        shown = board["mote_bin"]
        if shown.startswith(REPO + "/"):
            shown = shown[len(REPO) + 1:]
        w(f"## ARMv6 on an emulated Pi Zero (QEMU `raspi0`, Debian's rpi kernel)\n")
        w(f"Guest: {board['guest']}, one emulated ARM1176 core, booted from an initramfs with "
          f"busybox ({board['secs']:.0f} s from boot to the end). mote: `{shown}` built "
          f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(board['mote_mtime']))} (`make pi`); "
          "hyper-ref built for ARMv6 with std rebuilt (target-cpu arm1176jzf-s). Both servers run "
          "at once in the guest and serve the same page; the keep-alive client of `make pi-boot` "
          f"(.ci/board/client.c) runs beside them on the same core: {board['conns']} connections × "
          f"{board['requests']} requests a round, {board['rounds']} rounds visiting the servers in "
          "turn, the order reversed every other round (bench/board.sh). CPU per request is each "
          "server's CPU time over the round from the guest's /proc/PID/task/*/schedstat ÷ "
          "requests, split into user and system by the shares of the utime and stime ticks in "
          "/proc/PID/stat; medians, with the rounds' spread. QEMU runs the board with "
          f"`{' '.join(BOARD_QEMU)}`: the guest's clock advances 1 ns per instruction it "
          "runs, so a µs here is a thousand guest instructions, the kernel's included, and the "
          "rounds repeat whatever else the host is doing. The board emulates neither the "
          "ARM1176's caches nor its timing: these are not a Pi's microseconds, and the ratio "
          "between the servers is what carries; the kernel's share (system) is in them, which "
          "qemu-user runs on the host and leaves out. RSS: VmRSS and VmHWM from "
          "/proc/PID/status after the last round.\n")
        w("| server | CPU µs/request | user µs | system µs | rounds min–max | RSS kB | peak RSS kB | req/s (emulated) |")
        w("|---|---|---|---|---|---|---|---|")
        for s in ("mote", "hyper-ref"):
            r = board[s]
            w(f"| {s} | {r['cpu_us']:.1f} | {r['user_us']:.1f} | {r['sys_us']:.1f} | "
              f"{r['cpu_min']:.1f}–{r['cpu_max']:.1f} | {r['rss_kb']} | {r['hwm_kb']} | {r['rps']:,.0f} |")
        p = board["paired"]
        w(f"\nmote's CPU per request ÷ hyper-ref's, round by round: median {p['median']:.2f} "
          f"({p['lo']:.2f}–{p['hi']:.2f}).\n")
    if insns:
        w("### ARMv6 user-space instructions per request (`qemu-arm -cpu arm1176`, counted)\n")
        w("A figure that repeats, beside the board's: qemu-arm runs one instruction per "
          "translation block (`-singlestep`) and logs every block it executes (`-d exec,nochain`) "
          "into a pipe where the lines are counted; two runs, one request and 1 + N keep-alive "
          "requests on one connection, and the difference ÷ N. User space only: qemu-user runs "
          "the system calls on the host. The x86_64 figure from callgrind is in the targets above.\n")
        w("| server | instructions/request | each pair of runs | requests (N) | start-up and one request |")
        w("|---|---|---|---|---|")
        for s, r in insns.items():
            w(f"| {s} | {r['per_req']:,.0f} | {', '.join(f'{v:,.0f}' for v in r['per_req_all'])} | "
              f"{r['requests']} | {r['startup']:,} |")
        w("")


# ------------------------------------------------------------------ tools and builds
def ensure_tools():
    need = {"wrk": "wrk", "strace": "strace", "valgrind": "valgrind", "taskset": "util-linux"}
    need.update(TLS_TOOLS)
    if not SMOKE:
        need.update({"nginx": "nginx-light", "lighttpd": "lighttpd", "busybox": "busybox",
                     "qemu-arm": "qemu-user"})
    missing = sorted({pkg for cmd, pkg in need.items() if not shutil.which(cmd)})
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        log(f"installing {' '.join(missing)} (apt)...")
        run(sudo + ["apt-get", "update", "-qq"], timeout=600)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(sudo + ["apt-get", "install", "-y", "-qq"] + missing, env=env, timeout=900)


class Ctx:
    def __init__(self, tmp, site, bins, hyper_target_dir):
        self.tmp, self.site, self.bins = tmp, site, bins
        self.hyper_target_dir = hyper_target_dir

    def server(self, kind, bins=None, **kw):
        return Server(kind, bins or self.bins, self.tmp, self.site, **kw)

    def named(self, name):
        """A server of K["servers"], or one of the mote VARIANTS, by its row name."""
        v = VARIANTS.get(name)
        return self.server(v["kind"], extra=v["extra"], label=v["label"]) if v else self.server(name)


def build(tmp):
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    target = os.path.abspath(target)
    hyper_dir = os.path.abspath(os.environ.get("HYPER_TARGET_DIR") or os.path.join(target, "hyper-ref"))
    nobuild = bool(os.environ.get("BENCH_NO_BUILD"))
    bins = {}

    def want(key, env, path, cmd, env_extra=None, required=True):
        if os.environ.get(env):
            bins[key] = os.path.abspath(os.environ[env])
            return
        if not nobuild and cmd:
            log(f"building {key}...")
            record(cmd, tmp)
            r = run(cmd, env=dict(os.environ, **(env_extra or {})), timeout=1200, check=required)
            if r.returncode != 0:
                note(f"{key}: the build failed; its figures are skipped\n{(r.stdout or '')[-1000:]}")
        bins[key] = path

    want("mote", "MOTE_BIN", os.path.join(target, "release", "mote"),
         ["cargo", "build", "--release", "-q"])
    want("hyper-ref", "HYPER_BIN", os.path.join(hyper_dir, "release", "hyper-ref"),
         ["cargo", "build", "--release", "-q", "--manifest-path",
          os.path.join(HERE, "hyper-ref", "Cargo.toml")], {"CARGO_TARGET_DIR": hyper_dir})
    bare_dir = os.path.join(target, "bare-ref")
    want("bare-ref", "BARE_BIN", os.path.join(bare_dir, "release", "bare-ref"),
         ["cargo", "build", "--release", "-q", "--manifest-path",
          os.path.join(HERE, "bare-ref", "Cargo.toml")], {"CARGO_TARGET_DIR": bare_dir})
    if not SMOKE:
        # make static: std rebuilt from source, as it ships (it installs its own tools).
        want("mote-static", "MOTE_STATIC_BIN", os.path.join(target, X86_MUSL, "release", "mote"),
             ["make", "-C", REPO, "--no-print-directory", "static", "TINY="])
        # make pi (ARMv6, the default profile) for the qemu comparison.
        want("mote-arm", "MOTE_ARM_BIN", os.path.join(target, ARMV6, "release", "mote"),
             ["make", "-C", REPO, "--no-print-directory", "pi", "PI=", f"PI_TARGET={ARMV6}", "TINY="],
             required=False)
    build_tls(tmp, target, hyper_dir, bins)
    for k in ("mote", "hyper-ref", "bare-ref", "mote-static"):
        if k in bins and not os.path.exists(bins[k]):
            raise RuntimeError(f"{k}: {bins[k]} does not exist")
    return bins, hyper_dir


def make_site(tmp):
    site = os.path.join(tmp, "site")
    os.makedirs(site)
    lines = ["<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>bench</title></head><body>\n"]
    i = 0
    while sum(map(len, lines)) < 6000:
        lines.append(f"<p>Line {i:04}: the quick brown fox jumps over the lazy dog.</p>\n")
        i += 1
    lines.append("</body></html>\n")
    with open(os.path.join(site, "index.html"), "w") as f:
        f.write("".join(lines))
    # nginx's worker and busybox may run as another user: let them read the site
    for d in (tmp, site):
        os.chmod(d, 0o755)
    os.chmod(os.path.join(site, "index.html"), 0o644)
    return site


# --------------------------------------------------------------------------- report
def fmt(v, digits=2):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def verdict(ok):
    return "**met**" if ok else "**NOT met**"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    def ver(cmd):
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
            return r.stdout.strip().splitlines()[0]
        except Exception:
            return "?"
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {"nproc": os.cpu_count(), "model": model, "kernel": os.uname().release,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load": load,
            "versions": {
                "mote": ver(["git", "-C", REPO, "describe", "--always", "--dirty"]),
                "wrk": ver(["wrk", "-v"]).split(" [")[0],
                "nginx": ver(["nginx", "-v"]), "lighttpd": ver(["lighttpd", "-v"]),
                "busybox": ver(["busybox"]), "strace": ver(["strace", "-V"]),
                "valgrind": ver(["valgrind", "--version"]), "qemu-arm": ver(["qemu-arm", "--version"]),
                "qemu-system-arm": ver(["qemu-system-arm", "--version"]),
                "rustc": ver(["rustc", "--version"])}}


def best_peer(d, key, servers, lower=True):
    vals = [(d[s][key], s) for s in servers if s != "mote" and s in d and isinstance(d[s], dict)
            and d[s].get(key) is not None]
    if not vals:
        return None, None
    return (min if lower else max)(vals)


# What the report says under a target this run did not meet (matched by the start of
# the target's name). Facts from the work on each, kept next to the verdicts they explain.
TRIED = [
    ("CPU per request", "the mote column gives the part of its CPU time spent in the kernel. "
     "mote spends under a tenth of its time per request in user mode; the rest is the kernel's "
     "loopback TCP for the same two calls every fast server makes (perf at c=50: _copy_from_iter "
     "of the response into the socket 8%, then tcp_sendmsg_locked, tcp_ack, __tcp_transmit_skb, "
     "wake-ups), within a few tenths of a µs of hyper-ref's kernel part and of the floor's. Slowed to saturation by a 20 kHz perf profile (both at 100% of CPU 0; "
     "measured by hand, not by this script) mote needed 0.81× hyper-ref's CPU per request; at wrk's pace neither saturates, and a server that keeps up "
     "sleeps and wakes more often per request than one that falls behind and finds several "
     "requests per epoll_wait, which moves the kernel's share and spreads single rounds over "
     "the range shown. Tried and kept: uninitialised httparse header slots, replies holding "
     "their length, Date lines prebuilt once a second, no per-request allocation or epoll_ctl, "
     "a short read taken as drained, header fields recognised by length and first letter, "
     "httparse at opt-level 3, sendmsg instead of writev (-6% in paired runs), whole responses "
     "sent with one send() from a per-worker copy (-4%: the kernel's msghdr and iovec import "
     "was ~3% of a request), only the iovecs a write can use set up (-390 instructions), "
     "already-normal paths not re-normalised (-370 instructions), heads seen before answered "
     "from a per-worker memo without parsing or routing (src/answer/memo.rs; 3,986 -> 2,245 "
     "instructions), a timerfd at each second instead of a timeout on every epoll_wait "
     "(-2% in paired runs), one worker being the process's only thread, so the kernel skips "
     "the atomic descriptor reference of a shared descriptor table on every recv and send "
     "(-1.7%), the memo keeping each head's whole response so a repeat builds no reply "
     "(1,853 -> 1,112 instructions; perf at c=50 then puts mote's user time at the floor's, "
     "2.8% of the CPU against 3.2% before, a change below this measure's noise; -10% CPU "
     "per request under qemu-arm). "
     "Counted with perf tracepoints at c=50: mote and the floor make ~0.45 epoll_wait calls "
     "per request, hyper-ref 0.05; it is slower per request, finds ~20 ready connections per "
     "call, and so pays less kernel time per request for the wait. Tried and dropped: "
     "SO_REUSEPORT listeners per thread (no gain over one shared listener), the static musl "
     "build instead of glibc (no difference beyond noise), IORING_SETUP_SINGLE_ISSUER with "
     "DEFER_TASKRUN (1.003x, 11 paired rounds), a table of registered sockets so the ring's "
     "sends skip the kernel's fget/fput (gone from the perf profile; 1.001x in 15 paired "
     "rounds, so not worth a register call per connection), and a completion-driven loop "
     "(multishot recv into a provided-buffer ring, sends through the ring: written in C "
     "with liburing, 1.02-1.03x the epoll floor's CPU per request). Not pursued: a cheaper congestion "
     "control than the system's (bbr is ~2% of the kernel's work here, but the choice belongs "
     "to the box, not to a benchmark), MSG_ZEROCOPY (loopback copies zero-copy data anyway). "
     "The row `bare-ref (floor)` is measured in the same rounds: a bare mio loop that "
     "answers every request head with one send() of a prebuilt response and does nothing "
     "else (bench/bare-ref). 0.9× the best peer is at or below that floor, so the target asks "
     "for less kernel work than one recv and one send of the same page take here; no change "
     "in mote's user space can get there. Measured by hand, side by side, c=50: the same kind "
     "of loop in C, 5.05 µs/request, and with tee()+splice() from a prebuilt pipe instead of "
     "the send (no copy of the body) 5.31, worse than the copy it saves; mote with the body "
     "by sendfile (--cache-max 0) 1.7× its usual figure; a bare loop sending its whole response "
     "by one sendfile from a memfd (head and body, no copy) 1.06× the same loop's send at c=50 "
     "and 1.05× at c=10 000 (6 paired rounds each). The io_uring batch of a turn's sends "
     "(the next target) cost 1–2% CPU per request before the memo kept whole responses, "
     "and no difference above the noise since (1.001x, 11 paired rounds; row `mote "
     "--io-uring off` above: the same build without it)."),
    ("syscalls/request, keep-alive", "without io_uring (qemu-user, kernels before 5.18, "
     "io_uring disabled, --io-uring off) one read and one write per request is the floor for a "
     "readiness-based server answering one request at a time; the rest is epoll_wait and "
     "connection set-up inside the traced window. With it, a turn's writes leave in one "
     "io_uring_enter (src/net/batch.rs)."),
    ("concurrency: CPU/request added", "the added CPU per request at 10,000 connections is "
     "mostly connection set-up and tear-down inside the run (see the connection-per-request "
     "table: every server pays tens of µs per connection, and a connection carries only ten "
     "or so requests of a round there). wrk's connections end by its EOF, which mote answers "
     "with a plain close (a client that asks to close also gets one; any other close lingers, "
     "RFC 9112 §9.6); its own state per connection is a 128-byte slot, and epoll returns up "
     "to 1,024 events per call. Between two full runs of the same code on 2026-12-01 mote's added "
     "figure was +3.46 and +4.64 µs, nginx's +4.13 and +4.04: the verdict is within the "
     "run-to-run spread of this measure here. Side by side by hand (5 paired rounds at "
     "c=10 000), the memo, timerfd and single-thread changes cut mote's CPU per request "
     "there to 0.90× of the code before them. With the memo's whole responses, two full "
     "runs in a noisier hour gave +5.27 and +6.11 µs (nginx +4.53 and +4.38), while by "
     "hand (two runs of three rounds at c=10 000) that code and the code before it cost "
     "the same there: 10.90–11.46 µs against 11.37–12.20. With the plain close for a client "
     "that asks for one (0.89x the CPU per request with a connection each), two full runs "
     "said met: +8.32 against nginx's +9.94 and +11.37 against +11.72; at the next code "
     "(the access log kept by the memo, the static binary built from source) one said not "
     "met, +11.43 against +10.00, and one met, +11.51 against +13.54, and at the code after "
     "review fixes (the same request path) +5.12 against +3.93, not met. At 10 000 "
     "connections mote's CPU per request was 0.57-0.68× nginx's in the last four of these runs."),
]


def write_report(out_dir, R, mach, elapsed):
    S = K["servers"]
    L = []
    w = L.append
    w("# mote benchmark — side by side\n")
    w(f"Generated by `{'make bench-smoke' if SMOKE else 'make bench'}` (`bench/run.py`) on "
      f"{mach['date']} in {elapsed:.0f} s. Every number below was measured in this one run; "
      "every verdict is computed from them by the script.\n")
    w("## Machine\n")
    w(f"- `nproc`: {mach['nproc']}; CPU: {mach['model']}; kernel {mach['kernel']}")
    w(f"- load average when the run ended: {mach['load']} (other work on this box adds noise)")
    w("- " + "; ".join(f"{k}: `{v}`" for k, v in mach["versions"].items()))
    w(f"- page: `{PAGE_PATH}`, {R['page_bytes']} bytes, the same file for every server "
      "(generated into a temp dir; hyper-ref holds it in memory)")
    w("- each server pinned to CPU 0 (`taskset -c 0`, done as sched_setaffinity in the child "
      "before exec); wrk and the driver on CPU 1; loopback only\n")

    # ---- targets
    w("## Targets\n")
    w("| target | mote | reference | verdict |")
    w("|---|---|---|---|")
    T = []
    main = R.get("main") or {}
    if "mote" in main:
        bp, who = best_peer(main, "cpu_us", S)
        if bp is not None:
            # Met only when both agree: the ratio of the medians, and the median of the
            # rounds' own ratios (mote and the best peer measured seconds apart).
            paired, lo, hi = paired_ratio(main, "mote", who)
            medians = main["mote"]["cpu_us"] / bp
            ok = medians <= T_CPU_RATIO and paired is not None and paired <= T_CPU_RATIO
            kernel = main["mote"]["cpu_us"] * (1 - main["mote"]["user_share"])
            floor = ""
            if BARE in main:
                floor = (f"; the floor, {BARE}, {main[BARE]['cpu_us']:.2f} µs "
                         f"({main[BARE]['cpu_us'] / bp:.3f}× {who})")
            T.append(("CPU per request ≤ 0.9× best peer", f"{main['mote']['cpu_us']:.2f} µs "
                      f"({kernel:.2f} of it in the kernel): {medians:.3f}× by medians, {paired:.3f}× "
                      f"median of the {len(main['mote']['cpu_all'])} rounds' ratios ({lo:.2f}–{hi:.2f})",
                      f"best peer {who} {bp:.2f} µs → limit {T_CPU_RATIO * bp:.2f} µs; both ratios ≤ 0.9"
                      f"{floor}", ok))
    sc = R.get("syscalls") or {}
    if "mote" in sc:
        v = sc["mote"]["keepalive"]["per_req"]
        T.append(("syscalls/request, keep-alive ≤ 2.0", f"{v:.2f}", "absolute", v <= T_SYSCALLS_KA))
        v = sc["mote"]["pipelined"]["per_req"]
        T.append(("syscalls/request, 16 pipelined ≤ 0.15", f"{v:.3f}", "absolute", v <= T_SYSCALLS_PIPE))
    ic = R.get("idle_conns") or {}
    if "mote" in ic:
        v = ic["mote"]["per_conn"]
        T.append((f"memory per idle keep-alive connection ≤ {T_IDLE_CONN_BYTES} B", f"{v:.0f} B",
                  f"{ic['mote']['conns']} connections", v <= T_IDLE_CONN_BYTES))
    ir = R.get("idle_rss") or {}
    key = "mote (static musl, embedded site)"
    if key in ir:
        v = ir[key]["rss"]
        T.append(("idle RSS, static binary, embedded site ≤ 1 MiB", f"{v / 1024:.0f} KiB", "absolute",
                  v <= T_IDLE_RSS))
    cs = R.get("cold") or {}
    shipped = "mote (static musl, --root)" if "mote (static musl, --root)" in cs else "mote"
    if shipped in cs:
        bp, who = best_peer(cs, "median_ms", S)
        if bp is not None:
            T.append((f"cold start below every peer (median; {shipped})", f"{cs[shipped]['median_ms']:.2f} ms",
                      f"fastest peer {who} {bp:.2f} ms", cs[shipped]["median_ms"] < bp))
    board_target(T, R.get("board"))
    cg = R.get("callgrind") or {}
    if "mote" in cg:
        T.append(("instructions per request (callgrind), tracked", f"{cg['mote']['per_req']:,.0f} Ir",
                  ", ".join(f"{k} {v['per_req']:,.0f}" for k, v in cg.items() if k != "mote") or "—",
                  "tracked"))
    redirect_targets(T, R.get("redirects") or {})
    sw = R.get("sweep") or {}
    if "mote" in sw:
        # Degradation is read as CPU per request added from the lowest level to a high
        # one, in µs; the ratio to the server's own lowest level is shown beside it. At
        # high levels every server pays the same kernel work per connection set up inside
        # the run (wrk opens them all at its start), which a ratio charges most to the
        # server that is cheapest per request.
        lo, hi = min(K["sweep"]), max(K["sweep"])
        def cell(s, c):
            d = sw.get(s, {})
            return d[c]["cpu_us"] if lo in d and c in d else None
        def degrade(s, c):
            a, b = cell(s, lo), cell(s, c)
            return f"{b - a:+.2f} µs ({a:.2f} → {b:.2f}, {b / a:.2f}×)"
        peers = [s for s in S if s != "mote" and cell(s, hi) is not None]
        if peers and cell("mote", hi) is not None:
            # "Best peer" as in the CPU target: the peer with the lowest CPU per request
            # (at the lowest level). The flattest peer is named beside it.
            best = min(peers, key=lambda s: cell(s, lo))
            flat = min(peers, key=lambda s: cell(s, hi) - cell(s, lo))
            T.append((f"concurrency: CPU/request added c={lo}→{hi} no more than best peer's",
                      degrade("mote", hi), f"best peer {best} {degrade(best, hi)}; least added: {flat} "
                      f"{degrade(flat, hi)}",
                      cell("mote", hi) - cell("mote", lo) <= cell(best, hi) - cell(best, lo)))
        big = K["sweep_big"].get("mote")
        if big and cell("mote", big) is not None and cell("nginx", big) is not None:
            T.append((f"concurrency: CPU/request added c={lo}→{big} no more than nginx's",
                      f"{degrade('mote', big)}, {sw['mote'][big]['errors']} errors",
                      f"nginx {degrade('nginx', big)}, {sw['nginx'][big]['errors']} errors",
                      cell("mote", big) - cell("mote", lo) <= cell("nginx", big) - cell("nginx", lo)
                      and sw["mote"][big]["errors"] <= sw["nginx"][big]["errors"]))
    T += https_targets(R)
    for name, m, ref, ok in T:
        w(f"| {name} | {m} | {ref} | {verdict(ok) if isinstance(ok, bool) else ok} |")
    R["targets"] = [{"target": t[0], "mote": t[1], "reference": t[2], "met": t[3]} for t in T]
    w("")

    # ---- per measure
    if main:
        w(f"## Throughput and CPU per request (keep-alive, c={K['main_conns']}, wrk -t1, "
          f"{K['rounds']} rounds × {K['main_secs']} s per server, medians)\n")
        few = ", ".join(f"{n} {r}" for n, r in FEW_ROUNDS.items() if n in main)
        w("All servers are up at once; the rounds visit them in turn, so other work on the box "
          "lands on one round, not on a server's only figure. Each round runs mote, hyper-ref "
          "and the floor first (last in the rounds that go in reverse), so mote and the peer "
          "nearest to it run back to back"
          + (f"; rows no verdict compares have fewer rounds ({few})" if few else "") + ". CPU µs/req: server CPU time ÷ "
          "requests completed, from the server's cgroup (cpuacct: every thread and child); the "
          "/proc column is utime+stime(+cutime+cstime) from /proc/PID/stat summed over the "
          "process tree (10 ms ticks; it misses children the kernel reaped itself, as busybox's "
          "forked handlers are). The load generator caps req/s; no server here saturates CPU 0. "
          "user share: the part of the /proc time spent in user mode (utime ÷ utime+stime); "
          "the rest is the kernel's TCP, loopback and system-call work, mostly the same for "
          "every server that makes the same calls.\n")
        w("| server | req/s | p50 µs | p99 µs | CPU µs/req | rounds min–max | CPU µs/req (/proc) | user share | bytes/response | errors |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for s in S + list(VARIANTS):
            if s in main:
                r = main[s]
                w(f"| {s} | {r['rps']:,.0f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['cpu_us']:.2f} | "
                  f"{min(r['cpu_all']):.2f}–{max(r['cpu_all']):.2f} | {r['cpu_proc_us']:.2f} | "
                  f"{100 * r['user_share']:.0f}% | {r['bytes_per_resp']:,.0f} | {r['errors']} |")
        w("")
    scal = R.get("scaling") or {}
    if scal:
        w(f"## mote scaling, 1 → 2 threads (informational; not pinned, wrk -t2 shares both cores, "
          f"{K['main_secs']} s)\n")
        w("| server | req/s | p50 µs | p99 µs | CPU µs/req | errors |")
        w("|---|---|---|---|---|---|")
        for k, r in scal.items():
            w(f"| {k} | {r['rps']:,.0f} | {r['p50']} | {r['p99']} | {r['cpu_us']:.2f} | {r['errors']} |")
        w("")
    if sc:
        w(f"## System calls per request (`strace -f -c`, attached after start-up, {K['strace_secs']} s of wrk, c={K['main_conns']})\n")
        w("Calls of every traced thread/process ÷ requests wrk completed. strace slows the server "
          "down, which changes how many events one `epoll_wait` returns; the figure is a count "
          "under that condition, as the target defines it. bare-ref answers pipelined requests with "
          "a send each: its pipelined figure is no floor.\n")
        w("| server | keep-alive calls/req | top calls/req | 16 pipelined calls/req | top calls/req |")
        w("|---|---|---|---|---|")
        for s in S + list(VARIANTS):
            if s in sc:
                cells = []
                for mode in ("keepalive", "pipelined"):
                    r = sc[s][mode]
                    if "na" in r:
                        cells += ["n/a", r["na"]]
                    else:
                        cells += [f"{r['per_req']:.3f} ({r['requests']:,} req)", r["top"]]
                w(f"| {s} | " + " | ".join(cells) + " |")
        w("")
    if ic:
        w(f"## Memory per idle keep-alive connection\n")
        w("Sum of VmRSS over the server's processes before and after opening N connections that "
          "each made one request (response read whole) and then stay idle; ÷ N. Kernel socket "
          "memory is not in RSS.\n")
        w("| server | connections (still open) | RSS before | RSS after | bytes/connection |")
        w("|---|---|---|---|---|")
        for s in S:
            if s in ic:
                r = ic[s]
                if "na" in r:
                    w(f"| {s} | n/a | | | {r['na']} |")
                else:
                    w(f"| {s} | {r['conns']} ({r['open']}) | {r['before'] / 1024:,.0f} KiB | "
                      f"{r['after'] / 1024:,.0f} KiB | {r['per_conn']:,.0f} |")
        w("")
    if ir:
        w("## Idle RSS\n")
        w("Sum of VmRSS over the server's processes after start-up and one request.\n")
        w("| server | processes | RSS |")
        w("|---|---|---|")
        for k, r in ir.items():
            w(f"| {k} | {r['procs']} | {r['rss'] / 1024:,.0f} KiB |")
        w("")
    if cs:
        w(f"## Cold start (exec → first 200 received), {K['cold_runs']} runs each\n")
        w("Clock from just before fork+exec (Python's vfork path; the server inherits CPU 0) to a "
          "complete 200 response, the client retrying connect in a tight loop on CPU 1; runs "
          "interleaved across servers. The verdict compares `mote (static musl, --root)`, the "
          "binary that ships, serving the same `--root` page as the peers; the glibc `mote` row "
          "and the embedded-site row are for information.\n")
        w("| server | median ms | min ms | max ms |")
        w("|---|---|---|---|")
        for s, r in cs.items():
            w(f"| {s} | {r['median_ms']:.2f} | {r['min_ms']:.2f} | {r['max_ms']:.2f} |")
        w("")
    if cg:
        w(f"## Instructions per request (`valgrind --tool=callgrind`)\n")
        w(f"Method: two runs per server under callgrind, one connection; run A makes 1 request, "
          f"run B makes 1 + {K['cg_requests']} requests one at a time on the same connection; "
          f"then SIGTERM (callgrind writes its totals at exit). Ir per request = (Ir(B) − Ir(A)) "
          f"÷ {K['cg_requests']}: start-up, connection set-up and shutdown cancel out. "
          "nginx runs with `master_process off` here (one process).\n")
        w("| server | Ir per request | Ir of run A (start-up, 1 request, exit) |")
        w("|---|---|---|")
        for s, r in cg.items():
            w(f"| {s} | {r['per_req']:,.0f} | {r['startup_ir']:,} |")
        w("")
    if R.get("redirects"):
        redirect_section(w, R["redirects"])
    if sw:
        levels = sorted({c for d in sw.values() for c in d})
        few = "".join(f", {n} {r}" for n, r in FEW_SWEEP_ROUNDS.items() if n in sw)
        w(f"## Concurrency sweep (keep-alive, {K['sweep_rounds']} rounds × {K['sweep_secs']} s per level "
          f"and server{few}, medians)\n")
        w("All servers up at once, as in the main run; at each level the rounds visit the servers "
          "in turn, reversed every other round. Each cell: req/s / p99 ms / CPU µs per request "
          "(errors, if any). The targets read \"degrade\" as CPU per request added from c=10 (µs), "
          "and \"best peer\" as in the CPU target: the peer with the lowest CPU per request, here "
          "at c=10. Every server also pays for each connection wrk opens inside the run (the "
          "row below: CPU per request when each request has its own connection), and at "
          "c=10 000 a connection carries only some ten requests of a round, so that cost is "
          "much of the added figure.\n")
        w("| server | " + " | ".join(f"c={c}" for c in levels) + " |")
        w("|---|" + "---|" * len(levels))
        for s in S:
            if s in sw:
                cells = []
                for c in levels:
                    r = sw[s].get(c)
                    if r is None:
                        cells.append("—")
                        continue
                    e = f" ({r['errors']} err)" if r["errors"] else ""
                    cells.append(f"{r['rps']:,.0f} / {r['p99'] / 1000:.1f} / {r['cpu_us']:.2f}{e}")
                w(f"| {s} | " + " | ".join(cells) + " |")
        w("")
    cc = R.get("conn_cost") or {}
    if cc:
        w(f"### A connection per request (`Connection: close`, c={K['main_conns']}, {K['sweep_secs']} s)\n")
        w("| server | req/s | CPU µs/request |")
        w("|---|---|---|")
        for s in S:
            if s in cc:
                w(f"| {s} | {cc[s]['rps']:,.0f} | {cc[s]['cpu_us']:.2f} |")
        w("")
    board_section(w, R.get("board"), R.get("arm_insns"))
    https_report(w, R)
    missed = [t for t in T if t[3] is False]
    if missed:
        w("## Targets not met: why, and what was tried\n")
        for name, *_ in missed:
            why = next((text for prefix, text in TRIED if name.startswith(prefix)), "nothing recorded")
            w(f"- **{name}**: {why}")
        w("")
    w("## Notes\n")
    for n in NOTES or ["nothing was skipped"]:
        w(f"- {n}")
    w("")
    w("## Commands\n")
    w("`$BENCH_TMP` is the run's temp dir (page, configs, logs); `PORT` a free port picked per "
      "server start.\n")
    w("```")
    L.extend(COMMANDS)
    w("```")
    for kind, text in CONFIGS.items():
        w(f"\n{kind} configuration (main run; worker_connections / max-connections grow with "
          "the connection count of the test):\n")
        w("```")
        L.extend(text.rstrip().splitlines())
        w("```")
    w("")
    w("![CPU per request and memory per idle connection](results.svg)")
    with open(os.path.join(out_dir, "RESULTS.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(R, f, indent=1, default=str)


def write_svg(out_dir, R):
    """Two horizontal bar panels, mote in orange. A bar far beyond the rest (busybox's
    fork per connection) is drawn cut, so the others stay readable; the target is a
    dashed line."""
    main = R.get("main") or {}
    ic = R.get("idle_conns") or {}
    cpu_rows = [(s, main[s]["cpu_us"]) for s in K["servers"] if s in main]
    peers = [v for s, v in cpu_rows if s != "mote"]
    cpu_target = (T_CPU_RATIO * min(peers), f"target {T_CPU_RATIO}× best peer") if peers else None
    mem_rows = []
    for s in K["servers"]:
        if s in ic:
            mem_rows.append((s, ic[s].get("per_conn", ic[s].get("na"))))
    panels = [("CPU per request (µs), keep-alive ~6 KB page — lower is better", cpu_rows,
               "{:.2f} µs", cpu_target),
              ("Memory per idle keep-alive connection (bytes) — lower is better", mem_rows,
               "{:,.0f} B", (T_IDLE_CONN_BYTES, f"target {T_IDLE_CONN_BYTES} B"))]
    W, bar_h, gap, left, right = 760, 26, 8, 110, 150
    span = W - left - right
    y = 50
    parts = []
    for title, rows, f, target in panels:
        parts.append(f'<text x="20" y="{y}" font-size="15" font-weight="bold">{_esc(title)}</text>')
        y += 14
        nums = sorted(v for _, v in rows if isinstance(v, (int, float)))
        vmax = max(nums + [1e-9])
        if len(nums) >= 2 and nums[-1] > 4 * nums[-2]:
            vmax = 1.5 * nums[-2]  # cut the outlier
        if target:
            vmax = max(vmax, target[0] * 1.1)
        top = y
        for name, v in rows:
            parts.append(f'<text x="{left - 8}" y="{y + bar_h * 0.7:.0f}" font-size="13" '
                         f'text-anchor="end">{_esc(name)}</text>')
            if not isinstance(v, (int, float)):
                parts.append(f'<text x="{left + 4}" y="{y + bar_h * 0.7:.0f}" font-size="12" '
                             f'fill="#555">n/a ({_esc(str(v).split(":")[0])})</text>')
                y += bar_h + gap
                continue
            cut = v > vmax
            wbar = max(1.0, span * min(v, vmax) / vmax)
            color = "#d9480f" if name == "mote" else "#4c6ef5"
            parts.append(f'<rect x="{left}" y="{y}" width="{wbar:.1f}" height="{bar_h}" fill="{color}"/>')
            if cut:  # a white break in the bar
                bx = left + wbar - 24
                parts.append(f'<path d="M{bx} {y + bar_h} l6 {-bar_h} h5 l-6 {bar_h} z" fill="white"/>')
            label = f.format(v) + (" (bar cut)" if cut else "")
            parts.append(f'<text x="{left + wbar + 6:.1f}" y="{y + bar_h * 0.7:.0f}" font-size="13">'
                         f'{_esc(label)}</text>')
            y += bar_h + gap
        if target:
            tx = left + span * target[0] / vmax
            parts.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{y - gap + 4}" '
                         f'stroke="#2b8a3e" stroke-width="1.5" stroke-dasharray="5,3"/>')
            parts.append(f'<text x="{tx + 4:.1f}" y="{y + 8}" font-size="11" fill="#2b8a3e">'
                         f'{_esc(target[1])}</text>')
            y += 10
        if not rows:
            parts.append(f'<text x="{left}" y="{y + 16}" font-size="13">not measured</text>')
            y += bar_h
        y += 36
    mach = R.get("machine", {})
    parts.append(f'<text x="20" y="{y - 12}" font-size="11" fill="#555">'
                 f'{_esc(mach.get("date", ""))} · {_esc(mach.get("model", ""))} · '
                 f'{mach.get("nproc", "")} cores · server on CPU 0, wrk on CPU 1 · bench/run.py</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{y}" '
           f'viewBox="0 0 {W} {y}" font-family="sans-serif">\n'
           f'<rect width="100%" height="100%" fill="white"/>\n'
           f'<text x="20" y="26" font-size="18" font-weight="bold">mote vs peers (make bench)</text>\n'
           + "\n".join(parts) + "\n</svg>\n")
    with open(os.path.join(out_dir, "results.svg"), "w") as fh:
        fh.write(svg)


def _esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ------------------------------------------------------------------------------ HTTPS
# The HTTPS rows: mote built with TLS (`--features tls,tls12`), nginx (OpenSSL) and hyper-ref
# built with tokio-rustls (`--features tls`), side by side in one run. One ECDSA P-256
# certificate made here; on each server TLS 1.3 and 1.2, the same suites in the same order
# (AES-GCM first, as mote orders them on x86_64), X25519 and P-256, the server's order
# winning, and stateless session tickets. Each listens for HTTPS only.
#
# The ACME build (`--features acme`, as `make ACME=1` builds it) joins the keep-alive rounds
# and the instruction counts beside the TLS build, with the same flags, certificate files and
# client. Its `--acme` flags change where the certificate and key come from and which
# certificate a handshake picks; on a connection that is up the build runs the TLS build's
# request path but for two checks that find nothing on a request for the site (an HTTP-01
# challenge the client has on, a connection that is a TLS-ALPN-01 validation). So
# `--tls-cert` and `--tls-key` serve it here as they serve the TLS build. It speaks TLS 1.3
# only, as wrk does here.
MOTE_ACME = "mote (ACME build)"
if SMOKE:
    KT = dict(servers=["mote", "hyper-ref"], rounds=1, secs=1, conns=20, handshakes=20,
              handshake_rounds=1, idle_conns=20, arm=False)
else:
    KT = dict(servers=["mote", "nginx", "hyper-ref"], rounds=7, secs=2, conns=50,
              handshakes=200, handshake_rounds=5, idle_conns=1000, arm=True, arm_handshakes=40,
              arm_bulk_bytes=2 << 20, arm_fetches=3)
# Each HTTPS row: what it runs (a Server kind), the binary it runs (a key of the run's
# binaries; nginx is the system's) and its label (log and cgroup names).
TLS_ROWS = {"mote": ("mote", "mote-tls", "mote-tls"), MOTE_ACME: ("mote", "mote-acme", "mote-acme"),
            "nginx": ("nginx", None, "nginx-tls"), "hyper-ref": ("hyper-ref", "hyper-ref-tls", "hyper-ref-tls")}
T_TLS_CPU_RATIO = 0.9        # keep-alive HTTPS: CPU per request ≤ 0.9× the best peer's
T_TLS_HANDSHAKE_RATIO = 1.0  # CPU per full handshake ≤ nginx's
T_TLS_IDLE_RATIO = 0.25      # memory per idle HTTPS connection ≤ ¼ of nginx's
# The ACME build's keep-alive HTTPS request within noise of the TLS build's. The two run the
# same request path, so a real cost shows in callgrind's count, which repeats to a few
# instructions: within 1% of the TLS build's (the noise allowed in the `_redirects` targets).
# CPU time per request is compared too, by the median of the rounds' ratios (the two run
# back to back in every round): ≤ 1.05×, where single rounds here already spread by more.
T_ACME_IR_RATIO = 1.01
T_ACME_CPU_RATIO = 1.05
TLS13_SUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
TLS12_SUITES = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                "ECDHE-ECDSA-CHACHA20-POLY1305")
# The suites the ARMv6 bulk rows force from the client, one at a time.
ARM_BULK_SUITES = ("TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256")
TLS_TOOLS = {"openssl": "openssl", "curl": "curl"}
NGINX_TLS = """listen {listen} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers {tls12};
        ssl_conf_command Ciphersuites {tls13};
        ssl_ecdh_curve X25519:prime256v1;
        ssl_prefer_server_ciphers on;
        ssl_session_tickets on;"""

# What the report says under an HTTPS target this run did not meet, as TRIED does.
TRIED += [
    ("memory per idle HTTPS connection", "mote's own state per idle connection is what it is "
     "over plain HTTP (a 128-byte slot; the read buffer is the worker's), and with rustls's "
     "unbuffered API records are read and written through buffers each worker shares, so an "
     "idle connection keeps no buffer of its own; the rest is rustls's. A heap profile "
     "(valgrind massif) of the TLS build holding idle connections gave per connection, before "
     "that API was used: 1,168 B the connection; 2 × 560 B the AES-GCM keys of the two "
     "directions (ring's key schedule and GHASH table); 640 B the handshake deframer's list of "
     "spans (room for 16, made with the connection and kept); 223 B the traffic-secret state; "
     "~200 B the capacity of two empty queues; ~100 B allocator overhead; and a 4,096 B read "
     "buffer, which the unbuffered API removed. None of what is left can be freed through "
     "rustls's API while the connection lives."),
    ("HTTPS keep-alive per request, ACME build", "the two builds serve a request on a connection "
     "that is up with the same code but for two checks that find nothing on a request for the "
     "site; the ACME client runs only with `--acme`, on its own thread, and the certificate a "
     "handshake picks is chosen before the first request. The instruction count repeats to a "
     "few instructions and shows whether a request costs more; CPU time is read from short "
     "rounds on a shared machine, whose single rounds spread by more than the bound (the "
     "rounds' range is in the row), so a miss on CPU time alone, with the instructions within "
     "1%, points at the machine more than at the build: run the two side by side with more "
     "rounds on a quiet machine before reading a cost into it."),
]


class TlsServer(Server):
    """A server of the HTTPS rows: HTTPS only, with the run's certificate; `get` speaks TLS."""

    def __init__(self, kind, bins, tmp, site, tls, **kw):
        super().__init__(kind, bins, tmp, site, **kw)
        self.cert, self.key = tls
        self.client = ssl.create_default_context(cafile=self.cert)
        self.client.set_alpn_protocols(["http/1.1"])

    def _command(self):
        listen = f"127.0.0.1:{self.port}"
        files = ["--tls-cert", self.cert, "--tls-key", self.key]
        if self.kind == "mote":
            return [self.bins["mote"], "--listen-tls", listen, "--root", self.site] + files
        if self.kind == "hyper-ref":
            return [self.bins["hyper-ref"], "--listen", listen, "--page",
                    os.path.join(self.site, "index.html")] + files
        if self.kind == "nginx":
            # The plain configuration, its listener made an HTTPS one.
            cmd = super()._command()
            conf = cmd[cmd.index("-c") + 1]
            with open(conf) as f:
                text = f.read().replace(f"listen {listen};", NGINX_TLS.format(
                    listen=listen, cert=self.cert, key=self.key, tls12=TLS12_SUITES, tls13=TLS13_SUITES))
            with open(conf, "w") as f:
                f.write(text)
            keep_config("nginx (HTTPS rows)", conf, self.port, self.tmp)
            return cmd
        raise ValueError(self.kind)

    def wrap(self, sock, session=None):
        """A TLS client connection over `sock`, resuming `session` if given."""
        try:
            return self.client.wrap_socket(sock, server_hostname="localhost", session=session)
        except BaseException:
            sock.close()
            raise

    def get(self, session=None, timeout=5.0, **kw):
        """One GET over a new HTTPS connection, resuming `session` if given: (status, socket)."""
        sock = self.wrap(socket.create_connection(("127.0.0.1", self.port), timeout=timeout), session)
        return http_get(self.port, sock=sock, timeout=timeout, **kw)


def tls_files(ctx):
    """The run's certificate and key (ECDSA P-256, for localhost and 127.0.0.1), made once."""
    if not getattr(ctx, "tls", None):
        cert, key = os.path.join(ctx.tmp, "tls-cert.pem"), os.path.join(ctx.tmp, "tls-key.pem")
        cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
               "-nodes", "-days", "7", "-subj", "/CN=localhost",
               "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert]
        record(cmd, ctx.tmp)
        run(cmd)
        ctx.tls = (cert, key)
    return ctx.tls


def tls_server(ctx, name, **kw):
    """The HTTPS row `name` of TLS_ROWS (or, with bins=, that kind of server on other binaries)."""
    kind, key, label = TLS_ROWS[name]
    bins = {kind: ctx.bins.get(key)} if key else {}
    return TlsServer(kind, kw.pop("bins", bins), ctx.tmp, kw.pop("site", ctx.site), tls_files(ctx),
                     label=kw.pop("label", label), **kw)


def https_measures():
    return [("https_keepalive", m_https_keepalive), ("https_callgrind", m_https_callgrind),
            ("https_handshakes", m_https_handshakes), ("https_idle", m_https_idle)] + (
            [("https_arm", m_https_arm)] if KT["arm"] else [])


NOTED_MISSING = set()  # HTTPS rows whose missing binary was noted once


def https_servers(ctx, names=None):
    """The HTTPS rows (of `names`, default KT's servers) whose binaries exist (a failed TLS
    build is a note, not a stop)."""
    out = []
    for name in KT["servers"] if names is None else names:
        key = TLS_ROWS[name][1]
        binp = ctx.bins.get(key) if key else ""
        if binp is None or (binp and not os.path.exists(binp)):
            if name not in NOTED_MISSING:
                NOTED_MISSING.add(name)
                note(f"HTTPS: {name} built with TLS is missing; its HTTPS rows are skipped")
            continue
        out.append(name)
    return out


def m_https_keepalive(ctx):
    """As the main run, over HTTPS: every server up at once, wrk https in rounds that visit
    them in turn (reversed every other round); medians."""
    servers, runs = {}, {}
    try:
        # The ACME build first, so it and the TLS build run back to back in every round.
        for name in https_servers(ctx, [MOTE_ACME] + KT["servers"]):
            servers[name] = tls_server(ctx, name, conns=KT["conns"]).start()
            log(f"https: warming {name}")
            wrk(ctx.tmp, servers[name].port, KT["conns"], K["warm_secs"], scheme="https")
            runs[name] = []
        for rnd in range(KT["rounds"]):
            for name, srv in (list(servers.items())[::-1] if rnd % 2 else servers.items()):
                log(f"https: keep-alive round {rnd + 1}/{KT['rounds']} {name}, c={KT['conns']}")
                runs[name].append(loaded(srv, ctx.tmp, KT["conns"], KT["secs"], scheme="https"))
    finally:
        for srv in servers.values():
            srv.stop()
    out = {}
    for name, rs in runs.items():
        out[name] = {k: statistics.median(r[k] for r in rs)
                     for k in ("rps", "p50", "p99", "cpu_us", "bytes_per_resp", "user_share")}
        out[name].update(requests=sum(r["requests"] for r in rs), errors=sum(r["errors"] for r in rs),
                         cpu_all=[r["cpu_us"] for r in rs])
    return out


def m_https_callgrind(ctx):
    """Instructions per keep-alive HTTPS request of the TLS and the ACME build, as m_callgrind
    counts them: one TLS connection, runs of 1 and 1 + N requests, the difference over N
    (the handshake, start-up and exit cancel out)."""
    out = {}
    r = K["cg_requests"]
    for name in https_servers(ctx, ["mote", MOTE_ACME]):
        label = TLS_ROWS[name][2]
        log(f"https: callgrind {name}, 1 and 1+{r} requests")
        startup, per_req, spoke = callgrind_runs(
            ctx, label, lambda runner: tls_server(ctx, name, runner=runner, label=f"{label}-cg"),
            f"{name} under valgrind (HTTPS)", r)
        out[name] = {"startup_ir": startup, "per_req": per_req, "requests": r, "spoke": spoke}
    return out


def handshakes(srv, n, resume):
    """n connections one after another, each with one GET, each a full handshake or resuming
    the session the last one left (as a browser does): the server's CPU µs per connection,
    how many resumed, and what the first one negotiated."""
    session = None
    if resume:
        status, s = srv.get()
        session = s.session
        s.close()
    time.sleep(0.05)
    before = srv.cpu()
    reused, spoke = 0, None
    for _ in range(n):
        status, s = srv.get(session=session)
        if status != 200:
            raise RuntimeError(f"{srv.label}: status {status} over HTTPS")
        spoke = spoke or f"{s.version()} {s.cipher()[0]}"
        if resume:
            reused += s.session_reused
            session = s.session or session
        s.close()
    time.sleep(0.05)  # the server's side of the last close
    cg, pr, _ = cpu_delta(before, srv.cpu())
    return (cg if cg is not None else pr) / n, reused, spoke


def m_https_handshakes(ctx):
    """CPU per connection with a full handshake and with a resumed one: every server up at
    once, rounds visiting them in turn; the client (Python's ssl, OpenSSL) on CPU 1 makes one
    connection at a time, so no server saturates and queueing is out of the figure."""
    servers, runs = {}, {}
    n = KT["handshakes"]
    try:
        for name in https_servers(ctx):
            servers[name] = tls_server(ctx, name).start()
            runs[name] = {"full": [], "resumed": []}
        for rnd in range(KT["handshake_rounds"]):
            for name, srv in (list(servers.items())[::-1] if rnd % 2 else servers.items()):
                log(f"https: handshakes round {rnd + 1}/{KT['handshake_rounds']} {name}, {n} + {n}")
                for mode in ("full", "resumed"):
                    cpu, reused, spoke = handshakes(srv, n, mode == "resumed")
                    runs[name][mode].append(cpu)
                    runs[name]["spoke"] = spoke
                    if mode == "resumed":
                        runs[name]["reused"] = runs[name].get("reused", 0) + reused
    finally:
        for srv in servers.values():
            srv.stop()
    return {name: {"full_us": statistics.median(r["full"]), "resumed_us": statistics.median(r["resumed"]),
                   "full_all": r["full"], "resumed_all": r["resumed"], "spoke": r["spoke"],
                   "reused": r["reused"], "conns": n * len(r["resumed"])}
            for name, r in runs.items()}


def m_https_idle(ctx):
    out = {}
    n = KT["idle_conns"]
    for name in https_servers(ctx):
        log(f"https: idle connections: {name}, {n}")
        out[name] = hold_idle(tls_server(ctx, name, conns=n).start(), n)
    return out


def m_https_arm(ctx):
    """The ARMv6 TLS build under qemu-arm: CPU per full and per resumed handshake, and per MB
    of a large file over one connection with each suite forced by the client (curl)."""
    binp = ctx.bins.get("mote-arm-tls")
    if not binp or not os.path.exists(binp):
        note(f"HTTPS on ARMv6: {binp or 'the ARMv6 TLS build'} is not built (`make pi TLS=1`); skipped")
        return None
    if not shutil.which("qemu-arm"):
        note("HTTPS on ARMv6: qemu-arm missing; skipped")
        return None
    # Its own site, so the large file changes nothing the other rows load.
    site = os.path.join(ctx.tmp, "site-arm-tls")
    os.makedirs(site, exist_ok=True)
    shutil.copy(os.path.join(ctx.site, "index.html"), site)
    size = KT["arm_bulk_bytes"]
    with open(os.path.join(site, "large.bin"), "wb") as f:
        f.write(os.urandom(size))
    out = {"bin": binp, "mtime": os.path.getmtime(binp), "bytes": size}
    srv = tls_server(ctx, "mote", bins={"mote": binp}, site=site, runner=["qemu-arm", "-cpu", "arm1176"],
                     label="mote-tls-armv6").start(timeout=30)
    try:
        n = KT["arm_handshakes"]
        log(f"https: ARMv6 under qemu, {n} full and {n} resumed handshakes")
        out["full_us"], _, out["spoke"] = handshakes(srv, n, False)
        out["resumed_us"], out["reused"], _ = handshakes(srv, n, True)
        out["handshakes"] = n
        for suite in ARM_BULK_SUITES:
            log(f"https: ARMv6 under qemu, {size >> 20} MiB with {suite}")
            one = curl_large(srv, suite, 1)
            many = curl_large(srv, suite, 1 + KT["arm_fetches"])
            out[suite] = {"us_per_mb": (many - one) / (KT["arm_fetches"] * size / 1e6)}
    finally:
        srv.stop()
    return out


def curl_large(srv, suite, count):
    """The server's CPU µs for `count` fetches of large.bin over one connection, the client
    offering `suite` alone (TLS 1.3)."""
    url = f"https://localhost:{srv.port}/large.bin"
    cmd = ["curl", "-sS", "-v", "--tlsv1.3", "--tls13-ciphers", suite, "--cacert", srv.cert,
           "--resolve", f"localhost:{srv.port}:127.0.0.1"]
    for _ in range(count):
        cmd += ["-o", "/dev/null", url]
    record(cmd, srv.tmp)
    before = srv.cpu()
    r = run(cmd, timeout=600)
    cg, pr, _ = cpu_delta(before, srv.cpu())
    if f"/ {suite}" not in r.stdout or r.stdout.count("Re-using existing connection") != count - 1:
        raise RuntimeError(f"curl did not fetch {count} times over one {suite} connection:\n{r.stdout[-1500:]}")
    return cg if cg is not None else pr


def build_tls(tmp, target, hyper_dir, bins):
    """The HTTPS rows' binaries. cargo links a build with other features to the same path, so
    each host build with TLS is copied into the run's temp dir, and the default builds are put
    back once all are made (cargo only relinks them). mote-tls is built as `make TLS=1` builds
    it, with TLS 1.2 beside 1.3; mote-acme as `make ACME=1` builds it, TLS 1.3 only.
    MOTE_TLS_BIN, MOTE_ACME_BIN, HYPER_TLS_BIN and MOTE_ARM_TLS_BIN override."""
    nobuild = bool(os.environ.get("BENCH_NO_BUILD"))
    hyper = ["--manifest-path", os.path.join(HERE, "hyper-ref", "Cargo.toml")]
    mote_bin = os.path.join(target, "release", "mote")
    rows = [("mote-tls", "MOTE_TLS_BIN", "tls,tls12", [], mote_bin, {}),
            ("mote-acme", "MOTE_ACME_BIN", "acme", [], mote_bin, {}),
            ("hyper-ref-tls", "HYPER_TLS_BIN", "tls", hyper, os.path.join(hyper_dir, "release", "hyper-ref"),
             {"CARGO_TARGET_DIR": hyper_dir})]
    restore = {}
    for key, env, features, args, built, env_extra in rows:
        if os.environ.get(env):
            bins[key] = os.path.abspath(os.environ[env])
            continue
        bins[key] = None
        if nobuild:
            continue
        log(f"building {key}...")
        cmd = ["cargo", "build", "--release", "-q", "--features", features] + args
        record(cmd, tmp)
        env_all = dict(os.environ, **env_extra)
        r = run(cmd, env=env_all, timeout=1200, check=False)
        if r.returncode != 0:
            note(f"{key}: the build failed; its HTTPS rows are skipped\n{(r.stdout or '')[-1000:]}")
        else:
            bins[key] = os.path.join(tmp, key)
            shutil.copy2(built, bins[key])
        restore[tuple(args)] = env_all
    for args, env_all in restore.items():
        run(["cargo", "build", "--release", "-q"] + list(args), env=env_all, timeout=1200)
    if SMOKE:
        return
    if os.environ.get("MOTE_ARM_TLS_BIN"):
        bins["mote-arm-tls"] = os.path.abspath(os.environ["MOTE_ARM_TLS_BIN"])
        return
    bins["mote-arm-tls"] = os.path.join(target, "tls", ARMV6, "release", "mote")
    if not nobuild:
        cmd = ["make", "-C", REPO, "--no-print-directory", "pi", "PI=", f"PI_TARGET={ARMV6}", "TINY=", "TLS=1"]
        log("building mote-arm-tls...")
        record(cmd, tmp)
        r = run(cmd, timeout=1200, check=False)
        if r.returncode != 0:
            note(f"mote-arm-tls: the build failed; its rows are skipped\n{(r.stdout or '')[-1000:]}")


def https_targets(R):
    """The HTTPS targets' rows for the report's table of targets."""
    T = []
    ka = R.get("https_keepalive") or {}
    if "mote" in ka:
        bp, who = best_peer(ka, "cpu_us", KT["servers"])
        if bp is not None:
            paired, lo, hi = paired_ratio(ka, "mote", who)
            medians = ka["mote"]["cpu_us"] / bp
            T.append((f"HTTPS keep-alive CPU per request ≤ {T_TLS_CPU_RATIO}× best peer",
                      f"{ka['mote']['cpu_us']:.2f} µs: {medians:.3f}× by medians, {paired:.3f}× median of "
                      f"the {len(ka['mote']['cpu_all'])} rounds' ratios ({lo:.2f}–{hi:.2f})",
                      f"best peer {who} {bp:.2f} µs → limit {T_TLS_CPU_RATIO * bp:.2f} µs; both ratios ≤ "
                      f"{T_TLS_CPU_RATIO}", medians <= T_TLS_CPU_RATIO and paired <= T_TLS_CPU_RATIO))
    acme_target(T, ka, R.get("https_callgrind") or {})
    hs = R.get("https_handshakes") or {}
    if "mote" in hs and "nginx" in hs:
        ratios = [a / b for a, b in zip(hs["mote"]["full_all"], hs["nginx"]["full_all"])]
        medians = hs["mote"]["full_us"] / hs["nginx"]["full_us"]
        paired = statistics.median(ratios)
        T.append((f"HTTPS full handshake CPU ≤ {T_TLS_HANDSHAKE_RATIO}× nginx's",
                  f"{hs['mote']['full_us']:.1f} µs: {medians:.3f}× by medians, {paired:.3f}× median of "
                  f"the {len(ratios)} rounds' ratios", f"nginx {hs['nginx']['full_us']:.1f} µs",
                  medians <= T_TLS_HANDSHAKE_RATIO and paired <= T_TLS_HANDSHAKE_RATIO))
    elif "mote" in hs:
        T.append(("HTTPS full handshake CPU ≤ nginx's", f"{hs['mote']['full_us']:.1f} µs",
                  "no nginx row in this run", None))
    ic = R.get("https_idle") or {}
    if "mote" in ic and "nginx" in ic:
        v, ref = ic["mote"]["per_conn"], ic["nginx"]["per_conn"]
        T.append((f"memory per idle HTTPS connection ≤ {T_TLS_IDLE_RATIO}× nginx's", f"{v:,.0f} B ({v / ref:.2f}×)",
                  f"nginx {ref:,.0f} B → limit {T_TLS_IDLE_RATIO * ref:,.0f} B; {ic['mote']['conns']} connections",
                  v <= T_TLS_IDLE_RATIO * ref))
    elif "mote" in ic:
        T.append(("memory per idle HTTPS connection ≤ ¼ of nginx's", f"{ic['mote']['per_conn']:,.0f} B",
                  "no nginx row in this run", None))
    return [(n, m, r, "not measured" if ok is None else ok) for n, m, r, ok in T]


def acme_target(T, ka, cg):
    """The ACME build's keep-alive HTTPS request within noise of the TLS build's: callgrind's
    instructions, and CPU time by the median of the rounds' ratios (the two run back to back
    in each round, so drift on the box cancels out of each ratio; the ratio of the medians is
    shown beside it, as single rounds spread by more than the bound here)."""
    name = (f"HTTPS keep-alive per request, ACME build within noise of the TLS build: "
            f"instructions ≤ {T_ACME_IR_RATIO}×, CPU ≤ {T_ACME_CPU_RATIO}×")
    if not all(s in d for s in ("mote", MOTE_ACME) for d in (ka, cg)):
        if "mote" in ka or "mote" in cg:
            T.append((name, "no ACME build row in this run", "—", None))
        return
    ir_a, ir_t = cg[MOTE_ACME]["per_req"], cg["mote"]["per_req"]
    cpu_a, cpu_t = ka[MOTE_ACME]["cpu_us"], ka["mote"]["cpu_us"]
    paired, lo, hi = paired_ratio(ka, MOTE_ACME, "mote")
    T.append((name, f"{ir_a:,.0f} Ir ({ir_a / ir_t:.3f}×); {cpu_a:.2f} µs: {paired:.3f}× median of the "
                    f"{len(ka[MOTE_ACME]['cpu_all'])} rounds' ratios ({lo:.2f}–{hi:.2f}), {cpu_a / cpu_t:.3f}× "
                    "by medians",
              f"TLS build {ir_t:,.0f} Ir, {cpu_t:.2f} µs → limit {T_ACME_IR_RATIO * ir_t:,.0f} Ir, and the "
              f"rounds' median ratio ≤ {T_ACME_CPU_RATIO}",
              ir_a <= T_ACME_IR_RATIO * ir_t and paired <= T_ACME_CPU_RATIO))


def https_report(w, R):
    ka, cg, hs, ic, arm = (R.get(k) or {} for k in ("https_keepalive", "https_callgrind", "https_handshakes",
                                                     "https_idle", "https_arm"))
    if not (ka or cg or hs or ic or arm):
        return
    w("## HTTPS\n")
    w("mote built with TLS as `make TLS=1` builds it (`--features tls,tls12`: rustls with ring, "
      "TLS 1.3 and 1.2), nginx with OpenSSL, and hyper-ref built "
      "with tokio-rustls and ring (`--features tls`), each listening for HTTPS only, with one ECDSA "
      "P-256 certificate made for the run; on each TLS 1.3 and 1.2, the suites "
      f"`{TLS13_SUITES}` and `{TLS12_SUITES}` in that order, the server's order winning, key "
      "exchange X25519 or P-256, and stateless session tickets (nginx's configuration is below). "
      "Server and CPU accounting as in the main run.\n")
    if ka:
        w(f"### Keep-alive over HTTPS (wrk https, c={KT['conns']}, {KT['rounds']} rounds × {KT['secs']} s "
          "per server, medians)\n")
        w("wrk (OpenSSL) speaks TLS 1.3 with AES-128-GCM to each. Rounds as in the main run.")
        if MOTE_ACME in ka:
            w(f"`{MOTE_ACME}` is mote built as `make ACME=1` builds it (`--features acme`, TLS 1.3 "
              "only), run with the same flags, certificate files and client as `mote`, and just "
              "before it in every round (just after, in the rounds that go in reverse). Its `--acme` "
              "flags change where the certificate and key come from and which certificate a "
              "handshake picks; on a connection that is up it runs the TLS build's request path "
              "but for two checks that find nothing on a request for the site (an HTTP-01 "
              "challenge the client has on, a connection that is a TLS-ALPN-01 validation), so "
              "the certificate files serve it here as they serve the TLS build.")
        w("")
        w("| server | req/s | p50 µs | p99 µs | CPU µs/req | rounds min–max | user share | bytes/response | errors |")
        w("|---|---|---|---|---|---|---|---|---|")
        for s, r in ka.items():
            w(f"| {s} | {r['rps']:,.0f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['cpu_us']:.2f} | "
              f"{min(r['cpu_all']):.2f}–{max(r['cpu_all']):.2f} | {100 * r['user_share']:.0f}% | "
              f"{r['bytes_per_resp']:,.0f} | {r['errors']} |")
        w("")
    if cg:
        w("### Instructions per keep-alive HTTPS request (`valgrind --tool=callgrind`)\n")
        w(f"Method as over plain HTTP: one TLS connection from Python's `ssl`, run A makes 1 "
          f"request and run B 1 + {K['cg_requests']} on the same connection; Ir per request = "
          f"(Ir(B) − Ir(A)) ÷ {K['cg_requests']}, so start-up, the handshake and exit cancel out.\n")
        w("| server | negotiated | Ir per request | Ir of run A (start-up, handshake, 1 request, exit) |")
        w("|---|---|---|---|")
        for s, r in cg.items():
            w(f"| {s} | {r['spoke']} | {r['per_req']:,.0f} | {r['startup_ir']:,.0f} |")
        w("")
    if hs:
        w(f"### A connection per request: full and resumed handshakes ({KT['handshake_rounds']} rounds × "
          f"{KT['handshakes']} connections of each kind per server, medians)\n")
        w("Python's `ssl` (OpenSSL) on CPU 1 opens one connection at a time, verifies the certificate, "
          "makes one GET, reads the response and closes. Full: a new session each time. Resumed: "
          "each connection offers the ticket the one before it received (TLS 1.3 PSK with a fresh "
          "key exchange, no certificate or signature). CPU µs: the server's CPU time per "
          "connection, TCP set-up, the request and the close included, the same work on every row.\n")
        w("| server | negotiated | CPU µs, full handshake | rounds | CPU µs, resumed | rounds | resumed |")
        w("|---|---|---|---|---|---|---|")
        for s, r in hs.items():
            w(f"| {s} | {r['spoke']} | {r['full_us']:.1f} | {min(r['full_all']):.1f}–{max(r['full_all']):.1f} | "
              f"{r['resumed_us']:.1f} | {min(r['resumed_all']):.1f}–{max(r['resumed_all']):.1f} | "
              f"{r['reused']}/{r['conns']} |")
        w("")
    if ic:
        w("### Memory per idle HTTPS connection\n")
        w("As for plain connections: VmRSS of the server's processes before and after opening N "
          "HTTPS connections that each made one request (response read whole) and stay idle; ÷ N.\n")
        w("| server | connections (still open) | RSS before | RSS after | bytes/connection |")
        w("|---|---|---|---|---|")
        for s, r in ic.items():
            w(f"| {s} | {r['conns']} ({r['open']}) | {r['before'] / 1024:,.0f} KiB | "
              f"{r['after'] / 1024:,.0f} KiB | {r['per_conn']:,.0f} |")
        w("")
    if arm:
        shown = arm["bin"][len(REPO) + 1:] if arm["bin"].startswith(REPO + "/") else arm["bin"]
        w("### HTTPS on ARMv6 under `qemu-arm -cpu arm1176`\n")
        w(f"mote: `{shown}` (`make pi TLS=1`), built "
          f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(arm['mtime']))}. CPU is qemu's on the x86 "
          f"host, so figures compare with each other, not with a Pi. Handshakes: {arm['handshakes']} "
          f"connections of each kind as above ({arm['spoke']}; resumed {arm['reused']}/{arm['handshakes']}). "
          f"Bulk: curl offering one TLS 1.3 suite fetches a {arm['bytes'] >> 20} MiB file once and "
          f"1 + {KT['arm_fetches']} times over one connection; CPU per MB = the difference ÷ the "
          "extra megabytes, so the handshake cancels out.\n")
        w("| measure | host CPU |")
        w("|---|---|")
        w(f"| full handshake (one GET) | {arm['full_us'] / 1000:.2f} ms |")
        w(f"| resumed handshake (one GET) | {arm['resumed_us'] / 1000:.2f} ms |")
        for suite in ARM_BULK_SUITES:
            if suite in arm:
                w(f"| bulk, {suite} | {arm[suite]['us_per_mb'] / 1000:.1f} ms per MB |")
        a, c = (arm.get(s, {}).get("us_per_mb") for s in ("TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"))
        if a and c:
            w(f"\nAES-128-GCM costs {a / c:.1f}× ChaCha20-Poly1305 per MB here: the ARM1176 has no AES "
              "instructions, which is why the ARM builds put ChaCha20 first.")
        w("")


def https_smoke_problems(R):
    problems = []
    if os.environ.get("BENCH_NO_BUILD") and not os.environ.get("MOTE_TLS_BIN"):
        return problems  # nothing built with TLS to measure
    ka, cg, hs, ic = (R.get(k) or {} for k in ("https_keepalive", "https_callgrind", "https_handshakes",
                                                "https_idle"))
    # The ACME build's rows: keep-alive and instructions, beside the TLS build's.
    acme = not os.environ.get("BENCH_NO_BUILD") or os.environ.get("MOTE_ACME_BIN")
    for s in ("mote", MOTE_ACME) if acme else ("mote",):
        if not cg.get(s, {}).get("per_req", 0) > 0:
            problems.append(f"{s} over HTTPS: callgrind measured no instructions per request")
    r = ka.get(MOTE_ACME)
    if acme and (not r or r["requests"] <= 0 or r["cpu_us"] <= 0):
        problems.append(f"{MOTE_ACME} over HTTPS: no requests or no CPU time measured")
    for s in KT["servers"]:
        r = ka.get(s)
        if not r or r["requests"] <= 0 or r["cpu_us"] <= 0:
            problems.append(f"{s} over HTTPS: no requests or no CPU time measured")
        h = hs.get(s)
        if not h or h["full_us"] <= 0 or h["resumed_us"] <= 0:
            problems.append(f"{s} over HTTPS: no handshake CPU measured")
        elif h["reused"] < h["conns"]:
            problems.append(f"{s} over HTTPS: {h['reused']}/{h['conns']} connections resumed")
        i = ic.get(s)
        if not i or i["open"] != i["conns"]:
            problems.append(f"{s} over HTTPS: idle connections were not all held open")
    return problems


# ----------------------------------------------------------------------------- main
def main():
    t_start = time.monotonic()
    try:
        os.sched_setaffinity(0, {1})  # the driver stays off the server's core
    except OSError:
        note("could not pin the driver to CPU 1")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 30000
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            hard = want
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < 10100:
        K["sweep_big"] = {}
        note(f"RLIMIT_NOFILE hard limit {hard} < 10100: the 10 000-connection level was skipped")
        K["idle_conns"] = min(K["idle_conns"], hard - 200)

    if ONLY:
        return only(ONLY)
    out_dir = os.environ.get("BENCH_OUT") or (os.path.join(tempfile.gettempdir(), "mote-bench-smoke")
                                              if SMOKE else HERE)
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="mote-bench-")
    R = {}
    rc = 0
    try:
        ensure_tools()
        bins, hyper_dir = build(tmp)
        site = make_site(tmp)
        R["page_bytes"] = os.path.getsize(os.path.join(site, "index.html"))
        for name, body in (("report.lua", WRK_DONE), ("pipeline.lua", WRK_PIPELINE + WRK_DONE)):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(body)
        ctx = Ctx(tmp, site, bins, hyper_dir)
        measures = [("main", m_main), ("scaling", m_scaling), ("syscalls", m_syscalls), ("idle_conns", m_idle_conns),
                    ("idle_rss", m_idle_rss), ("cold", m_cold_start), ("callgrind", m_callgrind),
                    ("redirects", m_redirects),
                    ("conn_cost", m_conn_cost), ("sweep", m_sweep)]
        if K["arm"]:
            measures += [("board", m_board), ("arm_insns", m_arm_insns)]
        else:
            note("ARMv6 on the emulated Pi Zero board: not part of the smoke run")
        measures += https_measures()
        for key, fn in measures:
            t = time.monotonic()
            try:
                R[key] = fn(ctx)
            except Exception as e:  # one measure failing must not lose the others
                FAILURES.append(f"{key}: {e}")
                note(f"measure `{key}` failed: {str(e).splitlines()[0][:300]}")
                for s in list(STARTED):
                    stop_any(s)
            log(f"{key} took {time.monotonic() - t:.1f}s")
        R["machine"] = machine()
        R["notes"] = NOTES
        write_report(out_dir, R, R["machine"], time.monotonic() - t_start)
        write_svg(out_dir, R)
        log(f"wrote {out_dir}/RESULTS.md and {out_dir}/results.svg "
            f"in {time.monotonic() - t_start:.0f}s")
        if SMOKE:
            rc = smoke_check(R, out_dir)
        elif FAILURES:
            rc = 1
    finally:
        for s in list(STARTED):
            stop_any(s)
        for path in list(CGROUPS):
            remove_cgroup(path)
        shutil.rmtree(tmp, ignore_errors=True)
    for t in R.get("targets", []):
        v = t["met"]
        print(f"  {'met    ' if v is True else 'NOT met' if v is False else str(v):8} {t['target']}: "
              f"{t['mote']} ({t['reference']})")
    return rc


def only(name):
    """One measure of mote alone (`--only=redirects`): mote built (or MOTE_BIN), the
    section and its targets printed; bench/RESULTS.md is left as it is."""
    measures = {"redirects": (m_redirects, redirect_section, redirect_targets)}
    if name not in measures:
        print(f"--only: one of {', '.join(measures)}", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="mote-bench-")
    try:
        if not shutil.which("valgrind"):
            sudo = [] if os.geteuid() == 0 else ["sudo"]
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            run(sudo + ["apt-get", "install", "-y", "-qq", "valgrind"], env=env, timeout=900)
        binp = os.environ.get("MOTE_BIN")
        if not binp:
            run(["cargo", "build", "--release", "-q"], cwd=REPO, timeout=1200)
            target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
            binp = os.path.join(target, "release", "mote")
        ctx = Ctx(tmp, make_site(tmp), {"mote": os.path.abspath(binp)}, None)
        measure, section, targets = measures[name]
        result = measure(ctx)
        lines, T = [], []
        section(lines.append, result)
        targets(T, result)
        lines += [f"- {target}: {mote} ({reference}): {'met' if ok else 'NOT met'}" for target, mote, reference, ok in T]
        print("\n".join(lines))
    finally:
        for s in list(STARTED):
            stop_any(s)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def stop_any(s):
    if isinstance(s, Server):
        s.stop()
    else:
        if s.poll() is None:
            s.kill()
            s.wait()
        if s in STARTED:
            STARTED.remove(s)


def smoke_check(R, out_dir):
    """The smoke fails when the harness breaks, never because a target is missed."""
    problems = list(FAILURES)
    for key in ("main", "syscalls", "idle_conns", "idle_rss", "cold", "callgrind", "sweep"):
        if not R.get(key):
            problems.append(f"no {key} figures")
    for s in K["servers"]:
        m = (R.get("main") or {}).get(s)
        if not m or m["requests"] <= 0 or m["cpu_us"] <= 0:
            problems.append(f"{s}: no requests or no CPU time measured")
        sc = (R.get("syscalls") or {}).get(s, {})
        for mode in ("keepalive", "pipelined"):
            if not sc.get(mode) or sc[mode].get("calls", 0) <= 0:
                problems.append(f"{s}: strace counted no calls ({mode})")
        ic = (R.get("idle_conns") or {}).get(s)
        if not ic or ic["open"] != ic["conns"]:
            problems.append(f"{s}: idle connections were not all held open")
    bare = (R.get("main") or {}).get(BARE)
    if not bare or bare["requests"] <= 0:
        problems.append(f"{BARE}: no requests measured")
    if not (R.get("callgrind") or {}).get("mote", {}).get("per_req", 0) > 0:
        problems.append("callgrind measured no instructions per request")
    for f in ("RESULTS.md", "results.svg"):
        p = os.path.join(out_dir, f)
        if not os.path.exists(p) or os.path.getsize(p) < 200:
            problems.append(f"{f} missing or empty")
    problems += https_smoke_problems(R)
    for p in problems:
        print(f"bench-smoke: FAIL {p}", file=sys.stderr)
    if not problems:
        print("bench-smoke: harness OK (targets are not judged by the smoke run)")
    return 1 if problems else 0


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sys.exit(main())
