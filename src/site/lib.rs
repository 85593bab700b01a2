//! What a site's files become: which files under a root are served (`walk`),
//! their types (`mime`), their Cache-Control (`cache`), their precomputed
//! heads (`representation`, with `date`), and the lint over all of it
//! (`check`, `mote --check`).
//!
//! A crate of its own (std and `itoa`, nothing else) because two programs
//! build sites with it: `build.rs` turns `static/` into the embedded site at
//! compile time, and the server turns `--root` into its catalog at start-up
//! and on reload. One definition means the built-in site and a served
//! directory get the same bytes for the same file.
#![forbid(unsafe_code)]

pub mod cache;
pub mod check;
pub mod date;
pub mod mime;
pub mod representation;
pub mod walk;
