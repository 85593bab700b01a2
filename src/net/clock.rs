//! Time as the event loop needs it: coarse monotonic seconds for deadlines,
//! and the `Date:` header line, formatted at most once a second.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::answer::reply::{Connection, Tail};
use mote_site::date::format_imf_fixdate;

/// `Date: ` + IMF-fixdate + CRLF.
const DATE_LINE_LEN: usize = 6 + mote_site::date::IMF_FIXDATE_LEN + 2;
/// How far past the wall clock's second a tick is asked for: the timer runs
/// on the monotonic clock, and NTP may slew the two apart by a hair.
const DATE_MARGIN: Duration = Duration::from_millis(1);

pub struct Clock {
    start: Instant,
    /// Whole seconds since `start`: deadlines are this coarse on purpose.
    now: u32,
    unix: u64,
    date_line: [u8; DATE_LINE_LEN],
    /// Ready tails for Persist, KeepAlive and Close, with this second's Date.
    tails: [Tail; 3],
}

impl Clock {
    pub fn new() -> Clock {
        let blank = Tail::new(b"", Connection::Persist);
        let mut clock = Clock {
            tails: [blank; 3],
            start: Instant::now(),
            now: 0,
            unix: u64::MAX,
            date_line: *b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
        };
        clock.tick();
        clock
    }

    /// Reads the clocks (vDSO, no system call): when the worker's timer fires
    /// (`until_next_tick`), and on every turn while it is not set.
    pub fn tick(&mut self) {
        self.now = self.start.elapsed().as_secs().min(u64::from(u32::MAX)) as u32;
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if unix != self.unix {
            self.unix = unix;
            self.date_line[6..6 + mote_site::date::IMF_FIXDATE_LEN].copy_from_slice(&format_imf_fixdate(unix));
            for connection in [Connection::Persist, Connection::KeepAlive, Connection::Close] {
                self.tails[connection as usize] = Tail::new(self.date_line(), connection);
            }
        }
    }

    pub fn now(&self) -> u32 {
        self.now
    }

    /// The tail for a response that leaves the connection so.
    pub fn tail(&self, connection: Connection) -> &Tail {
        &self.tails[connection as usize]
    }

    pub fn unix(&self) -> u64 {
        self.unix
    }

    /// Empty while the clock reads earlier than the newest file built into
    /// this binary: a Pi without a battery-backed clock starts in 1970 until
    /// NTP runs, and RFC 9110 §6.6.1 says a server without a reliable clock
    /// sends no Date. It comes back by itself when the clock is set.
    pub fn date_line(&self) -> &[u8] {
        if self.unix < crate::catalog::embedded::BUILD_TIME {
            return b"";
        }
        &self.date_line
    }

    /// How long from now until the clock must be read again: the next whole
    /// second of `now`, so deadlines are never judged by a stale second (the
    /// `+ 1` of a deadline makes it a true minimum only then), or just past
    /// the next second of the wall clock, when the Date changes.
    pub fn until_next_tick(&self) -> Duration {
        let elapsed = self.start.elapsed();
        let deadlines = Duration::from_secs(elapsed.as_secs() + 1) - elapsed;
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let date = Duration::from_nanos(u64::from(1_000_000_000 - wall.subsec_nanos())) + DATE_MARGIN;
        deadlines.min(date)
    }
}
