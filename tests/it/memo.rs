//! Remembered heads (src/answer/memo.rs): a worker answers a head it has seen
//! before without parsing it again. That must never show: a head one byte
//! apart gets its own answer, every repeat is what a fresh parse gives, the
//! access log still has a line per request, and more distinct heads than
//! the memo holds are each answered right. (The reload case is in
//! tests/it/whole.rs: `a_reload_replaces_the_copy` repeats one head across it.)

use crate::common::*;
use std::time::{Duration, Instant};

/// `pi:raspberry`, and `pi:raspberrz`: the same head but for its last byte
/// before the line end.
const GOOD: &str = "Authorization: Basic cGk6cmFzcGJlcnJ5";
const WRONG: &str = "Authorization: Basic cGk6cmFzcGJlcnJ6";

#[test]
fn a_head_one_byte_apart_gets_its_own_answer() {
    let site = Site::standard();
    let server = site.serve(&["--auth", "pi:raspberry"]);
    let (good, wrong) = (req("GET", "/letters.txt", &[GOOD]), req("GET", "/letters.txt", &[WRONG]));
    assert_eq!(good.len(), wrong.len());
    let mut stream = server.connect();
    for round in 0..3 {
        for (raw, status) in [(&good, 200), (&wrong, 401), (&good, 200)] {
            send_raw(&mut stream, raw);
            let r = read_response(&mut stream, false);
            assert_eq!(r.status, status, "round {round}:\n{}", r.raw_head);
            if status == 200 {
                assert_eq!(r.body, LETTERS.as_bytes());
            }
        }
    }
    // Pipelined in one write: each head is matched on its own bytes.
    send_raw(&mut stream, [&good, &wrong, &good, &wrong].map(String::as_str).concat());
    let answers: Vec<u16> = (0..4).map(|_| read_response(&mut stream, false).status).collect();
    assert_eq!(answers, [200, 401, 200, 401]);
}

/// Repeats keep what the head said about the connection and the range.
#[test]
fn repeats_keep_their_framing_and_ranges() {
    let site = Site::standard();
    let server = site.serve(&[]);
    let mut stream = server.connect();
    let http10 = "GET /letters.txt HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
    let range = req("GET", "/letters.txt", &["Range: bytes=2-4"]);
    for round in 0..6 {
        send_raw(&mut stream, http10);
        let r = read_response(&mut stream, false);
        assert!(r.connection_has("keep-alive"), "round {round}:\n{}", r.raw_head);
        assert_eq!(r.body, LETTERS.as_bytes());
        send_raw(&mut stream, &range);
        let r = read_response(&mut stream, false);
        assert_eq!((r.status, &r.body[..]), (206, &b"cde"[..]), "round {round}:\n{}", r.raw_head);
    }
    // HEAD after GET of the same path, and a 304 asked for again and again.
    let etag = server.get("/letters.txt").must("etag").to_string();
    let (head, inm) =
        (req("HEAD", "/letters.txt", &[]), req("GET", "/letters.txt", &[&format!("If-None-Match: {etag}")]));
    for round in 0..3 {
        send_raw(&mut stream, &head);
        let r = read_response(&mut stream, true);
        assert_eq!((r.status, r.body.len()), (200, 0), "round {round}:\n{}", r.raw_head);
        assert_eq!(r.must("content-length"), "26");
        send_raw(&mut stream, &inm);
        let r = read_response(&mut stream, false);
        assert_eq!((r.status, r.body.len()), (304, 0), "round {round}:\n{}", r.raw_head);
    }
    // A remembered head that arrives in two reads is still answered once, whole.
    let get = get("/letters.txt");
    send_raw(&mut stream, &get);
    assert_eq!(read_response(&mut stream, false).body, LETTERS.as_bytes());
    let (first, rest) = get.split_at(get.len() - 3);
    send_raw(&mut stream, first);
    std::thread::sleep(Duration::from_millis(100));
    send_raw(&mut stream, rest);
    assert_eq!(read_response(&mut stream, false).body, LETTERS.as_bytes());
    // The same head asking to close still closes, every time it is sent
    // (more often than it takes for a reply to be kept whole).
    for _ in 0..6 {
        let mut stream = server.connect();
        send_raw(&mut stream, closing_get("/letters.txt"));
        let r = read_response(&mut stream, false);
        assert!(r.connection_has("close"), "{}", r.raw_head);
        assert_closed_silently(&mut stream);
    }
}

/// More distinct heads than the memo keeps, cycled: each answer is its own.
#[test]
fn more_heads_than_slots_are_each_answered() {
    let site = Site::standard();
    let server = site.serve(&[]);
    let files: [(&str, &[u8]); 6] = [
        ("/index.html", INDEX_HTML.as_bytes()),
        ("/style.css", STYLE_CSS.as_bytes()),
        ("/letters.txt", LETTERS.as_bytes()),
        ("/a/b/c.txt", b"C-TXT\n"),
        ("/docs/page.html", b"DOCS-PAGE\n"),
        ("/notes.txt", b"plain notes\n"),
    ];
    let mut stream = server.connect();
    for round in 0..4 {
        for (path, body) in files {
            send_raw(&mut stream, get(path));
            let r = read_response(&mut stream, false);
            assert_eq!((r.status, &r.body[..]), (200, body), "round {round}: {path}");
        }
    }
}

/// Each request is logged, the repeats too, and a repeat answered from the
/// memo (parsed once, then recalled or sent as the kept whole response) gets
/// the line a fresh parse writes: its own head's fields, escaped, with the
/// client and the second it came in.
#[test]
fn the_access_log_has_every_repeat() {
    let site = Site::standard();
    let logs = TempDir::new("memo-log");
    let log = logs.path().join("access.log");
    let server = site.serve(&["--access-log", log.to_str().unwrap(), "--status", "/.status"]);
    // Two heads one byte apart (their User-Agent) and a Referer to escape.
    let (a, b) = (
        req("GET", "/letters.txt", &["User-Agent: probe-a", "Referer: http://x/\"q\""]),
        req("GET", "/letters.txt", &["User-Agent: probe-b"]),
    );
    let before = now_secs();
    let mut stream = server.connect();
    let mut expected = Vec::new();
    for _ in 0..6 {
        for (raw, fields) in [(&a, "\"http://x/\\x22q\\x22\" \"probe-a\""), (&b, "\"-\" \"probe-b\"")] {
            send_raw(&mut stream, raw);
            assert_eq!(read_response(&mut stream, false).status, 200);
            expected.push(format!("\"GET /letters.txt HTTP/1.1\" 200 26 {fields}"));
        }
    }
    send_raw(&mut stream, a.repeat(5));
    for _ in 0..5 {
        assert_eq!(read_response(&mut stream, false).status, 200);
        expected.push("\"GET /letters.txt HTTP/1.1\" 200 26 \"http://x/\\x22q\\x22\" \"probe-a\"".to_string());
    }
    // A lone repeat, after the repeats above, is sent as the kept response.
    for _ in 0..4 {
        send_raw(&mut stream, &b);
        assert_eq!(read_response(&mut stream, false).status, 200);
        expected.push("\"GET /letters.txt HTTP/1.1\" 200 26 \"-\" \"probe-b\"".to_string());
    }
    send_raw(&mut stream, "GET /letters.txt HTTP/9.9\r\n\r\n");
    let rejected = read_response(&mut stream, false);
    expected.push(format!("\"-\" {} {} \"-\" \"-\"", rejected.status, rejected.body.len()));
    let after = now_secs();
    let seconds: Vec<String> = (before.saturating_sub(1)..=after).map(combined_time).collect();

    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().count() >= expected.len() || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{text}");
    for (line, want) in lines.iter().zip(&expected) {
        let rest = line.strip_prefix("127.0.0.1 - - [").unwrap_or_else(|| panic!("{line}"));
        let (time, part) = rest.split_once("] ").unwrap_or_else(|| panic!("{line}"));
        assert!(seconds.iter().any(|s| s == time), "{time} outside {seconds:?}");
        assert_eq!(part, want);
    }
    let kept = counter(&server.get("/.status").text(), "kept_responses");
    assert!(kept >= 1, "no kept response with the access log on:\n{text}");
}

/// `01/Dec/2026:23:41:04 +0000` for `unix`, by date(1).
fn combined_time(unix: u64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{unix}"), "+%d/%b/%Y:%H:%M:%S +0000"])
        .env("LC_ALL", "C")
        .output()
        .expect("date");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The head minus its Date line, and the Date as seconds.
fn split_date(r: &Response) -> (String, u64) {
    let head = r.raw_head.lines().filter(|l| !l.starts_with("Date:")).collect::<Vec<_>>().join("\n");
    (head, parse_imf_fixdate(r.must("date")).expect("an IMF-fixdate"))
}

/// A head asked for again and again is answered from the whole response its
/// slot keeps with this second's Date (from the third repeat of a second on).
/// Every such answer must be the one a fresh parse gives, `--header` lines and
/// all; lone or pipelined beside heads that are parsed, in order; with the
/// Date of the second it is sent in. One connection's turns hold one answer
/// each, which goes by a plain send either way; kept responses batched over
/// the ring, several connections a turn, are tests/it/batch.rs's (only kept
/// responses are batched).
fn kept_whole_responses_are_fresh_ones(args: &[&str]) {
    let site = Site::standard();
    let mut all = vec!["--header", "X-Kept: yes", "--status", "/.status"];
    all.extend_from_slice(args);
    let server = site.serve(&all);
    let (reference, _) = split_date(&server.get("/letters.txt"));
    assert!(reference.contains("X-Kept: yes"), "{reference}");
    let mut stream = server.connect();
    let mut ask = |raw: String, count: usize| {
        let before = now_secs();
        send_raw(&mut stream, raw);
        let answers: Vec<Response> = (0..count).map(|_| read_response(&mut stream, false)).collect();
        let after = now_secs();
        for r in &answers {
            let (_, date) = split_date(r);
            // The clock ticks just after each second: it may lag by one.
            assert!(date + 1 >= before && date <= after, "Date {date} outside {before}..={after}");
        }
        answers
    };
    let mut last_date = 0;
    for round in 0..8 {
        let r = ask(get("/letters.txt"), 1).remove(0);
        let (head, date) = split_date(&r);
        assert_eq!((head.as_str(), &r.body[..]), (reference.as_str(), LETTERS.as_bytes()), "repeat {round}");
        last_date = date;
    }
    // Pipelined, around a head never seen: the kept answers wait their turn.
    let burst = [get("/letters.txt"), get("/never-seen"), get("/letters.txt"), get("/letters.txt")].concat();
    let answers = ask(burst, 4);
    assert_eq!(statuses(&answers), [200, 404, 200, 200]);
    for r in answers.iter().filter(|r| r.status == 200) {
        assert_eq!((split_date(r).0, &r.body[..]), (reference.clone(), LETTERS.as_bytes()));
    }
    // Seconds later the kept response has made way for one with the new Date.
    std::thread::sleep(Duration::from_millis(2100));
    for round in 0..4 {
        let r = ask(get("/letters.txt"), 1).remove(0);
        let (head, date) = split_date(&r);
        assert_eq!(head, reference, "after the pause, repeat {round}");
        assert!(date > last_date, "repeat {round} after the pause still says {date}");
    }
    // Each second's first two repeats build a reply (the second keeps it);
    // the later lone repeats are answered from it, with or without the ring:
    // 9 of the 13 here, fewer if a second ends mid-phase.
    let status = server.get("/.status").text();
    let kept = counter(&status, "kept_responses");
    assert!((5..=13).contains(&kept), "{kept} of 13 answers of /letters.txt were kept ones:\n{status}");
}

#[test]
fn kept_whole_responses_are_fresh_ones_by_default() {
    kept_whole_responses_are_fresh_ones(&[]);
}

#[test]
fn kept_whole_responses_are_fresh_ones_without_io_uring() {
    kept_whole_responses_are_fresh_ones(&["--io-uring", "off"]);
}
