//! Shared harness for mote's integration tests: start the real binary on
//! `127.0.0.1:0`, talk raw bytes over real sockets, parse exactly one response
//! at a time, and build throw-away `--root` sites.
//!
//! Each file owns one concern; everything is re-exported here, so a test
//! says `use crate::common::*` and never needs to know which file a helper lives in.
// Each test file uses only some of the helpers and some of the re-exports.
#![allow(dead_code, unused_imports)]

mod acme;
mod client;
mod date;
mod ports;
mod response;
mod server;
mod site;
mod sys;
mod tools;
mod usage;

pub use acme::*;
pub use client::*;
pub use date::*;
pub use ports::*;
pub use response::*;
pub use server::*;
pub use site::*;
pub use sys::*;
pub use tools::*;
pub use usage::*;
