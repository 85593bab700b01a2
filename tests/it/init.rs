//! mote under a real busybox init as PID 1.
//!
//! # How the namespace is built (what works, and why)
//!
//! ```text
//! unshare --pid --fork --mount --mount-proc --kill-child \
//!     /bin/busybox sh -c '<mount the inittab> && exec /bin/busybox init'
//! ```
//!
//! * `--pid --fork`: the forked child is PID 1 of a new PID namespace, so
//!   busybox init accepts to run (it refuses unless `getpid() == 1`).
//!   `--mount-proc` gives the namespace its own /proc. The network namespace
//!   is shared, so the test reaches mote on `127.0.0.1:PORT`, and it sees
//!   every process of the namespace in its own /proc under host PIDs
//!   (`NSpid:` in /proc/PID/status gives the PID inside).
//! * `/etc/inittab`: busybox init only reads that path. A bind mount needs
//!   the target to exist, and Debian's busybox package installs no
//!   /etc/inittab (so there is nothing to bind over on most hosts). Instead,
//!   inside the private mount namespace, a tmpfs is mounted on a temp
//!   directory and /etc is covered by an overlay whose upper layer (on that
//!   tmpfs) holds the generated inittab; everything else in /etc (passwd and
//!   group for `--user nobody`, ld.so.cache) shows through from the host.
//!   The upper layer is on tmpfs because overlayfs refuses an upper layer on
//!   overlayfs, which is what / is in many CI containers. Without overlayfs,
//!   the script falls back to bind-mounting over an existing /etc/inittab.
//!   Nothing on the host changes; the mounts vanish with the namespace.
//! * No /dev/console is needed: without `CONSOLE` in its environment busybox
//!   init keeps the stdio it was started with, and children of `::` lines
//!   (no tty field) inherit it. The test points stdout and stderr at a file,
//!   which is then the "console": init's own messages and mote's stderr.
//! * Respawn lines are exec'd directly (no shell) as long as they contain no
//!   shell metacharacter, so the respawned process *is* mote, a child of init.
//!   The mote PID is found by scanning /proc for a child of the namespace's
//!   init whose command line names this test's unique site directory.
//! * Teardown: `--kill-child` makes the kernel SIGKILL the namespace's init
//!   when unshare dies (PR_SET_PDEATHSIG); the test kills unshare (its own
//!   child) and also SIGKILLs the namespace init by its host PID. A PID
//!   namespace dies with its PID 1, taking mote with it; the mount namespace
//!   and its tmpfs/overlay go with the last process.
//!
//! Signals are sent with `busybox kill` (std has no kill(2)). Every wait is
//! bounded: poll every 50 ms, give up after a few seconds (longer under
//! `MOTE_RUNNER`, e.g. qemu). Needs root (namespaces, mounts, `--user`),
//! `/bin/busybox` and `unshare` (util-linux); when one is missing the test
//! fails with a message, or is skipped if `MOTE_ALLOW_MISSING_TOOLS` is set.
//!
//! What it checks, in one namespace, in order: the site is served; mote runs
//! as `nobody` (Uid/Gid/Groups/CapEff in /proc/PID/status); edit + SIGHUP ->
//! new content, same PID; root dir renamed away + SIGHUP -> old content still
//! served and `reload failed` on the console; SIGHUP five times while a load
//! generator runs -> every response is a 200 with one whole version of each
//! file (never a mix, never going back on a connection), 0 errors; SIGUSR1
//! after moving the access log away -> a new file, created as nobody;
//! `kill -9` -> init respawns mote (measured) and it serves; SIGTERM while a
//! load generator runs -> every response that started is complete, mote
//! exits, init respawns it; every access-log line is well-formed combined
//! format. A second test runs mote as a plain child to check that SIGTERM
//! under load exits with status 0 (init does not report exit statuses); a
//! third drives deploy/init.d/S50mote (start, reload, restart, stop, a failed
//! start) with busybox sh.

use crate::common::free_port;
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BUSYBOX: &str = "/bin/busybox";
const POLL: Duration = Duration::from_millis(50);
const STATUS_PATH: &str = "/.mote-status";
const USER_AGENT: &str = "mote-init-test/1 (\"quoted\" \\ agent)";
/// Versions of the site the test writes (v1 at start, then edits).
const VERSIONS: usize = 8;
/// Above mote's default --cache-max (262144), so served with sendfile from
/// a descriptor opened at load time.
const BIG_BASE: usize = 300_000;

// ---------------------------------------------------------------------------
// Small helpers: time limits, waiting, tools
// ---------------------------------------------------------------------------

/// "A few seconds", stretched when mote runs under an emulator.
fn limit(secs: u64) -> Duration {
    let factor = if std::env::var_os("MOTE_RUNNER").is_some_and(|r| !r.is_empty()) { 5 } else { 1 };
    Duration::from_secs(secs * factor)
}

/// Polls `f` every 50 ms until it returns Some, for at most `within`.
fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> Result<T, String> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = f() {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {within:?} waiting for {what}"));
        }
        thread::sleep(POLL);
    }
}

fn bin() -> String {
    std::env::var("MOTE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mote").to_string())
}

/// The runner prefix (`MOTE_RUNNER`, e.g. `qemu-arm -cpu arm1176`) and the binary.
fn mote_argv() -> Vec<String> {
    let mut argv: Vec<String> =
        std::env::var("MOTE_RUNNER").unwrap_or_default().split_whitespace().map(str::to_string).collect();
    argv.push(bin());
    argv
}

fn in_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// Whether the test can run; panics with a clear message when it cannot,
/// unless `MOTE_ALLOW_MISSING_TOOLS` is set (then it says SKIPPED).
fn prerequisites_met() -> bool {
    let mut missing = Vec::new();
    if !Path::new(BUSYBOX).is_file() {
        missing.push(format!("{BUSYBOX} (apt-get install -y busybox)"));
    }
    if !in_path("unshare") {
        missing.push("unshare (apt-get install -y util-linux)".to_string());
    }
    if proc_status_field(std::process::id(), "Uid:").and_then(|uids| uids.split_whitespace().nth(1).map(str::to_string))
        != Some("0".to_string())
    {
        missing.push("root (namespaces, mounts and --user need it)".to_string());
    }
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(", ");
    if std::env::var_os("MOTE_ALLOW_MISSING_TOOLS").is_some() {
        eprintln!("SKIPPED: busybox-init test needs {what} (MOTE_ALLOW_MISSING_TOOLS is set)");
        return false;
    }
    panic!("the busybox-init test needs {what}; install it or set MOTE_ALLOW_MISSING_TOOLS=1 to skip");
}

fn signal(pid: u32, name: &str) {
    let status = Command::new(BUSYBOX)
        .args(["kill", "-s", name, &pid.to_string()])
        .stdin(Stdio::null())
        .status()
        .expect("run busybox kill");
    assert!(status.success(), "busybox kill -s {name} {pid} failed");
}

/// A temporary directory (mode 0755, so `nobody` can read the site), removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let path = std::env::temp_dir().join(format!("mote-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------

fn proc_status_field(pid: u32, field: &str) -> Option<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix(field).map(|rest| rest.trim().to_string()))
}

/// (parent PID, state) from /proc/PID/stat; the command name may hold spaces.
fn proc_stat(pid: u32) -> Option<(u32, char)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

fn alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(_, state)| state != 'Z' && state != 'X')
}

fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| proc_stat(pid).is_some_and(|(ppid, state)| ppid == parent && state != 'Z'))
        .collect()
}

fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline")).map(|b| String::from_utf8_lossy(&b).replace('\0', " ")).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// HTTP: one request at a time on a keep-alive connection
// ---------------------------------------------------------------------------

struct Resp {
    status: u16,
    close: bool,
    body: Vec<u8>,
}

/// How an exchange failed.
enum Fail {
    /// connect() refused: nobody listening (the restart window).
    Refused,
    /// The connection was closed or reset before a single byte of response:
    /// the server closed it (idle keep-alive at stop, or a connection still in
    /// the listen backlog) without having read the request. A client retries.
    Unanswered(String),
    /// Anything else: a response cut short, a timeout, a malformed head.
    Broken(String),
}

struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Result<Conn, Fail> {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(stream) => {
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                stream.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
                let _ = stream.set_nodelay(true);
                Ok(Conn { reader: BufReader::new(stream) })
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Err(Fail::Refused),
            // A handshake that completed into the backlog of a listener which
            // then closed (the stop) is reset before connect() returns: like a
            // refusal, no server ever took the connection, and no request was sent.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Err(Fail::Refused),
            Err(e) => Err(Fail::Broken(format!("connect: {e}"))),
        }
    }

    fn get(&mut self, path: &str) -> Result<Resp, Fail> {
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nUser-Agent: {USER_AGENT}\r\n\r\n");
        if let Err(e) = self.reader.get_mut().write_all(request.as_bytes()) {
            return Err(Fail::Unanswered(format!("write: {e}")));
        }
        let mut head = Vec::new();
        loop {
            let before = head.len();
            match self.reader.read_until(b'\n', &mut head) {
                Ok(0) if head.is_empty() => return Err(Fail::Unanswered("EOF before any byte".into())),
                Err(e)
                    if head.is_empty()
                        && e.kind() != io::ErrorKind::WouldBlock
                        && e.kind() != io::ErrorKind::TimedOut =>
                {
                    return Err(Fail::Unanswered(format!("{e} before any byte")))
                }
                Ok(0) => return Err(Fail::Broken(format!("EOF inside the head after {} bytes", head.len()))),
                Err(e) => return Err(Fail::Broken(format!("{e} inside the head after {} bytes", head.len()))),
                Ok(_) => {}
            }
            if &head[before..] == b"\r\n" || head.len() > 16 * 1024 {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3)?.parse().ok())
            .ok_or_else(|| Fail::Broken(format!("bad status line {status_line:?}")))?;
        let mut length = None;
        let mut close = false;
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"));
                }
            }
        }
        let length = length.ok_or_else(|| Fail::Broken(format!("no Content-Length in {text:?}")))?;
        let mut body = vec![0; length];
        if let Err(e) = self.reader.read_exact(&mut body) {
            return Err(Fail::Broken(format!("body of {length} bytes cut short: {e}")));
        }
        Ok(Resp { status, close, body })
    }
}

/// One request on a fresh connection.
fn get_once(addr: SocketAddr, path: &str) -> Result<Resp, Fail> {
    Conn::open(addr)?.get(path)
}

fn describe(fail: &Fail) -> String {
    match fail {
        Fail::Refused => "connection refused".into(),
        Fail::Unanswered(why) | Fail::Broken(why) => why.clone(),
    }
}

// ---------------------------------------------------------------------------
// The site: VERSIONS versions of two files, one cached, one streamed
// ---------------------------------------------------------------------------

struct Versions {
    index: Vec<Vec<u8>>,
    big: Vec<Vec<u8>>,
}

impl Versions {
    fn new() -> Versions {
        let mut index = Vec::new();
        let mut big = Vec::new();
        for v in 1..=VERSIONS {
            let mut page = format!("<!doctype html><title>site v{v}</title>\n");
            for line in 0..(100 + 7 * v) {
                page.push_str(&format!("<p>index version {v}, line {line}</p>\n"));
            }
            index.push(page.into_bytes());
            let mut blob = Vec::with_capacity(BIG_BASE + 1000 * v + 64);
            let mut line = 0;
            while blob.len() < BIG_BASE + 1000 * v {
                blob.extend_from_slice(format!("big version {v} line {line}\n").as_bytes());
                line += 1;
            }
            blob.truncate(BIG_BASE + 1000 * v);
            big.push(blob);
        }
        Versions { index, big }
    }

    /// The version (1-based) `body` is, whole, for `path`.
    fn which(&self, path: &str, body: &[u8]) -> Option<usize> {
        let all = if path.starts_with("/big.bin") { &self.big } else { &self.index };
        all.iter().position(|v| v.as_slice() == body).map(|i| i + 1)
    }

    /// Replaces both files by rename (as rsync and editors' safe-save do), so a
    /// reload never reads a half-written file; `stage` is on the same file system.
    fn install(&self, v: usize, site: &Path, stage: &Path) {
        for (name, bytes) in [("index.html", &self.index[v - 1]), ("big.bin", &self.big[v - 1])] {
            let tmp = stage.join(name);
            fs::write(&tmp, bytes).unwrap();
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).unwrap();
            fs::rename(&tmp, site.join(name)).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Load generator
// ---------------------------------------------------------------------------

#[derive(Default, Debug)]
struct Load {
    ok: u64,
    refused: u64,
    unanswered: u64,
    errors: u64,
    /// A connection saw an older version after a newer one.
    went_back: u64,
    first_errors: Vec<String>,
    /// Why requests went unanswered (distinct reasons).
    unanswered_why: BTreeSet<String>,
    versions: BTreeSet<usize>,
    elapsed: Duration,
}

impl Load {
    fn add(&mut self, other: Load) {
        self.ok += other.ok;
        self.refused += other.refused;
        self.unanswered += other.unanswered;
        self.errors += other.errors;
        self.went_back += other.went_back;
        self.versions.extend(other.versions);
        self.unanswered_why.extend(other.unanswered_why);
        for e in other.first_errors {
            if self.first_errors.len() < 10 {
                self.first_errors.push(e);
            }
        }
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.first_errors.len() < 10 {
            self.first_errors.push(what);
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} ok in {:?} ({:.0} req/s), {} errors, {} went back, {} refused (nobody listening), \
             {} closed unanswered (retryable) {:?}, versions seen {:?}{}",
            self.ok,
            self.elapsed,
            self.ok as f64 / self.elapsed.as_secs_f64().max(0.001),
            self.errors,
            self.went_back,
            self.refused,
            self.unanswered,
            self.unanswered_why,
            self.versions,
            if self.first_errors.is_empty() {
                String::new()
            } else {
                format!("; first errors: {:?}", self.first_errors)
            }
        )
    }
}

/// `threads` clients doing keep-alive GETs of / and /big.bin until `stop` is
/// set. A response counts as ok only when it is a 200 whose body is one whole
/// version of that file, no older than what its connection saw before.
fn start_load(
    addr: SocketAddr,
    threads: usize,
    versions: Arc<Versions>,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<Load> {
    thread::spawn(move || {
        let started = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let versions = versions.clone();
                let stop = stop.clone();
                thread::spawn(move || {
                    let mut load = Load::default();
                    let mut conn: Option<Conn> = None;
                    let mut newest = 0;
                    let mut i = t;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        // `?load` marks these requests in the access log.
                        let path = if i % 3 == 0 { "/big.bin?load" } else { "/?load" };
                        let mut c = match conn.take() {
                            Some(c) => c,
                            None => match Conn::open(addr) {
                                Ok(c) => {
                                    newest = 0;
                                    c
                                }
                                Err(Fail::Refused) => {
                                    load.refused += 1;
                                    thread::sleep(Duration::from_millis(5));
                                    continue;
                                }
                                Err(fail) => {
                                    load.error(describe(&fail));
                                    thread::sleep(Duration::from_millis(5));
                                    continue;
                                }
                            },
                        };
                        match c.get(path) {
                            Ok(resp) if resp.status == 200 => match versions.which(path, &resp.body) {
                                Some(v) => {
                                    load.ok += 1;
                                    load.versions.insert(v);
                                    if v < newest {
                                        load.went_back += 1;
                                        load.error(format!("{path}: v{v} after v{newest} on one connection"));
                                    }
                                    newest = newest.max(v);
                                    if !resp.close {
                                        conn = Some(c);
                                    }
                                }
                                None => load.error(format!(
                                    "{path}: body of {} bytes is no whole version (a mix?)",
                                    resp.body.len()
                                )),
                            },
                            Ok(resp) => load.error(format!("{path}: status {}", resp.status)),
                            Err(Fail::Unanswered(why)) => {
                                load.unanswered += 1;
                                load.unanswered_why.insert(why);
                            }
                            Err(fail) => load.error(format!("{path}: {}", describe(&fail))),
                        }
                    }
                    load
                })
            })
            .collect();
        let mut total = Load::default();
        for handle in handles {
            total.add(handle.join().expect("load thread panicked"));
        }
        total.elapsed = started.elapsed();
        total
    })
}

// ---------------------------------------------------------------------------
// Access log format
// ---------------------------------------------------------------------------

/// The combined format, checked field by field (no regex crate):
/// `IP - - [dd/Mon/yyyy:HH:MM:SS +0000] "METHOD TARGET HTTP/1.x" NNN BYTES "referer" "agent"`
/// where the quoted fields hold no bare `"` or `\` and no control bytes.
fn combined_line_ok(line: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{why}: {line:?}"));
    let (ip, rest) = line.split_once(' ').ok_or("no space")?;
    if ip.parse::<std::net::IpAddr>().is_err() {
        return bad("client is not an IP address");
    }
    let Some(rest) = rest.strip_prefix("- - [") else {
        return bad("no `- - [`");
    };
    let Some((time, rest)) = rest.split_once("] ") else {
        return bad("no `] `");
    };
    let t = time.as_bytes();
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let digits = |range: std::ops::Range<usize>| t[range].iter().all(u8::is_ascii_digit);
    if t.len() != 26
        || !digits(0..2)
        || t[2] != b'/'
        || !months.contains(&&time[3..6])
        || t[6] != b'/'
        || !digits(7..11)
        || t[11] != b':'
        || !digits(12..14)
        || t[14] != b':'
        || !digits(15..17)
        || t[17] != b':'
        || !digits(18..20)
        || &time[20..] != " +0000"
    {
        return bad("bad time");
    }
    // Three quoted strings around status and size.
    let mut fields = Vec::new();
    let mut rest = rest;
    for i in 0..3 {
        let Some(after_quote) = rest.strip_prefix('"') else {
            return bad("field not quoted");
        };
        let Some(end) = after_quote.find('"') else {
            return bad("unterminated quote");
        };
        let value = &after_quote[..end];
        if value.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return bad("control byte in a quoted field");
        }
        // Every backslash must start a \xHH escape.
        let mut k = 0;
        while let Some(at) = value[k..].find('\\') {
            let esc = value.get(k + at..k + at + 4).unwrap_or("");
            if esc.len() != 4 || !esc.starts_with("\\x") || !esc[2..].bytes().all(|b| b.is_ascii_hexdigit()) {
                return bad("backslash that is not \\xHH");
            }
            k += at + 4;
        }
        fields.push(value);
        rest = &after_quote[end + 1..];
        if i == 0 {
            let mut parts = rest.splitn(4, ' ');
            let (empty, status, size) = (parts.next(), parts.next(), parts.next());
            let Some(tail) = parts.next() else {
                return bad("no status and size");
            };
            if empty != Some("")
                || !status.is_some_and(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
                || !size.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            {
                return bad("bad status or size");
            }
            rest = tail;
        } else if i == 1 {
            let Some(tail) = rest.strip_prefix(' ') else {
                return bad("no space between referer and agent");
            };
            rest = tail;
        }
    }
    if !rest.is_empty() {
        return bad("trailing bytes");
    }
    let request = fields[0];
    let ok_request = request == "-"
        || matches!(request.split(' ').collect::<Vec<_>>().as_slice(),
            [method, target, "HTTP/1.1" | "HTTP/1.0"] if !method.is_empty() && !target.is_empty());
    if !ok_request {
        return bad("bad request field");
    }
    Ok(())
}

#[test]
fn combined_line_checker_accepts_and_rejects() {
    let good = "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /a?q=\\x22x\\x22 HTTP/1.1\" 200 2326 \"-\" \"curl/8 \\x22evil\\x22\"";
    combined_line_ok(good).unwrap();
    combined_line_ok("::1 - - [01/Jan/1970:00:00:00 +0000] \"-\" 400 16 \"-\" \"-\"").unwrap();
    for bad in [
        "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 2326 \"-\" \"a\"b\"",
        "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 2326 \"-\" \"a\\b\"",
        "127.0.0.1 - - [6/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 2326 \"-\" \"a\"",
        "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 20 2326 \"-\" \"a\"",
        "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 2326 \"-\"",
        "nobody - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 2326 \"-\" \"a\"",
    ] {
        assert!(combined_line_ok(bad).is_err(), "accepted {bad:?}");
    }
}

// ---------------------------------------------------------------------------
// busybox init in its own PID + mount namespace
// ---------------------------------------------------------------------------

struct Init {
    unshare: Option<Child>,
    /// Host PID of the namespace's PID 1.
    pid: u32,
    console: PathBuf,
    /// Unique to this test run; only mote's command line contains it.
    marker: String,
}

impl Init {
    /// Starts busybox init as PID 1 with `inittab` as its /etc/inittab.
    fn start(dir: &Path, inittab: &str, marker: String) -> Init {
        let inittab_path = dir.join("inittab");
        fs::write(&inittab_path, inittab).unwrap();
        let overlay = dir.join("etc-overlay");
        fs::create_dir(&overlay).unwrap();
        let console = dir.join("console.log");
        let out = OpenOptions::new().create(true).append(true).open(&console).unwrap();
        let err = out.try_clone().unwrap();
        // Runs as PID 1 of the new namespaces, then becomes busybox init.
        let script = format!(
            "set -e\n\
             mount -t tmpfs -o mode=0755 mote-test {o}\n\
             mkdir {o}/upper {o}/work\n\
             cp {i} {o}/upper/inittab\n\
             if ! mount -t overlay -o lowerdir=/etc,upperdir={o}/upper,workdir={o}/work mote-test /etc; then\n\
               if [ -e /etc/inittab ]; then mount --bind {i} /etc/inittab\n\
               else echo 'mote-test: no overlayfs, and no /etc/inittab to bind over' >&2; exit 1; fi\n\
             fi\n\
             exec {BUSYBOX} init\n",
            o = overlay.display(),
            i = inittab_path.display(),
        );
        // setpriv --pdeathsig: should this test die without unwinding, the
        // kernel kills unshare, and --kill-child then kills the namespace.
        let mut command = if in_path("setpriv") {
            let mut c = Command::new("setpriv");
            c.args(["--pdeathsig", "KILL", "unshare"]);
            c
        } else {
            Command::new("unshare")
        };
        let unshare = command
            .args(["--pid", "--fork", "--mount", "--mount-proc", "--kill-child", BUSYBOX, "sh", "-c", &script])
            .env_remove("CONSOLE")
            .env_remove("console")
            .env("TERM", "dumb")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn unshare");
        let unshare_pid = unshare.id();
        let mut init = Init { unshare: Some(unshare), pid: 0, console, marker };
        init.pid =
            wait_for("the namespace's PID 1 (child of unshare)", limit(5), || children(unshare_pid).first().copied())
                .unwrap_or_else(|e| init.fail(&e));
        init
    }

    /// Fails at once if unshare (and so the namespace) has already exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.unshare.as_mut().and_then(|u| u.try_wait().ok().flatten()) {
            self.fail(&format!("the namespace (unshare) exited early: {status}"));
        }
    }

    fn console(&self) -> String {
        fs::read(&self.console).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    fn fail(&self, why: &str) -> ! {
        panic!("{why}\n--- console (busybox init's stdio) ---\n{}--- end of console ---", self.console());
    }

    /// The mote process init started: its child whose command line names the marker.
    fn mote_pid(&self) -> Option<u32> {
        children(self.pid).into_iter().find(|&pid| cmdline(pid).contains(&self.marker))
    }

    fn check<T, E: std::fmt::Display>(&self, result: Result<T, E>) -> T {
        result.unwrap_or_else(|e| self.fail(&e.to_string()))
    }

    fn stop(&mut self) {
        let Some(mut unshare) = self.unshare.take() else {
            return;
        };
        let members: Vec<u32> = children(self.pid);
        // SIGKILL to a namespace's PID 1 from outside ends the namespace.
        let _ = Command::new(BUSYBOX).args(["kill", "-s", "KILL", &self.pid.to_string()]).status();
        let _ = unshare.kill();
        let _ = unshare.wait();
        let leftover = wait_for("the namespace's processes to go", limit(5), || {
            (!alive(self.pid) && members.iter().all(|&p| !alive(p))).then_some(())
        });
        if leftover.is_err() && !thread::panicking() {
            panic!("processes of the namespace outlived it: init {} children {members:?}", self.pid);
        }
    }
}

impl Drop for Init {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("--- console at failure ---\n{}--- end ---", self.console());
        }
        self.stop();
    }
}

/// Access-log lines of the load generator's requests (tagged `?load`).
fn load_lines(files: &[&Path]) -> u64 {
    files
        .iter()
        .map(|f| {
            fs::read_to_string(f).unwrap_or_default().lines().filter(|l| l.contains("?load HTTP/1.1\"")).count() as u64
        })
        .sum()
}

fn reloads(addr: SocketAddr) -> Option<u64> {
    let resp = get_once(addr, STATUS_PATH).ok()?;
    let text = String::from_utf8_lossy(&resp.body).into_owned();
    text.lines().find_map(|l| l.strip_prefix("reloads: ")?.parse().ok())
}

/// Polls until `GET path` is a 200 whose body is version `v`.
fn serves(addr: SocketAddr, versions: &Versions, path: &str, v: usize) -> Option<()> {
    let resp = get_once(addr, path).ok()?;
    (resp.status == 200 && versions.which(path, &resp.body) == Some(v)).then_some(())
}

fn nobody() -> (u32, u32) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    let fields: Vec<&str> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == "nobody")
        .expect("no user nobody in /etc/passwd");
    (fields[2].parse().unwrap(), fields[3].parse().unwrap())
}

#[test]
fn busybox_init_respawns_reloads_and_stops_mote() {
    if !prerequisites_met() {
        return;
    }
    // Under qemu every respawn pays the emulator's start-up and the load phases
    // time out; this test is about init and signals, which the host run covers.
    if std::env::var_os("MOTE_RUNNER").is_some_and(|r| !r.is_empty()) {
        eprintln!("SKIPPED under MOTE_RUNNER: busybox init respawn timing is tested on the host build");
        return;
    }
    let test_started = Instant::now();
    let versions = Arc::new(Versions::new());
    let tmp = TempDir::new("init");
    let site = tmp.0.join("site");
    let stage = tmp.0.join("stage");
    let logs = tmp.0.join("log");
    for dir in [&site, &stage, &logs] {
        fs::create_dir(dir).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    versions.install(1, &site, &stage);
    // nobody must be able to create a new access log after rotation.
    let (nobody_uid, nobody_gid) = nobody();
    std::os::unix::fs::chown(&logs, Some(nobody_uid), Some(nobody_gid)).unwrap();
    let access_log = logs.join("access.log");

    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut argv = mote_argv();
    for arg in [
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--root",
        site.to_str().unwrap(),
        "--access-log",
        access_log.to_str().unwrap(),
        "--user",
        "nobody",
        "--threads",
        "2",
        "--status",
        STATUS_PATH,
        "--grace",
        "5",
    ] {
        argv.push(arg.to_string());
    }
    let command = argv.join(" ");
    assert!(
        !command.contains(|c| "~`!$^&*()=|\\{}[];\"'<>?".contains(c)),
        "the respawn line must hold no shell metacharacter, so busybox init execs mote itself: {command}"
    );
    let inittab = format!(
        "# generated by tests/it/init.rs\n\
         ::sysinit:/bin/echo mote-test: sysinit ran\n\
         ::respawn:{command}\n\
         ::shutdown:/bin/echo mote-test: shutdown ran\n"
    );
    let mut init = Init::start(&tmp.0, &inittab, site.to_str().unwrap().to_string());

    // --- 1. The site is served, by a child of PID 1. --------------------------
    let t0 = Instant::now();
    let first = wait_for("mote to serve v1", limit(5), || serves(addr, &versions, "/", 1));
    init.assert_running();
    init.check(first);
    let first_serve = t0.elapsed();
    let pid = init.check(wait_for("mote's PID", limit(2), || init.mote_pid()));
    let ns_init = proc_status_field(init.pid, "NSpid:").unwrap_or_default();
    let ns_mote = proc_status_field(pid, "NSpid:").unwrap_or_default();
    assert!(ns_init.ends_with(" 1") || ns_init.ends_with("\t1"), "init is not PID 1 inside: NSpid {ns_init:?}");
    eprintln!(
        "init: busybox init host PID {} (NSpid {ns_init}), mote PID {pid} (NSpid {ns_mote}); \
         first 200 {first_serve:?} after PID 1 appeared",
        init.pid
    );
    assert!(init.console().contains("mote-test: sysinit ran"), "sysinit line did not run");

    // --- 2. --user nobody really dropped privileges. -------------------------
    let uid = proc_status_field(pid, "Uid:").unwrap();
    let gid = proc_status_field(pid, "Gid:").unwrap();
    let groups = proc_status_field(pid, "Groups:").unwrap();
    let cap_eff = proc_status_field(pid, "CapEff:").unwrap();
    let cap_prm = proc_status_field(pid, "CapPrm:").unwrap();
    let want_uid = vec![nobody_uid.to_string(); 4];
    let want_gid = vec![nobody_gid.to_string(); 4];
    assert_eq!(uid.split_whitespace().collect::<Vec<_>>(), want_uid, "Uid (real, effective, saved, fs)");
    assert_eq!(gid.split_whitespace().collect::<Vec<_>>(), want_gid, "Gid (real, effective, saved, fs)");
    assert!(groups.split_whitespace().all(|g| g == nobody_gid.to_string()), "supplementary groups kept: {groups:?}");
    assert!(
        cap_eff.bytes().all(|b| b == b'0') && cap_prm.bytes().all(|b| b == b'0'),
        "capabilities kept: eff {cap_eff} prm {cap_prm}"
    );
    eprintln!("init: --user nobody -> Uid {uid} / Gid {gid} / Groups [{groups}] / CapEff {cap_eff}");

    // --- 3. Edit + SIGHUP -> new content, same PID. ---------------------------
    assert_eq!(reloads(addr), Some(0));
    versions.install(2, &site, &stage);
    signal(pid, "HUP");
    init.check(wait_for("v2 after SIGHUP", limit(5), || serves(addr, &versions, "/", 2)));
    init.check(wait_for("big.bin v2 after SIGHUP", limit(2), || serves(addr, &versions, "/big.bin", 2)));
    assert_eq!(init.mote_pid(), Some(pid), "SIGHUP must not restart mote");
    assert_eq!(reloads(addr), Some(1));

    // --- 4. Broken site + SIGHUP -> old content, error on the console. --------
    let away = tmp.0.join("site-away");
    fs::rename(&site, &away).unwrap();
    signal(pid, "HUP");
    init.check(wait_for("`reload failed` on the console", limit(5), || {
        init.console().lines().find(|l| l.contains("reload failed")).map(str::to_string)
    }));
    let failed_line = init.console().lines().find(|l| l.contains("reload failed")).unwrap().to_string();
    assert!(serves(addr, &versions, "/", 2).is_some(), "old site not served after a failed reload");
    assert!(serves(addr, &versions, "/big.bin", 2).is_some(), "old big file not served after a failed reload");
    assert_eq!(reloads(addr), Some(1), "a failed reload must not count as one");
    assert_eq!(init.mote_pid(), Some(pid));
    eprintln!("init: failed reload keeps the old site; console: {failed_line:?}");
    fs::rename(&away, &site).unwrap();
    signal(pid, "HUP");
    init.check(wait_for("the reload after the repair", limit(5), || (reloads(addr)? == 2).then_some(())));

    // --- 5. SIGHUP under load: only whole versions, 0 errors. -----------------
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(addr, 4, versions.clone(), stop.clone());
    let mut reload_times = Vec::new();
    for v in 3..=7 {
        thread::sleep(Duration::from_millis(100)); // load pacing, not synchronisation
        versions.install(v, &site, &stage);
        let sent = Instant::now();
        signal(pid, "HUP");
        let want = v as u64;
        init.check(wait_for(&format!("reload {v} to finish"), limit(5), || (reloads(addr)? == want).then_some(())));
        reload_times.push(sent.elapsed());
    }
    thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let hup_load = load.join().unwrap();
    eprintln!("init: SIGHUP x5 under load (4 keep-alive clients): {}", hup_load.summary());
    eprintln!("init: SIGHUP -> reload counted after {reload_times:?}");
    assert_eq!(hup_load.errors, 0, "SIGHUP under load: {}", hup_load.summary());
    assert_eq!(hup_load.refused + hup_load.unanswered, 0, "a reload must not drop connections: {}", hup_load.summary());
    assert!(hup_load.ok > 100, "load generator too slow to mean anything: {}", hup_load.summary());
    assert!(hup_load.versions.len() >= 2, "the load saw only {:?}", hup_load.versions);
    assert_eq!(init.mote_pid(), Some(pid));

    // --- 6. SIGUSR1 reopens the access log after rotation. --------------------
    let rotated = logs.join("access.log.1");
    fs::rename(&access_log, &rotated).unwrap();
    signal(pid, "USR1");
    // The reopen happens on the signal thread; keep asking until a request
    // lands in a new file (a request before the reopen goes to the old one).
    init.check(wait_for("a new access.log after SIGUSR1", limit(5), || {
        let _ = get_once(addr, "/?after-rotation");
        let text = fs::read_to_string(&access_log).ok()?;
        text.contains("after-rotation").then_some(())
    }));
    // Every answered load request is logged, within about a second (the
    // buffer is flushed once a second); none is lost before the kills below.
    let hup_logged = init.check(wait_for("the SIGHUP-load requests in the access log", limit(3), || {
        let n = load_lines(&[&rotated, &access_log]);
        (n >= hup_load.ok).then_some(n)
    }));
    assert!(hup_logged <= hup_load.ok + hup_load.unanswered, "{hup_logged} lines for {} requests", hup_load.ok);
    let owner = fs::metadata(&access_log).map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap();
    assert_eq!(owner, nobody_uid, "the reopened log was created by uid {owner}, not nobody");

    // --- 7. kill -9 -> init respawns mote; measured. ---------------------------
    let mut respawns = Vec::new();
    let mut pid = pid;
    for _ in 0..2 {
        let killed = Instant::now();
        signal(pid, "KILL");
        let new_pid = init.check(wait_for("a respawned mote", limit(5), || init.mote_pid().filter(|&p| p != pid)));
        let new_process = killed.elapsed();
        init.check(wait_for("the respawned mote to serve", limit(5), || serves(addr, &versions, "/", 7)));
        let serving = killed.elapsed();
        eprintln!("init: kill -9 {pid} -> new PID {new_pid} after {new_process:?}, serving after {serving:?}");
        respawns.push(serving);
        pid = new_pid;
    }

    // --- 8. SIGTERM under load -> in-flight responses complete, respawn. ------
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(addr, 4, versions.clone(), stop.clone());
    thread::sleep(Duration::from_millis(300)); // let the load build up
    let sent = Instant::now();
    signal(pid, "TERM");
    init.check(wait_for("mote to exit after SIGTERM", limit(8), || (!alive(pid)).then_some(())));
    let exited = sent.elapsed();
    let new_pid = init.check(wait_for("a respawn after SIGTERM", limit(5), || init.mote_pid().filter(|&p| p != pid)));
    init.check(wait_for("the respawned mote to serve", limit(5), || serves(addr, &versions, "/", 7)));
    let back = sent.elapsed();
    thread::sleep(Duration::from_millis(300)); // load on the new process too
    stop.store(true, Ordering::Relaxed);
    let term_load = load.join().unwrap();
    eprintln!(
        "init: SIGTERM under load: exited after {exited:?}, new PID {new_pid} serving after {back:?}; load: {}",
        term_load.summary()
    );
    assert_eq!(term_load.errors, 0, "SIGTERM under load: {}", term_load.summary());
    let stopping = init.console().lines().filter(|l| l.contains("stopping (finishing responses in flight)")).count();
    assert_eq!(stopping, 1, "console should show one graceful stop");

    // --- 9. Access log lines are well-formed. ----------------------------------
    // The SIGTERM'd process flushed at exit; the new one flushes within a second.
    let want = hup_load.ok + term_load.ok;
    let logged = init.check(wait_for("every SIGTERM-load request in the access log", limit(3), || {
        let n = load_lines(&[&rotated, &access_log]);
        (n >= want).then_some(n)
    }));
    assert!(logged <= want + term_load.unanswered, "{logged} load lines logged for {want} answered requests");
    let mut lines = 0;
    for file in [&rotated, &access_log] {
        let text = fs::read_to_string(file).unwrap();
        assert!(text.ends_with('\n'), "{} does not end with a whole line", file.display());
        for line in text.lines() {
            if let Err(why) = combined_line_ok(line) {
                panic!("{}: {why}", file.display());
            }
            lines += 1;
        }
    }
    let sample = fs::read_to_string(&access_log)
        .unwrap()
        .lines()
        .find(|l| l.contains("\"GET / "))
        .unwrap_or_default()
        .to_string();
    assert!(sample.contains("\\x22quoted\\x22 \\x5C agent"), "agent not escaped as expected: {sample}");
    eprintln!("init: {lines} access-log lines, all combined format, {logged} from the load generators; e.g. {sample}");

    let console = init.console();
    let listening = console.lines().filter(|l| l.contains("listening on http://")).count();
    assert_eq!(listening, 4, "one start-up line per start (first + 2 kills + 1 stop)\n{console}");
    eprintln!("init: console shows {listening} `listening on` lines (one per start)");

    init.stop();
    assert!(!alive(new_pid), "mote outlived its namespace");
    eprintln!(
        "init: SUMMARY respawn after kill -9 (until serving): {:?}; SIGHUP-under-load errors: {}; \
         SIGTERM-under-load errors: {} (refused {}, unanswered {}); total test time {:?}",
        respawns,
        hup_load.errors,
        term_load.errors,
        term_load.refused,
        term_load.unanswered,
        test_started.elapsed()
    );
}

/// Init does not report exit statuses, so this runs mote as a plain child:
/// SIGTERM while clients are busy -> every response that started completes,
/// and the exit status is 0.
#[test]
fn sigterm_under_load_exits_0() {
    let versions = Arc::new(Versions::new());
    let tmp = TempDir::new("term");
    let site = tmp.0.join("site");
    let stage = tmp.0.join("stage");
    fs::create_dir(&site).unwrap();
    fs::create_dir(&stage).unwrap();
    versions.install(1, &site, &stage);
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let argv = mote_argv();
    let stderr_path = tmp.0.join("stderr");
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .args(["--listen", &addr.to_string(), "--root", site.to_str().unwrap(), "--threads", "2", "--access-log", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr_path).unwrap())
        .spawn()
        .expect("spawn mote");
    let stderr = || fs::read_to_string(&stderr_path).unwrap_or_default();
    let result = (|| -> Result<(), String> {
        wait_for("mote to serve", limit(5), || serves(addr, &versions, "/", 1))?;
        let stop = Arc::new(AtomicBool::new(false));
        let load = start_load(addr, 4, versions.clone(), stop.clone());
        thread::sleep(Duration::from_millis(300)); // let the load build up
        signal(child.id(), "TERM");
        let status = wait_for("mote to exit after SIGTERM", limit(8), || child.try_wait().ok().flatten())?;
        stop.store(true, Ordering::Relaxed);
        let load = load.join().unwrap();
        eprintln!("plain child: SIGTERM under load -> {status}; load: {}", load.summary());
        if status.code() != Some(0) {
            return Err(format!("exit status {status}, want 0"));
        }
        if load.errors != 0 {
            return Err(format!("errors under SIGTERM: {}", load.summary()));
        }
        Ok(())
    })();
    if let Err(why) = result {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{why}\nstderr:\n{}", stderr());
    }
}

/// deploy/init.d/S50mote, run by busybox sh with its settings pointed at a
/// temp site: start (pid file, `listening on`), a second start is a no-op,
/// reload (new content, same PID), restart (new PID), stop (gone, no pid
/// file), and a failed start says why and exits 1.
#[test]
fn init_d_script_starts_reloads_restarts_and_stops() {
    if !prerequisites_met() {
        return;
    }
    if std::env::var_os("MOTE_RUNNER").is_some_and(|r| !r.is_empty()) {
        eprintln!("SKIPPED: S50mote identifies mote by /proc/PID/exe, which is the emulator under MOTE_RUNNER");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/init.d/S50mote");
    let tmp = TempDir::new("initd");
    let site = tmp.0.join("site");
    fs::create_dir(&site).unwrap();
    fs::write(site.join("index.html"), "one\n").unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let pidfile = tmp.0.join("run/mote.pid");
    let errlog = tmp.0.join("log/error.log");
    let defaults = tmp.0.join("defaults");
    let write_defaults = |root: &Path| {
        fs::write(
            &defaults,
            format!(
                "MOTE_BIN={}\nMOTE_ARGS=\"--root {} --listen {addr} --user nobody\"\n\
                 MOTE_PIDFILE={}\nMOTE_ERRLOG={}\n",
                bin(),
                root.display(),
                pidfile.display(),
                errlog.display()
            ),
        )
        .unwrap();
    };
    let run = |action: &str| {
        let out = Command::new(BUSYBOX)
            .arg("sh")
            .arg(&script)
            .arg(action)
            .env("MOTE_DEFAULTS", &defaults)
            .stdin(Stdio::null())
            .output()
            .expect("run S50mote");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    let body = || get_once(addr, "/").ok().filter(|r| r.status == 200).map(|r| r.body);
    let pid_in_file = || fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse::<u32>().ok());
    let mut started = Vec::new();
    let result = (|| -> Result<(), String> {
        write_defaults(&site);
        let (code, out) = run("start");
        let pid = pid_in_file().ok_or(format!("no pid file after start: {out}"))?;
        started.push(pid);
        if code != Some(0) || !out.contains("started") || body().as_deref() != Some(b"one\n") {
            return Err(format!("start: {code:?} {out}"));
        }
        let (code, out) = run("start");
        if code != Some(0) || !out.contains("already running") || pid_in_file() != Some(pid) {
            return Err(format!("second start: {code:?} {out}"));
        }
        fs::write(site.join("index.html"), "two\n").unwrap();
        let (code, out) = run("reload");
        if code != Some(0) {
            return Err(format!("reload: {code:?} {out}"));
        }
        wait_for("new content after reload", limit(5), || (body()? == b"two\n").then_some(()))?;
        if pid_in_file() != Some(pid) || !alive(pid) {
            return Err("reload restarted mote".into());
        }
        let (code, out) = run("restart");
        let new_pid = pid_in_file().ok_or(format!("no pid file after restart: {out}"))?;
        started.push(new_pid);
        if code != Some(0) || new_pid == pid || alive(pid) || body().is_none() {
            return Err(format!("restart: {code:?} {out} (pid {pid} -> {new_pid})"));
        }
        let (code, out) = run("stop");
        if code != Some(0) || alive(new_pid) || pidfile.exists() {
            return Err(format!("stop: {code:?} {out}"));
        }
        let (code, out) = run("status");
        if code != Some(3) {
            return Err(format!("status when stopped: {code:?} {out}"));
        }
        write_defaults(&tmp.0.join("missing"));
        let (code, out) = run("start");
        if code != Some(1) || !out.contains("failed to start") || !out.contains("missing") || pidfile.exists() {
            return Err(format!("failed start: {code:?} {out}"));
        }
        Ok(())
    })();
    for pid in started {
        if alive(pid) && cmdline(pid).contains(site.to_str().unwrap()) {
            signal(pid, "KILL");
        }
    }
    if let Err(why) = result {
        panic!("{why}\nerror log:\n{}", fs::read_to_string(&errlog).unwrap_or_default());
    }
}
