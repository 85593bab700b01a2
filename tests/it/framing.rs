//! Request body framing (RFC 9112 §6) and the smuggling it must prevent
//! (RFC 9112 §11.2): every test counts the responses in the whole byte stream,
//! so an extra response to body bytes is a failure.

use crate::common::*;
use std::thread::sleep;
use std::time::Duration;

/// A request whose body, if mistaken for a request, would be answered with
/// the notes file.
const SMUGGLED: &str = "GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn get_body_is_discarded_not_parsed() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9112 §6.3 rule 6: Content-Length frames the body.
    let raw = format!(
        "GET /style.css HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello{}",
        closing_get("/letters.txt")
    );
    let rs = exchange(srv.addr(), raw);
    assert_eq!(statuses(&rs), vec![200, 200]);
    assert_eq!(rs[0].body, STYLE_CSS.as_bytes());
    assert_eq!(rs[1].body, LETTERS.as_bytes());
}

#[test]
fn a_request_inside_a_body_is_never_answered() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let raw = format!(
        "GET /style.css HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{SMUGGLED}{}",
        SMUGGLED.len(),
        closing_get("/letters.txt")
    );
    let rs = exchange(srv.addr(), raw);
    assert_eq!(statuses(&rs), vec![200, 200]);
    assert_eq!(rs[0].body, STYLE_CSS.as_bytes());
    assert_eq!(rs[1].body, LETTERS.as_bytes());
}

#[test]
fn body_split_across_packets_is_discarded() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let mut s = srv.connect();
    let (first, second) = SMUGGLED.split_at(7);
    send_raw(
        &mut s,
        format!("GET /style.css HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{first}", SMUGGLED.len()),
    );
    sleep(Duration::from_millis(150));
    send_raw(&mut s, second);
    sleep(Duration::from_millis(150));
    send_raw(&mut s, closing_get("/letters.txt"));
    let rs = parse_all(&read_to_close(&mut s));
    assert_eq!(statuses(&rs), vec![200, 200]);
    assert_eq!(rs[1].body, LETTERS.as_bytes());
}

#[test]
fn identical_repeated_content_length_is_accepted() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9110 §8.6: identical repeated values may be accepted as one.
    let raw = format!(
        "GET /style.css HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello{}",
        closing_get("/letters.txt")
    );
    let rs = exchange(srv.addr(), raw);
    assert_eq!(statuses(&rs), vec![200, 200]);
    assert_eq!(rs[1].body, LETTERS.as_bytes());
}

#[test]
fn content_length_zero_is_fine() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let raw =
        format!("GET /style.css HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n{}", closing_get("/letters.txt"));
    assert_eq!(statuses(&exchange(srv.addr(), raw)), vec![200, 200]);
}

#[test]
fn invalid_content_length_is_400_and_closes() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let rows = [
        ("§8.6 letters", "abc"),
        ("§8.6 negative", "-1"),
        ("§8.6 plus sign", "+5"),
        ("§8.6 fraction", "1.0"),
        ("§8.6 hex", "0x5"),
        ("§8.6 empty", ""),
        ("§8.6 overflow", "99999999999999999999999999"),
        ("§8.6 comma list", "5, 6"),
    ];
    for (name, value) in rows {
        let raw = format!("GET /style.css HTTP/1.1\r\nHost: test\r\nContent-Length: {value}\r\n\r\nhello{SMUGGLED}");
        let rs = exchange(srv.addr(), raw);
        assert_eq!(statuses(&rs), vec![400], "{name}: Content-Length: {value:?}");
        assert!(rs[0].connection_has("close"), "{name}:\n{}", rs[0].raw_head);
    }
}

#[test]
fn different_content_lengths_are_400_and_close() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9112 §6.3 rule 5: differing lengths are unrecoverable.
    let raw = format!(
        "GET /style.css HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!{SMUGGLED}"
    );
    let rs = exchange(srv.addr(), raw);
    assert_eq!(statuses(&rs), vec![400]);
    assert!(rs[0].connection_has("close"));
}

#[test]
fn transfer_encoding_is_refused_and_closes() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let chunked = format!("5\r\nhello\r\n0\r\n\r\n{SMUGGLED}");
    let rows = [
        (
            "§6.1 TE chunked: 501",
            format!("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}"),
            501,
        ),
        (
            "§6.1 TE on GET: 501",
            format!("GET /style.css HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}"),
            501,
        ),
        (
            "§6.1 unknown coding: 501",
            format!("GET /style.css HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n{chunked}"),
            501,
        ),
        (
            "§6.1 TE identity: 501",
            format!("GET /style.css HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n{SMUGGLED}"),
            501,
        ),
        (
            "§6.3 CL.TE: 400",
            format!("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}"),
            400,
        ),
        (
            "§6.3 TE.CL: 400",
            format!("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n{chunked}"),
            400,
        ),
        ("§6.1 TE in HTTP/1.0: 400", format!("POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}"), 400),
    ];
    for (name, raw, want) in rows {
        let rs = exchange(srv.addr(), raw);
        assert_eq!(statuses(&rs), vec![want], "{name}");
        assert!(rs[0].connection_has("close"), "{name}:\n{}", rs[0].raw_head);
    }
}

#[test]
fn body_over_one_mib_is_413_and_closes() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // Only the head is sent: the server must answer without waiting for 1 MiB.
    let raw = "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n";
    let rs = exchange(srv.addr(), raw);
    assert_eq!(statuses(&rs), vec![413]);
    assert!(rs[0].connection_has("close"));
}

#[test]
fn malformed_header_fields_are_400_and_close() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let rows = [
        ("§5.2 obs-fold (space)", "GET /style.css HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n 2\r\n\r\n"),
        ("§5.2 obs-fold (tab)", "GET /style.css HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\t2\r\n\r\n"),
        ("§5.1 space before colon", "GET /style.css HTTP/1.1\r\nHost: t\r\nX-A : 1\r\n\r\n"),
        (
            "§5.1 space before colon on Content-Length",
            "GET /style.css HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello",
        ),
        ("§5.5 NUL in value", "GET /style.css HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n"),
        ("§5.5 bare CR in value", "GET /style.css HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n"),
        ("§5.1 non-token name", "GET /style.css HTTP/1.1\r\nHost: t\r\nX(A): 1\r\n\r\n"),
        ("§5.1 empty name", "GET /style.css HTTP/1.1\r\nHost: t\r\n: 1\r\n\r\n"),
        ("§5.1 missing colon", "GET /style.css HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n"),
    ];
    for (name, raw) in rows {
        let rs = exchange(srv.addr(), format!("{raw}{SMUGGLED}"));
        assert_eq!(statuses(&rs), vec![400], "{name}: {raw:?}");
        assert!(rs[0].connection_has("close"), "{name}:\n{}", rs[0].raw_head);
    }
}

#[test]
fn bare_lf_line_endings_are_accepted() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9112 §2.2: a recipient MAY recognise a single LF as a line terminator.
    let raw = format!(
        "GET /style.css HTTP/1.1\nHost: test\n\n{}",
        "GET /letters.txt HTTP/1.1\nHost: test\nConnection: close\n\n"
    );
    let rs = exchange(srv.addr(), raw);
    assert_eq!(statuses(&rs), vec![200, 200]);
    assert_eq!(rs[0].body, STYLE_CSS.as_bytes());
    assert_eq!(rs[1].body, LETTERS.as_bytes());
}

#[test]
fn empty_lines_before_the_request_line_are_ignored() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before
    // the request-line (clients may send a CRLF after a POST body).
    let raw = format!("{}\r\n{}", get("/style.css"), closing_get("/letters.txt"));
    let rs = exchange(srv.addr(), raw);
    assert_eq!(statuses(&rs), vec![200, 200]);
    assert_eq!(rs[1].body, LETTERS.as_bytes());
}

#[test]
fn bodies_on_options_and_head_are_discarded_too() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9112 §6.3: Content-Length frames a body on any request method.
    let mut s = srv.connect();
    send_raw(
        &mut s,
        format!(
            "OPTIONS * HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
             HEAD /letters.txt HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{SMUGGLED}{}",
            SMUGGLED.len(),
            closing_get("/style.css")
        ),
    );
    read_response(&mut s, false).assert_status(204);
    read_response(&mut s, true).assert_status(200).assert_header("content-length", "26");
    let rest = parse_all(&read_to_close(&mut s));
    assert_eq!(statuses(&rest), vec![200]);
    assert_eq!(rest[0].body, STYLE_CSS.as_bytes());
}
