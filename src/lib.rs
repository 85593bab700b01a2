//! mote as a library: the server's layers, which `main.rs` starts in order
//! and `fuzz/` exercises directly. The folders are the map of a request:
//!
//! - `http/`: what the bytes of a request mean (pure, fuzzed);
//! - `catalog/`: the site in memory, built once from files;
//! - `answer/`: from a request to the bytes of its response;
//! - `net/`: the event loop that reads requests and writes replies;
//! - `ops/`: flags, signals, logs, and the other parts of running it;
//! - `sys/`: the system calls std does not offer, the only `unsafe` code.
//!
//! What a file becomes (types, cache rules, heads) is the `mote-site` crate
//! in `site/`, which build.rs shares.
#![deny(unsafe_code)]

pub mod answer;
pub mod catalog;
pub mod http;
pub mod net;
pub mod ops;
pub mod sys;
