//! Connection management (RFC 9112 §9): persistent 1.1 connections, `close`,
//! HTTP/1.0 keep-alive, pipelining in order, and the header / idle timeouts.

use crate::common::*;
use std::io::{self, Write};
use std::net::TcpStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

#[test]
fn http_1_1_is_persistent() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let mut s = srv.connect();
    for target in ["/letters.txt", "/style.css", "/nope", "/letters.txt"] {
        send_raw(&mut s, get(target));
        let r = read_response(&mut s, false);
        assert!(!r.connection_has("close"), "{target}:\n{}", r.raw_head);
    }
    send_raw(&mut s, get("/letters.txt"));
    let r = read_response(&mut s, false);
    r.assert_status(200);
    assert_eq!(r.body, LETTERS.as_bytes());
}

#[test]
fn connection_close_is_honoured() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9112 §9.6; connection options are case-insensitive.
    for value in ["close", "Close", "CLOSE", "keep-alive, close"] {
        let mut s = srv.connect();
        send_raw(&mut s, req("GET", "/letters.txt", &[&format!("Connection: {value}")]));
        let r = read_response(&mut s, false);
        r.assert_status(200);
        assert!(r.connection_has("close"), "Connection: {value}:\n{}", r.raw_head);
        assert_closed_silently(&mut s);
    }
}

#[test]
fn connection_close_wins_over_pipelined_requests() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9112 §9.6: nothing after the `close` request is answered.
    let raw = format!("{}{}{}", get("/style.css"), closing_get("/letters.txt"), get("/notes.txt"));
    let rs = exchange(srv.addr(), raw);
    assert_eq!(statuses(&rs), vec![200, 200]);
    assert_eq!(rs[1].body, LETTERS.as_bytes());
}

#[test]
fn http_1_0_closes_by_default() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let mut s = srv.connect();
    send_raw(&mut s, "GET /letters.txt HTTP/1.0\r\n\r\n");
    let r = read_response(&mut s, false);
    r.assert_status(200);
    assert!(!r.connection_has("keep-alive"), "{}", r.raw_head);
    assert_closed_silently(&mut s);
}

#[test]
fn http_1_0_keep_alive_when_asked() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let mut s = srv.connect();
    for value in ["keep-alive", "Keep-Alive"] {
        send_raw(&mut s, format!("GET /letters.txt HTTP/1.0\r\nConnection: {value}\r\n\r\n"));
        let r = read_response(&mut s, false);
        r.assert_status(200).assert_header("connection", "keep-alive");
        assert_eq!(r.body, LETTERS.as_bytes());
    }
    // A 1.0 request without keep-alive ends it.
    send_raw(&mut s, "GET /style.css HTTP/1.0\r\nHost: t\r\n\r\n");
    let r = read_response(&mut s, false);
    r.assert_status(200);
    assert_closed_silently(&mut s);
}

/// After the server's EOF, sends more bytes and waits up to `limit` for the
/// reset a fully closed socket answers them with (a later write then fails).
/// A lingering close (write side shut, reading on) takes them instead, for
/// two seconds or more.
fn reset_by_more_bytes(s: &mut TcpStream, limit: Duration) -> bool {
    send_lenient(s, get("/letters.txt"));
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        sleep(Duration::from_millis(20));
        match s.write(b"\r\n") {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe) => return true,
            Err(e) => panic!("after the server's EOF: {e}"),
        }
    }
    false
}

#[test]
fn a_client_that_asked_to_close_gets_a_plain_close() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // RFC 9112 §9.6: a client that sent `close` (or a 1.0 request without
    // keep-alive) sends nothing more. Once its bytes are all read, nothing
    // unread can turn the close into a reset, so there is nothing to linger for.
    for raw in [
        closing_get("/letters.txt"),
        format!("{}{}", get("/style.css"), closing_get("/letters.txt")),
        "GET /letters.txt HTTP/1.0\r\n\r\n".to_string(),
    ] {
        let mut s = srv.connect();
        send_raw(&mut s, &raw);
        let rs = parse_all(&read_to_close(&mut s));
        assert_eq!(rs.last().map(|r| r.body.as_slice()), Some(LETTERS.as_bytes()), "{raw:?}: {}", heads(&rs));
        assert!(reset_by_more_bytes(&mut s, Duration::from_secs(1)), "{raw:?}: the server lingered");
    }
}

#[test]
fn a_close_the_client_did_not_ask_for_lingers() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // Bytes after the `close` request, a head the server rejects, and a body
    // not yet read may each be followed by more: the server shuts its write
    // side and reads on, so the client gets its response, not a reset.
    for raw in [
        format!("{}{}", closing_get("/letters.txt"), get("/style.css")),
        "GET /letters.txt HTTP/1.1\r\nHost: test\r\nContent-Length: x\r\n\r\n".to_string(),
        // (the body announced is not sent: it comes after the response)
        req("POST", "/letters.txt", &["Connection: close", "Content-Length: 100"]),
    ] {
        let mut s = srv.connect();
        send_raw(&mut s, &raw);
        let rs = parse_all(&read_to_close(&mut s));
        assert_eq!(rs.len(), 1, "{raw:?}: {}", heads(&rs));
        assert!(!reset_by_more_bytes(&mut s, Duration::from_millis(700)), "{raw:?}: no lingering close");
    }
}

#[test]
fn twenty_pipelined_requests_in_one_write_are_answered_in_order() {
    let site = Site::standard();
    for i in 0..20 {
        site.write(&format!("p/{i:02}.txt"), format!("body of file {i:02}\n"));
    }
    let srv = site.serve(&[]);
    let mut raw = String::new();
    for i in 0..19 {
        raw.push_str(&get(&format!("/p/{i:02}.txt")));
    }
    raw.push_str(&closing_get("/p/19.txt"));
    let mut s = srv.connect();
    send_raw(&mut s, raw);
    let rs = parse_all(&read_to_close(&mut s));
    assert_eq!(rs.len(), 20, "{}", heads(&rs));
    for (i, r) in rs.iter().enumerate() {
        r.assert_status(200);
        assert_eq!(r.text(), format!("body of file {i:02}\n"), "response {i} out of order");
    }
}

#[test]
fn pipelined_mix_of_methods_and_statuses() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let raw = format!(
        "{}{}{}{}{}{}{}",
        get("/letters.txt"),
        req("HEAD", "/style.css", &[]),
        get("/nope"),
        req("OPTIONS", "*", &[]),
        req("DELETE", "/letters.txt", &[]),
        req("GET", "/letters.txt", &["Range: bytes=0-1"]),
        closing_get("/docs"),
    );
    let mut s = srv.connect();
    send_raw(&mut s, raw);
    let expect = [(200, false), (200, true), (404, false), (204, false), (405, false), (206, false), (301, false)];
    for (i, (status, head)) in expect.iter().enumerate() {
        let r = read_response(&mut s, *head);
        assert_eq!(r.status, *status, "response {i}:\n{}", r.raw_head);
    }
    assert_closed_silently(&mut s);
}

#[test]
fn requests_split_into_single_bytes_are_assembled() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let mut s = srv.connect();
    for b in get("/letters.txt").bytes() {
        send_raw(&mut s, [b]);
        sleep(Duration::from_millis(2));
    }
    let r = read_response(&mut s, false);
    r.assert_status(200);
    assert_eq!(r.body, LETTERS.as_bytes());
}

#[test]
fn header_timeout_closes_a_half_sent_head() {
    let site = Site::standard();
    // Deadlines are whole seconds, so `2` fires between 1 and 2 s from now.
    let srv = site.serve(&["--header-timeout", "2", "--idle-timeout", "30"]);
    let mut s = srv.connect();
    let start = Instant::now();
    send_raw(&mut s, "GET /letters.txt HTTP/1.1\r\nHost: t\r\n");
    // A 408 before closing is allowed; the server must not wait for more.
    let got = read_until_close(&mut s, Duration::from_secs(4))
        .unwrap_or_else(|b| panic!("not closed 4 s after a half head; got {:?}", String::from_utf8_lossy(&b)));
    let took = start.elapsed();
    let rs = parse_all(&got);
    assert!(rs.iter().all(|r| r.status == 408), "only a 408 may be sent: {}", heads(&rs));
    assert!(took >= Duration::from_millis(900), "closed after {took:?}, before the timeout");
}

#[test]
fn header_timeout_is_a_deadline_not_reset_by_trickling_bytes() {
    let site = Site::standard();
    let srv = site.serve(&["--header-timeout", "1", "--idle-timeout", "30"]);
    let mut s = srv.connect();
    let start = Instant::now();
    send_raw(&mut s, "GET /letters.txt HTTP/1.1\r\n");
    // Slowloris: one header byte every 200 ms for up to 4 s.
    let mut closed = false;
    while start.elapsed() < Duration::from_secs(4) {
        if s.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        sleep(Duration::from_millis(200));
        s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        let mut buf = [0u8; 512];
        match std::io::Read::read(&mut s, &mut buf) {
            Ok(_) => {
                closed = true; // EOF or a 408
                break;
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "a head trickled byte by byte kept the connection open for 4 s");
}

#[test]
fn idle_timeout_closes_a_silent_connection() {
    let site = Site::standard();
    let srv = site.serve(&["--idle-timeout", "2", "--header-timeout", "2"]);
    let mut s = srv.connect();
    let start = Instant::now();
    let got = read_until_close(&mut s, Duration::from_secs(4))
        .unwrap_or_else(|_| panic!("a connection that sent nothing was kept open 4 s"));
    let rs = parse_all(&got);
    assert!(rs.iter().all(|r| r.status == 408), "{}", heads(&rs));
    assert!(start.elapsed() >= Duration::from_millis(900), "closed before the timeout");
}

#[test]
fn idle_timeout_closes_after_a_response() {
    let site = Site::standard();
    let srv = site.serve(&["--idle-timeout", "2", "--header-timeout", "10"]);
    let mut s = srv.connect();
    send_raw(&mut s, get("/letters.txt"));
    read_response(&mut s, false).assert_status(200);
    // Still open shortly after.
    sleep(Duration::from_millis(200));
    send_raw(&mut s, get("/letters.txt"));
    read_response(&mut s, false).assert_status(200);
    let start = Instant::now();
    let got = read_until_close(&mut s, Duration::from_secs(4))
        .unwrap_or_else(|_| panic!("an idle keep-alive connection was kept open 4 s"));
    assert!(got.is_empty(), "nothing may be sent on idle close: {:?}", String::from_utf8_lossy(&got));
    assert!(start.elapsed() >= Duration::from_millis(900), "closed before the timeout");
}

#[test]
fn many_concurrent_connections_are_served() {
    let site = Site::standard();
    let srv = site.serve(&["--threads", "2"]);
    let addr = srv.addr();
    let handles: Vec<_> = (0..32)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = connect(addr);
                for _ in 0..5 {
                    send_raw(&mut s, get("/letters.txt"));
                    let r = read_response(&mut s, false);
                    assert_eq!(r.status, 200);
                    assert_eq!(r.body, LETTERS.as_bytes());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread");
    }
}

#[test]
fn two_thousand_pipelined_requests_with_backpressure() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    // More requests than any socket buffer holds: the server must keep
    // reading as the client reads, answer all in order and lose none.
    let n = 2000;
    let mut raw = String::new();
    for i in 0..n - 1 {
        raw.push_str(&get(if i % 2 == 0 { "/letters.txt" } else { "/style.css" }));
    }
    raw.push_str(&closing_get("/notes.txt"));
    let mut s = srv.connect();
    let mut writer = s.try_clone().unwrap();
    let t = std::thread::spawn(move || send_raw(&mut writer, raw));
    let rs = parse_all(&read_to_close(&mut s));
    t.join().unwrap();
    assert_eq!(rs.len(), n);
    for (i, r) in rs.iter().enumerate().take(n - 1) {
        let want = if i % 2 == 0 { LETTERS } else { STYLE_CSS };
        assert_eq!(r.text(), want, "response {i}");
    }
    assert_eq!(rs[n - 1].text(), "plain notes\n");
}

#[test]
fn slow_reader_gets_a_large_file_whole() {
    let site = Site::standard();
    let data = large_bytes(1024 * 1024 + 11);
    site.write("big.bin", &data);
    let srv = site.serve(&["--cache-max", "4096"]);
    let mut s = srv.connect();
    send_raw(&mut s, format!("{}{}", get("/big.bin"), closing_get("/letters.txt")));
    // Read in small sips so the server sees a full socket many times.
    let mut all = Vec::new();
    let mut buf = [0u8; 8192];
    let start = Instant::now();
    loop {
        let n = std::io::Read::read(&mut s, &mut buf).expect("read");
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
        if all.len() % (64 * 1024) < 8192 {
            sleep(Duration::from_millis(5));
        }
        assert!(start.elapsed() < Duration::from_secs(20), "too slow");
    }
    let rs = parse_all(&all);
    assert_eq!(statuses(&rs), vec![200, 200]);
    assert_bytes_eq(&rs[0].body, &data, "slowly read big.bin");
    assert_eq!(rs[1].body, LETTERS.as_bytes());
}
