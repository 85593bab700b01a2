//! Behind a proxy or tunnel: `--trusted-proxy` and `--proxy-header`. The
//! access log names the client a trusted peer's header names, and only a
//! trusted peer's; `X-Forwarded-Proto: https` from one is not redirected
//! to https again (`--https-redirect`, TLS builds).
//!
//! The peers are loopback addresses: 127.0.0.1 and ::1 are two clients of one
//! server, one trusted and one not, on the same worker and so the same memo.

use crate::common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A server logging to a file in `dir`, with `args`.
fn logging(dir: &TempDir, args: &[&str]) -> (Server, PathBuf) {
    let log = dir.path().join("access.log");
    let mut all = vec!["--access-log", log.to_str().unwrap()];
    all.extend_from_slice(args);
    (Server::start(&all), log)
}

/// The client field of the log's first `n` lines, once there are `n`
/// (workers write their lines out once a second).
fn clients(log: &PathBuf, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() >= n {
            return lines.iter().take(n).map(|line| line.split(' ').next().unwrap().to_string()).collect();
        }
        assert!(Instant::now() < deadline, "{n} log lines expected, got:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Each of `fields` (header lines) as one GET on its own keep-alive
/// exchange from `addr`; all answered 200.
fn send_each(addr: std::net::SocketAddr, fields: &[&str]) {
    let mut stream = connect(addr);
    for field in fields {
        let head = if field.is_empty() { get("/") } else { req("GET", "/", &[field]) };
        send_raw(&mut stream, head);
        read_response(&mut stream, false).assert_status(200);
    }
}

/// Sends each row's header line (one GET each) and checks that the log
/// names the row's client for it.
fn assert_clients(server: &Server, log: &PathBuf, rows: &[(&str, &str)]) {
    let fields: Vec<&str> = rows.iter().map(|(field, _)| *field).collect();
    send_each(server.addr(), &fields);
    let want: Vec<&str> = rows.iter().map(|(_, client)| *client).collect();
    assert_eq!(clients(log, rows.len()), want);
}

#[test]
fn an_untrusted_peer_cannot_name_another_client() {
    let dir = TempDir::new("proxy-untrusted");
    let (server, log) = logging(&dir, &["--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1"]);
    send_each(
        server.addr(),
        &[
            "X-Forwarded-For: 203.0.113.9",
            "X-Forwarded-For: 203.0.113.9",
            "Forwarded: for=203.0.113.9",
            "X-Real-IP: 203.0.113.9",
        ],
    );
    assert_eq!(clients(&log, 4), ["127.0.0.1"; 4]);
}

#[test]
fn a_trusted_peer_names_the_rightmost_untrusted_hop() {
    let dir = TempDir::new("proxy-chain");
    let (server, log) = logging(&dir, &["--trusted-proxy", "127.0.0.1/32", "--trusted-proxy", "10.0.0.0/8"]);
    let rows: &[(&str, &str)] = &[
        ("X-Forwarded-For: 203.0.113.9", "203.0.113.9"),
        ("X-Forwarded-For: 198.51.100.1, 203.0.113.9, 10.1.2.3", "203.0.113.9"),
        // A spoofed first entry from the client stays left of the real one.
        ("X-Forwarded-For: 6.6.6.6, 203.0.113.9", "203.0.113.9"),
        ("X-Forwarded-For: 2001:db8::9, 10.0.0.1", "2001:db8::9"),
        // Every hop trusted: the leftmost.
        ("X-Forwarded-For: 10.9.9.9, 10.0.0.1, 127.0.0.1", "10.9.9.9"),
        // Garbage ends the walk: what was found so far, else the peer.
        ("X-Forwarded-For: 203.0.113.9, 10.0.0.7, bogus, 10.0.0.1", "10.0.0.1"),
        ("X-Forwarded-For: 203.0.113.9, <script>", "127.0.0.1"),
        ("X-Forwarded-For:", "127.0.0.1"),
        // The other headers are not read.
        ("Forwarded: for=203.0.113.9", "127.0.0.1"),
        ("X-Real-IP: 203.0.113.9", "127.0.0.1"),
        ("", "127.0.0.1"),
    ];
    assert_clients(&server, &log, rows);
}

#[test]
fn repeated_lines_are_one_list_in_order() {
    let dir = TempDir::new("proxy-lines");
    let (server, log) = logging(&dir, &["--trusted-proxy", "127.0.0.1"]);
    let head = "GET / HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 198.51.100.1\r\nUser-Agent: t\r\n\
                x-forwarded-for: 203.0.113.9, 127.0.0.1\r\n\r\n";
    server.request(head).assert_status(200);
    let head = "GET / HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n";
    server.request(head).assert_status(200);
    assert_eq!(clients(&log, 2), ["203.0.113.9", "198.51.100.1"]);
}

#[test]
fn forwarded_and_x_real_ip() {
    let dir = TempDir::new("proxy-forwarded");
    let (server, log) = logging(&dir, &["--trusted-proxy", "127.0.0.1", "--proxy-header", "forwarded"]);
    let rows: &[(&str, &str)] = &[
        ("Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
        ("Forwarded: for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
        ("Forwarded: for=192.0.2.43, for=127.0.0.1", "192.0.2.43"),
        ("Forwarded: for=192.0.2.43, for=unknown", "127.0.0.1"),
        ("Forwarded: for=_gazonk", "127.0.0.1"),
        ("X-Forwarded-For: 203.0.113.9", "127.0.0.1"),
    ];
    assert_clients(&server, &log, rows);
    drop(server);

    let dir = TempDir::new("proxy-real-ip");
    let (server, log) = logging(&dir, &["--trusted-proxy", "127.0.0.1", "--proxy-header", "x-real-ip"]);
    send_each(server.addr(), &["X-Real-IP: 198.51.100.77", "X-Forwarded-For: 203.0.113.9", "X-Real-IP: nonsense"]);
    assert_eq!(clients(&log, 3), ["198.51.100.77", "127.0.0.1", "127.0.0.1"]);
}

/// The memo keeps part of each access line per head; the client is the
/// connection's, so the same head recalled for another peer is logged as
/// that peer's, in either order.
#[test]
fn a_recalled_head_is_logged_for_its_own_peer() {
    let dir = TempDir::new("proxy-memo");
    let (server, log) = logging(&dir, &["--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--trusted-proxy", "::1"]);
    let (v4, v6) = (server.addrs()[0], server.addrs()[1]);
    let field = ["X-Forwarded-For: 203.0.113.9"];
    let order = [v6, v6, v4, v4, v6, v4];
    for addr in order {
        send_each(addr, &field);
    }
    let want = ["203.0.113.9", "203.0.113.9", "127.0.0.1", "127.0.0.1", "203.0.113.9", "127.0.0.1"];
    assert_eq!(clients(&log, order.len()), want);
}

#[test]
fn bad_proxy_flags_are_one_line_naming_the_flag() {
    for (args, flag) in [
        (&["--trusted-proxy", "10.0.0.0/33"][..], "--trusted-proxy"),
        (&["--trusted-proxy", "proxy.lan"][..], "--trusted-proxy"),
        (&["--trusted-proxy", "::1", "--proxy-header", "via"][..], "--proxy-header"),
        (&["--proxy-header", "forwarded"][..], "--proxy-header"),
    ] {
        let (status, _, err) = run_to_exit(args);
        assert!(!status.success(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with(&format!("mote: {flag}")), "{args:?}: {err}");
    }
}

/// Behind a tunnel that ends TLS, its requests arrive on the plain port
/// marked `X-Forwarded-Proto: https`: answered, not sent round to https
/// again. Anyone else's marking changes nothing.
#[test]
fn forwarded_proto_from_a_trusted_peer_is_not_redirected() {
    if !crate::tls::has_tls() {
        return;
    }
    let pki = crate::tls::Pki::new();
    let (cert, key) = pki.leaf("leaf", "localhost", 2);
    let server = Server::start(&[
        "--listen",
        "127.0.0.1:0",
        "--listen",
        "[::1]:0",
        "--listen-tls",
        "127.0.0.1:0",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--https-redirect",
        "--trusted-proxy",
        "127.0.0.1",
    ]);
    let (trusted, untrusted) = (server.addrs()[0], server.addrs()[1]);
    let https = req("GET", "/", &["X-Forwarded-Proto: https"]);
    let http = req("GET", "/", &["X-Forwarded-Proto: http"]);
    // Twice each, so the second is a head the memo has seen.
    for _ in 0..2 {
        request(trusted, &https).assert_status(200);
        request(trusted, &http).assert_status(308);
        request(trusted, get("/")).assert_status(308);
        request(untrusted, &https).assert_status(308);
    }
    let last_wins = req("GET", "/", &["X-Forwarded-Proto: https", "X-Forwarded-Proto: http"]);
    request(trusted, last_wins).assert_status(308);
}
