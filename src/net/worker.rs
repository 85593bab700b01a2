//! One event loop per thread: its own `mio::Poll`, listeners, connections in
//! a slab, and a once-a-second sweep for deadlines.
//!
//! The loop is the whole scheduler: wait, read the clock, run every ready
//! connection as far as its socket allows, submit the turn's batch, sweep.
//! Tokens carry a generation beside the slab index, so an event for a
//! connection that closed earlier in the same turn can never reach the
//! connection that reused its slot.
#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::answer::canned;
use crate::answer::memo::Memo;
use crate::answer::reply::{BodyRef, Connection, Extras, Reply};
use crate::answer::router::{Counters, Router};
use crate::answer::whole::Whole;
use crate::catalog::sites::Sites;
use crate::catalog::Catalog;
use crate::net::batch::Batch;
use crate::net::clock::Clock;
use crate::net::conn::{Conn, Context, Limits};
use crate::net::shared::{Shared, Stats};
use crate::ops::log;
use crate::ops::{metrics, status};
use crate::sys::{self, ShortSend};

/// The worker's read buffer: a few request heads' worth.
const READ_BUFFER: usize = 32 * 1024;
/// How long accepting pauses when the process is out of descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Low bits of a token are the slab index, the rest a generation; the top
/// bit is left clear so special tokens can never collide.
const INDEX_BITS: u32 = 22;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
const GENERATION_MASK: usize = (1 << (usize::BITS - INDEX_BITS - 1)) - 1;
const WAKER: Token = Token(usize::MAX);
const TIMER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
const LISTENER_BASE: usize = usize::MAX - 2 - crate::ops::config::MAX_LISTEN;
/// TLS handshakes a worker runs at once, so a flood of hellos cannot take a
/// small CPU from the clients it is already serving. A connection beyond
/// closes the oldest one still in its handshake, as a full accept queue
/// sheds: silent or slow sockets cannot hold every place until the header
/// timeout, and a client that goes on with its handshake is rarely the
/// oldest.
#[cfg(feature = "tls")]
const MAX_HANDSHAKES: usize = 64;

struct Slot {
    generation: usize,
    conn: Option<Conn>,
}

pub struct Worker {
    id: usize,
    poll: Poll,
    listeners: Vec<TcpListener>,
    /// Each listener's port, for the access log.
    ports: Vec<u16>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    open: usize,
    shared: Arc<Shared>,
    catalog: Arc<Sites>,
    catalog_version: usize,
    clock: Clock,
    /// Set while the worker must wake each second; fires when the clock
    /// must be read again (`Clock::until_next_tick`).
    timer: sys::TimerFd,
    /// The clock is read when the timer fires, not on every turn.
    timer_armed: bool,
    /// A lone worker takes the process's signals itself; its own waker is
    /// for the reload to tell it the new catalog is in.
    signals: Option<(sys::SignalFd, Arc<Waker>)>,
    limits: Limits,
    scratch: Box<[u8]>,
    replies: Vec<Reply>,
    path: Vec<u8>,
    accept_paused_until: Option<Instant>,
    stop_deadline: Option<u32>,
    last_sweep: u32,
    stats: Stats,
    whole: Whole,
    memo: Memo,
    /// The turn's batched sends; None without io_uring (or with --io-uring off).
    batch: Option<Batch>,
    short_sends: Vec<ShortSend>,
    /// Access lines not yet written (only allocated when logging is on).
    access_lines: Option<log::Lines>,
    /// Listeners from this index on are HTTPS (`--listen-tls`).
    #[cfg(feature = "tls")]
    tls_from: usize,
    /// Slab indexes of this worker's connections in a TLS handshake, oldest
    /// first; at most MAX_HANDSHAKES.
    #[cfg(feature = "tls")]
    handshakes: Vec<usize>,
    /// Records in and out of this worker's HTTPS connections.
    #[cfg(feature = "tls")]
    tls_buffers: crate::net::tls::Buffers,
}

impl Worker {
    /// Builds a worker around its listeners; returns it and its waker.
    pub fn new(
        id: usize,
        listeners: Vec<std::net::TcpListener>,
        shared: Arc<Shared>,
    ) -> io::Result<(Worker, Arc<Waker>)> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let timer = sys::TimerFd::new()?;
        poll.registry().register(&mut SourceFd(&timer.as_raw_fd()), TIMER, Interest::READABLE)?;
        let mut mio_listeners = Vec::new();
        for (i, listener) in listeners.into_iter().enumerate() {
            let mut listener = TcpListener::from_std(listener);
            poll.registry().register(&mut listener, Token(LISTENER_BASE + i), Interest::READABLE)?;
            mio_listeners.push(listener);
        }
        let (catalog, catalog_version) = shared.catalog();
        let config = &shared.config;
        let limits = Limits {
            header_timeout: config.header_timeout.as_secs() as u32,
            idle_timeout: config.idle_timeout.as_secs() as u32,
            proxies: config.proxies.clone(),
        };
        let worker = Worker {
            id,
            poll,
            ports: mio_listeners.iter().map(|l| l.local_addr().map_or(0, |a| a.port())).collect(),
            listeners: mio_listeners,
            slots: Vec::new(),
            free: Vec::new(),
            open: 0,
            catalog,
            catalog_version,
            clock: Clock::new(),
            timer,
            timer_armed: false,
            signals: None,
            limits,
            scratch: vec![0; READ_BUFFER].into_boxed_slice(),
            replies: Vec::new(),
            path: Vec::new(),
            accept_paused_until: None,
            stop_deadline: None,
            last_sweep: 0,
            stats: Stats::default(),
            whole: Whole::default(),
            memo: Memo::default(),
            batch: None,
            short_sends: Vec::new(),
            access_lines: shared.access_log.as_ref().map(|_| log::Lines::new(!shared.config.vhosts.is_empty())),
            #[cfg(feature = "tls")]
            tls_from: shared.config.listen.len(),
            #[cfg(feature = "tls")]
            handshakes: Vec::new(),
            #[cfg(feature = "tls")]
            tls_buffers: Default::default(),
            shared,
        };
        Ok((worker, waker))
    }

    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        // Made on the worker's own thread, the only one that ever submits to it.
        if self.shared.config.io_uring {
            self.batch = Batch::new().ok();
            self.stats.rings = u64::from(self.batch.is_some());
        }
        // A worker that never gets a connection still shows on the status page.
        self.shared.publish_stats(self.id, &self.stats);
        loop {
            let mut timeout = self.accept_paused_until.map(|until| until.saturating_duration_since(Instant::now()));
            if !self.timer_armed && self.wakes_each_second() {
                // The timer could not be set: wake by the poll's timeout instead.
                let tick = self.clock.until_next_tick();
                timeout = Some(timeout.map_or(tick, |pause| pause.min(tick)));
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error(&format!("poll failed: {e}"));
                    return;
                }
            }
            // With the timer set, the clock moves when it fires (first, so
            // every event of the turn sees the new second); unset, every turn.
            if !self.timer_armed || events.iter().any(|event| event.token() == TIMER) {
                self.clock.tick();
                self.timer_armed = false;
            }
            self.refresh_catalog();
            for event in events.iter() {
                match event.token() {
                    WAKER | TIMER => {}
                    SIGNALS => self.take_signals(),
                    Token(t) if t >= LISTENER_BASE => self.accept(t - LISTENER_BASE),
                    token => self.ready(token, event),
                }
            }
            // Before anything can close a connection a queued send is for.
            self.submit_batch();
            if self.shared.stopping.load(Ordering::Relaxed) && self.stop() {
                self.flush_access_log();
                self.shared.publish_stats(self.id, &self.stats);
                return;
            }
            if self.access_lines.as_ref().is_some_and(|lines| lines.bytes().len() >= log::FLUSH_BYTES) {
                self.flush_access_log();
            }
            if self.accept_paused_until.is_some_and(|until| Instant::now() >= until) {
                self.accept_paused_until = None;
                for i in 0..self.listeners.len() {
                    self.accept(i);
                }
            }
            if !self.timer_armed && self.wakes_each_second() {
                self.timer_armed = self.timer.set(self.clock.until_next_tick()).is_ok();
            }
            if self.clock.now() != self.last_sweep {
                self.last_sweep = self.clock.now();
                self.sweep();
                self.flush_access_log();
                self.shared.publish_stats(self.id, &self.stats);
            }
        }
    }

    fn flush_access_log(&mut self) {
        if let (Some(lines), Some(log)) = (self.access_lines.as_mut(), self.shared.access_log.as_ref()) {
            if !lines.bytes().is_empty() {
                log.write(lines.bytes());
                lines.clear();
            }
        }
    }

    /// Open connections, a graceful stop or log lines waiting: the worker
    /// must wake each second, for the sweep and the flush. Otherwise it
    /// sleeps until an event.
    fn wakes_each_second(&self) -> bool {
        self.open > 0
            || self.stop_deadline.is_some()
            || self.access_lines.as_ref().is_some_and(|l| !l.bytes().is_empty())
    }

    /// Makes this worker the one that takes the process's signals.
    pub fn own_signals(&mut self, waker: Arc<Waker>) -> io::Result<()> {
        let signals = sys::SignalFd::new()?;
        self.poll.registry().register(&mut SourceFd(&signals.as_raw_fd()), SIGNALS, Interest::READABLE)?;
        self.signals = Some((signals, waker));
        Ok(())
    }

    fn take_signals(&mut self) {
        if let Some((signals, waker)) = &self.signals {
            while let Some(signal) = signals.take() {
                crate::ops::signals::act(signal, &self.shared, std::slice::from_ref(waker));
            }
        }
    }

    /// Picks up a catalog swapped in by a reload; replies in flight keep the
    /// entries they hold.
    fn refresh_catalog(&mut self) {
        if self.shared.catalog_version.load(Ordering::Acquire) != self.catalog_version {
            (self.catalog, self.catalog_version) = self.shared.catalog();
            // Let go of the old entries the copies and the memo keep alive.
            self.whole = Whole::default();
            self.memo = Memo::default();
        }
    }

    fn accept(&mut self, listener: usize) {
        if self.accept_paused_until.is_some() || self.stop_deadline.is_some() {
            return;
        }
        loop {
            let (stream, client) = match self.listeners[listener].accept() {
                Ok((stream, client)) => (stream, (client.ip(), self.ports[listener])),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_transient_accept_error(&e) => continue,
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM: pending connections stay
                    // queued in the kernel; retrying now would only spin.
                    if !self.shared.warned_accept.swap(true, Ordering::Relaxed) {
                        log::error(&format!("cannot accept connections: {e}; pausing briefly"));
                    }
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    return;
                }
            };
            #[cfg(feature = "tls")]
            if listener >= self.tls_from && self.handshakes.len() >= MAX_HANDSHAKES {
                self.close(self.handshakes[0]);
            }
            #[cfg(feature = "tls")]
            let session = match self.shared.https.as_ref().filter(|_| listener >= self.tls_from) {
                Some((server, _)) => match server.session() {
                    Some(session) => Some(session),
                    None => continue,
                },
                None => None,
            };
            let max = self.shared.conn_limit();
            if self.shared.open_conns.fetch_add(1, Ordering::Relaxed) >= max {
                self.shared.open_conns.fetch_sub(1, Ordering::Relaxed);
                #[cfg(feature = "tls")]
                if session.is_some() {
                    continue; // a plain 503 means nothing to a TLS client
                }
                refuse(stream, &self.catalog.fallback, &self.clock, self.shared.extra_headers);
                continue;
            }
            self.shared.warned_accept.store(false, Ordering::Relaxed);
            #[cfg(feature = "tls")]
            let inserted = self.insert(stream, client);
            #[cfg(not(feature = "tls"))]
            self.insert(stream, client);
            #[cfg(feature = "tls")]
            if let Some((index, conn)) = inserted.and_then(|index| Some((index, self.slots[index].conn.as_mut()?))) {
                match (session, self.shared.redirect_port) {
                    (Some(session), _) => {
                        conn.set_tls(session);
                        self.handshakes.push(index);
                    }
                    (None, Some(_)) => conn.set_redirect(),
                    (None, None) => {}
                }
            }
        }
    }

    /// Adds a connection; returns its slab index.
    fn insert(&mut self, mut stream: mio::net::TcpStream, client: (std::net::IpAddr, u16)) -> Option<usize> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot { generation: 0, conn: None });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        let token = Token(slot.generation << INDEX_BITS | index);
        if self.poll.registry().register(&mut stream, token, Interest::READABLE | Interest::WRITABLE).is_err() {
            self.free.push(index);
            self.shared.open_conns.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let proxied = self.limits.proxies.trusts(client.0);
        slot.conn = Some(Conn::new(stream, client, proxied, &self.clock, &self.limits));
        self.open += 1;
        self.stats.connections += 1;
        Some(index)
    }

    fn ready(&mut self, token: Token, event: &Event) {
        let index = token.0 & INDEX_MASK;
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        if slot.generation != token.0 >> INDEX_BITS {
            return;
        }
        let must_drain = event.is_read_closed() || event.is_error();
        self.drive(index, event.is_readable(), must_drain);
    }

    /// Runs one connection as far as its socket allows; closes it when done.
    fn drive(&mut self, index: usize, readable: bool, must_drain: bool) {
        self.with_conn(index, true, |conn, cx, scratch| conn.drive(cx, scratch, readable, must_drain));
    }

    /// Sends the turn's batch; a connection whose reply did not go whole
    /// carries on from there.
    fn submit_batch(&mut self) {
        let Some(batch) = self.batch.as_mut() else {
            return;
        };
        self.stats.batched_sends += batch.submit(&mut self.short_sends);
        if self.short_sends.is_empty() {
            return;
        }
        let mut short_sends = std::mem::take(&mut self.short_sends);
        for (token, whole, result) in short_sends.drain(..) {
            let index = token & INDEX_MASK;
            if self.slots[index].generation == token >> INDEX_BITS {
                self.with_conn(index, false, |conn, cx, scratch| conn.resume(cx, scratch, whole, result));
            }
        }
        self.short_sends = short_sends;
    }

    /// Runs `step` on connection `index` with the worker's context; closes
    /// the connection when `step` says it is done. `batch`: whether the step
    /// may queue a send for this turn's batch.
    fn with_conn(&mut self, index: usize, batch: bool, step: impl FnOnce(&mut Conn, &mut Context, &mut [u8]) -> bool) {
        let slot = &mut self.slots[index];
        let token = slot.generation << INDEX_BITS | index;
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        let (shared, id) = (&*self.shared, self.id);
        // The pages show this worker's counters as they are now; they are
        // copied only when there is a page to show them on, not per request.
        let (own_stats, render);
        let pages = if shared.pages.is_empty() {
            None
        } else {
            own_stats = self.stats;
            render = |counters| match counters {
                Counters::Status => status::render(shared, id, &own_stats),
                Counters::Metrics => metrics::render(shared, id, &own_stats),
            };
            Some((&shared.pages[..], &render as &dyn Fn(Counters) -> Vec<u8>))
        };
        // Its own copy: the connection is lent to `step` below.
        #[cfg(feature = "tls")]
        let certificate = (!self.catalog.hosts.is_empty()).then(|| conn.certificate()).flatten();
        let mut cx = Context {
            router: Router {
                catalog: &self.catalog.fallback,
                sites: &self.catalog,
                #[cfg(feature = "tls")]
                certificate: certificate.as_deref(),
                pages,
                spa: shared.config.spa,
                auth: shared.auth.as_ref(),
                cors: shared.cors.as_ref(),
                #[cfg(feature = "acme")]
                acme: shared.challenges.as_deref(),
                #[cfg(feature = "tls")]
                https_port: shared.redirect_port.filter(|_| conn.redirects()),
            },
            clock: &self.clock,
            limits: &self.limits,
            replies: &mut self.replies,
            path: &mut self.path,
            stopping: self.stop_deadline.is_some(),
            extra_headers: shared.extra_headers,
            stats: &mut self.stats,
            whole: &mut self.whole,
            memo: &mut self.memo,
            batch: if batch { self.batch.as_mut() } else { None },
            token,
            access_log: self.access_lines.as_mut(),
            #[cfg(feature = "tls")]
            tls: &mut self.tls_buffers,
        };
        #[cfg(feature = "tls")]
        let handshaking = conn.handshaking();
        let alive = step(conn, &mut cx, &mut self.scratch);
        #[cfg(feature = "tls")]
        if alive && handshaking && !conn.handshaking() {
            self.handshakes.retain(|&at| at != index);
        }
        if !alive {
            self.close(index);
        }
    }

    fn close(&mut self, index: usize) {
        // Closing the descriptor removes it from the poll: no deregister call.
        if self.slots[index].conn.take().is_some() {
            // Whether or not the handshake ended in the connection's last step.
            #[cfg(feature = "tls")]
            if !self.handshakes.is_empty() {
                self.handshakes.retain(|&at| at != index);
            }
            self.free.push(index);
            self.open -= 1;
            self.shared.open_conns.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Closes every connection whose deadline has passed.
    fn sweep(&mut self) {
        let now = self.clock.now();
        for index in 0..self.slots.len() {
            if self.slots[index].conn.as_ref().is_some_and(|conn| conn.deadline <= now) {
                self.close(index);
            }
        }
    }

    /// Graceful stop: stop accepting, close idle connections, let the rest
    /// finish until the grace period ends. True when the worker may exit.
    fn stop(&mut self) -> bool {
        let now = self.clock.now();
        if self.stop_deadline.is_none() {
            let grace = self.shared.config.grace.as_secs().min(u64::from(u32::MAX / 2)) as u32;
            self.stop_deadline = Some(now.saturating_add(grace));
            for mut listener in self.listeners.drain(..) {
                let _ = self.poll.registry().deregister(&mut listener);
            }
            // One last read of idle connections: a request already in the
            // socket is answered (with Connection: close), not reset.
            for index in 0..self.slots.len() {
                if self.slots[index].conn.as_ref().is_some_and(Conn::is_idle) {
                    self.drive(index, true, false);
                }
            }
        }
        self.open == 0 || self.stop_deadline.is_some_and(|deadline| now >= deadline)
    }
}

/// Connections over `--max-conns` get a 503 (with the site's `503.html`)
/// and are closed at once, rather than left hanging in the backlog. The
/// response is written in one send and not kept: a page larger than a fresh
/// socket surely takes is left out for the canned text, which is never cut.
fn refuse(mut stream: mio::net::TcpStream, catalog: &Catalog, clock: &Clock, extra_headers: Extras) {
    let canned = canned::SERVICE_UNAVAILABLE;
    let tail = clock.tail(Connection::Close);
    let mut reply = Reply::new(canned.on(catalog, false), extra_headers, tail);
    if reply.total_len() > REFUSAL_BYTES {
        reply = Reply::new(canned.answer(false), extra_headers, tail);
    }
    let mut bytes = Vec::with_capacity(reply.total_len() as usize);
    bytes.extend_from_slice(reply.head());
    bytes.extend_from_slice(reply.extra());
    bytes.extend_from_slice(reply.tail());
    // An error page is always held in memory (`catalog/pages.rs`).
    if let BodyRef::Memory(body) = reply.body() {
        bytes.extend_from_slice(body);
    }
    let _ = stream.write(&bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// What a refused connection's 503 may take: Linux's initial socket send
/// buffer (`net.ipv4.tcp_wmem`'s default), which one send fills at once.
const REFUSAL_BYTES: u64 = 16 * 1024;

fn is_transient_accept_error(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO | libc::EPERM | libc::ENETDOWN | libc::EHOSTUNREACH)
    )
}
