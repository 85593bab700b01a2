//! Whole responses: a worker's own copies of the small responses it sends
//! again and again (head, `--header` lines, tail and body in one buffer), so
//! a keep-alive answer leaves in one `send` instead of a `sendmsg` over four
//! parts. The kernel's `sendmsg` copies in a message header and an iovec
//! array and walks it on every call; for a small page that walk costs more
//! than everything mote does in user space to parse the request, and on a
//! Pi the CPU is what runs out first (CPU per request: bench/RESULTS.md).
//!
//! A copy is made on the second ask for the same response, so files fetched
//! once never cost one, and remade when the tail changes (the Date, once a
//! second). It is only ever made of bytes that cannot change under it:
//! parts of a catalog entry the slot keeps alive, or static text. Replies
//! with parts built for one request (ranges, redirects, the status page)
//! are never copied.
#![forbid(unsafe_code)]

use std::sync::Arc;

use crate::answer::reply::{BodyRef, Reply};
use crate::catalog::Entry;

const SLOTS: usize = 8;
/// Largest response copied; bigger bodies gain less from one call fewer.
pub const MAX_BYTES: usize = 16 * 1024;
/// What the copies can hold at most, for `--max-memory`.
pub const WORKER_BYTES: u64 = (SLOTS * MAX_BYTES) as u64;

#[derive(Default)]
pub struct Whole {
    slots: [Slot; SLOTS],
}

#[derive(Default)]
struct Slot {
    /// The response last asked for here and not copied yet.
    seen: Key,
    /// The response `bytes` hold; its parts point into `entry` or static text.
    key: Key,
    /// Keeps the parts' memory alive, and so their addresses unique, while
    /// `key` names them.
    entry: Option<Arc<Entry>>,
    /// Shared with the memo's slot for the head it answers (`memo.rs`), with
    /// a queued send (`net/batch.rs`) until it completes, and with the rest of
    /// one the socket did not take (`Reply::of_whole`) until that is written;
    /// a copy remade meanwhile gets a buffer of its own.
    bytes: Arc<Vec<u8>>,
}

/// Where a response's shared parts live; the tail is compared by value.
#[derive(Default, Clone, Copy, PartialEq)]
struct Key {
    head: (usize, usize),
    extra: (usize, usize),
    body: (usize, usize),
}

fn place(bytes: &[u8]) -> (usize, usize) {
    (bytes.as_ptr() as usize, bytes.len())
}

impl Whole {
    /// `reply` as one buffer, when it is small, made only of shared bytes,
    /// and was asked for before.
    pub fn bytes(&mut self, reply: &Reply) -> Option<&Arc<Vec<u8>>> {
        let (at, key, current) = self.find(reply)?;
        let slot = &mut self.slots[at];
        if !current {
            if slot.key != key && slot.seen != key {
                slot.seen = key;
                return None;
            }
            let BodyRef::Memory(body) = reply.body() else {
                return None;
            };
            slot.entry = reply.entry().cloned();
            slot.key = key;
            if Arc::get_mut(&mut slot.bytes).is_none() {
                // Still held (by the memo, a queued send, a connection's
                // backlog): a buffer of its own, sized once.
                slot.bytes = Arc::new(Vec::with_capacity(reply.total_len() as usize));
            }
            let bytes = Arc::get_mut(&mut slot.bytes)?;
            bytes.clear();
            for part in [reply.head(), reply.extra(), reply.tail(), body] {
                bytes.extend_from_slice(part);
            }
        }
        Some(&slot.bytes)
    }

    /// The copy of `reply` if one is made and current; unlike `bytes`, this
    /// neither counts as an ask nor makes a copy.
    pub fn held(&self, reply: &Reply) -> Option<&Arc<Vec<u8>>> {
        let (at, _, current) = self.find(reply)?;
        current.then_some(&self.slots[at].bytes)
    }

    /// The slot for `reply`, its key, and whether the slot holds it now;
    /// None when it is not a response to copy.
    fn find(&self, reply: &Reply) -> Option<(usize, Key, bool)> {
        if reply.total_len() > MAX_BYTES as u64 || !reply.is_shared() {
            return None;
        }
        let BodyRef::Memory(body) = reply.body() else {
            return None;
        };
        let (head, extra, tail) = (reply.head(), reply.extra(), reply.tail());
        let key = Key { head: place(head), extra: place(extra), body: place(body) };
        let at = index(&key);
        let slot = &self.slots[at];
        let tail_at = head.len() + extra.len();
        let current = slot.key == key
            && slot.bytes.len() as u64 == reply.total_len()
            && slot.bytes.get(tail_at..tail_at + tail.len()) == Some(tail);
        Some((at, key, current))
    }
}

/// Entries are separate allocations; mixing the head's and the body's
/// addresses spreads them over the slots.
fn index(key: &Key) -> usize {
    let mixed = (key.head.0 ^ key.body.0.rotate_left(16)) as u64;
    (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize % SLOTS
}
