//! The Range header (RFC 9110 §14): one byte range is served as a 206;
//! anything this server does not serve partially is served whole.
//!
//! Multiple ranges get the whole file (§14.2 allows it) rather than a
//! multipart body: it keeps every response a precomputed head plus one slice.
#![forbid(unsafe_code)]

#[derive(Debug, PartialEq)]
pub enum ByteRange {
    /// No usable Range: send the whole representation with 200.
    Whole,
    /// Inclusive bounds, inside the file.
    Partial { first: u64, last: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Interprets a Range field value against a representation of `len` bytes.
pub fn parse(value: &[u8], len: u64) -> ByteRange {
    let Some(unit_end) = value.iter().position(|&b| b == b'=') else {
        return ByteRange::Whole;
    };
    if !value[..unit_end].eq_ignore_ascii_case(b"bytes") {
        return ByteRange::Whole; // §14.1: unknown units are ignored
    }
    let set = &value[unit_end + 1..];
    if set.contains(&b',') {
        return ByteRange::Whole;
    }
    let spec = super::request::trim(set);
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return ByteRange::Whole;
    };
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    match (number(first), number(last)) {
        // suffix-range: the last n bytes (§14.1.2)
        (None, Some(n)) if first.is_empty() => {
            if n == 0 || len == 0 {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Partial { first: len.saturating_sub(n), last: len - 1 }
            }
        }
        (Some(first), None) if last.is_empty() => satisfiable(first, u64::MAX, len),
        (Some(first), Some(last)) if first <= last => satisfiable(first, last, len),
        _ => ByteRange::Whole, // §14.2: an invalid range-spec means the field is ignored
    }
}

fn satisfiable(first: u64, last: u64, len: u64) -> ByteRange {
    if first >= len {
        ByteRange::Unsatisfiable
    } else {
        ByteRange::Partial { first, last: last.min(len - 1) }
    }
}

fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0'))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ByteRange::*;

    #[test]
    fn parses_single_ranges() {
        let rows: &[(&str, u64, ByteRange)] = &[
            ("bytes=0-4", 10, Partial { first: 0, last: 4 }),   // §14.1.2 int-range
            ("bytes=5-", 10, Partial { first: 5, last: 9 }),    // open range
            ("bytes=-3", 10, Partial { first: 7, last: 9 }),    // suffix-range
            ("bytes=-30", 10, Partial { first: 0, last: 9 }),   // suffix longer than file
            ("bytes=0-100", 10, Partial { first: 0, last: 9 }), // last clamped
            ("bytes=9-9", 10, Partial { first: 9, last: 9 }),
            ("Bytes=0-0", 10, Partial { first: 0, last: 0 }), // unit is case-insensitive
            ("bytes= 2-3 ", 10, Partial { first: 2, last: 3 }),
            ("bytes=10-", 10, Unsatisfiable), // §14.1.2 first >= len
            ("bytes=10-20", 10, Unsatisfiable),
            ("bytes=-0", 10, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable), // empty file
            ("bytes=-1", 0, Unsatisfiable),
            ("bytes=5-4", 10, Whole), // invalid: ignored (§14.2)
            ("bytes=a-b", 10, Whole),
            ("bytes=-", 10, Whole),
            ("bytes=", 10, Whole),
            ("bytes=1", 10, Whole),
            ("bytes=--1", 10, Whole),
            ("bytes=+1-2", 10, Whole),
            ("bytes=0-1,3-4", 10, Whole), // several ranges: whole
            ("items=0-1", 10, Whole),     // unknown unit
            ("0-1", 10, Whole),
            ("bytes=99999999999999999999-", 10, Whole),
            ("bytes=0-99999999999999999999", 10, Whole),
        ];
        for (value, len, want) in rows {
            assert_eq!(&parse(value.as_bytes(), *len), want, "{value} of {len}");
        }
    }
}
