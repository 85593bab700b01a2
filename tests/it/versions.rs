//! HTTP-version handling (RFC 9112 §2.3, RFC 9110 §6.2, §15.6.6): 1.0 and 1.1
//! are served, other well-formed versions get 505, malformed lines get 400.

use crate::common::*;

#[test]
fn http_1_1_and_1_0_are_served_with_a_1_1_status_line() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9110 §6.2 / RFC 9112 §2.3: the server sends its own highest 1.x version.
    let r11 = srv.get("/letters.txt");
    r11.assert_status(200);
    assert_eq!(r11.version, "HTTP/1.1");
    // HTTP/1.0 without Host is fine (Host is only required in 1.1).
    let r10 = srv.request("GET /letters.txt HTTP/1.0\r\n\r\n");
    r10.assert_status(200);
    assert_eq!(r10.version, "HTTP/1.1");
    assert_eq!(r10.body, LETTERS.as_bytes());
}

#[test]
fn other_well_formed_versions_are_505_and_close() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let rows = [
        ("§2.3 HTTP/2.0", "GET / HTTP/2.0\r\nHost: t\r\n\r\n"),
        ("§2.3 HTTP/1.2", "GET / HTTP/1.2\r\nHost: t\r\n\r\n"),
        ("§2.3 HTTP/3.0", "GET / HTTP/3.0\r\nHost: t\r\n\r\n"),
        ("§2.3 HTTP/0.9 as a version", "GET / HTTP/0.9\r\nHost: t\r\n\r\n"),
        ("RFC 9113 §3.4 h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    ];
    for (name, raw) in rows {
        // Trailing pipelined GET must not be answered after a closing status.
        let rs = exchange(srv.addr(), format!("{raw}{}", get("/letters.txt")));
        assert_eq!(statuses(&rs), vec![505], "{name}");
        assert!(rs[0].connection_has("close"), "{name}: 505 closes:\n{}", rs[0].raw_head);
        assert!(rs[0].must("content-type").starts_with("text/plain"), "{name}");
    }
}

#[test]
fn malformed_request_lines_are_400_and_close() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let rows = [
        ("§3 garbage", "HELLO\r\n\r\n"),
        ("§3 missing version (HTTP/0.9 form)", "GET /\r\n\r\n"),
        ("§2.3 version is case-sensitive", "GET / http/1.1\r\nHost: t\r\n\r\n"),
        ("§2.3 one digit missing", "GET / HTTP/1\r\nHost: t\r\n\r\n"),
        ("§2.3 not a version", "GET / FOO/1.1\r\nHost: t\r\n\r\n"),
        ("§3 extra token", "GET / HTTP/1.1 x\r\nHost: t\r\n\r\n"),
        ("§3 missing target", "GET HTTP/1.1\r\nHost: t\r\n\r\n"),
        ("§3 control byte in method", "G\x01T / HTTP/1.1\r\nHost: t\r\n\r\n"),
    ];
    for (name, raw) in rows {
        let rs = exchange(srv.addr(), format!("{raw}{}", get("/letters.txt")));
        assert_eq!(statuses(&rs), vec![400], "{name}: {raw:?}");
        assert!(rs[0].connection_has("close"), "{name}: 400 closes:\n{}", rs[0].raw_head);
    }
}
