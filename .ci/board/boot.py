#!/usr/bin/env python3
"""`make pi-boot`: the ARM builds booted under busybox init on emulated boards, with
Debian's own kernels.

    python3 .ci/board/boot.py --cache DIR --client CLIENT [--tls-client CLIENT] BOOT...

BOOT is BOARD:BUILD:BINARY, BOARD one of raspi0 (the Pi Zero: ARM1176, Debian's
`linux-image-rpi`, armel) or virt (QEMU's virt board with a Cortex-A7 and two cores,
Debian's `linux-image-armmp`, armhf). Each boot packs the binary, Debian's
`busybox-static` for the kernel's architecture, the project's HTTP client (CLIENT) and
the checks in .ci/board/guest/ into a gzipped cpio initramfs, with an /etc/inittab
whose mote line is deploy/inittab's own, and watches the serial console: the checks
print PASS/FAIL lines and an end marker, and the boot fails on a FAIL, a missing
check, or no marker within BOOT_TIMEOUT. Kernels and busybox come from Debian's
archive through a private apt state under DIR (the host's Debian sources, armel and
armhf; nothing is installed) and stay cached there between runs.

A BUILD named with `-tls` (armv6-tls) is the HTTPS build: its guest also holds a
certificate for localhost and 127.0.0.1 made here by openssl, signed by a CA made
for the run (the key readable by root only, as docs/https.md advises), the HTTPS
client built for it (--tls-client) and the CA; the mote line gets `--listen-tls`,
`--tls-cert` and `--tls-key` (TLS_FLAGS), and guest/checks.sh runs its HTTPS
checks too (TLS_CHECKS). A BUILD named with `-acme` (armv6-acme) is the ACME build:
its guest holds a stored certificate in its --acme-dir instead, and runs the checks of
ACME_CHECKS (what it must show with the clock at 1970).

The module is also what `make bench` boots its board run with (bench/run.py):
Archive, unpacked, cpio_gz and console_run.

Python standard library only; qemu is stopped by PID however a boot ends.
"""

import argparse
import glob
import gzip
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
INITTAB = os.path.join(REPO, "deploy", "inittab")
SITE = os.path.join(REPO, "static")

# A whole boot with the checks takes 20-25 s; this bounds a hang (a kernel that never
# reaches init, a check that never returns) with room for a loaded machine.
BOOT_TIMEOUT = 100
# Bound of each apt-get run; a failed download fails the run.
APT_TIMEOUT = 300
CONSOLE_TAIL = 40
END_MARKER = "BOARD-END "
# The board cannot reboot (QEMU's raspi0 halts), so a panic is seen, not waited out.
PANIC = "Kernel panic - not syncing"
STATUS_PATH = "/.mote-status"
# Above --cache-max (256 KiB by default), so it is streamed with sendfile, not held.
BIG_FILE = ("big.bin", 320 * 1024)
# Every one of these must print PASS (guest/checks.sh prints them in this order).
CHECKS = ["boot", "no-date-at-1970", "site", "head", "range", "user", "io_uring", "rss",
          "io_uring-off", "access-log", "reload", "respawn-kill-9", "respawn-term", "date"]
# The HTTPS build's, after those: served with the clock at 1970 (verified as of the
# pack time, by a client whose clock is right), then, once `date -s` has set the guest's
# clock, handshakes and a keep-alive load verified by the guest's own clock.
TLS_CHECKS = ["tls-at-1970", "tls-handshake", "tls-load"]
# Where the HTTPS build's files go in the guest; the line gets these flags.
TLS_PORT = "443"
TLS_CERT, TLS_KEY, TLS_CA = "/etc/mote/cert.pem", "/etc/mote/key.pem", "/board/ca.pem"
TLS_FLAGS = f"--listen-tls 0.0.0.0:{TLS_PORT} --tls-cert {TLS_CERT} --tls-key {TLS_KEY}"
# The ACME build (a BUILD named with `-acme`): its --acme-dir is packed into the guest
# holding a certificate, key, account and renewal state for ACME_NAME, as the store
# writes them (acme_store: made here with openssl, signed by the run's CA, and valid
# for 30 days from the pack time, so not due for renewal), and the line names a CA the
# guest cannot reach: the address a QEMU guest with user networking would reach the host
# at. rcS routes that address into the loopback device, where nothing answers it, so a
# connection attempt stays in SYN_SENT for the client's 10 s connect timeout and shows
# in /proc/net/tcp; mote also logs to syslog (busybox syslogd), so the guest can read
# its lines. With the clock at 1970 mote must serve the stored certificate, say once
# that it waits for the clock, and make no connection towards the CA, even when SIGHUP
# wakes its client; once the clock is set, SIGHUP must send it to the CA (which shows
# that the checks would see an attempt), and handshakes verified by the guest's clock
# pass. The rest of the boot is the TLS build's, so these are its only checks.
ACME_CHECKS = ["boot", "acme-at-1970", "date", "acme-once-set", "tls-handshake"]
ACME_NAME = "localhost"
ACME_DIR = "/var/lib/mote/acme"
ACME_CA_ADDR, ACME_CA_PORT = "10.0.2.2", "14000"
ACME_DIRECTORY = f"https://{ACME_CA_ADDR}:{ACME_CA_PORT}/dir"
ACME_FLAGS = (f"--listen-tls 0.0.0.0:{TLS_PORT} --acme {ACME_NAME} --acme-dir {ACME_DIR} "
              f"--acme-directory {ACME_DIRECTORY} --acme-ca-file {TLS_CA} --syslog")


def checks_for(build):
    """The checks a boot of BUILD must report."""
    if is_acme(build):
        return ACME_CHECKS
    return CHECKS + (TLS_CHECKS if "tls" in build.split("-") else [])


def is_acme(build):
    return "acme" in build.split("-")


def is_https(build):
    return "tls" in build.split("-") or is_acme(build)

# What each board boots: Debian's kernel package (a metapackage naming the current
# kernel) and the files found in it by pattern, as they move with Debian's updates.
BOARDS = {
    "raspi0": dict(arch="armel", kernel_package="linux-image-rpi",
                   kernel="boot/vmlinuz-*", dtb="usr/lib/linux-image-*/bcm2835-rpi-zero.dtb",
                   # QEMU's raspi0 lacks the power-management block this driver probes,
                   # which panics the kernel.
                   machine=["-M", "raspi0"],
                   append="initcall_blacklist=bcm2835_pm_driver_init"),
    "virt": dict(arch="armhf", kernel_package="linux-image-armmp",
                 kernel="boot/vmlinuz-*", dtb=None,
                 # The RTC starts at 1970, as a Pi's clock does before NTP. No network
                 # card: the checks run inside, and its boot ROM is not installed.
                 machine=["-M", "virt", "-cpu", "cortex-a7", "-smp", "2", "-m", "256",
                          "-rtc", "base=1970-01-01T00:00:00", "-nic", "none"],
                 append=""),
}


class BootError(Exception):
    pass


def say(line):
    print(line, flush=True)


def run(cmd, timeout=APT_TIMEOUT, **kw):
    try:
        return subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, **kw).stdout
    except subprocess.CalledProcessError as e:
        raise BootError(f"{' '.join(cmd[:3])} ... failed (exit {e.returncode}): {e.stderr.strip()[-600:]}")
    except subprocess.TimeoutExpired:
        raise BootError(f"{' '.join(cmd[:3])} ... did not finish within {timeout} s")


# ------------------------------------------------------------------ deploy/inittab
def inittab_line():
    """deploy/inittab's one uncommented line, and what the guest needs for it."""
    with open(INITTAB) as f:
        lines = [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]
    if len(lines) != 1:
        raise BootError(f"{INITTAB}: expected one uncommented line, found {len(lines)}")
    line = lines[0]
    fields = line.split(":", 3)
    if len(fields) != 4:
        raise BootError(f"{INITTAB}: not an <id>:<runlevels>:<action>:<process> line: {line}")
    words = fields[3].split()
    flags = {}
    for name, value in zip(words, words[1:] + [""]):
        if name.startswith("--"):
            name, eq, inline = name.partition("=")
            flags[name] = inline if eq else value
    listen = flags.get("--listen", "")
    m = re.fullmatch(r"(\d+\.\d+\.\d+\.\d+):(\d+)", listen)
    if not m:
        raise BootError(f"{INITTAB}: the checks reach mote on 127.0.0.1, so the line needs an "
                        f"IPv4 --listen ADDR:PORT (has {listen or 'none'})")
    if "--root" not in flags:
        raise BootError(f"{INITTAB}: the checks compare pages with the site, so the line needs --root")
    status = flags.get("--status")
    guest_line = line if status else f"{line} --status {STATUS_PATH}"
    return dict(line=line, guest_line=guest_line, bin=words[0], port=m.group(2),
                root=flags["--root"], log=flags.get("--access-log", ""),
                user=flags.get("--user", ""), status=status or STATUS_PATH)


# ---------------------------------------------------------------- Debian packages
class Archive:
    """apt-get with its own state under DIR: the host's Debian sources for armel and
    armhf, lists and downloads kept in DIR, nothing installed."""

    def __init__(self, cache):
        self.dir = os.path.abspath(os.path.join(cache, "apt"))
        self.debs = os.path.join(cache, "debs")
        self.updated = False
        self.opts = ["-o", f"Dir::State={self.dir}/state",
                     "-o", f"Dir::State::status={self.dir}/state/status",
                     "-o", f"Dir::Cache={self.dir}/cache",
                     "-o", "APT::Architecture=armel",
                     "-o", "APT::Architectures::=armel", "-o", "APT::Architectures::=armhf",
                     # The lists and downloads are the caller's: no lock on the host's
                     # apt, and no drop to the _apt user (who cannot write to DIR).
                     "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"]

    def update(self):
        if self.updated:
            return
        for d in ("state/lists/partial", "cache/archives/partial"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        open(os.path.join(self.dir, "state", "status"), "a").close()
        say("pi-boot: apt-get update (armel, armhf; lists under "
            f"{os.path.relpath(self.dir, REPO)})...")
        run(["apt-get", "-q", *self.opts, "update"])
        self.updated = True

    def download(self, package, arch):
        """The .deb of PACKAGE:ARCH (a metapackage resolved to what it depends on)."""
        self.update()
        show = run(["apt-cache", *self.opts, "show", "--no-all-versions", f"{package}:{arch}"])
        depends = re.search(r"^Depends: (\S+)", show, re.M)
        if package.startswith("linux-image-") and depends and "linux-image-" in depends.group(1):
            package = depends.group(1).rstrip(",")
        os.makedirs(self.debs, exist_ok=True)
        run(["apt-get", "-q", *self.opts, "download", f"{package}:{arch}"], cwd=self.debs)
        found = sorted(glob.glob(os.path.join(self.debs, f"{package}_*_{arch}.deb")),
                       key=os.path.getmtime)
        if not found:
            raise BootError(f"apt-get download {package}:{arch} left no .deb in {self.debs}")
        return found[-1]


def unpacked(cache, archive, package, arch, patterns):
    """PATTERNS (globs) from Debian's PACKAGE:ARCH, unpacked under the cache once; returns
    (files in pattern order, 'package version arch')."""
    tree = os.path.join(cache, "unpacked", f"{package}_{arch}")
    stamp = os.path.join(tree, ".package")
    if not os.path.exists(stamp):
        deb = archive.download(package, arch)
        shutil.rmtree(tree, ignore_errors=True)
        os.makedirs(tree)
        # Only the files the boot needs: a kernel package is mostly modules (~150 MB).
        tar = subprocess.Popen(["tar", "-x", "-C", tree, "--wildcards", *[f"./{p}" for p in patterns]],
                               stdin=subprocess.PIPE)
        deb_out = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], stdout=tar.stdin, timeout=APT_TIMEOUT)
        tar.stdin.close()
        if tar.wait(timeout=APT_TIMEOUT) != 0 or deb_out.returncode != 0:
            raise BootError(f"unpacking {patterns} from {deb} failed")
        fields = run(["dpkg-deb", "-f", deb, "Package", "Version", "Architecture"])
        with open(stamp, "w") as f:
            f.write(" ".join(v.split(": ", 1)[1] for v in fields.splitlines()))
    files = []
    for pattern in patterns:
        hits = sorted(glob.glob(os.path.join(tree, pattern)))
        if len(hits) != 1:
            raise BootError(f"{package}:{arch}: {len(hits)} files match {pattern} in {tree}")
        files.append(hits[0])
    with open(stamp) as f:
        return files, f.read()


# ---------------------------------------------------------------------- initramfs
class Rootfs:
    """A guest's root file system, put together in a directory: busybox as /init's
    shell and init, rcS, and what the caller adds."""

    def __init__(self, path, busybox):
        self.path = path
        shutil.rmtree(path, ignore_errors=True)
        for d in ("dev", "proc", "sys", "tmp", "sbin", "usr/bin", "usr/sbin", "root", "var/log"):
            os.makedirs(os.path.join(path, d))
        self.put(busybox, "/bin/busybox")
        self.put(os.path.join(HERE, "guest", "init"), "/init")
        self.put(os.path.join(HERE, "guest", "rcS"), "/etc/init.d/rcS")

    def _at(self, dest):
        path = os.path.join(self.path, dest.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def put(self, src, dest, mode=0o755):
        shutil.copyfile(src, self._at(dest))
        os.chmod(self._at(dest), mode)

    def write(self, dest, text, mode=0o644):
        with open(self._at(dest), "w") as f:
            f.write(text)
        os.chmod(self._at(dest), mode)

    def env(self, **values):
        """/etc/board.env, which rcS and the guest's scripts read."""
        self.write("/etc/board.env", "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items()))


def cpio_gz(rootfs, path):
    """ROOTFS (a directory) as a gzipped newc cpio archive at PATH, owned by root."""
    names = subprocess.run(["find", "."], cwd=rootfs, check=True, text=True,
                           stdout=subprocess.PIPE).stdout
    cpio = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], cwd=rootfs,
                          input=names.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)
    if cpio.returncode != 0:
        raise BootError(f"cpio failed: {cpio.stderr.decode(errors='replace').strip()}")
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(cpio.stdout)
    return path


def initramfs(work, board, build, binary, clients, busybox, line, tls, acme=None):
    """The checks' guest as a gzipped cpio archive; returns its path. CLIENTS: the HTTP
    client and, for an HTTPS build, the HTTPS one; TLS: (ca, cert, key) or None; ACME:
    the --acme-dir to pack (acme_store), or None."""
    fs = Rootfs(os.path.join(work, "rootfs"), busybox)
    fs.put(os.path.join(HERE, "guest", "checks.sh"), "/board/checks.sh")
    fs.put(clients[0], "/board/mote-client")
    fs.put(binary, line["bin"])
    for dirpath, _, files in os.walk(SITE):
        for name in files:
            src = os.path.join(dirpath, name)
            fs.put(src, os.path.join(line["root"], os.path.relpath(src, SITE)), 0o644)
    with open(fs._at(os.path.join(line["root"], BIG_FILE[0])), "wb") as f:
        f.write(bytes((i * 7 + i // 251) & 0xFF for i in range(BIG_FILE[1])))
    # The --user user: www-data has Debian's uid; any other name gets 1000.
    users = {"root": 0}
    if line["user"]:
        name, _, group = line["user"].partition(":")
        users.setdefault(name, 33 if name == "www-data" else 1000)
        if group:
            users.setdefault(group, users[name])
    fs.write("/etc/passwd", "".join(f"{u}:x:{i}:{i}:{u}:/:/bin/sh\n" for u, i in users.items()))
    fs.write("/etc/group", "".join(f"{u}:x:{i}:\n" for u, i in users.items()))
    guest_line = line["guest_line"]
    if tls:
        ca, cert, key = tls
        fs.put(clients[1], "/board/mote-tls-client")
        fs.put(ca, TLS_CA, 0o644)
        if acme:
            shutil.copytree(acme, fs._at(ACME_DIR), symlinks=True)
            guest_line = f"{guest_line} {ACME_FLAGS}"
        else:
            fs.put(cert, TLS_CERT, 0o644)
            # Readable by root only: mote reads it before --user drops privileges.
            fs.put(key, TLS_KEY, 0o600)
            guest_line = f"{guest_line} {TLS_FLAGS}"
    fs.write("/etc/inittab", "::sysinit:/etc/init.d/rcS\n::once:/board/checks.sh\n" + guest_line + "\n")
    fs.env(BOARD=board, BUILD=build, NOW=str(int(time.time())), MOTE_BIN=line["bin"],
           PORT=line["port"], ROOT=line["root"], LOG=line["log"], RUN_USER=line["user"],
           STATUS=line["status"], LINE=guest_line, TLS="1" if tls else "",
           TLS_PORT=TLS_PORT, TLS_CERT=TLS_CERT, TLS_KEY=TLS_KEY, TLS_CA=TLS_CA,
           ACME="1" if acme else "", ACME_DIR=ACME_DIR, ACME_NAME=ACME_NAME, ACME_CA_ADDR=ACME_CA_ADDR,
           ACME_CA_PORT=ACME_CA_PORT)
    return cpio_gz(fs.path, os.path.join(work, "initramfs.cpio.gz"))


# ------------------------------------------------------------------------- HTTPS
def certificates(work):
    """A CA and a localhost certificate it signs, ECDSA P-256, valid from now for 30
    days, past the 14 days mote warns within (openssl); returns the paths (ca, cert, key)."""
    d = os.path.join(work, "pki")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(d, "ext"), "w") as f:
        # The authority key identifier, as a CA's certificates carry it: the ACME build's
        # client asks for renewal information by it once the clock is set.
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nauthorityKeyIdentifier=keyid\n")
    for cmd in (["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "ca.key"],
                ["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=board CA", "-days", "30", "-out", "ca.pem"],
                ["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "key.pem"],
                ["req", "-new", "-key", "key.pem", "-subj", "/CN=localhost", "-out", "leaf.csr"],
                ["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "30", "-extfile", "ext", "-out", "cert.pem"]):
        run(["openssl", *cmd], cwd=d, timeout=30)
    return [os.path.join(d, n) for n in ("ca.pem", "cert.pem", "key.pem")]


def acme_store(work, cert, key):
    """An --acme-dir as mote's store (src/acme/store.rs) leaves it after issuing CERT
    (with KEY) for ACME_NAME from ACME_DIRECTORY: one directory per CA, named by the
    first 8 bytes of SHA-256 of its URL, holding the account, the pair behind a link,
    and the renewal state; directories 0700, files 0600. Returns its path."""
    root = os.path.join(work, "acme")
    shutil.rmtree(root, ignore_errors=True)
    ca_dir = os.path.join(root, hashlib.sha256(ACME_DIRECTORY.encode()).hexdigest()[:16])
    pair = os.path.join(ca_dir, f"{ACME_NAME}.a")
    os.makedirs(pair)
    account = os.path.join(work, "pki", "account.pem")
    run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", account], timeout=30)
    # Both keys as PKCS #8 DER, as the store keeps them.
    for pem, der in ((key, os.path.join(pair, "key.der")), (account, os.path.join(ca_dir, "account.key"))):
        run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER", "-out", der], timeout=30)
    shutil.copyfile(cert, os.path.join(pair, "chain.pem"))
    os.symlink(f"{ACME_NAME}.a", os.path.join(ca_dir, ACME_NAME))
    for name, text in (("directory.url", f"{ACME_DIRECTORY}\n"),
                       ("account.url", f"https://{ACME_CA_ADDR}:{ACME_CA_PORT}/my-account/1\n"),
                       (f"{ACME_NAME}.state", "mote-acme-state 1\nfailures 0\nnext_attempt 0\nari_retry 0\n"
                        f"profile \nnames {ACME_NAME}\nfailed_challenge \nlast_error \nend\n")):
        with open(os.path.join(ca_dir, name), "w") as f:
            f.write(text)
    for dirpath, dirs, files in os.walk(root):
        os.chmod(dirpath, 0o700)
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o600)
    return root


# --------------------------------------------------------------------------- boot
def console_run(name, board, kernel, dtb, initrd, work, timeout, on_line, qemu_args=()):
    """Boots BOARD with INITRD (QEMU_ARGS added to qemu's) and calls ON_LINE with each
    console line until a line starts with END_MARKER; returns (that line, seconds from
    qemu's start). Raises
    BootError, after printing the console's last lines, on a kernel panic, a qemu that
    exits, or no end marker within TIMEOUT; ON_LINE may raise BootError too."""
    spec = BOARDS[board]
    console = os.path.join(work, "console.log")
    open(console, "w").close()
    cmd = ["qemu-system-arm", *spec["machine"], "-kernel", kernel,
           *(["-dtb", dtb] if dtb else []), "-initrd", initrd,
           # earlycon: a kernel that dies before its serial driver is up still says why.
           "-append", " ".join(filter(None, ["console=ttyAMA0 earlycon quiet panic=1", spec["append"]])),
           "-display", "none", "-monitor", "none", "-serial", f"file:{console}", "-no-reboot", *qemu_args]
    say(f"{name}: {shlex.join(os.path.relpath(c, REPO) if c.startswith(REPO) else c for c in cmd)}")
    start = time.monotonic()
    with open(os.path.join(work, "qemu.stderr"), "w") as err:
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    seen, ended, problem = 0, None, None
    try:
        while ended is None and problem is None:
            time.sleep(0.2)
            with open(console, errors="replace") as f:
                lines = f.read().split("\n")[:-1]
            for text in (l.rstrip("\r") for l in lines[seen:]):
                if text.startswith(END_MARKER):
                    ended = text
                elif PANIC in text:
                    problem = "the kernel panicked"
                else:
                    on_line(text)
            seen = len(lines)
            if problem is not None or ended is not None:
                break
            if qemu.poll() is not None:
                problem = f"qemu exited with status {qemu.returncode} before the guest ended"
            elif time.monotonic() - start > timeout:
                problem = f"the guest did not end within {timeout} s"
    finally:
        if qemu.poll() is None:
            qemu.terminate()
            try:
                qemu.wait(timeout=10)
            except subprocess.TimeoutExpired:
                qemu.kill()
                qemu.wait()
    elapsed = time.monotonic() - start
    if problem is not None:
        console_tail(name, work)
        raise BootError(f"{problem} ({elapsed:.1f} s)")
    return ended, elapsed


def console_tail(name, work):
    console = os.path.join(work, "console.log")
    with open(console, errors="replace") as f:
        tail = f.read().replace("\r", "").splitlines()[-CONSOLE_TAIL:]
    with open(os.path.join(work, "qemu.stderr"), errors="replace") as f:
        tail += [f"qemu: {l}" for l in f.read().splitlines()[-10:]]
    say(f"{name}: the console's last {len(tail)} lines ({os.path.relpath(console, REPO)}):")
    for text in tail:
        say(f"  | {text}")


def boot(name, board, kernel, dtb, initrd, work, checks):
    """Boots one board and prints its check lines; raises BootError on a FAIL, a
    missing check, a qemu that exits, or no end marker within BOOT_TIMEOUT."""
    results = {}

    def on_line(text):
        if text.startswith(("PASS ", "FAIL ")):
            say(f"{name}: {text}")
            verdict, _, rest = text.partition(" ")
            results.setdefault(rest.split(":", 1)[0], []).append(verdict)

    _, elapsed = console_run(name, board, kernel, dtb, initrd, work, BOOT_TIMEOUT, on_line)
    failed = [c for c, v in results.items() if "FAIL" in v]
    missing = [c for c in checks if c not in results]
    if failed or missing:
        console_tail(name, work)
        raise BootError("; ".join(filter(None, [failed and f"failed: {', '.join(failed)}",
                                                missing and f"never ran: {', '.join(missing)}"]))
                        + f" ({elapsed:.1f} s)")
    say(f"{name}: {len(results)} checks passed, {elapsed:.1f} s from qemu start to the end marker")


def board_files(cache, archive, board):
    """The kernel, dtb (or None) and busybox of BOARD from Debian, and their versions."""
    spec = BOARDS[board]
    patterns = [spec["kernel"]] + ([spec["dtb"]] if spec["dtb"] else [])
    files, kernel_version = unpacked(cache, archive, spec["kernel_package"], spec["arch"], patterns)
    (busybox,), busybox_version = unpacked(cache, archive, "busybox-static", spec["arch"], ["bin/busybox"])
    say(f"pi-boot: {board}: {kernel_version} ({', '.join(os.path.relpath(p, cache) for p in files)}); "
        f"{busybox_version}")
    return dict(kernel=files[0], dtb=files[1] if spec["dtb"] else None, busybox=busybox)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", required=True, help="downloads and boot files (under target/)")
    parser.add_argument("--client", required=True, help="the guest's HTTP client (ARM, static)")
    parser.add_argument("--tls-client", help="the guest's HTTPS client, for a -tls build")
    parser.add_argument("boots", nargs="+", metavar="BOARD:BUILD:BINARY")
    args = parser.parse_args()
    started = time.monotonic()
    cache = os.path.abspath(args.cache)
    boots = []
    for spec in args.boots:
        board, build, binary = spec.split(":", 2)
        if board not in BOARDS or not os.path.isfile(binary):
            sys.exit(f"pi-boot: {spec}: a board is one of {', '.join(BOARDS)}, and the binary must exist")
        if is_https(build) and not (args.tls_client and os.path.isfile(args.tls_client)):
            sys.exit(f"pi-boot: {spec}: an HTTPS build needs --tls-client (the guest's HTTPS client)")
        boots.append((board, build, os.path.abspath(binary)))
    try:
        line = inittab_line()
        version = run(["qemu-system-arm", "--version"]).splitlines()[0]
        say(f"pi-boot: {version}")
        say(f"pi-boot: deploy/inittab: {line['line']}")
        say(f"pi-boot: in the guest: {line['guest_line']}")
        say(f"pi-boot:   (the line as written{'' if line['guest_line'] == line['line'] else ', plus --status for the counters'}; "
            f"the guest has the build at {line['bin']}, static/ and a {BIG_FILE[1] // 1024} KiB {BIG_FILE[0]} in "
            f"{line['root']}{', ' + line['user'] + ' in /etc/passwd' if line['user'] else ''}"
            f"{', the log directory owned by it' if line['user'] and line['log'] else ''}; "
            f"the checks reach it on 127.0.0.1:{line['port']})")
        if any("tls" in b.split("-") for _, b, _ in boots):
            say(f"pi-boot: an HTTPS build's line adds: {TLS_FLAGS} (a certificate for localhost and "
                f"127.0.0.1 from a CA made for the run, in {TLS_CA}; the key mode 600)")
        if any(is_acme(b) for _, b, _ in boots):
            say(f"pi-boot: an ACME build's line adds: {ACME_FLAGS} (its --acme-dir holds a certificate for "
                f"{ACME_NAME} from the run's CA, its key, an account and renewal state, as the store writes "
                f"them; nothing answers at {ACME_CA_ADDR})")
        archive = Archive(cache)
        parts = {board: board_files(cache, archive, board) for board in dict.fromkeys(b for b, _, _ in boots)}
        say(f"pi-boot: kernels and busybox ready in {time.monotonic() - started:.1f} s")
    except BootError as e:
        sys.exit(f"pi-boot: {e}")
    failures = []
    for board, build, binary in boots:
        name = f"{board}/{build}"
        work = os.path.join(cache, "boot", f"{board}-{build}")
        os.makedirs(work, exist_ok=True)
        try:
            tls = certificates(work) if is_https(build) else None
            acme = acme_store(work, tls[1], tls[2]) if is_acme(build) else None
            clients = [os.path.abspath(args.client)] + ([os.path.abspath(args.tls_client)] if tls else [])
            initrd = initramfs(work, board, build, binary, clients, parts[board]["busybox"], line, tls, acme)
            boot(name, board, parts[board]["kernel"], parts[board]["dtb"], initrd, work, checks_for(build))
        except BootError as e:
            say(f"{name}: FAILED: {e}")
            failures.append(name)
    total = time.monotonic() - started
    if failures:
        sys.exit(f"pi-boot: {len(failures)} of {len(boots)} boots failed ({', '.join(failures)}) in {total:.0f} s")
    say(f"pi-boot: {len(boots)} boots passed in {total:.0f} s")


if __name__ == "__main__":
    main()
