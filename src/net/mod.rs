//! The event loop: a `worker` per thread runs each ready `conn` as far as its socket
//! allows, writing its replies (`send`) or batching a turn's whole responses (`batch`);
//! `clock` keeps time and the Date line, and `shared` is what the workers share.
#![forbid(unsafe_code)]

pub mod batch;
pub mod clock;
pub mod conn;
pub mod send;
pub mod shared;
#[cfg(feature = "tls")]
pub mod tls;
pub mod worker;
