//! Command-line flags -> `Config`. Flags are the only configuration: a Pi
//! started from busybox init has its whole setup in one inittab line.
//! Every error names the flag and the value, so a respawn loop says why.
#![forbid(unsafe_code)]

use std::net::SocketAddr;

use mote_site::cache::{Audience, Rule};
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
pub const DEFAULT_CACHE_MAX: u64 = 256 * 1024;
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// Most worker threads; beyond this a Pi only loses to context switches.
const MAX_THREADS: u64 = 256;
/// Most `--listen` addresses: each is one of a worker's poll tokens.
pub const MAX_LISTEN: usize = 64;
/// Longest timeout a flag may set: a day.
const MAX_TIMEOUT_SECS: u64 = 86_400;

pub const USAGE: &str = "\
mote - a tiny, strict HTTP/1.1 static-site server

Usage: mote [FLAGS]

Without --root, mote serves the site built into it.

Flags:
  --listen ADDR          address to listen on, IPv4 or [IPv6]:port; repeatable, up to 64
                         (default 0.0.0.0:8080)
  --listen-tls ADDR      address to serve HTTPS on, as --listen; repeatable
                         (needs --tls-cert and --tls-key; default: none)
  --tls-cert FILE        the certificate chain for HTTPS, PEM, leaf first
  --tls-key FILE         its private key, PEM (ECDSA P-256 or P-384)
  --https-redirect       plain listeners answer 308 to the same URL on https,
                         except /.well-known/acme-challenge/
  --root DIR             serve the files under DIR (default: the built-in site)
  --threads N|auto       event-loop threads; auto = one per core (default 1)
  --max-conns N          most open connections; more get 503
                         (default: from the open-file limit)
  --header-timeout SECS  time a client has to send a whole request head (default 10)
  --idle-timeout SECS    time an idle keep-alive connection, or a stalled
                         response, is kept (default 30)
  --max-memory BYTES     memory budget for the site plus connection state
                         (K/M/G suffixes): a site that does not fit is refused,
                         connections beyond it get 503 (default: no budget)
  --cache-max BYTES      files up to this size (K/M/G suffixes) are held in
                         memory; larger ones are streamed from disk with
                         sendfile (default 262144)
  --grace SECS           on SIGTERM/SIGINT, time to finish responses in flight
                         (default 5)
  --access-log PATH|-|syslog
                         write an access log (combined format) to a file, to
                         stdout (-) or to syslog (default: none)
  --syslog[=SOCKET]      also send errors and start-up lines to syslog, through
                         SOCKET (default /dev/log)
  --user NAME[:GROUP]    after binding, run as this user (and group)
  --chroot DIR           after binding, confine the process to DIR; --root is
                         then a path inside DIR
  --status PATH          serve a plain-text page of counters at PATH, e.g.
                         /.mote-status (default: none)
  --metrics PATH         serve the same counters for Prometheus (text format
                         0.0.4) at PATH, e.g. /metrics (default: none)
  --cache-control GLOB=VALUE
                         Cache-Control for files matching GLOB (a URL path if
                         it starts with /, else a file name; * within a
                         segment, ** across); repeatable, first match wins;
                         VALUE none sends no header. Defaults: HTML no-cache,
                         hashed names (app.3f9a2c1b.js) immutable for a year,
                         anything else max-age=3600
  --spa                  single-page app: a path with no file extension that
                         matches nothing gets /index.html (200)
  --listing              list directories that have no index.html
  --header 'NAME: VALUE' add a header to every response (CSP, HSTS, ...);
                         repeatable
  --auth USER:PASS       require HTTP Basic authentication; repeatable;
                         responses then say Cache-Control: private
  --auth-file FILE       the same, with user:password lines from FILE (keeps
                         secrets out of ps)
  --io-uring auto|off    auto: each event-loop turn hands its keep-alive
                         answers to the kernel in one io_uring call, when the
                         kernel offers it (Linux 5.18+); off: one send each
                         (default auto)
  --check                lint the site (--root, or the built-in one) and print
                         its manifest: files, sizes, types, variants, cache
                         rules, then errors, warnings and notes, a finding
                         seen often as one summary line; exit 1 on errors
  -v, --verbose          with --check: every finding on its own line
  --help                 print this help and exit
  --version              print the version and exit

Signals: SIGTERM/SIGINT stop gracefully (a second one exits at once);
SIGHUP reloads --root (and a TLS certificate and key); SIGUSR1 reopens
the access log file.
";

#[derive(Debug)]
pub struct Config {
    pub listen: Vec<SocketAddr>,
    /// HTTPS listeners.
    pub listen_tls: Vec<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Plain listeners send every request but ACME's challenges to https.
    pub https_redirect: bool,
    pub root: Option<PathBuf>,
    pub threads: usize,
    /// `None`: derived from the open-file limit at start-up.
    pub max_conns: Option<usize>,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub cache_max: u64,
    pub grace: Duration,
    pub access_log: Option<String>,
    /// The syslog socket, when `--syslog` is given.
    pub syslog: Option<PathBuf>,
    /// `NAME[:GROUP]` as given; resolved at start-up.
    pub user: Option<String>,
    pub chroot: Option<PathBuf>,
    /// URL path of the status page.
    pub status: Option<String>,
    /// URL path of the Prometheus metrics.
    pub metrics: Option<String>,
    pub cache_rules: Vec<Rule>,
    pub spa: bool,
    pub listing: bool,
    /// `--header` lines, each ending in CRLF.
    pub headers: Vec<u8>,
    /// `user:password` pairs from --auth.
    pub auth: Vec<Vec<u8>>,
    pub auth_file: Option<String>,
    /// `--max-memory` in bytes.
    pub max_memory: Option<u64>,
    /// `--io-uring auto`: batch sends through io_uring where the kernel allows.
    pub io_uring: bool,
    /// `--verbose`: `--check` prints every finding on its own line.
    pub verbose: bool,
}

impl Config {
    /// Who the site's responses are for: with `--auth` or `--auth-file`
    /// every request needs a credential (an empty file is refused).
    pub fn audience(&self) -> Audience {
        if self.auth.is_empty() && self.auth_file.is_none() {
            Audience::Anyone
        } else {
            Audience::Authenticated
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Serve(Config),
    /// `--check`: lint the site and print its manifest instead of serving.
    Check(Config),
    Help,
    Version,
}

/// A usage error: the message names the flag and value (exit status 2).
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut config = Config {
        listen: Vec::new(),
        listen_tls: Vec::new(),
        tls_cert: None,
        tls_key: None,
        https_redirect: false,
        root: None,
        threads: 1,
        max_conns: None,
        header_timeout: DEFAULT_HEADER_TIMEOUT,
        idle_timeout: DEFAULT_IDLE_TIMEOUT,
        cache_max: DEFAULT_CACHE_MAX,
        grace: DEFAULT_GRACE,
        access_log: None,
        syslog: None,
        user: None,
        chroot: None,
        status: None,
        metrics: None,
        cache_rules: Vec::new(),
        spa: false,
        listing: false,
        headers: Vec::new(),
        auth: Vec::new(),
        auth_file: None,
        max_memory: None,
        io_uring: true,
        verbose: false,
    };
    let mut check = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, UsageError> {
            inline.clone().or_else(|| args.next()).ok_or_else(|| UsageError(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            "--listen" | "--listen-tls" => {
                let text = value()?;
                let addr = text
                    .parse()
                    .map_err(|_| invalid(&flag, &text, "an address with a port, like 0.0.0.0:8080 or [::]:8080"))?;
                if config.listen.len() + config.listen_tls.len() == MAX_LISTEN {
                    return Err(UsageError(format!("{flag}: at most {MAX_LISTEN} addresses")));
                }
                if flag == "--listen" {
                    config.listen.push(addr);
                } else {
                    config.listen_tls.push(addr);
                }
            }
            "--tls-cert" => config.tls_cert = Some(PathBuf::from(non_empty(&flag, value()?, "a PEM file")?)),
            "--tls-key" => config.tls_key = Some(PathBuf::from(non_empty(&flag, value()?, "a PEM file")?)),
            "--https-redirect" if inline.is_none() => config.https_redirect = true,
            "--root" => {
                let text = value()?;
                if text.is_empty() {
                    return Err(invalid(&flag, &text, "a directory"));
                }
                config.root = Some(PathBuf::from(text));
            }
            "--threads" => {
                let text = value()?;
                config.threads = if text == "auto" {
                    crate::sys::online_cpus()
                } else {
                    number(&flag, &text, 1, MAX_THREADS).map_err(|_| {
                        invalid(&flag, &text, &format!("auto or a whole number from 1 to {MAX_THREADS}"))
                    })? as usize
                };
            }
            "--max-conns" => config.max_conns = Some(number(&flag, &value()?, 1, 1 << 20)? as usize),
            "--header-timeout" => config.header_timeout = seconds(&flag, &value()?)?,
            "--idle-timeout" => config.idle_timeout = seconds(&flag, &value()?)?,
            "--grace" => config.grace = Duration::from_secs(number(&flag, &value()?, 0, MAX_TIMEOUT_SECS)?),
            "--cache-max" => config.cache_max = bytes(&flag, &value()?, 0)?,
            "--max-memory" => config.max_memory = Some(bytes(&flag, &value()?, 1)?),
            "--access-log" => config.access_log = Some(non_empty(&flag, value()?, "a file, - or syslog")?),
            "--syslog" => {
                let socket = inline.clone().unwrap_or_else(|| crate::ops::log::SYSLOG_SOCKET.to_string());
                config.syslog = Some(PathBuf::from(non_empty(&flag, socket, "a unix socket path")?));
            }
            "--io-uring" => {
                let text = value()?;
                config.io_uring = match text.as_str() {
                    "auto" => true,
                    "off" => false,
                    _ => return Err(invalid(&flag, &text, "auto or off")),
                };
            }
            "--check" if inline.is_none() => check = true,
            "--verbose" | "-v" if inline.is_none() => config.verbose = true,
            "--spa" if inline.is_none() => config.spa = true,
            "--listing" if inline.is_none() => config.listing = true,
            "--spa" | "--listing" | "--check" | "--verbose" | "--https-redirect" => {
                return Err(UsageError(format!("{flag} takes no value")))
            }
            "--cache-control" => {
                let text = value()?;
                let rule = Rule::parse(&text)
                    .ok_or_else(|| invalid(&flag, &text, "GLOB=VALUE, like '/assets/**=max-age=600'"))?;
                config.cache_rules.push(rule);
            }
            "--header" => {
                let text = value()?;
                let line = header_line(&text).map_err(|why| invalid(&flag, &text, why))?;
                config.headers.extend_from_slice(line.as_bytes());
            }
            "--auth" => {
                let text = value()?;
                if !text.contains(':') || text.starts_with(':') {
                    return Err(invalid(&flag, "<hidden>", "USER:PASS"));
                }
                config.auth.push(text.into_bytes());
            }
            "--auth-file" => config.auth_file = Some(non_empty(&flag, value()?, "a file of user:password lines")?),
            "--user" => config.user = Some(non_empty(&flag, value()?, "a user name or uid")?),
            "--chroot" => config.chroot = Some(PathBuf::from(non_empty(&flag, value()?, "a directory")?)),
            "--status" => config.status = Some(page_path(&flag, value()?, "/.mote-status")?),
            "--metrics" => config.metrics = Some(page_path(&flag, value()?, "/metrics")?),
            _ if flag.starts_with('-') => {
                return Err(UsageError(format!("unknown flag {} (mote --help lists them)", printable(&flag))))
            }
            _ => {
                return Err(UsageError(format!(
                    "unexpected argument '{}' (mote --help lists the flags)",
                    printable(&arg)
                )))
            }
        }
    }
    if let (Some(status), Some(metrics)) = (&config.status, &config.metrics) {
        if status == metrics {
            return Err(UsageError(format!("--metrics: {metrics} is already the --status path; give each its own")));
        }
    }
    if config.verbose && !check {
        return Err(UsageError("--verbose goes with --check: it lists every finding".into()));
    }
    check_tls(&config)?;
    if config.listen.is_empty() && config.listen_tls.is_empty() {
        config.listen.push(DEFAULT_LISTEN.parse().expect("default address parses"));
    }
    Ok(if check { Command::Check(config) } else { Command::Serve(config) })
}

/// The HTTPS flags come as a set, and only in a build that has TLS.
fn check_tls(config: &Config) -> Result<(), UsageError> {
    let given = [
        ("--listen-tls", !config.listen_tls.is_empty()),
        ("--tls-cert", config.tls_cert.is_some()),
        ("--tls-key", config.tls_key.is_some()),
        ("--https-redirect", config.https_redirect),
    ];
    let Some((first, _)) = given.iter().find(|(_, given)| *given) else {
        return Ok(());
    };
    if !cfg!(feature = "tls") {
        return Err(UsageError(format!("{first}: mote was built without TLS (make TLS=1)")));
    }
    for (flag, needed) in [("--listen-tls", given[0].1), ("--tls-cert", given[1].1), ("--tls-key", given[2].1)] {
        if !needed {
            return Err(UsageError(format!(
                "{first} needs {flag} (HTTPS takes --listen-tls, --tls-cert and --tls-key)"
            )));
        }
    }
    Ok(())
}

/// Control characters in the echoed value are escaped: an error stays one
/// line, on the console and in syslog.
fn invalid(flag: &str, value: &str, expected: &str) -> UsageError {
    UsageError(format!("{flag}: invalid value '{}' (expected {expected})", printable(value)))
}

/// Control characters as `\xHH` (by hand: `escape_debug` pulls Unicode
/// tables into the binary).
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            let code = c as u32;
            out.push_str("\\x");
            for shift in [4, 0] {
                out.push(char::from_digit(code >> shift & 0xf, 16).unwrap_or('?'));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Headers mote itself frames the message with can not be added.
const MANAGED_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "date",
    "content-range",
    "content-encoding",
    "content-type",
    "etag",
    "last-modified",
    "keep-alive",
    "upgrade",
    "trailer",
    // set per file or per response; a second copy would contradict it
    "cache-control",
    "vary",
    "x-content-type-options",
    "accept-ranges",
    "www-authenticate",
    "allow",
    "location",
    "retry-after",
];

/// `Name: value` -> `Name: value\r\n`, or why not.
fn header_line(text: &str) -> Result<String, &'static str> {
    let (name, value) = text.split_once(':').ok_or("'Name: value'")?;
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err("a header name of letters, digits and !#$%&'*+-.^_`|~, then ': value'");
    }
    if MANAGED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err("a header mote does not set itself");
    }
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() || !value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        return Err("a non-empty value of visible ASCII, spaces and tabs");
    }
    Ok(format!("{name}: {value}\r\n"))
}

/// A byte count of at least `min`, with an optional K, M or G suffix
/// (powers of 1024).
fn bytes(flag: &str, text: &str, min: u64) -> Result<u64, UsageError> {
    let (digits, unit) = match text.as_bytes().last() {
        Some(b'K' | b'k') => (&text[..text.len() - 1], 1 << 10),
        Some(b'M' | b'm') => (&text[..text.len() - 1], 1 << 20),
        Some(b'G' | b'g') => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    match digits.parse::<u64>().ok().and_then(|n| n.checked_mul(unit)) {
        Some(n) if n >= min && !digits.starts_with('+') => Ok(n),
        _ => Err(invalid(flag, text, "a number of bytes, like 67108864 or 64M")),
    }
}

/// The path of a page mote makes itself (`--status`, `--metrics`): plain
/// characters and no dot segments, so a request's normalised path can
/// equal it.
fn page_path(flag: &str, text: String, example: &str) -> Result<String, UsageError> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"/-._~".contains(&b);
    let dot_segment = text.split('/').any(|segment| segment == "." || segment == "..");
    if !text.starts_with('/') || text.contains("//") || dot_segment || !text.bytes().all(plain) {
        return Err(invalid(flag, &text, &format!("a URL path such as {example}")));
    }
    Ok(text)
}

fn non_empty(flag: &str, text: String, expected: &str) -> Result<String, UsageError> {
    if text.is_empty() {
        return Err(invalid(flag, &text, expected));
    }
    Ok(text)
}

fn number(flag: &str, text: &str, min: u64, max: u64) -> Result<u64, UsageError> {
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) && !text.starts_with('+') => Ok(n),
        _ if max == u64::MAX => Err(invalid(flag, text, &format!("a whole number from {min}"))),
        _ => Err(invalid(flag, text, &format!("a whole number from {min} to {max}"))),
    }
}

fn seconds(flag: &str, text: &str) -> Result<Duration, UsageError> {
    Ok(Duration::from_secs(number(flag, text, 1, MAX_TIMEOUT_SECS)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Command, UsageError> {
        parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_flags() {
        let Ok(Command::Serve(config)) = parse_line(
            "--listen 127.0.0.1:0 --listen=[::1]:9000 --root /srv --threads 2 --max-conns 10 \
             --header-timeout 3 --idle-timeout 4 --cache-max 0 --grace 0",
        ) else {
            panic!("valid flags rejected")
        };
        assert_eq!(config.listen.len(), 2);
        assert_eq!(config.listen[1].to_string(), "[::1]:9000");
        assert_eq!(config.root, Some(PathBuf::from("/srv")));
        assert_eq!((config.threads, config.max_conns, config.cache_max), (2, Some(10), 0));
        assert_eq!(config.header_timeout, Duration::from_secs(3));
        assert_eq!(config.idle_timeout, Duration::from_secs(4));
        assert_eq!(config.grace, Duration::ZERO);
        let Ok(Command::Serve(config)) = parse(
            ["--header", "Content-Security-Policy: default-src 'self'", "--header=X-A:b", "--spa", "--listing"]
                .map(String::from),
        ) else {
            panic!("valid flags rejected")
        };
        assert_eq!(config.headers, b"Content-Security-Policy: default-src 'self'\r\nX-A: b\r\n");
        assert!(config.spa && config.listing);
    }

    #[test]
    fn defaults() {
        let Ok(Command::Serve(config)) = parse_line("") else { panic!() };
        assert_eq!(config.listen[0].to_string(), DEFAULT_LISTEN);
        assert_eq!((config.threads, config.max_conns, config.cache_max), (1, None, DEFAULT_CACHE_MAX));
    }

    #[test]
    fn errors_name_the_flag_and_value() {
        let rows: &[(&str, &str)] = &[
            ("--threads 0", "--threads: invalid value '0'"),
            ("--threads x", "--threads: invalid value 'x'"),
            ("--threads=-1", "--threads: invalid value '-1'"),
            ("--listen localhost", "--listen: invalid value 'localhost'"),
            ("--listen 1.2.3.4", "--listen: invalid value '1.2.3.4'"),
            ("--idle-timeout 0", "--idle-timeout: invalid value '0'"),
            ("--cache-max -5", "--cache-max: invalid value '-5'"),
            ("--max-conns +5", "--max-conns: invalid value '+5'"),
            ("--root", "--root needs a value"),
            ("--bogus", "unknown flag --bogus"),
            ("--header=X:a\u{1}b", "--header: invalid value 'X:a\\x01b'"),
            ("--header=Vary:x", "--header: invalid value 'Vary:x'"),
            ("--status status", "--status: invalid value 'status'"),
            ("--status /a%20b", "--status: invalid value '/a%20b'"),
            ("--metrics metrics", "--metrics: invalid value 'metrics'"),
            ("--metrics=/a//b", "--metrics: invalid value '/a//b'"),
            ("--metrics /a/../metrics", "--metrics: invalid value '/a/../metrics'"),
            ("--status /.", "--status: invalid value '/.'"),
            ("--status /m --metrics /m", "--metrics: /m is already the --status path"),
            ("--user=", "--user: invalid value ''"),
            ("--syslog=", "--syslog: invalid value ''"),
            ("--header X", "--header: invalid value 'X'"),
            ("--header Bad(Name):x", "--header: invalid value 'Bad(Name):x'"),
            ("--header Content-Length:5", "--header: invalid value 'Content-Length:5'"),
            ("--header X-A:", "--header: invalid value 'X-A:'"),
            ("--cache-control nope", "--cache-control: invalid value 'nope'"),
            ("--auth nocolon", "--auth: invalid value '<hidden>'"),
            ("--spa=1", "--spa takes no value"),
            ("--verbose=1 --check", "--verbose takes no value"),
            ("-v", "--verbose goes with --check"),
            ("--max-memory 12Q", "--max-memory: invalid value '12Q'"),
            ("--max-memory 0", "--max-memory: invalid value '0'"),
            ("stray", "unexpected argument 'stray'"),
        ];
        for (line, message) in rows {
            match parse_line(line) {
                Err(UsageError(text)) => assert!(text.starts_with(message), "{line}: {text}"),
                Ok(_) => panic!("{line} accepted"),
            }
        }
        assert!(matches!(parse_line("--help"), Ok(Command::Help)));
        assert!(matches!(parse_line("--version"), Ok(Command::Version)));
        assert!(matches!(parse_line("--check -v"), Ok(Command::Check(Config { verbose: true, .. }))));
    }
}
