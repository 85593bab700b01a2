//! Request methods (RFC 9110 §9): GET and HEAD serve, OPTIONS answers 204 with
//! `Allow`, anything else is 405 with `Allow` and keeps the connection.

use crate::common::*;

#[test]
fn get_serves_the_file() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let r = srv.get("/style.css");
    r.assert_status(200).assert_header("content-type", "text/css; charset=utf-8");
    assert_eq!(r.body, STYLE_CSS.as_bytes());
}

#[test]
fn head_has_get_headers_and_no_body() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let mut s = srv.connect();
    // HEAD then GET on one connection: if HEAD leaked a body, the GET's
    // response would be garbled.
    send_raw(&mut s, req("HEAD", "/letters.txt", &[]));
    let head = read_response(&mut s, true);
    send_raw(&mut s, get("/style.css"));
    let next = read_response(&mut s, false);
    head.assert_status(200)
        .assert_header("content-length", "26")
        .assert_header("content-type", "text/plain; charset=utf-8");
    next.assert_status(200);
    assert_eq!(next.body, STYLE_CSS.as_bytes());
}

#[test]
fn options_is_204_with_allow_for_every_target() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9110 §9.3.7: OPTIONS on a resource and on `*` (the server).
    for target in ["/style.css", "*", "/", "/no-such-file"] {
        let mut s = srv.connect();
        send_raw(&mut s, req("OPTIONS", target, &[]));
        let r = read_response(&mut s, false);
        assert_eq!(r.status, 204, "OPTIONS {target}:\n{}", r.raw_head);
        r.assert_header("allow", ALLOW).assert_no_header("content-length");
        assert!(r.body.is_empty());
        // 204 keeps the connection and carries no body bytes.
        send_raw(&mut s, closing_get("/letters.txt"));
        let rest = parse_all(&read_to_close(&mut s));
        assert_eq!(statuses(&rest), vec![200], "after OPTIONS {target}");
        assert_eq!(rest[0].body, LETTERS.as_bytes());
    }
}

#[test]
fn other_methods_are_405_with_allow_and_keep_the_connection() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9110 §15.5.6: 405 MUST carry Allow. §9.1: methods are case-sensitive,
    // so `get` is not GET.
    let rows = [
        ("§9.3.3 POST", "POST"),
        ("§9.3.4 PUT", "PUT"),
        ("§9.3.5 DELETE", "DELETE"),
        ("§9.3.8 TRACE", "TRACE"),
        ("RFC 5789 PATCH", "PATCH"),
        ("§9.1 unknown token", "FOO"),
        ("§9.1 case-sensitive", "get"),
    ];
    for (name, method) in rows {
        let raw = format!("{}{}", req(method, "/style.css", &[]), closing_get("/letters.txt"));
        let rs = exchange(srv.addr(), raw);
        assert_eq!(statuses(&rs), vec![405, 200], "{name}: {method}");
        rs[0].assert_header("allow", ALLOW);
        assert!(!rs[0].connection_has("close"), "{name}: 405 must keep the connection");
        assert!(rs[0].must("content-type").starts_with("text/plain"), "{name}: error bodies are text/plain");
        assert_eq!(rs[1].body, LETTERS.as_bytes(), "{name}");
    }
}

#[test]
fn post_body_is_discarded_and_the_next_request_answered() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // The body looks like a request; it must never be answered as one.
    let body = "GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    let raw = format!(
        "POST /style.css HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{body}{}",
        body.len(),
        closing_get("/letters.txt")
    );
    let rs = exchange(srv.addr(), raw);
    assert_eq!(statuses(&rs), vec![405, 200]);
    rs[0].assert_header("allow", ALLOW);
    assert_eq!(rs[1].body, LETTERS.as_bytes());
}

#[test]
fn post_body_arriving_late_is_still_discarded() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let mut s = srv.connect();
    send_raw(&mut s, "PUT /x HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nhello");
    std::thread::sleep(std::time::Duration::from_millis(200));
    send_raw(&mut s, format!("world{}", closing_get("/letters.txt")));
    let rs = parse_all(&read_to_close(&mut s));
    assert_eq!(statuses(&rs), vec![405, 200]);
    assert_eq!(rs[1].body, LETTERS.as_bytes());
}
