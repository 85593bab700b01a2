//! The request layer as a library, for `fuzz/`: what the bytes of a request
//! mean (`http/`), pure functions with no I/O. The server is the binary
//! (`main.rs`), which compiles these same files as its own modules, so the
//! whole server is one crate and nothing of it is exported.
#![forbid(unsafe_code)]

pub mod http;
