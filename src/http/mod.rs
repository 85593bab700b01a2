//! What the bytes of a request mean (RFC 9110, RFC 9112): the head, its
//! target, ranges, preconditions, accepted codings, credentials and the
//! client a trusted proxy names. Pure
//! functions over borrowed bytes, no I/O, so each is table-tested and fuzzed.
#![forbid(unsafe_code)]

pub mod auth;
pub mod conditional;
pub mod encoding;
pub mod forwarded;
pub mod range;
pub mod request;
pub mod target;
