//! Inputs found by the fuzz targets in fuzz/, fed to the real binary over a
//! socket. Each test names the target and what it found.

use crate::common::*;

use std::thread;
use std::time::Duration;

/// Sends `parts` as separate writes with a pause between them (so the server
/// reads them separately), then reads every response until the close.
fn split_exchange(srv: &Server, parts: &[&[u8]]) -> Vec<Response> {
    let mut s = srv.connect();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            thread::sleep(Duration::from_millis(300));
        }
        send_lenient(&mut s, part);
    }
    parse_all(&read_to_close(&mut s))
}

/// fuzz target `request_split`, input `GET / HTTP/2.0\r\n\r\n`: the whole line
/// is a well-formed version mote does not support (505), but when the read
/// ends right after `HTTP/2`, request.rs already has httparse's version error
/// and classifies the partial `HTTP/2` as malformed (400). The answer must
/// not depend on where TCP splits the line.
#[test]
fn a_version_split_across_reads_gets_the_same_answer_as_whole() {
    let srv = Server::start(&[]);
    let whole = split_exchange(&srv, &[b"GET / HTTP/2.0\r\nHost: test\r\n\r\n"]);
    assert_eq!(statuses(&whole), [505], "whole line:\n{}", heads(&whole));
    let split = split_exchange(&srv, &[b"GET / HTTP/2", b".0\r\nHost: test\r\n\r\n"]);
    assert_eq!(statuses(&split), [505], "split after `HTTP/2`:\n{}", heads(&split));
    // The HTTP/2 connection preface, split the same way (README: 505).
    let preface = split_exchange(&srv, &[b"PRI * HTTP/2", b".0\r\n\r\nSM\r\n\r\n"]);
    assert_eq!(statuses(&preface), [505], "split preface:\n{}", heads(&preface));
    // And the other way round: `HTTP/1.2` then `3` is a malformed version
    // (the whole line is 400), not an unsupported one.
    let whole = split_exchange(&srv, &[b"GET / HTTP/1.23\r\nHost: test\r\n\r\n"]);
    assert_eq!(statuses(&whole), [400], "whole `HTTP/1.23` line:\n{}", heads(&whole));
    let split = split_exchange(&srv, &[b"GET / HTTP/1.2", b"3\r\nHost: test\r\n\r\n"]);
    assert_eq!(statuses(&split), [400], "split after `HTTP/1.2`:\n{}", heads(&split));
}

/// The same inputs, checked for what holds today whatever the split: a
/// rejection (4xx/5xx), one response, and a close — never a request served.
#[test]
fn a_version_split_across_reads_is_still_refused_and_closed() {
    let srv = Server::start(&[]);
    let cases: &[&[&[u8]]] = &[
        &[b"GET / HTTP/2", b".0\r\nHost: test\r\n\r\n"],
        &[b"PRI * HTTP/2", b".0\r\n\r\nSM\r\n\r\n"],
        &[b"GET / HTTP/1.2", b"3\r\nHost: test\r\n\r\n"],
        &[b"GET / HTTP/3", b".0\r\nHost: test\r\n\r\nGET / HTTP/1.1\r\nHost: test\r\n\r\n"],
    ];
    for parts in cases {
        let responses = split_exchange(&srv, parts);
        assert_eq!(responses.len(), 1, "{parts:?}:\n{}", heads(&responses));
        let status = responses[0].status;
        assert!(status == 400 || status == 505, "{parts:?}: {status}");
        assert!(responses[0].connection_has("close"), "{parts:?}:\n{}", heads(&responses));
    }
}

/// fuzz target `target`, input `*`: target::normalize writes in place and
/// panics (an abort in the release build) on a path that does not start with
/// '/'. split() never hands it one — these absolute-form and asterisk
/// targets, whose path is empty or absent, must be answered, not crash.
#[test]
fn targets_without_a_leading_slash_never_reach_the_normaliser() {
    let srv = Server::start(&[]);
    let cases: &[(&str, u16)] = &[
        ("GET http://test HTTP/1.1", 200),
        ("GET http://test? HTTP/1.1", 200),
        ("GET HTTP://test:80?q=..%2f HTTP/1.1", 200),
        ("GET https://test?/../x HTTP/1.1", 200),
        ("GET * HTTP/1.1", 400),
        ("OPTIONS * HTTP/1.1", 204),
        ("GET http://test*x HTTP/1.1", 200),
        ("GET http://test%2f.. HTTP/1.1", 200),
        ("GET .. HTTP/1.1", 400),
        ("GET %2f HTTP/1.1", 400),
    ];
    for (line, want) in cases {
        let r = srv.request(format!("{line}\r\nHost: test\r\nConnection: close\r\n\r\n"));
        assert_eq!(r.status, *want, "{line}:\n{}", r.raw_head);
    }
    srv.get("/").assert_status(200);
}
