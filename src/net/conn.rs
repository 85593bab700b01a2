//! One client connection: read request heads, queue their replies in order
//! (`send.rs` writes them), and close politely.
//!
//! The read buffer is the worker's, not the connection's: a connection keeps
//! bytes of its own only while a request head is incomplete, and replies of
//! its own (its backlog) only while the socket is full, so an idle keep-alive
//! connection holds no buffers at all. Reading stops while too many replies
//! wait to be written (backpressure), and a connection that must close shuts
//! down its write side and drains what the client still sends (lingering
//! close), so the client sees the whole last response instead of a reset. A
//! client that asked to close, and whose bytes were all read, gets a plain
//! close: with nothing unread there is no reset, and it sends nothing more.
#![forbid(unsafe_code)]

use std::io::{self, Read};
use std::net::{IpAddr, Shutdown};
use std::sync::Arc;

use mio::net::TcpStream;

#[cfg(feature = "tls")]
use crate::answer::canned;
use crate::answer::head::{self, Answered, Persistence, Source};
use crate::answer::memo::Memo;
use crate::answer::reply::{self, Connection, Extras, Head, Reply};
use crate::answer::router::Router;
use crate::answer::whole::Whole;
#[cfg(feature = "tls")]
use crate::http::forwarded;
use crate::http::forwarded::Proxies;
use crate::net::batch::Batch;
use crate::net::clock::Clock;
use crate::net::send;
use crate::net::shared::Stats;
#[cfg(feature = "tls")]
use crate::net::tls;
use crate::ops::log;

/// Replies queued before reading pauses until they are written.
const MAX_QUEUED_REPLIES: usize = 64;
/// How long and how much a closing connection drains (seconds, bytes).
const LINGER_SECS: u32 = 2;
const LINGER_BYTES: u32 = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Reading requests and writing their replies.
    Open,
    /// The last reply is queued. Once it is written the connection closes:
    /// at once if the client said it sends nothing more and nothing of it is
    /// left unread (`linger` false), else by a lingering close.
    Closing { linger: bool },
    /// Write side shut; reading and discarding until EOF or the linger ends.
    /// (u32, not usize: a Conn stays within 128 bytes on 64-bit.)
    Draining { discarded: u32 },
}

/// What the current deadline guards against.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Timer {
    /// Waiting for the first byte of the next request.
    Idle,
    /// A request head (or its body) is arriving: slow clients are cut off.
    Request,
    /// A reply is stuck in a full socket.
    Send,
    Linger,
}

/// Per-worker settings a connection needs.
pub struct Limits {
    pub header_timeout: u32,
    pub idle_timeout: u32,
    /// `--trusted-proxy`: whose heads may name the client.
    pub proxies: Proxies,
}

/// What a connection borrows from its worker while it runs.
pub struct Context<'a> {
    pub router: Router<'a>,
    pub clock: &'a Clock,
    pub limits: &'a Limits,
    /// Replies answered in this turn; they move into the connection only if
    /// the socket cannot take them now.
    pub replies: &'a mut Vec<Reply>,
    pub path: &'a mut Vec<u8>,
    pub stopping: bool,
    /// `--header` lines (and `--cors` lines) a reply points at.
    pub extra_headers: Extras,
    pub stats: &'a mut Stats,
    pub whole: &'a mut Whole,
    /// Heads answered before, and their answers.
    pub memo: &'a mut Memo,
    /// This turn's batched sends, when the kernel offers io_uring.
    pub batch: Option<&'a mut Batch>,
    /// The connection's token, for the batch.
    pub token: usize,
    /// The worker's access lines, when logging is on.
    pub access_log: Option<&'a mut log::Lines>,
    /// The worker's buffers for records in and out of HTTPS connections.
    #[cfg(feature = "tls")]
    pub tls: &'a mut tls::Buffers,
}

pub struct Conn {
    stream: TcpStream,
    /// The peer's address; the client's, unless it is a trusted proxy.
    client: IpAddr,
    /// The listener's port, for the access log's `vhost_combined` lines.
    port: u16,
    /// The peer is a `--trusted-proxy`: each head names the client.
    proxied: bool,
    /// An incomplete request head (empty, unallocated, most of the time).
    partial: Vec<u8>,
    /// Replies the socket could not take yet, in order.
    backlog: Vec<Reply>,
    /// Bytes of the first reply in the backlog already written.
    written: u64,
    /// Request body bytes still to be read and thrown away.
    body_left: u64,
    phase: Phase,
    timer: Timer,
    /// In `Clock::now` seconds.
    pub deadline: u32,
    /// The TLS state of a connection to an HTTPS listener.
    #[cfg(feature = "tls")]
    tls: Option<Box<tls::Session>>,
    /// No byte of this TLS connection has been looked at yet.
    #[cfg(feature = "tls")]
    opening: bool,
    /// `--https-redirect` on a plain listener.
    #[cfg(feature = "tls")]
    redirect: bool,
}

enum Input {
    /// The socket has no more bytes now.
    Drained,
    /// Reading stopped because enough replies are queued.
    Paused,
    Eof,
    Failed,
}

impl Conn {
    pub fn new(
        stream: TcpStream,
        (client, port): (IpAddr, u16),
        proxied: bool,
        clock: &Clock,
        limits: &Limits,
    ) -> Conn {
        Conn {
            stream,
            client,
            port,
            proxied,
            partial: Vec::new(),
            backlog: Vec::new(),
            written: 0,
            body_left: 0,
            phase: Phase::Open,
            timer: Timer::Request,
            deadline: clock.now().saturating_add(limits.header_timeout + 1),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            opening: false,
            #[cfg(feature = "tls")]
            redirect: false,
        }
    }

    /// This connection speaks TLS; `--header-timeout` covers the handshake.
    #[cfg(feature = "tls")]
    pub fn set_tls(&mut self, session: Box<tls::Session>) {
        self.tls = Some(session);
        self.opening = true;
    }

    /// Requests on this plain connection are sent to HTTPS.
    #[cfg(feature = "tls")]
    pub fn set_redirect(&mut self) {
        self.redirect = true;
    }

    /// Whether this plain connection's requests are sent to HTTPS.
    #[cfg(feature = "tls")]
    pub fn redirects(&self) -> bool {
        self.redirect
    }

    /// The names this TLS connection's certificate covers, when the client
    /// sent SNI: with `--vhost`, hosts beyond them are answered 421.
    #[cfg(feature = "tls")]
    pub fn certificate(&self) -> Option<tls::Names> {
        self.tls.as_ref().and_then(|tls| tls.certificate())
    }

    /// A TLS handshake is under way (the worker caps how many).
    #[cfg(feature = "tls")]
    pub fn handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(|tls| tls.is_handshaking())
    }

    #[cfg(not(feature = "tls"))]
    fn handshaking(&self) -> bool {
        false
    }

    /// Reads what the client sent: from the socket, or decrypted by TLS.
    /// Also says whether the socket is known to be empty now: a plain read
    /// shorter than asked emptied it.
    #[inline(always)]
    fn read(&mut self, buf: &mut [u8], cx: &mut Context) -> io::Result<(usize, bool)> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            return tls::read(tls, &self.stream, buf, cx.tls);
        }
        #[cfg(not(feature = "tls"))]
        let _ = cx;
        self.stream.read(buf).map(|n| (n, n < buf.len()))
    }

    /// Nothing in flight: closing it loses nothing.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Open && self.partial.is_empty() && self.backlog.is_empty() && self.body_left == 0
    }

    /// Runs the connection as far as the socket allows. `readable` is false
    /// for a write-only wake-up; `must_drain` says the peer closed its side,
    /// so reads go on until EOF even after a short read. Returns false when
    /// the connection is finished.
    pub fn drive(&mut self, cx: &mut Context, scratch: &mut [u8], readable: bool, must_drain: bool) -> bool {
        // A write-only wake-up reads only if replies were waiting: reading
        // may have paused behind them while requests kept arriving.
        let mut read_now = readable || must_drain || !self.backlog.is_empty();
        loop {
            let input = if self.phase == Phase::Open && read_now {
                self.read_and_answer(cx, scratch, must_drain)
            } else {
                Input::Drained
            };
            read_now = true;
            let before = self.written;
            match self.flush(cx) {
                Err(_) => return false,
                Ok(false) => {
                    if self.timer != Timer::Send || self.written != before {
                        self.set_timer(Timer::Send, cx);
                    }
                    return true;
                }
                Ok(true) => {}
            }
            match input {
                Input::Paused => continue,
                Input::Failed => return false,
                // The peer sent everything it will and has all our replies:
                // nothing is left unread, so a plain close loses nothing.
                Input::Eof => return false,
                Input::Drained => {}
            }
            if let Phase::Closing { linger } = self.phase {
                #[cfg(feature = "tls")]
                if let Some(tls) = &mut self.tls {
                    tls::close_notify(tls, &self.stream, cx.tls);
                }
                // Nothing unread can turn the close into a reset that loses
                // the reply, and the client sends nothing more.
                if !linger {
                    return false;
                }
                // RFC 9112 §9.6: close the write side first, then drain.
                if self.stream.shutdown(Shutdown::Write).is_err() {
                    return false;
                }
                self.phase = Phase::Draining { discarded: 0 };
                self.set_timer(Timer::Linger, cx);
            }
            if let Phase::Draining { .. } = self.phase {
                return self.drain(scratch);
            }
            if cx.stopping && self.is_idle() {
                return false;
            }
            let waiting = self.partial.is_empty() && self.body_left == 0 && !self.handshaking();
            let timer = if waiting { Timer::Idle } else { Timer::Request };
            if timer != self.timer || timer == Timer::Idle {
                self.set_timer(timer, cx);
            }
            return true;
        }
    }

    /// Takes back a batched response the socket did not take whole, as if
    /// its own send had ended with `result`; false when the connection is done.
    pub fn resume(
        &mut self,
        cx: &mut Context,
        scratch: &mut [u8],
        whole: Arc<Vec<u8>>,
        result: io::Result<usize>,
    ) -> bool {
        self.backlog.push(Reply::of_whole(whole));
        match result {
            Ok(0) => false,
            Ok(n) => {
                self.written = n as u64;
                self.drive(cx, scratch, false, false)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.set_timer(Timer::Send, cx);
                true
            }
            // Not submitted: send it now.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.drive(cx, scratch, false, false),
            Err(_) => false,
        }
    }

    fn set_timer(&mut self, timer: Timer, cx: &Context) {
        let secs = match timer {
            Timer::Request => cx.limits.header_timeout,
            Timer::Idle | Timer::Send => cx.limits.idle_timeout,
            Timer::Linger => LINGER_SECS,
        };
        self.timer = timer;
        // `now` is whole seconds; one more makes the timeout a true minimum.
        self.deadline = cx.clock.now().saturating_add(secs + 1);
    }

    /// Reads until the socket is drained, answering every complete request.
    fn read_and_answer(&mut self, cx: &mut Context, scratch: &mut [u8], must_drain: bool) -> Input {
        #[cfg(feature = "tls")]
        if self.opening {
            match tls::sent_plain_http(&self.stream) {
                Ok(Some(true)) => return self.refuse_plain_http(cx),
                Ok(Some(false)) => self.opening = false,
                // At the end of the stream the read below sees it.
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Input::Drained,
                Err(_) => return Input::Failed,
            }
        }
        let mut filled = self.partial.len();
        // Most turns start with nothing kept: no copy, not even an empty one.
        if filled > 0 {
            scratch[..filled].copy_from_slice(&self.partial);
        }
        let mut short_read = false;
        let input = loop {
            let used = self.answer(&scratch[..filled], cx, short_read && !must_drain);
            if used > 0 && used < filled {
                scratch.copy_within(used..filled, 0);
            }
            filled -= used;
            if self.phase != Phase::Open {
                // Bytes after the last request, or a socket not known to be
                // empty, may be followed by more: those need the linger.
                if filled > 0 || !short_read {
                    if let Phase::Closing { linger } = &mut self.phase {
                        *linger = true;
                    }
                }
                filled = 0;
                break Input::Drained;
            }
            if self.backlog.len() + cx.replies.len() >= MAX_QUEUED_REPLIES {
                break Input::Paused;
            }
            // Edge-triggered readiness: a short read means the socket was
            // emptied, and new bytes will raise a new edge.
            if short_read && !must_drain {
                break Input::Drained;
            }
            // `answer` leaves less than MAX_HEAD unparsed, so there is room.
            match self.read(&mut scratch[filled..], cx) {
                Ok((0, _)) => break Input::Eof,
                Ok((n, emptied)) => {
                    filled += n;
                    short_read = emptied;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Input::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break Input::Failed,
            }
        };
        if filled == 0 {
            self.partial = Vec::new();
        } else {
            self.partial.clear();
            self.partial.extend_from_slice(&scratch[..filled]);
        }
        input
    }

    /// Answers every complete request at the front of `input`; returns how
    /// many bytes were consumed. `last`: no more input is read this turn.
    fn answer(&mut self, input: &[u8], cx: &mut Context, last: bool) -> usize {
        let mut used = 0;
        loop {
            used += self.skip_body(input.len() - used);
            let full = self.backlog.len() + cx.replies.len() >= MAX_QUEUED_REPLIES;
            if self.body_left > 0 || self.phase != Phase::Open || full || used == input.len() {
                return used;
            }
            let unparsed = &input[used..];
            // The memo is shared by every connection of the worker: a
            // redirecting one, or one whose certificate decides which hosts
            // it may ask for, must not recall another's answers. Behind a
            // TLS-terminating proxy, a request it says came over https is
            // answered, not redirected there again; such a head is answered
            // the same on every connection that does not redirect, so the
            // memo may hold it.
            #[cfg(feature = "tls")]
            let sent_on = self.redirect && !(self.proxied && forwarded::forwarded_https(unparsed));
            #[cfg(feature = "tls")]
            let slot = if sent_on || cx.router.certificate.is_some() { None } else { cx.memo.find(unparsed) };
            #[cfg(not(feature = "tls"))]
            let slot = cx.memo.find(unparsed);
            if let Some(head_len) = slot.and_then(|at| self.queue_whole(cx, at, unparsed.len(), last)) {
                used += head_len;
                continue;
            }
            #[cfg(feature = "tls")]
            let router = &Router { https_port: cx.router.https_port.filter(|_| sent_on), ..cx.router };
            #[cfg(not(feature = "tls"))]
            let router = &cx.router;
            let Some(answered) = head::answer(unparsed, slot, cx.memo, router, cx.path) else {
                return used; // the head is not complete yet
            };
            used += answered.head_len;
            self.body_left = answered.body_len;
            self.queue_reply(&unparsed[..answered.head_len], answered, slot, cx);
        }
    }

    /// Plain HTTP on an HTTPS port: answered `400` in plain text, as nginx
    /// does, then a lingering close, since the request is still unread. A
    /// TLS alert would read as garbage to such a client.
    #[cfg(feature = "tls")]
    fn refuse_plain_http(&mut self, cx: &mut Context) -> Input {
        self.tls = None;
        self.opening = false;
        let persistence = Persistence { keep_alive: false, quiet: false, http10: false };
        let answer = canned::PLAIN_HTTP_TO_HTTPS.answer(false);
        let answered = Answered { answer, head_len: 0, body_len: 0, persistence, source: Source::Rejected };
        self.queue_reply(&[], answered, None, cx);
        Input::Drained
    }

    /// Throws away what is left of a request body from the `available`
    /// bytes at the front of the input; returns how many bytes that was.
    fn skip_body(&mut self, available: usize) -> usize {
        let skip = self.body_left.min(available as u64);
        self.body_left -= skip;
        skip as usize
    }

    /// Queues the whole response the memo keeps for the head in `slot` (in
    /// the turn's batch, or as a reply), when it carries this second's Date
    /// and nothing waits before it; returns the head's length. `input_len`:
    /// bytes from the head on.
    fn queue_whole(&mut self, cx: &mut Context, slot: usize, input_len: usize, last: bool) -> Option<usize> {
        // Only the first answer of the turn, with nothing waiting before it,
        // is a whole response: one a full socket holds back stays the
        // connection's only copy of it (`ops/budget.rs` charges one), and the
        // rest of a burst is made of shared parts.
        if !self.backlog.is_empty() || !cx.replies.is_empty() || cx.stopping {
            return None;
        }
        let (whole, head_len) = cx.memo.whole(slot, cx.clock.unix())?;
        count_response(cx.stats, reply::status_of(whole), whole.len() as u64);
        cx.stats.whole_responses += 1;
        if let Some(lines) = cx.access_log.as_deref_mut() {
            self.log_recalled(lines, cx.memo, slot, cx.clock.unix(), &cx.limits.proxies);
        }
        // The turn's last request (a short read left nothing unread;
        // `must_drain` reads on) can wait for the batch. Until the worker
        // submits it, before anything else can touch this connection, the
        // connection looks idle.
        let lone = last && head_len == input_len;
        match cx.batch.as_deref_mut() {
            Some(batch) if lone => batch.queue(cx.token, &self.stream, whole),
            _ => cx.replies.push(Reply::of_whole(Arc::clone(whole))),
        }
        Some(head_len)
    }

    /// Frames `answered` for this connection, counts and logs it, lets the
    /// memo keep what it may, and queues the reply. `head`: the head's bytes.
    // Kept out of line, as is `head::answer`: a parsed head costs far more than
    // the call anyway, and the loop a recalled head takes stays small.
    #[inline(never)]
    fn queue_reply(&mut self, head: &[u8], answered: Answered, slot: Option<usize>, cx: &mut Context) {
        let Answered { answer, persistence, source, .. } = answered;
        let logged = !matches!(answer.head, Head::Unlogged(_));
        let connection = self.connection(answer.closes, persistence, cx.stopping);
        let reply = Reply::new(answer, cx.extra_headers, cx.clock.tail(connection));
        // Once the worker holds this reply whole, so does the head's slot.
        if let Some(at) = slot.filter(|_| connection == Connection::Persist) {
            if let Some(bytes) = cx.whole.held(&reply) {
                cx.memo.keep_whole(at, cx.clock.unix(), bytes);
            }
        }
        count_response(cx.stats, reply.status(), reply.total_len());
        let lines = cx.access_log.as_deref_mut().filter(|_| logged);
        let unix = cx.clock.unix();
        if let Source::Recalled(at) = source {
            if let Some(lines) = lines {
                self.log_recalled(lines, cx.memo, at, unix, &cx.limits.proxies);
            }
        } else {
            let client = self.client(head, &cx.limits.proxies);
            let request = source.request();
            let entry = log::Entry {
                host: request.and_then(|r| crate::http::target::effective_host(r.target, r.host)),
                request_line: request.map(|r| (r.method_token, r.target, r.http10)),
                status: reply.status(),
                body_bytes: reply.body_len(),
                referer: request.and_then(|r| r.referer),
                user_agent: request.and_then(|r| r.user_agent),
            };
            let part = lines.map_or(&[][..], |lines| lines.push_entry(client, self.port, unix, &entry));
            if let Source::Parsed { remember: Some(answer), .. } = source {
                cx.memo.remember(head, answer, persistence.keep_alive, persistence.http10, part);
            }
        }
        cx.replies.push(reply);
    }

    /// The client that sent `head` (exactly its bytes): the peer, unless the
    /// peer is a trusted proxy and the head names another. A rejected head
    /// (empty here) is not believed.
    #[inline(always)]
    fn client(&self, head: &[u8], proxies: &Proxies) -> IpAddr {
        if self.proxied {
            return self.forwarded_client(head, proxies);
        }
        self.client
    }

    /// Kept out of line, so that a direct peer's line carries none of it.
    #[inline(never)]
    fn forwarded_client(&self, head: &[u8], proxies: &Proxies) -> IpAddr {
        proxies.client(head).unwrap_or(self.client)
    }

    /// The access line of the head in memo `slot`: its kept part, after the
    /// client, which behind a trusted proxy the memo reads from the head once.
    /// Out of line, so that serving a recalled head without a log carries none
    /// of it.
    #[inline(never)]
    fn log_recalled(&self, lines: &mut log::Lines, memo: &Memo, slot: usize, unix: u64, proxies: &Proxies) {
        let client = match self.proxied {
            true => memo.forwarded_client(slot, proxies).unwrap_or(self.client),
            false => self.client,
        };
        lines.push_recalled(client, self.port, unix, memo.log_part(slot));
    }

    /// The Connection header a reply carries; one after which the
    /// connection closes moves it to `Closing`.
    fn connection(&mut self, closes: bool, persistence: Persistence, stopping: bool) -> Connection {
        if closes || !persistence.keep_alive || stopping {
            self.phase = Phase::Closing { linger: !persistence.quiet };
            Connection::Close
        } else if persistence.http10 {
            Connection::KeepAlive
        } else {
            Connection::Persist
        }
    }

    /// Writes queued replies; Ok(true) when all are written.
    fn flush(&mut self, cx: &mut Context) -> io::Result<bool> {
        let (replies, whole) = (&mut *cx.replies, &mut *cx.whole);
        if !self.backlog.is_empty() {
            self.backlog.append(replies);
        }
        let queue = if self.backlog.is_empty() { &mut *replies } else { &mut self.backlog };
        #[cfg(feature = "tls")]
        let result = match &mut self.tls {
            Some(tls) => tls::write_queue(tls, &self.stream, queue, &mut self.written, cx.tls),
            None => send::write_queue(&self.stream, queue, &mut self.written, whole),
        };
        #[cfg(not(feature = "tls"))]
        let result = send::write_queue(&self.stream, queue, &mut self.written, whole);
        if !replies.is_empty() {
            self.backlog.append(replies);
        }
        if self.backlog.is_empty() && self.backlog.capacity() > 0 {
            self.backlog = Vec::new();
        }
        result
    }

    /// Reads and discards until EOF; false when the connection is done.
    fn drain(&mut self, scratch: &mut [u8]) -> bool {
        loop {
            match self.stream.read(scratch) {
                Ok(0) => return false,
                Ok(n) => {
                    let Phase::Draining { discarded } = &mut self.phase else {
                        return false;
                    };
                    *discarded = discarded.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
                    if *discarded > LINGER_BYTES {
                        return false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }
}

/// Counts a response by its status (three digits) and length.
fn count_response(stats: &mut Stats, status: &[u8], bytes: u64) {
    stats.requests[usize::from(status[0].saturating_sub(b'1')).min(4)] += 1;
    stats.bytes_out += bytes;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection is its slab slot and nothing else; keep it small
    /// (the per-connection memory target is 256 bytes).
    #[test]
    fn idle_connection_is_small() {
        let size = std::mem::size_of::<Conn>();
        assert!(size <= 128, "Conn is {size} bytes");
    }
}
