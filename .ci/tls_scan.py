#!/usr/bin/env python3
"""make tls-scan: testssl.sh against mote's HTTPS listener on loopback.

Makes a test CA and an ECDSA P-256 certificate with openssl, starts MOTE with
--listen-tls 127.0.0.1:0 (and the HSTS header the HTTPS recipe sends), runs
testssl.sh's protocol, cipher, forward-secrecy, server-preference, server
defaults, header and vulnerability checks and each cipher one by one, and
judges testssl's own severity of every finding (its --jsonfile):

- any finding LOW or worse is a weakness, and the scan fails;
- findings about the certificate (cert_*) judge the throwaway certificate
  made here, not mote: printed, not judged;
- BREACH is accepted: it needs a secret and attacker-chosen bytes in the
  same compressed body, and mote's bodies are files, compressed ahead of
  time, that echo nothing of the request;
- WARN means testssl could not run a check: printed, not judged;
- beyond the severities, what the issue asks is checked by name: nothing
  below TLS 1.2 offered, and every suite accepted is ECDHE with an AEAD.

Usage: tls_scan.py MOTE OUT_DIR
"""
import json
import os
import re
import subprocess
import sys

ACCEPTED = {
    "BREACH": "mote's bodies are static files that echo nothing of the request",
}
BAD = {"LOW", "MEDIUM", "HIGH", "CRITICAL", "FATAL"}


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(out):
    openssl("ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "ca.key", cwd=out)
    openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=mote scan CA", "-days", "2", "-out", "ca.pem",
            cwd=out)
    openssl("ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "key.pem", cwd=out)
    openssl("req", "-new", "-key", "key.pem", "-subj", "/CN=localhost", "-out", "leaf.csr", cwd=out)
    with open(os.path.join(out, "ext"), "w") as ext:
        ext.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "ext", "-out", "cert.pem", cwd=out)


def start(mote, out):
    proc = subprocess.Popen(
        [mote, "--listen-tls", "127.0.0.1:0", "--tls-cert", os.path.join(out, "cert.pem"),
         "--tls-key", os.path.join(out, "key.pem"), "--header", "Strict-Transport-Security: max-age=31536000"],
        stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        found = re.search(r"listening on https://(\S+)", line)
        if found:
            return proc, found.group(1)
    sys.exit(f"tls-scan: {mote} did not start")


def judge(findings):
    weaknesses = []
    by_id = {f["id"]: f for f in findings}
    for f in findings:
        ident, severity, finding = f["id"], f["severity"], f["finding"]
        if ident.startswith("cert") and severity in BAD:
            print(f"  certificate made for the scan (not judged): {ident} {severity}: {finding}")
        elif ident in ACCEPTED and severity in BAD:
            print(f"  accepted: {ident} {severity}: {finding} ({ACCEPTED[ident]})")
        elif severity == "WARN":
            print(f"  testssl could not check (not judged): {ident}: {finding}")
        elif severity in BAD:
            weaknesses.append(f"{ident} {severity}: {finding}")
    for old in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"]:
        if not by_id.get(old, {}).get("finding", "").startswith("not offered"):
            weaknesses.append(f"{old} offered or not checked: {by_id.get(old)}")
    for new in ["TLS1_2", "TLS1_3"]:
        if not by_id.get(new, {}).get("finding", "").startswith("offered"):
            weaknesses.append(f"{new} not offered: {by_id.get(new)}")
    suites = [f["finding"] for f in findings if f["id"].startswith("cipher_x")]
    if not suites:
        weaknesses.append("no cipher suite was found at all")
    for suite in suites:
        if " ECDH " not in suite or not re.search(r"AESGCM|ChaCha20", suite):
            weaknesses.append(f"not a forward-secret AEAD suite: {suite}")
    return weaknesses, suites


def main():
    mote, out = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    make_pki(out)
    report = os.path.join(out, "testssl.json")
    if os.path.exists(report):
        os.remove(report)
    proc, addr = start(mote, out)
    try:
        print(f"tls-scan: testssl.sh against https://{addr} (about 45 s)...")
        scan = subprocess.run(
            ["testssl", "--quiet", "--warnings", "off", "--color", "0", "--nodns", "none",
             "--add-ca", os.path.join(out, "ca.pem"), "--jsonfile", report,
             "-p", "-s", "-f", "-P", "-S", "-h", "-U", "-e", addr],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    finally:
        proc.terminate()
        proc.wait()
    with open(os.path.join(out, "testssl.txt"), "w") as text:
        text.write(scan.stdout)
    if not os.path.exists(report):
        sys.exit(f"tls-scan: testssl wrote no report:\n{scan.stdout}")
    with open(report) as f:
        findings = json.load(f)
    weaknesses, suites = judge(findings)
    print(f"tls-scan: {len(findings)} findings, {len(suites)} suites accepted:")
    for suite in suites:
        fields = suite.split()
        print(f"  {fields[1]} ({fields[2]} {fields[3]}, {fields[4]} {fields[5]})")
    if weaknesses:
        print("tls-scan: weaknesses found:")
        for weakness in weaknesses:
            print("  " + weakness)
        sys.exit(1)
    print(f"tls-scan: no weakness (full report: {out}/testssl.txt)")


if __name__ == "__main__":
    main()
