//! When to talk to the CA: the renewal time of a certificate, the window
//! its CA suggests (ACME Renewal Information, RFC 9773), the backoff after a
//! failure, and whether the wall clock can be believed at all.
//!
//! Pure functions of unix seconds, so each rule is a table of cases; the
//! client thread (mod.rs) reads the clock (`now`) and sleeps. Times are
//! `i64`: a clock at 1970 and a certificate's notAfter in 2050 both fit, and
//! the differences may be negative.
#![forbid(unsafe_code)]

use std::time::{SystemTime, UNIX_EPOCH};

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// Certificates shorter than this renew at half their lifetime, not at two
/// thirds: a 6-day certificate renewed with two days left leaves too little
/// room for a CA outage.
const SHORT_LIFETIME: i64 = 10 * DAY;
/// The first retry after a failure; each further failure doubles it.
const FIRST_BACKOFF: i64 = MINUTE;
/// The longest wait the failures alone make between attempts.
const MAX_BACKOFF: i64 = DAY;
/// The first wait after a `rateLimited` problem that does not say how
/// long: the CA's limits count in hours and weeks, not minutes.
const RATE_LIMITED_BACKOFF: i64 = HOUR;
/// RFC 9773 §4.3: a `Retry-After` on renewal information is honoured within
/// these bounds, and this is the wait when the CA gives none.
const ARI_MIN_RETRY: i64 = MINUTE;
const ARI_MAX_RETRY: i64 = DAY;
const ARI_DEFAULT_RETRY: i64 = 6 * HOUR;

/// A certificate's validity, as its notBefore and notAfter say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: i64,
    pub not_after: i64,
}

impl Validity {
    fn lifetime(self) -> i64 {
        (self.not_after - self.not_before).max(0)
    }

    /// When a third of the lifetime is left (half, for short certificates).
    pub fn renewal_time(self) -> i64 {
        let lifetime = self.lifetime();
        let left = if lifetime < SHORT_LIFETIME { lifetime / 2 } else { lifetime / 3 };
        self.not_after - left
    }
}

/// RFC 9773 §4.2: the window the CA suggests renewing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    /// A uniformly random time in the window (`random` picks it), so that
    /// the CA's many clients spread out; RFC 9773 §4.2 step 3: a time already
    /// past means now.
    pub fn pick(self, random: u64, now: i64) -> i64 {
        let span = (self.end - self.start).max(0) as u64;
        let at = self.start + random.checked_rem(span + 1).unwrap_or(0) as i64;
        at.max(now)
    }
}

/// When to ask for renewal information again: the CA's `Retry-After`
/// (seconds), held to one minute .. one day.
pub fn ari_retry(retry_after: Option<i64>) -> i64 {
    retry_after.map_or(ARI_DEFAULT_RETRY, |secs| secs.clamp(ARI_MIN_RETRY, ARI_MAX_RETRY))
}

/// When to ask for renewal information after a SIGHUP: at once, but no
/// sooner than the shortest wait after the last poll (`polled`), so a
/// deploy script that signals after every upload does not become a stream
/// of requests to the CA.
pub fn ari_on_wake(retry: i64, polled: i64) -> i64 {
    retry.min(polled.saturating_add(ARI_MIN_RETRY))
}

/// The wait after `failures` failed attempts in a row (at least one):
/// doubling from a minute up to a day, or longer when the CA asked for
/// longer (`Retry-After`), up to `limit` (the time the certificate held
/// can still wait) where that is more than a day; at least an hour after
/// a `rateLimited` problem that does not say how long.
pub fn backoff(failures: u32, retry_after: Option<i64>, rate_limited: bool, limit: i64) -> i64 {
    let doubled = FIRST_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(20)).min(MAX_BACKOFF);
    let asked = match retry_after {
        Some(secs) => secs.min(limit.max(MAX_BACKOFF)),
        None if rate_limited => RATE_LIMITED_BACKOFF,
        None => 0,
    };
    doubled.max(asked)
}

/// A certificate's next attempt and next poll for renewal information,
/// held to the longest this client sets: a state file written under a
/// clock far ahead (or by hand), or a clock stepped back since, must not
/// keep the client from the CA for years. `limit` is `backoff`'s.
pub fn clamp(next_attempt: i64, ari_retry: i64, now: i64, limit: i64) -> (i64, i64) {
    let latest = |wait: i64| now.saturating_add(wait);
    (next_attempt.min(latest(limit.max(MAX_BACKOFF))), ari_retry.min(latest(ARI_MAX_RETRY)))
}

/// When to act for one certificate: order at once when none is held, else
/// at the chosen time in the CA's window (`ari`) or at the renewal time,
/// but never before `not_before_retry` (the backoff of past failures).
pub fn due(held: Option<Validity>, ari: Option<i64>, not_before_retry: i64) -> i64 {
    let wanted = match (held, ari) {
        (None, _) => i64::MIN,
        (Some(_), Some(at)) => at,
        (Some(validity), None) => validity.renewal_time(),
    };
    wanted.max(not_before_retry)
}

/// What the log should say about a certificate not yet renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Alarm {
    None,
    /// Its renewal time has passed and it is still the one served.
    Overdue,
    /// A day or less is left. Only for certificates longer than two days: a
    /// shorter one renews at half its lifetime, inside that day by design.
    LastDay,
    Expired,
}

pub fn alarm(validity: Validity, now: i64) -> Alarm {
    if now >= validity.not_after {
        Alarm::Expired
    } else if validity.lifetime() > 2 * DAY && validity.not_after - now <= DAY {
        Alarm::LastDay
    } else if now >= validity.renewal_time() {
        Alarm::Overdue
    } else {
        Alarm::None
    }
}

/// A clock that reads earlier than this binary was built is not believed:
/// a Pi without a real-time clock boots at 1970 until NTP answers, and then
/// every certificate would look not yet valid and every order premature.
pub fn plausible(now: i64) -> bool {
    now >= crate::catalog::embedded::BUILD_TIME as i64
}

/// The wall clock in unix seconds, as the client judges certificates and
/// schedules by it. Test builds (the `test-clock` feature) add the seconds
/// written in the file `MOTE_TEST_CLOCK_FILE` names, read at every call so a
/// test can step the clock under a running server; a static musl binary
/// ignores libfaketime, and the ARM boot test is the only place where the
/// clock really reads 1970.
pub fn now() -> i64 {
    let now = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    now + test_offset()
}

#[cfg(feature = "test-clock")]
fn test_offset() -> i64 {
    let Some(path) = std::env::var_os("MOTE_TEST_CLOCK_FILE") else {
        return 0;
    };
    std::fs::read_to_string(path).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0)
}

#[cfg(not(feature = "test-clock"))]
fn test_offset() -> i64 {
    0
}

/// RFC 3339 §5.6 `date-time` (what ACME's JSON carries: `2025-01-03T00:00:00Z`,
/// fractions of a second and offsets too) -> unix seconds; None before 1970,
/// which no certificate's dates or renewal window can be.
pub fn rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &fraction[n..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hm = [h1, h2, m1, m2];
            if !hm.iter().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let [h1, h2, m1, m2] = hm.map(|c| i64::from(c - b'0'));
            let secs = (h1 * 10 + h2) * HOUR + (m1 * 10 + m2) * MINUTE;
            if *sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return None,
    };
    let days = mote_site::date::days_from_civil(year, month as u32, day as u32);
    Some(days * DAY + hour * HOUR + minute * MINUTE + second.min(59) - offset).filter(|&unix| unix >= 0)
}

/// A duration for the log, in its largest whole unit: `45 s`, `12 min`,
/// `5 h`, `30 days`.
pub fn span(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 2 * MINUTE => format!("{s} s"),
        s if s < 2 * HOUR => format!("{} min", s / MINUTE),
        s if s < 2 * DAY => format!("{} h", s / HOUR),
        s => format!("{} days", s / DAY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_750_000_000;

    #[test]
    fn renewal_time_leaves_a_third_or_half_for_short_certificates() {
        for (name, lifetime, left) in [
            ("90 days: a third left", 90 * DAY, 30 * DAY),
            ("47 days: a third left", 47 * DAY, 47 * DAY / 3),
            ("10 days is not short: a third", 10 * DAY, 10 * DAY / 3),
            ("6-day shortlived: half left", 6 * DAY, 3 * DAY),
            ("60 s test certificate: half", 60, 30),
            ("notAfter before notBefore: due at notAfter", -5, 0),
        ] {
            let validity = Validity { not_before: T, not_after: T + lifetime };
            assert_eq!(validity.renewal_time(), T + lifetime - left, "{name}");
        }
    }

    #[test]
    fn a_window_pick_is_inside_it_or_now_when_it_has_passed() {
        let window = Window { start: T, end: T + 100 };
        for (name, random, now, want) in [
            ("RFC 9773 §4.2: lowest pick is the start", 0, 0, T),
            ("highest pick is the end", 100, 0, T + 100),
            ("wraps modulo the span", 101 + 7, 0, T + 7),
            ("u64::MAX never overflows", u64::MAX, 0, T + (u64::MAX % 101) as i64),
            ("a pick in the past means now", 10, T + 50, T + 50),
            ("a window wholly past means now", 99, T + 500, T + 500),
        ] {
            assert_eq!(window.pick(random, now), want, "{name}");
        }
        let backwards = Window { start: T + 10, end: T };
        assert_eq!(backwards.pick(12345, 0), T + 10, "an end before its start is the start");
    }

    #[test]
    fn ari_retry_after_is_held_to_a_minute_and_a_day() {
        for (retry_after, want) in
            [(None, 6 * HOUR), (Some(0), MINUTE), (Some(-5), MINUTE), (Some(3600), 3600), (Some(7 * DAY), DAY)]
        {
            assert_eq!(ari_retry(retry_after), want, "{retry_after:?}");
        }
    }

    #[test]
    fn a_sighup_asks_again_at_most_once_a_minute() {
        for (name, retry, polled, want) in [
            ("never asked since the start: at once", T + 6 * HOUR, 0, MINUTE),
            ("asked an hour ago: at once", T + 5 * HOUR, T - HOUR, T - HOUR + MINUTE),
            ("asked 10 s ago: a minute after that", T + 6 * HOUR, T - 10, T + 50),
            ("the CA's own time is sooner", T + 30, T - 10, T + 30),
        ] {
            assert_eq!(ari_on_wake(retry, polled), want, "{name}");
        }
    }

    #[test]
    fn backoff_doubles_to_a_day_and_honours_the_ca() {
        for (name, failures, retry_after, rate_limited, limit, want) in [
            ("first failure", 1, None, false, 0, MINUTE),
            ("doubles", 2, None, false, 0, 2 * MINUTE),
            ("doubles again", 5, None, false, 0, 16 * MINUTE),
            ("up to a day", 12, None, false, 0, DAY),
            ("never overflows", u32::MAX, None, false, 0, DAY),
            ("no failure counts as one", 0, None, false, 0, MINUTE),
            ("RFC 8555 §6.6 Retry-After honoured", 1, Some(3 * HOUR), false, 0, 3 * HOUR),
            ("a shorter Retry-After does not cut the doubling", 5, Some(30), false, 0, 16 * MINUTE),
            ("without a certificate, a day at most", 1, Some(30 * DAY), false, 0, DAY),
            ("a week's limit honoured while the certificate lasts", 1, Some(7 * DAY), false, 20 * DAY, 7 * DAY),
            ("no longer than the certificate can wait", 1, Some(30 * DAY), false, 20 * DAY, 20 * DAY),
            ("rateLimited without Retry-After: an hour", 1, None, true, 0, HOUR),
            ("rateLimited: the doubling goes on past it", 12, None, true, 0, DAY),
            ("rateLimited with Retry-After: the CA's time", 1, Some(10 * MINUTE), true, 0, 10 * MINUTE),
        ] {
            assert_eq!(backoff(failures, retry_after, rate_limited, limit), want, "{name}");
        }
    }

    #[test]
    fn stored_times_are_held_to_the_longest_wait() {
        for (name, next_attempt, ari_retry, limit, want) in [
            ("times within the waits are kept", T + HOUR, T + 6 * HOUR, 0, (T + HOUR, T + 6 * HOUR)),
            ("times past are kept", 0, 0, 0, (0, 0)),
            ("a backoff ten years on: a day", T + 3650 * DAY, T, 0, (T + DAY, T)),
            ("a poll ten years on: a day", T, T + 3650 * DAY, 0, (T, T + DAY)),
            ("the CA's long wait while the certificate lasts", T + 9 * DAY, T, 20 * DAY, (T + 9 * DAY, T)),
            ("no longer than the certificate can wait", T + 30 * DAY, T, 20 * DAY, (T + 20 * DAY, T)),
            ("never overflows", i64::MAX, i64::MAX, i64::MAX, (i64::MAX, T + DAY)),
        ] {
            assert_eq!(clamp(next_attempt, ari_retry, T, limit), want, "{name}");
        }
    }

    #[test]
    fn due_orders_at_once_without_a_certificate_and_respects_backoff() {
        let held = Validity { not_before: T, not_after: T + 90 * DAY };
        for (name, held, ari, retry, want) in [
            ("nothing held: at once", None, None, i64::MIN, i64::MIN),
            ("nothing held, backing off", None, None, T + 60, T + 60),
            ("held: at a third left", Some(held), None, i64::MIN, T + 60 * DAY),
            ("held, the CA's window wins", Some(held), Some(T + 10 * DAY), i64::MIN, T + 10 * DAY),
            ("held, backoff later than renewal", Some(held), None, T + 61 * DAY, T + 61 * DAY),
        ] {
            assert_eq!(due(held, ari, retry), want, "{name}");
        }
    }

    #[test]
    fn alarms_for_overdue_the_last_day_and_expiry() {
        let long = Validity { not_before: T, not_after: T + 90 * DAY };
        let short = Validity { not_before: T, not_after: T + DAY + DAY / 2 };
        for (name, validity, now, want) in [
            ("fresh", long, T, Alarm::None),
            ("renewal time passed", long, T + 61 * DAY, Alarm::Overdue),
            ("a day left", long, T + 89 * DAY, Alarm::LastDay),
            ("expired", long, T + 90 * DAY, Alarm::Expired),
            ("a 36-hour certificate is not in its last day at birth", short, T, Alarm::None),
            ("a 36-hour certificate past half is overdue", short, T + DAY, Alarm::Overdue),
        ] {
            assert_eq!(alarm(validity, now), want, "{name}");
        }
    }

    #[test]
    fn a_clock_before_the_build_is_not_plausible() {
        assert!(!plausible(0), "1970");
        assert!(!plausible(crate::catalog::embedded::BUILD_TIME as i64 - 1));
        assert!(plausible(crate::catalog::embedded::BUILD_TIME as i64));
    }

    #[test]
    fn reads_rfc3339_times() {
        // The examples of RFC 3339 §5.8; a leap second counts as :59.
        for (text, want) in [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2025-01-03T00:00:00Z", Some(1_735_862_400)),
            ("1985-04-12T23:20:50.52Z", Some(482_196_050)),
            ("1996-12-19T16:39:57-08:00", Some(851_042_397)),
            ("1996-12-20T00:39:57+00:00", Some(851_042_397)),
            ("1990-12-31T23:59:60Z", Some(662_687_999)),
            ("1937-01-01T12:00:27.87+00:20", None),
            ("1969-12-31T23:59:59Z", None),
            ("1970-01-01T00:59:59+01:00", None),
            ("2025-01-03 00:00:00Z", None),
            ("2025-13-03T00:00:00Z", None),
            ("2025-01-03T00:00:00", None),
            ("2025-01-03T00:00:00.Z", None),
            ("2025-01-03T00:00:00+0100", None),
            ("2025-01-0aT00:00:00Z", None),
            ("", None),
        ] {
            assert_eq!(rfc3339(text), want, "{text}");
        }
    }

    #[test]
    fn spans_in_their_largest_unit() {
        for (secs, want) in
            [(-3, "0 s"), (45, "45 s"), (119, "119 s"), (120, "2 min"), (3 * HOUR, "3 h"), (30 * DAY, "30 days")]
        {
            assert_eq!(span(secs), want);
        }
    }
}
