//! Size limits (RFC 9112 §3 / RFC 6585 §5, RFC 9110 §15.5.15): request line
//! over 8192 bytes -> 414, head over 16384 bytes or over 64 fields -> 431,
//! each closing the connection; and 503 once --max-conns is reached.

use crate::common::*;
use std::time::Duration;

fn long_target(line_len: usize) -> String {
    // "GET " + target + " HTTP/1.1" == line_len bytes (without CRLF).
    let fill = line_len - "GET / HTTP/1.1".len();
    format!("/{}", "a".repeat(fill))
}

#[test]
fn request_line_over_8192_bytes_is_414_and_closes() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    for len in [8300, 12000] {
        let raw = format!("{}{}", get(&long_target(len)), get("/letters.txt"));
        let rs = exchange(srv.addr(), raw);
        assert_eq!(statuses(&rs), vec![414], "request line of {len} bytes");
        assert!(rs[0].connection_has("close"));
    }
}

#[test]
fn request_line_under_8192_bytes_is_parsed() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // A long but allowed target is looked up (and not found), not refused.
    let r = srv.get(&long_target(8000));
    r.assert_status(404);
}

#[test]
fn head_over_16384_bytes_is_431_and_closes() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let mut raw = String::from("GET /letters.txt HTTP/1.1\r\nHost: t\r\n");
    for i in 0..20 {
        raw.push_str(&format!("X-Fill-{i}: {}\r\n", "v".repeat(1000)));
    }
    raw.push_str("\r\n");
    let rs = exchange(srv.addr(), format!("{raw}{}", get("/letters.txt")));
    assert_eq!(statuses(&rs), vec![431]);
    assert!(rs[0].connection_has("close"));
}

#[test]
fn one_field_over_16384_bytes_is_431() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let raw = format!("GET /letters.txt HTTP/1.1\r\nHost: t\r\nCookie: {}\r\n\r\n", "c".repeat(20000));
    let rs = exchange(srv.addr(), raw);
    assert_eq!(statuses(&rs), vec![431]);
    assert!(rs[0].connection_has("close"));
}

#[test]
fn unterminated_head_over_16384_bytes_is_431_without_waiting() {
    let site = Site::standard();
    let srv = site.serve(&["--header-timeout", "30"]);
    // The head never ends; the server must answer once its buffer is full,
    // not when the header timeout fires.
    let mut raw = String::from("GET /letters.txt HTTP/1.1\r\nHost: t\r\n");
    while raw.len() < 17000 {
        raw.push_str("X-Fill: 0123456789012345678901234567890123456789\r\n");
    }
    let mut s = srv.connect();
    send_lenient(&mut s, raw);
    let rs = parse_all(&read_to_close(&mut s));
    assert_eq!(statuses(&rs), vec![431]);
}

#[test]
fn head_just_under_16384_bytes_is_served() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let mut raw = String::from("GET /letters.txt HTTP/1.1\r\nHost: t\r\n");
    for i in 0..12 {
        raw.push_str(&format!("X-Fill-{i}: {}\r\n", "v".repeat(1000)));
    }
    raw.push_str("\r\n");
    assert!(raw.len() < 16000);
    let r = srv.request(raw);
    r.assert_status(200);
    assert_eq!(r.body, LETTERS.as_bytes());
}

fn with_fields(total: usize) -> String {
    let mut raw = String::from("GET /letters.txt HTTP/1.1\r\nHost: t\r\n");
    for i in 1..total {
        raw.push_str(&format!("X-{i}: {i}\r\n"));
    }
    raw.push_str("\r\n");
    raw
}

#[test]
fn sixty_four_fields_are_served() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let r = srv.request(with_fields(64));
    r.assert_status(200);
}

#[test]
fn sixty_five_fields_are_431_and_close() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    for n in [65, 200] {
        let rs = exchange(srv.addr(), format!("{}{}", with_fields(n), get("/letters.txt")));
        assert_eq!(statuses(&rs), vec![431], "{n} fields");
        assert!(rs[0].connection_has("close"));
    }
}

#[test]
fn max_conns_answers_503_and_closes() {
    let site = Site::standard();
    let srv = site.serve(&["--max-conns", "1"]);
    // The first connection is served and held open.
    let mut first = srv.connect();
    send_raw(&mut first, get("/letters.txt"));
    read_response(&mut first, false).assert_status(200);
    // A second one is over the limit.
    let mut second = srv.connect();
    send_lenient(&mut second, get("/letters.txt"));
    let rs = parse_all(&read_to_close(&mut second));
    assert_eq!(statuses(&rs), vec![503]);
    assert!(rs[0].connection_has("close"));
    // Closing the first frees the slot again.
    drop(first);
    std::thread::sleep(Duration::from_millis(300));
    let r = srv.get("/letters.txt");
    r.assert_status(200);
}
