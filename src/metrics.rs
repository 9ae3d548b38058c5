//! Process-wide counters, gauges and histograms, rendered in the Prometheus text format at
//! `/metrics` on the REST port. A handful of series, so a map behind a mutex is plenty.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A metric name with its labels, in order.
type Series = (&'static str, Vec<(&'static str, String)>);

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Registry {
    counters: BTreeMap<Series, u64>,
    gauges: BTreeMap<Series, f64>,
    histograms: BTreeMap<Series, Histogram>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

/// Help text of each metric, printed once per family.
const HELP: [(&str, &str, &str); 11] = [
    (
        "dataportal_rpc_requests_total",
        "counter",
        "RPCs served, by method, transport (grpc, rest) and gRPC status code.",
    ),
    ("dataportal_rpc_duration_seconds", "histogram", "Time to answer an RPC, by method and transport."),
    (
        "dataportal_dolphin_requests_total",
        "counter",
        "HTTP requests sent to DolphinScheduler, by method and outcome.",
    ),
    (
        "dataportal_dolphin_request_duration_seconds",
        "histogram",
        "Time DolphinScheduler took to answer, by method.",
    ),
    ("dataportal_dolphin_errors_total", "counter", "DolphinScheduler calls that failed, by reason."),
    ("dataportal_callbacks_received_total", "counter", "Execution reports stored, by kind."),
    (
        "dataportal_callbacks_deduplicated_total",
        "counter",
        "Reports that changed no record (duplicates or stale), by kind.",
    ),
    ("dataportal_callbacks_rejected_total", "counter", "Reports refused or dropped, by reason."),
    ("dataportal_poller_reads_total", "counter", "Reads of followed workflow instances, by outcome."),
    ("dataportal_poller_lag_seconds", "gauge", "How late the most overdue followed instance is read."),
    ("dataportal_reports_pending", "gauge", "Stored reports not applied yet."),
];

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn series(name: &'static str, labels: &[(&'static str, &str)]) -> Series {
    (name, labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect())
}

/// Adds `by` to a counter.
pub fn count(name: &'static str, labels: &[(&'static str, &str)], by: u64) {
    *registry().counters.entry(series(name, labels)).or_default() += by;
}

/// Sets a gauge.
pub fn set_gauge(name: &'static str, labels: &[(&'static str, &str)], value: f64) {
    registry().gauges.insert(series(name, labels), value);
}

/// Records one observation of a duration.
pub fn observe(name: &'static str, labels: &[(&'static str, &str)], elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    let mut registry = registry();
    let histogram = registry.histograms.entry(series(name, labels)).or_default();
    for (bucket, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
        if seconds <= bound {
            *bucket += 1;
        }
    }
    histogram.count += 1;
    histogram.sum += seconds;
}

/// Everything recorded so far, in the Prometheus text exposition format (0.0.4).
pub fn render() -> String {
    let registry = registry();
    let mut out = String::new();
    for (family, kind, help) in HELP {
        let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} {kind}");
        for ((name, labels), value) in registry.counters.iter().filter(|((n, _), _)| *n == family) {
            let _ = writeln!(out, "{name}{} {value}", label_text(labels, None));
        }
        for ((name, labels), value) in registry.gauges.iter().filter(|((n, _), _)| *n == family) {
            let _ = writeln!(out, "{name}{} {value}", label_text(labels, None));
        }
        for ((name, labels), histogram) in registry.histograms.iter().filter(|((n, _), _)| *n == family) {
            for (count, bound) in histogram.counts.iter().zip(BUCKETS) {
                let _ =
                    writeln!(out, "{name}_bucket{} {count}", label_text(labels, Some(&bound.to_string())));
            }
            let _ = writeln!(out, "{name}_bucket{} {}", label_text(labels, Some("+Inf")), histogram.count);
            let _ = writeln!(out, "{name}_sum{} {}", label_text(labels, None), histogram.sum);
            let _ = writeln!(out, "{name}_count{} {}", label_text(labels, None), histogram.count);
        }
    }
    out
}

fn label_text(labels: &[(&'static str, String)], le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() { String::new() } else { format!("{{{}}}", parts.join(",")) }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_render_in_the_text_format() {
        count("dataportal_callbacks_received_total", &[("kind", "TEST_\"KIND\"")], 2);
        observe(
            "dataportal_rpc_duration_seconds",
            &[("method", "/test.Service/Render")],
            Duration::from_millis(3),
        );
        let text = render();
        assert!(text.contains("dataportal_callbacks_received_total{kind=\"TEST_\\\"KIND\\\"\"} 2"), "{text}");
        assert!(text.contains(
            "dataportal_rpc_duration_seconds_bucket{method=\"/test.Service/Render\",le=\"0.0025\"} 0"
        ));
        assert!(text.contains(
            "dataportal_rpc_duration_seconds_bucket{method=\"/test.Service/Render\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("dataportal_rpc_duration_seconds_count{method=\"/test.Service/Render\"} 1"));
        assert!(text.contains("# TYPE dataportal_poller_lag_seconds gauge"));
    }
}
