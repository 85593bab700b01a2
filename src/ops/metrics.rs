//! The opt-in `--metrics PATH` page: the status page's counters in the
//! Prometheus text exposition format (version 0.0.4), named by its
//! conventions (`mote_` and a base unit, `_total` on counters, `process_`
//! for the process), for a Prometheus server or any agent that reads it.
//!
//! A scrape allocates once for its body: the text around the numbers is
//! fixed, so the exact length is known from the numbers' digits before a
//! byte is written, and the numbers go through itoa.
#![forbid(unsafe_code)]

use std::sync::atomic::Ordering;

use crate::net::shared::{Shared, Stats};
use crate::ops::status;
use crate::sys;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Each sample's text up to its value, after the HELP and TYPE lines when it
/// is its family's first. The order is `values`'.
const SAMPLES: [&str; 15] = [
    "# HELP mote_requests_total Responses sent, by status class.\n\
     # TYPE mote_requests_total counter\n\
     mote_requests_total{class=\"1xx\"} ",
    "mote_requests_total{class=\"2xx\"} ",
    "mote_requests_total{class=\"3xx\"} ",
    "mote_requests_total{class=\"4xx\"} ",
    "mote_requests_total{class=\"5xx\"} ",
    "# HELP mote_connections_open Client connections open now.\n\
     # TYPE mote_connections_open gauge\n\
     mote_connections_open ",
    "# HELP mote_connections_total Client connections accepted.\n\
     # TYPE mote_connections_total counter\n\
     mote_connections_total ",
    "# HELP mote_bytes_sent_total Bytes of responses sent, heads included.\n\
     # TYPE mote_bytes_sent_total counter\n\
     mote_bytes_sent_total ",
    "# HELP mote_batched_sends_total Responses handed to the kernel in an event-loop turn's io_uring batch.\n\
     # TYPE mote_batched_sends_total counter\n\
     mote_batched_sends_total ",
    "# HELP mote_whole_responses_total Responses sent whole from a worker's memo, with no reply built.\n\
     # TYPE mote_whole_responses_total counter\n\
     mote_whole_responses_total ",
    "# HELP mote_reloads_total Site reloads that succeeded.\n\
     # TYPE mote_reloads_total counter\n\
     mote_reloads_total ",
    "# HELP mote_workers Event-loop threads.\n\
     # TYPE mote_workers gauge\n\
     mote_workers ",
    "# HELP mote_io_uring_workers Event-loop threads that send through io_uring.\n\
     # TYPE mote_io_uring_workers gauge\n\
     mote_io_uring_workers ",
    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
     # TYPE process_resident_memory_bytes gauge\n\
     process_resident_memory_bytes ",
    "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n\
     # TYPE process_start_time_seconds gauge\n\
     process_start_time_seconds ",
];

pub fn render(shared: &Shared, own: usize, own_stats: &Stats) -> Vec<u8> {
    let stats = status::totals(shared, own, own_stats);
    let [r1, r2, r3, r4, r5] = stats.requests.map(Some);
    let values: [Option<u64>; SAMPLES.len()] = [
        r1,
        r2,
        r3,
        r4,
        r5,
        Some(shared.open_conns.load(Ordering::Relaxed) as u64),
        Some(stats.connections),
        Some(stats.bytes_out),
        Some(stats.batched_sends),
        Some(stats.whole_responses),
        Some(shared.reloads.load(Ordering::Relaxed) as u64),
        Some(shared.stats.len() as u64),
        Some(stats.rings),
        // Unknown (no /proc after --chroot, a clock not yet set) is left
        // out rather than reported as 0.
        sys::resident_bytes(),
        shared.start_time(),
    ];
    #[cfg(feature = "acme")]
    let more = acme(shared);
    #[cfg(not(feature = "acme"))]
    let more = Vec::new();
    write(&values, &more)
}

/// The `--acme` certificates' families, labelled by each flag's names.
#[cfg(feature = "acme")]
fn acme(shared: &Shared) -> Vec<u8> {
    let reports = shared.acme.as_ref().map(|acme| acme.reports()).unwrap_or_default();
    let mut text = String::new();
    type Family = (&'static str, &'static str, fn(&crate::acme::Report) -> Option<i64>);
    let families: [Family; 3] = [
        (
            "mote_acme_certificate_expiry_timestamp_seconds",
            "When the certificate served for these names expires, since unix epoch.",
            |r| r.not_after,
        ),
        (
            "mote_acme_next_renewal_timestamp_seconds",
            "When the ACME client next acts for these names, since unix epoch.",
            |r| r.next_renewal,
        ),
        ("mote_acme_failures", "Failed ACME attempts in a row for these names.", |r| Some(i64::from(r.failures))),
    ];
    for (name, help, value) in families {
        let samples: Vec<_> = reports.iter().filter_map(|r| Some((r, value(r)?))).collect();
        if samples.is_empty() {
            continue;
        }
        text += &format!("# HELP {name} {help}\n# TYPE {name} gauge\n");
        for (report, value) in samples {
            text += &format!("{name}{{names=\"{}\"}} {value}\n", label(&report.names));
        }
    }
    let errors: Vec<_> = reports.iter().filter(|r| !r.last_error.is_empty()).collect();
    if !errors.is_empty() {
        text += "# HELP mote_acme_last_error_info The last ACME error for these names, while it stands.\n\
                 # TYPE mote_acme_last_error_info gauge\n";
        for report in errors {
            text += &format!(
                "mote_acme_last_error_info{{names=\"{}\",error=\"{}\"}} 1\n",
                label(&report.names),
                label(&report.last_error)
            );
        }
    }
    text.into_bytes()
}

/// A label value as the text format escapes it: backslash, quote, newline.
#[cfg(feature = "acme")]
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The samples that have a value, then `more`, in one buffer of exactly their size.
fn write(values: &[Option<u64>; SAMPLES.len()], more: &[u8]) -> Vec<u8> {
    let lines = || SAMPLES.iter().zip(values).filter_map(|(text, value)| value.map(|value| (text, value)));
    let len: usize = lines().map(|(text, value)| text.len() + digits(value) + 1).sum::<usize>() + more.len();
    let mut page = Vec::with_capacity(len);
    let mut number = itoa::Buffer::new();
    for (text, value) in lines() {
        page.extend_from_slice(text.as_bytes());
        page.extend_from_slice(number.format(value).as_bytes());
        page.push(b'\n');
    }
    page.extend_from_slice(more);
    debug_assert_eq!(page.len(), len);
    page
}

fn digits(value: u64) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_buffer_of_exactly_its_size() {
        for values in [
            [Some(0); 15],
            [Some(u64::MAX); 15],
            [
                Some(9),
                Some(10),
                None,
                Some(99),
                Some(100),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                Some(1),
            ],
        ] {
            let page = write(&values, &[]);
            assert_eq!(page.len(), page.capacity(), "{values:?}");
            assert_eq!(page.last(), Some(&b'\n'));
        }
        let page = String::from_utf8(write(&[Some(7); 15], &[])).unwrap();
        assert!(page.starts_with("# HELP mote_requests_total "), "{page}");
        assert!(page.contains("\n# TYPE mote_requests_total counter\nmote_requests_total{class=\"1xx\"} 7\n"));
        assert!(page.ends_with("\nprocess_start_time_seconds 7\n"), "{page}");
        // A family without a value is left out whole, HELP and TYPE too.
        let mut values = [Some(1); 15];
        values[13] = None;
        let page = String::from_utf8(write(&values, &[])).unwrap();
        assert!(!page.contains("process_resident_memory_bytes"), "{page}");
    }

    #[test]
    fn digits_of_a_number() {
        for (value, want) in [(0, 1), (9, 1), (10, 2), (99, 2), (100, 3), (u64::MAX, 20)] {
            assert_eq!(digits(value), want, "{value}");
        }
    }
}
