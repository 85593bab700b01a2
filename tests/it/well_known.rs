//! `/.well-known/` (RFC 8615) is served, and is the only dotted name that is:
//! security.txt, assetlinks.json, apple-app-site-association (as JSON), and
//! ACME HTTP-01 challenges (RFC 8555 §8.3) written while mote runs, as a
//! webroot ACME client writes them, read from disk without a reload. The last
//! test obtains a certificate with a real client (lego) from a real ACME
//! server (pebble) that validates against mote.
use crate::common::*;
use std::fs;
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

const TOKEN: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const KEY_AUTHORIZATION: &str =
    "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

fn challenge_path(token: &str) -> String {
    format!("/.well-known/acme-challenge/{token}")
}

fn well_known_site() -> Site {
    let site = Site::standard(); // holds .hidden, .git/config, .well-known/security.txt
    site.write("index.html", INDEX_HTML);
    site.write(".well-known/assetlinks.json", "[{\"relation\":[\"delegate_permission/common.handle_all_urls\"]}]\n");
    site.write(".well-known/apple-app-site-association", "{\"applinks\":{\"details\":[]}}\n");
    site.write(".well-known/.secret", "WELL-KNOWN-SECRET\n");
    site.write(".well-known/sub/.hidden", "WELL-KNOWN-SECRET\n");
    site.write("a/.well-known/x.txt", "NESTED-WELL-KNOWN\n");
    site.write(".env", "SECRET=1\n");
    site
}

#[test]
fn well_known_files_are_served_with_their_types() {
    let site = well_known_site();
    let srv = site.serve(&[]);
    let rows = [
        ("/.well-known/security.txt", "text/plain; charset=utf-8", "Contact: x\n"),
        ("/.well-known/assetlinks.json", "application/json", "delegate_permission"),
        // Apple fetches it as JSON, and it has no extension to say so.
        ("/.well-known/apple-app-site-association", "application/json", "applinks"),
    ];
    for (path, content_type, body) in rows {
        let r = srv.get(path);
        r.assert_status(200).assert_header("content-type", content_type);
        assert!(r.text().contains(body), "{path}: {}", r.text());
        assert_etag_format(r.must("etag"));
    }
    let r = srv.get("/.well-known");
    r.assert_status(301).assert_header("location", "/.well-known/");
}

#[test]
fn every_other_dotted_name_stays_hidden() {
    let site = well_known_site();
    let srv = site.serve(&["--listing"]);
    for target in [
        "/.git/config",
        "/.git/",
        "/.env",
        "/.hidden",
        "/.well-known/.secret",            // a dotfile inside it
        "/.well-known/%2esecret",          // the same, encoded
        "/.well-known/sub/.hidden",        // deeper inside it
        "/.well-known/../.git/config",     // out of it by a dot-segment
        "/%2ewell-known/..%2f.git/config", // the same, encoded
        "/.well-known/..%2f.env",
        "/a/.well-known/x.txt", // well-known at the root only
        "/.well-knownx",
    ] {
        let r = srv.get(target);
        assert_eq!(r.status, 404, "GET {target}\n{}", r.raw_head);
        for secret in ["SECRET", "[core]", "HIDDEN", "NESTED"] {
            assert!(!r.text().contains(secret), "GET {target} leaked {secret}");
        }
    }
    let listing = srv.get("/.well-known/");
    listing.assert_status(200);
    assert!(listing.text().contains("security.txt") && !listing.text().contains(".secret"), "{}", listing.text());
}

/// What a webroot ACME client does: the token appears while mote runs, the
/// CA fetches it at once, the client removes it.
#[test]
fn a_challenge_written_after_start_is_served_without_a_reload() {
    let site = well_known_site();
    let srv = site.serve(&[]);
    let path = challenge_path(TOKEN);
    // The same bytes on one keep-alive connection: an answer the worker
    // remembered would be recalled unchanged.
    let mut conn = srv.connect();
    let fetch = |conn: &mut TcpStream| {
        send_raw(conn, get(&path));
        read_response(conn, false)
    };
    fetch(&mut conn).assert_status(404);
    site.write(&format!(".well-known/acme-challenge/{TOKEN}"), KEY_AUTHORIZATION);
    for _ in 0..3 {
        let r = fetch(&mut conn);
        r.assert_status(200).assert_header("content-type", "application/octet-stream");
        assert_eq!(r.text(), KEY_AUTHORIZATION);
        assert_etag_format(r.must("etag"));
        r.assert_header("last-modified", FIXED_LM);
    }
    let head = srv.request(req("HEAD", &path, &[]));
    head.assert_status(200).assert_header("content-length", &KEY_AUTHORIZATION.len().to_string());
    let etag = head.must("etag").to_string();
    let etag_header = format!("If-None-Match: {etag}");
    srv.request(req("GET", &path, &[&etag_header])).assert_status(304);
    let r = srv.request(req("GET", &path, &["Range: bytes=0-42"]));
    r.assert_status(206);
    assert_eq!(r.text(), TOKEN);
    fs::remove_file(site.root().join(format!(".well-known/acme-challenge/{TOKEN}"))).unwrap();
    fetch(&mut conn).assert_status(404);
}

#[test]
fn challenges_are_read_only_from_inside_the_root() {
    let site = well_known_site();
    site.outside("outside-token", KEY_AUTHORIZATION);
    site.outside("elsewhere/tok2", KEY_AUTHORIZATION);
    let srv = site.serve(&[]);
    let dir = site.root().join(".well-known/acme-challenge");
    fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(site.base.path().join("outside-token"), dir.join("tok1")).unwrap();
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    fs::write(dir.join("big"), "x".repeat(5000)).unwrap();
    fs::write(dir.join("dotted.txt"), KEY_AUTHORIZATION).unwrap(); // not a token's name
    fs::create_dir_all(dir.join("adir")).unwrap();
    for token in ["tok1", "fifo", "big", "dotted.txt", "adir", "adir/", "missing"] {
        let r = srv.get(&challenge_path(token));
        assert_eq!(r.status, 404, "{token}\n{}", r.raw_head);
        assert!(!r.text().contains(KEY_AUTHORIZATION), "{token}");
    }
    // A challenge directory that leads out of the root.
    fs::remove_dir_all(site.root().join(".well-known")).unwrap();
    site.base.symlink("../elsewhere", "root/.well-known");
    srv.get(&challenge_path("tok2")).assert_status(404);
    // One symlink inside the root is followed, as the site's walk follows it.
    fs::remove_file(site.root().join(".well-known")).unwrap();
    site.write("store/.well-known/acme-challenge/tok3", KEY_AUTHORIZATION);
    site.base.symlink("store/.well-known", "root/.well-known");
    let r = srv.get(&challenge_path("tok3"));
    r.assert_status(200);
    assert_eq!(r.text(), KEY_AUTHORIZATION);
}

/// A CA cannot authenticate; the challenge alone is let through.
#[test]
fn challenges_need_no_credentials_under_auth() {
    let site = well_known_site();
    site.write(&format!(".well-known/acme-challenge/{TOKEN}"), KEY_AUTHORIZATION);
    site.write("404.html", "PRIVATE-NOT-FOUND-PAGE");
    let srv = site.serve(&["--auth", "user:pass"]);
    let r = srv.get(&challenge_path("missing"));
    r.assert_status(404);
    assert!(!r.text().contains("PRIVATE"), "the site's 404 page leaked: {}", r.text());
    let r = srv.get(&challenge_path(TOKEN));
    r.assert_status(200);
    assert_eq!(r.text(), KEY_AUTHORIZATION);
    site.write(".well-known/acme-challenge/late", "LATE");
    assert_eq!(srv.get(&challenge_path("late")).text(), "LATE");
    for path in ["/.well-known/security.txt", "/", "/.well-known/acme-challenge/", "/.well-known/acme-challenge/x.txt"]
    {
        srv.get(path).assert_status(401);
    }
    let absolute = format!("http://test{}", challenge_path(TOKEN));
    srv.get(&absolute).assert_status(401); // only the exact origin-form path
}

/// Programs read well-known URIs: a missing one is a 404, not the app.
#[test]
fn spa_fallback_spares_well_known() {
    let site = Site::empty();
    site.write("index.html", INDEX_HTML);
    let srv = site.serve(&["--spa"]);
    srv.get("/some/route").assert_status(200);
    for path in ["/.well-known/apple-app-site-association", "/.well-known/acme-challenge/abc", "/.well-known"] {
        let r = srv.get(path);
        assert_eq!(r.status, 404, "{path}\n{}", r.raw_head);
    }
}

#[test]
fn check_lists_what_well_known_holds() {
    let site = well_known_site();
    site.write(&format!(".well-known/acme-challenge/{TOKEN}"), KEY_AUTHORIZATION);
    let (status, out, err) = run_to_exit(&["--check", "-v", "--root", &site.root_str()]);
    assert!(status.success(), "{out}{err}");
    for line in [
        "/.well-known/security.txt\t11\ttext/plain; charset=utf-8",
        "/.well-known/assetlinks.json\t",
        "/.well-known/apple-app-site-association\t28\tapplication/json",
        &format!("/.well-known/acme-challenge/{TOKEN}\t{}\tapplication/octet-stream", KEY_AUTHORIZATION.len()),
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let summary = out
        .lines()
        .find(|l| l.starts_with("note: /.well-known/ holds"))
        .unwrap_or_else(|| panic!("no summary:\n{out}"));
    for name in ["security.txt", "assetlinks.json", "apple-app-site-association", "acme-challenge/ (1 file)"] {
        assert!(summary.contains(name), "{name} not in {summary:?}");
    }
    assert!(!out.contains(&format!("{TOKEN}: unknown type")), "{out}");
    assert!(out.contains("/.well-known/.secret: dotfile, never served"), "{out}");
}

/// A real ACME exchange: pebble validates HTTP-01 against mote, and lego,
/// in webroot mode, writes the token into mote's root while mote runs.
#[test]
fn lego_obtains_a_certificate_through_motes_webroot() {
    if acme_tools_missing() {
        return;
    }
    let site = Site::empty();
    site.write("index.html", INDEX_HTML);
    let logs = TempDir::new("acme-log");
    let access_log = logs.path().join("access.log");
    let srv = site.serve(&["--access-log", access_log.to_str().unwrap()]);
    let pebble = Pebble::start(srv.addr().port());
    let (status, output) = pebble.lego("mote.test", &site.root_str());
    assert!(status.success(), "lego failed:\n{output}\npebble:\n{}\nmote:\n{}", pebble.log(), srv.stderr());
    let certificate =
        fs::read_to_string(pebble.file("lego/certificates/mote.test.crt")).expect("lego saved no certificate");
    assert!(certificate.contains("BEGIN CERTIFICATE"), "{certificate}");
    // The CA's fetches were mote's answers (access lines are written within a second).
    let fetched =
        |log: &str| log.lines().any(|l| l.contains("GET /.well-known/acme-challenge/") && l.contains("\" 200 "));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut log = String::new();
    while !fetched(&log) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
        log = fs::read_to_string(&access_log).unwrap_or_default();
    }
    assert!(fetched(&log), "no challenge served in the access log:\n{log}");
}
