//! HTTP dates (RFC 9110 §5.6.7): formatting IMF-fixdate and parsing all three
//! historic formats, without a calendar crate.
//!
//! Part of the `mote-site` crate, so `build.rs` formats the embedded site's
//! Last-Modified at compile time with this same code. It needs nothing but
//! `core`.

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const IMF_FIXDATE_LEN: usize = 29;

const DAY_NAMES: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const LONG_DAY_NAMES: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];
const MONTH_NAMES: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
const SECS_PER_DAY: u64 = 86_400;
/// The last second an IMF-fixdate can show (9999-12-31T23:59:59Z).
const MAX_SECS: u64 = 253_402_300_799;

/// Unix seconds -> IMF-fixdate. Times past year 9999 are clamped.
pub fn format_imf_fixdate(secs: u64) -> [u8; IMF_FIXDATE_LEN] {
    let secs = secs.min(MAX_SECS);
    let days = secs / SECS_PER_DAY;
    let rem = secs % SECS_PER_DAY;
    let (year, month, day) = civil_from_days(days as i64);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAY_NAMES[(days % 7) as usize]);
    two_digits(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTH_NAMES[(month - 1) as usize]);
    two_digits(&mut out[12..14], (year / 100) as u32);
    two_digits(&mut out[14..16], (year % 100) as u32);
    two_digits(&mut out[17..19], (rem / 3600) as u32);
    two_digits(&mut out[20..22], (rem / 60 % 60) as u32);
    two_digits(&mut out[23..25], (rem % 60) as u32);
    out
}

fn two_digits(out: &mut [u8], n: u32) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Parses an HTTP-date: IMF-fixdate, obsolete RFC 850 or asctime form
/// (RFC 9110 §5.6.7: recipients MUST accept all three). `None` when invalid,
/// which callers treat as "header absent".
pub fn parse_http_date(text: &[u8]) -> Option<u64> {
    let text = trim(text);
    let (year, month, day, clock) = if text.len() == IMF_FIXDATE_LEN && text.get(3) == Some(&b',') {
        // Sun, 06 Nov 1994 08:49:37 GMT
        if !valid_day_name(&text[..3]) || &text[3..5] != b", " || &text[25..] != b" GMT" {
            return None;
        }
        if text[7] != b' ' || text[11] != b' ' || text[16] != b' ' {
            return None;
        }
        (number(&text[12..16])?, month(&text[8..11])?, number(&text[5..7])?, &text[17..25])
    } else if let Some(comma) = text.iter().position(|&b| b == b',') {
        // Sunday, 06-Nov-94 08:49:37 GMT
        let name = core::str::from_utf8(&text[..comma]).ok()?;
        let rest = &text[comma..];
        if !LONG_DAY_NAMES.contains(&name) || rest.len() != 24 || &rest[..2] != b", " {
            return None;
        }
        if rest[4] != b'-' || rest[8] != b'-' || rest[11] != b' ' || &rest[20..] != b" GMT" {
            return None;
        }
        // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is
        // in the past century; without a clock here, 70..99 is 19xx.
        let yy = number(&rest[9..11])?;
        let year = if yy >= 70 { 1900 + yy } else { 2000 + yy };
        (year, month(&rest[5..8])?, number(&rest[2..4])?, &rest[12..20])
    } else if text.len() == 24 {
        // Sun Nov  6 08:49:37 1994
        if !valid_day_name(&text[..3]) || text[3] != b' ' || text[7] != b' ' || text[10] != b' ' {
            return None;
        }
        if text[19] != b' ' {
            return None;
        }
        let day = if text[8] == b' ' { number(&text[9..10])? } else { number(&text[8..10])? };
        (number(&text[20..24])?, month(&text[4..7])?, day, &text[11..19])
    } else {
        return None;
    };
    if clock[2] != b':' || clock[5] != b':' {
        return None;
    }
    let (hour, minute, second) = (number(&clock[..2])?, number(&clock[3..5])?, number(&clock[6..8])?);
    if year < 1970 || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year as i64, month, day) as u64;
    Some(days * SECS_PER_DAY + u64::from(hour * 3600 + minute * 60 + second.min(59)))
}

fn trim(text: &[u8]) -> &[u8] {
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
    let end = text.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &text[start..end]
}

fn valid_day_name(name: &[u8]) -> bool {
    DAY_NAMES.iter().any(|d| &d[..] == name)
}

fn month(name: &[u8]) -> Option<u32> {
    MONTH_NAMES.iter().position(|m| &m[..] == name).map(|i| i as u32 + 1)
}

fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Unix seconds -> (year, month, day) in UTC.
pub fn civil_from_unix(secs: u64) -> (i64, u32, u32) {
    civil_from_days((secs.min(MAX_SECS) / SECS_PER_DAY) as i64)
}

/// Days since 1970-01-01 -> (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) in UTC -> days since 1970-01-01.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_imf_fixdate() {
        let rows: &[(u64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"), // RFC 9110 §5.6.7 example
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 GMT"),
            (u64::MAX, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for &(secs, text) in rows {
            assert_eq!(&format_imf_fixdate(secs), text.as_bytes(), "{secs}");
        }
    }

    #[test]
    fn parses_http_dates() {
        let rows: &[(&str, Option<u64>)] = &[
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(784_111_777)), // §5.6.7 IMF-fixdate
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(784_111_777)), // §5.6.7 obsolete RFC 850
            ("Sun Nov  6 08:49:37 1994", Some(784_111_777)),      // §5.6.7 asctime
            ("  Sun, 06 Nov 1994 08:49:37 GMT ", Some(784_111_777)), // OWS around the value
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Tue, 29 Feb 2000 00:00:00 GMT", Some(951_782_400)),
            ("Wed, 29 Feb 2001 00:00:00 GMT", None), // no such day
            ("Sun, 06 Nov 1994 08:49:37 UTC", None), // only GMT
            ("Sun, 06 Nov 1994 24:00:00 GMT", None),
            ("Sun, 6 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Now 1994 08:49:37 GMT", None),
            ("Xyz, 06 Nov 1994 08:49:37 GMT", None),
            ("Funday, 06-Nov-94 08:49:37 GMT", None),
            ("Sun, 06 Nov 1969 08:49:37 GMT", None),
            ("1994-11-06T08:49:37Z", None),
            ("", None),
            ("-1", None),
        ];
        for &(text, secs) in rows {
            assert_eq!(parse_http_date(text.as_bytes()), secs, "{text:?}");
        }
    }

    #[test]
    fn round_trips_every_day_for_a_century() {
        for day in 0..36_600u64 {
            let secs = day * SECS_PER_DAY + 45_296;
            assert_eq!(parse_http_date(&format_imf_fixdate(secs)), Some(secs));
        }
    }
}
