//! `--max-memory`: a declared budget for the catalog plus connection state.
//!
//! The catalog's bytes are counted exactly as it is built; each connection
//! is charged its worst case (its slab slot, a full request head, a full
//! queue of replies), so the budget holds whatever clients do. A site that
//! does not fit is refused at start-up or reload; connections beyond what is
//! left get a 503 like those beyond `--max-conns`. On a 512 MB Pi this is
//! what keeps the rest of the box alive.
#![forbid(unsafe_code)]

use crate::http::request::MAX_HEAD;

/// The process before any site or connection: code, stacks, allocator.
pub const BASE_BYTES: u64 = 1024 * 1024;
/// Each worker's read buffer, event list, bookkeeping, whole-response copies,
/// remembered heads and send ring.
pub const PER_WORKER_BYTES: u64 = 64 * 1024
    + crate::answer::whole::WORKER_BYTES
    + crate::answer::memo::WORKER_BYTES
    + crate::net::batch::WORKER_BYTES;
/// A connection's worst case: slot, a whole head, a queue of replies, and
/// one whole response held back by a full socket (a kept one, or the rest of
/// a batched send) that its copy in `answer/whole.rs` may no longer share.
pub const PER_CONNECTION_BYTES: u64 = 256 + MAX_HEAD as u64 + 64 * 160 + crate::answer::whole::MAX_BYTES as u64;
/// A budget must leave room for at least this many connections.
pub const MIN_CONNECTIONS: u64 = 16;

/// How many connections fit beside a catalog of `catalog_bytes`, or why the
/// site does not fit at all. With HTTPS listeners (`tls`) every connection
/// is charged as one over TLS, and each worker its buffers for records.
pub fn connections(max_memory: u64, catalog_bytes: u64, workers: usize, tls: bool) -> Result<usize, String> {
    let (tls_worker, tls_connection) = if tls { tls_bytes() } else { (0, 0) };
    let fixed = BASE_BYTES + (PER_WORKER_BYTES + tls_worker) * workers as u64;
    let per_connection = PER_CONNECTION_BYTES + tls_connection;
    let needed = fixed + catalog_bytes + MIN_CONNECTIONS * per_connection;
    if needed > max_memory {
        return Err(format!(
            "--max-memory {max_memory}: the site needs {catalog_bytes} bytes in memory, and with the server itself and \
             room for {MIN_CONNECTIONS} connections that is {needed}; raise --max-memory or lower --cache-max"
        ));
    }
    Ok(((max_memory - fixed - catalog_bytes) / per_connection).min(usize::MAX as u64) as usize)
}

/// What HTTPS adds to a worker (its buffers for records in and out) and to
/// each connection at most: rustls's state, a record still arriving, and
/// the unsent tail of one the socket did not take whole.
#[cfg(feature = "tls")]
fn tls_bytes() -> (u64, u64) {
    use crate::net::tls;
    // rustls's keys and state: about 4 KB idle or in a handshake, charged
    // twice that.
    const RUSTLS_STATE: u64 = 8 * 1024;
    (tls::Buffers::BYTES as u64, RUSTLS_STATE + tls::MOST_KEPT as u64)
}

#[cfg(not(feature = "tls"))]
fn tls_bytes() -> (u64, u64) {
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divides_the_budget() {
        let one_conn = PER_CONNECTION_BYTES;
        let fixed = BASE_BYTES + PER_WORKER_BYTES;
        assert_eq!(connections(fixed + 100 + 20 * one_conn, 100, 1, false), Ok(20));
        assert!(connections(fixed + 100 + 15 * one_conn, 100, 1, false).unwrap_err().contains("--max-memory"));
        // ~42 KiB each at worst: a gigabyte still holds over 20,000.
        assert!(connections(1_000_000_000, 0, 2, false).unwrap() > 20_000);
        let (tls_worker, tls_conn) = tls_bytes();
        let tls_conn = one_conn + tls_conn;
        assert_eq!(connections(fixed + tls_worker + 100 + 20 * tls_conn, 100, 1, true), Ok(20));
    }
}
