//! The site embedded from static/ (served without --root): `/`, `/style.css`,
//! `/favicon.svg` byte-for-byte with the right types and validators.

use crate::common::*;

fn static_file(name: &str) -> Vec<u8> {
    let path = format!("{}/static/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[test]
fn embedded_files_are_served_byte_for_byte() {
    let srv = Server::start(&[]);
    let rows = [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/index.html", "index.html", "text/html; charset=utf-8"),
        ("/style.css", "style.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "favicon.svg", "image/svg+xml"),
    ];
    for (target, file, ctype) in rows {
        let r = srv.get(target);
        r.assert_status(200)
            .assert_header("content-type", ctype)
            .assert_header("accept-ranges", "bytes")
            .assert_header("x-content-type-options", "nosniff");
        assert_bytes_eq(&r.body, &static_file(file), target);
        assert_eq!(r.must("content-length"), r.body.len().to_string());
        assert_etag_format(r.must("etag"));
        let lm = r.must("last-modified");
        assert!(parse_imf_fixdate(lm).is_some(), "Last-Modified {lm:?} is not an IMF-fixdate");
        assert_date_now(&r);
    }
}

#[test]
fn embedded_head_matches_get() {
    let srv = Server::start(&[]);
    for target in ["/", "/style.css", "/favicon.svg"] {
        let g = srv.get(target);
        let h = srv.request(req("HEAD", target, &[]));
        h.assert_status(200);
        for name in ["content-length", "content-type", "etag", "last-modified"] {
            assert_eq!(h.header(name), g.header(name), "HEAD {target}: {name}");
        }
    }
}

#[test]
fn embedded_conditionals_and_ranges() {
    let srv = Server::start(&[]);
    let full = srv.get("/style.css");
    let etag = full.must("etag").to_string();
    let lm = full.must("last-modified").to_string();
    srv.request(req("GET", "/style.css", &[&format!("If-None-Match: {etag}")]))
        .assert_status(304)
        .assert_header("etag", &etag);
    srv.request(req("GET", "/style.css", &[&format!("If-Modified-Since: {lm}")])).assert_status(304);
    let r = srv.request(req("GET", "/style.css", &["Range: bytes=0-9"]));
    r.assert_status(206).assert_header("content-range", &format!("bytes 0-9/{}", full.body.len()));
    assert_eq!(r.body, &full.body[..10]);
    // Distinct files, distinct ETags.
    assert_ne!(srv.get("/").must("etag"), etag);
}

#[test]
fn embedded_site_targets() {
    let srv = Server::start(&[]);
    let css = static_file("style.css");
    for target in ["/a/../style.css", "//style.css", "/style.css?v=3", "/%73tyle.css"] {
        let r = srv.get(target);
        assert_eq!(r.status, 200, "GET {target}");
        assert_bytes_eq(&r.body, &css, target);
    }
    for target in ["/nope", "/static/style.css", "/.git/config", "/style.css.map"] {
        assert_eq!(srv.get(target).status, 404, "GET {target}");
    }
}
