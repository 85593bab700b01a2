//! Certificates that run themselves: mote's own ACME client (RFC 8555).
#![forbid(unsafe_code)]

pub mod renew;
