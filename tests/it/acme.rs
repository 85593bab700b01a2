//! mote's own ACME client (`--acme`, the `acme` build) against a real CA on
//! loopback: pebble, rejecting 5% of nonces as Let's Encrypt may, with
//! pebble-challtestsrv resolving every name to 127.0.0.1. Certificates are
//! checked by clients that trust only pebble's root.
//!
//! The tests that move the client's clock (`MOTE_TEST_CLOCK_FILE`) need a
//! binary built with the `test-clock` feature, as `make test ACME=1` builds
//! it; they are compiled only with that feature, so the rest runs against
//! the ARM build of `make pi-test ACME=1`, which has no such clock.
use crate::common::*;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest a certificate may take to arrive (pebble answers at once;
/// the machine may be loaded).
const ISSUE_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether the binary under test has the ACME client and the test tools are
/// there; says why not when they are not.
fn ready() -> bool {
    if !binary_has_acme() {
        eprintln!("skipping: {} was built without ACME (make test ACME=1 runs this)", bin());
        return false;
    }
    !acme_tools_missing()
}

/// A mote with `--acme` flags against `pebble`, its state in `dir`.
fn mote(pebble: &Pebble, dir: &Path, listen: &[String], args: &[&str], env: &[(&str, &str)]) -> Server {
    mote_at(&pebble.directory(), pebble, dir, listen, args, env)
}

/// The same, with the ACME directory at `directory` (a front for pebble).
fn mote_at(
    directory: &str,
    pebble: &Pebble,
    dir: &Path,
    listen: &[String],
    args: &[&str],
    env: &[(&str, &str)],
) -> Server {
    let ca = pebble.server_ca();
    let mut all: Vec<&str> = vec!["--acme-directory", directory, "--acme-ca-file", ca.to_str().unwrap()];
    all.extend(["--acme-dir", dir.to_str().unwrap()]);
    all.extend(listen.iter().map(String::as_str));
    all.extend(args);
    Server::start_with_env(env, &all)
}

fn listen(http: Option<u16>, tls: u16) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(http) = http {
        args.extend(["--listen".to_string(), format!("127.0.0.1:{http}")]);
    }
    args.extend(["--listen-tls".to_string(), format!("127.0.0.1:{tls}")]);
    args
}

/// Waits for a line of mote's stderr containing `text`; panics with the
/// logs after `limit`.
fn wait_log(server: &Server, pebble: &Pebble, text: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let log = server.stderr();
        if let Some(line) = log.lines().find(|line| line.contains(text)) {
            return line.to_string();
        }
        assert!(Instant::now() < deadline, "no `{text}` in mote's log:\n{log}\npebble:\n{}", pebble.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// GET / over HTTPS for `name` on `port`, trusting only `root`: the status
/// code and the serial of the certificate, as curl and openssl see them.
fn fetch(root: &Path, name: &str, port: u16) -> Result<(String, String), String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code} %{certs}", "--cacert"])
        .arg(root)
        .args(["--resolve", &format!("{name}:{port}:127.0.0.1"), &format!("https://{name}:{port}/")])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("curl: {}{text}", String::from_utf8_lossy(&out.stderr)));
    }
    let (code, certs) = text.split_once(' ').unwrap_or((&text, ""));
    let serial = certs
        .lines()
        .find_map(|line| line.strip_prefix("Serial Number:"))
        .map(|serial| serial.trim().to_string())
        .unwrap_or_default();
    Ok((code.to_string(), serial))
}

fn pebble(http_port: u16, tls_port: u16, validity: Option<u64>) -> Pebble {
    Pebble::with(PebbleOptions { http_port, tls_port, validity, reject_nonces: true, ..PebbleOptions::default() })
}

#[test]
fn http01_gets_a_certificate_from_a_cold_start_and_a_restart_reuses_it() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    let dir = TempDir::new("acme-http01");
    let state = dir.path().join("state");
    let started = Instant::now();
    // pebble lists no profiles: the certificate is ordered without one.
    let flags = ["--acme", "a.mote.test,b.mote.test", "--acme-profile", "shortlived"];
    let server = mote(&pebble, &state, &listen(Some(http), tls), &flags, &[]);
    let issued = wait_log(&server, &pebble, "certificate issued", ISSUE_TIMEOUT);
    wait_log(&server, &pebble, "the CA lists no profile shortlived; ordering without one", Duration::ZERO);
    eprintln!("issued {:?} after the start: {issued}", started.elapsed());
    assert!(issued.contains("a.mote.test,b.mote.test: certificate issued by http-01, serial "), "{issued}");
    // The start-up names the CA, and its first visit the terms --acme agrees to.
    let terms = wait_log(&server, &pebble, "agreeing to its terms", Duration::ZERO);
    assert!(terms.contains(&pebble.directory()), "{terms}");
    let terms = wait_log(&server, &pebble, "names its terms", Duration::ZERO);
    assert!(terms.contains(&pebble.directory()) && terms.contains("data:text/plain"), "{terms}");
    let root = pebble.root();
    for name in ["a.mote.test", "b.mote.test"] {
        let (code, serial) = fetch(&root, name, tls).unwrap_or_else(|e| panic!("{name}: {e}\n{}", server.stderr()));
        assert_eq!(code, "200");
        assert!(issued.contains(&serial.replace(':', "").to_lowercase()), "{serial} vs {issued}");
    }
    assert_eq!(pebble.orders(), 1, "{}", pebble.log());
    drop(server);

    // A restart serves the stored certificate at once and orders nothing.
    let server = mote(&pebble, &state, &listen(Some(http), tls), &flags, &[]);
    let stored = wait_log(&server, &pebble, "serving the stored certificate", Duration::ZERO);
    // The start names the terms the first visit stored, before any visit.
    let terms = wait_log(&server, &pebble, "agreeing to its terms", Duration::ZERO);
    assert!(terms.contains(&pebble.directory()) && terms.contains("data:text/plain"), "{terms}");
    let (code, serial) = fetch(&root, "a.mote.test", tls).unwrap_or_else(|e| panic!("{e}\n{}", server.stderr()));
    assert_eq!(code, "200");
    assert!(stored.contains(&serial.replace(':', "").to_lowercase()), "{serial} vs {stored}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(pebble.orders(), 1, "a restart ordered again:\n{}", server.stderr());
    assert!(!server.stderr().contains("certificate issued"), "{}", server.stderr());
    // SIGHUP re-checks each certificate and says what it found.
    server.signal("HUP");
    let checked = wait_log(&server, &pebble, "next renewal", Duration::from_secs(10));
    assert!(checked.starts_with("acme: a.mote.test,b.mote.test: valid until "), "{checked}");
    assert_eq!(pebble.orders(), 1);
}

/// The one directory below `--acme-dir` (one CA's state).
fn ca_dir(state: &Path) -> std::path::PathBuf {
    let mut dirs = std::fs::read_dir(state).unwrap().map(|entry| entry.unwrap().path()).filter(|p| p.is_dir());
    let dir = dirs.next().expect("no CA directory");
    assert!(dirs.next().is_none());
    dir
}

#[test]
fn a_corrupt_state_or_a_broken_pair_is_said_and_nothing_wrong_is_served() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    let dir = TempDir::new("acme-corrupt");
    let state = dir.path().join("state");
    let start = || mote(&pebble, &state, &listen(Some(http), tls), &["--acme", "c.mote.test"], &[]);
    let server = start();
    wait_log(&server, &pebble, "certificate issued", ISSUE_TIMEOUT);
    drop(server);
    let root = pebble.root();

    // A truncated state file: said in one line, and the certificate, which
    // still covers the name, is served without a new order.
    let ca = ca_dir(&state);
    let state_file = ca.join("c.mote.test.state");
    let text = std::fs::read(&state_file).unwrap();
    std::fs::write(&state_file, &text[..text.len() / 2]).unwrap();
    let server = start();
    let said = wait_log(&server, &pebble, "c.mote.test.state", Duration::ZERO);
    assert_eq!(said.lines().count(), 1);
    wait_log(&server, &pebble, "serving the stored certificate", Duration::ZERO);
    let (code, served) = fetch(&root, "c.mote.test", tls).unwrap();
    assert_eq!(code, "200");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(pebble.orders(), 1, "{}", server.stderr());
    drop(server);

    // A power cut while a renewal wrote its pair: the new pair's directory
    // half-written (a chain cut short, no key) and the link that would
    // switch to it made but not renamed into place. The pair in place is
    // served, silently, and nothing is ordered.
    let live = std::fs::read_link(ca.join("c.mote.test")).unwrap();
    let other = if live.to_str() == Some("c.mote.test.a") { "c.mote.test.b" } else { "c.mote.test.a" };
    std::fs::create_dir(ca.join(other)).unwrap();
    let chain_text = std::fs::read(ca.join("c.mote.test").join("chain.pem")).unwrap();
    std::fs::write(ca.join(other).join("chain.pem"), &chain_text[..chain_text.len() / 2]).unwrap();
    std::os::unix::fs::symlink(other, ca.join("c.mote.test.link")).unwrap();
    let server = start();
    wait_log(&server, &pebble, "serving the stored certificate", Duration::ZERO);
    assert_eq!(fetch(&root, "c.mote.test", tls).unwrap(), ("200".to_string(), served));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(pebble.orders(), 1, "{}", server.stderr());
    assert!(!server.stderr().contains("cannot be used"), "{}", server.stderr());
    drop(server);

    // A pair whose chain was cut short (a disk that lost a write): said,
    // never served, and a new certificate is ordered.
    let pair = std::fs::canonicalize(ca.join("c.mote.test")).unwrap();
    let chain = pair.join("chain.pem");
    let pem = std::fs::read(&chain).unwrap();
    std::fs::write(&chain, &pem[..pem.len() / 3]).unwrap();
    let server = start();
    let said = wait_log(&server, &pebble, "the stored certificate cannot be used", Duration::ZERO);
    assert!(said.contains("c.mote.test"), "{said}");
    wait_log(&server, &pebble, "certificate issued", ISSUE_TIMEOUT);
    assert_eq!(pebble.orders(), 2);
    assert_eq!(fetch(&root, "c.mote.test", tls).unwrap().0, "200");
    drop(server);

    // A certificate beside a key that is not its own: said, never served
    // (curl, trusting pebble's root, would fail the handshake), and a new
    // certificate is ordered.
    let pair = std::fs::canonicalize(ca.join("c.mote.test")).unwrap();
    let stray = dir.path().join("stray");
    let made = Command::new("openssl")
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
        .arg(&stray)
        .status()
        .unwrap();
    assert!(made.success());
    let made = Command::new("openssl")
        .args(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in"])
        .arg(&stray)
        .arg("-out")
        .arg(pair.join("key.der"))
        .status()
        .unwrap();
    assert!(made.success());
    let server = start();
    let said = wait_log(&server, &pebble, "the stored certificate cannot be used", Duration::ZERO);
    assert!(said.contains("the key is not the certificate's"), "{said}");
    wait_log(&server, &pebble, "certificate issued", ISSUE_TIMEOUT);
    assert_eq!(pebble.orders(), 3);
    assert_eq!(fetch(&root, "c.mote.test", tls).unwrap().0, "200");
}

#[test]
fn tls_alpn01_gets_a_certificate_with_only_a_tls_listener() {
    if !ready() {
        return;
    }
    let tls = free_port();
    let pebble = pebble(0, tls, None);
    let dir = TempDir::new("acme-alpn");
    let server = mote(&pebble, dir.path(), &listen(None, tls), &["--acme", "alpn.mote.test"], &[]);
    let issued = wait_log(&server, &pebble, "certificate issued", ISSUE_TIMEOUT);
    assert!(issued.contains("alpn.mote.test: certificate issued by tls-alpn-01, serial "), "{issued}");
    let (code, _) = fetch(&pebble.root(), "alpn.mote.test", tls).unwrap_or_else(|e| panic!("{e}\n{}", server.stderr()));
    assert_eq!(code, "200");
}

/// mote with `--acme BAD --acme GOOD` by HTTP-01 and `extra` flags, on
/// `(http, tls)`. pebble resolves BAD to 127.0.0.2, where nothing listens
/// (mote is on 127.0.0.1 only): it never validates.
fn good_and_bad(pebble: &Pebble, dir: &Path, ports: (u16, u16), names: (&str, &str), extra: &[&str]) -> Server {
    let (good, bad) = names;
    pebble.resolve(bad, "127.0.0.2");
    let args = [&["--acme", bad, "--acme", good, "--acme-challenge", "http-01"][..], extra].concat();
    mote(pebble, dir, &listen(Some(ports.0), ports.1), &args, &[])
}

#[test]
fn a_name_that_cannot_validate_does_not_hold_up_another() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    let dir = TempDir::new("acme-two");
    let server = good_and_bad(&pebble, dir.path(), (http, tls), ("good.mote.test", "bad.mote.test"), &[]);
    wait_log(&server, &pebble, "good.mote.test: certificate issued by http-01", ISSUE_TIMEOUT);
    let failed = wait_log(&server, &pebble, "attempt 1 failed", ISSUE_TIMEOUT);
    assert!(failed.contains("bad.mote.test: ") && failed.contains("next in 60 s"), "{failed}");
    let (code, _) = fetch(&pebble.root(), "good.mote.test", tls).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, "200");
    // The name without a certificate fails its handshakes.
    assert!(fetch(&pebble.root(), "bad.mote.test", tls).is_err());
}

/// A keep-alive client and a stream of new connections over HTTPS for
/// `name`, trusting only the root; prints `ready`, then at the stop file
/// `ok FAILED SERIALS...` (the serials new connections met, in order).
const LOAD: &str = r#"
import http.client, os, socket, ssl, sys, time
port, name, root, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=root)
def conn():
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    c = http.client.HTTPSConnection(name, port, context=ctx, timeout=10)
    c.sock = ctx.wrap_socket(raw, server_hostname=name)
    return c
def get(c):
    c.request("GET", "/")
    r = c.getresponse()
    r.read()
    return r.status
ok = failed = 0
serials = []
keep = conn()
get(keep)
print("ready", flush=True)
while not os.path.exists(stop):
    try:
        if get(keep) == 200: ok += 1
        else: failed += 1
        fresh = conn()
        der = fresh.sock.getpeercert(binary_form=True)
        if get(fresh) == 200: ok += 1
        else: failed += 1
        fresh.close()
        serial = ssl.DER_cert_to_PEM_cert(der)
        if not serials or serials[-1] != serial: serials.append(serial)
    except Exception as e:
        failed += 1
        print("error", repr(e), flush=True)
    time.sleep(0.05)
print("done", ok, failed, len(serials), flush=True)
"#;

#[test]
fn short_certificates_renew_under_load_with_no_failed_request() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    // 40-second certificates renew when 20 s are left.
    let pebble = pebble(http, tls, Some(40));
    let dir = TempDir::new("acme-renew");
    let server = mote(&pebble, dir.path(), &listen(Some(http), tls), &["--acme", "short.mote.test"], &[]);
    wait_log(&server, &pebble, "certificate issued", ISSUE_TIMEOUT);
    let root = pebble.root();
    let stop = dir.path().join("stop");
    let mut load = Command::new("python3")
        .args(["-c", LOAD, &tls.to_string(), "short.mote.test", root.to_str().unwrap(), stop.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = BufReader::new(load.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(first, "ready", "{}", server.stderr());
    // The next certificate comes ~20 s after the first.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.stderr().matches("certificate issued").count() < 2 {
        assert!(Instant::now() < deadline, "no renewal:\n{}\n{}", server.stderr(), pebble.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    std::fs::write(&stop, "").unwrap();
    let seen: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(load.wait().unwrap().success(), "{seen:?}");
    let done = seen.iter().find(|l| l.starts_with("done ")).unwrap_or_else(|| panic!("{seen:?}"));
    let fields: Vec<u64> = done.split(' ').skip(1).map(|f| f.parse().unwrap()).collect();
    assert!(fields[0] > 0 && fields[1] == 0, "answered {}, failed {}: {seen:?}", fields[0], fields[1]);
    assert!(fields[2] >= 2, "new connections never met the renewed certificate: {seen:?}\n{}", server.stderr());
    let renewal = server.stderr().lines().filter(|l| l.contains("certificate issued")).nth(1).unwrap().to_string();
    let (_, serial) = fetch(&root, "short.mote.test", tls).unwrap();
    assert!(renewal.contains(&serial.replace(':', "").to_lowercase()), "{serial} vs {renewal}");
}

/// Counts the connections made to `port` (accepted and closed at once)
/// until the counter is dropped: a CA that cannot answer.
struct Refuser {
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    port: u16,
}

impl Refuser {
    fn bind(port: u16) -> Refuser {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(listener) => break listener,
                Err(e) => assert!(Instant::now() < deadline, "cannot bind {port}: {e}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        Refuser { count, port }
    }

    fn connections(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
#[cfg(feature = "test-clock")]
fn an_unreachable_ca_keeps_the_old_certificate_and_backs_off() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let mut pebble = pebble(http, tls, None);
    let dir = TempDir::new("acme-down");
    let state = dir.path().join("state");
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let env = [("MOTE_TEST_CLOCK_FILE", clock.to_str().unwrap())];
    let server = mote(&pebble, &state, &listen(Some(http), tls), &["--acme", "down.mote.test"], &env);
    wait_log(&server, &pebble, "certificate issued", ISSUE_TIMEOUT);
    let root = pebble.root();
    let (_, before) = fetch(&root, "down.mote.test", tls).unwrap();
    // The CA goes away; its port takes connections and closes them.
    pebble.stop_ca();
    let ca = Refuser::bind(pebble.acme_port());
    // Four years on, pebble's five-year certificate is due for renewal.
    std::fs::write(&clock, (4 * 365 * 86_400).to_string()).unwrap();
    let failed = wait_log(&server, &pebble, "attempt 1 failed", Duration::from_secs(20));
    assert!(failed.contains("next in 60 s"), "{failed}");
    let tried = ca.connections();
    std::thread::sleep(Duration::from_secs(5));
    let log = server.stderr();
    assert!(!log.contains("attempt 2 failed"), "retried within the backoff:\n{log}");
    assert_eq!(ca.connections(), tried, "contacted the CA during the backoff:\n{log}");
    let (code, after) = fetch(&root, "down.mote.test", tls).unwrap();
    assert_eq!((code.as_str(), &after), ("200", &before), "{log}");
    drop(server);

    // The backoff is kept in --acme-dir: a restart does not retry at once.
    let tried = ca.connections();
    let server = mote(&pebble, &state, &listen(Some(http), tls), &["--acme", "down.mote.test"], &env);
    wait_log(&server, &pebble, "backing off after 1 failed attempt", Duration::ZERO);
    std::thread::sleep(Duration::from_secs(4));
    let log = server.stderr();
    assert!(!log.contains("attempt 2 failed"), "a restart retried at once:\n{log}");
    assert!(ca.connections() <= tried + 1, "contacted the CA {} times:\n{log}", ca.connections() - tried);
    assert_eq!(fetch(&root, "down.mote.test", tls).unwrap().1, before);
    drop(server);

    // Back to the real date: nothing is due, and the CA, which cannot say
    // whether it offers renewal information, is not asked every tick.
    std::fs::write(&clock, "0").unwrap();
    let tried = ca.connections();
    let server = mote(&pebble, &state, &listen(Some(http), tls), &["--acme", "down.mote.test"], &env);
    std::thread::sleep(Duration::from_secs(5));
    assert!(ca.connections() <= tried + 1, "contacted the CA {} times:\n{}", ca.connections() - tried, server.stderr());
}

#[test]
#[cfg(feature = "test-clock")]
fn a_clock_before_the_build_orders_nothing_until_it_is_set() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    let dir = TempDir::new("acme-1970");
    let clock = dir.path().join("clock");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // The clock reads 1970-01-01 plus a minute, as a Pi's does before NTP.
    std::fs::write(&clock, format!("-{}", now - 60)).unwrap();
    let env = [("MOTE_TEST_CLOCK_FILE", clock.to_str().unwrap())];
    let state = dir.path().join("state");
    let server = mote(&pebble, &state, &listen(Some(http), tls), &["--acme", "pi.mote.test"], &env);
    let said = wait_log(&server, &pebble, "earlier than this build", Duration::from_secs(10));
    assert!(said.contains("1970"), "{said}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(pebble.orders(), 0, "ordered with the clock at 1970:\n{}", server.stderr());
    assert_eq!(server.stderr().matches("earlier than this build").count(), 1, "said more than once");
    // NTP steps the clock: the client notices and orders.
    std::fs::write(&clock, "0").unwrap();
    wait_log(&server, &pebble, "certificate issued", ISSUE_TIMEOUT);
    assert_eq!(pebble.orders(), 1);
}

#[test]
fn status_and_metrics_show_each_certificate() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    let dir = TempDir::new("acme-status");
    let names = ("ok.mote.test", "nope.mote.test");
    let server = good_and_bad(&pebble, dir.path(), (http, tls), names, &["--status", "/s", "--metrics", "/m"]);
    wait_log(&server, &pebble, "ok.mote.test: certificate issued", ISSUE_TIMEOUT);
    wait_log(&server, &pebble, "nope.mote.test: ", ISSUE_TIMEOUT);
    wait_log(&server, &pebble, "attempt 1 failed", ISSUE_TIMEOUT);
    let status = server.get("/s");
    let text = status.text();
    assert!(
        text.contains("acme_not_after ok.mote.test: 1") && text.contains("acme_failures ok.mote.test: 0"),
        "{text}"
    );
    assert!(text.contains("acme_not_after nope.mote.test: none"), "{text}");
    assert!(text.contains("acme_failures nope.mote.test: 1"), "{text}");
    let metrics = server.get("/m").text();
    assert!(metrics.contains("mote_acme_certificate_expiry_timestamp_seconds{names=\"ok.mote.test\"} 1"), "{metrics}");
    assert!(metrics.contains("mote_acme_next_renewal_timestamp_seconds{names=\"nope.mote.test\"} "), "{metrics}");
    assert!(metrics.contains("mote_acme_failures{names=\"nope.mote.test\"} 1"), "{metrics}");
    assert!(metrics.contains("mote_acme_last_error_info{names=\"nope.mote.test\",error=\""), "{metrics}");
    if !python_module_missing("prometheus_client") {
        let parsed = Command::new("python3")
            .args([
                "-c",
                "import sys; from prometheus_client.parser import text_string_to_metric_families as p; \
                          print(sum(1 for _ in p(sys.stdin.read())))",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(metrics.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        assert!(parsed.status.success(), "prometheus_client cannot parse:\n{metrics}");
    }
}

#[test]
fn an_unusable_acme_dir_stops_the_start() {
    if !ready() {
        return;
    }
    let tls = free_port();
    let dir = TempDir::new("acme-baddir");
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let under_file = file.join("acme");
    let (status, _, err) = run_to_exit(&[
        "--listen-tls",
        &format!("127.0.0.1:{tls}"),
        "--acme",
        "x.mote.test",
        "--acme-dir",
        under_file.to_str().unwrap(),
    ]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(under_file.to_str().unwrap()), "{err}");
}

#[test]
fn a_ca_that_requires_external_accounts_is_one_line_naming_it() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = Pebble::with(PebbleOptions {
        http_port: http,
        tls_port: tls,
        external_accounts: true,
        ..PebbleOptions::default()
    });
    let dir = TempDir::new("acme-eab");
    let server = mote(&pebble, dir.path(), &listen(Some(http), tls), &["--acme", "eab.mote.test"], &[]);
    let said = wait_log(&server, &pebble, "external account binding", ISSUE_TIMEOUT);
    assert!(said.contains(&pebble.directory()) && said.contains("next in 24 h"), "{said}");
    assert_eq!(pebble.orders(), 0);
}

/// Takes connections on `port` and holds them unanswered: a validation
/// that never completes, so the order stays in progress.
fn stall(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
}

#[test]
fn a_process_killed_during_an_order_restarts_into_the_backoff() {
    if !ready() {
        return;
    }
    let (http, tls, stalled) = (free_port(), free_port(), free_port());
    // pebble validates HTTP-01 where nothing answers: the order waits.
    stall(stalled);
    let pebble = pebble(stalled, tls, None);
    let dir = TempDir::new("acme-killed");
    let state = dir.path().join("state");
    let args = ["--acme", "killed.mote.test", "--acme-challenge", "http-01"];
    let server = mote(&pebble, &state, &listen(Some(http), tls), &args, &[]);
    let deadline = Instant::now() + ISSUE_TIMEOUT;
    while pebble.orders() == 0 {
        assert!(Instant::now() < deadline, "no order:\n{}\n{}", server.stderr(), pebble.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Killed in the middle of the order, as init or the OOM killer would.
    let log = server.stderr();
    drop(server);
    assert!(!log.contains("attempt 1 failed"), "the order ended before the kill:\n{log}");
    let server = mote(&pebble, &state, &listen(Some(http), tls), &args, &[]);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(pebble.orders(), 1, "a restart ordered again at once:\n{}", server.stderr());
    wait_log(&server, &pebble, "killed.mote.test: backing off after 1 failed attempt", Duration::ZERO);
}

#[test]
#[cfg(feature = "test-clock")]
fn a_certificate_due_on_arrival_is_not_ordered_again_at_once() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    let dir = TempDir::new("acme-ahead");
    let clock = dir.path().join("clock");
    // Four years ahead of pebble's clock, its five-year certificates are
    // past their renewal time from the moment they arrive.
    std::fs::write(&clock, (4 * 365 * 86_400).to_string()).unwrap();
    let env = [("MOTE_TEST_CLOCK_FILE", clock.to_str().unwrap())];
    let server = mote(&pebble, dir.path(), &listen(Some(http), tls), &["--acme", "ahead.mote.test"], &env);
    wait_log(&server, &pebble, "certificate issued", ISSUE_TIMEOUT);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(pebble.orders(), 1, "ordered again at once:\n{}", server.stderr());
    let said = wait_log(&server, &pebble, "already due for renewal", Duration::ZERO);
    assert!(said.contains("is the clock ahead of the CA's?") && said.contains("next attempt in 60 s"), "{said}");
    let (code, _) = fetch(&pebble.root(), "ahead.mote.test", tls).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, "200");
}

#[test]
fn a_start_that_fails_after_opening_the_acme_dir_never_reaches_the_ca() {
    if !ready() {
        return;
    }
    let dir = TempDir::new("acme-late-error");
    // A site slow enough to load that a client thread started before it
    // would be talking to the CA by the time --max-memory turns it down.
    let root = dir.path().join("site");
    std::fs::create_dir(&root).unwrap();
    for n in 0..3000 {
        std::fs::write(root.join(format!("{n}.html")), format!("<p>{n}</p>\n")).unwrap();
    }
    let ca = Refuser::bind(free_port());
    let key = dir.path().join("ca.key");
    let cert = dir.path().join("ca.pem");
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-subj", "/CN=mote test CA", "-days", "1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success());
    // A fresh --acme-dir each time: a stored backoff would hold the thread.
    for run in 0..3 {
        let state = dir.path().join(format!("state{run}"));
        let (status, _, err) = run_to_exit(&[
            "--listen-tls",
            "127.0.0.1:0",
            "--root",
            root.to_str().unwrap(),
            "--max-memory",
            "1",
            "--acme",
            "late.mote.test",
            "--acme-dir",
            state.to_str().unwrap(),
            "--acme-ca-file",
            cert.to_str().unwrap(),
            "--acme-directory",
            &format!("https://127.0.0.1:{}/dir", ca.port),
        ]);
        assert_eq!(status.code(), Some(1), "{err}");
        assert!(err.contains("--max-memory"), "{err}");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ca.connections(), 0, "a start that failed contacted the CA");
}

#[test]
fn several_workers_get_a_certificate_too() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    let dir = TempDir::new("acme-threads");
    let server =
        mote(&pebble, dir.path(), &listen(Some(http), tls), &["--acme", "two.mote.test", "--threads", "2"], &[]);
    wait_log(&server, &pebble, "two.mote.test: certificate issued", ISSUE_TIMEOUT);
    let (code, _) = fetch(&pebble.root(), "two.mote.test", tls).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, "200");
}

#[test]
fn a_failed_validation_names_the_name_once() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    pebble.resolve("lone.mote.test", "127.0.0.2");
    pebble.resolve("bad.pair.mote.test", "127.0.0.2");
    let dir = TempDir::new("acme-named-once");
    let args =
        ["--acme", "lone.mote.test", "--acme", "pair.mote.test,bad.pair.mote.test", "--acme-challenge", "http-01"];
    let server = mote(&pebble, dir.path(), &listen(Some(http), tls), &args, &[]);
    let lone = wait_log(&server, &pebble, "acme: lone.mote.test: ", ISSUE_TIMEOUT);
    assert!(lone.contains("acme: lone.mote.test: http-01 "), "{lone}");
    // Of several names, the line says which one failed.
    let pair = wait_log(&server, &pebble, "acme: pair.mote.test,bad.pair.mote.test: ", ISSUE_TIMEOUT);
    assert!(pair.contains("acme: pair.mote.test,bad.pair.mote.test: bad.pair.mote.test: http-01 "), "{pair}");
}

#[test]
#[cfg(feature = "test-clock")]
fn a_backoff_years_long_in_the_state_file_is_cut_to_a_day() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    pebble.resolve("far.mote.test", "127.0.0.2");
    let dir = TempDir::new("acme-far");
    let state = dir.path().join("state");
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let env = [("MOTE_TEST_CLOCK_FILE", clock.to_str().unwrap())];
    let args = ["--acme", "far.mote.test", "--acme-challenge", "http-01"];
    let server = mote(&pebble, &state, &listen(Some(http), tls), &args, &env);
    wait_log(&server, &pebble, "attempt 1 failed", ISSUE_TIMEOUT);
    drop(server);
    // A state written under a clock ten years ahead, or by hand.
    let file = ca_dir(&state).join("far.mote.test.state");
    let text = std::fs::read_to_string(&file).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let far: String = text
        .lines()
        .map(|line| {
            if line.starts_with("next_attempt ") {
                format!("next_attempt {}\n", now + 3650 * 86_400)
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(&file, far).unwrap();
    let server = mote(&pebble, &state, &listen(Some(http), tls), &args, &env);
    // Two days on, the next attempt is due.
    std::fs::write(&clock, (2 * 86_400).to_string()).unwrap();
    wait_log(&server, &pebble, "attempt 2 failed", Duration::from_secs(20));
}

/// Waits until `count()` reaches `want`; panics with mote's log after `limit`.
#[cfg(feature = "test-clock")]
fn wait_count(server: &Server, what: &str, want: usize, limit: Duration, count: impl Fn() -> usize) {
    let deadline = Instant::now() + limit;
    while count() < want {
        assert!(Instant::now() < deadline, "{what}: {} of {want} after {limit:?}:\n{}", count(), server.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[cfg(feature = "test-clock")]
fn renewal_information_schedules_renewal_and_names_the_replaced_certificate() {
    const SIX_HOURS: u64 = 6 * 3600;
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    // Each window comes with `Retry-After: 120`.
    let shim = AriShim::start(&pebble, 120, &["classic", "shortlived"]);
    let dir = TempDir::new("acme-ari");
    let state = dir.path().join("state");
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let env = [("MOTE_TEST_CLOCK_FILE", clock.to_str().unwrap())];
    let flags = ["--acme", "ari.mote.test", "--acme-profile", "shortlived"];
    let server = mote_at(&shim.directory(), &pebble, &state, &listen(Some(http), tls), &flags, &env);
    wait_log(&server, &pebble, "certificate issued", ISSUE_TIMEOUT);
    // The directory lists the profile: the order names it, and replaces nothing.
    assert_eq!(shim.orders(), ["profile=shortlived replaces=- names=ari.mote.test"]);

    // A new certificate's window is asked for as long after its issuance
    // as the CA would ask between polls without saying (six hours): then
    // for the certificate held, by its RFC 9773 identifier; the window is
    // in the future, so nothing is ordered.
    std::thread::sleep(Duration::from_secs(3));
    assert!(shim.ari_requests().is_empty(), "asked at once after issuance:\n{}", server.stderr());
    let polled = SIX_HOURS + 1;
    std::fs::write(&clock, polled.to_string()).unwrap();
    let said = wait_log(&server, &pebble, "the CA suggests renewing between", Duration::from_secs(20));
    assert!(said.starts_with("acme: ari.mote.test: "), "{said}");
    let first = ari_id(&ca_dir(&state).join("ari.mote.test").join("chain.pem"));
    assert_eq!(shim.ari_requests(), std::slice::from_ref(&first));
    let root = pebble.root();
    let (_, before) = fetch(&root, "ari.mote.test", tls).unwrap();
    // Retry-After is honoured: not asked again within its 120 s.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(shim.ari_requests().len(), 1, "asked again before Retry-After:\n{}", server.stderr());
    assert_eq!(shim.orders().len(), 1, "{}", server.stderr());

    // The CA moves this certificate's window into the past; two minutes
    // later (the clock stepped) the client asks again and renews at once,
    // naming the certificate it replaces (RFC 9773 §5).
    shim.set(&[&first], 120, &["classic", "shortlived"]);
    let renewed = polled + 121;
    std::fs::write(&clock, renewed.to_string()).unwrap();
    wait_count(&server, "renewal-info requests", 2, Duration::from_secs(20), || shim.ari_requests().len());
    wait_count(&server, "certificates issued", 2, ISSUE_TIMEOUT, || {
        server.stderr().matches("certificate issued").count()
    });
    assert_eq!(shim.ari_requests()[1], first);
    assert_eq!(shim.orders()[1], format!("profile=shortlived replaces={first} names=ari.mote.test"));
    let (code, after) = fetch(&root, "ari.mote.test", tls).unwrap();
    assert_eq!(code, "200");
    assert_ne!(after, before, "the renewed certificate is not served");

    // The new certificate's window is in the future: it is asked about once
    // (six hours on) and not renewed.
    let second = ari_id(&ca_dir(&state).join("ari.mote.test").join("chain.pem"));
    assert_ne!(second, first);
    std::fs::write(&clock, (renewed + SIX_HOURS + 1).to_string()).unwrap();
    wait_count(&server, "renewal-info requests", 3, Duration::from_secs(20), || shim.ari_requests().len());
    assert_eq!(shim.ari_requests()[2], second);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(shim.orders().len(), 2, "renewed again:\n{}", server.stderr());
    assert_eq!(shim.ari_requests().len(), 3, "{}", server.stderr());
}

#[test]
fn a_profile_is_sent_only_when_the_directory_lists_it() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    let shim = AriShim::start(&pebble, 3600, &["classic"]);
    let dir = TempDir::new("acme-profile");
    let flags = ["--acme", "profile.mote.test", "--acme-profile", "shortlived"];
    let server = mote_at(&shim.directory(), &pebble, dir.path(), &listen(Some(http), tls), &flags, &[]);
    wait_log(&server, &pebble, "certificate issued", ISSUE_TIMEOUT);
    wait_log(&server, &pebble, "the CA lists no profile shortlived; ordering without one", Duration::ZERO);
    assert_eq!(shim.orders(), ["profile=- replaces=- names=profile.mote.test"]);
}

/// The status of a plain GET / for `host`, and its Location.
fn plain_get(server: &Server, host: &str) -> (u16, Option<String>) {
    let response = server.request(format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));
    (response.status, response.header("location").map(str::to_string))
}

#[test]
fn https_redirect_waits_for_the_names_first_certificate() {
    if !ready() {
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    let dir = TempDir::new("acme-redirect");
    let names = ("now.mote.test", "later.mote.test");
    let server = good_and_bad(&pebble, dir.path(), (http, tls), names, &["--https-redirect"]);
    wait_log(&server, &pebble, "now.mote.test: certificate issued", ISSUE_TIMEOUT);
    wait_log(&server, &pebble, "later.mote.test: ", ISSUE_TIMEOUT);
    // The name with a certificate is sent to HTTPS, which answers it.
    let (status, location) = plain_get(&server, "now.mote.test");
    assert_eq!(status, 308);
    assert_eq!(location.as_deref(), Some(format!("https://now.mote.test:{tls}/").as_str()));
    assert_eq!(fetch(&pebble.root(), "now.mote.test", tls).unwrap().0, "200");
    // The one without is served on plain HTTP: its handshakes fail.
    assert!(fetch(&pebble.root(), "later.mote.test", tls).is_err());
    let (status, location) = plain_get(&server, "later.mote.test:80");
    assert_eq!((status, location), (200, None));
}

#[test]
fn an_acme_dir_on_tmpfs_is_a_warning() {
    if !ready() {
        return;
    }
    let shm = Path::new("/dev/shm");
    let kind = Command::new("stat").args(["-f", "-c", "%T"]).arg(shm).output().map(|o| o.stdout).unwrap_or_default();
    if String::from_utf8_lossy(&kind).trim() != "tmpfs" {
        eprintln!("skipping: /dev/shm is not a tmpfs here");
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    let dir = shm.join(format!("mote-acme-test-{}-{http}", std::process::id()));
    let server = mote(&pebble, &dir, &listen(Some(http), tls), &["--acme", "shm.mote.test"], &[]);
    let said = wait_log(&server, &pebble, "is on tmpfs", Duration::from_secs(5));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(said.starts_with(&format!("mote: warning: --acme-dir {} is on tmpfs: ", dir.display())), "{said}");
    assert!(said.contains("orders them again"), "{said}");
}

#[test]
fn an_acme_dir_the_user_cannot_write_stops_the_start() {
    if !ready() {
        return;
    }
    let uid = Command::new("id").arg("-u").output().map(|o| o.stdout).unwrap_or_default();
    if String::from_utf8_lossy(&uid).trim() != "0" {
        eprintln!("skipping: --user needs root");
        return;
    }
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(http, tls, None);
    let dir = TempDir::new("acme-user");
    // Root's, 0700: readable and writable by root only.
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let (directory, ca) = (pebble.directory(), pebble.server_ca());
    let flags = |user: bool| {
        let mut flags =
            vec!["--listen-tls".to_string(), format!("127.0.0.1:{tls}"), "--acme".into(), "u.mote.test".into()];
        flags.extend(["--acme-dir", state.to_str().unwrap(), "--acme-directory", &directory].map(String::from));
        flags.extend(["--acme-ca-file".to_string(), ca.to_str().unwrap().to_string()]);
        if user {
            flags.extend(["--user".to_string(), "nobody".to_string()]);
        }
        flags
    };
    let with_user = flags(true);
    let (status, _, err) = run_to_exit(&with_user.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("--acme-dir {}", state.display())), "{err}");
    // The same flags as root start: it is the user that cannot write there.
    let as_root = flags(false);
    let server = Server::start(&as_root.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!server.stderr().contains("--acme-dir"), "{}", server.stderr());
}
