//! A reply is an answer made writable, the list of parts one response is
//! written from: a head (canned, the entry's, or built for a 206/301/416),
//! the `--header` lines (with `--cors`, perhaps those made for one origin),
//! a tail (Date, Connection, the empty line) and a body (a slice of the
//! entry's body, a static text, or a page built for it).
//!
//! Replies point into the catalog instead of copying it, so a pipelined burst
//! of answers becomes one gathered `sendmsg` over shared bytes, and holding
//! the entry's `Arc` keeps a file's bytes alive across a reload until written.
#![forbid(unsafe_code)]

use std::fs::File;
use std::sync::Arc;

use crate::catalog::{Body, Entry};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Connection {
    /// HTTP/1.1 persistent connection: no header needed.
    Persist,
    /// HTTP/1.0 client asked for keep-alive: it must be confirmed.
    KeepAlive,
    Close,
}

/// Longest tail: `Date: <29>\r\n` + `Connection: keep-alive\r\n` + `\r\n`.
const TAIL_CAPACITY: usize = 64;

/// The per-response end of the head, copied into the reply so a write that
/// straddles a second boundary still sends one consistent Date. The clock
/// keeps one of each kind ready, rebuilt once a second.
#[derive(Clone, Copy)]
pub struct Tail {
    bytes: [u8; TAIL_CAPACITY],
    len: u8,
}

impl Tail {
    const EMPTY: Tail = Tail { bytes: [0; TAIL_CAPACITY], len: 0 };

    /// `date_line` is `Date: ...\r\n`, or empty when the clock is not trusted.
    pub fn new(date_line: &[u8], connection: Connection) -> Tail {
        let connection: &[u8] = match connection {
            Connection::Persist => b"",
            Connection::KeepAlive => b"Connection: keep-alive\r\n",
            Connection::Close => b"Connection: close\r\n",
        };
        let mut tail = Tail { bytes: [0; TAIL_CAPACITY], len: 0 };
        for part in [date_line, connection, b"\r\n"] {
            let at = usize::from(tail.len);
            tail.bytes[at..at + part.len()].copy_from_slice(part);
            tail.len += part.len() as u8;
        }
        tail
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

pub enum Head {
    Static(&'static [u8]),
    Built(Box<[u8]>),
    /// The `--status` page's head, built as `Built` is. The page is left out
    /// of the access log: a health check polling it would fill the log.
    Unlogged(Box<[u8]>),
    EntryOk,
    EntryNotModified,
}

pub enum Content {
    Empty,
    Static(&'static [u8]),
    /// A body made for this request (the status page).
    Built(Box<[u8]>),
    /// `start..end` of the entry's body.
    Entry {
        start: u64,
        end: u64,
    },
    /// A whole response, head and all, as the worker copied it (`whole.rs`):
    /// one the memo keeps for a repeated head, or what is left of a batched
    /// send the socket did not take at once.
    Copied(Arc<Vec<u8>>),
}

/// A response before its tail is known.
pub struct Answer {
    pub entry: Option<Arc<Entry>>,
    pub head: Head,
    pub content: Content,
    /// The request left the connection in a state no further request can follow.
    pub closes: bool,
    /// Which header lines follow the head, of those made at start-up
    /// (`Extras`): 0 the ones every response carries, others what
    /// `--cors` says to some requests (`cors.rs`). An index, not a slice:
    /// it fits in the padding after `closes`, and answers are moved often.
    pub extra: u8,
}

/// The header lines a reply may carry after its head, made at start-up:
/// the `--header` lines, and with `--cors` its lines (`cors.rs`).
pub type Extras = &'static [&'static [u8]];

impl Head {
    /// Another of this head, when it lives in the entry or in static memory.
    fn share(&self) -> Option<Head> {
        match self {
            Head::Static(bytes) => Some(Head::Static(bytes)),
            Head::EntryOk => Some(Head::EntryOk),
            Head::EntryNotModified => Some(Head::EntryNotModified),
            Head::Built(_) | Head::Unlogged(_) => None,
        }
    }
}

impl Content {
    /// Another of this body, when it lives in the entry or in static memory.
    fn share(&self) -> Option<Content> {
        match self {
            Content::Empty => Some(Content::Empty),
            Content::Static(bytes) => Some(Content::Static(bytes)),
            Content::Entry { start, end } => Some(Content::Entry { start: *start, end: *end }),
            Content::Built(_) | Content::Copied(_) => None,
        }
    }
}

impl Answer {
    /// Another of this answer, when every part of it is shared: nothing in
    /// it was built for one request.
    pub fn share(&self) -> Option<Answer> {
        let (head, content) = (self.head.share()?, self.content.share()?);
        Some(Answer { entry: self.entry.clone(), head, content, closes: self.closes, extra: self.extra })
    }

    /// Every part lives in the entry or in static memory (`share` would
    /// give one), told without making the copy.
    pub fn is_shared(&self) -> bool {
        shared(&self.head, &self.content)
    }
}

fn shared(head: &Head, content: &Content) -> bool {
    head.share().is_some() && content.share().is_some()
}

pub struct Reply {
    entry: Option<Arc<Entry>>,
    head: Head,
    /// `--header` lines, the same for every response.
    extra: &'static [u8],
    tail: Tail,
    content: Content,
    /// Bytes in all, counted once: the writer asks after every write.
    len: u64,
}

/// Where a reply's body bytes come from when written.
pub enum BodyRef<'a> {
    Memory(&'a [u8]),
    File { file: &'a File, start: u64, end: u64 },
}

impl Reply {
    pub fn new(answer: Answer, extras: Extras, tail: &Tail) -> Reply {
        let extra = extras.get(usize::from(answer.extra)).copied().unwrap_or_default();
        let mut reply =
            Reply { entry: answer.entry, head: answer.head, extra, tail: *tail, content: answer.content, len: 0 };
        reply.len = (reply.head().len() + extra.len() + reply.tail().len()) as u64 + reply.body_len();
        reply
    }

    pub fn head(&self) -> &[u8] {
        match (&self.head, &self.entry) {
            (Head::Static(bytes), _) => bytes,
            (Head::Built(bytes) | Head::Unlogged(bytes), _) => bytes,
            (Head::EntryOk, Some(entry)) => &entry.head_ok,
            (Head::EntryNotModified, Some(entry)) => &entry.head_not_modified,
            (_, None) => b"",
        }
    }

    /// The three digits of the status line.
    pub fn status(&self) -> &[u8] {
        status_of(self.head())
    }

    pub fn extra(&self) -> &[u8] {
        self.extra
    }

    pub fn tail(&self) -> &[u8] {
        self.tail.as_bytes()
    }

    pub fn body(&self) -> BodyRef<'_> {
        match (&self.content, &self.entry) {
            (Content::Static(bytes), _) => BodyRef::Memory(bytes),
            (Content::Built(bytes), _) => BodyRef::Memory(bytes),
            (Content::Copied(bytes), _) => BodyRef::Memory(bytes),
            (Content::Entry { start, end }, Some(entry)) => match &entry.body {
                Body::Memory(bytes) => BodyRef::Memory(&bytes[*start as usize..*end as usize]),
                Body::File(file) => BodyRef::File { file, start: *start, end: *end },
            },
            _ => BodyRef::Memory(b""),
        }
    }

    pub fn body_len(&self) -> u64 {
        match self.body() {
            BodyRef::Memory(bytes) => bytes.len() as u64,
            BodyRef::File { start, end, .. } => end - start,
        }
    }

    /// Bytes in all: head, `--header` lines, tail and body.
    pub fn total_len(&self) -> u64 {
        self.len
    }

    pub fn entry(&self) -> Option<&Arc<Entry>> {
        self.entry.as_ref()
    }

    /// Every part lives in the entry or in static memory: nothing was built
    /// for this one request.
    pub fn is_shared(&self) -> bool {
        shared(&self.head, &self.content)
    }

    /// The whole response this reply is, when it is one (`of_whole`).
    pub fn copied(&self) -> Option<&Arc<Vec<u8>>> {
        match &self.content {
            Content::Copied(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// A reply of the bytes of a whole response (they hold its head already).
    pub fn of_whole(whole: Arc<Vec<u8>>) -> Reply {
        let len = whole.len() as u64;
        Reply {
            entry: None,
            head: Head::Static(b""),
            extra: b"",
            tail: Tail::EMPTY,
            content: Content::Copied(whole),
            len,
        }
    }
}

/// The three digits of the status line that starts `response`.
pub fn status_of(response: &[u8]) -> &[u8] {
    response.get(9..12).unwrap_or(b"000")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_fit_every_connection_form() {
        let date = b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
        let tail = Tail::new(date, Connection::KeepAlive);
        assert_eq!(tail.as_bytes(), &b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: keep-alive\r\n\r\n"[..]);
        assert_eq!(Tail::new(b"", Connection::Persist).as_bytes(), b"\r\n");
        assert_eq!(Tail::new(date, Connection::Close).as_bytes().len(), date.len() + 19 + 2);
    }
}
