//! mote: a tiny, strict HTTP/1.1 static-site server.
//!
//! This file only orders start-up: flags -> logs -> listeners -> chroot and
//! user -> site -> workers -> signals -> join. The site is loaded after
//! privileges are dropped, so its files are read as the serving user.
//! Set-up errors print one line naming what is wrong and exit non-zero (2
//! for usage, 1 for everything else), so busybox init's respawn loop shows
//! why on the console instead of spinning silently.
#![deny(unsafe_code)]

// The layers, in the order a request meets them: `net/` reads it, `http/`
// says what it means, `answer/` picks its response from `catalog/`. `ops/`
// runs the process and `sys/` holds the only unsafe code. What a file
// becomes (type, cache rule, heads) is the `mote-site` crate in `site/`,
// which build.rs shares.
#[cfg(feature = "acme")]
mod acme;
mod answer;
mod catalog;
mod http;
mod net;
mod ops;
mod sys;

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

use catalog::embedded;
use http::auth::Auth;
use mote_site::check;
use mote_site::walk::error_text;
use net::shared::Shared;
use net::worker::Worker;
use ops::config::{self, Command, Config};
use ops::log::{self, AccessLog};
use ops::{address, identity, signals};

/// Descriptors kept back from `--max-conns`' default: listeners, large files
/// held open, the poll and waker descriptors, and a margin for accept bursts.
const RESERVED_FDS: u64 = 64;
const LISTEN_BACKLOG: i32 = 1024;

fn main() -> ExitCode {
    let config = match config::parse(std::env::args().skip(1)) {
        Ok(Command::Serve(config)) => config,
        Ok(Command::Check(config)) => return check_site(&config),
        Ok(Command::Healthcheck(config, url)) => return healthcheck(&config, url.as_deref()),
        Ok(Command::Help) => {
            log::stdout_text(config::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            // The build's options follow the version: tests and scripts ask it.
            log::stdout_text(if cfg!(feature = "acme") && cfg!(feature = "tls12") {
                concat!("mote ", env!("CARGO_PKG_VERSION"), " (TLS, ACME)\n")
            } else if cfg!(feature = "acme") {
                concat!("mote ", env!("CARGO_PKG_VERSION"), " (TLS 1.3, ACME)\n")
            } else if cfg!(feature = "tls12") {
                concat!("mote ", env!("CARGO_PKG_VERSION"), " (TLS)\n")
            } else if cfg!(feature = "tls") {
                concat!("mote ", env!("CARGO_PKG_VERSION"), " (TLS 1.3)\n")
            } else {
                concat!("mote ", env!("CARGO_PKG_VERSION"), "\n")
            });
            return ExitCode::SUCCESS;
        }
        Err(config::UsageError(message)) => {
            log::stderr_line(format_args!("mote: {message}"));
            return ExitCode::from(2);
        }
    };
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            log::error(&message);
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> Result<(), String> {
    // Blocked before any thread exists, so every thread inherits the mask
    // and they are only ever taken synchronously: by the lone worker's
    // signalfd, or by the signal thread beside several workers.
    sys::block_signals();
    if let Some(socket) = &config.syslog {
        log::open_syslog(socket);
    }
    let identity = config.user.as_deref().map(identity::resolve).transpose()?;
    let access_log = config.access_log.as_deref().map(AccessLog::open).transpose()?;
    let auth = credentials(&config)?.map(Auth::new);
    if auth.is_some() {
        warn_public_rules(&config);
    }
    // The CA's roots, read before any chroot hides them.
    #[cfg(feature = "acme")]
    let acme = (!config.acme.is_empty()).then(|| acme::prepare(&config)).transpose()?;
    #[cfg(feature = "acme")]
    let (challenges, certs) = (Arc::new(acme::challenge::Challenges::new()), Arc::new(acme::challenge::Certs::new()));
    // Opened and judged while the key is still readable.
    #[cfg(all(feature = "tls", not(feature = "acme")))]
    let https = https(&config)?;
    #[cfg(feature = "acme")]
    let https = if acme.is_some() { acme_https(&config, &challenges, &certs)? } else { https(&config)? };
    // --https-redirect sends clients only where a certificate answers them.
    #[cfg(feature = "acme")]
    challenges.redirect_by(config.tls_cert.is_empty().then(|| certs.clone()));
    let file_limit = sys::raise_file_limit();
    // Under a small limit (ulimit -n 64) keep half for connections rather than one.
    let max_conns =
        config.max_conns.unwrap_or_else(|| file_limit.saturating_sub(RESERVED_FDS).max(file_limit / 2).max(1) as usize);

    let mut listeners = Vec::new();
    for &addr in config.listen.iter().chain(&config.listen_tls) {
        let listener = sys::listen(addr, LISTEN_BACKLOG).map_err(|e| {
            format!("cannot listen on {}: {}", address::socket(addr), error_text(&e).to_ascii_lowercase())
        })?;
        listeners.push(listener);
    }
    // Bound (port 80 needs root); now give up what is no longer needed.
    if let Some(dir) = &config.chroot {
        sys::chroot(dir).map_err(|e| format!("--chroot {}: {}", dir.display(), error_text(&e)))?;
    }
    if let Some(identity) = identity {
        sys::become_user(identity.uid, identity.gid).map_err(|e| format!("--user: {}", error_text(&e)))?;
    }
    // --acme-dir is opened (and proved writable) as the user that will
    // write it, inside any chroot; its certificates are installed before a
    // listener serves. Its thread starts last, with the workers.
    #[cfg(feature = "acme")]
    let (acme, mut acme_client) =
        acme.map(|prepared| acme::open(prepared, &config, challenges.clone(), certs.clone())).transpose()?.unzip();
    let (catalog, memory_conns) = Shared::load_catalog(&config)?;

    let threads = config.threads;
    let plain = config.listen.len();
    #[allow(unused_mut)]
    let mut shared = Shared::new(config, catalog, max_conns, access_log, auth);
    #[cfg(feature = "acme")]
    if acme.is_some() {
        shared.acme = acme;
        shared.challenges = Some(challenges);
    }
    #[cfg(feature = "tls")]
    {
        shared.https = https;
        // The first HTTPS listener's port, as bound (port 0 picks one).
        if shared.config.https_redirect {
            let first = listeners.get(plain).map(TcpListener::local_addr).transpose();
            shared.redirect_port = first.map_err(|e| format!("listener: {}", error_text(&e)))?.map(|a| a.port());
        }
    }
    let shared = Arc::new(shared);
    shared.memory_conns.store(memory_conns, std::sync::atomic::Ordering::Relaxed);
    let mut workers = Vec::new();
    let mut wakers = Vec::new();
    for id in 0..threads {
        let copies = listeners.iter().map(TcpListener::try_clone).collect::<Result<Vec<_>, _>>();
        let copies = copies.map_err(|e| format!("cannot share a listener: {}", error_text(&e)))?;
        let (worker, waker) =
            Worker::new(id, copies, shared.clone()).map_err(|e| format!("cannot start a worker: {e}"))?;
        workers.push(worker);
        wakers.push(waker);
    }
    for (i, listener) in listeners.iter().enumerate() {
        let bound = listener.local_addr().map_err(|e| format!("listener: {}", error_text(&e)))?;
        let scheme = if i < plain { "http" } else { "https" };
        log::notice(&format!("listening on {scheme}://{}", address::socket(bound)));
    }
    // One worker is the process's only thread (ops/signals.rs says why; with
    // --acme the ACME client's runs beside it), unless signalfd is refused
    // (a seccomp filter): then a thread waits for the signals.
    if let ([worker], [waker]) = (&mut workers[..], &wakers[..]) {
        if worker.own_signals(waker.clone()).is_ok() {
            #[cfg(feature = "acme")]
            if let Some(client) = acme_client.take() {
                acme::spawn(client)?;
            }
            workers.into_iter().for_each(Worker::run);
            return Ok(());
        }
    }
    signals::spawn(shared, wakers).map_err(|e| format!("cannot start the signal thread: {e}"))?;
    let handles: Vec<_> = workers
        .into_iter()
        .map(|worker| sys::spawn(c"worker", Box::new(move || worker.run())))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot start a worker thread: {e}"))?;
    #[cfg(feature = "acme")]
    if let Some(client) = acme_client.take() {
        acme::spawn(client)?;
    }
    for handle in handles {
        handle.join();
    }
    Ok(())
}

/// The HTTPS server, when asked for: each `--tls-cert` and `--tls-key`
/// opened (and kept open for reloads) and judged before privileges drop.
#[cfg(feature = "tls")]
fn https(config: &Config) -> Result<Option<(net::tls::Server, Vec<ops::certs::Material>)>, String> {
    let (pairs, materials) = pairs(config)?;
    if pairs.is_empty() {
        return Ok(None);
    }
    Ok(Some((net::tls::Server::new(pairs)?, materials)))
}

/// With `--acme`: the HTTPS server that picks each name's certificate and
/// answers TLS-ALPN-01, with `--tls-cert`'s pair, if any, for other names.
#[cfg(feature = "acme")]
fn acme_https(
    config: &Config,
    challenges: &Arc<acme::challenge::Challenges>,
    certs: &Arc<acme::challenge::Certs>,
) -> Result<Option<(net::tls::Server, Vec<ops::certs::Material>)>, String> {
    let (fallback, materials) = pairs(config)?;
    Ok(Some((net::tls::Server::with_acme(fallback, challenges.clone(), certs.clone())?, materials)))
}

/// Each `--tls-cert` and its `--tls-key`: opened, loaded and judged.
#[cfg(feature = "tls")]
type Pairs = (Vec<net::tls::Pair>, Vec<ops::certs::Material>);

#[cfg(feature = "tls")]
fn pairs(config: &Config) -> Result<Pairs, String> {
    let (mut pairs, mut materials) = (Vec::new(), Vec::new());
    let now = net::shared::plausible_unix_now();
    for (cert, key) in config.tls_cert.iter().zip(&config.tls_key) {
        let material = ops::certs::Material::open(cert, key)?;
        let loaded = material.load(now)?;
        if let Some(warning) = &loaded.warning {
            log::error(warning);
        }
        // A Pi without a real-time clock boots in 1970: refusing the pair then
        // would have init respawn mote until NTP answers. Said once, here; a
        // reload after the clock is set judges the dates again.
        if now.is_none() {
            log::error(&format!(
                "warning: the clock reads earlier than this build of mote; the dates of --tls-cert {} are not \
                 checked; a reload (SIGHUP) after the clock is set checks them",
                cert.display()
            ));
        }
        pairs.push(loaded.pair);
        materials.push(material);
    }
    warn_uncovered(config, &pairs);
    Ok((pairs, materials))
}

/// A `--vhost` that no certificate covers gets, over HTTPS, another name's
/// certificate (which a browser refuses) and then 421: said at start.
#[cfg(feature = "tls")]
fn warn_uncovered(config: &Config, pairs: &[net::tls::Pair]) {
    #[cfg(feature = "acme")]
    let by_acme = |host: &String| config.acme.iter().flatten().any(|name| name == host);
    #[cfg(not(feature = "acme"))]
    let by_acme = |_: &String| false;
    let listening = !config.listen_tls.is_empty();
    for (host, _) in config.vhosts.iter().filter(|_| listening) {
        if !by_acme(host) && !pairs.iter().any(|pair| net::tls::covers(&pair.names, host.as_bytes())) {
            log::error(&format!("warning: --vhost {host}: no certificate covers it; HTTPS clients cannot reach it"));
        }
    }
}

/// `--auth` and `--auth-file` together; read before any chroot.
fn credentials(config: &Config) -> Result<Option<Vec<Vec<u8>>>, String> {
    let mut credentials = config.auth.clone();
    if let Some(path) = &config.auth_file {
        let text = sys::read_to_string(path.as_ref()).map_err(|e| format!("--auth-file {path}: {}", error_text(&e)))?;
        credentials.extend(Auth::parse_file(path, &text)?);
    }
    Ok((!credentials.is_empty()).then_some(credentials))
}

/// Under `--auth`, a `--cache-control` rule that says `public` is sent as
/// given, but RFC 9111 §3.5 then lets a shared cache hand the protected
/// files it matches to anyone: one line each, and mote still starts.
fn warn_public_rules(config: &Config) {
    for rule in config.cache_rules.iter().filter(|rule| rule.says_public()) {
        log::error(&format!(
            "warning: --cache-control '{}={}' says public: shared caches may give the files it matches \
             to clients without credentials",
            rule.glob.as_bytes().escape_ascii(),
            rule.value
        ));
    }
}

/// `mote --healthcheck [URL]`: exit 0 when the server answers 2xx or 3xx,
/// else 1 with one line saying why.
fn healthcheck(config: &Config, url: Option<&str>) -> ExitCode {
    // The same flags as the server's: its first credentials get past --auth.
    let result = credentials(config).and_then(|pairs| {
        ops::healthcheck::probe(config, url, pairs.as_ref().and_then(|pairs| pairs.first()).map(Vec::as_slice))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            log::stderr_line(format_args!("mote: --healthcheck {why}"));
            ExitCode::FAILURE
        }
    }
}

/// `mote --check`: the manifest and findings on stdout, exit 1 on errors;
/// with `--vhost`, a section for each site, headed by the flag that names it.
fn check_site(config: &Config) -> ExitCode {
    let sections = !config.vhosts.is_empty();
    if !sections && config.root.is_none() {
        log::stdout_text(&embedded::manifest(&config.cache_rules, config.audience(), &config.mime));
        return ExitCode::SUCCESS;
    }
    let mut sound = true;
    for (host, dir) in &config.vhosts {
        log::stdout_text(&format!("== --vhost {host}={}\n", dir.display()));
        sound &= check_dir(config, dir);
    }
    if let Some(root) = &config.root {
        if sections {
            log::stdout_text(&format!("== --root {}\n", root.display()));
        }
        sound &= check_dir(config, root);
    }
    if sound {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One site's `--check`: whether it has no errors.
fn check_dir(config: &Config, root: &std::path::Path) -> bool {
    let report = check::check(root, &config.cache_rules, config.audience(), &config.mime, true, |path| {
        sys::open(path, libc::O_RDONLY)
    });
    log::stdout_text(&report.render(config.verbose));
    report.errors.is_empty() && check_redirects(root)
}

/// `--check`'s part for `_redirects`: each rule, then each line skipped (an
/// error: the site would not be served as its owner wrote it).
fn check_redirects(root: &std::path::Path) -> bool {
    let (redirects, skipped) = match catalog::redirects::Redirects::read(root) {
        Ok(read) => read,
        Err(why) => {
            log::stdout_text(&format!("error: {why}\n"));
            return false;
        }
    };
    let mut out = String::new();
    for rule in &redirects.rules {
        out.push_str(&rule.describe());
        out.push('\n');
    }
    for line in &skipped {
        out.push_str(&format!("error: {}:{}: {}; line skipped\n", mote_site::walk::REDIRECTS, line.line, line.why));
    }
    if !redirects.rules.is_empty() || !skipped.is_empty() {
        out.push_str(&format!("{} redirect rules, {} lines skipped\n", redirects.rules.len(), skipped.len()));
    }
    log::stdout_text(&out);
    skipped.is_empty()
}
