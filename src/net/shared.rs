//! What the workers share: the configuration, the current sites (swapped
//! whole on reload), the stop flag, the count of open connections and each
//! worker's published counters.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::answer::cors::Cors;
use crate::answer::reply::Extras;
use crate::answer::router::{Counters, Page};
use crate::catalog::embedded::BUILD_TIME;
use crate::catalog::sites::Sites;
use crate::catalog::Options;
use crate::http::auth::Auth;
use crate::ops::budget;
use crate::ops::config::Config;
use crate::ops::log::AccessLog;
use crate::ops::{metrics, status};
use mote_site::cache::Audience;

/// One worker's counters. Workers count in plain integers and publish a
/// copy once a second, so counting costs no atomic operation per request.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub connections: u64,
    /// Requests answered with 1xx..5xx.
    pub requests: [u64; 5],
    pub bytes_out: u64,
    /// Replies handed to the kernel in a turn's batch (io_uring).
    pub batched_sends: u64,
    /// Answers that were a whole response the memo holds (no reply built).
    pub whole_responses: u64,
    /// Workers with a send ring (each reports 1 or 0).
    pub rings: u64,
}

impl Stats {
    pub fn add(&mut self, other: &Stats) {
        self.connections += other.connections;
        for (sum, n) in self.requests.iter_mut().zip(other.requests) {
            *sum += n;
        }
        self.bytes_out += other.bytes_out;
        self.batched_sends += other.batched_sends;
        self.whole_responses += other.whole_responses;
        self.rings += other.rings;
    }
}

pub struct Shared {
    pub config: Config,
    pub max_conns: usize,
    /// Connections that fit in `--max-memory` beside the current catalog
    /// (usize::MAX without a budget); changes on reload.
    pub memory_conns: AtomicUsize,
    pub started: Instant,
    /// The wall clock at `started`, in unix seconds; 0 while unknown. A
    /// mutex, not an atomic: the Pi 1's Thumb code has no 64-bit atomics,
    /// and it is read once a scrape.
    start_unix: Mutex<u64>,
    pub access_log: Option<AccessLog>,
    pub auth: Option<Auth>,
    /// `--status` and `--metrics`, when given.
    pub pages: Vec<Page>,
    /// `--header` lines, and those `--cors` makes; leaked once at start-up
    /// so replies can point at them.
    pub extra_headers: Extras,
    pub cors: Option<Cors>,
    /// Each worker's last published counters.
    pub stats: Vec<Mutex<Stats>>,
    pub reloads: AtomicUsize,
    pub stopping: AtomicBool,
    pub open_conns: AtomicUsize,
    /// Set once "cannot accept" has been said, so a flood says it once.
    pub warned_accept: AtomicBool,
    /// Bumped after every swap; workers compare it each loop turn, which is a
    /// plain load, and take the lock only when it changed.
    pub catalog_version: AtomicUsize,
    /// Every site (`catalog/sites.rs`): one swap replaces them all.
    catalog: Mutex<Arc<Sites>>,
    /// The HTTPS server and the files its certificates and keys come from
    /// (none with `--acme` alone: its certificates come from its client).
    #[cfg(feature = "tls")]
    pub https: Option<(crate::net::tls::Server, Vec<crate::ops::certs::Material>)>,
    /// `--https-redirect`: the port plain listeners send clients to.
    #[cfg(feature = "tls")]
    pub redirect_port: Option<u16>,
    /// The `--acme` client: woken by SIGHUP, read by the status pages.
    #[cfg(feature = "acme")]
    pub acme: Option<Arc<crate::acme::Acme>>,
    /// `--acme`: the challenges its client has on, which the workers answer.
    #[cfg(feature = "acme")]
    pub challenges: Option<Arc<crate::acme::challenge::Challenges>>,
}

impl Shared {
    pub fn new(
        config: Config,
        catalog: Sites,
        max_conns: usize,
        access_log: Option<AccessLog>,
        auth: Option<Auth>,
    ) -> Shared {
        let workers = config.threads;
        let headers: &'static [u8] = Box::leak(config.headers.clone().into_boxed_slice());
        let cors = Cors::new(&config.cors, config.audience() == Audience::Authenticated, headers);
        let extra_headers =
            cors.as_ref().map_or_else(|| -> Extras { Box::leak(Box::new([headers])) }, |cors| cors.extras);
        let pages = [
            (&config.status, status::CONTENT_TYPE, Counters::Status),
            (&config.metrics, metrics::CONTENT_TYPE, Counters::Metrics),
        ];
        let pages = pages
            .into_iter()
            .filter_map(|(path, content_type, counters)| {
                Some(Page { path: path.as_deref()?.as_bytes().into(), content_type, counters })
            })
            .collect();
        Shared {
            pages,
            auth,
            extra_headers,
            cors,
            config,
            max_conns,
            memory_conns: AtomicUsize::new(usize::MAX),
            started: Instant::now(),
            start_unix: Mutex::new(plausible_unix_now().unwrap_or(0)),
            access_log,
            stats: (0..workers).map(|_| Mutex::new(Stats::default())).collect(),
            reloads: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            open_conns: AtomicUsize::new(0),
            warned_accept: AtomicBool::new(false),
            catalog_version: AtomicUsize::new(0),
            catalog: Mutex::new(Arc::new(catalog)),
            #[cfg(feature = "tls")]
            https: None,
            #[cfg(feature = "tls")]
            redirect_port: None,
            #[cfg(feature = "acme")]
            acme: None,
            #[cfg(feature = "acme")]
            challenges: None,
        }
    }

    /// The sites to load: `--root` or the built-in site, and each `--vhost`.
    /// Also checks them, together, against `--max-memory`: the result
    /// carries how many connections fit beside them.
    pub fn load_catalog(config: &Config) -> Result<(Sites, usize), String> {
        let options = Options {
            cache_max: config.cache_max,
            cache_rules: &config.cache_rules,
            audience: config.audience(),
            listing: config.listing,
            vary_origin: config.cors_echoes(),
            types: &config.mime,
            clean_urls: config.clean_urls,
        };
        let catalog = Sites::load(config.root.as_deref(), &config.vhosts, &options)?;
        let conns = match config.max_memory {
            Some(budget) => {
                budget::connections(budget, catalog.bytes(), config.threads, !config.listen_tls.is_empty())?
            }
            None => usize::MAX,
        };
        Ok((catalog, conns))
    }

    /// The connection limit now: the flag's (or descriptors') and the budget's.
    pub fn conn_limit(&self) -> usize {
        self.max_conns.min(self.memory_conns.load(Ordering::Relaxed))
    }

    pub fn catalog(&self) -> (Arc<Sites>, usize) {
        let catalog = self.catalog.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (catalog.clone(), self.catalog_version.load(Ordering::Acquire))
    }

    /// Requests see the old site or the new one, never a mix: the swap is
    /// one pointer under the lock.
    pub fn swap_catalog(&self, new: Sites, memory_conns: usize) {
        self.memory_conns.store(memory_conns, Ordering::Relaxed);
        let mut catalog = self.catalog.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *catalog = Arc::new(new);
        self.catalog_version.fetch_add(1, Ordering::Release);
        self.reloads.fetch_add(1, Ordering::Relaxed);
    }

    /// When the process started, in unix seconds: the wall clock then, or,
    /// when it could not be trusted (a Pi without a clock starts in 1970
    /// until NTP runs), worked out from the first trusted reading since and
    /// kept, so every later answer is the same. None until the clock is set.
    pub fn start_time(&self) -> Option<u64> {
        let mut known = self.start_unix.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *known == 0 {
            *known = plausible_unix_now()?.saturating_sub(self.started.elapsed().as_secs());
        }
        Some(*known)
    }

    pub fn publish_stats(&self, worker: usize, stats: &Stats) {
        if let Some(slot) = self.stats.get(worker) {
            *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = *stats;
        }
    }
}

/// The wall clock in unix seconds, unless it reads earlier than the newest
/// file built into this binary (as the Date line judges it, net/clock.rs).
pub fn plausible_unix_now() -> Option<u64> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    (now >= BUILD_TIME).then_some(now)
}
