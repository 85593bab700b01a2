//! A real ACME exchange on loopback: pebble (Let's Encrypt's test CA), with
//! pebble-challtestsrv answering its DNS queries with 127.0.0.1, validates
//! HTTP-01 and TLS-ALPN-01 against a running mote: lego, in webroot mode,
//! writes the token into mote's root while mote runs, or mote's own client
//! (`--acme`) answers them itself.
//!
//! Every helper process is killed (by its own PID) when dropped, and every
//! port is found free on loopback, so tests may run side by side.

use super::ports::free_port;
use super::server::{output_within, START_TIMEOUT};
use super::site::TempDir;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Whether the binary under test has the ACME client, as `--version` says.
/// Tests built with the `acme` feature (`make test ACME=1`, `make pi-test
/// ACME=1`) are there to test that client: a binary without it fails them
/// instead of letting them skip.
pub fn binary_has_acme() -> bool {
    let (_, out, _) = super::server::run_to_exit(&["--version"]);
    let acme = out.contains("ACME");
    assert!(
        acme || !cfg!(feature = "acme"),
        "{} was built without ACME, and these tests with it: {out}",
        super::server::bin()
    );
    acme
}

/// The tools an ACME test needs; `true` (the test skips) when one is missing.
pub fn acme_tools_missing() -> bool {
    ["pebble", "pebble-challtestsrv", "lego", "openssl", "curl"].iter().any(|tool| super::tools::tool_missing(tool))
}

/// A helper process, killed (by its own PID) when dropped.
pub struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command, log: &Path) -> Daemon {
    let out = fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let child = cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    Daemon(child)
}

fn wait_for_port(port: u16, log: &Path) {
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port}:\n{}",
            fs::read_to_string(log).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// How a pebble is set up.
#[derive(Default)]
pub struct PebbleOptions {
    /// Where it validates HTTP-01 on 127.0.0.1.
    pub http_port: u16,
    /// Where it validates TLS-ALPN-01 on 127.0.0.1 (0: a free port nobody uses).
    pub tls_port: u16,
    /// `certificateValidityPeriod` in seconds (pebble's default: 5 years).
    pub validity: Option<u64>,
    /// Keep pebble's default of rejecting 5% of nonces as `badNonce`.
    pub reject_nonces: bool,
    /// Require external account binding, as some CAs do.
    pub external_accounts: bool,
}

/// pebble and its DNS, validating on the ports of `PebbleOptions`.
pub struct Pebble {
    pub work: TempDir,
    acme: u16,
    management: u16,
    dns_management: u16,
    _dns: Daemon,
    ca: Option<Daemon>,
}

impl Pebble {
    /// Validating HTTP-01 on `http_port`, every nonce good (lego's tests).
    pub fn start(http_port: u16) -> Pebble {
        Pebble::with(PebbleOptions { http_port, ..PebbleOptions::default() })
    }

    pub fn with(options: PebbleOptions) -> Pebble {
        let http_port = options.http_port;
        let work = TempDir::new("acme");
        let file = |name: &str| work.path().join(name);
        // Pebble's own HTTPS endpoints need a certificate; clients are told
        // to trust the CA that signed it (`ca-cert.pem`). A CA apart from
        // the server's certificate: webpki, unlike curl, refuses a CA
        // certificate as a server's.
        let openssl = |args: &[&str]| {
            let made = Command::new("openssl")
                .args(args)
                .current_dir(work.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl");
            assert!(made.success(), "openssl {args:?} failed");
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        openssl(
            &[
                &["req", "-x509", "-days", "1", "-subj", "/CN=pebble test CA"][..],
                &ec,
                &["-keyout", "root-key.pem", "-out", "ca-cert.pem"],
            ]
            .concat(),
        );
        openssl(
            &[&["req", "-new", "-subj", "/CN=localhost"][..], &ec, &["-keyout", "ca-key.pem", "-out", "server.csr"]]
                .concat(),
        );
        fs::write(file("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
            .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca-cert.pem",
            "-CAkey",
            "root-key.pem",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "server-cert.pem",
        ]);
        let (dns, acme, management, dns_management) = (free_port(), free_port(), free_port(), free_port());
        let tls = if options.tls_port == 0 { free_port() } else { options.tls_port };
        let validity = options.validity.map(|secs| format!(r#", "certificateValidityPeriod": {secs}"#));
        let config = format!(
            r#"{{"pebble": {{"listenAddress": "127.0.0.1:{acme}", "managementListenAddress": "127.0.0.1:{management}",
                "certificate": "{}", "privateKey": "{}", "httpPort": {http_port}, "tlsPort": {tls},
                "ocspResponderURL": "", "externalAccountBindingRequired": {}{}}}}}"#,
            file("server-cert.pem").display(),
            file("ca-key.pem").display(),
            options.external_accounts,
            validity.unwrap_or_default(),
        );
        fs::write(file("pebble.json"), config).unwrap();
        let dns_daemon = spawn(
            Command::new("pebble-challtestsrv")
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", &format!("127.0.0.1:{dns}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &format!("127.0.0.1:{dns_management}")]),
            &file("dns.log"),
        );
        let mut pebble = Command::new("pebble");
        pebble
            .arg("-config")
            .arg(file("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1");
        if !options.reject_nonces {
            pebble.env("PEBBLE_WFE_NONCEREJECT", "0");
        }
        let ca = spawn(&mut pebble, &file("pebble.log"));
        wait_for_port(acme, &file("pebble.log"));
        wait_for_port(management, &file("pebble.log"));
        wait_for_port(dns_management, &file("dns.log"));
        Pebble { work, acme, management, dns_management, _dns: dns_daemon, ca: Some(ca) }
    }

    /// The port of the ACME server.
    pub fn acme_port(&self) -> u16 {
        self.acme
    }

    /// The ACME directory's URL.
    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.acme)
    }

    /// The CA of pebble's own HTTPS endpoints (not the root it issues
    /// under: that is `root`).
    pub fn server_ca(&self) -> PathBuf {
        self.file("ca-cert.pem")
    }

    /// Orders pebble has taken so far, as its log counts them.
    pub fn orders(&self) -> usize {
        self.log().matches("Added order").count()
    }

    /// Stops the CA (its DNS stays): the ACME port then refuses connections.
    pub fn stop_ca(&mut self) {
        self.ca = None;
    }

    /// Makes `host` resolve to `ip` for pebble's validation (an address
    /// nothing answers on fails it).
    pub fn resolve(&self, host: &str, ip: &str) {
        let body = format!(r#"{{"host":"{host}.","addresses":["{ip}"]}}"#);
        let url = format!("http://127.0.0.1:{}/add-a", self.dns_management);
        let out = Command::new("curl").args(["-sSf", "--max-time", "10", "-d", &body, &url]).output().expect("curl");
        assert!(out.status.success(), "{url}: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.file("pebble.log")).unwrap_or_default()
    }

    /// Runs lego for `domain` with `webroot` (exit status and its output);
    /// the certificate lands in `lego/certificates/DOMAIN.crt` and `.key`.
    pub fn lego(&self, domain: &str, webroot: &str) -> (ExitStatus, String) {
        let mut lego = Command::new("lego");
        lego.env("LEGO_CA_CERTIFICATES", self.file("ca-cert.pem"))
            .args(["--server", &format!("https://127.0.0.1:{}/dir", self.acme), "--accept-tos"])
            .args(["--email", "pi@mote.test", "--domains", domain, "--http", "--http.webroot", webroot])
            .arg("--path")
            .arg(self.file("lego"))
            .arg("run");
        let (status, out, err) = output_within(lego, Duration::from_secs(120));
        (status, out + &err) // lego logs on stderr
    }

    /// The root that issued lego's certificates, from pebble's management
    /// API (pebble makes a new one each time it starts): `root.pem`.
    pub fn root(&self) -> PathBuf {
        let path = self.file("root.pem");
        let url = format!("https://127.0.0.1:{}/roots/0", self.management);
        let fetched = Command::new("curl")
            .args(["-sSf", "--max-time", "20", "--cacert"])
            .arg(self.file("ca-cert.pem"))
            .arg("-o")
            .arg(&path)
            .arg(&url)
            .output()
            .expect("curl");
        assert!(fetched.status.success(), "{url}: {}", String::from_utf8_lossy(&fetched.stderr));
        path
    }
}

/// A front for pebble that adds what pebble 2.4 lacks, renewal information
/// (RFC 9773) and profiles, and records each newOrder and renewal-info
/// request (`ari_shim.py`). Its directory, windows and profiles are set
/// with `set`, and read again at each request.
pub struct AriShim {
    port: u16,
    control: PathBuf,
    record: PathBuf,
    _process: Daemon,
}

impl AriShim {
    /// Listing `profiles` in its directory, every window in the future,
    /// each sent with `Retry-After: retry_after`.
    pub fn start(pebble: &Pebble, retry_after: u64, profiles: &[&str]) -> AriShim {
        let port = free_port();
        let control = pebble.file("ari-shim.json");
        let record = pebble.file("ari-shim.record");
        fs::write(&record, "").unwrap();
        let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/common/ari_shim.py");
        let mut cmd = Command::new("python3");
        cmd.arg(&shim).args([&port.to_string(), &pebble.acme_port().to_string()]);
        cmd.args([pebble.file("server-cert.pem"), pebble.file("ca-key.pem"), pebble.server_ca()]);
        cmd.args([&control, &record]);
        let log = pebble.file("ari-shim.log");
        let process = spawn(&mut cmd, &log);
        let shim = AriShim { port, control, record, _process: process };
        shim.set(&[], retry_after, profiles);
        wait_for_port(port, &log);
        shim
    }

    /// The certificates (ARI identifiers) whose window is in the past.
    pub fn set(&self, past: &[&str], retry_after: u64, profiles: &[&str]) {
        let list = |items: &[&str]| items.iter().map(|item| format!("\"{item}\"")).collect::<Vec<_>>().join(", ");
        let text =
            format!(r#"{{"past": [{}], "retry_after": {retry_after}, "profiles": [{}]}}"#, list(past), list(profiles));
        let next = self.control.with_extension("new");
        fs::write(&next, text).unwrap();
        fs::rename(&next, &self.control).unwrap();
    }

    /// The directory URL mote is given.
    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }

    /// The newOrders seen, as `profile=P replaces=R names=A,B` (`-`: absent).
    pub fn orders(&self) -> Vec<String> {
        self.lines("order ")
    }

    /// The certificate identifiers renewal information was asked for.
    pub fn ari_requests(&self) -> Vec<String> {
        self.lines("ari ")
    }

    fn lines(&self, prefix: &str) -> Vec<String> {
        let text = fs::read_to_string(&self.record).unwrap_or_default();
        text.lines().filter_map(|line| line.strip_prefix(prefix)).map(str::to_owned).collect()
    }
}

/// RFC 9773 §4.1's identifier of the PEM certificate `cert`, computed with
/// openssl (not by mote's code): base64url of the authority key
/// identifier's keyIdentifier, `.`, base64url of the serial's DER bytes.
pub fn ari_id(cert: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-ext", "authorityKeyIdentifier", "-in"])
        .arg(cert)
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "openssl x509 {}: {text}", cert.display());
    let serial = text.lines().find_map(|l| l.strip_prefix("serial=")).expect("a serial").trim().to_string();
    // The key identifier is the indented line of hex pairs (`keyid:` before
    // it on older openssl).
    let key_id = text
        .lines()
        .skip_while(|l| !l.contains("Authority Key Identifier"))
        .nth(1)
        .expect("an authority key identifier")
        .trim()
        .trim_start_matches("keyid:")
        .replace(':', "");
    let bytes = |hex: &str| -> Vec<u8> {
        let hex = if hex.len() % 2 == 1 { format!("0{hex}") } else { hex.to_string() };
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    };
    let mut serial = bytes(&serial);
    // DER INTEGER content: positive, so a leading zero when the top bit is set.
    if serial.first().is_some_and(|b| b & 0x80 != 0) {
        serial.insert(0, 0);
    }
    format!("{}.{}", base64url(&bytes(&key_id)), base64url(&serial))
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}
