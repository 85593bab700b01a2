//! Malformed and hostile request corpus: requests a strict server must
//! refuse, or answer with exactly the responses the row allows, kept as
//! data so adding a case is adding a row.
//!
//! Every row of `tests/data/requests.tsv` is sent, as raw bytes on a fresh
//! connection, to ONE real `mote` process started for this file. Whatever
//! comes back is split into responses (status line, fields, Content-Length
//! body; none for HEAD/204/304) and checked against the row's expectation:
//!
//! * `STATUS`        the first response has that status;
//! * `STATUS+close`  ... and it is the only one and the server closes after it;
//! * `STATUS+N`      ... and exactly N responses come back before the server
//!   closes or goes quiet.
//!
//! Invariants checked on every row, whatever it expects:
//! * every response parses; nothing but whole responses comes back;
//! * a response that closes (400/413/414/431/501/505, or any with
//!   `Connection: close`) carries `Connection: close`, is the last one, and the
//!   connection really closes;
//! * `path-*` rows (traversal attempts) never get a 200/206/304 and may only
//!   expect 400 or 404;
//! * `smug-*` rows (smuggling attempts) must state how many responses are
//!   allowed (`+N` or `+close`), so a response to a smuggled request fails.
//!
//! Requests written `@name:N` are generated here (over-long lines and heads)
//! instead of being stored as huge rows. Uses std only.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const CORPUS: &str = include_str!("../data/requests.tsv");
const HOST: &str = "Host: 127.0.0.1\r\n";
const PARALLEL: usize = 16;
/// Statuses after which mote must close (SPEC.md "Responses").
const CLOSING: [u16; 6] = [400, 413, 414, 431, 501, 505];
/// What a row may expect.
const KNOWN: [u16; 15] = [200, 204, 206, 301, 304, 400, 404, 405, 412, 413, 414, 416, 431, 501, 505];

// ---------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Count {
    /// Only the first status is checked.
    Any,
    /// Exactly one response, then the server closes.
    Close,
    /// Exactly this many responses.
    Exactly(usize),
}

struct Case {
    line: usize,
    id: String,
    /// As written in the file, for reports.
    written: String,
    raw: Vec<u8>,
    status: u16,
    count: Count,
    expect: String,
    why: String,
}

impl Case {
    fn traversal(&self) -> bool {
        self.id.starts_with("path-")
    }
    fn smuggling(&self) -> bool {
        self.id.starts_with("smug-")
    }
    /// Responses to HEAD carry no body; rows that start with HEAD are HEAD throughout.
    fn head_only(&self) -> bool {
        let start = self.raw.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(0);
        self.raw[start..].starts_with(b"HEAD ")
    }
}

fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = text.get(i + 2..i + 4).ok_or("truncated \\x escape")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad \\x{hex}"))?);
                i += 2;
            }
            other => return Err(format!("unknown escape \\{}", other.map_or('?', |&b| b as char))),
        }
        i += 2;
    }
    Ok(out)
}

/// `@name:N` requests: sizes the TSV should not hold literally.
fn generate(spec: &str) -> Result<Vec<u8>, String> {
    let (name, n) = spec.split_once(':').ok_or("generator needs ':N'")?;
    let n: usize = n.parse().map_err(|_| format!("bad size in {spec}"))?;
    let get = format!("GET / HTTP/1.1\r\n{HOST}\r\n");
    let text = match name {
        // A request line of exactly n bytes (CRLF not counted).
        "long-line" => {
            let pad = n.checked_sub("GET / HTTP/1.1".len()).ok_or("too short")?;
            format!("GET /{} HTTP/1.1\r\n{HOST}\r\n", "a".repeat(pad))
        }
        "long-line-open" => format!("GET /{}", "a".repeat(n)),
        "long-method" => format!("{} / HTTP/1.1\r\n{HOST}\r\n", "A".repeat(n)),
        // A head of at least n bytes made of 1000-byte fields (well under 64 of them).
        "big-head" | "big-head-open" => {
            let mut head = format!("GET / HTTP/1.1\r\n{HOST}");
            let mut i = 0;
            while head.len() < n {
                head.push_str(&format!("X-Pad-{i:02}: {}\r\n", "p".repeat(990)));
                i += 1;
            }
            if name == "big-head" {
                head.push_str("\r\n");
            }
            head
        }
        // One Cookie field whose value is n bytes.
        "cookie" => format!("GET / HTTP/1.1\r\n{HOST}Cookie: c={}\r\n\r\n", "v".repeat(n.saturating_sub(2))),
        // n header fields in all, Host included.
        "many-headers" => {
            let fields: String = (1..n).map(|i| format!("X-H{i}: v\r\n")).collect();
            format!("GET / HTTP/1.1\r\n{HOST}{fields}\r\n")
        }
        // A head of exactly n bytes, final CRLF CRLF included.
        "head-size" => {
            let fixed = format!("GET / HTTP/1.1\r\n{HOST}Cookie: c=\r\n\r\n").len();
            let pad = n.checked_sub(fixed).ok_or("too short")?;
            format!("GET / HTTP/1.1\r\n{HOST}Cookie: c={}\r\n\r\n", "v".repeat(pad))
        }
        "blank-lines" => format!("{}{get}", "\r\n".repeat(n)),
        "pipeline" => get.repeat(n),
        "pipeline-bodies" => format!("POST / HTTP/1.1\r\n{HOST}Content-Length: 5\r\n\r\nhello").repeat(n),
        // A POST with an n-byte body, then a pipelined GET.
        "body" => format!("POST / HTTP/1.1\r\n{HOST}Content-Length: {n}\r\n\r\n{}{get}", "b".repeat(n)),
        _ => return Err(format!("unknown generator @{name}")),
    };
    Ok(text.into_bytes())
}

fn parse_expect(text: &str) -> Result<(u16, Count), String> {
    let (status, suffix) = match text.split_once('+') {
        Some((s, rest)) => (s, Some(rest)),
        None => (text, None),
    };
    let status: u16 = status.parse().map_err(|_| format!("bad status {status:?}"))?;
    if !KNOWN.contains(&status) {
        return Err(format!("status {status} is not one the corpus may expect"));
    }
    let count = match suffix {
        None => Count::Any,
        Some("close") => Count::Close,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if n >= 1 => Count::Exactly(n),
            _ => return Err(format!("bad suffix +{n}")),
        },
    };
    Ok((status, count))
}

fn load() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (index, line) in CORPUS.lines().enumerate() {
        let line_no = index + 1;
        if line.is_empty() || line.starts_with('#') || line.starts_with("id\t") {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 5 || cols.iter().any(|c| c.is_empty()) {
            problems.push(format!("line {line_no}: want 5 non-empty tab-separated columns, got {}", cols.len()));
            continue;
        }
        let (id, request, expect, why, _source) = (cols[0], cols[1], cols[2], cols[3], cols[4]);
        let raw = match request.strip_prefix('@') {
            Some(spec) => generate(spec),
            None => unescape(request),
        };
        let parsed = raw.and_then(|raw| parse_expect(expect).map(|(s, c)| (raw, s, c)));
        let (raw, status, count) = match parsed {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("line {line_no} ({id}): {e}"));
                continue;
            }
        };
        if !ids.insert(id.to_string()) {
            problems.push(format!("line {line_no}: duplicate id {id}"));
        }
        let case = Case {
            line: line_no,
            id: id.to_string(),
            written: request.to_string(),
            raw,
            status,
            count,
            expect: expect.to_string(),
            why: why.to_string(),
        };
        if case.traversal() && status != 400 && status != 404 {
            problems.push(format!("line {line_no} ({id}): a traversal case may only expect 400 or 404"));
        }
        if case.smuggling() && count == Count::Any {
            problems
                .push(format!("line {line_no} ({id}): a smuggling case must say how many responses (+N or +close)"));
        }
        if CLOSING.contains(&status) && count == Count::Any {
            problems.push(format!("line {line_no} ({id}): {status} closes: write +close (or +N)"));
        }
        cases.push(case);
    }
    assert!(problems.is_empty(), "tests/data/requests.tsv is malformed:\n{}", problems.join("\n"));
    cases
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// Kills the server when the test ends, also when it panics.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn slow_runner() -> bool {
    std::env::var("MOTE_RUNNER").is_ok_and(|r| !r.trim().is_empty())
}

fn start() -> Server {
    let bin = std::env::var("MOTE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mote").to_string());
    let runner = std::env::var("MOTE_RUNNER").unwrap_or_default();
    let mut prefix = runner.split_whitespace();
    let mut cmd = match prefix.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(prefix).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    cmd.args(["--listen", "127.0.0.1:0", "--header-timeout", "2"]);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    // Reads stderr for the whole run so the pipe never fills.
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.trim().strip_prefix("listening on http://") {
                let _ = tx.send(Ok(addr.to_string()));
            } else {
                let _ = tx.send(Err(line));
            }
        }
    });
    let mut server = Server { child, addr: "0.0.0.0:0".parse().unwrap() };
    let deadline = Instant::now() + Duration::from_secs(if slow_runner() { 60 } else { 20 });
    let mut said = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(addr)) => {
                server.addr = addr.parse().unwrap_or_else(|e| panic!("bad address {addr:?}: {e}"));
                return server;
            }
            Ok(Err(line)) => said.push(line),
            Err(_) => panic!("mote printed no 'listening on' line; stderr: {said:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// One exchange
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Response {
    status: u16,
    close: bool,
}

#[derive(Debug, PartialEq)]
enum Closed {
    No,
    Eof,
    Reset,
}

/// Splits `buf` into whole responses; returns them and how many bytes they took.
fn parse_responses(buf: &[u8], head_only: bool) -> Result<(Vec<Response>, usize), String> {
    let mut responses = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let rest = &buf[at..];
        let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
            if rest.len() > 65536 {
                return Err("a response head without end".into());
            }
            break;
        };
        let head = std::str::from_utf8(&rest[..end]).map_err(|_| "response head is not UTF-8".to_string())?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("bad status line {status_line:?} at byte {at}"))?;
        let mut length = None;
        let mut close = false;
        for field in lines {
            let (name, value) = field.split_once(':').ok_or_else(|| format!("bad response field {field:?}"))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| format!("bad Content-Length {value:?}"))?);
            } else if name.eq_ignore_ascii_case("connection") {
                close |= value.split(',').any(|o| o.trim().eq_ignore_ascii_case("close"));
            }
        }
        let bodiless = head_only || status == 204 || status == 304;
        let body =
            if bodiless { 0 } else { length.ok_or_else(|| format!("{status} response without Content-Length"))? };
        if rest.len() < end + 4 + body {
            break;
        }
        at += end + 4 + body;
        responses.push(Response { status, close });
    }
    Ok((responses, at))
}

struct Outcome {
    responses: Vec<Response>,
    /// Bytes after the last whole response.
    trailing: Vec<u8>,
    closed: Closed,
    problem: Option<String>,
    took: Duration,
}

fn exchange(addr: SocketAddr, case: &Case) -> Outcome {
    let slow = slow_runner();
    let quiet = Duration::from_millis(if slow { 3000 } else { 800 });
    let limit = Duration::from_secs(if slow { 30 } else { 6 });
    let started = Instant::now();
    let failed = |problem: String| Outcome {
        responses: Vec::new(),
        trailing: Vec::new(),
        closed: Closed::No,
        problem: Some(problem),
        took: started.elapsed(),
    };
    let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(s) => s,
        Err(e) => return failed(format!("connect: {e}")),
    };
    // The server may close before it has read everything (that is the point
    // of some rows): a failed write is not a failure, the reply is.
    let _ = stream.set_write_timeout(Some(limit));
    let write_error = stream.write_all(&case.raw).err();
    let head_only = case.head_only();
    let mut buf = Vec::new();
    let mut closed = Closed::No;
    let mut last_data = Instant::now();
    let mut chunk = [0u8; 16384];
    let mut problem = None;
    loop {
        let now = Instant::now();
        let deadline = started + limit;
        if now >= deadline {
            break;
        }
        let _ = stream.set_read_timeout(Some(quiet.min(deadline - now).max(Duration::from_millis(10))));
        match stream.read(&mut chunk) {
            Ok(0) => {
                closed = Closed::Eof;
                break;
            }
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                last_data = Instant::now();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // Quiet: stop if everything that came is whole responses and
                // nothing says the server is about to close.
                match parse_responses(&buf, head_only) {
                    Ok((responses, used)) if used == buf.len() && !responses.is_empty() => {
                        let closing = case.count == Count::Close
                            || responses.iter().any(|r| r.close || CLOSING.contains(&r.status));
                        if !closing && last_data.elapsed() >= quiet {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
                closed = Closed::Reset;
                break;
            }
            Err(e) => {
                problem = Some(format!("read: {e}"));
                break;
            }
        }
    }
    let took = started.elapsed();
    match parse_responses(&buf, head_only) {
        Ok((responses, used)) => {
            if problem.is_none() && responses.is_empty() {
                if let Some(e) = write_error {
                    problem = Some(format!("write: {e}"));
                }
            }
            Outcome { responses, trailing: buf[used..].to_vec(), closed, problem, took }
        }
        Err(e) => Outcome { responses: Vec::new(), trailing: buf, closed, problem: Some(problem.unwrap_or(e)), took },
    }
}

/// Everything wrong with one row's outcome.
fn check(case: &Case, out: &Outcome) -> Vec<String> {
    let mut wrong = Vec::new();
    if let Some(p) = &out.problem {
        wrong.push(p.clone());
    }
    let rs = &out.responses;
    match rs.first() {
        None => wrong.push("no response".into()),
        Some(first) if first.status != case.status => {
            wrong.push(format!("first status {} (want {})", first.status, case.status))
        }
        Some(_) => {}
    }
    if !out.trailing.is_empty() {
        wrong.push(format!(
            "{} bytes that are not a whole response: {:?}",
            out.trailing.len(),
            show(&out.trailing, 80)
        ));
    }
    match case.count {
        Count::Any => {}
        Count::Close => {
            if rs.len() != 1 {
                wrong.push(format!("{} responses (want exactly 1, then close)", rs.len()));
            }
            if out.closed == Closed::No {
                wrong.push("connection not closed".into());
            }
        }
        Count::Exactly(n) => {
            if rs.len() != n {
                wrong.push(format!("{} responses (want exactly {n})", rs.len()));
            }
        }
    }
    // Closing statuses close, say so, and nothing follows them.
    for (i, r) in rs.iter().enumerate() {
        let must_close = CLOSING.contains(&r.status);
        if must_close && !r.close {
            wrong.push(format!("response {} ({}) lacks Connection: close", i + 1, r.status));
        }
        if (must_close || r.close) && i + 1 < rs.len() {
            wrong.push(format!("response {} ({}) closes but {} more followed", i + 1, r.status, rs.len() - i - 1));
        }
        if (must_close || r.close) && out.closed == Closed::No {
            wrong.push(format!("response {} ({}) closes but the connection stayed open", i + 1, r.status));
        }
    }
    if case.traversal() {
        for r in rs.iter().filter(|r| matches!(r.status, 200 | 206 | 304)) {
            wrong.push(format!("traversal attempt served: {}", r.status));
        }
    }
    wrong.dedup();
    wrong
}

fn show(bytes: &[u8], max: usize) -> String {
    let mut s = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        s.push_str(&format!("...({} bytes)", bytes.len()));
    }
    s
}

fn describe(out: &Outcome) -> String {
    let statuses: Vec<String> =
        out.responses.iter().map(|r| format!("{}{}", r.status, if r.close { "(close)" } else { "" })).collect();
    let closed = match out.closed {
        Closed::No => "left open",
        Closed::Eof => "closed",
        Closed::Reset => "reset",
    };
    format!("[{}], {closed}, {:.1}s", statuses.join(", "), out.took.as_secs_f64())
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

#[test]
fn corpus() -> io::Result<()> {
    let cases = Arc::new(load());
    assert!(cases.len() >= 140, "the corpus has only {} rows", cases.len());
    let server = start();
    let addr = server.addr;
    let queue = Arc::new(Mutex::new((0..cases.len()).collect::<VecDeque<usize>>()));
    let results = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let workers: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let (cases, queue, results) = (cases.clone(), queue.clone(), results.clone());
            thread::spawn(move || loop {
                let Some(index) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let case = &cases[index];
                let out = exchange(addr, case);
                let wrong = check(case, &out);
                results.lock().unwrap().push((index, out, wrong));
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a corpus worker panicked");
    }
    let mut results = std::mem::take(&mut *results.lock().unwrap());
    results.sort_by_key(|(index, ..)| *index);
    // The server must have survived all of it.
    let alive = {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(format!("GET / HTTP/1.1\r\n{HOST}Connection: close\r\n\r\n").as_bytes())?;
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got.starts_with(b"HTTP/1.1 200 ")
    };
    drop(server);

    let mut failures = Vec::new();
    for (index, out, wrong) in &results {
        if wrong.is_empty() {
            continue;
        }
        let case = &cases[*index];
        failures.push(format!(
            "- {} (line {}): request {}\n    expected {} ({})\n    got {}: {}",
            case.id,
            case.line,
            if case.written.starts_with('@') { case.written.clone() } else { show(&case.raw, 160) },
            case.expect,
            case.why,
            describe(out),
            wrong.join("; "),
        ));
    }
    let passed = results.len() - failures.len();
    println!(
        "corpus: {passed} passed, {} failed ({} rows, {:.1}s)",
        failures.len(),
        results.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(alive, "mote stopped answering after the corpus");
    assert!(
        failures.is_empty(),
        "corpus: {} of {} rows failed:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
    Ok(())
}
