//! Running mote on a small box: flags, signals (stop, reload, reopen logs), the error
//! and access logs, the `--status` page and `--metrics`, `--user` ids, the
//! `--max-memory` budget and the `--healthcheck` probe. Only the access log and those two pages are on a request's path.
#![forbid(unsafe_code)]

pub mod address;
pub mod budget;
#[cfg(feature = "tls")]
pub mod certs;
pub mod config;
pub mod healthcheck;
pub mod identity;
pub mod log;
pub mod metrics;
pub mod signals;
pub mod status;
