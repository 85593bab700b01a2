//! Logs. Errors and start-up lines go to stderr, which busybox init sends to
//! the console, and with `--syslog` also to the local syslog socket. Access
//! lines are opt-in (SD cards wear), in the combined format nginx and
//! lighttpd write by default, so existing tools read them.
//!
//! Each worker builds its access lines into its own buffer and writes it out
//! when it fills or once a second, so logging costs no system call per
//! request, and a repeated head's line is two copies (`Lines`), so little
//! CPU either. Client-controlled fields are escaped (`"`, `\`, control bytes and
//! non-ASCII become `\xHH`), so no request can forge a line.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use mote_site::date::civil_from_unix;

/// Where syslog datagrams go by default (busybox syslogd and every other syslogd).
pub const SYSLOG_SOCKET: &str = "/dev/log";
/// RFC 3164 priority: facility daemon (3), severity error (3) / info (6).
const PRIORITY_ERROR: u8 = 3 * 8 + 3;
const PRIORITY_INFO: u8 = 3 * 8 + 6;
/// A worker writes its access lines out when this much is buffered.
pub const FLUSH_BYTES: usize = 16 * 1024;

/// The connected socket and its path (for reconnecting).
static SYSLOG: OnceLock<(UnixDatagram, PathBuf)> = OnceLock::new();

/// Connects to the syslog socket for the rest of the process; on failure
/// says so once and carries on with stderr alone.
pub fn open_syslog(path: &std::path::Path) {
    let socket = UnixDatagram::unbound().and_then(|s| s.connect(path).map(|()| s));
    match socket {
        Ok(socket) => {
            let _ = SYSLOG.set((socket, path.to_path_buf()));
        }
        Err(e) => stderr_line(format_args!(
            "mote: --syslog: cannot use {}: {}; logging to stderr only",
            path.display(),
            mote_site::walk::error_text(&e)
        )),
    }
}

/// Writes one line to stderr, ignoring failure: `eprintln!` panics when
/// stderr is a closed pipe, and with panic=abort that would take the whole
/// server down for the sake of a log line.
pub fn stderr_line(line: std::fmt::Arguments) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Writes to stdout (`--help`, `--check`), ignoring a closed pipe
/// (`mote --help | head -3`).
pub fn stdout_text(text: &str) {
    let _ = io::stdout().lock().write_all(text.as_bytes());
}

/// One error or notice line: stderr, and syslog when enabled.
pub fn error(message: &str) {
    stderr_line(format_args!("mote: {message}"));
    to_syslog(PRIORITY_ERROR, message.as_bytes());
}

/// A start-up line (`listening on ...`): stderr as it is, and syslog.
pub fn notice(line: &str) {
    stderr_line(format_args!("{line}"));
    to_syslog(PRIORITY_INFO, line.as_bytes());
}

fn to_syslog(priority: u8, message: &[u8]) {
    let Some((socket, path)) = SYSLOG.get() else { return };
    let mut datagram = Vec::with_capacity(message.len() + 40);
    datagram.push(b'<');
    datagram.extend_from_slice(itoa::Buffer::new().format(priority).as_bytes());
    datagram.extend_from_slice(b">mote[");
    datagram.extend_from_slice(itoa::Buffer::new().format(std::process::id()).as_bytes());
    datagram.extend_from_slice(b"]: ");
    datagram.extend_from_slice(message);
    // A restarted syslogd has a new socket at the same path: reconnect once.
    if socket.send(&datagram).is_err() && socket.connect(path).is_ok() {
        let _ = socket.send(&datagram);
    }
}

/// Where access lines go.
pub enum Sink {
    Stdout,
    /// `dir` is the log's directory, opened at start-up, so SIGUSR1 can
    /// reopen the file by name even after `--chroot` hid the path.
    File {
        path: PathBuf,
        dir: File,
        file: File,
    },
    Syslog,
}

pub struct AccessLog {
    sink: Mutex<Sink>,
}

impl AccessLog {
    /// `-` is stdout; `syslog` is the syslog socket; anything else a file,
    /// appended to and created if missing.
    pub fn open(target: &str) -> Result<AccessLog, String> {
        let sink = match target {
            "-" => Sink::Stdout,
            "syslog" => Sink::Syslog,
            path => {
                let path = PathBuf::from(path);
                let file = open_append(&path)?;
                let parent = match path.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent,
                    _ => std::path::Path::new("."),
                };
                let dir = crate::sys::open(parent, libc::O_RDONLY)
                    .map_err(|e| format!("--access-log {}: {}", parent.display(), mote_site::walk::error_text(&e)))?;
                Sink::File { path, dir, file }
            }
        };
        Ok(AccessLog { sink: Mutex::new(sink) })
    }

    /// Writes a buffer of whole lines; O_APPEND keeps workers' buffers whole.
    pub fn write(&self, lines: &[u8]) {
        let mut sink = self.sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let result = match &mut *sink {
            Sink::Stdout => io::stdout().lock().write_all(lines),
            Sink::File { file, .. } => file.write_all(lines),
            Sink::Syslog => {
                for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    to_syslog(PRIORITY_INFO, line);
                }
                Ok(())
            }
        };
        if let Err(e) = result {
            stderr_line(format_args!("mote: access log: {e}"));
        }
    }

    /// SIGUSR1: after logrotate moved the file away, start a new one.
    pub fn reopen(&self) {
        let mut sink = self.sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Sink::File { path, dir, file } = &mut *sink {
            let name = path.file_name().unwrap_or(path.as_os_str());
            match crate::sys::open_append_at(dir, name) {
                Ok(new) => *file = new,
                Err(e) => error(&format!(
                    "SIGUSR1: --access-log {}: {}; still writing to the old file",
                    path.display(),
                    mote_site::walk::error_text(&e)
                )),
            }
        }
    }
}

fn open_append(path: &std::path::Path) -> Result<File, String> {
    crate::sys::open(path, libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT)
        .map_err(|e| format!("--access-log {}: {}", path.display(), mote_site::walk::error_text(&e)))
}

/// What one access line says about a request, after who asked and when.
pub struct Entry<'a> {
    /// With `--vhost`: the request's effective host, as sent.
    pub host: Option<&'a [u8]>,
    /// `GET /x HTTP/1.1`, raw; `None` when the head could not be parsed.
    pub request_line: Option<(&'a [u8], &'a [u8], bool)>,
    pub status: &'a [u8],
    pub body_bytes: u64,
    pub referer: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
}

/// A worker's access lines not yet written, in the combined format:
/// `IP - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326 "referer" "agent"`.
///
/// A line is the client and the second (its prefix), then what the request
/// was and got (its entry part). The prefix is built again only when the
/// client or the second differs from the line before; an entry part the
/// memo kept for a repeated head is copied as it is (`push_recalled`).
pub struct Lines {
    bytes: Vec<u8>,
    /// `IP - - [time] ` for `prefix_of`.
    prefix: Vec<u8>,
    prefix_of: Option<(std::net::IpAddr, u64)>,
    /// With `--vhost`, Apache's `vhost_combined`: each line starts with
    /// `host:port ` (`%v:%p`), and an entry part with the host and a space.
    vhost: bool,
    /// With `--vhost`, the entry part being made.
    part: Vec<u8>,
}

impl Lines {
    /// `vhost`: lines in the `vhost_combined` layout.
    pub fn new(vhost: bool) -> Lines {
        Lines { bytes: Vec::with_capacity(FLUSH_BYTES), prefix: Vec::new(), prefix_of: None, vhost, part: Vec::new() }
    }

    /// The whole lines so far.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    /// A line for a request from `client` in the second `unix_time`;
    /// returns its entry part, for the memo to keep with the head.
    /// `port`: the listener's, for `vhost_combined`.
    pub fn push_entry(&mut self, client: std::net::IpAddr, port: u16, unix_time: u64, entry: &Entry) -> &[u8] {
        if self.vhost {
            let mut part = std::mem::take(&mut self.part);
            part.clear();
            match entry.host {
                Some(host) => push_escaped(&mut part, &host.to_ascii_lowercase()),
                None => part.push(b'-'),
            }
            part.push(b' ');
            push_entry(&mut part, entry);
            self.push_recalled(client, port, unix_time, &part);
            self.part = part;
            return &self.part;
        }
        self.push_prefix(client, unix_time);
        let start = self.bytes.len();
        push_entry(&mut self.bytes, entry);
        &self.bytes[start..]
    }

    /// A line for a repeated head: `part` is what `push_entry` returned for it.
    pub fn push_recalled(&mut self, client: std::net::IpAddr, port: u16, unix_time: u64, part: &[u8]) {
        let mut part = part;
        if self.vhost {
            let (host, rest) = part.split_at(part.iter().position(|&b| b == b' ').unwrap_or(0));
            self.bytes.extend_from_slice(host);
            self.bytes.push(b':');
            self.bytes.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
            self.bytes.push(b' ');
            part = rest.strip_prefix(b" ").unwrap_or(rest);
        }
        self.push_prefix(client, unix_time);
        self.bytes.extend_from_slice(part);
    }

    fn push_prefix(&mut self, client: std::net::IpAddr, unix_time: u64) {
        if self.prefix_of != Some((client, unix_time)) {
            self.prefix.clear();
            crate::ops::address::push_ip(&mut self.prefix, client);
            self.prefix.extend_from_slice(b" - - [");
            push_time(&mut self.prefix, unix_time);
            self.prefix.extend_from_slice(b"] ");
            self.prefix_of = Some((client, unix_time));
        }
        self.bytes.extend_from_slice(&self.prefix);
    }
}

/// `"GET / HTTP/1.1" 200 2326 "referer" "agent"` and the line end.
fn push_entry(out: &mut Vec<u8>, entry: &Entry) {
    out.push(b'"');
    match entry.request_line {
        Some((method, target, http10)) => {
            push_escaped(out, method);
            out.push(b' ');
            push_escaped(out, target);
            out.extend_from_slice(if http10 { b" HTTP/1.0" } else { b" HTTP/1.1" });
        }
        None => out.push(b'-'),
    }
    out.extend_from_slice(b"\" ");
    out.extend_from_slice(entry.status);
    out.push(b' ');
    out.extend_from_slice(itoa::Buffer::new().format(entry.body_bytes).as_bytes());
    for field in [entry.referer, entry.user_agent] {
        out.extend_from_slice(b" \"");
        match field {
            Some(value) => push_escaped(out, value),
            None => out.push(b'-'),
        }
        out.push(b'"');
    }
    out.push(b'\n');
}

/// `10/Oct/2000:13:55:36 +0000`: the combined format's time, in UTC.
fn push_time(out: &mut Vec<u8>, unix: u64) {
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let (year, month, day) = civil_from_unix(unix);
    let secs = unix % 86_400;
    let two = |out: &mut Vec<u8>, n: u64| out.extend_from_slice(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
    two(out, u64::from(day));
    out.push(b'/');
    out.extend_from_slice(MONTHS[(month - 1) as usize]);
    out.push(b'/');
    out.extend_from_slice(itoa::Buffer::new().format(year).as_bytes());
    out.push(b':');
    two(out, secs / 3600);
    out.push(b':');
    two(out, secs / 60 % 60);
    out.push(b':');
    two(out, secs % 60);
    out.extend_from_slice(b" +0000");
}

/// `value` with `"`, `\`, control bytes and non-ASCII as `\xHH`; the runs
/// between them are copied whole.
fn push_escaped(out: &mut Vec<u8>, mut value: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let plain = |b: &u8| (0x20..0x7f).contains(b) && *b != b'"' && *b != b'\\';
    while let Some(at) = value.iter().position(|b| !plain(b)) {
        let b = value[at];
        out.extend_from_slice(&value[..at]);
        out.extend_from_slice(&[b'\\', b'x', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        value = &value[at + 1..];
    }
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(client: &str, unix_time: u64, entry: &Entry) -> String {
        let mut lines = Lines::new(false);
        lines.push_entry(client.parse().unwrap(), 80, unix_time, entry);
        String::from_utf8(lines.bytes().to_vec()).unwrap()
    }

    #[test]
    fn writes_combined_lines() {
        let entry = Entry {
            host: None,
            request_line: Some((b"GET", b"/a?q=\"x\"", false)),
            status: b"200",
            body_bytes: 2326,
            referer: None,
            user_agent: Some(b"curl/8 \"evil\"\n127.0.0.1 - - [fake]\\\xff"),
        };
        assert_eq!(
            line("192.0.2.7", 784_111_777, &entry),
            "192.0.2.7 - - [06/Nov/1994:08:49:37 +0000] \"GET /a?q=\\x22x\\x22 HTTP/1.1\" 200 2326 \"-\" \
             \"curl/8 \\x22evil\\x22\\x0A127.0.0.1 - - [fake]\\x5C\\xFF\"\n"
        );
    }

    #[test]
    fn unparsed_requests_log_a_dash() {
        let entry =
            Entry { host: None, request_line: None, status: b"400", body_bytes: 16, referer: None, user_agent: None };
        assert_eq!(line("::1", 0, &entry), "::1 - - [01/Jan/1970:00:00:00 +0000] \"-\" 400 16 \"-\" \"-\"\n");
    }

    /// A kept part and a prefix built once are the same bytes as a line
    /// built from scratch; a new client or second gets a new prefix.
    #[test]
    fn recalled_parts_and_prefixes_make_the_same_lines() {
        let entry = Entry {
            host: None,
            request_line: Some((b"HEAD", b"/", true)),
            status: b"304",
            body_bytes: 0,
            referer: Some(b"http://a/"),
            user_agent: None,
        };
        let mut lines = Lines::new(false);
        let part = lines.push_entry("10.0.0.1".parse().unwrap(), 80, 60, &entry).to_vec();
        for (client, unix_time) in [("10.0.0.1", 60), ("10.0.0.1", 61), ("10.0.0.2", 61), ("10.0.0.1", 61)] {
            lines.push_recalled(client.parse().unwrap(), 80, unix_time, &part);
        }
        let expected: String =
            [("10.0.0.1", 60), ("10.0.0.1", 60), ("10.0.0.1", 61), ("10.0.0.2", 61), ("10.0.0.1", 61)]
                .iter()
                .map(|&(client, unix_time)| line(client, unix_time, &entry))
                .collect();
        assert_eq!(String::from_utf8(lines.bytes().to_vec()).unwrap(), expected);
        lines.clear();
        assert!(lines.bytes().is_empty());
    }
    #[test]
    fn vhost_combined_puts_the_host_and_port_first() {
        let entry = Entry {
            host: Some(b"A.Example"),
            request_line: Some((b"GET", b"/", false)),
            status: b"200",
            body_bytes: 5,
            referer: None,
            user_agent: None,
        };
        let mut lines = Lines::new(true);
        let part = lines.push_entry("10.0.0.1".parse().unwrap(), 8080, 60, &entry).to_vec();
        // A recalled head on another listener: the same host, its own port.
        lines.push_recalled("10.0.0.1".parse().unwrap(), 443, 60, &part);
        let line = "10.0.0.1 - - [01/Jan/1970:00:01:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\"\n";
        let want = format!("a.example:8080 {line}a.example:443 {line}");
        assert_eq!(String::from_utf8_lossy(lines.bytes()), want);
    }
}
