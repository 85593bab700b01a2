//! The event loop: a worker per thread waits on its sockets, runs each ready
//! connection as far as the socket allows, and hands a turn's sends to the
//! kernel together. What the workers share lives in `shared`.
#![forbid(unsafe_code)]

pub mod batch;
pub mod clock;
pub mod conn;
pub mod send;
pub mod shared;
pub mod worker;
