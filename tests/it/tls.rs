//! HTTPS (`make TLS=1`): real clients (curl, python's ssl, openssl
//! s_client) against certificates the tests make with openssl, the HTTP
//! suite's core over TLS, hostile handshakes, reloads and bad material.
//!
//! A binary built without TLS (its `--version` does not say TLS) skips
//! these with a message, and must refuse the flags instead.

use crate::common::*;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Whether the binary under test has TLS; says so when it does not.
pub(crate) fn has_tls() -> bool {
    let (_, out, _) = run_to_exit(&["--version"]);
    let tls = out.contains("(TLS");
    if !tls {
        eprintln!("skipping: {} was built without TLS (make test TLS=1 runs this)", bin());
    }
    tls
}

/// Whether the binary speaks TLS 1.2 too: its `--version` says `TLS 1.3`
/// when it speaks only that (the ACME build's default).
fn has_tls12() -> bool {
    !run_to_exit(&["--version"]).1.contains("(TLS 1.3")
}

fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    let out = Command::new(program).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A test CA and certificates it signs, all ECDSA P-256, in a temp dir.
pub(crate) struct Pki {
    dir: TempDir,
}

impl Pki {
    pub(crate) fn new() -> Pki {
        let pki = Pki { dir: TempDir::new("pki") };
        let dir = pki.dir.path();
        run("openssl", &["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "ca.key"], dir);
        run(
            "openssl",
            &["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=mote test CA", "-days", "2", "-out", "ca.pem"],
            dir,
        );
        pki
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ca(&self) -> String {
        self.path("ca.pem").to_str().unwrap().to_string()
    }

    /// `NAME.pem` and `NAME.key` for the common name, localhost and 127.0.0.1, valid for
    /// `days` (-1: ended yesterday).
    pub(crate) fn leaf(&self, name: &str, common_name: &str, days: i32) -> (String, String) {
        let dir = self.dir.path();
        let key = format!("{name}.key");
        let (csr, cert) = (format!("{name}.csr"), format!("{name}.pem"));
        run("openssl", &["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", &key], dir);
        run("openssl", &["req", "-new", "-key", &key, "-subj", &format!("/CN={common_name}"), "-out", &csr], dir);
        let names = format!("subjectAltName=DNS:localhost,DNS:{common_name},IP:127.0.0.1\n");
        std::fs::write(self.path("ext"), names).unwrap();
        let days = days.to_string();
        run(
            "openssl",
            &["x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", &days]
                .iter()
                .chain(&["-extfile", "ext", "-out", &cert])
                .copied()
                .collect::<Vec<_>>(),
            dir,
        );
        (self.path(&cert).to_str().unwrap().to_string(), self.path(&key).to_str().unwrap().to_string())
    }
}

/// mote with one plain and one HTTPS listener on `site` (or the built-in
/// site), with `extra` flags.
fn serve(cert: &str, key: &str, root: Option<&Site>, extra: &[&str]) -> Server {
    let mut args = vec!["--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key];
    let root_str = root.map(Site::root_str);
    if let Some(root) = &root_str {
        args.extend(["--root", root]);
    }
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// A test CA, and mote serving the built-in site over HTTPS with a
/// certificate from it for localhost, with `extra` flags.
fn localhost_server(extra: &[&str]) -> (Pki, Server) {
    let pki = Pki::new();
    let (cert, key) = pki.leaf("leaf", "localhost", 2);
    let server = serve(&cert, &key, None, extra);
    (pki, server)
}

fn https_port(server: &Server) -> String {
    server.addrs()[1].port().to_string()
}

fn curl(server: &Server, ca: &str, args: &[&str], path: &str) -> Output {
    let port = https_port(server);
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}{path}");
    Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert", ca, "--resolve", &resolve])
        .args(args)
        .arg(&url)
        .output()
        .expect("run curl")
}

/// Sends `raw` in one write over TLS (python's ssl, verifying against
/// `ca`), reads until the server closes, and returns the bytes.
fn tls_exchange(server: &Server, ca: &str, raw: &[u8]) -> Vec<u8> {
    tls_exchange_as(server, ca, "localhost", raw)
}

/// `tls_exchange` with SNI `name`.
pub(crate) fn tls_exchange_as(server: &Server, ca: &str, name: &str, raw: &[u8]) -> Vec<u8> {
    const SCRIPT: &str = r#"
import socket, ssl, sys
port, ca, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
raw = sys.stdin.buffer.read()
with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
    with ctx.wrap_socket(s, server_hostname=name) as t:
        t.sendall(raw)
        out = b""
        while True:
            chunk = t.recv(65536)
            if not chunk:
                break
            out += chunk
sys.stdout.buffer.write(out)
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT, &https_port(server), ca, name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python ssl: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `openssl s_client` with `args`, sending a GET that closes and reading
/// to the end (so TLS 1.3 session tickets, sent after the handshake, are
/// seen); its whole output.
fn s_client(server: &Server, args: &[&str]) -> String {
    let connect = format!("127.0.0.1:{}", https_port(server));
    let mut child = Command::new("openssl")
        .args(["s_client", "-ign_eof", "-connect", &connect])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl");
    let _ = child.stdin.take().unwrap().write_all(closing_get("/").as_bytes());
    let out = child.wait_with_output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn wait_for_stderr(server: &Server, text: &str) {
    for _ in 0..200 {
        if server.stderr().contains(text) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no '{text}' on stderr:\n{}", server.stderr());
}

#[test]
fn without_tls_the_flags_are_refused() {
    let (_, out, _) = run_to_exit(&["--version"]);
    if out.contains("(TLS") {
        return; // the build has TLS: the other tests here cover it
    }
    let (status, _, err) = run_to_exit(&["--listen-tls", "127.0.0.1:0", "--tls-cert", "c.pem", "--tls-key", "k.pem"]);
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("mote was built without TLS (make TLS=1)"), "{err}");
}

#[test]
fn curl_over_tls_1_2_and_1_3_gets_the_plain_bytes() {
    if !has_tls() || tool_missing("curl") || tool_missing("openssl") {
        return;
    }
    let pki = Pki::new();
    let (cert, key) = pki.leaf("leaf", "localhost", 2);
    let site = Site::standard();
    let server = serve(&cert, &key, Some(&site), &[]);
    let plain = server.get("/style.css");
    let versions: [&[&str]; 2] = [&["--tlsv1.3"], &["--tlsv1.2", "--tls-max", "1.2"]];
    for version in &versions[..if has_tls12() { 2 } else { 1 }] {
        let args = [*version, &["-w", "\n%{http_code} %{http_version}"]].concat();
        let out = curl(&server, &pki.ca(), &args, "/style.css");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "curl {version:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(text.rsplit_once('\n').unwrap(), (plain.text().as_str(), "200 1.1"), "{version:?}");
    }
}

#[test]
fn python_keeps_one_connection_for_several_requests() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    let (pki, server) = localhost_server(&[]);
    let script = r#"
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
conn = http.client.HTTPSConnection("localhost", int(sys.argv[1]), context=ctx, timeout=20)
socks = set()
for path in ["/", "/", "/nope", "/"]:
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    socks.add(id(conn.sock))
    print(r.status, conn.sock.version(), conn.sock.selected_alpn_protocol())
print("connections", len(socks))
"#;
    let out = Command::new("python3").args(["-c", script, &https_port(&server), &pki.ca()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        text, "200 TLSv1.3 None\n200 TLSv1.3 None\n404 TLSv1.3 None\n200 TLSv1.3 None\nconnections 1\n",
        "(http.client offers no ALPN)"
    );
}

#[test]
fn openssl_gets_alpn_sni_and_resumes_a_session() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    let (pki, server) = localhost_server(&[]);
    let session = pki.path("session.pem");
    let session = session.to_str().unwrap();
    let ca = pki.ca();
    let first =
        s_client(&server, &["-alpn", "h2,http/1.1", "-servername", "localhost", "-CAfile", &ca, "-sess_out", session]);
    assert!(first.contains("ALPN protocol: http/1.1"), "{first}");
    assert!(first.contains("Verify return code: 0 (ok)"), "{first}");
    assert!(first.contains("New, TLSv1.3"), "{first}");
    let again = s_client(&server, &["-servername", "localhost", "-CAfile", &ca, "-sess_in", session]);
    assert!(again.contains("Reused, TLSv1.3"), "{again}");
    let h2_only = s_client(&server, &["-alpn", "h2", "-servername", "localhost"]);
    assert!(!h2_only.contains("ALPN protocol: h2"), "{h2_only}");
}

#[test]
fn the_server_orders_the_cipher_suites() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    let (_pki, server) = localhost_server(&[]);
    // ChaCha20 first on 32-bit ARM (no AES instructions), AES-GCM elsewhere,
    // whatever the client prefers.
    let arm = std::env::var("MOTE_RUNNER").is_ok_and(|runner| runner.contains("qemu-arm"));
    let (want13, other13) = if arm {
        ("TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256")
    } else {
        ("TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256")
    };
    let tls13 = s_client(&server, &["-tls1_3", "-ciphersuites", &format!("{other13}:{want13}")]);
    assert!(tls13.contains(&format!("Cipher is {want13}")), "{tls13}");
    if !has_tls12() {
        return;
    }
    let (want12, other12) = if arm {
        ("ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-GCM-SHA256")
    } else {
        ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305")
    };
    let tls12 = s_client(&server, &["-tls1_2", "-cipher", &format!("{other12}:{want12}")]);
    assert!(tls12.contains(&format!("Cipher is {want12}")), "{tls12}");
    // Only forward-secret AEAD suites: a static-RSA or CBC suite finds none.
    let weak = s_client(&server, &["-tls1_2", "-cipher", "AES128-SHA:ECDHE-ECDSA-AES128-SHA"]);
    assert!(!weak.contains("Cipher is AES") && !weak.contains("Cipher is ECDHE"), "{weak}");
}

#[test]
fn the_http_suite_holds_over_tls() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    let pki = Pki::new();
    let (cert, key) = pki.leaf("leaf", "localhost", 2);
    let site = Site::standard();
    let large: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    site.write("large.bin", &large);
    let server = serve(&cert, &key, Some(&site), &["--cache-max", "1K"]);
    let etag = server.get("/style.css").must("etag").to_string();
    // Pipelined in one write: a keep-alive GET, a range, a conditional, the
    // large file (streamed from disk), and a last request that closes.
    let raw = [
        get("/"),
        req("GET", "/letters.txt", &["Range: bytes=2-5"]),
        req("GET", "/style.css", &[&format!("If-None-Match: {etag}")]),
        get("/large.bin"),
        closing_get("/app.js"),
    ]
    .concat();
    let responses = parse_all(&tls_exchange(&server, &pki.ca(), raw.as_bytes()));
    assert_eq!(statuses(&responses), [200, 206, 304, 200, 200], "{}", heads(&responses));
    assert_eq!(responses[0].body, server.get("/").body);
    assert_eq!(responses[1].body, server.get("/letters.txt").body[2..6]);
    assert_eq!(responses[2].body, b"");
    assert_bytes_eq(&responses[3].body, &large, "large.bin over TLS");
    assert_eq!(responses[4].text(), "console.log(1);\n");
}

#[test]
fn hostile_bytes_and_old_protocols_are_refused() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    let (_pki, mut server) = localhost_server(&[]);
    let tls = server.addrs()[1];
    for raw in [&[0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0, 0, 0][..], &[0u8; 64], &[0x80, 0x2e, 0x01, 0x00, 0x02][..]] {
        let mut stream = connect(tls);
        stream.write_all(raw).unwrap();
        let got = read_until_close(&mut stream, Duration::from_secs(10)).expect("closed");
        assert!(!got.starts_with(b"HTTP/"), "answered in plain text: {got:?}");
        assert!(got.len() < 16, "more than an alert: {got:?}");
    }
    // SECLEVEL=0: this openssl would otherwise not send a TLS 1.1 hello at all.
    let old = s_client(&server, &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    assert!(old.contains("alert handshake failure") || old.contains("alert protocol version"), "{old}");
    assert!(!old.contains("Cipher is ECDHE"), "{old}");
    assert!(server.is_running());
    server.get("/").assert_status(200);
}

/// The ACME build speaks TLS 1.3 only, and its `--version` says so,
/// unless built with TLS12=1; the TLS build speaks TLS 1.2 too.
#[test]
fn tls12_is_spoken_unless_an_acme_build_leaves_it_out() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    // Tests built as make builds them have the binary's features: an
    // ACME build without TLS 1.2 must say so.
    if cfg!(feature = "acme") && !cfg!(feature = "tls12") {
        let (_, version, _) = run_to_exit(&["--version"]);
        assert!(version.contains("(TLS 1.3, ACME)"), "{version}");
    }
    let (_pki, mut server) = localhost_server(&[]);
    let tls12 = s_client(&server, &["-tls1_2"]);
    if has_tls12() {
        assert!(tls12.contains("Cipher is ECDHE-ECDSA-"), "{tls12}");
    } else {
        assert!(tls12.contains("alert protocol version"), "{tls12}");
        assert!(!tls12.contains("Cipher is ECDHE"), "{tls12}");
    }
    let tls13 = s_client(&server, &["-tls1_3"]);
    assert!(tls13.contains("Cipher is TLS_"), "{tls13}");
    assert!(server.is_running());
    server.get("/").assert_status(200);
}

/// A request sent in plain text to the HTTPS port is told so in plain
/// text, as nginx does, whether it arrives whole, with a body, or a byte
/// at a time; the connection then closes.
#[test]
fn plain_http_on_the_https_port_gets_a_plain_400() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    let (pki, mut server) = localhost_server(&[]);
    let tls = server.addrs()[1];
    let rows: &[(&str, &[u8], usize)] = &[
        ("a GET", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0),
        ("a POST with a body", b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 0),
        ("HTTP/1.0, a byte at a time", b"GET / HTTP/1.0\r\n\r\n", 1),
    ];
    for (name, raw, piece) in rows {
        let mut stream = connect(tls);
        if *piece == 0 {
            stream.write_all(raw).unwrap();
        } else {
            for chunk in raw.chunks(*piece) {
                stream.write_all(chunk).unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let got = read_until_close(&mut stream, Duration::from_secs(10)).expect("closed");
        let responses = parse_all(&got);
        assert_eq!(statuses(&responses), [400], "{name}: {}", String::from_utf8_lossy(&got));
        let answer = &responses[0];
        answer.assert_header("connection", "close");
        assert_eq!(answer.text(), "400 The plain HTTP request was sent to HTTPS port\n", "{name}");
    }
    // The HTTPS port still speaks TLS to everyone else.
    let out = curl(&server, &pki.ca(), &["-o", "/dev/null", "-w", "%{http_code}"], "/");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "{}", String::from_utf8_lossy(&out.stderr));
    assert!(server.is_running());
}

#[test]
fn a_silent_handshake_is_cut_off_by_the_header_timeout() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    let (_pki, server) = localhost_server(&["--header-timeout", "1", "--idle-timeout", "60"]);
    let mut stream = connect(server.addrs()[1]);
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut byte = [0; 1];
    // Closed by the header timeout, long before the idle one.
    match stream.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the handshake was not cut off: {other:?}"),
    }
}

/// Sockets in a handshake flood: as many as the issue of a Pi on the
/// internet might meet from one careless scanner.
const FLOOD: usize = 1000;

/// The first half of a real ClientHello (python's ssl, for localhost).
fn half_a_client_hello() -> Vec<u8> {
    const SCRIPT: &str = r#"
import ssl, sys
ctx = ssl.create_default_context()
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
hello = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
try:
    hello.do_handshake()
except ssl.SSLWantReadError:
    pass
sys.stdout.buffer.write(outgoing.read())
"#;
    let hello = python3(SCRIPT, b"");
    assert_eq!(hello.first(), Some(&0x16), "not a handshake record: {hello:?}");
    hello[..hello.len() / 2].to_vec()
}

/// `FLOOD` connections to the HTTPS port, each sending `opening` and then
/// nothing, while a good client (python's ssl) must still get its page
/// before `--header-timeout` would have freed a single place; then the
/// server holds no more than its handshake cap, and after the timeout none.
fn a_good_client_is_served_through_a_flood(opening: &[u8]) {
    let _serial = serial();
    let (soft, _) = raise_nofile_limit();
    if soft < FLOOD as u64 + 200 {
        eprintln!("SKIPPED: RLIMIT_NOFILE is {soft}, too few for {FLOOD} sockets");
        return;
    }
    let header_timeout = 8;
    let (pki, server) = localhost_server(&["--threads", "1", "--header-timeout", &header_timeout.to_string()]);
    let pid = server.pid();
    server.request(closing_get("/")).assert_status(200);
    // The server closes that connection once it has been read.
    std::thread::sleep(Duration::from_millis(300));
    let fds_before = open_fds(pid);
    let started = std::time::Instant::now();
    let flood: Vec<_> = (0..FLOOD)
        .map(|_| {
            let mut stream = connect(server.addrs()[1]);
            if !opening.is_empty() {
                stream.write_all(opening).unwrap();
            }
            stream
        })
        .collect();
    let script = r#"
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
conn = http.client.HTTPSConnection("localhost", int(sys.argv[1]), context=ctx, timeout=float(sys.argv[3]))
conn.request("GET", "/")
r = conn.getresponse()
print(r.status, len(r.read()))
"#;
    // Within what is left of the header timeout since the flood began.
    let left = header_timeout as f64 - started.elapsed().as_secs_f64() - 1.0;
    assert!(left > 1.0, "the flood took {:?} to connect", started.elapsed());
    let out = Command::new("python3")
        .args(["-c", script, &https_port(&server), &pki.ca(), &format!("{left:.1}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.starts_with("200 "),
        "the good client was not served: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Bounded in count: one worker holds at most its cap of handshakes.
    let held = open_fds(pid).saturating_sub(fds_before);
    assert!(held <= 64, "{held} connections of the flood are held open");
    // Bounded in time: the header timeout closes the rest.
    let deadline = started + Duration::from_secs(header_timeout + 5);
    while open_fds(pid) > fds_before && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(open_fds(pid) <= fds_before, "the flood outlived the header timeout");
    drop(flood);
    server.get("/").assert_status(200);
}

#[test]
fn a_thousand_silent_handshakes_do_not_lock_out_a_client() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    a_good_client_is_served_through_a_flood(b"");
}

#[test]
fn a_thousand_slow_handshakes_do_not_lock_out_a_client() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    a_good_client_is_served_through_a_flood(&half_a_client_hello());
}

/// Python's ssl asks for `path` over TLS, reads the first 64 KiB of the
/// response, says `stalled` and reads nothing more.
const STALLING_READER: &str = r#"
import socket, ssl, sys, time
port, ca, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="localhost")
t.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
t.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path).encode())
got = b""
while len(got) < 65536:
    got += t.recv(65536 - len(got))
print("stalled", flush=True)
time.sleep(60)
"#;

/// Clients that stop reading a large file over TLS in the middle of a
/// record: mote neither spins nor buffers the file, closes them by the send
/// timeout, and serves everyone else meanwhile.
#[test]
fn a_reader_that_stalls_mid_record_is_cut_off_with_bounded_memory() {
    if !has_tls() || tool_missing("openssl") || tool_missing("curl") {
        return;
    }
    let _serial = serial();
    const STALLED: usize = 4;
    const BIG: usize = 8 << 20;
    let pki = Pki::new();
    let (cert, key) = pki.leaf("leaf", "localhost", 2);
    let site = Site::empty();
    site.write("index.html", INDEX_HTML);
    let big = large_bytes(BIG);
    site.write("big.bin", &big);
    let idle_timeout = 3;
    let server = serve(&cert, &key, Some(&site), &["--cache-max", "1K", "--idle-timeout", &idle_timeout.to_string()]);
    let pid = server.pid();
    // One whole download first, so the baseline includes a finished transfer.
    let whole = curl(&server, &pki.ca(), &[], "/big.bin");
    assert!(whole.status.success() && whole.stdout == big, "{}", String::from_utf8_lossy(&whole.stderr));
    std::thread::sleep(Duration::from_millis(300));
    let (rss_before, fds_before) = (rss_bytes(pid), open_fds(pid));

    let started = std::time::Instant::now();
    let mut readers: Vec<_> = (0..STALLED)
        .map(|_| {
            let mut child = Command::new("python3")
                .args(["-c", STALLING_READER, &https_port(&server), &pki.ca(), "/big.bin"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("python3");
            let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            assert_eq!(first, "stalled", "the reader did not start: {}", server.stderr());
            child
        })
        .collect();
    let stalled_at = std::time::Instant::now();
    let ticks_before = cpu_ticks(pid);
    assert_eq!(open_fds(pid), fds_before + STALLED, "the stalled readers are connected");
    // Others are served meanwhile.
    let page = curl(&server, &pki.ca(), &[], "/");
    assert_eq!(String::from_utf8_lossy(&page.stdout), INDEX_HTML, "{}", String::from_utf8_lossy(&page.stderr));
    let mut peak = 0;
    let deadline = stalled_at + Duration::from_secs(idle_timeout + 10);
    while open_fds(pid) > fds_before && std::time::Instant::now() < deadline {
        peak = peak.max(rss_bytes(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (stalled_for, ticks) = (stalled_at.elapsed(), cpu_ticks(pid) - ticks_before);
    eprintln!(
        "stalled TLS readers: {STALLED} x 8 MiB; closed after {stalled_for:?}; VmRSS before {} KiB, peak {} KiB; \
         {ticks} CPU ticks meanwhile",
        rss_before / 1024,
        peak / 1024
    );
    assert!(open_fds(pid) <= fds_before, "the stalled readers were not cut off by the send timeout");
    let cut_after = started.elapsed();
    assert!(cut_after >= Duration::from_secs(idle_timeout), "cut off after {cut_after:?}, before the timeout");
    assert!(peak < rss_before + (4 << 20), "RSS grew from {rss_before} to {peak}: the file is being buffered");
    // Spinning on a full socket would take a core for the whole stall.
    let spent = Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64);
    assert!(spent < stalled_for / 2, "{spent:?} of CPU while the readers stalled {stalled_for:?}: spinning");
    for child in &mut readers {
        let _ = child.kill();
        let _ = child.wait();
    }
    server.get("/").assert_status(200);
}

/// Python: `get(s)` asks for / on the TLS socket `s` and reads the whole
/// response, a 200.
pub(crate) const PYTHON_GET: &str = r#"
import re
def get(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, body = buf.split(b"\r\n\r\n", 1)
    need = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    while len(body) < need:
        body += s.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head
"#;

/// Python's ssl, after `PYTHON_GET`: one connection with a GET, closed,
/// then `warm`; after a line on stdin, `count` connections that each make a
/// GET and stay open, then `open`; after another line, it closes them.
const IDLE_CLIENTS: &str = r#"
import socket, ssl, sys
port, ca, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
def connect():
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname="localhost")
    get(s)
    return s
connect().close()
print("warm", flush=True)
sys.stdin.readline()
held = [connect() for _ in range(count)]
print("open", flush=True)
sys.stdin.readline()
"#;

/// An idle keep-alive HTTPS connection holds rustls's keys and state and no
/// buffer of its own: records are read and written through the worker's.
#[test]
fn an_idle_https_connection_holds_no_buffer() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    if std::env::var("MOTE_RUNNER").is_ok_and(|r| !r.trim().is_empty()) {
        eprintln!("skipping: under an emulator, the process's memory is the emulator's");
        return;
    }
    let _serial = serial();
    const COUNT: usize = 300;
    let (pki, server) = localhost_server(&[]);
    let mut clients = Command::new("python3")
        .args(["-c", &format!("{PYTHON_GET}{IDLE_CLIENTS}"), &https_port(&server), &pki.ca(), &COUNT.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdin = clients.stdin.take().unwrap();
    let mut lines = std::io::BufReader::new(clients.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("warm"));
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_bytes(server.pid());
    writeln!(stdin, "go").unwrap();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("open"));
    std::thread::sleep(Duration::from_millis(200));
    let per_connection = rss_bytes(server.pid()).saturating_sub(before) / COUNT as u64;
    writeln!(stdin, "done").unwrap();
    assert!(clients.wait().unwrap().success());
    eprintln!("an idle HTTPS connection: {per_connection} bytes");
    // rustls's keys and state come to under 4 KB; a read buffer kept per
    // connection would be 4 KiB more.
    assert!(per_connection < 6000, "{per_connection} bytes per idle HTTPS connection");
}

#[test]
fn sighup_swaps_the_certificate_and_a_bad_one_keeps_the_old() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    let pki = Pki::new();
    let (cert, key) = pki.leaf("first", "first.localhost", 2);
    let server = serve(&cert, &key, None, &[]);
    assert!(s_client(&server, &[]).contains("CN = first.localhost"));
    // A renewal as ACME clients make one: new files renamed over the old.
    let (new_cert, new_key) = pki.leaf("second", "second.localhost", 2);
    std::fs::rename(&new_key, &key).unwrap();
    std::fs::rename(&new_cert, &cert).unwrap();
    server.signal("HUP");
    wait_for_stderr(&server, "reloaded the TLS certificate and key");
    let seen = s_client(&server, &[]);
    assert!(seen.contains("CN = second.localhost"), "{seen}");
    std::fs::write(&cert, "not a certificate\n").unwrap();
    server.signal("HUP");
    wait_for_stderr(&server, "TLS reload failed, still using the previous certificate");
    assert!(server.stderr().contains(&format!("--tls-cert {cert}")), "{}", server.stderr());
    let seen = s_client(&server, &[]);
    assert!(seen.contains("CN = second.localhost"), "{seen}");
}

#[test]
fn bad_material_exits_1_naming_the_file() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    let pki = Pki::new();
    let (cert, key) = pki.leaf("good", "localhost", 2);
    let (expired, expired_key) = pki.leaf("expired", "localhost", -1);
    let (_, other_key) = pki.leaf("other", "localhost", 2);
    let (soon, soon_key) = pki.leaf("soon", "localhost", 3);
    run("openssl", &["genrsa", "-out", "rsa.key", "2048"], pki.dir.path());
    let rsa_key = pki.path("rsa.key").to_str().unwrap().to_string();
    let missing = pki.path("missing.pem").to_str().unwrap().to_string();
    let garbage = pki.dir.write("garbage.pem", "hello\n").to_str().unwrap().to_string();
    // What is wrong, the certificate and key given, the file the error must
    // name, and the reason it must give.
    let rows: &[(&str, &str, &str, &str, &str)] = &[
        ("missing", &missing, &key, &missing, "No such file"),
        ("not PEM", &garbage, &key, &garbage, "no certificate"),
        ("key not PEM", &cert, &garbage, &garbage, "no PEM private key"),
        ("key of another certificate", &cert, &other_key, &other_key, "not the key of the certificate"),
        ("expired", &expired, &expired_key, &expired, "expired on"),
        ("RSA", &cert, &rsa_key, &rsa_key, "ECDSA"),
    ];
    for (name, cert, key, file, reason) in rows {
        let (status, _, err) = run_to_exit(&["--listen-tls", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key]);
        assert_eq!(status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(reason) && err.contains(file), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
    }
    let server = Server::start(&["--listen-tls", "127.0.0.1:0", "--tls-cert", &soon, "--tls-key", &soon_key]);
    assert!(server.stderr().contains("expires on"), "{}", server.stderr());
}

#[test]
fn https_redirect_sends_plain_requests_to_https_but_acme_challenges() {
    if !has_tls() || tool_missing("openssl") {
        return;
    }
    let pki = Pki::new();
    let (cert, key) = pki.leaf("leaf", "localhost", 2);
    let site = Site::standard();
    site.write(".well-known/acme-challenge/Tok3n_x", "Tok3n_x.thumbprint");
    let server = serve(&cert, &key, Some(&site), &["--https-redirect"]);
    let port = https_port(&server);
    // The same head over TLS first: its answer in the worker's memo must
    // not be recalled for the plain connection.
    let primed = [get("/style.css"), get("/style.css"), closing_get("/app.js")].concat();
    let over_tls = parse_all(&tls_exchange(&server, &pki.ca(), primed.as_bytes()));
    assert_eq!(statuses(&over_tls), [200, 200, 200]);
    let raw = [
        get("/style.css"),
        "GET /a/b.txt?x=1&y HTTP/1.1\r\nHost: example.org:8080\r\n\r\n".to_string(),
        closing_get("/.well-known/acme-challenge/token"),
    ]
    .concat();
    let mut stream = server.connect();
    stream.write_all(raw.as_bytes()).unwrap();
    let responses = parse_all(&read_to_close(&mut stream));
    assert_eq!(statuses(&responses)[..2], [308, 308], "{}", heads(&responses));
    responses[0].assert_header("location", &format!("https://test:{port}/style.css"));
    responses[1].assert_header("location", &format!("https://example.org:{port}/a/b.txt?x=1&y"));
    // ACME's challenges are answered by the site itself, never redirected.
    let challenge = &responses[2];
    assert_ne!(challenge.status, 308, "{}", heads(&responses));
    challenge.assert_no_header("location");
    let head = server.request("HEAD / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n");
    head.assert_status(308).assert_header("location", &format!("https://[::1]:{port}/"));
    let no_host = server.request("GET / HTTP/1.0\r\n\r\n");
    no_host.assert_status(400);
    // What is a challenge is judged on the path as the site would resolve
    // it: dot-segments, doubled slashes and escapes leave no way around.
    let rows: &[(&str, u16, &str)] = &[
        ("/.well-known/acme-challenge/../style.css", 308, ""),
        ("/.well-known/acme-challenge/%2e%2e/style.css", 308, ""),
        ("/.well-known/acme-challenge/Tok3n_x/..", 308, ""),
        ("/.well-known/acme-challenge/Tok3n_x", 200, "Tok3n_x.thumbprint"),
        ("/./.well-known//acme-challenge/Tok3n_x", 200, "Tok3n_x.thumbprint"),
        ("/.well-known/acme%2dchallenge/Tok3n_x", 200, "Tok3n_x.thumbprint"),
    ];
    for (target, status, body) in rows {
        let answer = server.get(target);
        assert_eq!(answer.status, *status, "{target}");
        assert_eq!(answer.text(), *body, "{target}");
        if *status == 308 {
            answer.assert_header("location", &format!("https://test:{port}{target}"));
        }
    }
}

/// Python's ssl on connections to mote's HTTPS port as `mote.test`:
/// `fetch CA` prints the status, the HSTS header and the issuer of one GET
/// that trusts only `CA` (or the verification error); `load FIRST BOTH STOP`
/// keeps one connection (trusting FIRST) and opens new ones (trusting BOTH),
/// prints `ready` once both have been answered, goes on until the file STOP
/// appears, and prints a line for each: requests answered, requests failed,
/// and the issuers of the certificates it met.
const HTTPS_CLIENT: &str = r#"
import http.client, os, socket, ssl, sys, threading, time
port = int(sys.argv[1])

def open_conn(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPConnection("mote.test", port, timeout=10)
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="mote.test")
    return conn

def issuer(conn):
    return dict(pair[0] for pair in conn.sock.getpeercert()["issuer"])["commonName"]

def get(conn):
    conn.request("GET", "/")
    r = conn.getresponse()
    body = r.read()
    if r.status != 200 or b"ROOT-INDEX" not in body:
        raise Exception("status %d, %d bytes" % (r.status, len(body)))
    return r

if sys.argv[2] == "fetch":
    try:
        conn = open_conn(sys.argv[3])
        r = get(conn)
        print(r.status, r.getheader("strict-transport-security"), issuer(conn))
    except ssl.SSLCertVerificationError as e:
        print("unverified", e.verify_message)
    sys.exit(0)

first, both, stop = sys.argv[3], sys.argv[4], sys.argv[5]
deadline = time.time() + 90
seen = {"keepalive": {"ok": 0, "failed": 0, "issuers": []}, "new": {"ok": 0, "failed": 0, "issuers": []}}
errors, ready, lock = [], [], threading.Lock()

def run(kind, connect):
    conn = None
    while not os.path.exists(stop) and time.time() < deadline:
        try:
            conn = conn if kind == "keepalive" and conn else connect()
            get(conn)
            seen[kind]["ok"] += 1
            name = issuer(conn)
            if name not in seen[kind]["issuers"]:
                seen[kind]["issuers"].append(name)
        except Exception as e:
            seen[kind]["failed"] += 1
            errors.append("%s: %r" % (kind, e))
            conn = None
        if kind == "new" and conn:
            conn.close()
            conn = None
        with lock:
            if seen["keepalive"]["ok"] and seen["new"]["ok"] and not ready:
                ready.append(print("ready", flush=True))

threads = [threading.Thread(target=run, args=("keepalive", lambda: open_conn(first))),
           threading.Thread(target=run, args=("new", lambda: open_conn(both)))]
for t in threads: t.start()
for t in threads: t.join()
for kind, what in seen.items():
    print(kind, what["ok"], what["failed"], "|".join(what["issuers"]))
for error in errors[:5]:
    print("error", error)
"#;

/// A Pi's life with ACME: mote starts with a certificate made by hand and
/// serves the webroot; lego gets a real certificate from pebble through it;
/// the renewal hook renames the new pair into place and sends SIGHUP under
/// a keep-alive load. Then a client that trusts only pebble's root verifies
/// mote's new chain, and no request failed on the way.
#[test]
fn a_certificate_issued_by_acme_replaces_the_first_under_load() {
    if !has_tls() || acme_tools_missing() {
        return;
    }
    let pki = Pki::new();
    let (cert, key) = pki.leaf("live", "mote.test", 2);
    let site = Site::empty();
    site.write("index.html", INDEX_HTML);
    let hsts = "Strict-Transport-Security: max-age=31536000";
    let server = serve(&cert, &key, Some(&site), &["--https-redirect", "--header", hsts]);
    let pebble = Pebble::start(server.addrs()[0].port());
    let (status, output) = pebble.lego("mote.test", &site.root_str());
    assert!(status.success(), "lego failed:\n{output}\npebble:\n{}\nmote:\n{}", pebble.log(), server.stderr());
    let root = pebble.root();
    let root = root.to_str().unwrap();
    let port = https_port(&server);
    let fetch = |ca: &str| {
        let out = Command::new("python3").args(["-c", HTTPS_CLIENT, &port, "fetch", ca]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    };
    let before = fetch(root);
    assert!(before.starts_with("unverified"), "pebble's root trusted the first certificate: {before}");

    let both = pki.path("both.pem");
    let roots = [std::fs::read_to_string(pki.ca()).unwrap(), std::fs::read_to_string(root).unwrap()].concat();
    std::fs::write(&both, roots).unwrap();
    let stop = pki.path("stop");
    let mut load = Command::new("python3")
        .args(["-c", HTTPS_CLIENT, &port, "load", &pki.ca(), both.to_str().unwrap(), stop.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = std::io::BufReader::new(load.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    if first != "ready" {
        let _ = load.kill();
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        panic!("the load never got its pages: {first}\n{}", rest.join("\n"));
    }
    // The renewal hook: the new pair copied beside the live one, renamed
    // into place (key first), and a SIGHUP.
    let issued = pebble.file("lego/certificates");
    std::fs::copy(issued.join("mote.test.key"), pki.path("key.new")).unwrap();
    std::fs::copy(issued.join("mote.test.crt"), pki.path("cert.new")).unwrap();
    std::fs::rename(pki.path("key.new"), &key).unwrap();
    std::fs::rename(pki.path("cert.new"), &cert).unwrap();
    server.signal("HUP");
    wait_for_stderr(&server, "reloaded the TLS certificate and key");
    std::thread::sleep(Duration::from_secs(1));
    std::fs::write(&stop, "").unwrap();
    let seen: Vec<String> = lines.map_while(Result::ok).collect();
    let status = load.wait().unwrap();
    assert!(status.success(), "the load failed: {seen:?}");
    let issuers = |kind: &str| {
        let line = seen.iter().find(|l| l.starts_with(&format!("{kind} "))).unwrap_or_else(|| panic!("{seen:?}"));
        let fields: Vec<&str> = line.splitn(4, ' ').collect();
        let ok: u32 = fields[1].parse().unwrap();
        assert!(ok > 0 && fields[2] == "0", "{kind}: {ok} answered, {} failed: {seen:?}", fields[2]);
        fields[3].to_string()
    };
    // New connections met both certificates; the one kept alive kept the first.
    assert_eq!(issuers("keepalive"), "mote test CA", "{seen:?}");
    assert!(issuers("new").starts_with("mote test CA|Pebble Intermediate CA"), "{seen:?}");

    let after = fetch(root);
    assert!(after.starts_with("200 max-age=31536000 Pebble Intermediate"), "{after}\n{}", server.stderr());
}
