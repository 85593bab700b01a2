//! Answers remembered by the request head that got them.
//!
//! Load comes in repeats: a monitor's health check, a browser revalidating
//! the same few files, a benchmark's one URL. A head's answer is a function
//! of its bytes and the catalog (beside settings fixed at start-up: `--auth`,
//! `--spa`, `--status`): the same bytes parse, route and meet their
//! preconditions the same way every time. So a worker keeps the last few
//! heads whose answers are made only of shared parts (nothing built for one
//! request), and a head that matches one of them byte for byte skips
//! parsing, routing and the catalog lookup; its reply is made from the kept
//! answer, with this second's Date and the connection's own `Connection` header.
//!
//! A head whose answer keeps an HTTP/1.1 connection open without a
//! Connection header is answered the same way on every connection, so its
//! slot also keeps the whole response (`whole.rs`) with this second's Date:
//! a repeat within that second costs no reply to build, only the bytes
//! handed on.
//!
//! Parsing strictly is most of the user-space work of serving a cached file,
//! and on a Pi that work is what limits the request rate, so a repeat that
//! skips it, and with a whole response builds nothing, costs a fraction of a
//! parsed head (instructions per request: bench/RESULTS.md). Four slots,
//! replaced oldest first: more distinct heads in rotation than that miss
//! every time, at the cost of a copy of each head, well under what parsing
//! it costs. Emptied whenever the catalog is swapped.
//!
//! With `--access-log`, a slot also keeps its access line's entry part
//! (request line, status, bytes, Referer, User-Agent: all fixed by the head
//! and its answer), so a repeat is logged without being parsed, and logging
//! is no reason to give up the memo. The client is not part of it: it is the
//! connection's peer, or what a trusted proxy's head names, read from that
//! head again (`http/forwarded.rs`), so the same head from another peer is
//! logged as that peer's. What a head names behind a proxy is worked out
//! once per slot, on the first recall from a trusted proxy.
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::net::IpAddr;
use std::sync::Arc;

use crate::answer::reply::Answer;
use crate::http::forwarded::Proxies;

const SLOTS: usize = 4;
/// Longest head remembered: a browser's, cookies and all, fits.
const MAX_HEAD: usize = 1024;
/// Longest access-line part kept: a head's fields, a few of them escaped.
const MAX_LOG: usize = 2 * MAX_HEAD;
/// What the heads, log parts and whole responses can hold at most, for
/// `--max-memory` (a response may outlive its copy in `whole.rs` here); the
/// log parts are counted with the access log off too, 8 KiB a worker.
pub const WORKER_BYTES: u64 = (SLOTS * (MAX_HEAD + MAX_LOG + crate::answer::whole::MAX_BYTES)) as u64;

#[derive(Default)]
pub struct Memo {
    slots: [Slot; SLOTS],
    /// The slot the next head replaces.
    next: usize,
}

#[derive(Default)]
struct Slot {
    head: Vec<u8>,
    /// None while the slot is empty.
    answer: Option<Recalled>,
    /// The whole response to the head as a keep-alive HTTP/1.1 connection
    /// gets it, and the second (`Clock::unix`) whose Date it carries.
    whole: Option<(u64, Arc<Vec<u8>>)>,
    /// The access line's entry part (`log::Lines::push_entry`), when logging.
    log: Vec<u8>,
    /// What the head names as the client behind a trusted proxy, once asked.
    forwarded: Cell<Option<Option<IpAddr>>>,
}

/// A remembered answer and what the head said about the connection.
pub struct Recalled {
    pub answer: Answer,
    /// Bytes of input the head took.
    pub head_len: usize,
    pub keep_alive: bool,
    pub http10: bool,
}

impl Memo {
    /// The slot of the head at the front of `input`, if it is one seen before.
    pub fn find(&self, input: &[u8]) -> Option<usize> {
        self.slots.iter().position(|slot| slot.answer.is_some() && input.starts_with(&slot.head))
    }

    /// The answer kept in `slot`.
    pub fn recall(&self, slot: usize) -> Option<Recalled> {
        let seen = self.slots[slot].answer.as_ref()?;
        Some(Recalled { answer: seen.answer.share()?, ..*seen })
    }

    /// The whole response kept for the head in `slot`, and the head's
    /// length, when the response carries the Date of `second`.
    pub fn whole(&self, slot: usize, second: u64) -> Option<(&Arc<Vec<u8>>, usize)> {
        let slot = &self.slots[slot];
        let (made, bytes) = slot.whole.as_ref()?;
        Some((bytes, slot.answer.as_ref()?.head_len)).filter(|_| *made == second)
    }

    /// Keeps `bytes`, the whole response to the head in `slot` made in
    /// `second`. The caller keeps only the one every connection gets
    /// (keep-alive HTTP/1.1, no Connection header), so `whole` can hand it
    /// to any connection.
    pub fn keep_whole(&mut self, slot: usize, second: u64, bytes: &Arc<Vec<u8>>) {
        self.slots[slot].whole = Some((second, Arc::clone(bytes)));
    }

    /// The access line's entry part kept with the head in `slot` (empty
    /// without the access log).
    pub fn log_part(&self, slot: usize) -> &[u8] {
        &self.slots[slot].log
    }

    /// The client the head in `slot` names behind a trusted proxy
    /// (`Proxies::client`), read from the head once.
    pub fn forwarded_client(&self, slot: usize, proxies: &Proxies) -> Option<IpAddr> {
        let slot = &self.slots[slot];
        if let Some(named) = slot.forwarded.get() {
            return named;
        }
        let named = proxies.client(&slot.head);
        slot.forwarded.set(Some(named));
        named
    }

    /// Keeps `answer` (the caller's copy, `Answer::share`) for `head` (the
    /// whole head, as parsed) when it is made of shared parts only and the
    /// head is not too long, with `log`, the access line's entry part it got
    /// (empty without the access log).
    pub fn remember(&mut self, head: &[u8], answer: Answer, keep_alive: bool, http10: bool, log: &[u8]) {
        if head.len() > MAX_HEAD || log.len() > MAX_LOG || !answer.is_shared() {
            return;
        }
        let slot = &mut self.slots[self.next];
        self.next = (self.next + 1) % SLOTS;
        slot.head.clear();
        slot.head.reserve_exact(head.len()); // never more than MAX_HEAD held
        slot.head.extend_from_slice(head);
        slot.answer = Some(Recalled { answer, head_len: head.len(), keep_alive, http10 });
        slot.whole = None;
        slot.forwarded.set(None);
        slot.log.clear();
        slot.log.reserve_exact(log.len());
        slot.log.extend_from_slice(log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::reply::{Content, Head};

    fn canned(head: &'static [u8]) -> Answer {
        Answer { entry: None, head: Head::Static(head), content: Content::Empty, closes: false, extra: 0 }
    }

    fn recall(memo: &Memo, input: &[u8]) -> Option<Recalled> {
        memo.recall(memo.find(input)?)
    }

    fn head_of(recalled: Option<Recalled>) -> Option<(Vec<u8>, usize)> {
        recalled.map(|r| match r.answer.head {
            Head::Static(bytes) => (bytes.to_vec(), r.head_len),
            _ => unreachable!(),
        })
    }

    #[test]
    fn recalls_only_the_same_bytes() {
        let mut memo = Memo::default();
        let get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        memo.remember(get, canned(b"one"), true, false, b"");
        assert_eq!(head_of(recall(&memo, get)), Some((b"one".to_vec(), get.len())));
        // Followed by the next pipelined request: the head still matches.
        let pipelined = [&get[..], b"GET /x HTTP/1.1\r\n"].concat();
        assert_eq!(head_of(recall(&memo, &pipelined)), Some((b"one".to_vec(), get.len())));
        // Incomplete, or different in one byte: parsed afresh.
        assert!(recall(&memo, &get[..get.len() - 1]).is_none());
        assert!(recall(&memo, b"GET / HTTP/1.1\r\nHost: b\r\n\r\n").is_none());
    }

    #[test]
    fn built_answers_and_long_heads_are_not_kept() {
        let mut memo = Memo::default();
        let built = Answer {
            entry: None,
            head: Head::Built(Box::new(*b"x")),
            content: Content::Empty,
            closes: false,
            extra: 0,
        };
        memo.remember(b"GET / HTTP/1.1\r\n\r\n", built, true, false, b"");
        assert!(recall(&memo, b"GET / HTTP/1.1\r\n\r\n").is_none());
        let long = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD], b"\r\n\r\n"].concat();
        memo.remember(&long, canned(b"one"), true, false, b"");
        assert!(recall(&memo, &long).is_none());
    }

    #[test]
    fn the_oldest_head_makes_room() {
        let mut memo = Memo::default();
        let heads: Vec<Vec<u8>> = (0..=SLOTS).map(|i| format!("GET /{i} HTTP/1.1\r\n\r\n").into_bytes()).collect();
        for head in &heads {
            memo.remember(head, canned(b"one"), true, false, b"");
        }
        assert!(recall(&memo, &heads[0]).is_none());
        assert!(heads[1..].iter().all(|head| recall(&memo, head).is_some()));
    }

    #[test]
    fn the_log_part_goes_with_its_head() {
        let mut memo = Memo::default();
        let (a, b) = (b"GET /a HTTP/1.1\r\n\r\n", b"GET /b HTTP/1.1\r\n\r\n");
        memo.remember(a, canned(b"one"), true, false, b"\"GET /a HTTP/1.1\" 200 3 \"-\" \"-\"\n");
        memo.remember(b, canned(b"two"), true, false, b"\"GET /b HTTP/1.1\" 200 3 \"-\" \"-\"\n");
        assert!(memo.log_part(memo.find(a).unwrap()).starts_with(b"\"GET /a "));
        assert!(memo.log_part(memo.find(b).unwrap()).starts_with(b"\"GET /b "));
        // A part too long to keep (a head's fields escaped beyond MAX_LOG): not remembered.
        let c = b"GET /c HTTP/1.1\r\n\r\n";
        memo.remember(c, canned(b"three"), true, false, &[b'x'; MAX_LOG + 1]);
        assert!(memo.find(c).is_none());
        // A slot taken by another head takes its part too.
        for i in 0..SLOTS {
            memo.remember(format!("GET /{i} HTTP/1.1\r\n\r\n").as_bytes(), canned(b"n"), true, false, b"");
        }
        assert!(memo.find(a).is_none() && (0..SLOTS).all(|slot| memo.log_part(slot).is_empty()));
    }

    #[test]
    fn the_forwarded_client_goes_with_its_head() {
        let mut memo = Memo::default();
        let proxies =
            Proxies { trusted: vec![crate::http::forwarded::Cidr::parse("10.0.0.0/8").unwrap()], ..Proxies::default() };
        let a = b"GET / HTTP/1.1\r\nX-Forwarded-For: 192.0.2.1, 10.0.0.1\r\n\r\n";
        memo.remember(a, canned(b"one"), true, false, b"");
        let at = memo.find(a).unwrap();
        for _ in 0..2 {
            assert_eq!(memo.forwarded_client(at, &proxies), Some("192.0.2.1".parse().unwrap()));
        }
        // The slot taken by another head reads that head.
        for i in 0..SLOTS {
            memo.remember(format!("GET /{i} HTTP/1.1\r\n\r\n").as_bytes(), canned(b"n"), true, false, b"");
        }
        assert!((0..SLOTS).all(|slot| memo.forwarded_client(slot, &proxies).is_none()));
    }

    #[test]
    fn a_whole_response_is_kept_for_its_second_and_its_head() {
        let mut memo = Memo::default();
        let get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        memo.remember(get, canned(b"one"), true, false, b"");
        let at = memo.find(get).unwrap();
        assert!(memo.whole(at, 100).is_none(), "nothing kept yet");
        let bytes = Arc::new(b"HTTP/1.1 200 OK\r\n\r\none".to_vec());
        memo.keep_whole(at, 100, &bytes);
        let (kept, head_len) = memo.whole(at, 100).unwrap();
        assert!(Arc::ptr_eq(kept, &bytes) && head_len == get.len());
        assert!(memo.whole(at, 101).is_none(), "a new second wants a new Date");
        // The slot taken by another head forgets the response.
        for i in 0..SLOTS {
            memo.remember(format!("GET /{i} HTTP/1.1\r\n\r\n").as_bytes(), canned(b"two"), true, false, b"");
        }
        assert!((0..SLOTS).all(|slot| memo.whole(slot, 100).is_none()));
    }
}
