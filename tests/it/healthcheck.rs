//! `mote --healthcheck [URL]`: the probe a FROM-scratch image runs. Exit 0
//! on a 2xx or 3xx answer, 1 with one line on stderr otherwise, never more
//! than its 2 s; with the server's own flags it asks the server's `--status`
//! page over loopback, and that page stays out of the access log.

use crate::common::*;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// Longer than the probe's own 2 s, for a loaded machine; a probe still
/// running then is a hang.
const PATIENCE: Duration = Duration::from_secs(15);

fn probe(args: &[&str]) -> (ExitStatus, String) {
    let mut all = vec!["--healthcheck"];
    all.extend_from_slice(args);
    let (status, out, err) = output_within(command(&all), PATIENCE);
    assert_eq!(out, "", "nothing on stdout");
    (status, err)
}

/// Fails the test unless the probe exited 1 with one line containing `why`.
fn assert_unhealthy(args: &[&str], why: &str) {
    let (status, err) = probe(args);
    assert_eq!(status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("mote: --healthcheck ") && err.contains(why), "{args:?}: {err}");
}

#[test]
fn the_same_flags_ask_the_status_page() {
    let site = TempDir::new("healthcheck-site");
    site.write("index.html", "home");
    site.write("docs/index.html", "docs");
    let root = site.path().to_str().unwrap();
    let server = Server::start(&["--root", root, "--status", "/.mote-status"]);
    let listen = server.addr().to_string();
    let (status, err) = probe(&["--listen", &listen, "--status", "/.mote-status"]);
    assert!(status.success(), "{err}");
    // Without --status it asks for /.
    let (status, err) = probe(&["--listen", &listen]);
    assert!(status.success(), "{err}");
    // A given URL wins; a redirect (301 to /docs/) is healthy.
    let (status, err) = probe(&[&format!("http://{listen}/docs"), "--listen", "127.0.0.1:1"]);
    assert!(status.success(), "{err}");
}

#[test]
fn virtual_hosts_without_root_or_status_are_asked_by_their_first_name() {
    let site = TempDir::new("healthcheck-vhost");
    site.write("index.html", "a");
    let vhost = format!("a.test={}", site.path().display());
    let server = Server::start(&["--vhost", &vhost]);
    let listen = server.addr().to_string();
    // Another host would get 421: the probe names the first --vhost.
    let (status, err) = probe(&["--listen", &listen, "--vhost", &vhost]);
    assert!(status.success(), "{err}");
    assert_unhealthy(&[&format!("http://{listen}/")], "421");
}

#[test]
fn an_unspecified_address_is_asked_over_loopback() {
    let server = Server::start(&["--listen", "0.0.0.0:0", "--status", "/s"]);
    let port = server.addr().port();
    let (status, err) = probe(&["--listen", &format!("0.0.0.0:{port}"), "--status", "/s"]);
    assert!(status.success(), "{err}");
}

#[test]
fn errors_and_missing_pages_are_unhealthy() {
    let server = Server::start(&[]);
    let listen = server.addr().to_string();
    assert_unhealthy(&["--listen", &listen, "--status", "/not-this-one"], "status 404");
    assert_unhealthy(&[&format!("http://{listen}/missing")], &format!("http://{listen}/missing: status 404"));
    let nothing = format!("127.0.0.1:{}", free_port());
    assert_unhealthy(&["--listen", &nothing], "refused");
    assert_unhealthy(&["https://127.0.0.1/"], "https:// is not supported");
    assert_unhealthy(&["http://example.org/"], "bad URL");
}

/// A server that takes the connection and never answers (a wedged event
/// loop looks like this) is unhealthy once the probe's 2 s are up.
#[test]
fn a_server_that_never_answers_is_unhealthy() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let holder = std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(PATIENCE);
        drop(held);
    });
    let started = Instant::now();
    assert_unhealthy(&[&format!("http://{addr}/")], "no answer within 2 s");
    assert!(started.elapsed() >= Duration::from_secs(2), "gave up before its 2 s");
    drop(holder);
}

#[test]
fn credentials_come_from_the_same_flags() {
    let server = Server::start(&["--auth", "ops:s3cret", "--status", "/s"]);
    let listen = server.addr().to_string();
    let (status, err) = probe(&["--listen", &listen, "--status", "/s", "--auth", "ops:s3cret"]);
    assert!(status.success(), "{err}");
    assert_unhealthy(&["--listen", &listen, "--status", "/s"], "status 401");
}

#[test]
fn the_status_page_stays_out_of_the_access_log() {
    let dir = TempDir::new("healthcheck-log");
    let log = dir.path().join("access.log");
    let server = Server::start(&["--access-log", log.to_str().unwrap(), "--status", "/.mote-status"]);
    let listen = server.addr().to_string();
    for _ in 0..3 {
        let (status, err) = probe(&["--listen", &listen, "--status", "/.mote-status"]);
        assert!(status.success(), "{err}");
    }
    server.get("/.mote-status").assert_status(200);
    server.request("HEAD /.mote-status HTTP/1.1\r\nHost: a\r\n\r\n").assert_status(200);
    server.get("/logged").assert_status(404);
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("/logged") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("\"GET /logged HTTP/1.1\" 404"), "{text}");
}
