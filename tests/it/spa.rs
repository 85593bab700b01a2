//! `--spa` (extension-less paths that match nothing get /index.html, 200,
//! `Cache-Control: no-cache`) and the site's own `/404.html` as the body of
//! every 404.

use crate::common::*;

const NOT_FOUND_PAGE: &str = "<!doctype html><title>lost</title>CUSTOM-NOT-FOUND\n";

fn spa_site() -> Site {
    let s = Site::empty();
    s.write("index.html", INDEX_HTML);
    s.write("app.js", "console.log('spa');\n");
    s.write("docs/index.html", "DOCS-INDEX\n");
    s.write(".hidden", "HIDDEN\n");
    s
}

#[track_caller]
fn assert_index(r: &Response, what: &str) {
    r.assert_status(200)
        .assert_header("content-type", "text/html; charset=utf-8")
        .assert_header("cache-control", "no-cache");
    assert_eq!(r.text(), INDEX_HTML, "{what}");
}

#[test]
fn spa_routes_get_index_html() {
    let site = spa_site();
    let server = site.serve(&["--spa"]);
    for path in ["/some/route", "/about", "/deep/a/b/c", "/some/route/", "/v1.2/route", "/users/42?tab=x", "/%E2%9C%93"]
    {
        assert_index(&server.get(path), path);
    }
    // Real files and directories are unaffected.
    let r = server.get("/app.js");
    r.assert_status(200);
    assert_eq!(r.text(), "console.log('spa');\n");
    assert_eq!(server.get("/docs/").text(), "DOCS-INDEX\n");
    server.get("/docs").assert_status(301).assert_header("location", "/docs/");
    // The fallback is index.html itself: same ETag, revalidates to 304.
    let tag = server.get("/").must("etag").to_string();
    assert_eq!(server.get("/some/route").must("etag"), tag);
    let r = server.request(req("GET", "/some/route", &[&format!("If-None-Match: {tag}")]));
    r.assert_status(304).assert_header("cache-control", "no-cache");
}

#[test]
fn spa_head_has_no_body() {
    let site = spa_site();
    let server = site.serve(&["--spa"]);
    let mut s = server.connect();
    send_raw(&mut s, "HEAD /some/route HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let bytes = read_to_close(&mut s);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.contains(&format!("\r\nContent-Length: {}\r\n", INDEX_HTML.len())), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "HEAD must carry no body:\n{text}");
}

#[test]
fn spa_paths_with_an_extension_stay_404() {
    let site = spa_site();
    let server = site.serve(&["--spa"]);
    for path in ["/missing.js", "/assets/missing.css", "/route.with.dot", "/favicon.ico"] {
        let r = server.get(path);
        r.assert_status(404);
        assert_ne!(r.text(), INDEX_HTML, "{path}");
    }
    // Dotfiles stay hidden, not the SPA shell.
    server.get("/.hidden").assert_status(404);
    server.get("/.git/config").assert_status(404);
}

#[test]
fn without_spa_routes_are_404() {
    let site = spa_site();
    let server = site.serve(&[]);
    for path in ["/some/route", "/about", "/missing.js"] {
        server.get(path).assert_status(404);
    }
}

#[test]
fn spa_fallback_uses_index_variants() {
    let site = spa_site();
    let big = format!("<!doctype html>{}\n", "<p>shell</p>".repeat(100));
    site.write("index.html", &big);
    site.write("index.html.gz", gzip_bytes(big.as_bytes()));
    let server = site.serve(&["--spa"]);
    let r = server.request(req("GET", "/some/route", &["Accept-Encoding: gzip"]));
    r.assert_status(200)
        .assert_header("content-encoding", "gzip")
        .assert_header("vary", "Accept-Encoding")
        .assert_header("cache-control", "no-cache");
    assert_eq!(gunzip_bytes(&r.body), big.as_bytes());
}

#[test]
fn spa_without_index_html_is_404() {
    let site = Site::empty();
    site.write("app.js", "1\n");
    let server = site.serve(&["--spa"]);
    server.get("/some/route").assert_status(404);
}

// ---------------------------------------------------------------------------
// /404.html
// ---------------------------------------------------------------------------

fn site_with_404() -> Site {
    let s = spa_site();
    s.write("404.html", NOT_FOUND_PAGE);
    s
}

#[track_caller]
fn assert_custom_404(r: &Response, what: &str) {
    r.assert_status(404).assert_header("content-type", "text/html; charset=utf-8");
    r.assert_header("content-length", &NOT_FOUND_PAGE.len().to_string());
    assert_eq!(r.text(), NOT_FOUND_PAGE, "{what}");
}

#[test]
fn not_found_page_is_the_body_of_every_404() {
    let site = site_with_404();
    let server = site.serve(&[]);
    for path in ["/nope", "/missing.js", "/a/b/c.html", "/.hidden", "/docs/missing"] {
        assert_custom_404(&server.get(path), path);
    }
    // The page itself is an ordinary 200.
    let r = server.get("/404.html");
    r.assert_status(200);
    assert_eq!(r.text(), NOT_FOUND_PAGE);
    // Under --spa, extension paths still get it.
    let server = site.serve(&["--spa"]);
    assert_custom_404(&server.get("/missing.js"), "--spa /missing.js");
    assert_index(&server.get("/route"), "--spa /route");
}

#[test]
fn not_found_page_keeps_the_connection_framed() {
    let site = site_with_404();
    let server = site.serve(&[]);
    let raw = format!("{}{}{}", get("/nope"), get("/app.js"), closing_get("/also-missing"));
    let rs = exchange(server.addr(), raw);
    assert_eq!(statuses(&rs), [404, 200, 404], "{}", heads(&rs));
    assert_eq!(rs[0].text(), NOT_FOUND_PAGE);
    assert_eq!(rs[1].text(), "console.log('spa');\n");
    assert_eq!(rs[2].text(), NOT_FOUND_PAGE);
}

#[test]
fn head_of_a_404_has_no_body() {
    for with_page in [true, false] {
        let site = if with_page { site_with_404() } else { spa_site() };
        let server = site.serve(&[]);
        let mut s = server.connect();
        send_raw(
            &mut s,
            "HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /app.js HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        let bytes = read_to_close(&mut s);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert!(text.starts_with("HTTP/1.1 404 "), "{text}");
        let first_end = text.find("\r\n\r\n").unwrap() + 4;
        assert!(
            text[first_end..].starts_with("HTTP/1.1 200 "),
            "HEAD 404 (page: {with_page}) must have no body; stream:\n{text}"
        );
        if with_page {
            assert!(text[..first_end].contains(&format!("Content-Length: {}\r\n", NOT_FOUND_PAGE.len())), "{text}");
            assert!(text[..first_end].contains("Content-Type: text/html; charset=utf-8\r\n"), "{text}");
        }
    }
}

#[test]
fn without_404_html_the_plain_404_stays() {
    let site = spa_site();
    let server = site.serve(&[]);
    let r = server.get("/nope");
    r.assert_status(404).assert_header("content-type", "text/plain; charset=utf-8");
    assert_eq!(r.text(), "404 Not Found\n");
}

/// The 404 page is small in practice, but `--cache-max` below its size (or
/// 0, to stream everything) must not make it silently disappear.
#[test]
fn not_found_page_survives_a_small_cache_max() {
    let site = site_with_404();
    let server = site.serve(&["--cache-max", "0"]);
    assert_custom_404(&server.get("/nope"), "--cache-max 0");
}
