//! Accept-Encoding (RFC 9110 §12.5.3) -> which precomputed variant to send.
//!
//! Only variants that exist are considered; a coding is acceptable when it
//! is listed (or covered by `*`) with a q-value above zero. The highest q
//! wins, brotli before gzip when equal; with nothing acceptable the file is
//! sent as it is (identity is always acceptable unless explicitly refused,
//! and even then a 406 would help no one).
#![forbid(unsafe_code)]

use super::request::trim;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Coding {
    Identity,
    Gzip,
    Br,
}

pub fn choose(accept_encoding: Option<&[u8]>, has_gzip: bool, has_br: bool) -> Coding {
    let Some(header) = accept_encoding else {
        return Coding::Identity;
    };
    if !has_gzip && !has_br {
        return Coding::Identity;
    }
    let (mut gzip, mut br, mut any) = (None, None, None);
    for member in header.split(|&b| b == b',') {
        let mut parts = member.split(|&b| b == b';');
        let coding = trim(parts.next().unwrap_or(b""));
        let mut q = Some(1000);
        for parameter in parts {
            let parameter = trim(parameter);
            if parameter.len() >= 2 && parameter[..2].eq_ignore_ascii_case(b"q=") {
                q = qvalue(trim(&parameter[2..]));
            }
        }
        let Some(q) = q else { continue }; // malformed weight: ignore the member
        if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
            gzip = Some(q);
        } else if coding.eq_ignore_ascii_case(b"br") {
            br = Some(q);
        } else if coding == b"*" {
            any = Some(q);
        }
    }
    let weight = |listed: Option<u32>, present: bool| {
        if present {
            listed.or(any).unwrap_or(0)
        } else {
            0
        }
    };
    let (gzip, br) = (weight(gzip, has_gzip), weight(br, has_br));
    if br > 0 && br >= gzip {
        Coding::Br
    } else if gzip > 0 {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// RFC 9110 §12.4.2: `0[.ddd]` or `1[.000]`, in thousandths.
fn qvalue(text: &[u8]) -> Option<u32> {
    let (whole, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &b""[..]),
    };
    if fraction.len() > 3 || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let thousandths = fraction.iter().chain(b"000".iter()).take(3).fold(0, |n, d| n * 10 + u32::from(d - b'0'));
    match whole {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::*;

    #[test]
    fn negotiates_variants() {
        let rows: &[(Option<&str>, bool, bool, Coding)] = &[
            (None, true, true, Identity),                // no header: identity
            (Some("gzip, deflate, br"), true, true, Br), // br preferred when equal
            (Some("gzip, deflate, br"), true, false, Gzip),
            (Some("gzip, deflate, br"), false, false, Identity),
            (Some("br;q=0.5, gzip"), true, true, Gzip), // q-values honoured
            (Some("br;q=0, gzip;q=0"), true, true, Identity), // q=0 refuses (§12.4.2)
            (Some("gzip;q=0"), true, false, Identity),
            (Some("*"), true, true, Br), // * covers unlisted codings
            (Some("*;q=0.1, br;q=0"), true, true, Gzip),
            (Some("identity"), true, true, Identity),
            (Some(""), true, true, Identity),  // empty: identity only (§12.5.3)
            (Some("GZIP"), true, false, Gzip), // codings are case-insensitive
            (Some("x-gzip"), true, false, Gzip),
            (Some("gzip;q=1.001"), true, false, Identity), // invalid weight ignored
            (Some("br;q=0.8, gzip;q=0.9"), true, true, Gzip),
            (Some("br ; q=0.9 , gzip ; q=0.8"), true, true, Br),
            (Some("deflate"), true, true, Identity),
        ];
        for &(header, gzip, br, want) in rows {
            assert_eq!(choose(header.map(str::as_bytes), gzip, br), want, "{header:?} gzip={gzip} br={br}");
        }
    }
}
