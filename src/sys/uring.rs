//! The io_uring ring that sends a turn's replies in one system call
//! (`net/batch.rs` decides what goes in it).
//!
//! It does sends and nothing else, each with MSG_DONTWAIT, so every send is
//! complete when `submit` returns: no buffer, socket or descriptor has to be
//! kept alive between turns. The ring is mapped and driven by hand from
//! linux/io_uring.h, with only the fields a send and a cancel use.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Sends from many connections handed to the kernel in one system call, through an
/// io_uring used for nothing else. A keep-alive server answering one request at a time
/// makes a read and a write per request; with the writes of one event-loop turn batched
/// here, that is a read per request and one `io_uring_enter` per turn.
///
/// Every send carries MSG_DONTWAIT, so the kernel tries it at once, inside
/// `io_uring_enter`, and a full socket completes with EAGAIN instead of waiting: each
/// `submit` ends with every send it submitted complete, and nothing is in flight
/// between turns. The ring holds each buffer's `Arc` until then, so the memory a send
/// reads cannot change or go away under it. Needs Linux 5.18 (IORING_SETUP_SUBMIT_ALL);
/// older kernels, qemu-user and seccomp filters that refuse io_uring get an error from
/// `new`, and the caller sends directly.
pub struct SendRing {
    fd: OwnedFd,
    /// Kept mapped while the pointers below point into it.
    _rings: Mapping,
    sqes: Mapping,
    sq_head: *const AtomicU32,
    sq_tail: *const AtomicU32,
    sq_mask: u32,
    sq_array: *mut u32,
    cq_head: *const AtomicU32,
    cq_tail: *const AtomicU32,
    cq_mask: u32,
    cqes: *const RingCqe,
    entries: u32,
    /// The buffer of each queued send, in order, until it completes; a send's
    /// user_data is its index.
    held: Vec<Option<Arc<Vec<u8>>>>,
    /// Flags of every send; only tests leave out MSG_DONTWAIT.
    send_flags: u32,
    /// Set when a parked send could not be cancelled: `send` refuses from then on.
    broken: bool,
}

/// A queued send that did not send all its bytes: its index in queueing order,
/// its buffer, and how it ended.
pub type ShortSend = (usize, Arc<Vec<u8>>, io::Result<usize>);

// SAFETY: the mappings and descriptor belong to this ring alone and are only touched
// through `&mut self`; moving the ring to another thread moves all of it.
unsafe impl Send for SendRing {}

const IORING_SETUP_SUBMIT_ALL: u32 = 1 << 7;
const IORING_FEAT_SINGLE_MMAP: u32 = 1;
const IORING_OFF_SQ_RING: libc::off_t = 0;
const IORING_OFF_SQES: libc::off_t = 0x1000_0000;
const IORING_ENTER_GETEVENTS: u32 = 1;
const IORING_OP_ASYNC_CANCEL: u8 = 14;
const IORING_OP_SEND: u8 = 26;
/// user_data of the cancel requests `submit` may need (never a send's index).
const CANCEL: u64 = 1 << 63;
/// How often a refused cancel submission is tried again, a millisecond apart.
const CANCEL_TRIES: u32 = 100;

/// `struct io_uring_params` and its two offset tables (linux/io_uring.h).
#[repr(C)]
#[derive(Default)]
struct RingParams {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
    resv: [u32; 3],
    sq_off: QueueOffsets,
    cq_off: QueueOffsets,
}

/// `struct io_sqring_offsets` / `struct io_cqring_offsets`: where each field of a
/// queue lies in the mapping. The two differ only in the fields mote does not use
/// (the submission queue's flags/dropped/array are its 5th to 7th, the completion
/// queue's overflow/cqes/flags); `entries` is the submission array or the
/// completion entries.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct QueueOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    fifth: u32,
    sixth: u32,
    seventh: u32,
    resv1: u32,
    user_addr: u64,
}

impl QueueOffsets {
    /// The submission queue's index array.
    fn sq_array(&self) -> u32 {
        self.seventh
    }

    /// The completion queue's entries.
    fn cqes(&self) -> u32 {
        self.sixth
    }
}

/// `struct io_uring_sqe`, with only the fields a send or a cancel uses named.
#[repr(C)]
struct RingSqe {
    opcode: u8,
    flags: u8,
    ioprio: u16,
    fd: i32,
    off: u64,
    addr: u64,
    len: u32,
    msg_flags: u32,
    user_data: u64,
    rest: [u64; 3],
}

const _: () =
    assert!(mem::size_of::<RingSqe>() == 64 && mem::size_of::<RingCqe>() == 16 && mem::size_of::<RingParams>() == 120);

#[repr(C)]
struct RingCqe {
    user_data: u64,
    res: i32,
    flags: u32,
}

/// A shared mapping of the ring's memory, unmapped on drop.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    fn new(fd: &OwnedFd, len: usize, offset: libc::off_t) -> io::Result<Mapping> {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: a fresh shared mapping of the ring descriptor; the kernel checks
        // `len` and `offset` against the ring it made.
        let ptr = unsafe {
            libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED | libc::MAP_POPULATE, fd.as_raw_fd(), offset)
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping { ptr, len })
    }

    /// A pointer `offset` bytes in, where the kernel said a field is.
    fn at<T>(&self, offset: u32) -> *mut T {
        debug_assert!(offset as usize + mem::size_of::<T>() <= self.len);
        // SAFETY: the kernel's offsets lie inside the mapping it sized.
        unsafe { self.ptr.cast::<u8>().add(offset as usize).cast() }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

impl SendRing {
    /// A ring for up to `entries` sends per `submit` (a power of two).
    pub fn new(entries: u32) -> io::Result<SendRing> {
        let mut params = RingParams { flags: IORING_SETUP_SUBMIT_ALL, ..RingParams::default() };
        // SAFETY: params is a live io_uring_params the kernel fills in.
        let fd =
            unsafe { libc::syscall(libc::SYS_io_uring_setup, entries as libc::c_long, &mut params as *mut RingParams) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        if params.features & IORING_FEAT_SINGLE_MMAP == 0 {
            return Err(io::ErrorKind::Unsupported.into());
        }
        let (sq, cq) = (params.sq_off, params.cq_off);
        let sq_len = sq.sq_array() as usize + params.sq_entries as usize * mem::size_of::<u32>();
        let cq_len = cq.cqes() as usize + params.cq_entries as usize * mem::size_of::<RingCqe>();
        let rings = Mapping::new(&fd, sq_len.max(cq_len), IORING_OFF_SQ_RING)?;
        let sqes = Mapping::new(&fd, params.sq_entries as usize * mem::size_of::<RingSqe>(), IORING_OFF_SQES)?;
        // SAFETY: the masks are plain u32s inside the mapping, written by the kernel
        // before io_uring_setup returned.
        let (sq_mask, cq_mask) = unsafe { (*rings.at::<u32>(sq.ring_mask), *rings.at::<u32>(cq.ring_mask)) };
        Ok(SendRing {
            sq_head: rings.at(sq.head),
            sq_tail: rings.at(sq.tail),
            sq_mask,
            sq_array: rings.at(sq.sq_array()),
            cq_head: rings.at(cq.head),
            cq_tail: rings.at(cq.tail),
            cq_mask,
            cqes: rings.at(cq.cqes()),
            entries: params.sq_entries,
            held: Vec::with_capacity(params.sq_entries as usize),
            send_flags: (libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) as u32,
            broken: false,
            fd,
            _rings: rings,
            sqes,
        })
    }

    /// Queues a send of all of `bytes` on `socket` for the next `submit`; false
    /// when the ring is full (the caller sends directly).
    pub fn send(&mut self, socket: &impl AsRawFd, bytes: &Arc<Vec<u8>>) -> bool {
        let index = self.held.len() as u64;
        if index == u64::from(self.entries) || self.broken {
            return false;
        }
        self.push(RingSqe {
            opcode: IORING_OP_SEND,
            fd: socket.as_raw_fd(),
            addr: bytes.as_ptr() as usize as u64,
            len: bytes.len() as u32,
            msg_flags: self.send_flags,
            user_data: index,
            ..blank()
        });
        self.held.push(Some(Arc::clone(bytes)));
        true
    }

    /// Writes one entry at the tail; the kernel reads it at the next
    /// io_uring_enter. Between turns the queue is empty (head == tail).
    fn push(&mut self, sqe: RingSqe) {
        // SAFETY: only this ring writes the tail; the kernel only reads it.
        let tail = unsafe { (*self.sq_tail).load(Ordering::Relaxed) };
        let slot = tail & self.sq_mask;
        // SAFETY: slot < sq_entries, inside both mappings; the kernel does not read
        // entries past the published tail.
        unsafe {
            self.sqes.at::<RingSqe>(0).add(slot as usize).write(sqe);
            self.sq_array.add(slot as usize).write(slot);
            (*self.sq_tail).store(tail.wrapping_add(1), Ordering::Release);
        }
    }

    /// Submits every queued send. The ones that did not send all their bytes
    /// land in `short_sends` with their index (in queueing order), buffer and
    /// result: the bytes sent, WouldBlock for a full socket, Interrupted for a
    /// send the kernel did not take (the caller sends it directly), or the error.
    pub fn submit(&mut self, short_sends: &mut Vec<ShortSend>) {
        let queued = self.held.len();
        if queued == 0 {
            return;
        }
        let submitted = loop {
            match self.enter(queued as u32, 0) {
                Ok(n) => break n.min(queued),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break 0,
            }
        };
        if submitted < queued {
            // Take back what the kernel left in the queue.
            // SAFETY: the kernel reads the queue only inside io_uring_enter.
            unsafe {
                let head = (*self.sq_head).load(Ordering::Acquire);
                (*self.sq_tail).store(head, Ordering::Release);
            }
            for index in submitted..queued {
                if let Some(bytes) = self.held[index].take() {
                    short_sends.push((index, bytes, Err(io::ErrorKind::Interrupted.into())));
                }
            }
        }
        self.reap(short_sends);
        if self.held.iter().any(Option::is_some) {
            // A send the kernel parked instead of failing it with EAGAIN (one that
            // ignores MSG_DONTWAIT): cancel it and wait, so nothing outlives the turn.
            let mut cancels = 0;
            for index in 0..queued {
                if self.held[index].is_some() {
                    self.push(RingSqe { addr: index as u64, ..blank() });
                    cancels += 1;
                }
            }
            for _ in 0..CANCEL_TRIES {
                match self.enter(cancels, 0) {
                    Ok(n) => cancels -= n.min(cancels as usize) as u32,
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
                }
                if cancels == 0 {
                    break;
                }
            }
            self.reap(short_sends);
            while cancels == 0 && self.held.iter().any(Option::is_some) {
                let _ = self.enter(0, 1);
                self.reap(short_sends);
            }
            if self.held.iter().any(Option::is_some) {
                // The kernel took no cancel: the sends may still read their
                // buffers, so they are never freed, and the ring is not used again.
                for bytes in self.held.drain(..).flatten() {
                    mem::forget(bytes);
                }
                self.broken = true;
            }
        }
        self.held.clear();
    }

    /// io_uring_enter: submits `count` queued entries and, with `wait`, waits
    /// until that many completions are posted. Returns how many were submitted.
    fn enter(&self, count: u32, wait: u32) -> io::Result<usize> {
        let flags = if wait > 0 { IORING_ENTER_GETEVENTS } else { 0 };
        let (fd, count, wait, flags) = (self.fd.as_raw_fd(), count as libc::c_long, wait as libc::c_long, flags);
        // SAFETY: plain call on the ring descriptor, without a signal mask. Every
        // argument is passed at the width of a register (a variadic call).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                fd as libc::c_long,
                count,
                wait,
                flags as libc::c_long,
                std::ptr::null::<libc::sigset_t>(),
                0 as libc::size_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(rc as usize)
    }

    /// Takes the completions the kernel has posted; sends that fell short go
    /// to `short_sends`.
    fn reap(&mut self, short_sends: &mut Vec<ShortSend>) {
        // SAFETY: the kernel writes the entries before the tail (Acquire pairs with
        // its release); only this ring moves the head.
        unsafe {
            let mut head = (*self.cq_head).load(Ordering::Relaxed);
            let tail = (*self.cq_tail).load(Ordering::Acquire);
            while head != tail {
                let cqe = &*self.cqes.add((head & self.cq_mask) as usize);
                // Compared before any narrowing: on 32 bits CANCEL as usize is 0.
                let index = if cqe.user_data < self.held.len() as u64 { cqe.user_data as usize } else { usize::MAX };
                if let Some(bytes) = self.held.get_mut(index).and_then(Option::take) {
                    let result = match cqe.res {
                        n if n >= 0 => Ok(n as usize),
                        // A cancelled send sent nothing: the socket was full.
                        e if e == -libc::ECANCELED => Err(io::ErrorKind::WouldBlock.into()),
                        e => Err(io::Error::from_raw_os_error(-e)),
                    };
                    if !matches!(result, Ok(n) if n == bytes.len()) {
                        short_sends.push((index, bytes, result));
                    }
                }
                head = head.wrapping_add(1);
            }
            (*self.cq_head).store(head, Ordering::Release);
        }
    }
}

/// An entry with only its opcode and user_data set: a cancel of nothing, and the
/// fields every other entry leaves at zero.
fn blank() -> RingSqe {
    RingSqe {
        opcode: IORING_OP_ASYNC_CANCEL,
        flags: 0,
        ioprio: 0,
        fd: -1,
        off: 0,
        addr: 0,
        len: 0,
        msg_flags: 0,
        user_data: CANCEL,
        rest: [0; 3],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    /// A ring, or None (with a note) where the kernel offers no io_uring.
    fn ring() -> Option<SendRing> {
        match SendRing::new(8) {
            Ok(ring) => Some(ring),
            Err(e) => {
                eprintln!("NOTE: io_uring unavailable here ({e}): ring tests skipped");
                None
            }
        }
    }

    fn submit(ring: &mut SendRing) -> Vec<(usize, usize, io::ErrorKind)> {
        let mut short_sends = Vec::new();
        ring.submit(&mut short_sends);
        short_sends
            .into_iter()
            .map(|(i, b, r)| (i, b.len(), r.map_or_else(|e| e.kind(), |_| io::ErrorKind::Other)))
            .collect()
    }

    #[test]
    fn sends_arrive_in_order_and_only_shortfalls_are_reported() {
        let Some(mut ring) = ring() else { return };
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let (one, two) = (Arc::new(b"one ".to_vec()), Arc::new(b"two".to_vec()));
        assert!(ring.send(&a, &one) && ring.send(&a, &two));
        assert!(submit(&mut ring).is_empty());
        assert_eq!(Arc::strong_count(&one), 1, "the ring let go of the buffer");
        let mut got = [0u8; 7];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"one two");
    }

    #[test]
    fn a_full_ring_refuses_more() {
        let Some(mut ring) = ring() else { return };
        let (a, _b) = UnixStream::pair().unwrap();
        let bytes = Arc::new(vec![b'x'; 10]);
        let taken = (0..20).take_while(|_| ring.send(&a, &bytes)).count();
        assert_eq!(taken as u32, ring.entries);
        assert!(submit(&mut ring).is_empty());
        assert!(ring.send(&a, &bytes), "room again after submit");
        submit(&mut ring);
    }

    /// Sends `big` on `a`, one submit each, until a send reports WouldBlock
    /// (at most 64 times); returns every shortfall reported on the way.
    fn fill(ring: &mut SendRing, a: &UnixStream, big: &Arc<Vec<u8>>) -> Vec<(usize, usize, io::ErrorKind)> {
        let mut reports = Vec::new();
        for _ in 0..64 {
            assert!(ring.send(a, big));
            reports.extend(submit(ring));
            if reports.iter().any(|r| r.2 == io::ErrorKind::WouldBlock) {
                break;
            }
        }
        reports
    }

    /// A full socket: the send that does not fit reports how much went, the
    /// next one WouldBlock, at once.
    #[test]
    fn a_full_socket_reports_a_short_send_then_would_block() {
        let Some(mut ring) = ring() else { return };
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let reports = fill(&mut ring, &a, &Arc::new(vec![b'x'; 64 * 1024]));
        let short = reports.iter().position(|r| r.2 == io::ErrorKind::Other); // sent, not whole
        let blocked = reports.iter().position(|r| r.2 == io::ErrorKind::WouldBlock);
        assert!(short.is_some() && short < blocked, "a short send, then WouldBlock: {reports:?}");
    }

    /// Without MSG_DONTWAIT the kernel parks a send on a full socket instead
    /// of failing it; `submit` must still return, with the send cancelled.
    #[test]
    fn a_parked_send_is_cancelled_not_waited_for() {
        let Some(mut ring) = ring() else { return };
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let big = Arc::new(vec![b'x'; 64 * 1024]);
        assert!(fill(&mut ring, &a, &big).iter().any(|r| r.2 == io::ErrorKind::WouldBlock), "the socket never filled");
        ring.send_flags = libc::MSG_NOSIGNAL as u32;
        assert!(ring.send(&a, &big));
        let reports = submit(&mut ring);
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert_eq!(reports[0].2, io::ErrorKind::WouldBlock);
        assert_eq!(Arc::strong_count(&big), 1);
    }
}
