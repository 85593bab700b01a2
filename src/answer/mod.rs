//! From a request to the bytes of its response: `route` picks the answer
//! (precomputed parts of the catalog, or a `canned` one), `reply` adds the
//! `--header` lines and the tail, and a worker's `memo` and `whole` copies
//! let a repeated head skip most of that work.
#![forbid(unsafe_code)]

pub mod canned;
pub mod memo;
pub mod reply;
pub mod route;
pub mod whole;
