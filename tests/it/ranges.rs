//! Byte ranges (RFC 9110 §14): one range -> 206 with Content-Range,
//! unsatisfiable -> 416 `bytes */LEN`, several or malformed -> 200 whole,
//! If-Range honoured; the same for files streamed with sendfile.

use crate::common::*;

/// (row name, Range value, expected status, expected body, expected Content-Range)
type Row = (&'static str, &'static str, u16, &'static str, Option<&'static str>);

fn check(srv: &Server, target: &str, rows: &[Row]) {
    for (name, range, want, body, content_range) in rows {
        let raw = format!("{}{}", req("GET", target, &[&format!("Range: {range}")]), closing_get("/style.css"));
        let rs = exchange(srv.addr(), raw);
        assert_eq!(statuses(&rs), vec![*want, 200], "{name}: Range: {range}\n{}", heads(&rs));
        let r = &rs[0];
        assert_eq!(r.header("content-range"), *content_range, "{name}: Range: {range}\n{}", r.raw_head);
        if *want != 416 {
            assert_eq!(r.text(), *body, "{name}: Range: {range}");
        }
        assert_eq!(r.must("content-length"), r.body.len().to_string(), "{name}");
        assert!(!r.connection_has("close"), "{name}: {want} keeps the connection");
    }
}

#[test]
fn single_ranges() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let all = LETTERS;
    check(
        &srv,
        "/letters.txt",
        &[
            ("§14.1.2 first-last", "bytes=0-4", 206, "abcde", Some("bytes 0-4/26")),
            ("§14.1.2 one byte", "bytes=0-0", 206, "a", Some("bytes 0-0/26")),
            ("§14.1.2 last byte", "bytes=25-25", 206, "z", Some("bytes 25-25/26")),
            ("§14.1.2 middle", "bytes=10-12", 206, "klm", Some("bytes 10-12/26")),
            ("§14.1.2 open-ended", "bytes=5-", 206, "fghijklmnopqrstuvwxyz", Some("bytes 5-25/26")),
            ("§14.1.2 suffix", "bytes=-3", 206, "xyz", Some("bytes 23-25/26")),
            ("§14.1.2 last-pos past the end is clamped", "bytes=20-100", 206, "uvwxyz", Some("bytes 20-25/26")),
            ("§14.1.2 suffix longer than the file", "bytes=-100", 206, all, Some("bytes 0-25/26")),
            ("§14.1.2 whole file as a range", "bytes=0-", 206, all, Some("bytes 0-25/26")),
        ],
    );
}

#[test]
fn unsatisfiable_ranges_are_416() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    check(
        &srv,
        "/letters.txt",
        &[
            ("§15.5.17 first-pos == LEN", "bytes=26-", 416, "", Some("bytes */26")),
            ("§15.5.17 first-pos past LEN", "bytes=30-40", 416, "", Some("bytes */26")),
            ("§14.1.2 zero-length suffix", "bytes=-0", 416, "", Some("bytes */26")),
        ],
    );
}

#[test]
fn several_or_malformed_ranges_get_the_whole_file() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let all = LETTERS;
    check(
        &srv,
        "/letters.txt",
        &[
            ("§14.2 several ranges may be answered whole", "bytes=0-1,3-4", 200, all, None),
            ("§14.2 malformed: letters", "bytes=a-b", 200, all, None),
            ("§14.2 unknown unit is ignored", "items=0-1", 200, all, None),
            ("§14.1.1 last < first is invalid", "bytes=5-2", 200, all, None),
            ("§14.1.1 empty spec", "bytes=", 200, all, None),
            ("§14.1.1 no dash", "bytes=5", 200, all, None),
            ("§14.1.1 dash only", "bytes=-", 200, all, None),
        ],
    );
}

#[test]
fn partial_content_carries_the_representation_headers() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let full = srv.get("/letters.txt");
    let r = srv.request(req("GET", "/letters.txt", &["Range: bytes=1-2"]));
    r.assert_status(206)
        .assert_header("content-length", "2")
        .assert_header("content-type", "text/plain; charset=utf-8")
        .assert_header("last-modified", FIXED_LM)
        .assert_header("accept-ranges", "bytes")
        .assert_header("x-content-type-options", "nosniff")
        .assert_header("etag", full.must("etag"));
    assert_date_now(&r);
    let r = srv.request(req("GET", "/letters.txt", &["Range: bytes=99-"]));
    r.assert_status(416).assert_header("x-content-type-options", "nosniff");
    assert_date_now(&r);
}

#[test]
fn head_ignores_range() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let r = srv.request(req("HEAD", "/letters.txt", &["Range: bytes=0-4"]));
    r.assert_status(200).assert_header("content-length", "26").assert_no_header("content-range");
}

#[test]
fn if_range() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let e = srv.get("/letters.txt").must("etag").to_string();
    let rows = [
        ("§13.1.5 current strong ETag", e.clone(), 206),
        ("§13.1.5 exact Last-Modified", FIXED_LM.to_string(), 206),
        ("§13.1.5 other ETag", "\"0000000000000000\"".to_string(), 200),
        ("§13.1.5 weak ETag never matches", format!("W/{e}"), 200),
        ("§13.1.5 later date is not exact", imf_fixdate(FIXED_MTIME + 1), 200),
        ("§13.1.5 earlier date", imf_fixdate(FIXED_MTIME - 1), 200),
    ];
    for (name, value, want) in rows {
        let r = srv.request(req("GET", "/letters.txt", &["Range: bytes=0-4", &format!("If-Range: {value}")]));
        assert_eq!(r.status, want, "{name}: If-Range: {value}\n{}", r.raw_head);
        if want == 206 {
            assert_eq!(r.body, b"abcde", "{name}");
        } else {
            assert_eq!(r.body, LETTERS.as_bytes(), "{name}");
        }
    }
}

/// A site whose `big.bin` (3 MiB) is far above `--cache-max 4096`.
const BIG: usize = 3 * 1024 * 1024 + 7;

fn big_site() -> (Site, Vec<u8>) {
    let site = Site::standard();
    let data = large_bytes(BIG);
    site.write("big.bin", &data);
    (site, data)
}

#[test]
fn large_file_is_streamed_whole_and_exact() {
    let (site, data) = big_site();
    let srv = site.serve(&["--cache-max", "4096"]);
    let mut s = srv.connect();
    // Twice on one connection, then a small file: sendfile framing must be exact.
    send_raw(&mut s, get("/big.bin"));
    let r1 = read_response(&mut s, false);
    send_raw(&mut s, format!("{}{}", get("/big.bin"), closing_get("/letters.txt")));
    let r2 = read_response(&mut s, false);
    let rest = parse_all(&read_to_close(&mut s));
    for r in [&r1, &r2] {
        r.assert_status(200)
            .assert_header("content-length", &BIG.to_string())
            .assert_header("content-type", "application/octet-stream")
            .assert_header("accept-ranges", "bytes")
            .assert_header("last-modified", FIXED_LM)
            .assert_header("x-content-type-options", "nosniff");
        assert_etag_format(r.must("etag"));
        assert_date_now(r);
        assert_bytes_eq(&r.body, &data, "big.bin body");
    }
    assert_eq!(statuses(&rest), vec![200]);
    assert_eq!(rest[0].body, LETTERS.as_bytes());
}

#[test]
fn large_file_above_default_cache_max_is_exact() {
    let site = Site::standard();
    let data = large_bytes(262_144 + 1);
    site.write("just-over.bin", &data);
    let srv = site.serve(&[]);
    let r = srv.get("/just-over.bin");
    r.assert_status(200);
    assert_bytes_eq(&r.body, &data, "just-over.bin");
}

#[test]
fn large_file_ranges() {
    let (site, data) = big_site();
    let srv = site.serve(&["--cache-max", "4096"]);
    let len = BIG;
    let rows: Vec<(&str, String, usize, usize)> = vec![
        ("§14.1.2 first bytes", "bytes=0-99".into(), 0, 99),
        ("§14.1.2 middle", "bytes=1000000-1000099".into(), 1_000_000, 1_000_099),
        ("§14.1.2 crossing 64 KiB", "bytes=65530-65545".into(), 65530, 65545),
        ("§14.1.2 open-ended tail", format!("bytes={}-", len - 10), len - 10, len - 1),
        ("§14.1.2 suffix", "bytes=-5".into(), len - 5, len - 1),
        ("§14.1.2 big middle", "bytes=1-2000000".into(), 1, 2_000_000),
        ("§14.1.2 clamped", format!("bytes={}-{}", len - 3, len + 1000), len - 3, len - 1),
    ];
    for (name, range, first, last) in rows {
        let mut s = srv.connect();
        send_raw(
            &mut s,
            format!("{}{}", req("GET", "/big.bin", &[&format!("Range: {range}")]), closing_get("/letters.txt")),
        );
        let r = read_response(&mut s, false);
        let rest = parse_all(&read_to_close(&mut s));
        r.assert_status(206)
            .assert_header("content-range", &format!("bytes {first}-{last}/{len}"))
            .assert_header("content-length", &(last - first + 1).to_string());
        assert_bytes_eq(&r.body, &data[first..=last], name);
        assert_eq!(statuses(&rest), vec![200], "{name}: next response intact");
        assert_eq!(rest[0].body, LETTERS.as_bytes(), "{name}");
    }
    let r = srv.request(req("GET", "/big.bin", &[&format!("Range: bytes={len}-")]));
    r.assert_status(416).assert_header("content-range", &format!("bytes */{len}"));
    let r = srv.request(req("HEAD", "/big.bin", &[]));
    r.assert_status(200).assert_header("content-length", &len.to_string());
}

#[test]
fn large_file_conditionals() {
    let (site, _data) = big_site();
    let srv = site.serve(&["--cache-max", "4096"]);
    let e = srv.request(req("HEAD", "/big.bin", &[])).must("etag").to_string();
    assert_etag_format(&e);
    let r = srv.request(req("GET", "/big.bin", &[&format!("If-None-Match: {e}")]));
    r.assert_status(304).assert_no_header("content-length");
    let r = srv.request(req("GET", "/big.bin", &["Range: bytes=0-9", &format!("If-Range: {e}")]));
    r.assert_status(206).assert_header("content-range", &format!("bytes 0-9/{BIG}"));
}

#[test]
fn pipelined_large_and_small_files_stay_in_order() {
    let (site, data) = big_site();
    let srv = site.serve(&["--cache-max", "4096"]);
    let raw = format!(
        "{}{}{}{}",
        get("/letters.txt"),
        get("/big.bin"),
        req("GET", "/big.bin", &["Range: bytes=-4"]),
        closing_get("/style.css")
    );
    let mut s = srv.connect();
    send_raw(&mut s, raw);
    let rs = parse_all(&read_to_close(&mut s));
    assert_eq!(statuses(&rs), vec![200, 200, 206, 200]);
    assert_eq!(rs[0].body, LETTERS.as_bytes());
    assert_bytes_eq(&rs[1].body, &data, "pipelined big.bin");
    assert_bytes_eq(&rs[2].body, &data[BIG - 4..], "pipelined suffix");
    assert_eq!(rs[3].body, STYLE_CSS.as_bytes());
}

#[test]
fn head_of_a_large_file_sends_no_body() {
    let (site, _data) = big_site();
    let srv = site.serve(&["--cache-max", "4096"]);
    let mut s = srv.connect();
    send_raw(&mut s, format!("{}{}", req("HEAD", "/big.bin", &[]), closing_get("/letters.txt")));
    read_response(&mut s, true).assert_status(200).assert_header("content-length", &BIG.to_string());
    let rest = parse_all(&read_to_close(&mut s));
    assert_eq!(statuses(&rest), vec![200], "HEAD of a sendfile file leaked body bytes");
    assert_eq!(rest[0].body, LETTERS.as_bytes());
}
