//! The sends of one event-loop turn, handed to the kernel together.
//!
//! A keep-alive client asks for one page at a time, so each ready connection
//! costs a read and a write; the reads cannot be saved (readiness is all
//! epoll gives), but the writes of a whole turn can go in one system call. A
//! connection whose one request of the turn has a whole response kept by the
//! memo (`answer/memo.rs`) queues that response here instead of sending it;
//! after the turn's last event the worker submits the batch, and only a send
//! the socket did not take whole (a short send) goes back to its connection,
//! which carries on from there. That leaves about one system call per
//! keep-alive request instead of two, with `--access-log` on too
//! (bench/RESULTS.md: "System calls per request"). Other answers (pipelined
//! bursts, heads the memo does not keep) go plainly.
//!
//! Nothing is in flight between turns (`sys::SendRing` waits for every send it
//! submits), so no connection can close, and no descriptor be reused, under
//! a queued send: the worker submits before it closes or sweeps anything.
#![forbid(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use mio::net::TcpStream;

use crate::sys::{self, SendRing, ShortSend};

/// Sends one submission carries (a power of two); a turn with more submits
/// several times, and a turn with one sends it without the ring. At 32 the
/// reads between two submissions free fewer of the client CPU's buffers than
/// the kernel's default threshold (half of net.core.skb_defer_max = 64) for
/// interrupting that CPU to free them.
const RING_ENTRIES: u32 = 32;
/// The ring's memory, for `--max-memory`: two mappings (32 64-byte entries;
/// the queues' heads and 64 completions) of at most a 4 KiB page each.
pub const WORKER_BYTES: u64 = 2 * 4096;

pub struct Batch {
    ring: SendRing,
    /// Each queued send, in order: its connection's token, socket and bytes.
    queued: Vec<(usize, RawFd, Arc<Vec<u8>>)>,
    /// Sends of this turn that fell short, each with its connection's token
    /// in place of the ring's index.
    short_sends: Vec<ShortSend>,
    /// Sends that went through the ring since the last `submit`.
    through_ring: u64,
}

impl Batch {
    /// A batch on an io_uring of its own, or the kernel's reason for none.
    pub fn new() -> io::Result<Batch> {
        let ring = SendRing::new(RING_ENTRIES)?;
        let queued = Vec::with_capacity(RING_ENTRIES as usize);
        Ok(Batch { ring, queued, short_sends: Vec::new(), through_ring: 0 })
    }

    /// Queues the whole response `bytes` for `stream`.
    pub fn queue(&mut self, token: usize, stream: &TcpStream, bytes: &Arc<Vec<u8>>) {
        if self.queued.len() == RING_ENTRIES as usize {
            self.flush();
        }
        self.queued.push((token, stream.as_raw_fd(), Arc::clone(bytes)));
    }

    /// Sends everything queued; the responses of this turn not sent whole
    /// land in `short_sends`. Returns how many sends went through the ring.
    pub fn submit(&mut self, short_sends: &mut Vec<ShortSend>) -> u64 {
        self.flush();
        short_sends.append(&mut self.short_sends);
        std::mem::take(&mut self.through_ring)
    }

    fn flush(&mut self) {
        if let [(token, fd, bytes)] = self.queued.as_slice() {
            // A lone send costs a system call either way; the plain one is cheaper.
            let result = sys::send(fd, bytes);
            if !matches!(result, Ok(n) if n == bytes.len()) {
                self.short_sends.push((*token, Arc::clone(bytes), result));
            }
        } else if !self.queued.is_empty() {
            for (token, fd, bytes) in &self.queued {
                // Never more queued than the ring holds, so the ring refuses
                // all or none (when broken, see SendRing::submit): the reply
                // is then sent directly, and the indices still match.
                if self.ring.send(fd, bytes) {
                    self.through_ring += 1;
                } else {
                    self.short_sends.push((*token, Arc::clone(bytes), Err(io::ErrorKind::Interrupted.into())));
                }
            }
            let first = self.short_sends.len();
            self.ring.submit(&mut self.short_sends);
            for short in &mut self.short_sends[first..] {
                short.0 = self.queued[short.0].0; // index -> token
            }
        }
        self.queued.clear();
    }
}
