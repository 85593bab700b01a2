//! `--vhost HOST=DIR`: one site per host, picked by the effective host
//! (RFC 9112 §3.2.2), 421 for a host no site is for (RFC 9110 §15.5.20),
//! reloaded as one, a `--check` section and `vhost_combined` log lines each;
//! over TLS (`make test TLS=1`), the certificate chosen by SNI among the
//! `--tls-cert` pairs, and 421 for a host it does not cover.

use crate::common::*;
use crate::tls::{has_tls, tls_exchange_as, Pki};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Two sites, `a.test` and `b.test`, each with an index naming it.
struct Sites {
    a: Site,
    b: Site,
}

impl Sites {
    fn new() -> Sites {
        let (a, b) = (Site::empty(), Site::empty());
        a.write("index.html", "SITE-A\n");
        b.write("index.html", "SITE-B\n");
        Sites { a, b }
    }

    /// The two `--vhost` flags (the second named in another case, with a
    /// trailing dot), then `extra`.
    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args = vec![
            "--vhost".to_string(),
            format!("a.test={}", self.a.root_str()),
            "--vhost".to_string(),
            format!("B.Test.={}", self.b.root_str()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn serve(&self, extra: &[&str]) -> Server {
        let args = self.args(extra);
        Server::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

fn host_get(host: &str, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

#[test]
fn curl_reaches_each_host_on_one_server() {
    let sites = Sites::new();
    let srv = sites.serve(&[]);
    let port = srv.addr().port();
    for (host, body) in [("a.test", "SITE-A\n"), ("b.test", "SITE-B\n")] {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20", "--resolve", &format!("{host}:{port}:127.0.0.1")])
            .arg(format!("http://{host}:{port}/"))
            .output()
            .expect("run curl");
        assert_eq!(String::from_utf8_lossy(&out.stdout), body, "{host}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn the_effective_host_picks_the_site() {
    let sites = Sites::new();
    let srv = sites.serve(&[]);
    let rows = [
        ("a name as given", host_get("a.test", "/"), "SITE-A\n"),
        ("case does not matter", host_get("A.TEST", "/"), "SITE-A\n"),
        ("nor the port", host_get("b.test:8080", "/"), "SITE-B\n"),
        ("nor a trailing dot", host_get("b.test.", "/"), "SITE-B\n"),
        ("nor a trailing dot and a port", host_get("a.test.:80", "/"), "SITE-A\n"),
        (
            "RFC 9112 §3.2.2: an absolute-form target's host wins over Host",
            "GET http://b.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n".to_string(),
            "SITE-B\n",
        ),
    ];
    for (row, raw, body) in rows {
        let r = srv.request(&raw);
        assert_eq!((r.status, String::from_utf8_lossy(&r.body).into_owned()), (200, body.to_string()), "{row}");
    }
    // One keep-alive connection may ask for both, in one burst.
    let last = "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
    let rs = exchange(srv.addr(), format!("{}{last}", host_get("b.test", "/")));
    assert_eq!(rs.iter().map(|r| r.body.clone()).collect::<Vec<_>>(), [b"SITE-B\n".to_vec(), b"SITE-A\n".to_vec()]);
}

#[test]
fn a_host_no_site_is_for_gets_421_without_root_and_the_root_with_it() {
    let sites = Sites::new();
    let long_host = "h".repeat(300);
    let rows = [
        ("an unknown host", host_get("c.test", "/")),
        ("a subdomain of a known one", host_get("www.a.test", "/")),
        ("a Host of 300 bytes", host_get(&long_host, "/")),
        ("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n".to_string()),
        ("an empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n".to_string()),
    ];
    let srv = sites.serve(&[]);
    for (row, raw) in &rows {
        // Twice: the second is the memo's, and must say the same.
        for _ in 0..2 {
            let r = srv.request(raw);
            assert_eq!((r.status, r.reason.as_str()), (421, "Misdirected Request"), "{row}:\n{}", r.raw_head);
            assert_eq!(r.body, b"421 Misdirected Request\n", "{row}");
        }
        let head = srv.request(raw.replacen("GET", "HEAD", 1));
        assert!(head.status == 421 && head.body.is_empty(), "{row}: HEAD");
    }
    let root = Site::empty();
    root.write("index.html", "SITE-ROOT\n");
    let root_str = root.root_str();
    let srv = sites.serve(&["--root", &root_str]);
    for (row, raw) in &rows {
        let r = srv.request(raw);
        assert_eq!((r.status, r.body.as_slice()), (200, &b"SITE-ROOT\n"[..]), "{row} with --root");
    }
    assert_eq!(srv.request(host_get("a.test", "/")).body, b"SITE-A\n");
}

#[test]
fn the_status_and_metrics_pages_answer_for_any_host() {
    let sites = Sites::new();
    let srv = sites.serve(&["--status", "/.mote-status", "--metrics", "/metrics"]);
    for host in ["c.test", "127.0.0.1", "a.test"] {
        for path in ["/.mote-status", "/metrics"] {
            let r = srv.request(host_get(host, path));
            assert_eq!(r.status, 200, "{host}{path}:\n{}", r.raw_head);
        }
    }
    assert_eq!(srv.request("GET /.mote-status HTTP/1.0\r\n\r\n").status, 200, "no Host at all");
    // Any other path of an unknown host is still misdirected.
    assert_eq!(srv.request(host_get("c.test", "/other")).status, 421);
}

#[test]
fn sighup_reloads_every_site_or_none() {
    let sites = Sites::new();
    let srv = sites.serve(&[]);
    let body = |host: &str| String::from_utf8_lossy(&srv.request(host_get(host, "/x.txt")).body).into_owned();
    sites.a.write("x.txt", "A1\n");
    sites.b.write("x.txt", "B1\n");
    srv.signal("HUP");
    wait_until(|| body("a.test") == "A1\n" && body("b.test") == "B1\n");
    // One site breaks (its directory gone): neither changes.
    sites.a.write("x.txt", "A2\n");
    std::fs::rename(sites.b.root(), sites.b.root().with_extension("gone")).unwrap();
    srv.signal("HUP");
    wait_until(|| srv.stderr().contains("reload failed"));
    assert!(srv.stderr().contains("--vhost b.test="), "the failure names the site:\n{}", srv.stderr());
    assert_eq!((body("a.test"), body("b.test")), ("A1\n".to_string(), "B1\n".to_string()));
    // Mended: both new.
    std::fs::rename(sites.b.root().with_extension("gone"), sites.b.root()).unwrap();
    sites.b.write("x.txt", "B2\n");
    srv.signal("HUP");
    wait_until(|| body("a.test") == "A2\n" && body("b.test") == "B2\n");
}

fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("not within 10 s");
}

#[test]
fn bad_vhost_flags_are_one_line_naming_the_flag() {
    let sites = Sites::new();
    let a = sites.a.root_str();
    let file = sites.a.write("file.txt", "x");
    let rows: [(&str, Vec<String>, &str); 4] = [
        ("not HOST=DIR", vec!["--vhost".into(), "a.test".into()], "--vhost: invalid value 'a.test'"),
        ("not a DNS name", vec!["--vhost".into(), format!("a_b.test={a}")], "--vhost: invalid value"),
        (
            "named twice, in another case",
            vec!["--vhost".into(), format!("a.test={a}"), "--vhost".into(), format!("A.TEST.={a}")],
            "--vhost: a.test is named twice",
        ),
        ("not a directory", vec!["--vhost".into(), format!("a.test={}", file.display())], "--vhost a.test="),
    ];
    for (row, args, message) in rows {
        let mut all = vec!["--listen", "127.0.0.1:0"];
        all.extend(args.iter().map(String::as_str));
        let (status, _, err) = run_to_exit(&all);
        assert!(!status.success(), "{row}");
        assert_eq!(err.trim_end().lines().count(), 1, "{row}: one line:\n{err}");
        assert!(err.contains(message), "{row}: {err}");
    }
    let (status, _, err) = run_to_exit(&["--listen", "127.0.0.1:0", "--vhost", &format!("a.test={}", file.display())]);
    assert_eq!(status.code(), Some(1), "a site that cannot load: {err}");
    assert!(err.contains("not a directory"), "{err}");
}

#[test]
fn check_prints_a_section_for_each_site() {
    let sites = Sites::new();
    sites.b.write("only-b.css", "b{}\n");
    let args = sites.args(&["--check"]);
    let (status, out, err) = run_to_exit(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(status.success(), "{out}{err}");
    let a_at = out.find("== --vhost a.test=").expect("a section for a.test");
    let b_at = out.find("== --vhost b.test=").expect("a section for b.test");
    assert!(a_at < b_at, "{out}");
    assert!(out[b_at..].contains("only-b.css") && !out[..b_at].contains("only-b.css"), "{out}");
}

#[test]
fn the_access_log_is_vhost_combined() {
    let sites = Sites::new();
    let dir = TempDir::new("vhost-log");
    let log = dir.path().join("access.log");
    let log_str = log.to_str().unwrap();
    let mut srv = sites.serve(&["--access-log", log_str]);
    let port = srv.addr().port();
    // Twice each: the second is recalled from the memo with its log part.
    for raw in [host_get("A.Test:99", "/"), host_get("A.Test:99", "/"), host_get("c.test", "/")] {
        srv.request(raw);
    }
    srv.request("GET / HTTP/1.0\r\n\r\n");
    srv.signal("TERM");
    srv.wait_exit(Duration::from_secs(10));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for (line, host, status) in [(0, "a.test", "200"), (1, "a.test", "200"), (2, "c.test", "421"), (3, "-", "421")] {
        let want = format!("{host}:{port} 127.0.0.1 - - [");
        assert!(lines[line].starts_with(&want), "line {line}: {}", lines[line]);
        assert!(lines[line].contains(&format!("\" {status} ")), "line {line}: {}", lines[line]);
    }
}

/// Two `--tls-cert` pairs: `a.test`'s first, then `b.test`'s (each also
/// covers localhost and 127.0.0.1, as the test CA's leaves do).
fn tls_server(pki: &Pki, sites: &Sites, extra: &[&str]) -> Server {
    let (a_cert, a_key) = pki.leaf("a", "a.test", 2);
    let (b_cert, b_key) = pki.leaf("b", "b.test", 2);
    let mut args = vec!["--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0"];
    args.extend(["--tls-cert", &a_cert, "--tls-cert", &b_cert, "--tls-key", &a_key, "--tls-key", &b_key]);
    args.extend_from_slice(extra);
    let args = sites.args(&args);
    Server::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The subject openssl s_client saw, with `-servername NAME` or none.
fn subject(srv: &Server, servername: Option<&str>) -> String {
    let connect = format!("127.0.0.1:{}", srv.addrs()[1].port());
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &connect]);
    match servername {
        Some(name) => cmd.args(["-servername", name]),
        None => cmd.arg("-noservername"),
    };
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("openssl");
    let _ = child.stdin.take().unwrap().write_all(b"");
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find(|l| l.starts_with("subject=")).unwrap_or("no subject").to_string()
}

/// For each (SNI, Host), one TLS connection (python's ssl, trusting `ca`)
/// with one closing GET /: its status line and body.
fn statuses_over_tls(srv: &Server, ca: &str, connections: &[(&str, &str)]) -> Vec<String> {
    let answer = |(sni, host): &(&str, &str)| {
        let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let r = parse_all(&tls_exchange_as(srv, ca, sni, raw.as_bytes())).remove(0);
        format!("{} {} {}", r.status, r.reason, String::from_utf8_lossy(&r.body).trim())
    };
    connections.iter().map(answer).collect()
}

#[test]
fn sni_picks_the_pair_and_a_host_it_does_not_cover_is_421() {
    if !has_tls() {
        return;
    }
    let (pki, sites) = (Pki::new(), Sites::new());
    let srv = tls_server(&pki, &sites, &[]);
    assert!(subject(&srv, Some("b.test")).contains("b.test"), "SNI b.test gets b's pair");
    assert!(subject(&srv, Some("A.TEST")).contains("a.test"), "SNI in another case");
    assert!(subject(&srv, None).contains("a.test"), "no SNI: the first pair");
    assert!(subject(&srv, Some("c.test")).contains("a.test"), "an SNI nothing covers: the first pair");
    // curl checks the chain and the name: each host gets its own pair.
    let port = srv.addrs()[1].port();
    let ca = pki.path("ca.pem");
    for (host, body) in [("a.test", "SITE-A\n"), ("b.test", "SITE-B\n")] {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert", ca.to_str().unwrap()])
            .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
            .arg(format!("https://{host}:{port}/"))
            .output()
            .expect("run curl");
        assert_eq!(String::from_utf8_lossy(&out.stdout), body, "{host}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // The same head on connections with other certificates: the memo must
    // not hand one connection's answer to another (the plain listener's
    // first, then b's, then a's, which does not cover b.test).
    assert_eq!(srv.request(host_get("b.test", "/")).status, 200);
    let got = statuses_over_tls(
        &srv,
        ca.to_str().unwrap(),
        &[
            ("b.test", "b.test"),
            ("a.test", "b.test"),
            ("a.test", "a.test"),
            ("b.test", "a.test"),
            ("localhost", "b.test"),
        ],
    );
    let want = [
        "200 OK SITE-B",
        "421 Misdirected Request 421 Misdirected Request",
        "200 OK SITE-A",
        "421 Misdirected Request 421 Misdirected Request",
        // localhost is on both leaves, and SNI localhost gets the first.
        "421 Misdirected Request 421 Misdirected Request",
    ];
    assert_eq!(got, want);
}

#[test]
fn a_tls_key_for_each_cert() {
    if !has_tls() {
        return;
    }
    let pki = Pki::new();
    let (a_cert, a_key) = pki.leaf("a", "a.test", 2);
    let (b_cert, _) = pki.leaf("b", "b.test", 2);
    let run = |keys: &[&str]| {
        let mut args = vec!["--listen-tls", "127.0.0.1:0", "--tls-cert", &a_cert, "--tls-cert", &b_cert];
        keys.iter().for_each(|key| args.extend(["--tls-key", key]));
        run_to_exit(&args)
    };
    let (status, _, err) = run(&[&a_key]);
    assert!(!status.success() && err.contains("--tls-key: 1 given for 2 --tls-cert"), "{err}");
    // The second pair mismatched: named by its file.
    let (status, _, err) = run(&[&a_key, &a_key]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("not the key of the certificate in --tls-cert") && err.contains("b.pem"), "{err}");
}

#[test]
fn a_vhost_no_certificate_covers_is_warned_about() {
    if !has_tls() {
        return;
    }
    let (pki, sites) = (Pki::new(), Sites::new());
    let (a_cert, a_key) = pki.leaf("a", "a.test", 2);
    let args = sites.args(&["--listen-tls", "127.0.0.1:0", "--tls-cert", &a_cert, "--tls-key", &a_key]);
    let srv = Server::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let err = srv.stderr();
    assert!(err.contains("warning: --vhost b.test: no certificate covers it"), "{err}");
    assert!(!err.contains("--vhost a.test"), "{err}");
}
