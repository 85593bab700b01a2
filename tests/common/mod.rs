//! Shared harness for mote's integration tests: start the real binary on
//! `127.0.0.1:0`, talk raw bytes over real sockets, parse exactly one response
//! at a time, and build throw-away `--root` sites.
//!
//! Responses are read byte by byte up to the end of the head and then exactly
//! `Content-Length` bytes, so nothing that belongs to a following (pipelined or
//! smuggled) response is ever swallowed: counting responses is counting truth.
#![allow(dead_code)]

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server may take to print its `listening on` line (qemu is slow).
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Read/write timeout of every test socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The one `Allow` value the spec allows.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

// ---------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------

/// Path of the binary under test: `MOTE_BIN`, else the one cargo built.
pub fn bin() -> String {
    std::env::var("MOTE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mote").to_string())
}

/// A `Command` for mote with `args`, prefixed by `MOTE_RUNNER` when set
/// (e.g. `qemu-arm -cpu arm1176`).
pub fn command(args: &[&str]) -> Command {
    let runner = std::env::var("MOTE_RUNNER").unwrap_or_default();
    let mut prefix = runner.split_whitespace();
    let mut cmd = match prefix.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(prefix);
            c.arg(bin());
            c
        }
        None => Command::new(bin()),
    };
    cmd.args(args);
    cmd
}

/// Runs mote to completion (for flags that exit: --help, bad values, ...),
/// killing it if it is still running after `START_TIMEOUT`.
pub fn run_to_exit(args: &[&str]) -> (ExitStatus, String, String) {
    output_within(command(args), START_TIMEOUT)
}

/// Runs `cmd` to completion with its stdout and stderr captured; kills it
/// and panics if it is still running after `limit`.
pub fn output_within(mut cmd: Command, limit: Duration) -> (ExitStatus, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = wait_with_timeout(&mut child, limit).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} did not exit within {limit:?}");
    });
    let out = String::from_utf8_lossy(&out_t.join().unwrap()).into_owned();
    let err = String::from_utf8_lossy(&err_t.join().unwrap()).into_owned();
    (status, out, err)
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A running mote. Killed (by PID, through `Child::kill`) on drop.
pub struct Server {
    child: Option<Child>,
    addrs: Vec<SocketAddr>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts mote with `args`, adding `--listen 127.0.0.1:0` unless the caller
    /// passed `--listen`, and waits for one `listening on http://ADDR` line per
    /// listener.
    pub fn start(args: &[&str]) -> Server {
        let mut all: Vec<&str> = Vec::new();
        let listeners = args.iter().filter(|a| **a == "--listen").count();
        if listeners == 0 {
            all.extend(["--listen", "127.0.0.1:0"]);
        }
        all.extend_from_slice(args);
        let expected = listeners.max(1);

        Server::spawn_and_wait(command(&all), expected, format!("mote {all:?}"))
    }

    /// Spawns `cmd` and waits for `expected` `listening on` lines, keeping
    /// stderr drained (and recorded) for the life of the server.
    fn spawn_and_wait(mut cmd: Command, expected: usize, what: String) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {what}: {e}"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line).into_owned();
                        sink.lock().unwrap().push_str(&text);
                        // The receiver goes away after start-up; keep draining.
                        let _ = tx.send(text);
                    }
                }
            }
        });

        let deadline = Instant::now() + START_TIMEOUT;
        let mut addrs = Vec::new();
        let mut server = Server { child: Some(child), addrs: Vec::new(), stderr };
        while addrs.len() < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = parse_listening(&line) {
                        addrs.push(addr);
                    }
                }
                Err(_) => {
                    let status = server.child.as_mut().unwrap().try_wait().ok().flatten();
                    panic!(
                        "{what} did not print {expected} `listening on` line(s) \
                         (exit: {status:?}); stderr so far:\n{}",
                        server.stderr()
                    );
                }
            }
        }
        server.addrs = addrs;
        server
    }

    /// The first listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Everything the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal by name (`TERM`, `INT`, `HUP`) with the `kill` utility.
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{name} {} failed", self.pid());
    }

    /// Waits up to `timeout` for the server to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_with_timeout(self.child.as_mut().unwrap(), timeout)
    }

    /// One-shot request to the first listener.
    pub fn request(&self, raw: impl AsRef<[u8]>) -> Response {
        request(self.addr(), raw)
    }

    /// `GET path` with a Host header, on a fresh connection.
    pub fn get(&self, path: &str) -> Response {
        request(self.addr(), get(path))
    }

    pub fn connect(&self) -> TcpStream {
        connect(self.addr())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let addr = rest.split_whitespace().next()?.trim_end_matches('/');
    addr.parse().ok()
}

// ---------------------------------------------------------------------------
// Sockets and requests
// ---------------------------------------------------------------------------

/// A connection with 5 s read and write timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Writes all of `bytes`; panics on error.
pub fn send_raw(stream: &mut TcpStream, bytes: impl AsRef<[u8]>) {
    stream.write_all(bytes.as_ref()).expect("write request");
    stream.flush().unwrap();
}

/// Writes `bytes`, ignoring errors: for requests the server may reject (and
/// close on) before it has read them whole.
pub fn send_lenient(stream: &mut TcpStream, bytes: impl AsRef<[u8]>) {
    let _ = stream.write_all(bytes.as_ref());
    let _ = stream.flush();
}

/// `GET path HTTP/1.1` with a Host header.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// `METHOD path HTTP/1.1`, Host, then each of `headers` (`"Name: value"`).
pub fn req(method: &str, path: &str, headers: &[&str]) -> String {
    let mut s = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s
}

/// A final request that asks the server to close, used to end a keep-alive
/// exchange so the whole byte stream can be read to EOF and counted.
pub fn closing_get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
}

/// Sends `raw` on a fresh connection and reads one response (body-less when
/// `raw` is a HEAD request).
pub fn request(addr: SocketAddr, raw: impl AsRef<[u8]>) -> Response {
    let raw = raw.as_ref();
    let mut s = connect(addr);
    send_raw(&mut s, raw);
    read_response(&mut s, raw.starts_with(b"HEAD "))
}

/// Sends `raw` on a fresh connection, reads until the server closes, and
/// parses every response in the stream (none may be to HEAD).
pub fn exchange(addr: SocketAddr, raw: impl AsRef<[u8]>) -> Vec<Response> {
    let mut s = connect(addr);
    send_lenient(&mut s, raw);
    parse_all(&read_to_close(&mut s))
}

/// Reads all bytes until EOF. Panics if the server keeps the connection open
/// past the read timeout. A reset counts as the end.
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    match read_until_close(stream, IO_TIMEOUT) {
        Ok(bytes) => bytes,
        Err(bytes) => panic!(
            "server did not close the connection within {IO_TIMEOUT:?}; received so far:\n{}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}

/// Reads until EOF within `limit`: `Ok(bytes)` if the server closed,
/// `Err(bytes)` if it was still open when time ran out.
pub fn read_until_close(stream: &mut TcpStream, limit: Duration) -> Result<Vec<u8>, Vec<u8>> {
    let deadline = Instant::now() + limit;
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(all);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Err(all),
            Err(_) => break, // reset / aborted: the server is gone
        }
    }
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    Ok(all)
}

/// Asserts the server closes `stream` without sending anything more.
pub fn assert_closed_silently(stream: &mut TcpStream) {
    let rest = read_to_close(stream);
    assert!(
        rest.is_empty(),
        "expected the server to close with nothing more; got {} bytes:\n{}",
        rest.len(),
        String::from_utf8_lossy(&rest)
    );
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Response {
    /// e.g. `HTTP/1.1`
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The head as received, for failure messages.
    pub raw_head: String,
}

impl Response {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All values of header `name`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The header's value; panics with the whole head if absent.
    pub fn must(&self, name: &str) -> &str {
        self.header(name).unwrap_or_else(|| panic!("response lacks `{name}`:\n{}", self.raw_head))
    }

    /// Does `Connection` carry the token `token` (case-insensitive)?
    pub fn connection_has(&self, token: &str) -> bool {
        self.header_all("connection").iter().flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status, showing the head on failure.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status; head:\n{}", self.raw_head);
        self
    }

    /// Asserts header `name` equals `value` exactly.
    #[track_caller]
    pub fn assert_header(&self, name: &str, value: &str) -> &Self {
        assert_eq!(self.header(name), Some(value), "header `{name}`; head:\n{}", self.raw_head);
        self
    }

    #[track_caller]
    pub fn assert_no_header(&self, name: &str) -> &Self {
        assert!(self.header(name).is_none(), "header `{name}` must be absent; head:\n{}", self.raw_head);
        self
    }
}

/// Reads exactly one response from `stream` (body-less if `head_request`);
/// panics with what arrived if the stream ends or times out first.
pub fn read_response(stream: &mut impl Read, head_request: bool) -> Response {
    match try_read_response(stream, head_request) {
        Ok(Some(r)) => r,
        Ok(None) => panic!("connection closed before a response arrived"),
        Err(e) => panic!("{e}"),
    }
}

/// Reads one response. `Ok(None)` on a clean EOF before its first byte.
pub fn try_read_response(stream: &mut impl Read, head_request: bool) -> Result<Option<Response>, String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) if head.is_empty() => return Ok(None),
            Ok(0) => return Err(format!("EOF inside a response head:\n{}", String::from_utf8_lossy(&head))),
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if head.is_empty() && e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
            Err(e) => {
                return Err(format!("reading response head: {e}; got so far:\n{}", String::from_utf8_lossy(&head)))
            }
        }
        if head.len() > 64 * 1024 {
            return Err("response head over 64 KiB".into());
        }
    }
    let raw_head = String::from_utf8(head.clone()).map_err(|_| format!("response head is not UTF-8: {head:?}"))?;
    let body_start = raw_head.len() - 4;
    let mut lines = raw_head[..body_start].split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let status: u16 = parts
        .next()
        .and_then(|s| (s.len() == 3).then_some(s))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?} in:\n{raw_head}"))?;
    let reason = parts.next().unwrap_or_default().to_string();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("bad version in status line {status_line:?}"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(|| format!("bad header line {line:?} in:\n{raw_head}"))?;
        if name.is_empty() || name.contains(|c: char| c.is_whitespace()) || line.contains('\n') {
            return Err(format!("bad header line {line:?} in:\n{raw_head}"));
        }
        headers.push((name.to_string(), value.trim_matches([' ', '\t']).to_string()));
    }
    let mut resp = Response { version, status, reason, headers, body: Vec::new(), raw_head };
    let bodyless = head_request || resp.status == 204 || resp.status == 304 || resp.status < 200;
    if !bodyless {
        let lens = resp.header_all("content-length");
        if lens.len() != 1 {
            return Err(format!("expected exactly one Content-Length (mote always sends one):\n{}", resp.raw_head));
        }
        let len: usize = lens[0].parse().map_err(|_| format!("bad Content-Length in:\n{}", resp.raw_head))?;
        let mut body = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match stream.read(&mut body[got..]) {
                Ok(0) => return Err(format!("EOF after {got} of {len} body bytes; head:\n{}", resp.raw_head)),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading body ({got} of {len}): {e}; head:\n{}", resp.raw_head)),
            }
        }
        resp.body = body;
    }
    Ok(Some(resp))
}

/// Parses every response in `bytes` (none may answer a HEAD). Panics on
/// trailing garbage.
pub fn parse_all(bytes: &[u8]) -> Vec<Response> {
    let mut cursor = bytes;
    let mut out = Vec::new();
    loop {
        match try_read_response(&mut cursor, false) {
            Ok(Some(r)) => out.push(r),
            Ok(None) => return out,
            Err(e) => panic!(
                "after {} complete response(s): {e}\nfull stream:\n{}",
                out.len(),
                String::from_utf8_lossy(bytes)
            ),
        }
    }
}

/// Statuses of `responses`, for compact assertions.
pub fn statuses(responses: &[Response]) -> Vec<u16> {
    responses.iter().map(|r| r.status).collect()
}

// ---------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats Unix seconds as an IMF-fixdate (RFC 9110 §5.6.7).
pub fn imf_fixdate(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Strictly parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), checking
/// the day name too. `None` if it is any other shape.
pub fn parse_imf_fixdate(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 29 || &s[3..5] != ", " || &s[25..] != " GMT" {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = &s[r];
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let d = num(5..7)?;
    let m = MONTHS.iter().position(|x| *x == &s[8..11])? as i64 + 1;
    let y = num(12..16)?;
    let (hh, mm, ss) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    if !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if DAYS[days.rem_euclid(7) as usize] != &s[..3] {
        return None;
    }
    Some((days * 86400 + hh * 3600 + mm * 60 + ss) as u64)
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Asserts `Date` is an IMF-fixdate within a minute of now.
#[track_caller]
pub fn assert_date_now(r: &Response) {
    let date = r.must("date");
    let secs =
        parse_imf_fixdate(date).unwrap_or_else(|| panic!("Date {date:?} is not an IMF-fixdate; head:\n{}", r.raw_head));
    let now = now_secs();
    assert!(secs.abs_diff(now) <= 60, "Date {date:?} is {secs}, now is {now}");
}

/// Asserts an ETag is strong and `"<16 hex digits>"`.
#[track_caller]
pub fn assert_etag_format(etag: &str) {
    let b = etag.as_bytes();
    assert!(
        b.len() == 18 && b[0] == b'"' && b[17] == b'"' && b[1..17].iter().all(|c| c.is_ascii_hexdigit()),
        "ETag {etag:?} is not a strong \"<16 hex>\""
    );
}

// ---------------------------------------------------------------------------
// Sites on disk
// ---------------------------------------------------------------------------

/// Modification time given to every file a `TempDir` writes: 2001-09-09.
pub const FIXED_MTIME: u64 = 1_000_000_000;
/// `FIXED_MTIME` as an IMF-fixdate.
pub const FIXED_LM: &str = "Sun, 09 Sep 2001 01:46:40 GMT";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "mote-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `rel` (creating parents) with mtime `FIXED_MTIME`.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, contents).unwrap();
        let f = fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_secs(FIXED_MTIME)).unwrap();
        p
    }

    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.path.join(rel);
        fs::create_dir_all(&p).unwrap();
        p
    }

    /// Creates symlink `rel` pointing at `target` (taken literally).
    pub fn symlink(&self, target: impl AsRef<Path>, rel: &str) {
        let p = self.path.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A `--root` site inside a temp dir: the root is `<base>/root`, and files
/// written with `outside` live beside it, where no request may reach.
pub struct Site {
    pub base: TempDir,
}

pub const INDEX_HTML: &str = "<!doctype html><title>root</title>ROOT-INDEX\n";
pub const STYLE_CSS: &str = "body{color:#123}\n";
pub const LETTERS: &str = "abcdefghijklmnopqrstuvwxyz";
pub const SECRET: &str = "TOP-SECRET-BESIDE-THE-ROOT\n";

impl Site {
    pub fn empty() -> Site {
        let base = TempDir::new("site");
        base.mkdir("root");
        Site { base }
    }

    /// The site most tests use; every file has mtime `FIXED_MTIME`.
    pub fn standard() -> Site {
        let s = Site::empty();
        s.write("index.html", INDEX_HTML);
        s.write("style.css", STYLE_CSS);
        s.write("app.js", "console.log(1);\n");
        s.write("data.json", "{\"a\":1}\n");
        s.write("img.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        s.write("icon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n");
        s.write("notes.txt", "plain notes\n");
        s.write("blob.xyz", b"\x00\x01\x02unknown");
        s.write("letters.txt", LETTERS);
        s.write("a/b/c.txt", "C-TXT\n");
        s.write("docs/index.html", "DOCS-INDEX\n");
        s.write("docs/page.html", "DOCS-PAGE\n");
        s.write("docs/sub/index.html", "DOCS-SUB\n");
        s.write("empty/other.txt", "not an index\n");
        s.write(".hidden", "HIDDEN\n");
        s.write(".git/config", "[core]\n");
        s.write(".well-known/security.txt", "Contact: x\n");
        s.write("a/.secret/x.txt", "DOT-DIR\n");
        s.outside("secret.txt", SECRET);
        s.outside("outside/file.txt", SECRET);
        s.base.symlink("style.css", "root/link-inside.css");
        s.base.symlink("../secret.txt", "root/link-secret.txt");
        s.base.symlink(s.base.path().join("secret.txt"), "root/abs-secret.txt");
        s.base.symlink("../outside", "root/outdir");
        s
    }

    pub fn root(&self) -> PathBuf {
        self.base.path().join("root")
    }

    pub fn root_str(&self) -> String {
        self.root().to_str().unwrap().to_string()
    }

    /// Writes a file under the root.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        self.base.write(&format!("root/{rel}"), contents)
    }

    /// Writes a file beside the root (never servable).
    pub fn outside(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        self.base.write(rel, contents)
    }

    /// Starts a server on this site with extra flags.
    pub fn serve(&self, extra: &[&str]) -> Server {
        let root = self.root_str();
        let mut args = vec!["--root", root.as_str()];
        args.extend_from_slice(extra);
        Server::start(&args)
    }
}

/// `n` deterministic pseudo-random bytes (xorshift), so a misplaced chunk of a
/// large body cannot go unnoticed.
pub fn large_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// Asserts two byte strings are equal without dumping megabytes on failure.
#[track_caller]
pub fn assert_bytes_eq(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        panic!("{what}: got {} bytes, want {}; first difference at {:?}", got.len(), want.len(), first);
    }
}

/// Whether a missing external tool may skip a test instead of failing it.
pub fn tool_missing(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if found {
        return false;
    }
    if std::env::var_os("MOTE_ALLOW_MISSING_TOOLS").is_some() {
        eprintln!("SKIPPED: `{tool}` is not installed (MOTE_ALLOW_MISSING_TOOLS is set)");
        return true;
    }
    panic!("`{tool}` is required by this test; install it or set MOTE_ALLOW_MISSING_TOOLS=1");
}

/// All response heads, for failure messages.
pub fn heads(responses: &[Response]) -> String {
    responses.iter().map(|r| r.raw_head.as_str()).collect::<Vec<_>>().join("---\n")
}

// ---------------------------------------------------------------------------
// Site-feature helpers (precompressed variants, faketime, ...)
// ---------------------------------------------------------------------------

impl Server {
    /// Like `start`, but runs `prefix... mote --listen 127.0.0.1:0 args...`
    /// with `env` added: for wrappers such as `faketime` (which need the
    /// binary itself, so `MOTE_RUNNER` is not applied here).
    pub fn start_with_prefix(prefix: &[&str], env: &[(&str, &str)], args: &[&str]) -> Server {
        let mut all: Vec<String> = Vec::new();
        let listeners = args.iter().filter(|a| **a == "--listen").count();
        if listeners == 0 {
            all.extend(["--listen".to_string(), "127.0.0.1:0".to_string()]);
        }
        all.extend(args.iter().map(|a| a.to_string()));
        let expected = listeners.max(1);
        let mut cmd = match prefix.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest);
                c.arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        cmd.args(&all);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let what = format!("{prefix:?} mote {all:?}");
        Server::spawn_and_wait(cmd, expected, what)
    }
}

/// Runs `python3 -c script` with `input` on stdin and returns its stdout;
/// panics with its stderr on failure.
pub fn python3(script: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 is required by this test: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("python3 output");
    writer.join().unwrap();
    assert!(out.status.success(), "python3 failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `data` gzipped at level 9 with no name and mtime 0 (like `gzip -9 -n`),
/// by python3's standard gzip module.
pub fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    python3("import gzip,sys; sys.stdout.buffer.write(gzip.compress(sys.stdin.buffer.read(), 9, mtime=0))", data)
}

/// Decompresses gzip `data` with python3's standard gzip module.
pub fn gunzip_bytes(data: &[u8]) -> Vec<u8> {
    python3("import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))", data)
}

/// Real brotli of `data` when python3's `brotli` module or the `brotli`
/// command is available; `None` otherwise (mote never decodes a `.br`, it
/// serves the bytes on disk, so callers may then use any bytes).
pub fn brotli_bytes(data: &[u8]) -> Option<Vec<u8>> {
    let module = Command::new("python3")
        .args(["-c", "import brotli"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if module {
        return Some(python3(
            "import brotli,sys; sys.stdout.buffer.write(brotli.compress(sys.stdin.buffer.read(), quality=11))",
            data,
        ));
    }
    let mut child = Command::new("brotli")
        .args(["-c", "-q", "11", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().ok()?;
    writer.join().unwrap();
    out.status.success().then_some(out.stdout)
}

/// The repository's directory (where Cargo.toml is).
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------
// Hardening helpers (issue 8): the server process as seen from /proc, limits
// set by a shell before mote starts, and socket options std does not offer.
// ---------------------------------------------------------------------------

impl Server {
    /// Starts mote through `sh -c '<shell>; exec "$@"'` (e.g. `ulimit -n 64`),
    /// with `MOTE_RUNNER` applied after the shell, so the PID is mote's (or
    /// its runner's) once the shell has exec'd.
    pub fn start_under_shell(shell: &str, args: &[&str]) -> Server {
        let script = format!("{shell}; exec \"$@\"");
        let runner = std::env::var("MOTE_RUNNER").unwrap_or_default();
        let mut prefix: Vec<&str> = vec!["sh", "-c", &script, "sh"];
        prefix.extend(runner.split_whitespace());
        Server::start_with_prefix(&prefix, &[], args)
    }

    /// Whether the process is still running (it has not exited or crashed).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

/// A `kB` field of /proc/PID/status (`VmRSS`, `VmHWM`, ...), in bytes.
pub fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kib: u64 = line[field.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// Resident set size of `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    proc_status_bytes(pid, "VmRSS").unwrap_or_else(|| panic!("no VmRSS for pid {pid}"))
}

/// utime + stime of `pid` in clock ticks (/proc/PID/stat fields 14 and 15).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    // The command name (field 2) may contain spaces: count from its `)`.
    let rest = &stat[stat.rfind(')').expect("stat has a comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field N is fields[N - 3].
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 if that fails).
pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// How many descriptors `pid` has open.
pub fn open_fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Percentile `p` (0..=100) of `samples` (sorted in place).
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    assert!(!samples.is_empty(), "no samples");
    samples.sort();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

mod ffi {
    use std::os::raw::{c_int, c_ulong, c_void};

    #[repr(C)]
    pub struct Linger {
        pub l_onoff: c_int,
        pub l_linger: c_int,
    }

    #[repr(C)]
    pub struct Rlimit {
        pub rlim_cur: c_ulong,
        pub rlim_max: c_ulong,
    }

    // The C library is linked into every std program on Linux already.
    extern "C" {
        pub fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int;
        pub fn getrlimit(resource: c_int, limit: *mut Rlimit) -> c_int;
        pub fn setrlimit(resource: c_int, limit: *const Rlimit) -> c_int;
    }

    pub const SOL_SOCKET: c_int = 1;
    pub const SO_LINGER: c_int = 13;
    pub const RLIMIT_NOFILE: c_int = 7;
}

/// SO_LINGER {on, 0}: closing the socket then sends a reset, not a FIN.
pub fn set_linger_zero(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = ffi::Linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a live descriptor and a pointer to a `struct linger` of the size given.
    let rc = unsafe {
        ffi::setsockopt(
            stream.as_raw_fd(),
            ffi::SOL_SOCKET,
            ffi::SO_LINGER,
            (&linger as *const ffi::Linger).cast(),
            std::mem::size_of::<ffi::Linger>() as u32,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER): {}", io::Error::last_os_error());
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit (children
/// inherit it); returns (soft, hard) afterwards.
#[allow(clippy::unnecessary_cast)] // rlim_t is 32 bits on some targets
pub fn raise_nofile_limit() -> (u64, u64) {
    let mut limit = ffi::Rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write a plain struct we own.
    unsafe {
        assert_eq!(ffi::getrlimit(ffi::RLIMIT_NOFILE, &mut limit), 0, "getrlimit");
        if limit.rlim_cur < limit.rlim_max {
            let raised = ffi::Rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if ffi::setrlimit(ffi::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = raised.rlim_cur;
            }
        }
    }
    (limit.rlim_cur as u64, limit.rlim_max as u64)
}

/// The value of `name` on a `--status` page.
pub fn counter(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": ")?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{page}"))
}

/// strace attached to a running server, for tests about which system calls it makes.
pub struct Strace {
    child: Child,
}

impl Strace {
    /// Attaches to every thread of `pid`, tracing the comma-separated `calls`
    /// into `out`; returns once strace says it is attached.
    pub fn attach(pid: u32, calls: &str, out: &Path) -> Strace {
        let mut child = Command::new("strace")
            .args(["-f", "-e", &format!("trace={calls}"), "-o"])
            .arg(out)
            .args(["-p", &pid.to_string()])
            .stderr(Stdio::piped())
            .spawn()
            .expect("strace (make test installs it)");
        let mut stderr = child.stderr.take().unwrap();
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&seen).contains("attached") {
            match stderr.read(&mut byte) {
                Ok(1) => seen.push(byte[0]),
                _ => panic!("strace did not attach: {}", String::from_utf8_lossy(&seen)),
            }
        }
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        std::thread::sleep(Duration::from_millis(100)); // the other threads
        Strace { child }
    }

    /// Detaches and returns the traced calls, without strace's PID prefix.
    pub fn finish(&mut self, out: &Path) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(100));
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let text = std::fs::read_to_string(out).unwrap();
        text.lines().map(|l| l.split_once(' ').map_or(l, |(_, call)| call).trim_start().to_string()).collect()
    }
}

impl Drop for Strace {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
