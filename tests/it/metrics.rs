//! `--metrics PATH`: the counters in the Prometheus text format (0.0.4),
//! read by the Prometheus project's own parser (python `prometheus_client`):
//! the families and their types, counters that move by exactly what was
//! sent, the process's start time, no caching, HEAD, `--auth`, and a path
//! that may not be the `--status` path.

use crate::common::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Parses an exposition with `text_string_to_metric_families` and prints a
/// line per family (`family NAME TYPE HELP`) and per sample (`sample
/// NAME{label="v",...} VALUE`); the parser raises on anything malformed.
const PARSE: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    print("family", family.name, family.type, family.documentation)
    for sample in family.samples:
        labels = ",".join('%s="%s"' % item for item in sorted(sample.labels.items()))
        print("sample", sample.name + ("{" + labels + "}" if labels else ""), repr(sample.value))
"#;

struct Scrape {
    /// Family name -> (type, help).
    families: BTreeMap<String, (String, String)>,
    samples: BTreeMap<String, f64>,
    /// Bytes of the whole response, as sent.
    bytes: u64,
}

impl Scrape {
    #[track_caller]
    fn value(&self, sample: &str) -> f64 {
        *self.samples.get(sample).unwrap_or_else(|| panic!("no sample {sample}: {:?}", self.samples))
    }
}

fn response_bytes(r: &Response) -> u64 {
    (r.raw_head.len() + r.body.len()) as u64
}

#[track_caller]
fn scrape(server: &Server, path: &str, headers: &[&str]) -> Scrape {
    let r = server.request(req("GET", path, headers));
    r.assert_status(200)
        .assert_header("content-type", "text/plain; version=0.0.4; charset=utf-8")
        .assert_header("cache-control", "no-store");
    let out = String::from_utf8(python3(PARSE, &r.body)).unwrap();
    let mut families = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in out.lines() {
        let mut words = line.splitn(4, ' ');
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some("family"), Some(name), Some(kind), help) => {
                families.insert(name.to_string(), (kind.to_string(), help.unwrap_or("").to_string()));
            }
            (Some("sample"), Some(name), Some(value), None) => {
                samples.insert(name.to_string(), value.parse().unwrap());
            }
            _ => panic!("unexpected parser output {line:?}"),
        }
    }
    Scrape { families, samples, bytes: response_bytes(&r) }
}

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

fn requests(scrape: &Scrape, class: &str) -> f64 {
    scrape.value(&format!("mote_requests_total{{class=\"{class}\"}}"))
}

#[test]
fn families_by_the_conventions() {
    if python_module_missing("prometheus_client") {
        return;
    }
    let before = now_secs();
    let server = Server::start(&["--metrics", "/metrics"]);
    let after = now_secs();
    let first = scrape(&server, "/metrics", &[]);
    // The parser names a counter's family without `_total`.
    let want = [
        ("mote_requests", "counter"),
        ("mote_connections_open", "gauge"),
        ("mote_connections", "counter"),
        ("mote_bytes_sent", "counter"),
        ("mote_batched_sends", "counter"),
        ("mote_whole_responses", "counter"),
        ("mote_reloads", "counter"),
        ("mote_workers", "gauge"),
        ("mote_io_uring_workers", "gauge"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ];
    for (name, kind) in want {
        let (got, help) = first.families.get(name).unwrap_or_else(|| panic!("no family {name}: {:?}", first.families));
        assert_eq!(got, kind, "{name}");
        assert!(!help.is_empty(), "{name} has no HELP");
    }
    assert_eq!(first.families.len(), want.len(), "{:?}", first.families);
    for class in CLASSES {
        requests(&first, class);
    }
    assert_eq!(first.value("mote_workers"), 1.0);
    assert_eq!(first.value("mote_connections_open"), 1.0); // the scrape's own
    assert!(first.value("process_resident_memory_bytes") > 100_000.0);
    let start = first.value("process_start_time_seconds");
    assert!((before as f64..=after as f64).contains(&start), "{start} not in {before}..={after}");
    // HEAD: the headers, no body.
    let head = server.request(req("HEAD", "/metrics", &[]));
    head.assert_status(200).assert_header("content-type", "text/plain; version=0.0.4; charset=utf-8");
    assert!(head.body.is_empty());
    assert!(head.must("content-length").parse::<usize>().unwrap() > 1000, "{}", head.raw_head);
    // The site is still there.
    server.get("/").assert_status(200);
}

/// Every response is counted by class and bytes, every connection once.
#[test]
fn counters_move_with_requests() {
    if python_module_missing("prometheus_client") {
        return;
    }
    let site = Site::standard();
    let server = site.serve(&["--metrics", "/.well/metrics"]);
    let first = scrape(&server, "/.well/metrics", &[]);
    let mut sent = first.bytes;
    let responses = [
        server.get("/"),
        server.get("/style.css"),
        server.request(req("HEAD", "/app.js", &[])),
        server.get("/docs"),
        server.get("/missing"),
        server.get("/nope.css"),
        server.request(req("DELETE", "/", &[])),
    ];
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 301, 404, 404, 405]);
    sent += responses.iter().map(response_bytes).sum::<u64>();
    let second = scrape(&server, "/.well/metrics", &[]);
    let moved = |class| requests(&second, class) - requests(&first, class);
    // The first scrape is a 2xx the second one sees.
    assert_eq!(CLASSES.map(moved), [0.0, 4.0, 1.0, 3.0, 0.0], "{:?}", second.samples);
    assert_eq!(second.value("mote_bytes_sent_total") - first.value("mote_bytes_sent_total"), sent as f64);
    // Seven requests on their own connections, and the second scrape's.
    assert_eq!(second.value("mote_connections_total") - first.value("mote_connections_total"), 8.0);
    assert_eq!(second.value("process_start_time_seconds"), first.value("process_start_time_seconds"));
    // A reload is counted.
    assert_eq!(second.value("mote_reloads_total"), 0.0);
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while scrape(&server, "/.well/metrics", &[]).value("mote_reloads_total") != 1.0 {
        assert!(Instant::now() < deadline, "the reload was not counted:\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// With several workers a scrape may land on any of them; the totals it
/// reads must still only grow, or a rate over them would see a restart.
#[test]
fn totals_only_grow_across_workers() {
    if python_module_missing("prometheus_client") {
        return;
    }
    let server = Server::start(&["--metrics", "/metrics", "--threads", "4"]);
    assert_eq!(scrape(&server, "/metrics", &[]).value("mote_workers"), 4.0);
    // Read by hand here: the parser has checked this format above, and
    // starting it a hundred times would only make the test slow.
    let mut last = 0;
    for _ in 0..100 {
        server.get("/").assert_status(200);
        let page = server.get("/metrics").text();
        let total: u64 = page
            .lines()
            .filter_map(|line| line.strip_prefix("mote_requests_total{"))
            .map(|line| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum();
        assert!(total >= last, "requests went from {last} to {total}:\n{page}");
        last = total;
    }
}

#[test]
fn metrics_need_credentials_under_auth() {
    if python_module_missing("prometheus_client") {
        return;
    }
    let server = Server::start(&["--metrics", "/metrics", "--auth", "prom:scrape"]);
    server.get("/metrics").assert_status(401);
    // "prom:scrape" in base64 (RFC 4648).
    let metrics = scrape(&server, "/metrics", &["Authorization: Basic cHJvbTpzY3JhcGU="]);
    assert_eq!(requests(&metrics, "4xx"), 1.0, "{:?}", metrics.samples);
}

#[test]
fn metrics_and_status_need_paths_of_their_own() {
    let (status, _, err) = run_to_exit(&["--status", "/m", "--metrics", "/m"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--metrics") && err.contains("--status") && err.contains("/m"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for bad in ["metrics", "/a//b", "/a/../metrics", "/x y"] {
        let (status, _, err) = run_to_exit(&["--metrics", bad]);
        assert_eq!(status.code(), Some(2), "--metrics {bad:?}: {err}");
        assert!(err.contains("--metrics"), "{err}");
    }
    // Both at once, each its own page.
    let server = Server::start(&["--status", "/status", "--metrics", "/metrics"]);
    let status = server.get("/status");
    status.assert_status(200).assert_header("content-type", "text/plain; charset=utf-8");
    assert!(status.text().contains("requests_2xx: "), "{}", status.text());
    let metrics = server.get("/metrics");
    metrics.assert_header("content-type", "text/plain; version=0.0.4; charset=utf-8");
    assert!(metrics.text().contains("\nmote_requests_total{class=\"2xx\"} 1\n"), "{}", metrics.text());
}
