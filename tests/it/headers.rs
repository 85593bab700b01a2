//! Representation and framing headers on every response (RFC 9110 §8, §6.6.1,
//! §8.8): Content-Type by extension, Content-Length, Last-Modified, strong
//! ETag, Accept-Ranges, Date, nosniff; HEAD carries GET's headers.

use crate::common::*;

#[test]
fn content_type_by_extension() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let rows = [
        ("/index.html", "text/html; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/img.png", "image/png"),
        ("/icon.svg", "image/svg+xml"),
        ("/notes.txt", "text/plain; charset=utf-8"),
        ("/blob.xyz", "application/octet-stream"),
    ];
    for (target, ctype) in rows {
        let r = srv.get(target);
        assert_eq!(r.status, 200, "GET {target}");
        assert_eq!(r.header("content-type"), Some(ctype), "GET {target}\n{}", r.raw_head);
    }
}

#[test]
fn file_200_has_every_representation_header_once() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let r = srv.get("/letters.txt");
    r.assert_status(200)
        .assert_header("content-length", "26")
        .assert_header("last-modified", FIXED_LM)
        .assert_header("accept-ranges", "bytes")
        .assert_header("x-content-type-options", "nosniff")
        .assert_header("content-type", "text/plain; charset=utf-8");
    assert_date_now(&r);
    assert_etag_format(r.must("etag"));
    assert_eq!(r.body, LETTERS.as_bytes());
    for name in
        ["content-length", "content-type", "date", "etag", "last-modified", "accept-ranges", "x-content-type-options"]
    {
        assert_eq!(r.header_all(name).len(), 1, "`{name}` must appear once:\n{}", r.raw_head);
    }
    assert_eq!(r.reason, "OK");
}

#[test]
fn etags_are_stable_per_file_and_differ_between_files() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let a1 = srv.get("/letters.txt").must("etag").to_string();
    let a2 = srv.get("/letters.txt").must("etag").to_string();
    let b = srv.get("/notes.txt").must("etag").to_string();
    let c = srv.get("/style.css").must("etag").to_string();
    assert_eq!(a1, a2);
    assert_ne!(a1, b);
    assert_ne!(b, c);
}

#[test]
fn head_has_the_same_headers_as_get_and_no_body() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    for target in ["/letters.txt", "/", "/img.png", "/nope", "/docs"] {
        let g = srv.get(target);
        let mut s = srv.connect();
        // RFC 9110 §9.3.2: HEAD is GET without the content. Pipelining a GET
        // behind it proves no body bytes were sent.
        send_raw(&mut s, format!("{}{}", req("HEAD", target, &[]), closing_get("/letters.txt")));
        let h = read_response(&mut s, true);
        let next = parse_all(&read_to_close(&mut s));
        assert_eq!(h.status, g.status, "HEAD {target}");
        assert_eq!(statuses(&next), vec![200], "HEAD {target} leaked body bytes");
        assert_eq!(next[0].body, LETTERS.as_bytes());
        for name in [
            "content-length",
            "content-type",
            "etag",
            "last-modified",
            "accept-ranges",
            "location",
            "x-content-type-options",
        ] {
            assert_eq!(h.header(name), g.header(name), "HEAD {target}: `{name}`");
        }
        assert_eq!(
            h.must("content-length"),
            g.body.len().to_string(),
            "HEAD {target}: Content-Length is the GET body length"
        );
    }
}

#[test]
fn error_responses_have_date_length_and_nosniff() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let rows = [
        ("404", get("/nope")),
        ("405", req("POST", "/style.css", &["Content-Length: 0"])),
        ("400", "GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n".to_string()),
        ("505", "GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_string()),
        ("501", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_string()),
        ("301", get("/docs")),
    ];
    for (want, raw) in rows {
        let r = srv.request(&raw);
        assert_eq!(r.status.to_string(), want, "{raw:?}\n{}", r.raw_head);
        assert_date_now(&r);
        r.assert_header("x-content-type-options", "nosniff");
        assert_eq!(r.must("content-length"), r.body.len().to_string(), "{want}: Content-Length matches the body");
        if want != "301" {
            assert!(
                r.must("content-type").starts_with("text/plain"),
                "{want}: error bodies are text/plain:\n{}",
                r.raw_head
            );
            assert!(!r.body.is_empty(), "{want}: error bodies are small but present");
        }
    }
}

#[test]
fn bodyless_statuses_have_date_and_nosniff_but_no_content_length() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let etag = srv.get("/letters.txt").must("etag").to_string();
    let rows =
        [("204", req("OPTIONS", "*", &[])), ("304", req("GET", "/letters.txt", &[&format!("If-None-Match: {etag}")]))];
    for (want, raw) in rows {
        let mut s = srv.connect();
        send_raw(&mut s, format!("{raw}{}", closing_get("/letters.txt")));
        let r = read_response(&mut s, false);
        assert_eq!(r.status.to_string(), want);
        assert_date_now(&r);
        r.assert_header("x-content-type-options", "nosniff");
        // RFC 9110 §8.6: no Content-Length in 204; 304 here sends none.
        r.assert_no_header("content-length");
        let next = parse_all(&read_to_close(&mut s));
        assert_eq!(statuses(&next), vec![200], "{want} must not carry body bytes");
    }
}

#[test]
fn last_modified_follows_the_file_mtime() {
    let site = Site::standard();
    let when = 1_234_567_890; // Fri, 13 Feb 2009 23:31:30 GMT
    let p = site.write("dated.txt", "x");
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(when))
        .unwrap();
    let srv = site.serve(&[]);
    let r = srv.get("/dated.txt");
    r.assert_header("last-modified", "Fri, 13 Feb 2009 23:31:30 GMT");
    assert_eq!(imf_fixdate(when), "Fri, 13 Feb 2009 23:31:30 GMT");
}

#[test]
fn empty_file_is_200_with_zero_length() {
    let site = Site::standard();
    site.write("empty.txt", "");
    let srv = site.serve(&[]);
    let r = srv.get("/empty.txt");
    r.assert_status(200).assert_header("content-length", "0");
    assert!(r.body.is_empty());
    assert_etag_format(r.must("etag"));
}
