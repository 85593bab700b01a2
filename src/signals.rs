//! Signals, taken synchronously on a thread of their own (`sigwait`), so no
//! work ever runs inside a signal handler: SIGTERM/SIGINT stop gracefully
//! (a second one exits at once), SIGHUP reloads `--root` off the event loops,
//! SIGUSR1 reopens the access log (after logrotate moved it).
#![forbid(unsafe_code)]

use std::sync::atomic::Ordering;
use std::sync::Arc;

use mio::Waker;

use crate::log;
use crate::server::Shared;
use crate::sys;

pub fn spawn(shared: Arc<Shared>, wakers: Vec<Arc<Waker>>) -> std::io::Result<()> {
    let body = move || loop {
        match sys::wait_signal() {
            sys::SIGTERM | sys::SIGINT => {
                if shared.stopping.swap(true, Ordering::Relaxed) {
                    log::error("second stop signal, exiting now");
                    std::process::exit(1);
                }
                log::error("stopping (finishing responses in flight)");
                for waker in &wakers {
                    let _ = waker.wake();
                }
            }
            sys::SIGUSR1 => {
                if let Some(log) = &shared.access_log {
                    log.reopen();
                }
            }
            sys::SIGHUP => {
                reload(&shared);
                for waker in &wakers {
                    let _ = waker.wake();
                }
            }
            _ => {}
        }
    };
    // Never joined: it waits for signals until the process exits.
    sys::spawn(c"signals", crate::THREAD_STACK, Box::new(body))?;
    Ok(())
}

/// Builds the new catalog here, then swaps it in; a failure keeps the old site.
fn reload(shared: &Shared) {
    let Some(root) = &shared.config.root else {
        log::error("SIGHUP: serving the built-in site, nothing to reload");
        return;
    };
    match Shared::load_catalog(&shared.config) {
        Ok((catalog, memory_conns)) => {
            let files = catalog.len();
            shared.swap_catalog(catalog, memory_conns);
            log::error(&format!("reloaded {} ({files} files)", root.display()));
        }
        Err(why) => log::error(&format!("reload failed, still serving the previous site: {why}")),
    }
}
