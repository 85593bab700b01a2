//! Conditional requests (RFC 9110 §13): validators against the file's
//! entity-tag and Last-Modified, evaluated in the order of §13.2.2.
//!
//! Entity-tags come from content, so revalidation works even on a Pi whose
//! clock is wrong; dates are only the fallback the RFC asks for.
#![forbid(unsafe_code)]

use super::request::{trim, Conditions};
use mote_site::date::parse_http_date;

#[derive(Debug, PartialEq)]
pub enum Precondition {
    Proceed,
    NotModified,
    Failed,
}

/// RFC 9110 §13.2.2 steps 1–4, for GET and HEAD.
pub fn evaluate(conditions: &Conditions, etag: &[u8], last_modified: u64) -> Precondition {
    if let Some(if_match) = conditions.if_match {
        // §13.1.1: strong comparison.
        if !list_matches(if_match, etag, Comparison::Strong) {
            return Precondition::Failed;
        }
    } else if let Some(date) = conditions.if_unmodified_since.and_then(parse_http_date) {
        // §13.1.4: an invalid date means the field is ignored.
        if last_modified > date {
            return Precondition::Failed;
        }
    }
    if let Some(if_none_match) = conditions.if_none_match {
        // §13.1.2: weak comparison; §13.1.3: If-Modified-Since is then ignored.
        if list_matches(if_none_match, etag, Comparison::Weak) {
            return Precondition::NotModified;
        }
    } else if let Some(date) = conditions.if_modified_since.and_then(parse_http_date) {
        if last_modified <= date {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// RFC 9110 §13.1.5: a Range is honoured only if If-Range names the current
/// representation, by strong entity-tag or by its exact Last-Modified.
pub fn if_range_holds(conditions: &Conditions, etag: &[u8], last_modified: u64) -> bool {
    let Some(value) = conditions.if_range.map(trim) else {
        return true;
    };
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return value == etag;
    }
    parse_http_date(value) == Some(last_modified)
}

#[derive(Clone, Copy, PartialEq)]
enum Comparison {
    Strong,
    Weak,
}

/// `*` or a comma-separated list of entity-tags (RFC 9110 §8.8.3). A malformed
/// member matches nothing.
fn list_matches(list: &[u8], etag: &[u8], comparison: Comparison) -> bool {
    if trim(list) == b"*" {
        return true;
    }
    let mut rest = list;
    loop {
        rest = trim_list_separators(rest);
        if rest.is_empty() {
            return false;
        }
        let weak = rest.starts_with(b"W/");
        let tag_start = if weak { 2 } else { 0 };
        if rest.get(tag_start) != Some(&b'"') {
            return false;
        }
        let Some(close) = rest[tag_start + 1..].iter().position(|&b| b == b'"') else {
            return false;
        };
        let tag_end = tag_start + close + 2;
        let opaque = &rest[tag_start..tag_end];
        if opaque == etag && (comparison == Comparison::Weak || !weak) {
            return true;
        }
        rest = &rest[tag_end..];
        if !rest.is_empty() && !matches!(rest[0], b',' | b' ' | b'\t') {
            return false;
        }
    }
}

fn trim_list_separators(list: &[u8]) -> &[u8] {
    let start = list.iter().position(|&b| !matches!(b, b',' | b' ' | b'\t')).unwrap_or(list.len());
    &list[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use Precondition::*;

    const ETAG: &[u8] = b"\"0123456789abcdef\"";
    const LAST_MODIFIED: u64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT

    fn with(fields: &[(&str, &'static str)]) -> Conditions<'static> {
        let mut c = Conditions::default();
        for &(name, value) in fields {
            let value = Some(value.as_bytes());
            match name {
                "If-Match" => c.if_match = value,
                "If-None-Match" => c.if_none_match = value,
                "If-Modified-Since" => c.if_modified_since = value,
                "If-Unmodified-Since" => c.if_unmodified_since = value,
                "If-Range" => c.if_range = value,
                _ => unreachable!(),
            }
        }
        c
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of rows
    fn evaluates_preconditions() {
        let rows: &[(&str, &[(&str, &str)], Precondition)] = &[
            ("none", &[], Proceed),
            ("INM match §13.1.2", &[("If-None-Match", "\"0123456789abcdef\"")], NotModified),
            ("INM weak compare §13.1.2", &[("If-None-Match", "W/\"0123456789abcdef\"")], NotModified),
            ("INM list", &[("If-None-Match", "\"x\", \"0123456789abcdef\"")], NotModified),
            ("INM list no spaces", &[("If-None-Match", "\"x\",\"0123456789abcdef\"")], NotModified),
            ("INM star", &[("If-None-Match", "*")], NotModified),
            ("INM other", &[("If-None-Match", "\"x\"")], Proceed),
            ("INM unquoted", &[("If-None-Match", "0123456789abcdef")], Proceed),
            (
                "INM beats IMS §13.1.3",
                &[("If-None-Match", "\"x\""), ("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")],
                Proceed,
            ),
            ("IMS equal §13.1.3", &[("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")], NotModified),
            ("IMS later", &[("If-Modified-Since", "Mon, 07 Nov 1994 08:49:37 GMT")], NotModified),
            ("IMS earlier", &[("If-Modified-Since", "Sat, 05 Nov 1994 08:49:37 GMT")], Proceed),
            ("IMS asctime", &[("If-Modified-Since", "Sun Nov  6 08:49:37 1994")], NotModified),
            ("IMS invalid ignored", &[("If-Modified-Since", "yesterday")], Proceed),
            ("IM match §13.1.1", &[("If-Match", "\"0123456789abcdef\"")], Proceed),
            ("IM star", &[("If-Match", "*")], Proceed),
            ("IM other", &[("If-Match", "\"x\"")], Failed),
            ("IM weak never matches", &[("If-Match", "W/\"0123456789abcdef\"")], Failed),
            ("IUS earlier §13.1.4", &[("If-Unmodified-Since", "Sat, 05 Nov 1994 08:49:37 GMT")], Failed),
            ("IUS equal", &[("If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")], Proceed),
            ("IUS invalid ignored", &[("If-Unmodified-Since", "never")], Proceed),
            (
                "IM beats IUS §13.2.2",
                &[("If-Match", "*"), ("If-Unmodified-Since", "Sat, 05 Nov 1994 08:49:37 GMT")],
                Proceed,
            ),
            ("IM fails before INM", &[("If-Match", "\"x\""), ("If-None-Match", "*")], Failed),
        ];
        for (why, fields, want) in rows {
            assert_eq!(&evaluate(&with(fields), ETAG, LAST_MODIFIED), want, "{why}");
        }
    }

    #[test]
    fn checks_if_range() {
        let rows: &[(&str, &str, bool)] = &[
            ("same strong tag §13.1.5", "\"0123456789abcdef\"", true),
            ("weak tag never", "W/\"0123456789abcdef\"", false),
            ("other tag", "\"x\"", false),
            ("exact date", "Sun, 06 Nov 1994 08:49:37 GMT", true),
            ("later date", "Mon, 07 Nov 1994 08:49:37 GMT", false),
            ("garbage", "soon", false),
        ];
        for (why, value, want) in rows {
            assert_eq!(if_range_holds(&with(&[("If-Range", value)]), ETAG, LAST_MODIFIED), *want, "{why}");
        }
        assert!(if_range_holds(&Conditions::default(), ETAG, LAST_MODIFIED));
    }
}
