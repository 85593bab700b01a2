//! How HTTPS connections read the socket (`make test TLS=1`): a keep-alive
//! request over TLS costs one read of the socket, as over plain HTTP. A read
//! that comes back shorter than asked emptied the socket, and every record
//! it completed is decrypted at once, so asking again would only get EAGAIN.
//!
//! A binary built without TLS skips these with a message.

use crate::common::*;
use crate::tls::PYTHON_GET;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// One TLS connection from python's ssl, after `PYTHON_GET`: a first GET
/// (handshake and session tickets out of the way), then, after a line on
/// stdin, `REQUESTS` more.
const CLIENT: &str = r#"
import socket, ssl, sys
port, ca, requests = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname="localhost")
get(s)
print("ready", flush=True)
sys.stdin.readline()
for _ in range(requests):
    get(s)
print("done", flush=True)
"#;

#[test]
fn a_keep_alive_request_over_tls_reads_the_socket_once() {
    let (_, version, _) = run_to_exit(&["--version"]);
    if !version.contains("(TLS)") {
        eprintln!("skipping: {} was built without TLS (make test TLS=1 runs this)", bin());
        return;
    }
    if tool_missing("openssl") || tool_missing("strace") {
        return;
    }
    let dir = TempDir::new("tls-reads");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(made.status.success(), "openssl: {}", String::from_utf8_lossy(&made.stderr));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Server::start(&[
        "--listen",
        "127.0.0.1:0",
        "--listen-tls",
        "127.0.0.1:0",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ]);

    let requests = 20;
    let mut client = Command::new("python3")
        .args([
            "-c",
            &format!("{PYTHON_GET}{CLIENT}"),
            &server.addrs()[1].port().to_string(),
            cert,
            &requests.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"));
    let out = dir.path().join("calls");
    let mut strace = Strace::attach(server.pid(), "recvfrom,read", &out);
    writeln!(client.stdin.take().unwrap(), "go").unwrap();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("done"));
    let calls = strace.finish(&out);
    assert!(client.wait().unwrap().success());

    let reads: Vec<&String> = calls.iter().filter(|c| c.starts_with("recvfrom(") || c.starts_with("read(")).collect();
    let got = reads.iter().filter(|c| c.rsplit_once(" = ").is_some_and(|(_, n)| n.parse::<u64>().is_ok_and(|n| n > 0)));
    let empty = reads.iter().filter(|c| c.contains("EAGAIN")).count();
    // The client sends each request once the last response is in, so each
    // arrives by itself: one read that gets it, and none that finds nothing
    // (the client's close at the end is a read of 0, counted by neither).
    assert_eq!(got.count(), requests, "{reads:#?}");
    assert!(empty <= 2, "{empty} reads found the socket empty for {requests} requests: {reads:#?}");
}
