//! From a head to the bytes of its response: `head` recalls or parses it,
//! the `router` picks the answer (precomputed parts of the catalog, or a
//! `canned` one), `cors` adds what other origins may read, `reply` adds the
//! `--header` lines and the tail, and a worker's `memo` and `whole` copies
//! let a repeated head skip most of that.
#![forbid(unsafe_code)]

pub mod canned;
pub mod cors;
pub mod head;
pub mod memo;
#[cfg(feature = "tls")]
pub mod redirect;
pub mod reply;
pub mod router;
pub mod whole;
