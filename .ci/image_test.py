#!/usr/bin/env python3
"""Checks the container image `make image` wrote, then runs it with podman.

usage: image_test.py OUT_DIR VERSION PLATFORM=BINARY...

1. The OCI layout OUT_DIR/oci: one index for VERSION naming each PLATFORM; each
   image is one layer holding only /mote, byte for byte that platform's BINARY,
   and a config that runs it as user 65532 on port 8080.
2. The host's platform, loaded by podman from the oci-archive OUT_DIR/mote.tar
   as a user would, run behind a published port: with the image's own
   arguments (the built-in site), with `--root /site` on a volume, and with
   `--threads 2` (signals then go to a thread of their own, not the event
   loop). Each must answer GET /, run as PID 1 of its PID namespace as uid
   65532, and stop with exit 0 on SIGTERM or SIGINT, whether sent from the host
   (`podman stop`, `podman kill`) or from inside its PID namespace, where the
   kernel drops any signal that PID 1 leaves at its default action. SIGHUP
   re-reads the volume.

Prints each image's compressed size. podman keeps its own storage in
OUT_DIR/podman, so nothing on the host's container storage changes.
"""
import gzip
import hashlib
import io
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

USER = "65532:65532"
ENTRYPOINT = ["/mote"]
CMD = ["--listen", "0.0.0.0:8080"]
PORT = "8080/tcp"
STEP_TIMEOUT = 60  # seconds for any one podman command
STOP_TIMEOUT = 20  # seconds from a stop signal to exit (mote's --grace is 5)
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())

failures = []
passes = []


def check(ok, what):
    print(f"image-test: {'ok' if ok else 'FAILED'}: {what}")
    (passes if ok else failures).append(what)
    return ok


class Layout:
    """An OCI image layout directory, read with nothing but json and tarfile."""

    def __init__(self, path):
        self.path = path

    def blob(self, digest):
        algorithm, hexdigest = digest.split(":", 1)
        with open(os.path.join(self.path, "blobs", algorithm, hexdigest), "rb") as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != hexdigest:
            raise ValueError(f"blob {digest} does not match its digest")
        return data

    def json(self, descriptor):
        data = self.blob(descriptor["digest"])
        if len(data) != descriptor["size"]:
            raise ValueError(f"blob {descriptor['digest']} is not {descriptor['size']} bytes")
        return json.loads(data)

    def index(self, tag):
        with open(os.path.join(self.path, "index.json")) as f:
            top = json.load(f)
        for d in top["manifests"]:
            if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
                return d, self.json(d)
        raise KeyError(f"no image tagged {tag} in {self.path}/index.json")


def platform_name(p):
    return "/".join(x for x in (p["os"], p["architecture"], p.get("variant")) if x)


def check_layout(out_dir, version, binaries):
    layout = Layout(os.path.join(out_dir, "oci"))
    descriptor, index = layout.index(f"mote:{version}")
    check(descriptor["mediaType"] == "application/vnd.oci.image.index.v1+json", "the tag names an OCI image index")
    found = {platform_name(d["platform"]): d for d in index["manifests"]}
    check(sorted(found) == sorted(binaries), f"the index holds {', '.join(sorted(binaries))} (it holds {', '.join(sorted(found))})")
    sizes = []
    for name, binary in sorted(binaries.items()):
        if name not in found:
            continue
        manifest = layout.json(found[name])
        config = layout.json(manifest["config"])
        check(platform_name(config) == name, f"{name}: the config says {platform_name(config)}")
        c = config["config"]
        check(
            c.get("User") == USER and c.get("Entrypoint") == ENTRYPOINT and c.get("Cmd") == CMD
            and list(c.get("ExposedPorts", {})) == [PORT],
            f"{name}: user {USER}, entrypoint {ENTRYPOINT}, cmd {CMD}, port {PORT}",
        )
        check(len(manifest["layers"]) == 1, f"{name}: one layer")
        layer = manifest["layers"][0]
        data = layout.blob(layer["digest"])
        with tarfile.open(fileobj=gzip.GzipFile(fileobj=io.BytesIO(data))) as tar:
            members = [m for m in tar.getmembers() if m.name.strip("./")]
            files = {m.name.lstrip("./"): m for m in members}
            only_mote = list(files) == ["mote"] and files["mote"].isfile()
            check(only_mote, f"{name}: the layer holds only /mote (it holds {sorted(files)})")
            if only_mote:
                inside = tar.extractfile(files["mote"]).read()
                with open(binary, "rb") as f:
                    built = f.read()
                check(inside == built, f"{name}: /mote is {binary}, byte for byte")
                check(files["mote"].mode & 0o755 == 0o755, f"{name}: /mote is executable by any user")
        sizes.append((name, layer["size"], os.path.getsize(binary)))
    return sizes


class Podman:
    """podman with its own storage under OUT_DIR, and settings that let it run
    where the runtime has less power than usual; on an ordinary host they
    change nothing the test looks at."""

    def __init__(self, out_dir):
        store = os.path.join(os.path.abspath(out_dir), "podman")
        # runc, not crun: crun refuses a host whose cgroup controllers are split
        # between v1 and v2. Limits only go down: a runtime without
        # CAP_SYS_RESOURCE cannot raise a hard limit, and podman's defaults
        # (a million descriptors) are above this host's.
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = min(nofile, 65536) if nofile != resource.RLIM_INFINITY else 65536
        self.base = [
            "podman", "--root", f"{store}/root", "--runroot", f"{store}/run", "--storage-driver", "vfs",
            "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
        ]
        self.limits = ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", "nproc=4096:4096"]

    def __call__(self, *args, check=True, timeout=STEP_TIMEOUT):
        r = subprocess.run(self.base + list(args), capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
        return r.stdout.strip()

    def logs(self, name):
        # The container's stdout and stderr come back on podman's own.
        r = subprocess.run(self.base + ["logs", name], capture_output=True, text=True, timeout=STEP_TIMEOUT)
        return r.stdout + r.stderr

    def run(self, name, image, *args, options=()):
        return self("run", "-d", "--name", name, *self.limits, "-p", "127.0.0.1::8080", *options, image, *args)

    def port(self, name):
        # "8080/tcp -> 127.0.0.1:PORT", once mote printed its listening line.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "listening on http://" in self.logs(name):
                return int(self("port", name, "8080/tcp").rsplit(":", 1)[1])
            time.sleep(0.1)
        raise RuntimeError(f"{name}: no listening line: {self.logs(name)!r}")

    def state(self, name, field):
        return self("inspect", name, "--format", "{{.State." + field + "}}")


def raw_get(port, path):
    """One GET over a raw socket; returns (status line, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("latin-1").split("\r\n")[0], body


def pid_facts(host_pid):
    """(PID inside its namespace, real uid) of a host process."""
    with open(f"/proc/{host_pid}/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    return int(status["NSpid"].split()[-1]), int(status["Uid"].split()[0])


def stop_from_host(podman, name, signal):
    """from the host"""
    # podman stop is docker stop: the image's stop signal, SIGTERM.
    if signal == "TERM":
        podman("stop", "--time", str(STOP_TIMEOUT), name, timeout=STEP_TIMEOUT + STOP_TIMEOUT)
    else:
        podman("kill", "--signal", signal, name)


def stop_from_inside(podman, name, signal):
    """from inside its PID namespace"""
    # The sender joins the container's PID namespace, so it may be killed
    # with it when PID 1 exits: its own exit status says nothing.
    send = [sys.executable, "-c", f"import os, signal; os.kill(1, signal.SIG{signal})"]
    host_pid = podman.state(name, "Pid")
    subprocess.run(["nsenter", "--target", host_pid, "--pid", "--"] + send, timeout=STEP_TIMEOUT)


def scenario(podman, image, label, args, options, expect, stop, signal, then=None):
    """One container: GET / must answer 200 with `expect` (raw bytes, then curl),
    mote must be PID 1 and uid 65532; `then(name, port)` checks more; then
    `signal` sent by `stop` must end it with exit 0."""
    name = f"mote-image-test-{os.getpid()}-{len(passes) + len(failures)}"
    try:
        podman.run(name, image, *args, options=options)
        port = podman.port(name)
        status, body = raw_get(port, "/")
        check(status == "HTTP/1.1 200 OK" and body == expect, f"{label}: GET / through the published port: {status}, {len(body)} bytes")
        url = f"http://127.0.0.1:{port}/"
        curl = subprocess.run(["curl", "-sS", "--fail", url], capture_output=True, timeout=STEP_TIMEOUT)
        check(curl.returncode == 0 and curl.stdout == expect, f"{label}: curl {url}: exit {curl.returncode}, {len(curl.stdout)} bytes")
        ns_pid, uid = pid_facts(int(podman.state(name, "Pid")))
        check(ns_pid == 1 and uid == 65532, f"{label}: mote is PID {ns_pid} of its namespace, uid {uid}")
        # The image's own probe, with the image's defaults: GET / over loopback.
        probe = subprocess.run(podman.base + ["exec", name, "/mote", "--healthcheck"], capture_output=True, text=True, timeout=STEP_TIMEOUT)
        check(probe.returncode == 0, f"{label}: /mote --healthcheck inside: exit {probe.returncode} {probe.stderr.strip()!r}")
        probe = subprocess.run(podman.base + ["exec", name, "/mote", "--healthcheck", "http://127.0.0.1:8080/missing"], capture_output=True, text=True, timeout=STEP_TIMEOUT)
        check(probe.returncode == 1 and "status 404" in probe.stderr, f"{label}: /mote --healthcheck of a missing page: exit {probe.returncode} {probe.stderr.strip()!r}")
        if then:
            then(name, port)
        stop(podman, name, signal)
        try:
            code = int(podman("wait", name, timeout=STOP_TIMEOUT))
        except subprocess.TimeoutExpired:
            code = None
        log = podman.logs(name)
        check(code == 0 and "stopping" in log, f"{label}: SIG{signal} {stop.__doc__}: exit {code}, log {log!r}")
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def run_images(out_dir, version):
    podman = Podman(out_dir)
    # As a user would: load the archive; podman picks the host's platform from the index.
    loaded = podman("load", "-q", "-i", os.path.join(out_dir, "mote.tar"))
    image = f"localhost/mote:{version}"
    check(image in loaded, f"podman load names the image {image} ({loaded})")
    check(podman("image", "inspect", image, "--format", "{{.Architecture}}") == HOST_ARCH, f"podman picks the {HOST_ARCH} image")

    with open(os.path.join(os.path.dirname(__file__), "..", "static", "index.html"), "rb") as f:
        built_in = f.read()
    with tempfile.TemporaryDirectory(prefix="mote-image-site-") as site:
        # Readable by the image's user, as a user's site would have to be.
        os.chmod(site, 0o755)
        page = f"a page on a volume, {os.getpid()}\n".encode()
        with open(os.path.join(site, "index.html"), "wb") as f:
            f.write(page)
        os.chmod(os.path.join(site, "index.html"), 0o644)
        volume = ["-v", f"{site}:/site:ro"]

        def reload(name, port):
            # SIGHUP from the host re-reads the volume.
            with open(os.path.join(site, "index.html"), "wb") as f:
                f.write(page + b"reloaded\n")
            podman("kill", "--signal", "HUP", name)
            deadline = time.monotonic() + STOP_TIMEOUT
            while "reloaded /site" not in podman.logs(name) and time.monotonic() < deadline:
                time.sleep(0.1)
            status, body = raw_get(port, "/")
            check(body == page + b"reloaded\n", f"--root /site: SIGHUP re-reads the volume: {status}, {body[-20:]!r}")

        # The image's own arguments, as `docker run -p 8080:8080 IMAGE` starts it.
        scenario(podman, image, "built-in site", [], [], built_in, stop_from_host, "TERM")
        scenario(podman, image, "--root /site", ["--root", "/site"], volume, page, stop_from_inside, "INT", reload)
        # Several workers take signals on a thread of their own (sigwait), one
        # worker in its event loop (signalfd): both, as PID 1.
        scenario(podman, image, "--threads 2", ["--threads", "2"], [], built_in, stop_from_inside, "TERM")
        scenario(podman, image, "--threads 2", ["--threads", "2"], [], built_in, stop_from_host, "INT")


def main(argv):
    out_dir, version = argv[0], argv[1]
    binaries = dict(spec.split("=", 1) for spec in argv[2:])
    try:
        sizes = check_layout(out_dir, version, binaries)
    except (OSError, ValueError, KeyError, tarfile.TarError) as e:
        check(False, f"reading the image in {out_dir}/oci: {e}")
        sizes = []
    if f"linux/{HOST_ARCH}" not in binaries:
        check(False, f"the image has no linux/{HOST_ARCH} image to run here")
    else:
        try:
            run_images(out_dir, version)
        except (RuntimeError, subprocess.SubprocessError, OSError) as e:
            check(False, f"running the image: {e}")
    for name, compressed, binary in sizes:
        print(f"image-test: {name}: {compressed} bytes compressed ({compressed / 1024:.1f} KiB), binary {binary} bytes")
    archive = os.path.join(out_dir, "mote.tar")
    if os.path.exists(archive):
        print(f"image-test: {archive} (every platform): {os.path.getsize(archive)} bytes")
    print(f"image-test: {len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
