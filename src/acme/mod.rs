//! The built-in ACME client (RFC 8555): certificates that run themselves.
#![forbid(unsafe_code)]
