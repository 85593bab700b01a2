//! Host header rules (RFC 9112 §3.2, RFC 9110 §7.2): an HTTP/1.1 request needs
//! exactly one valid Host; HTTP/1.0 may omit it.

use crate::common::*;

#[test]
fn bad_host_is_400_and_closes() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let rows = [
        ("§3.2 HTTP/1.1 without Host", "GET /letters.txt HTTP/1.1\r\n\r\n".to_string()),
        ("§3.2 two Host fields", "GET /letters.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_string()),
        ("§3.2 two identical Host fields", "GET /letters.txt HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n".to_string()),
        ("§3.2 space in Host", "GET /letters.txt HTTP/1.1\r\nHost: a b\r\n\r\n".to_string()),
        ("§3.2 slash in Host", "GET /letters.txt HTTP/1.1\r\nHost: a/b\r\n\r\n".to_string()),
        ("§3.2 userinfo in Host", "GET /letters.txt HTTP/1.1\r\nHost: u@a\r\n\r\n".to_string()),
    ];
    for (name, raw) in rows {
        let rs = exchange(srv.addr(), format!("{raw}{}", get("/letters.txt")));
        assert_eq!(statuses(&rs), vec![400], "{name}: {raw:?}");
        assert!(rs[0].connection_has("close"), "{name}:\n{}", rs[0].raw_head);
    }
}

#[test]
fn acceptable_hosts_are_served() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let rows = [
        ("§3.2 empty Host", "GET /letters.txt HTTP/1.1\r\nHost:\r\n\r\n"),
        ("§3.2 empty Host with OWS", "GET /letters.txt HTTP/1.1\r\nHost: \r\n\r\n"),
        ("§7.2 name and port", "GET /letters.txt HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"),
        ("§7.2 IPv4 and port", "GET /letters.txt HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n"),
        ("§7.2 IPv6 literal", "GET /letters.txt HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
        ("§5.1 field name case-insensitive", "GET /letters.txt HTTP/1.1\r\nhOsT: x\r\n\r\n"),
        ("HTTP/1.0 without Host", "GET /letters.txt HTTP/1.0\r\n\r\n"),
    ];
    for (name, raw) in rows {
        let r = srv.request(raw);
        assert_eq!(r.status, 200, "{name}: {raw:?}\n{}", r.raw_head);
        assert_eq!(r.body, LETTERS.as_bytes(), "{name}");
    }
}

#[test]
fn absolute_form_is_served_by_its_path() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9112 §3.2.2: absolute-form is accepted; the path picks the file.
    let r = srv.request("GET http://example.com/style.css HTTP/1.1\r\nHost: example.com\r\n\r\n");
    r.assert_status(200);
    assert_eq!(r.body, STYLE_CSS.as_bytes());
    let r = srv.request("GET http://example.com/a/b/c.txt?x=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    r.assert_status(200);
    assert_eq!(r.body, b"C-TXT\n");
}
