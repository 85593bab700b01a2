//! Whole responses (src/answer/whole.rs): a worker keeps one-buffer copies of the
//! small responses it sends repeatedly and writes them with one `send`.
//! The copies must be invisible: every repeat is byte for byte what the
//! gathered path sends (apart from the Date), the Date still moves with the
//! clock, a reload is served at once, and each variant, method and status
//! keeps its own bytes. One test watches the system calls to show the copy
//! is really used.

use crate::common::*;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The head without its Date line: what must repeat exactly.
fn dateless(r: &Response) -> String {
    r.raw_head.lines().filter(|l| !l.starts_with("Date:")).collect::<Vec<_>>().join("\n")
}

fn ask(stream: &mut TcpStream, method: &str, path: &str, headers: &[&str]) -> Response {
    send_raw(stream, req(method, path, headers));
    read_response(stream, method == "HEAD")
}

fn page(version: u8) -> Vec<u8> {
    let mut page = format!("<!doctype html><title>v{version}</title>\n").into_bytes();
    page.resize(5000, b'a' + version);
    page
}

fn site() -> Site {
    let site = Site::empty();
    site.write("index.html", page(1));
    site.write("twin.html", page(3)); // same length and head length, other bytes
    site.write("style.css", STYLE_CSS.repeat(40));
    site.write("style.css.gz", gzip_bytes(STYLE_CSS.repeat(40).as_bytes()));
    site
}

/// Every kind of answer a copy can be made of, asked three times on one
/// connection and interleaved: each repeat equals the first, which equals the
/// answer on a fresh connection.
#[test]
fn repeats_are_identical_to_the_first_answer() {
    let site = site();
    let server = Server::start(&["--root", &site.root_str(), "--header", "X-Test: whole"]);
    let etag = server.get("/index.html").must("etag").to_string();
    let inm = format!("If-None-Match: {etag}");
    let asks: [(&str, &str, Vec<&str>); 7] = [
        ("GET", "/index.html", vec![]),
        ("GET", "/twin.html", vec![]),
        ("HEAD", "/index.html", vec![]),
        ("GET", "/index.html", vec![&inm]),
        ("GET", "/style.css", vec!["Accept-Encoding: gzip"]),
        ("GET", "/style.css", vec![]),
        ("GET", "/missing", vec![]),
    ];
    let mut stream = server.connect();
    let mut first: Vec<Option<Response>> = vec![None; asks.len()];
    for round in 0..3 {
        for (i, (method, path, headers)) in asks.iter().enumerate() {
            let r = ask(&mut stream, method, path, headers);
            assert_date_now(&r);
            match &first[i] {
                None => {
                    let mut fresh = server.connect();
                    let alone = ask(&mut fresh, method, path, headers);
                    assert_eq!(dateless(&r), dateless(&alone), "{method} {path} {headers:?}");
                    assert_eq!(r.body, alone.body, "{method} {path} {headers:?}");
                    first[i] = Some(r);
                }
                Some(f) => {
                    assert_eq!(dateless(&r), dateless(f), "round {round}: {method} {path} {headers:?}");
                    assert_eq!(r.body, f.body, "round {round}: {method} {path} {headers:?}");
                }
            }
        }
    }
    let statuses: Vec<u16> = first.iter().map(|r| r.as_ref().unwrap().status).collect();
    assert_eq!(statuses, [200, 200, 200, 304, 200, 200, 404]);
    let [get, twin, head, _, gz, plain, _] = &first[..] else { unreachable!() };
    assert_eq!(twin.as_ref().unwrap().body, page(3));
    let (get, head, gz, plain) =
        (get.as_ref().unwrap(), head.as_ref().unwrap(), gz.as_ref().unwrap(), plain.as_ref().unwrap());
    assert_eq!(get.body, page(1));
    assert!(head.body.is_empty());
    get.assert_header("x-test", "whole");
    gz.assert_header("content-encoding", "gzip");
    assert_eq!(gunzip_bytes(&gz.body), plain.body);
}

/// A copy made in one second is not sent in the next: the Date moves.
#[test]
fn the_date_still_follows_the_clock() {
    let site = site();
    let server = Server::start(&["--root", &site.root_str()]);
    let mut stream = server.connect();
    let first = ask(&mut stream, "GET", "/index.html", &[]);
    let second = ask(&mut stream, "GET", "/index.html", &[]);
    let start = first.must("date").to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    let later = loop {
        std::thread::sleep(Duration::from_millis(100));
        let r = ask(&mut stream, "GET", "/index.html", &[]);
        if r.must("date") != start {
            break r;
        }
        assert!(Instant::now() < deadline, "the Date stayed {start} for 5 s");
    };
    assert_date_now(&later);
    let again = ask(&mut stream, "GET", "/index.html", &[]);
    assert_eq!(again.must("date"), later.must("date"), "{}", again.raw_head);
    for r in [&second, &later, &again] {
        assert_eq!(dateless(r), dateless(&first));
        assert_eq!(r.body, first.body);
    }
}

/// After SIGHUP a kept connection gets the new file at once, though the old
/// one was being sent from a copy.
#[test]
fn a_reload_replaces_the_copy() {
    let site = site();
    let server = Server::start(&["--root", &site.root_str()]);
    let mut stream = server.connect();
    for _ in 0..3 {
        assert_eq!(ask(&mut stream, "GET", "/index.html", &[]).body, page(1));
    }
    site.write("index.html", page(2));
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.get("/index.html").body != page(2) {
        assert!(Instant::now() < deadline, "reload not seen in 5 s:\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..3 {
        let r = ask(&mut stream, "GET", "/index.html", &[]);
        assert_eq!(r.body, page(2), "old bytes after reload: {}", r.raw_head);
    }
}

/// strace: the first answer is gathered (`sendmsg`), repeats are one `sendto`;
/// a pipelined burst is still one gathered write.
#[test]
fn repeats_leave_in_one_send() {
    let site = site();
    // Sends from the turn's io_uring batch are tests/it/batch.rs's; here each goes itself.
    let server = Server::start(&["--root", &site.root_str(), "--io-uring", "off"]);
    let mut stream = server.connect();
    let trace = TempDir::new("strace");
    let out = trace.path().join("calls");
    let mut strace = Strace::attach(server.pid(), "sendto,sendmsg", &out);
    for _ in 0..5 {
        assert_eq!(ask(&mut stream, "GET", "/index.html", &[]).status, 200);
    }
    let burst = get("/index.html").repeat(4);
    send_raw(&mut stream, &burst);
    for _ in 0..4 {
        assert_eq!(read_response(&mut stream, false).body, page(1));
    }
    let calls = strace.finish(&out);
    let sendto = calls.iter().filter(|c| c.starts_with("sendto(")).count();
    let sendmsg = calls.iter().filter(|c| c.starts_with("sendmsg(")).count();
    // 5 single answers: the first gathered, the rest whole (a second boundary
    // between them forces one more copy, still a `sendto`); then the burst.
    assert!(sendto >= 4 && sendmsg >= 2 && sendto + sendmsg <= 6 + 4, "calls:\n{}", calls.join("\n"));
    let last = calls.iter().rev().find(|c| c.starts_with("send")).unwrap();
    assert!(last.starts_with("sendmsg("), "the burst was not gathered:\n{}", calls.join("\n"));
}
