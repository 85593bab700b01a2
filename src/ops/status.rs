//! The opt-in `--status PATH` page: a few counters in plain text, for a
//! person with curl or a monitoring script, and each `--acme` certificate's
//! dates and errors. Figures from other workers are
//! at most a second old (they publish once a second).
#![forbid(unsafe_code)]

use std::sync::atomic::Ordering;

use crate::net::shared::{Shared, Stats};
use crate::sys;

pub const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// Every worker's counters added up: this worker's as they are now, the
/// others' as last published. This worker publishes its own first, so
/// totals read by any worker only grow: a counter that went back would look
/// like a restart to whatever computes rates from it.
pub fn totals(shared: &Shared, own: usize, own_stats: &Stats) -> Stats {
    shared.publish_stats(own, own_stats);
    let mut stats = Stats::default();
    for slot in &shared.stats {
        stats.add(&slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    }
    stats
}

pub fn render(shared: &Shared, own: usize, own_stats: &Stats) -> Vec<u8> {
    let stats = totals(shared, own, own_stats);
    let mut page = Vec::with_capacity(256);
    let mut line = |name: &str, value: u64| {
        page.extend_from_slice(name.as_bytes());
        page.extend_from_slice(b": ");
        page.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        page.push(b'\n');
    };
    line("uptime_seconds", shared.started.elapsed().as_secs());
    line("connections_open", shared.open_conns.load(Ordering::Relaxed) as u64);
    line("connections_total", stats.connections);
    for (class, count) in
        ["requests_1xx", "requests_2xx", "requests_3xx", "requests_4xx", "requests_5xx"].into_iter().zip(stats.requests)
    {
        line(class, count);
    }
    line("bytes_out", stats.bytes_out);
    line("batched_sends", stats.batched_sends);
    // The key predates the word "whole response"; monitoring scripts read it.
    line("kept_responses", stats.whole_responses);
    line("io_uring_workers", stats.rings);
    line("reloads", shared.reloads.load(Ordering::Relaxed) as u64);
    line("rss_bytes", sys::resident_bytes().unwrap_or(0));
    line("workers", shared.stats.len() as u64);
    #[cfg(feature = "acme")]
    acme(shared, &mut page);
    page
}

/// Each `--acme` certificate: when it expires and is next renewed (unix
/// seconds; absent while unknown), failures in a row, and the last error.
#[cfg(feature = "acme")]
fn acme(shared: &Shared, page: &mut Vec<u8>) {
    for report in shared.acme.iter().flat_map(|acme| acme.reports()) {
        let mut line = |key: &str, value: &str| {
            page.extend_from_slice(format!("acme_{key} {}: {value}\n", report.names).as_bytes());
        };
        let time = |t: Option<i64>| t.map_or_else(|| "none".to_owned(), |t| t.to_string());
        line("not_after", &time(report.not_after));
        line("next_renewal", &time(report.next_renewal));
        line("failures", &report.failures.to_string());
        line("last_error", if report.last_error.is_empty() { "none" } else { &report.last_error });
    }
}
