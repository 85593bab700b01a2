//! Signals, taken synchronously, so no work ever runs inside a signal
//! handler: SIGTERM/SIGINT stop gracefully (a second one exits at once),
//! SIGHUP reloads `--root` off the event loops (and has the ACME client
//! re-check its certificates), SIGUSR1 reopens the access log (after
//! logrotate moved it).
//!
//! With one worker (the default) its own loop reads them from a signalfd,
//! and the process is that one thread: the kernel then skips the atomic
//! reference count on every descriptor a system call uses, which a second
//! thread forces on every recv and send, a cost paid per request on a CPU
//! that has none to spare. With `--acme` the ACME client's thread is a
//! second one all the same (it waits on the CA, never on the loop), so
//! that saving is lost there. With more workers a thread of their own
//! waits for them (`sigwait`).
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use mio::Waker;

use crate::net::shared::Shared;
use crate::ops::log;
use crate::sys;

pub fn spawn(shared: Arc<Shared>, wakers: Vec<Arc<Waker>>) -> std::io::Result<()> {
    let body = move || loop {
        act(sys::wait_signal(), &shared, &wakers);
    };
    // Never joined: it waits for signals until the process exits.
    sys::spawn(c"signals", Box::new(body))?;
    Ok(())
}

/// The reload thread: none, one running, or one running with a SIGHUP that
/// came meanwhile, so it reads the disk once more before it ends. A burst of
/// SIGHUPs costs one thread and at most one reload after the burst.
static RELOAD: AtomicU8 = AtomicU8::new(IDLE);
const IDLE: u8 = 0;
const RUNNING: u8 = 1;
const AGAIN: u8 = 2;

/// What `signal` does; `wakers` are the workers to tell.
pub fn act(signal: i32, shared: &Arc<Shared>, wakers: &[Arc<Waker>]) {
    match signal {
        sys::SIGTERM | sys::SIGINT => {
            if shared.stopping.swap(true, Ordering::Relaxed) {
                log::error("second stop signal, exiting now");
                std::process::exit(1);
            }
            log::error("stopping (finishing responses in flight)");
            wake(wakers);
        }
        sys::SIGUSR1 => {
            if let Some(log) = &shared.access_log {
                log.reopen();
            }
        }
        sys::SIGHUP => {
            if RELOAD.swap(AGAIN, Ordering::AcqRel) != IDLE {
                return; // the running reload goes round once more
            }
            RELOAD.store(RUNNING, Ordering::Release);
            // Reading a big --root takes a while: on a thread of its own,
            // which ends with the reload, so the loops go on serving.
            let (shared, wakers) = (shared.clone(), wakers.to_vec());
            let body = move || loop {
                reload(&shared);
                wake(&wakers);
                if RELOAD.compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    return;
                }
                RELOAD.store(RUNNING, Ordering::Release);
            };
            match sys::spawn(c"reload", Box::new(body)) {
                Ok(thread) => thread.detach(),
                Err(e) => {
                    RELOAD.store(IDLE, Ordering::Release);
                    log::error(&format!("SIGHUP: cannot start the reload: {e}"));
                }
            }
        }
        _ => {}
    }
}

fn wake(wakers: &[Arc<Waker>]) {
    for waker in wakers {
        let _ = waker.wake();
    }
}

/// Builds the new catalog here, then swaps it in; a failure keeps the old site.
fn reload(shared: &Shared) {
    #[cfg(feature = "tls")]
    let https = reload_tls(shared);
    #[cfg(not(feature = "tls"))]
    let https = false;
    // The ACME client re-checks its certificates on its own thread.
    #[cfg(feature = "acme")]
    let https = match &shared.acme {
        Some(acme) => {
            acme.wake();
            true
        }
        None => https,
    };
    let config = &shared.config;
    if config.root.is_none() && config.vhosts.is_empty() {
        if !https {
            log::error("SIGHUP: serving the built-in site, nothing to reload");
        }
        return;
    }
    // Every site is loaded before any is swapped in: one that fails keeps
    // them all as they were.
    match Shared::load_catalog(config) {
        Ok((sites, memory_conns)) => {
            let files = sites.file_count();
            shared.swap_catalog(sites, memory_conns);
            match (&config.root, config.vhosts.len()) {
                (Some(root), 0) => log::error(&format!("reloaded {} ({files} files)", root.display())),
                (_, hosts) => {
                    log::error(&format!("reloaded {} sites ({files} files)", hosts + config.root.is_some() as usize))
                }
            }
        }
        Err(why) => log::error(&format!("reload failed, still serving the previous site: {why}")),
    }
}

/// Reads every certificate and key again; new handshakes get the new
/// pairs, and one that fails keeps all the old ones. False without HTTPS.
#[cfg(feature = "tls")]
fn reload_tls(shared: &Shared) -> bool {
    let Some((server, materials)) = shared.https.as_ref().filter(|(_, materials)| !materials.is_empty()) else {
        return false;
    };
    let now = crate::net::shared::plausible_unix_now();
    match materials.iter().map(|material| material.load(now)).collect::<Result<Vec<_>, _>>() {
        Ok(loaded) => {
            let mut pairs = Vec::with_capacity(loaded.len());
            for loaded in loaded {
                if let Some(warning) = loaded.warning {
                    log::error(&warning);
                }
                pairs.push(loaded.pair);
            }
            server.swap(pairs);
            log::error(if materials.len() == 1 {
                "reloaded the TLS certificate and key"
            } else {
                "reloaded the TLS certificates and keys"
            });
        }
        Err(why) => log::error(&format!("TLS reload failed, still using the previous certificate(s): {why}")),
    }
    true
}
