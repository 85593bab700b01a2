//! mote's integration tests: the real binary on `127.0.0.1:0`, raw bytes
//! over real sockets, one module per concern, sharing `common`.
//!
//! They are one crate rather than a crate per file because each crate
//! compiles `common` and links the test harness again; one crate is built
//! once. Run one module with `cargo test --test it keepalive::`.

mod common;

mod acme;
mod acme_flags;
mod auth;
mod batch;
mod browser;
mod cache_control;
mod check;
mod clean_urls;
mod cli;
mod clients;
mod clock;
mod conditional;
mod corpus;
mod cors;
mod embedded;
mod error_pages;
mod extra_headers;
mod framing;
mod fuzz_regressions;
mod harness;
mod headers;
mod healthcheck;
mod host;
mod init;
mod keepalive;
mod limits;
mod listing;
mod many_conns;
mod memo;
mod methods;
mod metrics;
mod mime;
mod operating;
mod out_of_fds;
mod paths;
mod proxy;
mod ranges;
mod redirects;
mod slow_clients;
mod spa;
mod targets;
mod tls;
mod tls_reads;
mod variants;
mod versions;
mod vhosts;
mod well_known;
mod whole;
