//! Cache-Control: the defaults a front-end developer expects (HTML
//! revalidated, content-hashed names immutable for a year, the rest an
//! hour), `--cache-control GLOB=VALUE` rules (path vs name globs, first
//! match wins, `none`), and 304/206 responses carrying the same
//! Cache-Control and Vary as the 200.

use crate::common::*;

const NO_CACHE: &str = "no-cache";
const IMMUTABLE: &str = "max-age=31536000, immutable";
const MODEST: &str = "max-age=3600";

fn app_site() -> Site {
    let s = Site::empty();
    s.write("index.html", INDEX_HTML);
    s.write("about/index.html", "<!doctype html>about\n");
    s.write("blog/post.html", "<!doctype html>post\n");
    s.write("page.htm", "<!doctype html>htm\n");
    s.write("app.3f9a2c1b.js", "console.log('hashed');\n");
    s.write("assets/index-BdU3x9Ab.js", "console.log('vite');\n");
    s.write("assets/index-D4f8kQ2z.css", "body{}\n");
    s.write("_app/immutable/x.js", "export default 1;\n");
    s.write("_app/immutable/chunks/entry.js", "export default 2;\n");
    s.write("_app/version.json", "{\"version\":\"1\"}\n");
    s.write("style.css", STYLE_CSS);
    s.write("jquery-1.12.4.min.js", "/* not a hash */\n");
    s.write("a3f9a2c1b.js", "/* the hash-like part is the whole name */\n");
    s.write("report-20240101.pdf", "%PDF-1.4\n");
    s.write("data.json", "{}\n");
    s.write("sub/data.json", "[]\n");
    s.write("img.png", b"\x89PNG\r\n\x1a\n");
    s.write("media/a/b.mp4", "mp4");
    s.write("docs/a.html", "<!doctype html>docs-a\n");
    s.write("docs/sub/b.html", "<!doctype html>docs-b\n");
    s
}

#[track_caller]
fn assert_cc(server: &Server, path: &str, want: Option<&str>) {
    let r = server.get(path);
    r.assert_status(200);
    assert_eq!(r.header_all("cache-control"), want.into_iter().collect::<Vec<_>>(), "{path}; head:\n{}", r.raw_head);
}

#[test]
fn defaults() {
    let site = app_site();
    let server = site.serve(&[]);
    let rows: &[(&str, &str)] = &[
        ("/", NO_CACHE),
        ("/index.html", NO_CACHE),
        ("/about/", NO_CACHE),
        ("/blog/post.html", NO_CACHE),
        ("/page.htm", NO_CACHE),
        ("/docs/a.html", NO_CACHE),
        ("/app.3f9a2c1b.js", IMMUTABLE),
        ("/assets/index-BdU3x9Ab.js", IMMUTABLE),
        ("/assets/index-D4f8kQ2z.css", IMMUTABLE),
        ("/_app/immutable/x.js", IMMUTABLE),
        ("/_app/immutable/chunks/entry.js", IMMUTABLE),
        ("/_app/version.json", MODEST),
        ("/style.css", MODEST),
        ("/jquery-1.12.4.min.js", MODEST),
        ("/a3f9a2c1b.js", MODEST),
        ("/report-20240101.pdf", MODEST),
        ("/data.json", MODEST),
        ("/img.png", MODEST),
    ];
    for (path, want) in rows {
        assert_cc(&server, path, Some(want));
    }
}

#[test]
fn embedded_site_defaults() {
    let server = Server::start(&[]);
    assert_cc(&server, "/", Some(NO_CACHE));
    assert_cc(&server, "/style.css", Some(MODEST));
    assert_cc(&server, "/favicon.svg", Some(MODEST));
}

#[test]
fn path_globs_and_name_globs() {
    let site = app_site();
    let server = site.serve(&[
        "--cache-control",
        "/media/**=public, max-age=600",
        "--cache-control=/docs/*=no-store",
        "--cache-control",
        "*.json=private, max-age=5",
        "--cache-control",
        "/assets/**=public, max-age=60",
    ]);
    assert_cc(&server, "/media/a/b.mp4", Some("public, max-age=600")); // ** across segments
    assert_cc(&server, "/docs/a.html", Some("no-store"));
    assert_cc(&server, "/docs/sub/b.html", Some(NO_CACHE)); // * stays in one segment
    assert_cc(&server, "/data.json", Some("private, max-age=5")); // a name glob matches anywhere
    assert_cc(&server, "/sub/data.json", Some("private, max-age=5"));
    assert_cc(&server, "/_app/version.json", Some("private, max-age=5"));
    assert_cc(&server, "/assets/index-BdU3x9Ab.js", Some("public, max-age=60")); // rules before defaults
                                                                                 // Files no rule matches keep the defaults.
    assert_cc(&server, "/", Some(NO_CACHE));
    assert_cc(&server, "/app.3f9a2c1b.js", Some(IMMUTABLE));
    assert_cc(&server, "/style.css", Some(MODEST));
    // A path glob must match the whole path: `data.json` is no path glob.
    let server = site.serve(&["--cache-control", "/data.json=no-store"]);
    assert_cc(&server, "/data.json", Some("no-store"));
    assert_cc(&server, "/sub/data.json", Some(MODEST));
}

#[test]
fn first_match_wins() {
    let site = app_site();
    let server = site.serve(&[
        "--cache-control",
        "*.js=max-age=1",
        "--cache-control",
        "app.*.js=max-age=2",
        "--cache-control",
        "/**=max-age=3",
    ]);
    assert_cc(&server, "/app.3f9a2c1b.js", Some("max-age=1"));
    assert_cc(&server, "/_app/immutable/x.js", Some("max-age=1"));
    assert_cc(&server, "/style.css", Some("max-age=3"));
    assert_cc(&server, "/index.html", Some("max-age=3"));
    // Reversed order, reversed outcome.
    let server = site.serve(&["--cache-control", "app.*.js=max-age=2", "--cache-control", "*.js=max-age=1"]);
    assert_cc(&server, "/app.3f9a2c1b.js", Some("max-age=2"));
    assert_cc(&server, "/assets/index-BdU3x9Ab.js", Some("max-age=1"));
}

#[test]
fn none_sends_no_header() {
    let site = app_site();
    let server = site.serve(&["--cache-control", "*.png=none", "--cache-control", "/index.html=none"]);
    assert_cc(&server, "/img.png", None);
    assert_cc(&server, "/index.html", None);
    assert_cc(&server, "/", None); // the directory is its index.html
    assert_cc(&server, "/style.css", Some(MODEST));
    // And on the 304.
    let tag = server.get("/img.png").must("etag").to_string();
    let r = server.request(req("GET", "/img.png", &[&format!("If-None-Match: {tag}")]));
    r.assert_status(304).assert_no_header("cache-control");
}

#[test]
fn rules_apply_to_the_embedded_site_too() {
    let server =
        Server::start(&["--cache-control", "/style.css=public, max-age=7", "--cache-control", "*.html=no-store"]);
    assert_cc(&server, "/style.css", Some("public, max-age=7"));
    assert_cc(&server, "/", Some("no-store"));
    assert_cc(&server, "/favicon.svg", Some(MODEST));
    // The rebuilt heads keep the variants' other headers.
    let r = server.request(req("GET", "/style.css", &["Accept-Encoding: gzip"]));
    r.assert_status(200)
        .assert_header("cache-control", "public, max-age=7")
        .assert_header("content-encoding", "gzip")
        .assert_header("vary", "Accept-Encoding");
    let tag = r.must("etag").to_string();
    let r = server.request(req("GET", "/style.css", &["Accept-Encoding: gzip", &format!("If-None-Match: {tag}")]));
    r.assert_status(304)
        .assert_header("cache-control", "public, max-age=7")
        .assert_header("vary", "Accept-Encoding")
        .assert_header("etag", &tag);
}

/// RFC 9110 §15.4.5: a 304 carries the Cache-Control and Vary the 200 would.
#[test]
fn not_modified_carries_cache_control_and_vary() {
    let site = app_site();
    site.write("v.css", ".v{}\n".repeat(100));
    site.write("v.css.gz", gzip_bytes(".v{}\n".repeat(100).as_bytes()));
    site.write("app.3f9a2c1b.js.gz", gzip_bytes(b"console.log('hashed');\n"));
    for extra in [&[][..], &["--cache-control", "v.css=private, max-age=9"][..]] {
        let server = site.serve(extra);
        for (path, coding) in [
            ("/", None),
            ("/v.css", None),
            ("/v.css", Some("gzip")),
            ("/app.3f9a2c1b.js", Some("gzip")),
            ("/app.3f9a2c1b.js", None),
            ("/style.css", None),
        ] {
            let mut headers: Vec<String> = coding.map(|c| format!("Accept-Encoding: {c}")).into_iter().collect();
            let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
            let ok = server.request(req("GET", path, &refs));
            ok.assert_status(200);
            let tag = ok.must("etag").to_string();
            headers.push(format!("If-None-Match: {tag}"));
            let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
            let nm = server.request(req("GET", path, &refs));
            nm.assert_status(304);
            for name in ["cache-control", "vary", "etag", "last-modified"] {
                assert_eq!(
                    nm.header_all(name),
                    ok.header_all(name),
                    "{path} {coding:?} {extra:?}: `{name}` differs between 200 and 304\n200:\n{}\n304:\n{}",
                    ok.raw_head,
                    nm.raw_head
                );
            }
            // If-Modified-Since too.
            let r = server.request(req("GET", path, &[&format!("If-Modified-Since: {FIXED_LM}")]));
            r.assert_status(304);
            if coding.is_none() {
                assert_eq!(r.header_all("cache-control"), ok.header_all("cache-control"), "{}", r.raw_head);
                assert_eq!(r.header_all("vary"), ok.header_all("vary"), "{}", r.raw_head);
            }
        }
        // A 206 keeps them as well.
        let r = server.request(req("GET", "/v.css", &["Range: bytes=0-1"]));
        r.assert_status(206).assert_header("vary", "Accept-Encoding");
        assert!(r.header("cache-control").is_some(), "{}", r.raw_head);
    }
}

#[test]
fn bad_rules_are_refused_at_start() {
    for bad in ["nope", "=no-store", "*.js"] {
        let (status, _, err) = run_to_exit(&["--cache-control", bad]);
        assert_eq!(status.code(), Some(2), "--cache-control {bad:?}: {err}");
        assert!(err.contains("--cache-control"), "error must name the flag: {err}");
    }
}
