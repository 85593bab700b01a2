//! Command-line flags -> `Config`. Flags are the only configuration: a Pi
//! started from busybox init has its whole setup in one inittab line.
//! Every error names the flag and the value, so a respawn loop says why.
#![forbid(unsafe_code)]

use std::net::SocketAddr;

use crate::http::forwarded::{Cidr, Proxies, ProxyHeader};
use mote_site::cache::{Audience, Rule};
use mote_site::mime::Types;
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
/// Where `--acme` keeps its account, certificates and renewal state.
#[cfg(feature = "acme")]
pub const DEFAULT_ACME_DIR: &str = "/var/lib/mote/acme";
/// Let's Encrypt's ACME directory, and its staging one (`--acme-staging`).
#[cfg(feature = "acme")]
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
#[cfg(feature = "acme")]
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
/// Most names on one certificate: Let's Encrypt's limit.
#[cfg(feature = "acme")]
const MAX_ACME_NAMES: usize = 100;

pub const USAGE: &str = "\
mote - a tiny, strict HTTP/1.1 static-site server

Usage: mote [FLAGS]

Without --root, mote serves the site built into it.

Flags:
  --listen ADDR          address to listen on, IPv4 or [IPv6]:port; repeatable, up to 64
                         (default 0.0.0.0:8080)
  --listen-tls ADDR      address to serve HTTPS on, as --listen; repeatable
                         (needs --tls-cert and --tls-key; default: none)
  --tls-cert FILE        the certificate chain for HTTPS, PEM, leaf first;
                         repeatable: a handshake gets the one whose names
                         cover its SNI, else the first
  --tls-key FILE         its private key, PEM (ECDSA P-256 or P-384); the Nth
                         --tls-key goes with the Nth --tls-cert
  --https-redirect       plain listeners answer 308 to the same URL on https,
                         except /.well-known/acme-challenge/
  --acme NAME[,NAME...]  get and renew a certificate for these names from an
                         ACME CA (Let's Encrypt), agreeing to its terms;
                         repeatable, one certificate each (needs --listen-tls;
                         builds with ACME)
  --acme-dir DIR         account, certificates and renewal state
                         (default /var/lib/mote/acme)
  --acme-directory URL   the CA's ACME directory (default Let's Encrypt's)
  --acme-staging         use Let's Encrypt's staging CA instead
  --acme-ca-file PEM     roots trusted for the CA's server (default: the
                         system bundle)
  --acme-email ADDR      contact address for the account (default: none)
  --acme-profile NAME    certificate profile, where the CA offers profiles
                         (default: the CA's)
  --acme-challenge http-01|tls-alpn-01|auto
                         how the CA validates: auto uses what the listeners
                         allow, the other after a failure (default auto)
  --root DIR             serve the files under DIR (default: the built-in site);
                         DIR/_redirects holds redirect rules (Netlify's format)
  --vhost HOST=DIR       serve the files under DIR to requests for HOST (any
                         case, any port); repeatable. Other hosts get --root,
                         or 421 Misdirected Request without it (default: none)
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
  --trusted-proxy CIDR   a proxy in front of mote (10.0.0.0/8, ::1); repeatable:
                         its --proxy-header names the client (default: none)
  --proxy-header x-forwarded-for|forwarded|x-real-ip
                         (default x-forwarded-for)
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
  --mime EXT=TYPE        Content-Type for files ending in .EXT, added to or
                         replacing the built-in table; repeatable
                         (--check prints the table)
  --spa                  single-page app: a path with no file extension that
                         matches nothing gets /index.html (200)
  --listing              list directories that have no index.html
  --clean-urls           /about serves about.html (and /a/b a/b.html) when no
                         file or directory is named so
  --header 'NAME: VALUE' add a header to every response (CSP, HSTS, ...);
                         repeatable
  --cors ORIGIN          let pages of ORIGIN (scheme://host[:port]) read
                         responses: CORS headers and answered preflights;
                         repeatable; * allows any origin (not with --auth)
                         (default: none)
  --auth USER:PASS       require HTTP Basic authentication; repeatable;
                         responses then say Cache-Control: private
  --auth-file FILE       the same, with user:password lines from FILE (keeps
                         secrets out of ps)
  --io-uring auto|off    auto: each event-loop turn hands its keep-alive
                         answers to the kernel in one io_uring call, when the
                         kernel offers it (Linux 5.18+); off: one send each
                         (default auto)
  --healthcheck [URL]    exit 0 if URL answers 2xx/3xx within 2 s (default: the
                         --status path, else /, on the first --listen)
  --check                lint the site (--root, or the built-in one) and print
                         its manifest: files, sizes, types, variants, cache
                         rules, then errors, warnings and notes, a finding
                         seen often as one summary line; exit 1 on errors
  -v, --verbose          with --check: every finding on its own line
  --help                 print this help and exit
  --version              print the version and exit

Signals: SIGTERM/SIGINT stop gracefully (a second one exits at once);
SIGHUP reloads --root and every --vhost (and the TLS certificates and
keys); SIGUSR1 reopens
the access log file.
";

#[derive(Debug)]
pub struct Config {
    pub listen: Vec<SocketAddr>,
    /// HTTPS listeners.
    pub listen_tls: Vec<SocketAddr>,
    /// `--tls-cert` and `--tls-key`, in order: the Nth key is the Nth
    /// certificate's.
    pub tls_cert: Vec<PathBuf>,
    pub tls_key: Vec<PathBuf>,
    /// Plain listeners send every request but ACME's challenges to https.
    pub https_redirect: bool,
    pub root: Option<PathBuf>,
    /// `--vhost`: each host (lowercase, no trailing dot) and its directory.
    pub vhosts: Vec<(String, PathBuf)>,
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
    /// The type table with `--mime`'s overrides.
    pub mime: Types,
    pub spa: bool,
    pub listing: bool,
    /// `--clean-urls`: `/about` serves `about.html`.
    pub clean_urls: bool,
    /// `--header` lines, each ending in CRLF.
    pub headers: Vec<u8>,
    /// `--cors`: the origins allowed, serialized as browsers send them, or
    /// `*` alone.
    pub cors: Vec<String>,
    /// `user:password` pairs from --auth.
    pub auth: Vec<Vec<u8>>,
    pub auth_file: Option<String>,
    /// `--max-memory` in bytes.
    pub max_memory: Option<u64>,
    /// `--io-uring auto`: batch sends through io_uring where the kernel allows.
    pub io_uring: bool,
    /// `--verbose`: `--check` prints every finding on its own line.
    pub verbose: bool,
    /// `--trusted-proxy` and `--proxy-header`.
    pub proxies: Proxies,
    /// `--acme` flags: each one certificate's names, lowercase, in order.
    #[cfg(feature = "acme")]
    pub acme: Vec<Vec<String>>,
    #[cfg(feature = "acme")]
    pub acme_dir: PathBuf,
    /// The CA's directory URL (`--acme-directory`, `--acme-staging`).
    #[cfg(feature = "acme")]
    pub acme_directory: String,
    #[cfg(feature = "acme")]
    pub acme_ca_file: Option<PathBuf>,
    #[cfg(feature = "acme")]
    pub acme_email: Option<String>,
    #[cfg(feature = "acme")]
    pub acme_profile: Option<String>,
    #[cfg(feature = "acme")]
    pub acme_challenge: AcmeChallenge,
}

/// `--acme-challenge`: which ACME challenge proves control of a name.
#[cfg(feature = "acme")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmeChallenge {
    /// HTTP-01 (RFC 8555 §8.3), answered on the plain listeners.
    Http01,
    /// TLS-ALPN-01 (RFC 8737), answered on the TLS listeners.
    TlsAlpn01,
    /// What the listeners allow; the other type after a failed validation.
    Auto,
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

    /// `--cors` names its origins: each allowed request gets its own
    /// origin back, so every response varies by Origin.
    pub fn cors_echoes(&self) -> bool {
        !self.cors.is_empty() && self.cors[0] != "*"
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Serve(Config),
    /// `--check`: lint the site and print its manifest instead of serving.
    Check(Config),
    /// `--healthcheck [URL]`: ask a running mote (the URL, else the one
    /// these flags serve) instead of serving.
    Healthcheck(Config, Option<String>),
    Help,
    Version,
}

/// A usage error: the message names the flag and value (exit status 2).
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

/// A flag, as `FLAGS` names it.
#[derive(Clone, Copy, PartialEq)]
enum Flag {
    Help,
    Version,
    Listen,
    ListenTls,
    TlsCert,
    TlsKey,
    HttpsRedirect,
    Root,
    Vhost,
    Threads,
    MaxConns,
    HeaderTimeout,
    IdleTimeout,
    Grace,
    CacheMax,
    MaxMemory,
    AccessLog,
    Syslog,
    IoUring,
    Check,
    Healthcheck,
    TrustedProxy,
    ProxyHeader,
    Verbose,
    Spa,
    Listing,
    CleanUrls,
    CacheControl,
    Mime,
    Header,
    Cors,
    Auth,
    AuthFile,
    User,
    Chroot,
    Status,
    Metrics,
    Acme,
    AcmeStaging,
    /// `--acme-dir`, `--acme-directory` and the others `acme_option_value`
    /// sets.
    AcmeOption,
}

impl Flag {
    /// A switch takes no value: `--spa`, never `--spa=yes`.
    fn is_switch(self) -> bool {
        matches!(
            self,
            Flag::HttpsRedirect
                | Flag::Check
                | Flag::Verbose
                | Flag::Spa
                | Flag::Listing
                | Flag::CleanUrls
                | Flag::AcmeStaging
        )
    }
}

/// Every flag by name. A table and one `match` on `Flag`, not a `match` on
/// strings, so the names are compared by one loop.
const FLAGS: &[(&str, Flag)] = &[
    ("--help", Flag::Help),
    ("-h", Flag::Help),
    ("--version", Flag::Version),
    ("-V", Flag::Version),
    ("--listen", Flag::Listen),
    ("--listen-tls", Flag::ListenTls),
    ("--tls-cert", Flag::TlsCert),
    ("--tls-key", Flag::TlsKey),
    ("--https-redirect", Flag::HttpsRedirect),
    ("--root", Flag::Root),
    ("--vhost", Flag::Vhost),
    ("--threads", Flag::Threads),
    ("--max-conns", Flag::MaxConns),
    ("--header-timeout", Flag::HeaderTimeout),
    ("--idle-timeout", Flag::IdleTimeout),
    ("--grace", Flag::Grace),
    ("--cache-max", Flag::CacheMax),
    ("--max-memory", Flag::MaxMemory),
    ("--access-log", Flag::AccessLog),
    ("--syslog", Flag::Syslog),
    ("--io-uring", Flag::IoUring),
    ("--check", Flag::Check),
    ("--healthcheck", Flag::Healthcheck),
    ("--trusted-proxy", Flag::TrustedProxy),
    ("--proxy-header", Flag::ProxyHeader),
    ("--verbose", Flag::Verbose),
    ("-v", Flag::Verbose),
    ("--spa", Flag::Spa),
    ("--listing", Flag::Listing),
    ("--clean-urls", Flag::CleanUrls),
    ("--cache-control", Flag::CacheControl),
    ("--mime", Flag::Mime),
    ("--header", Flag::Header),
    ("--cors", Flag::Cors),
    ("--auth", Flag::Auth),
    ("--auth-file", Flag::AuthFile),
    ("--user", Flag::User),
    ("--chroot", Flag::Chroot),
    ("--status", Flag::Status),
    ("--metrics", Flag::Metrics),
    ("--acme", Flag::Acme),
    ("--acme-staging", Flag::AcmeStaging),
    ("--acme-dir", Flag::AcmeOption),
    ("--acme-directory", Flag::AcmeOption),
    ("--acme-ca-file", Flag::AcmeOption),
    ("--acme-email", Flag::AcmeOption),
    ("--acme-profile", Flag::AcmeOption),
    ("--acme-challenge", Flag::AcmeOption),
];

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut config = Config {
        listen: Vec::new(),
        listen_tls: Vec::new(),
        tls_cert: Vec::new(),
        tls_key: Vec::new(),
        https_redirect: false,
        root: None,
        vhosts: Vec::new(),
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
        mime: Types::default(),
        spa: false,
        listing: false,
        clean_urls: false,
        headers: Vec::new(),
        cors: Vec::new(),
        auth: Vec::new(),
        auth_file: None,
        max_memory: None,
        io_uring: true,
        verbose: false,
        proxies: Proxies::default(),
        #[cfg(feature = "acme")]
        acme: Vec::new(),
        #[cfg(feature = "acme")]
        acme_dir: PathBuf::from(DEFAULT_ACME_DIR),
        #[cfg(feature = "acme")]
        acme_directory: LETS_ENCRYPT.to_string(),
        #[cfg(feature = "acme")]
        acme_ca_file: None,
        #[cfg(feature = "acme")]
        acme_email: None,
        #[cfg(feature = "acme")]
        acme_profile: None,
        #[cfg(feature = "acme")]
        acme_challenge: AcmeChallenge::Auto,
    };
    let mut check = false;
    let mut healthcheck = None;
    let mut proxy_header = None;
    // The first ACME option given, which an error about it names.
    #[cfg(feature = "acme")]
    let mut acme_option: Option<&'static str> = None;
    // `--acme-staging`, and whether `--acme-directory` was given too.
    #[cfg(feature = "acme")]
    let mut acme_staging = (false, false);
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let (given, inline) = match arg.split_once('=') {
            Some((given, value)) if given.starts_with("--") => (given, Some(value)),
            _ => (arg.as_str(), None),
        };
        let Some(&(name, flag)) = FLAGS.iter().find(|(name, _)| *name == given) else {
            return Err(if given.starts_with('-') {
                fail(&["unknown flag ", &printable(given), " (mote --help lists them)"])
            } else {
                fail(&["unexpected argument '", &printable(&arg), "' (mote --help lists the flags)"])
            });
        };
        let text: String = match flag {
            Flag::Help => return Ok(Command::Help),
            Flag::Version => return Ok(Command::Version),
            #[cfg(not(feature = "acme"))]
            Flag::Acme | Flag::AcmeStaging | Flag::AcmeOption => {
                return Err(fail(&[name, ": mote was built without ACME (make ACME=1)"]))
            }
            Flag::Syslog => inline.unwrap_or(crate::ops::log::SYSLOG_SOCKET).into(),
            // The URL is optional: the next argument, unless it is a flag.
            Flag::Healthcheck => {
                let next_is_url = inline.is_none() && args.peek().is_some_and(|next| !next.starts_with('-'));
                healthcheck = Some(if next_is_url { args.next() } else { inline.map(str::to_owned) });
                continue;
            }
            _ if flag.is_switch() => match inline {
                Some(_) => return Err(fail(&[name, " takes no value"])),
                None => String::new(),
            },
            _ => match inline {
                Some(value) => value.into(),
                None => args.next().ok_or_else(|| fail(&[name, " needs a value"]))?,
            },
        };
        match flag {
            Flag::Listen | Flag::ListenTls => {
                let addr = text
                    .parse()
                    .map_err(|_| invalid(name, &text, "an address with a port, like 0.0.0.0:8080 or [::]:8080"))?;
                if config.listen.len() + config.listen_tls.len() == MAX_LISTEN {
                    return Err(fail(&[
                        name,
                        ": at most ",
                        itoa::Buffer::new().format(MAX_LISTEN as u64),
                        " addresses",
                    ]));
                }
                if flag == Flag::Listen {
                    config.listen.push(addr);
                } else {
                    config.listen_tls.push(addr);
                }
            }
            Flag::TlsCert => config.tls_cert.push(non_empty(name, text, "a PEM file")?.into()),
            Flag::TlsKey => config.tls_key.push(non_empty(name, text, "a PEM file")?.into()),
            Flag::HttpsRedirect => config.https_redirect = true,
            Flag::Root => config.root = Some(non_empty(name, text, "a directory")?.into()),
            Flag::Vhost => {
                let vhost = text.split_once('=').and_then(|(host, dir)| Some((host_name(host)?, dir)));
                let Some((host, dir)) = vhost.filter(|(_, dir)| !dir.is_empty()) else {
                    return Err(invalid(name, &text, "HOST=DIR, HOST a DNS name such as example.org"));
                };
                if config.vhosts.iter().any(|(named, _)| *named == host) {
                    return Err(fail(&[name, ": ", &host, " is named twice"]));
                }
                config.vhosts.push((host, PathBuf::from(dir)));
            }
            Flag::Threads => {
                config.threads = if text == "auto" {
                    crate::sys::online_cpus()
                } else {
                    number(name, &text, "auto or a whole number", 1, MAX_THREADS)? as usize
                };
            }
            Flag::MaxConns => config.max_conns = Some(number(name, &text, WHOLE, 1, 1 << 20)? as usize),
            Flag::HeaderTimeout => config.header_timeout = seconds(name, &text, 1)?,
            Flag::IdleTimeout => config.idle_timeout = seconds(name, &text, 1)?,
            Flag::Grace => config.grace = seconds(name, &text, 0)?,
            Flag::CacheMax => config.cache_max = bytes(name, &text, 0)?,
            Flag::MaxMemory => config.max_memory = Some(bytes(name, &text, 1)?),
            Flag::AccessLog => config.access_log = Some(non_empty(name, text, "a file, - or syslog")?),
            Flag::Syslog => config.syslog = Some(non_empty(name, text, "a unix socket path")?.into()),
            Flag::IoUring => {
                config.io_uring = match text.as_str() {
                    "auto" => true,
                    "off" => false,
                    _ => return Err(invalid(name, &text, "auto or off")),
                };
            }
            Flag::Check => check = true,
            Flag::TrustedProxy => {
                let cidr = Cidr::parse(&text)
                    .ok_or_else(|| invalid(name, &text, "an IP address or block, like 10.0.0.0/8 or 2001:db8::/32"))?;
                config.proxies.trusted.push(cidr);
            }
            Flag::ProxyHeader => {
                let header = ProxyHeader::parse(&text)
                    .ok_or_else(|| invalid(name, &text, "x-forwarded-for, forwarded or x-real-ip"))?;
                proxy_header = Some(header);
            }
            Flag::Verbose => config.verbose = true,
            Flag::Spa => config.spa = true,
            Flag::Listing => config.listing = true,
            Flag::CleanUrls => config.clean_urls = true,
            Flag::CacheControl => {
                let rule = Rule::parse(&text)
                    .ok_or_else(|| invalid(name, &text, "GLOB=VALUE, like '/assets/**=max-age=600'"))?;
                config.cache_rules.push(rule);
            }
            Flag::Mime => config.mime.add(&text).map_err(|why| invalid(name, &text, why))?,
            Flag::Header => header_line(&text, &mut config.headers).map_err(|why| invalid(name, &text, why))?,
            Flag::Cors => {
                let origin = cors_origin(&text).ok_or_else(|| {
                    invalid(name, &text, "* or an origin such as https://example.org or http://localhost:8080, no path")
                })?;
                let most = crate::answer::cors::MAX_ORIGINS;
                if config.cors.len() == most {
                    return Err(fail(&[name, ": at most ", itoa::Buffer::new().format(most as u64), " origins"]));
                }
                if !config.cors.contains(&origin) {
                    config.cors.push(origin);
                }
            }
            Flag::Auth => {
                if !text.contains(':') || text.starts_with(':') {
                    return Err(invalid(name, "<hidden>", "USER:PASS"));
                }
                config.auth.push(text.into_bytes());
            }
            Flag::AuthFile => config.auth_file = Some(non_empty(name, text, "a file of user:password lines")?),
            Flag::User => config.user = Some(non_empty(name, text, "a user name or uid")?),
            Flag::Chroot => config.chroot = Some(non_empty(name, text, "a directory")?.into()),
            Flag::Status => config.status = Some(page_path(name, text, "a URL path such as /.mote-status")?),
            Flag::Metrics => config.metrics = Some(page_path(name, text, "a URL path such as /metrics")?),
            #[cfg(feature = "acme")]
            Flag::Acme => {
                let names = acme_names(&text)?;
                for acme_name in &names {
                    if config.acme.iter().flatten().any(|seen| seen == acme_name) {
                        return Err(UsageError(format!(
                            "--acme: {acme_name} is already named by another --acme (each name gets one certificate)"
                        )));
                    }
                }
                config.acme.push(names);
            }
            #[cfg(feature = "acme")]
            Flag::AcmeStaging => {
                acme_option = acme_option.or(Some(name));
                acme_staging.0 = true;
            }
            #[cfg(feature = "acme")]
            Flag::AcmeOption => {
                acme_option = acme_option.or(Some(name));
                acme_staging.1 |= name == "--acme-directory";
                acme_option_value(&mut config, name, text)?;
            }
            // Answered before a value is taken.
            #[cfg(not(feature = "acme"))]
            Flag::Acme | Flag::AcmeStaging | Flag::AcmeOption => {}
            Flag::Help | Flag::Version | Flag::Healthcheck => {}
        }
    }
    if let (Some(status), Some(metrics)) = (&config.status, &config.metrics) {
        if status == metrics {
            return Err(fail(&["--metrics: ", metrics, " is already the --status path; give each its own"]));
        }
    }
    let any_origin = config.cors.iter().any(|origin| origin == "*");
    if any_origin && config.cors.len() > 1 {
        return Err(fail(&["--cors: * allows every origin; give it alone or list the origins"]));
    }
    // Fetch §3.2.5: a credentialed response must name its origin, never `*`.
    if any_origin && config.audience() == Audience::Authenticated {
        return Err(fail(&["--cors '*' cannot go with --auth: browsers refuse * with credentials; list the origins"]));
    }
    let cors_header = |line: &[u8]| line.get(..15).is_some_and(|name| name.eq_ignore_ascii_case(b"access-control-"));
    if !config.cors.is_empty() && config.headers.split(|&b| b == b'\n').any(cors_header) {
        return Err(fail(&["--header: --cors sets the Access-Control- headers; give them one way"]));
    }
    if let Some(header) = proxy_header {
        if config.proxies.trusted.is_empty() {
            return Err(fail(&["--proxy-header goes with --trusted-proxy: only a trusted peer's header is read"]));
        }
        config.proxies.header = header;
    }
    if config.verbose && !check {
        return Err(fail(&["--verbose goes with --check: it lists every finding"]));
    }
    #[cfg(feature = "acme")]
    check_acme(&mut config, acme_option, acme_staging)?;
    check_tls(&config)?;
    if config.listen.is_empty() && config.listen_tls.is_empty() {
        config.listen.push(DEFAULT_LISTEN.parse().expect("default address parses"));
    }
    Ok(match healthcheck {
        Some(url) => Command::Healthcheck(config, url),
        None if check => Command::Check(config),
        None => Command::Serve(config),
    })
}

/// The HTTPS flags come as a set, and only in a build that has TLS. With
/// `--acme` the certificate comes from the CA: `--tls-cert` and
/// `--tls-key` are then optional (a pair for names no `--acme` covers).
fn check_tls(config: &Config) -> Result<(), UsageError> {
    let given = [
        ("--listen-tls", !config.listen_tls.is_empty()),
        ("--tls-cert", !config.tls_cert.is_empty()),
        ("--tls-key", !config.tls_key.is_empty()),
        ("--https-redirect", config.https_redirect),
    ];
    let Some((first, _)) = given.iter().find(|(_, given)| *given) else {
        return Ok(());
    };
    if !cfg!(feature = "tls") {
        return Err(fail(&[first, ": mote was built without TLS (make TLS=1)"]));
    }
    #[cfg(feature = "acme")]
    let acme = !config.acme.is_empty();
    #[cfg(not(feature = "acme"))]
    let acme = false;
    let pair = given[1].1 || given[2].1 || !acme;
    for (flag, needed) in
        [("--listen-tls", given[0].1), ("--tls-cert", given[1].1 || !pair), ("--tls-key", given[2].1 || !pair)]
    {
        if !needed {
            return Err(fail(&[first, " needs ", flag, " (HTTPS takes --listen-tls, --tls-cert and --tls-key)"]));
        }
    }
    if config.tls_cert.len() != config.tls_key.len() {
        let (mut keys, mut certs) = (itoa::Buffer::new(), itoa::Buffer::new());
        return Err(fail(&[
            "--tls-key: ",
            keys.format(config.tls_key.len() as u64),
            " given for ",
            certs.format(config.tls_cert.len() as u64),
            " --tls-cert; give each certificate its key, in the same order",
        ]));
    }
    Ok(())
}

/// A host name as `--vhost` takes it: DNS labels (or an IPv4 address),
/// lowercase, a trailing dot dropped, as requests are matched.
fn host_name(text: &str) -> Option<String> {
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    (name.len() <= 253 && name.split('.').all(dns_label)).then_some(name)
}

/// RFC 1123 §2.1: letters, digits and hyphens, not at either end, 1 to 63.
fn dns_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Sets the ACME option `flag` from its value.
#[cfg(feature = "acme")]
fn acme_option_value(config: &mut Config, flag: &str, text: String) -> Result<(), UsageError> {
    match flag {
        "--acme-dir" => config.acme_dir = PathBuf::from(non_empty(flag, text, "a directory")?),
        "--acme-ca-file" => config.acme_ca_file = Some(PathBuf::from(non_empty(flag, text, "a PEM file")?)),
        "--acme-directory" => {
            let plain = |b: u8| b.is_ascii_graphic() && b != b'#';
            let host = text.strip_prefix("https://").and_then(|rest| rest.split('/').next());
            if host.is_none_or(str::is_empty) || !text.bytes().all(plain) {
                return Err(invalid(flag, &text, "an https:// URL"));
            }
            config.acme_directory = text;
        }
        "--acme-email" => {
            // One mailto: contact (RFC 8555 §7.3); the CA judges the rest.
            let (user, domain) = text.split_once('@').unwrap_or_default();
            let plain = |b: u8| b.is_ascii_graphic() && !b",;<>\"()[]\\".contains(&b);
            if user.is_empty() || domain.is_empty() || domain.contains('@') || !text.bytes().all(plain) {
                return Err(invalid(flag, &text, "an email address"));
            }
            config.acme_email = Some(text);
        }
        "--acme-profile" => {
            let token = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
            if text.is_empty() || text.len() > 64 || !text.bytes().all(token) {
                return Err(invalid(flag, &text, "a profile name such as shortlived"));
            }
            config.acme_profile = Some(text);
        }
        _ => {
            config.acme_challenge = match text.as_str() {
                "http-01" => AcmeChallenge::Http01,
                "tls-alpn-01" => AcmeChallenge::TlsAlpn01,
                "auto" => AcmeChallenge::Auto,
                _ => return Err(invalid(flag, &text, "http-01, tls-alpn-01 or auto")),
            };
        }
    }
    Ok(())
}

/// One `--acme` flag's names: DNS names, lowercase, each once, so that a
/// TLS client's SNI finds them.
#[cfg(feature = "acme")]
fn acme_names(text: &str) -> Result<Vec<String>, UsageError> {
    let mut names: Vec<String> = Vec::new();
    for name in text.split(',') {
        let name = name.to_ascii_lowercase();
        if name.starts_with("*.") {
            return Err(UsageError(format!(
                "--acme: {} is a wildcard, which needs the DNS-01 challenge: mote does not support DNS-01 \
                 (it answers HTTP-01 and TLS-ALPN-01)",
                printable(&name)
            )));
        }
        let last = name.rsplit('.').next().unwrap_or_default();
        if name.len() > 253 || !name.split('.').all(dns_label) || last.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("--acme", text, "comma-separated DNS names such as example.org,www.example.org"));
        }
        if names.contains(&name) {
            return Err(UsageError(format!("--acme: {name} is named twice")));
        }
        names.push(name);
    }
    if names.len() > MAX_ACME_NAMES {
        return Err(UsageError(format!("--acme: at most {MAX_ACME_NAMES} names on one certificate")));
    }
    Ok(names)
}

/// `--acme` needs an HTTPS listener to serve what it gets, and a listener
/// its challenge can be answered on; its options need `--acme`.
#[cfg(feature = "acme")]
fn check_acme(config: &mut Config, option: Option<&str>, staging: (bool, bool)) -> Result<(), UsageError> {
    if config.acme.is_empty() {
        return match option {
            Some(option) => Err(UsageError(format!("{option} needs --acme NAME"))),
            None => Ok(()),
        };
    }
    if staging.0 {
        if staging.1 {
            return Err(UsageError("--acme-staging and --acme-directory name two CAs: give one".into()));
        }
        config.acme_directory = LETS_ENCRYPT_STAGING.to_string();
    }
    if config.listen_tls.is_empty() {
        return Err(UsageError("--acme needs --listen-tls: the certificate is for HTTPS".into()));
    }
    if config.acme_challenge == AcmeChallenge::Http01 && config.listen.is_empty() {
        return Err(UsageError(
            "--acme-challenge http-01 needs a plain --listen (the CA asks on port 80); or use tls-alpn-01".into(),
        ));
    }
    Ok(())
}

/// Control characters in the echoed value are escaped: an error stays one
/// line, on the console and in syslog.
fn invalid(flag: &str, value: &str, expected: &str) -> UsageError {
    fail(&[flag, ": invalid value '", &printable(value), "' (expected ", expected, ")"])
}

/// A usage error of these words: one function rather than a `format!` at
/// every flag.
fn fail(words: &[&str]) -> UsageError {
    UsageError(words.concat())
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

/// `--cors`: `*`, or an origin (RFC 6454 §6.1) as a browser serializes it
/// in its Origin header: the scheme and host lowercase, the port only when
/// it is not the scheme's default, and no path.
fn cors_origin(text: &str) -> Option<String> {
    if text == "*" {
        return Some(text.into());
    }
    let mut origin = text.to_ascii_lowercase();
    let bytes = origin.as_bytes();
    let scheme = bytes.windows(3).position(|three| three == b"://")?;
    let host_at = scheme + 3;
    let authority = &bytes[host_at..];
    let host = match authority.strip_prefix(b"[") {
        Some(literal) => {
            let end = literal.iter().position(|&b| b == b']')?;
            let ipv6 = |b: &u8| b.is_ascii_hexdigit() || b":.".contains(b);
            if end == 0 || !literal[..end].iter().all(ipv6) {
                return None;
            }
            end + 2
        }
        None => {
            let end = authority.iter().position(|&b| b == b':').unwrap_or(authority.len());
            let reg_name = |b: &u8| b.is_ascii_alphanumeric() || b"-._~".contains(b);
            if end == 0 || !authority[..end].iter().all(reg_name) {
                return None;
            }
            end
        }
    };
    let scheme_char = |b: &u8| b.is_ascii_alphanumeric() || b"+-.".contains(b);
    if !bytes[0].is_ascii_alphabetic() || !bytes[..scheme].iter().all(scheme_char) {
        return None;
    }
    let host_end = host_at + host;
    // The port, without its leading zeros; none when it is the scheme's own.
    let port = match &bytes[host_end..] {
        [] => None,
        [b':', digits @ ..] if (1..=5).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) => {
            let value = digits.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0'));
            if value == 0 || value > 65535 {
                return None;
            }
            let default: &[u8] = match &bytes[..scheme] {
                b"http" | b"ws" => b"80",
                b"https" | b"wss" => b"443",
                _ => b"",
            };
            let zeros = digits.iter().take_while(|&&d| d == b'0').count();
            let port = host_end + 1 + zeros;
            (bytes[port..] != *default).then_some(port)
        }
        _ => return None,
    };
    Some(match port {
        Some(port) => [&origin[..=host_end], &origin[port..]].concat(),
        None => {
            origin.truncate(host_end);
            origin
        }
    })
}

/// `Name: value` -> `Name: value\r\n` at the end of `lines`, or why not.
fn header_line(text: &str, lines: &mut Vec<u8>) -> Result<(), &'static str> {
    let (name, value) = text.split_once(':').ok_or("'Name: value'")?;
    if !mote_site::mime::is_token(name) {
        return Err("a header name of letters, digits and !#$%&'*+-.^_`|~, then ': value'");
    }
    if MANAGED_HEADERS.iter().any(|managed| managed.eq_ignore_ascii_case(name)) {
        return Err("a header mote does not set itself");
    }
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() || !value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        return Err("a non-empty value of visible ASCII, spaces and tabs");
    }
    for part in [name, ": ", value, "\r\n"] {
        lines.extend_from_slice(part.as_bytes());
    }
    Ok(())
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
fn page_path(flag: &str, text: String, expected: &str) -> Result<String, UsageError> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    // Nothing before the first slash, an empty segment only last (no
    // `//`), and no dot segment.
    let mut segments = text.split('/');
    let mut valid = segments.next() == Some("") && !text.is_empty();
    let mut after_empty = false;
    for segment in segments {
        valid &= !after_empty && segment != "." && segment != ".." && segment.bytes().all(plain);
        after_empty = segment.is_empty();
    }
    if !valid {
        return Err(invalid(flag, &text, expected));
    }
    Ok(text)
}

fn non_empty(flag: &str, text: String, expected: &str) -> Result<String, UsageError> {
    if text.is_empty() {
        return Err(invalid(flag, &text, expected));
    }
    Ok(text)
}

/// What most numeric flags expect.
const WHOLE: &str = "a whole number";

/// A whole number from `min` to `max`; an error names `expected` (`WHOLE`,
/// or more) and the range.
fn number(flag: &str, text: &str, expected: &str, min: u64, max: u64) -> Result<u64, UsageError> {
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) && !text.starts_with('+') => Ok(n),
        _ => {
            let (mut low, mut high) = (itoa::Buffer::new(), itoa::Buffer::new());
            let range = [expected, " from ", low.format(min), " to ", high.format(max)].concat();
            Err(invalid(flag, text, &range))
        }
    }
}

/// Seconds, from `min` to a day.
fn seconds(flag: &str, text: &str, min: u64) -> Result<Duration, UsageError> {
    Ok(Duration::from_secs(number(flag, text, WHOLE, min, MAX_TIMEOUT_SECS)?))
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
            [
                "--header",
                "Content-Security-Policy: default-src 'self'",
                "--header=X-A:b",
                "--spa",
                "--listing",
                "--clean-urls",
            ]
            .map(String::from),
        ) else {
            panic!("valid flags rejected")
        };
        assert_eq!(config.headers, b"Content-Security-Policy: default-src 'self'\r\nX-A: b\r\n");
        assert!(config.spa && config.listing && config.clean_urls);
        let Ok(Command::Serve(config)) = parse_line("--mime .Foo=text/x-foo --mime=bar=application/x-bar;v=1") else {
            panic!("valid flags rejected")
        };
        assert_eq!(config.mime.content_type(b"a.foo"), "text/x-foo");
        assert_eq!(config.mime.content_type(b"a.bar"), "application/x-bar;v=1");
    }

    #[test]
    fn vhosts_are_matched_as_requests_are() {
        let Ok(Command::Serve(config)) = parse_line("--vhost A.Example.=/srv/a --vhost=b.example=/srv/b=c") else {
            panic!("not parsed");
        };
        let want = [("a.example", "/srv/a"), ("b.example", "/srv/b=c")];
        assert_eq!(config.vhosts, want.map(|(host, dir)| (host.to_string(), PathBuf::from(dir))));
    }

    #[test]
    fn proxy_and_healthcheck_flags() {
        let Ok(Command::Serve(config)) =
            parse_line("--trusted-proxy 10.0.0.0/8 --trusted-proxy=::1 --proxy-header X-Real-IP")
        else {
            panic!("valid flags rejected")
        };
        assert_eq!(config.proxies.trusted, [Cidr::parse("10.0.0.0/8").unwrap(), Cidr::parse("::1/128").unwrap()]);
        assert_eq!(config.proxies.header, ProxyHeader::XRealIp);
        let rows: &[(&str, Option<&str>)] = &[
            ("--healthcheck", None),
            ("--healthcheck --status /s", None),
            ("--healthcheck http://127.0.0.1:1/x --status /s", Some("http://127.0.0.1:1/x")),
            ("--listen 127.0.0.1:0 --healthcheck=http://[::1]:8/", Some("http://[::1]:8/")),
        ];
        for (line, want) in rows {
            let Ok(Command::Healthcheck(_, url)) = parse_line(line) else { panic!("{line}: not a health check") };
            assert_eq!(url.as_deref(), *want, "{line}");
        }
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
            ("--mime foo", "--mime: invalid value 'foo'"),
            ("--mime foo=text", "--mime: invalid value 'foo=text'"),
            ("--mime a=x/y --mime A=x/z", "--mime: invalid value 'A=x/z'"),
            ("--trusted-proxy 10.0.0.0/33", "--trusted-proxy: invalid value '10.0.0.0/33'"),
            ("--trusted-proxy proxy.lan", "--trusted-proxy: invalid value 'proxy.lan'"),
            ("--trusted-proxy", "--trusted-proxy needs a value"),
            ("--trusted-proxy ::1 --proxy-header via", "--proxy-header: invalid value 'via'"),
            ("--proxy-header forwarded", "--proxy-header goes with --trusted-proxy"),
            ("--auth nocolon", "--auth: invalid value '<hidden>'"),
            ("--spa=1", "--spa takes no value"),
            ("--verbose=1 --check", "--verbose takes no value"),
            ("-v", "--verbose goes with --check"),
            ("--max-memory 12Q", "--max-memory: invalid value '12Q'"),
            ("--max-memory 0", "--max-memory: invalid value '0'"),
            ("--vhost a.test", "--vhost: invalid value 'a.test'"),
            ("--vhost a.test=", "--vhost: invalid value 'a.test='"),
            ("--vhost =/srv", "--vhost: invalid value '=/srv'"),
            ("--vhost a_b.test=/srv", "--vhost: invalid value 'a_b.test=/srv'"),
            ("--vhost a.test:80=/srv", "--vhost: invalid value 'a.test:80=/srv'"),
            ("--vhost a.test=/a --vhost A.Test.=/b", "--vhost: a.test is named twice"),
            ("stray", "unexpected argument 'stray'"),
            ("--cors https://a.example/", "--cors: invalid value 'https://a.example/'"),
            ("--cors a.example", "--cors: invalid value 'a.example'"),
            ("--cors null", "--cors: invalid value 'null'"),
            ("--cors https://", "--cors: invalid value 'https://'"),
            ("--cors http://a:0", "--cors: invalid value 'http://a:0'"),
            ("--cors http://a:65536", "--cors: invalid value 'http://a:65536'"),
            ("--cors http://a:", "--cors: invalid value 'http://a:'"),
            ("--cors http://u@a", "--cors: invalid value 'http://u@a'"),
            ("--cors http://[a", "--cors: invalid value 'http://[a'"),
            ("--cors http://a[b]", "--cors: invalid value 'http://a[b]'"),
            ("--cors * --cors http://a", "--cors: * allows every origin"),
            ("--cors * --auth u:p", "--cors '*' cannot go with --auth"),
            ("--cors * --auth-file /f", "--cors '*' cannot go with --auth"),
            ("--cors http://a --header Access-Control-Max-Age:1", "--header: --cors sets"),
        ];
        for (line, message) in rows {
            match parse_line(line) {
                Err(UsageError(text)) => assert!(text.starts_with(message), "{line}: {text}"),
                Ok(_) => panic!("{line} accepted"),
            }
        }
        // CR LF in a type would split the header it goes into.
        let Err(UsageError(text)) = parse(["--mime=foo=text/plain\r\nX: 1".to_string()]) else { panic!("accepted") };
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with("--mime: invalid value 'foo=text/plain\\x0d\\x0aX: 1'"), "{text}");
        assert!(matches!(parse_line("--help"), Ok(Command::Help)));
        assert!(matches!(parse_line("--version"), Ok(Command::Version)));
        assert!(matches!(parse_line("--check -v"), Ok(Command::Check(Config { verbose: true, .. }))));
    }

    #[test]
    fn cors_origins_are_kept_as_browsers_send_them() {
        let rows: &[(&str, &str)] = &[
            ("*", "*"),
            ("https://example.org", "https://example.org"),
            ("HTTPS://Example.ORG", "https://example.org"),
            ("https://example.org:443", "https://example.org"),
            ("http://localhost:80", "http://localhost"),
            ("http://localhost:8080", "http://localhost:8080"),
            ("https://example.org:08443", "https://example.org:8443"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("http://127.0.0.1", "http://127.0.0.1"),
            ("chrome-extension://abcdef", "chrome-extension://abcdef"),
        ];
        for (given, kept) in rows {
            let Ok(Command::Serve(config)) = parse(["--cors", given].map(String::from)) else { panic!("{given}") };
            assert_eq!(config.cors, [kept.to_string()], "{given}");
        }
        let Ok(Command::Serve(config)) = parse_line("--cors http://a --cors=HTTP://A:80 --cors https://b --auth u:p")
        else {
            panic!("valid flags rejected")
        };
        assert_eq!(config.cors, ["http://a", "https://b"], "each once");
    }

    #[cfg(not(feature = "acme"))]
    #[test]
    fn acme_flags_need_an_acme_build() {
        for line in ["--acme example.org --listen-tls 127.0.0.1:0", "--acme-staging", "--acme-dir=/tmp"] {
            match parse_line(line) {
                Err(UsageError(text)) => assert!(text.contains("built without ACME"), "{line}: {text}"),
                Ok(_) => panic!("{line} accepted"),
            }
        }
    }

    #[cfg(feature = "acme")]
    #[test]
    fn acme_flags() {
        let Ok(Command::Serve(config)) = parse_line(
            "--listen 127.0.0.1:0 --listen-tls 127.0.0.1:0 --acme Example.org,www.example.org --acme=b.example \
             --acme-dir /srv/acme --acme-staging --acme-email ops@example.org --acme-profile shortlived \
             --acme-challenge tls-alpn-01 --acme-ca-file /etc/roots.pem",
        ) else {
            panic!("valid flags rejected")
        };
        assert_eq!(config.acme, [vec!["example.org", "www.example.org"], vec!["b.example"]]);
        assert_eq!(config.acme_dir, PathBuf::from("/srv/acme"));
        assert_eq!(config.acme_directory, LETS_ENCRYPT_STAGING);
        assert_eq!(config.acme_email.as_deref(), Some("ops@example.org"));
        assert_eq!(config.acme_profile.as_deref(), Some("shortlived"));
        assert_eq!(config.acme_challenge, AcmeChallenge::TlsAlpn01);
        assert_eq!(config.acme_ca_file, Some(PathBuf::from("/etc/roots.pem")));
        assert!(config.tls_cert.is_empty() && config.tls_key.is_empty());
        let Ok(Command::Serve(config)) = parse_line("--listen-tls 127.0.0.1:0 --acme a.example") else {
            panic!("valid flags rejected")
        };
        assert_eq!(config.acme_dir, PathBuf::from(DEFAULT_ACME_DIR));
        assert_eq!(config.acme_directory, LETS_ENCRYPT);
        assert_eq!(config.acme_challenge, AcmeChallenge::Auto);
        assert!(config.listen.is_empty(), "no plain listener unless asked for");
    }

    #[cfg(feature = "acme")]
    #[test]
    fn acme_errors_are_one_line_naming_the_flag() {
        let tls = "--listen-tls 127.0.0.1:0";
        let rows: &[(&str, &str)] = &[
            ("--acme *.example.org", "--acme: *.example.org is a wildcard, which needs the DNS-01 challenge"),
            ("--acme a.example,*.b.example", "--acme: *.b.example is a wildcard"),
            ("--acme=", "--acme: invalid value ''"),
            ("--acme a..example", "--acme: invalid value 'a..example'"),
            ("--acme a.example,", "--acme: invalid value 'a.example,'"),
            ("--acme -a.example", "--acme: invalid value '-a.example'"),
            ("--acme a_b.example", "--acme: invalid value 'a_b.example'"),
            ("--acme 192.0.2.1", "--acme: invalid value '192.0.2.1'"),
            ("--acme [::1]", "--acme: invalid value '[::1]'"),
            ("--acme example.org.", "--acme: invalid value 'example.org.'"),
            ("--acme a.example,A.example", "--acme: a.example is named twice"),
            ("--acme a.example --acme b.example,a.example", "--acme: a.example is already named by another --acme"),
            ("--acme-challenge dns-01", "--acme-challenge: invalid value 'dns-01'"),
            ("--acme-directory http://ca.example/dir", "--acme-directory: invalid value 'http://ca.example/dir'"),
            ("--acme-directory https:///dir", "--acme-directory: invalid value 'https:///dir'"),
            ("--acme-email nobody", "--acme-email: invalid value 'nobody'"),
            ("--acme-email a@b,c@d", "--acme-email: invalid value 'a@b,c@d'"),
            ("--acme-profile a/b", "--acme-profile: invalid value 'a/b'"),
            ("--acme-dir=", "--acme-dir: invalid value ''"),
            ("--acme-staging=1", "--acme-staging takes no value"),
        ];
        for (flags, message) in rows {
            let line = format!("{tls} {flags}");
            match parse_line(&line) {
                Err(UsageError(text)) => {
                    assert!(text.starts_with(message), "{line}: {text}");
                    assert!(!text.contains('\n'), "{line}: one line");
                }
                Ok(_) => panic!("{line} accepted"),
            }
        }
        let long = format!("--acme {}", (0..101).map(|i| format!("n{i}.example")).collect::<Vec<_>>().join(","));
        let rows: &[(&str, &str)] = &[
            ("--acme a.example", "--acme needs --listen-tls"),
            ("--acme-email a@b.example", "--acme-email needs --acme"),
            ("--acme-staging", "--acme-staging needs --acme"),
            (
                "--listen-tls 127.0.0.1:0 --acme a.example --acme-challenge http-01",
                "--acme-challenge http-01 needs a plain --listen",
            ),
            (
                "--listen-tls 127.0.0.1:0 --acme a.example --acme-staging --acme-directory https://ca.example/d",
                "--acme-staging and --acme-directory",
            ),
            ("--listen-tls 127.0.0.1:0 --acme a.example --tls-cert c.pem", "--listen-tls needs --tls-key"),
            (
                "--listen-tls 127.0.0.1:0 --tls-cert c.pem --tls-key k.pem --acme-profile x",
                "--acme-profile needs --acme",
            ),
            ("--listen-tls 127.0.0.1:0 --tls-cert c.pem", "--listen-tls needs --tls-key"),
            ("--listen-tls 127.0.0.1:0", "--listen-tls needs --tls-cert"),
            (&long, "--acme: at most 100 names"),
        ];
        for (line, message) in rows {
            match parse_line(line) {
                Err(UsageError(text)) => assert!(text.starts_with(message), "{line}: {text}"),
                Ok(_) => panic!("{line} accepted"),
            }
        }
        // A pair beside --acme serves the names no --acme covers.
        let pair =
            "--listen-tls 127.0.0.1:0 --acme a.example --tls-cert c.pem --tls-key k.pem --acme-challenge http-01 \
                    --listen 127.0.0.1:0";
        assert!(matches!(parse_line(pair), Ok(Command::Serve(_))));
    }
}
