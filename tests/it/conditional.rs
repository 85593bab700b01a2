//! Conditional requests (RFC 9110 §13.1, evaluated in §13.2.2 order):
//! If-Match / If-Unmodified-Since -> 412, If-None-Match / If-Modified-Since
//! -> 304. Every file here has Last-Modified == FIXED_LM.

use crate::common::*;

const TARGET: &str = "/letters.txt";

fn etag_of(srv: &Server) -> String {
    let etag = srv.get(TARGET).must("etag").to_string();
    assert_etag_format(&etag);
    etag
}

/// (row name, header lines, expected status)
type Row = (&'static str, Vec<String>, u16);

fn check_rows(srv: &Server, rows: Vec<Row>) {
    for (name, headers, want) in rows {
        let hs: Vec<&str> = headers.iter().map(String::as_str).collect();
        let raw = format!("{}{}", req("GET", TARGET, &hs), closing_get("/style.css"));
        let rs = exchange(srv.addr(), raw);
        assert_eq!(statuses(&rs), vec![want, 200], "{name}: {headers:?}\n{}", heads(&rs));
        let r = &rs[0];
        match want {
            200 => assert_eq!(r.body, LETTERS.as_bytes(), "{name}"),
            304 => {
                r.assert_no_header("content-length");
                assert!(r.body.is_empty());
                assert_eq!(r.header("etag"), Some(etag_of(srv).as_str()), "{name}: 304 carries ETag");
            }
            412 => assert!(!r.connection_has("close"), "{name}: 412 keeps the connection"),
            _ => {}
        }
    }
}

fn h(s: impl Into<String>) -> String {
    s.into()
}

#[test]
fn if_match() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let e = etag_of(&srv);
    check_rows(
        &srv,
        vec![
            ("§13.1.1 current ETag matches", vec![h(format!("If-Match: {e}"))], 200),
            ("§13.1.1 `*` matches", vec![h("If-Match: *")], 200),
            ("§13.1.1 list containing ETag", vec![h(format!("If-Match: \"x\", {e}"))], 200),
            ("§13.1.1 other ETag fails", vec![h("If-Match: \"0000000000000000\"")], 412),
            ("§13.1.1 strong comparison: weak never matches", vec![h(format!("If-Match: W/{e}"))], 412),
        ],
    );
}

#[test]
fn if_unmodified_since() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let e = etag_of(&srv);
    check_rows(
        &srv,
        vec![
            (
                "§13.1.4 earlier than Last-Modified fails",
                vec![h(format!("If-Unmodified-Since: {}", imf_fixdate(FIXED_MTIME - 1)))],
                412,
            ),
            ("§13.1.4 equal passes", vec![h(format!("If-Unmodified-Since: {FIXED_LM}"))], 200),
            (
                "§13.1.4 later passes",
                vec![h(format!("If-Unmodified-Since: {}", imf_fixdate(FIXED_MTIME + 86400)))],
                200,
            ),
            ("§13.1.4 invalid date ignored", vec![h("If-Unmodified-Since: yesterday")], 200),
            (
                "§13.2.2 step 2: ignored when If-Match is present",
                vec![h(format!("If-Match: {e}")), h(format!("If-Unmodified-Since: {}", imf_fixdate(FIXED_MTIME - 1)))],
                200,
            ),
        ],
    );
}

#[test]
fn if_none_match() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let e = etag_of(&srv);
    check_rows(
        &srv,
        vec![
            ("§13.1.2 current ETag", vec![h(format!("If-None-Match: {e}"))], 304),
            ("§13.1.2 weak comparison: W/ matches", vec![h(format!("If-None-Match: W/{e}"))], 304),
            ("§13.1.2 list", vec![h(format!("If-None-Match: \"a\", {e}"))], 304),
            ("§13.1.2 list without spaces", vec![h(format!("If-None-Match: \"a\",{e}"))], 304),
            ("§13.1.2 `*`", vec![h("If-None-Match: *")], 304),
            ("§13.1.2 no match", vec![h("If-None-Match: \"0000000000000000\"")], 200),
            (
                "§13.1.3 If-Modified-Since ignored when If-None-Match present",
                vec![h("If-None-Match: \"0000000000000000\""), h(format!("If-Modified-Since: {FIXED_LM}"))],
                200,
            ),
            (
                "§13.2.2 If-Match is evaluated first",
                vec![h("If-Match: \"0000000000000000\""), h(format!("If-None-Match: {e}"))],
                412,
            ),
        ],
    );
}

#[test]
fn if_modified_since() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    check_rows(
        &srv,
        vec![
            ("§13.1.3 equal (IMF-fixdate)", vec![h(format!("If-Modified-Since: {FIXED_LM}"))], 304),
            ("§5.6.7 RFC 850 date", vec![h("If-Modified-Since: Sunday, 09-Sep-01 01:46:40 GMT")], 304),
            ("§5.6.7 asctime date", vec![h("If-Modified-Since: Sun Sep  9 01:46:40 2001")], 304),
            ("§13.1.3 later", vec![h(format!("If-Modified-Since: {}", imf_fixdate(FIXED_MTIME + 3600)))], 304),
            ("§13.1.3 earlier", vec![h(format!("If-Modified-Since: {}", imf_fixdate(FIXED_MTIME - 1)))], 200),
            ("§13.1.3 invalid date ignored", vec![h("If-Modified-Since: not a date")], 200),
            (
                "§13.1.3 invalid date ignored (bad day)",
                vec![h("If-Modified-Since: Sun, 32 Sep 2001 01:46:40 GMT")],
                200,
            ),
        ],
    );
}

#[test]
fn head_gets_304_too_and_404_ignores_preconditions() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let e = etag_of(&srv);
    let r = srv.request(req("HEAD", TARGET, &[&format!("If-None-Match: {e}")]));
    r.assert_status(304).assert_header("etag", &e);
    // RFC 9110 §13.1.2: `*` is false without a current representation, so the
    // request proceeds to its normal 404.
    let r = srv.request(req("GET", "/nope", &["If-None-Match: *"]));
    r.assert_status(404);
}

#[test]
fn conditional_beats_range() {
    let site = Site::standard();
    let srv = site.serve(&[]);
    let e = etag_of(&srv);
    // RFC 9110 §13.2.2 step 5 comes after steps 3-4.
    let r = srv.request(req("GET", TARGET, &[&format!("If-None-Match: {e}"), "Range: bytes=0-4"]));
    r.assert_status(304);
    let r = srv.request(req("GET", TARGET, &["If-Match: \"0000000000000000\"", "Range: bytes=0-4"]));
    r.assert_status(412);
}
