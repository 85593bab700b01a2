//! Paths: nothing outside the root is ever served. A secret file lies beside
//! the root; the root holds symlinks to it, to a directory beside the root and
//! to the root's parent. Every trick below — dot segments, percent-encoding
//! single and double, encoded separators, backslashes, overlong UTF-8, NUL,
//! absolute-form and Host games — gets a 400 or a 404, and the secret's bytes
//! appear in no response, with or without --spa, --listing and --cache-max 0,
//! and after a reload.

use crate::common::*;

use std::thread;
use std::time::Duration;

/// A marker that is only in the files beside the root.
const MARK: &[u8] = b"TOP-SECRET";

/// Request targets aimed at the secret (`<base>/secret.txt`, beside the
/// root) and at `<base>/outside/file.txt`.
const TARGETS: &[&str] = &[
    // Dot segments (RFC 3986 §5.2.4: clamped at the root).
    "/secret.txt",
    "/../secret.txt",
    "/../../secret.txt",
    "/a/../../secret.txt",
    "/a/b/../../../secret.txt",
    "/./../secret.txt",
    "//../secret.txt",
    "/../outside/file.txt",
    "/docs/../../outside/file.txt",
    "/.../secret.txt",
    "/..../secret.txt",
    "/..;/secret.txt",
    "/../secret.txt/",
    "/../secret.txt/.",
    // Percent-encoded dots and separators.
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/a%2f..%2f..%2fsecret.txt",
    "/%2f..%2fsecret.txt",
    "/%2e%2e;/secret.txt",
    // Double encoding: decoded once, so `%2e` stays literal.
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/%25%32%65%25%32%65/secret.txt",
    "/%252E%252E%255Csecret.txt",
    // Backslashes: raw ones are not a pchar; encoded ones are no separator.
    "/..\\secret.txt",
    "/\\..\\secret.txt",
    "/..%5csecret.txt",
    "/%5c..%5csecret.txt",
    "/..%5c..%5csecret.txt",
    "/%2e%2e%5csecret.txt",
    // Overlong and otherwise invalid UTF-8 for `.` and `/`.
    "/%c0%ae%c0%ae/secret.txt",
    "/%c0%ae%c0%ae%c0%afsecret.txt",
    "/..%c0%afsecret.txt",
    "/..%c1%9csecret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%f0%80%80%ae%f0%80%80%ae/secret.txt",
    "/%c0%2e%c0%2e/secret.txt",
    "/%u002e%u002e/secret.txt",
    "/%ef%bc%8e%ef%bc%8e/secret.txt", // fullwidth dots: an ordinary name
    // NUL and other control bytes.
    "/secret.txt%00",
    "/..%00/secret.txt",
    "/%00../secret.txt",
    "/.%00./secret.txt",
    "/link-secret.txt%00.html",
    "/..%0d%0a/secret.txt",
    "/..%09/secret.txt",
    // Symlinks inside the root that lead out of it.
    "/link-secret.txt",
    "/abs-secret.txt",
    "/%6cink-secret.txt",
    "/link-secret.txt/",
    "/./link-secret.txt",
    "/docs/../link-secret.txt",
    "/outdir",
    "/outdir/",
    "/outdir/file.txt",
    "/outdir/../secret.txt",
    "/up",
    "/up/",
    "/up/secret.txt",
    "/up/outside/file.txt",
    "/up/root/up/secret.txt",
    "/docs/deep-secret.txt",
    "/docs/updir/secret.txt",
    "/docs/updir/outside/file.txt",
    // Fragments, queries and schemes in odd places.
    "/secret.txt#",
    "/..#/secret.txt",
    "/%3f/../secret.txt",
    "/%23/../../secret.txt",
    // Absolute-form (RFC 9112 §3.2.2).
    "http://test/../secret.txt",
    "http://test/%2e%2e/secret.txt",
    "HTTP://test/..%2fsecret.txt",
    "https://test/../../secret.txt",
    "http://../secret.txt",
    "http://test/../outside/file.txt",
    "http://test/link-secret.txt",
    "http://test/up/secret.txt",
    "http://test@evil/../secret.txt",
    "http://test\\..\\secret.txt",
    "file:///../secret.txt",
    "http:/../secret.txt",
    "http:///../secret.txt",
    // Not origin-form at all.
    "../secret.txt",
    "secret.txt",
    ".%2e/secret.txt",
    "\\..\\secret.txt",
];

/// Whole requests with tricks outside the target: Host games, versions,
/// raw bytes that a target string cannot carry.
fn raw_cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut cases: Vec<(&'static str, Vec<u8>)> = vec![
        ("Host ..", b"GET /secret.txt HTTP/1.1\r\nHost: ..\r\nConnection: close\r\n\r\n".to_vec()),
        ("Host ../", b"GET /secret.txt HTTP/1.1\r\nHost: ../\r\nConnection: close\r\n\r\n".to_vec()),
        ("Host with a path", b"GET secret.txt HTTP/1.1\r\nHost: test/..\r\nConnection: close\r\n\r\n".to_vec()),
        ("Host with a backslash", b"GET /secret.txt HTTP/1.1\r\nHost: test\\..\r\nConnection: close\r\n\r\n".to_vec()),
        ("Host IPv6 then path", b"GET /x HTTP/1.1\r\nHost: [::1]/../secret.txt\r\nConnection: close\r\n\r\n".to_vec()),
        (
            "absolute-form with a different Host",
            b"GET http://evil/../secret.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".to_vec(),
        ),
        ("two Hosts", b"GET /../secret.txt HTTP/1.1\r\nHost: test\r\nHost: ..\r\nConnection: close\r\n\r\n".to_vec()),
        ("HTTP/1.0 without Host", b"GET /../secret.txt HTTP/1.0\r\n\r\n".to_vec()),
        ("HEAD", b"HEAD /../secret.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".to_vec()),
        (
            "Range on a link out",
            b"GET /link-secret.txt HTTP/1.1\r\nHost: test\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\n".to_vec(),
        ),
        (
            "conditional on a link out",
            b"GET /link-secret.txt HTTP/1.1\r\nHost: test\r\nIf-None-Match: *\r\nConnection: close\r\n\r\n".to_vec(),
        ),
        ("raw NUL in the target", b"GET /..\0/secret.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".to_vec()),
        ("raw NUL after the target", b"GET /secret.txt\0 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".to_vec()),
        ("raw overlong bytes", b"GET /\xc0\xae\xc0\xae/secret.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".to_vec()),
        ("raw UTF-8", "GET /\u{2025}/secret.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".as_bytes().to_vec()),
        ("tab in the target", b"GET /..\t/secret.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".to_vec()),
        ("space in the target", b"GET /.. /secret.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".to_vec()),
        (
            "smuggled second request",
            b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: 40\r\n\r\nGET /../secret.txt HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
        ),
    ];
    for target in TARGETS {
        let name: &'static str = target;
        cases.push((name, format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").into_bytes()));
    }
    cases
}

/// The standard site plus a symlink to the root's parent, and links from a
/// subdirectory to the secret and to its grandparent.
fn site() -> Site {
    let site = Site::standard();
    site.base.symlink("..", "root/up");
    site.base.symlink("../../secret.txt", "root/docs/deep-secret.txt");
    site.base.symlink("../..", "root/docs/updir");
    site
}

/// Sends every case; returns failures. `strict`: each must be 400 or 404
/// (otherwise, as with --spa, any status is allowed, only never the secret).
fn check_all(srv: &Server, mode: &str, strict: bool) -> Vec<String> {
    let mut failures = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    for (name, raw) in raw_cases() {
        let mut s = srv.connect();
        send_lenient(&mut s, &raw);
        let bytes = read_to_close(&mut s);
        if bytes.windows(MARK.len()).any(|w| w == MARK) {
            failures.push(format!("{mode}: {name}: THE SECRET WAS SERVED:\n{}", String::from_utf8_lossy(&bytes)));
            continue;
        }
        let head_only = raw.starts_with(b"HEAD ");
        let mut cursor = &bytes[..];
        let mut responses = Vec::new();
        while let Ok(Some(r)) = try_read_response(&mut cursor, head_only) {
            responses.push(r);
        }
        let smuggle = name == "smuggled second request";
        let last = responses.last().map(|r| r.status);
        *statuses.entry(last.unwrap_or(0)).or_insert(0) += 1;
        let ok = match (&responses[..], strict) {
            ([r], true) if !smuggle => r.status == 400 || r.status == 404,
            ([r], false) if !smuggle => r.status < 500,
            // The body of the first is thrown away, never parsed as a request.
            ([r], _) => r.status == 200,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{mode}: {name:?}: got {:?}:\n{}",
                statuses_of(&responses),
                String::from_utf8_lossy(&bytes)
            ));
        }
    }
    eprintln!("paths ({mode}): {} requests, final statuses {statuses:?}", raw_cases().len());
    failures
}

fn statuses_of(responses: &[Response]) -> Vec<u16> {
    responses.iter().map(|r| r.status).collect()
}

#[test]
fn nothing_outside_the_root_is_ever_served() {
    let site = site();
    let mut failures = Vec::new();
    for (mode, flags, strict) in [
        ("default", &[][..], true),
        ("--cache-max 0", &["--cache-max", "0"][..], true),
        ("--listing", &["--listing"][..], true),
        ("--spa", &["--spa"][..], false),
    ] {
        let srv = site.serve(flags);
        failures.extend(check_all(&srv, mode, strict));
        // The links themselves are skipped with a warning at load.
        let stderr = srv.stderr();
        assert!(stderr.contains("outside the root"), "{mode}: no warning about links out of the root:\n{stderr}");
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn links_out_of_the_root_made_after_start_are_not_served_after_a_reload() {
    let site = Site::standard();
    site.write("late.txt", "LATE\n");
    site.write("sub/page.txt", "PAGE\n");
    let srv = site.serve(&[]);
    srv.get("/late.txt").assert_status(200);
    srv.get("/sub/page.txt").assert_status(200);
    // Swap a file and a directory for links that lead out, then reload.
    let root = site.root();
    std::fs::remove_file(root.join("late.txt")).unwrap();
    std::fs::remove_dir_all(root.join("sub")).unwrap();
    site.base.symlink("../secret.txt", "root/late.txt");
    site.base.symlink("../outside", "root/sub");
    site.base.symlink("..", "root/parent");
    srv.signal("HUP");
    // The reload runs off the event loops: wait until the old file is gone.
    let mut gone = false;
    for _ in 0..100 {
        if srv.get("/sub/page.txt").status == 404 {
            gone = true;
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    assert!(gone, "the reload did not take effect; stderr:\n{}", srv.stderr());
    for target in ["/late.txt", "/sub/file.txt", "/sub/", "/parent/secret.txt", "/parent/outside/file.txt"] {
        let r = srv.get(target);
        assert!(!r.body.windows(MARK.len()).any(|w| w == MARK), "GET {target} served the secret after a reload");
        r.assert_status(404);
    }
    srv.get("/style.css").assert_status(200);
}
