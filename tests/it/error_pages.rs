//! Error pages: a site's `NNN.html` at its root is the body of every NNN
//! response, with its own length and `text/html`, the error's own header
//! lines kept (`Allow`, `WWW-Authenticate`, `Content-Range`, `Retry-After`),
//! no body for HEAD; rejections decided before routing use it too. Without
//! the page, the built-in text stays.

use crate::common::*;
use std::process::Command;
use std::time::Duration;

/// Every status a page is written for here, and its requests below.
const STATUSES: [u16; 11] = [400, 401, 404, 405, 412, 413, 414, 416, 431, 501, 505];

fn page(status: u16) -> String {
    format!("<!doctype html><title>{status}</title><h1>OWN-PAGE-{status}</h1>\n")
}

fn site_with_pages() -> Site {
    let site = Site::standard();
    for status in STATUSES.into_iter().chain([503]) {
        site.write(&format!("{status}.html"), page(status));
    }
    site
}

/// A request that gets `status` (a rejection for 400, 413, 414, 431, 501 and
/// 505), as raw bytes, with the header line it must keep.
fn request_for(status: u16) -> (String, Option<(&'static str, &'static str)>) {
    match status {
        400 => ("GET / HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n".into(), None),
        401 => (get("/"), Some(("www-authenticate", "Basic realm=\"mote\", charset=\"UTF-8\""))),
        404 => (get("/missing"), None),
        405 => (req("DELETE", "/", &[]), Some(("allow", ALLOW))),
        412 => (req("GET", "/letters.txt", &["If-Match: \"nope\""]), None),
        413 => ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n".into(), None),
        414 => (get(&format!("/{}", "a".repeat(9000))), None),
        416 => (req("GET", "/letters.txt", &["Range: bytes=100-200"]), Some(("content-range", "bytes */26"))),
        431 => (format!("GET / HTTP/1.1\r\nHost: t\r\nCookie: {}\r\n\r\n", "c".repeat(20000)), None),
        501 => ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(), None),
        505 => ("GET / HTTP/1.2\r\nHost: t\r\n\r\n".into(), None),
        _ => unreachable!("no request written for {status}"),
    }
}

/// The flags the requests need: 401 only comes with `--auth`.
fn serve(site: &Site, status: u16, extra: &[&str]) -> Server {
    let mut args = extra.to_vec();
    if status == 401 {
        args.extend(["--auth", "user:pass"]);
    }
    site.serve(&args)
}

#[test]
fn every_error_gets_the_sites_page() {
    let site = site_with_pages();
    let plain = site.serve(&[]);
    let auth = serve(&site, 401, &[]);
    for status in STATUSES {
        let (raw, kept) = request_for(status);
        let r = if status == 401 { auth.request(&raw) } else { plain.request(&raw) };
        let body = page(status);
        r.assert_status(status)
            .assert_header("content-type", "text/html; charset=utf-8")
            .assert_header("content-length", &body.len().to_string())
            .assert_header("x-content-type-options", "nosniff");
        assert_eq!(r.text(), body, "{status}");
        if let Some((name, value)) = kept {
            r.assert_header(name, value);
        }
        // One Cache-Control: a 401 keeps its no-store.
        let cache = r.header_all("cache-control");
        assert_eq!(cache, [if status == 401 { "no-store" } else { "no-cache" }], "{status}: {}", r.raw_head);
    }
}

#[test]
fn without_pages_the_built_in_text_stays() {
    let site = Site::standard();
    for status in STATUSES {
        let server = serve(&site, status, &[]);
        let (raw, kept) = request_for(status);
        let r = server.request(&raw);
        r.assert_status(status).assert_header("content-type", "text/plain; charset=utf-8");
        assert!(r.text().starts_with(&format!("{status} ")), "{status}: {}", r.text());
        if let Some((name, value)) = kept {
            r.assert_header(name, value);
        }
    }
}

#[test]
fn rejections_keep_closing_the_connection() {
    let site = site_with_pages();
    let server = site.serve(&[]);
    for status in [400, 413, 414, 431, 501, 505] {
        let (raw, _) = request_for(status);
        // A second request behind the rejected one is never answered.
        let rs = exchange(server.addr(), format!("{raw}{}", get("/letters.txt")));
        assert_eq!(statuses(&rs), [status], "{status}");
        assert!(rs[0].connection_has("close"), "{status}");
        assert_eq!(rs[0].text(), page(status));
    }
}

#[test]
fn head_gets_the_pages_length_and_no_body() {
    let site = site_with_pages();
    let server = site.serve(&[]);
    for (raw, status) in [
        (req("HEAD", "/missing", &[]), 404),
        ("HEAD / HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n".to_string(), 400),
        (req("HEAD", "/letters.txt", &["If-Match: \"nope\""]), 412),
    ] {
        let mut stream = server.connect();
        send_lenient(&mut stream, raw.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
        let bytes = read_to_close(&mut stream);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
        assert!(text.contains(&format!("\r\nContent-Length: {}\r\n", page(status).len())), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "HEAD must carry no body:\n{text}");
    }
}

#[test]
fn the_pages_stay_servable_at_their_own_paths() {
    let site = site_with_pages();
    let server = site.serve(&[]);
    for status in [404, 405, 503] {
        let r = server.get(&format!("/{status}.html"));
        r.assert_status(200).assert_header("content-type", "text/html; charset=utf-8");
        assert_eq!(r.text(), page(status));
    }
}

#[test]
fn a_page_above_cache_max_is_still_the_body() {
    let site = Site::standard();
    let big = format!("<!doctype html>{}\n", "x".repeat(40_000));
    site.write("404.html", &big);
    site.write("405.html", &big);
    let server = site.serve(&["--cache-max", "1K"]);
    for (raw, status) in [(get("/missing"), 404), (req("DELETE", "/", &[]), 405)] {
        let r = server.request(raw);
        r.assert_status(status).assert_header("content-length", &big.len().to_string());
        assert_eq!(r.text(), big);
    }
    // Its own path is streamed from disk as any large file.
    assert_eq!(server.get("/405.html").text(), big);
}

#[test]
fn a_page_over_a_mebibyte_is_only_a_file() {
    let site = Site::standard();
    site.write("405.html", vec![b'x'; (1 << 20) + 1]);
    site.write("412.html", page(412));
    let server = site.serve(&[]);
    let r = server.request(req("DELETE", "/", &[]));
    r.assert_status(405).assert_header("content-type", "text/plain; charset=utf-8");
    server.get("/405.html").assert_status(200);
    // The other pages are not held back by it.
    let r = server.request(req("GET", "/letters.txt", &["If-Match: \"nope\""]));
    assert_eq!(r.text(), page(412));
}

#[test]
fn the_401_page_is_shown_and_nothing_else_without_credentials() {
    let site = site_with_pages();
    let server = site.serve(&["--auth", "user:pass"]);
    // Without credentials, every path, the page's own and the 404 page's
    // included, gets the 401 with its page.
    for path in ["/", "/401.html", "/404.html", "/missing"] {
        let r = server.get(path);
        r.assert_status(401).assert_header("cache-control", "no-store");
        assert_eq!(r.text(), page(401), "{path}");
    }
    // With them, the site and its 404 page.
    let authorization = "Authorization: Basic dXNlcjpwYXNz";
    let r = server.request(req("GET", "/missing", &[authorization]));
    r.assert_status(404).assert_header("cache-control", "private, no-cache");
    assert_eq!(r.text(), page(404));
    server.request(req("GET", "/401.html", &[authorization])).assert_status(200);
}

#[test]
fn a_precompressed_only_file_keeps_its_vary_with_the_page() {
    let site = site_with_pages();
    site.write("only.txt.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00");
    let server = site.serve(&[]);
    let r = server.get("/only.txt");
    r.assert_status(404).assert_header("vary", "Accept-Encoding");
    assert_eq!(r.text(), page(404));
}

#[test]
fn over_max_conns_the_503_is_the_sites_page() {
    let site = site_with_pages();
    let server = site.serve(&["--max-conns", "1"]);
    let mut first = server.connect();
    send_raw(&mut first, get("/letters.txt"));
    read_response(&mut first, false).assert_status(200);
    let mut second = server.connect();
    send_lenient(&mut second, get("/letters.txt"));
    let rs = parse_all(&read_to_close(&mut second));
    assert_eq!(statuses(&rs), [503]);
    rs[0].assert_header("retry-after", "1").assert_header("content-type", "text/html; charset=utf-8");
    assert_eq!(rs[0].text(), page(503));
}

#[test]
fn a_reload_brings_the_new_page() {
    let site = site_with_pages();
    let server = site.serve(&[]);
    let delete = req("DELETE", "/", &[]);
    // Asked twice, so the second answer is recalled from the memo.
    for _ in 0..2 {
        assert_eq!(server.request(&delete).text(), page(405));
    }
    site.write("405.html", "NEW-PAGE\n");
    server.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.request(&delete).text() != "NEW-PAGE\n" {
        assert!(std::time::Instant::now() < deadline, "the reload did not bring the new 405 page");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn curl_sees_the_pages() {
    if tool_missing("curl") {
        return;
    }
    let site = site_with_pages();
    let server = site.serve(&[]);
    for (args, status) in
        [(vec!["/missing"], 404), (vec!["-X", "DELETE", "/"], 405), (vec!["-r", "90-99", "/letters.txt"], 416)]
    {
        let url = format!("http://{}{}", server.addr(), args[args.len() - 1]);
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "-w", "\n%{http_code} %{content_type}"])
            .args(&args[..args.len() - 1])
            .arg(&url)
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(text, format!("{}\n{status} text/html; charset=utf-8", page(status)), "curl {args:?}");
    }
}
