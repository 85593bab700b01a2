//! The built-in ACME client (RFC 8555), compiled with the `acme` feature.
//! What it speaks is written here by hand, as pure functions with no I/O:
//! JSON (`json`), base64 (`base64`), signed requests (`jws`) and the DER of
//! certificates and requests (`der`), so the feature adds no crate beyond
//! ring and webpki, which TLS already brings.
#![forbid(unsafe_code)]
// The pieces land before the client thread that calls them.
#![allow(dead_code)]

pub mod base64;
pub mod https;
pub mod json;
pub mod jws;
pub mod renew;
