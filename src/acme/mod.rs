//! The built-in ACME client (RFC 8555): certificates that run themselves.
#![forbid(unsafe_code)]
// The transport, the store and the challenges come before the client
// thread that uses them.
#![allow(dead_code)]

pub mod challenge;
pub mod https;
pub mod store;
