//! Time as the event loop needs it: coarse monotonic seconds for deadlines,
//! and the `Date:` header line, formatted at most once a second.
#![forbid(unsafe_code)]

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::date::format_imf_fixdate;
use crate::reply::{Connection, Tail};

/// `Date: ` + IMF-fixdate + CRLF.
const DATE_LINE_LEN: usize = 6 + crate::date::IMF_FIXDATE_LEN + 2;

pub struct Clock {
    start: Instant,
    /// Whole seconds since `start`: deadlines are this coarse on purpose.
    now: u32,
    unix: u64,
    /// Nanoseconds into the wall clock's second, at the last tick.
    unix_nanos: u32,
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
            unix_nanos: 0,
            date_line: *b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
        };
        clock.tick();
        clock
    }

    /// Reads the clocks (vDSO, no system call): when the worker's timer fires
    /// at each second of the wall clock, and on every turn while it is not set.
    pub fn tick(&mut self) {
        self.now = self.start.elapsed().as_secs().min(u64::from(u32::MAX)) as u32;
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.unix_nanos = wall.subsec_nanos();
        let unix = wall.as_secs();
        if unix != self.unix {
            self.unix = unix;
            self.date_line[6..6 + crate::date::IMF_FIXDATE_LEN].copy_from_slice(&format_imf_fixdate(unix));
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
        if self.unix < crate::site::BUILD_TIME {
            return b"";
        }
        &self.date_line
    }

    /// How long from the last tick until just past the next second of the
    /// wall clock, when the Date changes. The millisecond more keeps a timer
    /// (monotonic) from waking a hair before the wall clock's second.
    pub fn until_next_second(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(u64::from(1_000_000_000 - self.unix_nanos.min(999_999_999)) + 1_000_000)
    }
}
