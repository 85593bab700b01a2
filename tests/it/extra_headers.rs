//! `--header "Name: value"` (repeatable) on every response, whatever its
//! status, and `X-Content-Type-Options: nosniff` always; bad values are
//! refused at start-up (exit 2, naming the flag).

use crate::common::*;

const CSP: &str = "default-src 'self'";
const HSTS: &str = "max-age=63072000; includeSubDomains";

#[track_caller]
fn assert_extra(r: &Response, what: &str) {
    assert_eq!(r.header_all("content-security-policy"), [CSP], "{what}; head:\n{}", r.raw_head);
    assert_eq!(r.header_all("strict-transport-security"), [HSTS], "{what}; head:\n{}", r.raw_head);
    assert_eq!(r.header_all("x-content-type-options"), ["nosniff"], "{what}; head:\n{}", r.raw_head);
}

fn start(site: &Site, extra: &[&str]) -> Server {
    let csp = format!("Content-Security-Policy: {CSP}");
    let hsts = format!("Strict-Transport-Security:{HSTS}"); // no space after the colon
    let mut args = vec!["--header", csp.as_str(), "--header", hsts.as_str()];
    args.extend_from_slice(extra);
    site.serve(&args)
}

#[test]
fn extra_headers_on_every_status() {
    let site = Site::standard();
    site.write("404.html", "<!doctype html>custom 404\n");
    let server = start(&site, &[]);
    let ok = server.get("/style.css");
    ok.assert_status(200);
    assert_extra(&ok, "200");
    let tag = ok.must("etag").to_string();
    let cases: Vec<(u16, String, &str)> = vec![
        (304, req("GET", "/style.css", &[&format!("If-None-Match: {tag}")]), "304"),
        (206, req("GET", "/letters.txt", &["Range: bytes=0-3"]), "206"),
        (416, req("GET", "/letters.txt", &["Range: bytes=999-"]), "416"),
        (412, req("GET", "/style.css", &["If-Match: \"nope\""]), "412"),
        (404, get("/nope"), "404 with /404.html"),
        (301, get("/docs"), "301"),
        (204, req("OPTIONS", "/", &[]), "204 OPTIONS"),
        (405, req("DELETE", "/", &[]), "405"),
        (400, "GET / HTTP/1.1\r\n\r\n".to_string(), "400 (no Host)"),
        (505, "GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_string(), "505"),
        (200, get("/"), "200 index"),
    ];
    for (status, raw, what) in cases {
        let r = server.request(&raw);
        r.assert_status(status);
        assert_extra(&r, what);
    }
    // HEAD, and a pipelined keep-alive exchange (every response, not the first only).
    let r = server.request(req("HEAD", "/", &[]));
    assert_extra(&r, "HEAD 200");
    let raw = format!("{}{}{}", get("/"), get("/nope"), closing_get("/docs"));
    let rs = exchange(server.addr(), raw);
    assert_eq!(statuses(&rs), [200, 404, 301], "{}", heads(&rs));
    for r in &rs {
        assert_extra(r, "pipelined");
    }
}

#[test]
fn extra_headers_with_the_other_features() {
    let site = Site::standard();
    site.write("x.css", ".x{}\n".repeat(50));
    site.write("x.css.gz", gzip_bytes(".x{}\n".repeat(50).as_bytes()));
    let server = start(&site, &["--spa", "--listing", "--auth", "u:p"]);
    let auth = "Authorization: Basic dTpw"; // u:p
    let r = server.get("/");
    r.assert_status(401);
    assert_extra(&r, "401");
    for (status, path, what) in
        [(200, "/spa/route", "SPA fallback"), (200, "/empty/", "listing"), (404, "/x.js", "plain 404")]
    {
        let r = server.request(req("GET", path, &[auth]));
        r.assert_status(status);
        assert_extra(&r, what);
    }
    let r = server.request(req("GET", "/x.css", &[auth, "Accept-Encoding: gzip"]));
    r.assert_status(200).assert_header("content-encoding", "gzip");
    assert_extra(&r, "gzip variant");
}

#[test]
fn embedded_site_gets_them_and_nosniff_is_always_there() {
    let server = Server::start(&["--header", "Referrer-Policy: no-referrer"]);
    for path in ["/", "/style.css", "/nope"] {
        let r = server.get(path);
        r.assert_header("referrer-policy", "no-referrer");
        assert_eq!(r.header_all("x-content-type-options"), ["nosniff"], "{}", r.raw_head);
    }
    // Without --header: nosniff alone.
    let server = Server::start(&[]);
    for raw in [get("/"), get("/nope"), req("OPTIONS", "*", &[]), req("PUT", "/", &[])] {
        let r = server.request(&raw);
        assert_eq!(r.header_all("x-content-type-options"), ["nosniff"], "{}", r.raw_head);
    }
}

#[test]
fn invalid_headers_are_refused_at_start() {
    let bad = [
        "NoColon",
        ": value",
        "Bad Name: x",
        "Bad(Name): x",
        "Ünïcode: x",
        "X-Empty:",
        "X-Blank:    ",
        "X-Crlf: a\r\nX-Injected: b",
        "X-Lf: a\nb",
        "X-Cr: a\rb",
        "X-Utf8: café",
        "Content-Length: 5",
        "content-length: 5",
        "Transfer-Encoding: chunked",
        "Connection: close",
        "Date: Thu, 01 Jan 1970 00:00:00 GMT",
        "Content-Type: text/plain",
        "ETag: \"x\"",
    ];
    for value in bad {
        let (status, out, err) = run_to_exit(&["--listen", "127.0.0.1:0", "--header", value]);
        assert_eq!(status.code(), Some(2), "--header {value:?} must be refused; stderr: {err}");
        assert!(err.contains("--header"), "the error names the flag: {err}");
        assert!(!err.contains("listening") && !out.contains("listening"));
    }
    // The `=` form too.
    let (status, _, err) = run_to_exit(&["--header=Content-Length: 1"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--header"), "{err}");
}

/// The README promises one line per error: a value holding CR or LF must
/// not be echoed raw (it would split the line, or forge one in syslog).
#[test]
fn header_errors_are_one_line() {
    for value in ["X-Crlf: a\r\nX-Injected: b", "X-Lf: a\nb", "X-Cr: a\rb"] {
        let (status, _, err) = run_to_exit(&["--listen", "127.0.0.1:0", "--header", value]);
        assert_eq!(status.code(), Some(2), "{err}");
        let body = err.strip_suffix('\n').unwrap_or(&err);
        assert!(
            !body.contains('\n') && !body.contains('\r'),
            "--header {value:?}: the error must be one line without raw CR/LF; got {err:?}"
        );
    }
}
