//! `--cors`: the Fetch standard's CORS protocol. Preflights (raw, and from
//! Python's http.client) from allowed and unknown origins, for allowed and
//! refused methods and request headers, before and under `--auth`; simple
//! requests with and without Origin; one Vary field with a precompressed
//! variant; `*`; the start-up errors; and headless Chromium fetching from a
//! page of another origin, which works only with `--cors`.

use crate::common::*;
use std::process::Command;

const PAGE: &str = "http://a.example";

fn preflight(origin: &str, method: &str, headers: Option<&str>, extra: &str) -> String {
    let asked = headers.map(|h| format!("Access-Control-Request-Headers: {h}\r\n")).unwrap_or_default();
    format!(
        "OPTIONS /style.css HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: {method}\r\n\
         {asked}{extra}\r\n"
    )
}

fn get(path: &str, lines: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n{lines}\r\n")
}

/// The response carries no CORS field at all.
#[track_caller]
fn assert_no_cors(r: &Response) {
    let cors: Vec<_> =
        r.headers.iter().filter(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-")).collect();
    assert!(cors.is_empty(), "CORS fields where none belong:\n{}", r.raw_head);
}

#[test]
fn a_preflight_from_an_allowed_origin_gets_204_with_what_it_may_send() {
    let site = Site::standard();
    let server = site.serve(&["--cors", PAGE, "--cors", "http://localhost:3000"]);
    let asked = "Range, X-Custom, if-none-match, If-Modified-Since, Authorization";
    let r = server.request(preflight(PAGE, "GET", Some(asked), ""));
    r.assert_status(204)
        .assert_header("Access-Control-Allow-Origin", PAGE)
        .assert_header("Access-Control-Allow-Methods", "GET, HEAD")
        .assert_header("Access-Control-Allow-Headers", "range, if-none-match, if-modified-since")
        .assert_header("Access-Control-Max-Age", "7200")
        .assert_header("Vary", "Origin")
        .assert_no_header("Access-Control-Allow-Credentials")
        .assert_no_header("Content-Length");
    assert!(r.body.is_empty());
    // Fetch §3.2.3: the other named origin, HEAD, and no headers asked.
    let r = server.request(preflight("http://localhost:3000", "HEAD", None, ""));
    r.assert_status(204)
        .assert_header("Access-Control-Allow-Origin", "http://localhost:3000")
        .assert_no_header("Access-Control-Allow-Headers");
    // Browsers send the serialization lowercase; a scheme and host match in any case.
    let r = server.request(preflight("HTTP://A.Example", "GET", Some("if-range"), ""));
    r.assert_header("Access-Control-Allow-Origin", PAGE).assert_header("Access-Control-Allow-Headers", "if-range");
}

#[test]
fn any_other_preflight_gets_the_plain_options_answer() {
    let site = Site::standard();
    for flags in [&["--cors", PAGE][..], &["--cors", "*"]] {
        let server = site.serve(flags);
        let rows = [
            ("POST is not a method mote serves", preflight(PAGE, "POST", None, "")),
            ("PUT", preflight(PAGE, "PUT", Some("range"), "")),
            ("methods are case-sensitive", preflight(PAGE, "get", None, "")),
        ];
        for (why, raw) in rows {
            let r = server.request(raw);
            r.assert_status(204).assert_header("Allow", ALLOW);
            assert_no_cors(&r);
            assert!(r.raw_head.contains("204"), "{why}");
        }
    }
    let server = site.serve(&["--cors", PAGE]);
    for origin in ["http://b.example", "http://a.example:8080", "https://a.example", "null"] {
        let r = server.request(preflight(origin, "GET", Some("range"), ""));
        r.assert_status(204);
        assert_no_cors(&r);
    }
    // Without --cors, a preflight is any OPTIONS.
    let r = site.serve(&[]).request(preflight(PAGE, "GET", Some("range"), ""));
    r.assert_status(204).assert_no_header("Vary");
    assert_no_cors(&r);
}

#[test]
fn under_auth_preflights_need_no_credentials_and_origins_are_echoed_with_credentials() {
    let site = Site::standard();
    let server = site.serve(&["--cors", PAGE, "--auth", "user:pass"]);
    let r = server.request(preflight(PAGE, "GET", Some("authorization, range"), ""));
    r.assert_status(204)
        .assert_header("Access-Control-Allow-Origin", PAGE)
        .assert_header("Access-Control-Allow-Credentials", "true")
        .assert_header("Access-Control-Allow-Headers", "range, authorization");
    // An unknown origin's preflight is any OPTIONS: under --auth, a 401.
    let r = server.request(preflight("http://b.example", "GET", None, ""));
    r.assert_status(401);
    assert_no_cors(&r);
    // The request itself: 401 without credentials, readable by the page.
    let r = server.request(get("/style.css", "Origin: http://a.example\r\n"));
    r.assert_status(401)
        .assert_header("Access-Control-Allow-Origin", PAGE)
        .assert_header("Access-Control-Allow-Credentials", "true")
        .assert_header("Vary", "Origin");
    let basic = "Authorization: Basic dXNlcjpwYXNz\r\n"; // user:pass
    let r = server.request(get("/style.css", &format!("Origin: http://a.example\r\n{basic}")));
    r.assert_status(200)
        .assert_header("Access-Control-Allow-Origin", PAGE)
        .assert_header("Access-Control-Allow-Credentials", "true")
        .assert_header("Cache-Control", "private, max-age=3600")
        .assert_header("Vary", "Origin");
    assert_eq!(r.text(), STYLE_CSS);
}

#[test]
fn simple_requests_get_their_origin_back_and_every_response_varies_by_origin() {
    let site = Site::standard();
    let server = site.serve(&["--cors", PAGE]);
    let expose = "ETag, Content-Range, Content-Length";
    for _ in 0..3 {
        // Repeated, so the memo and the whole-response copies answer too.
        let r = server.request(get("/style.css", "Origin: http://a.example\r\n"));
        r.assert_status(200)
            .assert_header("Access-Control-Allow-Origin", PAGE)
            .assert_header("Access-Control-Expose-Headers", expose)
            .assert_header("Vary", "Origin");
        assert_eq!(r.text(), STYLE_CSS);
        let r = server.request(get("/style.css", ""));
        r.assert_status(200).assert_header("Vary", "Origin");
        assert_no_cors(&r);
        let r = server.request(get("/style.css", "Origin: http://evil.example\r\n"));
        r.assert_status(200).assert_header("Vary", "Origin");
        assert_no_cors(&r);
    }
    // Answers without a file's head: a 404, a 206, a 304, a redirect.
    let origin = "Origin: http://a.example\r\n";
    let rows = [
        (get("/missing.txt", origin), 404),
        (get("/letters.txt", &format!("{origin}Range: bytes=0-1\r\n")), 206),
        (get("/docs", origin), 301),
        ("POST / HTTP/1.1\r\nHost: x\r\nOrigin: http://a.example\r\n\r\n".to_string(), 405),
    ];
    for (raw, status) in rows {
        let r = server.request(&raw);
        r.assert_status(status).assert_header("Access-Control-Allow-Origin", PAGE);
        assert_eq!(r.header_all("Vary"), ["Origin"], "{}", r.raw_head);
    }
    let etag = server.request(get("/style.css", "")).must("ETag").to_string();
    let r = server.request(get("/style.css", &format!("{origin}If-None-Match: {etag}\r\n")));
    r.assert_status(304).assert_header("Access-Control-Allow-Origin", PAGE).assert_header("Vary", "Origin");
    // Without --cors: no Vary on a file without variants, no CORS field.
    let r = site.serve(&[]).request(get("/style.css", origin));
    r.assert_no_header("Vary");
    assert_no_cors(&r);
}

#[test]
fn vary_is_one_field_with_a_precompressed_variant() {
    let site = Site::standard();
    site.write("style.css.gz", gzip_bytes(STYLE_CSS.as_bytes()));
    let server = site.serve(&["--cors", PAGE]);
    for lines in ["", "Accept-Encoding: gzip\r\n", "Origin: http://a.example\r\nAccept-Encoding: gzip\r\n"] {
        let r = server.request(get("/style.css", lines));
        assert_eq!(r.header_all("Vary"), ["Accept-Encoding, Origin"], "{}", r.raw_head);
    }
    let r = server.request(get("/style.css", "Accept-Encoding: gzip\r\n"));
    r.assert_header("Content-Encoding", "gzip");
    // Only a variant on disk, none acceptable: the 404 says both too, with
    // or without a 404.html, in two field lines (one list, RFC 9110 §5.3).
    site.write("only.js.gz", gzip_bytes(b"x"));
    for page in [false, true] {
        if page {
            site.write("404.html", "<h1>gone</h1>");
        }
        let server = site.serve(&["--cors", PAGE]);
        let r = server.request(get("/only.js", "Accept-Encoding: identity\r\nOrigin: http://a.example\r\n"));
        r.assert_status(404).assert_header("Access-Control-Allow-Origin", PAGE);
        let mut vary: Vec<String> = r.header_all("Vary").join(", ").split(", ").map(str::to_string).collect();
        vary.sort();
        assert_eq!(vary, ["Accept-Encoding", "Origin"], "{}", r.raw_head);
    }
    // The built-in site's heads are rebuilt with it.
    let server = Server::start(&["--cors", PAGE]);
    let r = server.request(get("/", "Accept-Encoding: gzip\r\n"));
    r.assert_status(200);
    assert_eq!(r.header_all("Vary"), ["Accept-Encoding, Origin"], "{}", r.raw_head);
}

#[test]
fn star_lets_any_origin_read_every_response_without_varying() {
    let site = Site::standard();
    let server = site.serve(&["--cors", "*", "--header", "X-Frame-Options: DENY"]);
    for raw in [get("/style.css", ""), get("/style.css", "Origin: http://b.example\r\n"), get("/missing", "")] {
        let r = server.request(&raw);
        r.assert_header("Access-Control-Allow-Origin", "*")
            .assert_header("Access-Control-Expose-Headers", "ETag, Content-Range, Content-Length")
            .assert_header("X-Frame-Options", "DENY")
            .assert_no_header("Vary");
    }
    let r = server.request(preflight("http://b.example", "GET", Some("range"), ""));
    r.assert_status(204).assert_header("Access-Control-Allow-Headers", "range").assert_no_header("Vary");
    assert_eq!(r.header_all("Access-Control-Allow-Origin"), ["*"], "{}", r.raw_head);
    r.assert_header("X-Frame-Options", "DENY");
}

#[test]
fn bad_cors_flags_stop_start_up_with_one_line() {
    let rows: &[(&[&str], &str)] = &[
        (&["--cors", "*", "--auth", "user:pass"], "--cors '*' cannot go with --auth"),
        (&["--cors", "https://a.example/"], "--cors: invalid value 'https://a.example/'"),
        (&["--cors", "a.example"], "--cors: invalid value 'a.example'"),
        (&["--cors", "*", "--cors", PAGE], "--cors: * allows every origin"),
    ];
    for (args, message) in rows {
        let (status, _out, err) = run_to_exit(args);
        assert_eq!(status.code(), Some(2), "mote {args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(message), "mote {args:?}: {err}");
    }
}

/// Python's http.client sends the preflight as a browser would.
#[test]
fn python_sends_a_preflight() {
    const SCRIPT: &str = r#"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for origin in ("http://a.example", "http://b.example"):
    c.request("OPTIONS", "/data.json", headers={"Origin": origin,
        "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "if-none-match,x-b"})
    r = c.getresponse(); r.read()
    print(r.status, r.getheader("Access-Control-Allow-Origin"), r.getheader("Access-Control-Allow-Headers"))
"#;
    let site = Site::standard();
    let server = site.serve(&["--cors", PAGE]);
    let port = server.addr().port().to_string();
    let out = Command::new("python3").arg("-c").arg(SCRIPT).arg(&port).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "204 http://a.example if-none-match\n204 None None\n");
}

/// A page from one mote fetches from another (another port: another
/// origin) in headless Chromium, plainly and with If-None-Match (which
/// needs a preflight). Only with `--cors` naming the page's origin does the
/// script get the responses, and read their ETag.
#[test]
fn chromium_fetches_across_origins_only_with_cors() {
    if !crate::browser::browser_available() {
        return;
    }
    let page_site = Site::empty();
    page_site.write("index.html", "<!doctype html><title>page</title><link rel=\"icon\" href=\"data:,\">\n");
    let page = page_site.serve(&[]);
    let page_url = format!("http://{}/", page.addr());
    let page_origin = format!("http://{}", page.addr());
    let data = Site::empty();
    data.write("data.json", "{\"from\":\"the other origin\"}\n");
    let fetch = |flags: &[&str]| {
        let server = data.serve(flags);
        let target = format!("http://{}/data.json", server.addr());
        crate::browser::run_node("cors.mjs", &[&page_url, &target])
    };
    let refused = fetch(&[]);
    assert_eq!(refused, "simple: refused\npreflighted: refused", "without --cors");
    let allowed = fetch(&["--cors", &page_origin]);
    let etag = data.serve(&[]).get("/data.json").must("ETag").to_string();
    let want = format!("simple: 200 {etag} {{\"from\":\"the other origin\"}}\npreflighted: 200 {etag}");
    assert_eq!(allowed, want, "with --cors {page_origin}");
    let other = fetch(&["--cors", "http://localhost:1"]);
    assert_eq!(other, "simple: refused\npreflighted: refused", "another origin allowed");
}
