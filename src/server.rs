//! What the workers share: the configuration, the current catalog (swapped
//! whole on reload), the stop flag and the count of open connections.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::catalog::Catalog;
use crate::config::Config;

pub struct Shared {
    pub config: Config,
    pub max_conns: usize,
    pub stopping: AtomicBool,
    pub open_conns: AtomicUsize,
    /// Set once "cannot accept" has been said, so a flood says it once.
    pub warned_accept: AtomicBool,
    /// Bumped after every swap; workers compare it each loop turn, which is a
    /// plain load, and take the lock only when it changed.
    pub catalog_version: AtomicUsize,
    catalog: Mutex<Arc<Catalog>>,
}

impl Shared {
    pub fn new(config: Config, catalog: Catalog, max_conns: usize) -> Shared {
        Shared {
            config,
            max_conns,
            stopping: AtomicBool::new(false),
            open_conns: AtomicUsize::new(0),
            warned_accept: AtomicBool::new(false),
            catalog_version: AtomicUsize::new(0),
            catalog: Mutex::new(Arc::new(catalog)),
        }
    }

    pub fn catalog(&self) -> (Arc<Catalog>, usize) {
        let catalog = self.catalog.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (catalog.clone(), self.catalog_version.load(Ordering::Acquire))
    }

    /// Requests see the old site or the new one, never a mix: the swap is
    /// one pointer under the lock.
    pub fn swap_catalog(&self, new: Catalog) {
        let mut catalog = self.catalog.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *catalog = Arc::new(new);
        self.catalog_version.fetch_add(1, Ordering::Release);
    }
}
