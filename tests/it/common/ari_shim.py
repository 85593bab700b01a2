"""A loopback HTTPS front for pebble that adds what pebble 2.4 lacks: ACME
Renewal Information (RFC 9773) and certificate profiles.

    python3 ari_shim.py PORT PEBBLE_PORT CERT KEY CA CONTROL RECORD

It serves HTTPS on 127.0.0.1:PORT with CERT and KEY (pebble's own server
certificate), and forwards every request to pebble on 127.0.0.1:PEBBLE_PORT
(trusting CA) with the client's Host header, so the URLs pebble writes and the
`url` it checks in each signed request are the shim's. Two answers are its own:

- GET /dir: pebble's directory plus `renewalInfo` and `meta.profiles`;
- GET /renewal-info/ID: a suggested window: one that ended yesterday for
  the IDs CONTROL lists under "past" (renew now), else one 300 days ahead.

CONTROL is JSON, read at each request: {"past": [IDS], "retry_after":
SECONDS (sent with each window), "profiles": [NAMES] (listed in /dir)}.

Each newOrder pebble accepts (its signed payload, decoded) and each renewal-info request
is appended to RECORD as one line: `order profile=P replaces=R names=A,B`
(`-` for a field the payload lacks) or `ari ID`.
Prints `ready` once it listens. Python standard library only.
"""

import base64
import http.client
import http.server
import json
import ssl
import sys
import threading
import time

port, pebble_port, cert, key, ca, control, record = sys.argv[1:8]
lock = threading.Lock()


def settings():
    with open(control) as f:
        return json.load(f)


def note(line):
    with lock, open(record, "a") as f:
        f.write(line + "\n")


def rfc3339(unix):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Shim(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, headers, body):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self, body):
        upstream = http.client.HTTPSConnection("127.0.0.1", int(pebble_port), timeout=30,
                                               context=ssl.create_default_context(cafile=ca))
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in ("connection", "content-length", "transfer-encoding")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        kept = [(n, v) for n, v in response.getheaders()
                if n.lower() not in ("connection", "content-length", "transfer-encoding")]
        return response.status, kept, data

    def do_GET(self):
        if self.path.startswith("/renewal-info/"):
            return self.renewal_info(self.path[len("/renewal-info/"):])
        status, headers, data = self.forward(None)
        if self.path == "/dir" and status == 200:
            directory = json.loads(data)
            directory["renewalInfo"] = f"https://{self.headers['Host']}/renewal-info"
            names = settings().get("profiles", [])
            directory.setdefault("meta", {})["profiles"] = {name: f"the {name} profile" for name in names}
            data = json.dumps(directory).encode()
        self.answer(status, headers, data)

    def do_HEAD(self):
        self.answer(*self.forward(None))

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, headers, data = self.forward(body)
        # pebble's newOrder; one it refused (a badNonce, retried) is not counted.
        if self.path == "/order-plz" and status < 400:
            try:
                order = json.loads(unb64(json.loads(body)["payload"]))
                names = ",".join(i["value"] for i in order.get("identifiers", []))
                note(f"order profile={order.get('profile', '-')} replaces={order.get('replaces', '-')} names={names}")
            except (ValueError, KeyError, TypeError) as e:
                note(f"order unreadable: {e!r}")
        self.answer(status, headers, data)

    def renewal_info(self, ident):
        note(f"ari {ident}")
        wanted = settings()
        now = int(time.time())
        if ident in wanted.get("past", []):
            start, end = now - 2 * 86400, now - 86400
        else:
            start, end = now + 300 * 86400, now + 301 * 86400
        window = {"suggestedWindow": {"start": rfc3339(start), "end": rfc3339(end)}}
        headers = [("Content-Type", "application/json"), ("Retry-After", str(wanted.get("retry_after", 3600)))]
        self.answer(200, headers, json.dumps(window).encode())


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Shim)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
