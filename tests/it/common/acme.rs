//! A real ACME exchange on loopback: pebble (Let's Encrypt's test CA), with
//! pebble-challtestsrv answering its DNS queries with 127.0.0.1, validates
//! HTTP-01 against a running mote, and lego, in webroot mode, writes the
//! token into mote's root while mote runs.
//!
//! Every helper process is killed (by its own PID) when dropped, and every
//! port is found free on loopback, so tests may run side by side.

use super::server::{output_within, START_TIMEOUT};
use super::site::TempDir;
use std::fs;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

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

/// A loopback port free for both TCP and UDP right now.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
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

/// pebble and its DNS, validating HTTP-01 on `http_port` of 127.0.0.1.
pub struct Pebble {
    pub work: TempDir,
    acme: u16,
    management: u16,
    _dns: Daemon,
    _ca: Daemon,
}

impl Pebble {
    pub fn start(http_port: u16) -> Pebble {
        let work = TempDir::new("acme");
        let file = |name: &str| work.path().join(name);
        // Pebble's own HTTPS endpoints need a certificate; clients are told to trust it.
        let made = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
            .arg("-keyout")
            .arg(file("ca-key.pem"))
            .arg("-out")
            .arg(file("ca-cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(made.success(), "openssl could not make pebble's certificate");
        let (dns, acme, management, tls) = (free_port(), free_port(), free_port(), free_port());
        let config = format!(
            r#"{{"pebble": {{"listenAddress": "127.0.0.1:{acme}", "managementListenAddress": "127.0.0.1:{management}",
                "certificate": "{}", "privateKey": "{}", "httpPort": {http_port}, "tlsPort": {tls},
                "ocspResponderURL": "", "externalAccountBindingRequired": false}}}}"#,
            file("ca-cert.pem").display(),
            file("ca-key.pem").display(),
        );
        fs::write(file("pebble.json"), config).unwrap();
        let dns_daemon = spawn(
            Command::new("pebble-challtestsrv")
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", &format!("127.0.0.1:{dns}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &format!("127.0.0.1:{}", free_port())]),
            &file("dns.log"),
        );
        let ca = spawn(
            Command::new("pebble")
                .arg("-config")
                .arg(file("pebble.json"))
                .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0"),
            &file("pebble.log"),
        );
        wait_for_port(acme, &file("pebble.log"));
        wait_for_port(management, &file("pebble.log"));
        Pebble { work, acme, management, _dns: dns_daemon, _ca: ca }
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
