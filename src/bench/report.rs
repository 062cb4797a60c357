//! What a bench run reports: per phase ops/s, MB/s and latency percentiles, the ceiling, and
//! end-to-end throughput as a fraction of the ceiling measured in the same run. The JSON form
//! (`--json FILE`) is these types serialized; field names are part of the bench's interface.
//!
//! Units: `mb_per_sec` is 10^6 bytes per second, `mib_per_sec` 2^20; latencies are
//! milliseconds, measured from the first byte sent to the last byte received.

use serde::Serialize;

use super::ceiling::CeilingReport;

/// Latency percentiles of the successful operations, milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    /// From per-operation latencies in microseconds (sorted here).
    pub fn from_micros(samples: &mut [u32]) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let pick = |q: f64| {
            // Nearest-rank percentile.
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            f64::from(samples[rank - 1]) / 1000.0
        };
        let sum: u64 = samples.iter().map(|&s| u64::from(s)).sum();
        Latency {
            p50_ms: pick(0.50),
            p90_ms: pick(0.90),
            p99_ms: pick(0.99),
            max_ms: f64::from(samples[samples.len() - 1]) / 1000.0,
            mean_ms: sum as f64 / samples.len() as f64 / 1000.0,
        }
    }
}

/// One phase of one run.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    /// `put`, `get`, `head`, `list`, `mixed`, `delete`.
    pub phase: String,
    /// Successful operations.
    pub ops: u64,
    pub errors: u64,
    /// The first error seen, for diagnosis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Payload bytes moved by successful operations (request bodies for PUT, response bodies
    /// for GET and LIST).
    pub bytes: u64,
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub mb_per_sec: f64,
    pub mib_per_sec: f64,
    pub latency: Latency,
    /// Mixed phase only: successful operations by kind.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ops_by_kind: Vec<(String, u64)>,
    /// PUT and GET: this phase's MB/s over the ceiling's MB/s for the same size (when the
    /// ceiling ran in the same invocation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fraction_of_ceiling: Option<f64>,
}

impl PhaseReport {
    pub fn new(
        phase: &str,
        ops: u64,
        errors: u64,
        first_error: Option<String>,
        bytes: u64,
        seconds: f64,
        samples: &mut [u32],
    ) -> PhaseReport {
        let secs = seconds.max(1e-9);
        PhaseReport {
            phase: phase.to_string(),
            ops,
            errors,
            first_error,
            bytes,
            seconds,
            ops_per_sec: ops as f64 / secs,
            mb_per_sec: bytes as f64 / secs / 1e6,
            mib_per_sec: bytes as f64 / secs / f64::from(1u32 << 20),
            latency: Latency::from_micros(samples),
            ops_by_kind: Vec::new(),
            fraction_of_ceiling: None,
        }
    }
}

/// One combination of size, concurrency and SSE mode.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub object_size: u64,
    pub concurrency: usize,
    pub sse: String,
    pub objects: u64,
    /// Who the phases ran as (`root`, `iam-user`).
    pub principal: String,
    /// Which of `--rounds` this run was (from 1).
    pub round: u32,
    pub phases: Vec<PhaseReport>,
    /// Resident memory of the bench process after this run (client and, with --in-process,
    /// server), MiB; Linux only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_mib_after: Option<f64>,
}

/// One principal's throughput against the baseline principal's (the first of
/// `--principals`) for one size, concurrency, SSE mode and phase: total operations over all
/// rounds divided by total seconds, one over the other.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PrincipalRatio {
    pub object_size: u64,
    pub concurrency: usize,
    pub sse: String,
    pub phase: String,
    pub principal: String,
    pub baseline: String,
    pub rounds: u32,
    pub ratio: f64,
    /// The median over rounds of this round's ratio (the two principals' runs of one round
    /// ran back to back): a slow spell of the machine during one run moves the summed
    /// [`PrincipalRatio::ratio`] by its share of the total, the median only by one rank.
    pub median_round_ratio: f64,
}

/// The median of `v` (the mean of the middle two for an even count); `v` non-empty.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The ratios of every principal but the first against the first (see [`PrincipalRatio`]).
pub fn principal_ratios(runs: &[RunReport]) -> Vec<PrincipalRatio> {
    use std::collections::BTreeMap;
    // (size, concurrency, sse) -> principals in first-seen order -> phase -> (ops, seconds,
    // ops/s per round).
    type Totals = Vec<(String, BTreeMap<String, (u64, f64, BTreeMap<u32, f64>)>)>;
    let mut groups: BTreeMap<(u64, usize, String), (Totals, u32)> = BTreeMap::new();
    for run in runs {
        let key = (run.object_size, run.concurrency, run.sse.clone());
        let (totals, rounds) = groups.entry(key).or_default();
        *rounds = (*rounds).max(run.round);
        let idx = match totals.iter().position(|(p, _)| *p == run.principal) {
            Some(i) => i,
            None => {
                totals.push((run.principal.clone(), BTreeMap::new()));
                totals.len() - 1
            }
        };
        for ph in &run.phases {
            let t = totals[idx].1.entry(ph.phase.clone()).or_default();
            t.0 += ph.ops;
            t.1 += ph.seconds;
            if ph.seconds > 0.0 {
                t.2.insert(run.round, ph.ops as f64 / ph.seconds);
            }
        }
    }
    let mut out = Vec::new();
    for ((size, c, sse), (totals, rounds)) in groups {
        let Some(((baseline, base), others)) = totals.split_first() else {
            continue;
        };
        for (principal, phases) in others {
            for (phase, (ops, secs, per_round)) in phases {
                let Some((bops, bsecs, base_rounds)) = base.get(phase) else {
                    continue;
                };
                if *bops == 0 || *secs <= 0.0 || *bsecs <= 0.0 {
                    continue;
                }
                let mut paired: Vec<f64> = per_round
                    .iter()
                    .filter_map(|(r, rate)| {
                        base_rounds.get(r).filter(|b| **b > 0.0).map(|b| rate / b)
                    })
                    .collect();
                if paired.is_empty() {
                    continue;
                }
                out.push(PrincipalRatio {
                    object_size: size,
                    concurrency: c,
                    sse: sse.clone(),
                    phase: phase.clone(),
                    principal: principal.clone(),
                    baseline: baseline.clone(),
                    rounds,
                    ratio: (*ops as f64 / secs) / (*bops as f64 / bsecs),
                    median_round_ratio: median(&mut paired),
                });
            }
        }
    }
    out
}

/// The whole invocation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// --startup-check: seconds the stopping in-process server spent writing sled's recovery
    /// snapshot (as `coffer serve` does after a clean stop): replaying the log the run wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_snapshot_seconds: Option<f64>,
    /// --startup-check: seconds to open the in-process server's data again after the stop
    /// (from that snapshot, nothing to replay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_seconds: Option<f64>,
    /// --startup-check: seconds for the start after that one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_startup_seconds: Option<f64>,
    /// Peak resident memory of the bench process, MiB (Linux only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rss_mib: Option<f64>,
    pub coffer_version: &'static str,
    /// `in-process` or the endpoint URL.
    pub target: String,
    pub payload: super::client::PayloadMode,
    pub seconds_per_phase: f64,
    /// Cores the process may use (`available_parallelism`).
    pub cores: usize,
    pub runs: Vec<RunReport>,
    /// With several principals: each one's ops/s against the first's, per phase.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub principal_ratios: Vec<PrincipalRatio>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ceiling: Vec<CeilingReport>,
    /// Noise warning: these figures come from whatever else the machine was doing.
    pub note: &'static str,
}

pub const NOTE: &str = "Throughput figures depend on everything else running on the machine \
    (client and server share its cores); compare ratios measured in one run.";

fn proc_status_kib(field: &str) -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line
        .trim_start_matches(field)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Current resident memory, MiB (`VmRSS`).
pub fn rss_mib() -> Option<f64> {
    proc_status_kib("VmRSS:")
}

/// Peak resident memory, MiB (`VmHWM`).
pub fn max_rss_mib() -> Option<f64> {
    proc_status_kib("VmHWM:")
}

/// Bytes as the human form used in tables (4KiB, 1MiB, 1000B).
pub fn human_size(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{}GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{}MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{}KiB", n >> 10)
    } else {
        format!("{n}B")
    }
}

/// The text tables printed at the end of a run (stdout).
pub fn render_text(report: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "coffer bench: target {}, payload {:?}, {:.1}s per phase, {} cores",
        report.target, report.payload, report.seconds_per_phase, report.cores
    );
    let _ = writeln!(s, "note: {}", report.note);
    for run in &report.runs {
        let _ = writeln!(
            s,
            "\n== size {} | concurrency {} | sse {} | objects {} | as {} ==",
            human_size(run.object_size),
            run.concurrency,
            run.sse,
            run.objects,
            run.principal
        );
        if let Some(r) = run.rss_mib_after {
            let _ = writeln!(s, "process RSS after this run: {r:.0} MiB");
        }
        let _ = writeln!(
            s,
            "{:<7} {:>9} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>8}",
            "phase",
            "ops",
            "ops/s",
            "MiB/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "errors",
            "%ceil"
        );
        for p in &run.phases {
            let ceil = p
                .fraction_of_ceiling
                .map(|f| format!("{:.0}%", f * 100.0))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                s,
                "{:<7} {:>9} {:>10.1} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>8}",
                p.phase,
                p.ops,
                p.ops_per_sec,
                p.mib_per_sec,
                p.latency.p50_ms,
                p.latency.p90_ms,
                p.latency.p99_ms,
                p.latency.max_ms,
                p.errors,
                ceil
            );
            if !p.ops_by_kind.is_empty() {
                let kinds: Vec<String> = p
                    .ops_by_kind
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect();
                let _ = writeln!(s, "        mixed: {}", kinds.join(", "));
            }
            if let Some(e) = &p.first_error {
                let _ = writeln!(s, "        first error: {e}");
            }
        }
    }
    if !report.principal_ratios.is_empty() {
        let _ = writeln!(
            s,
            "\nprincipals (ops/s over all rounds, against the first principal; median of the rounds' ratios):"
        );
        for r in &report.principal_ratios {
            let _ = writeln!(
                s,
                "  {} c{} {} {:<6} {} / {}: {:.3}x ({} round{}; median {:.3}x)",
                human_size(r.object_size),
                r.concurrency,
                r.sse,
                r.phase,
                r.principal,
                r.baseline,
                r.ratio,
                r.rounds,
                if r.rounds == 1 { "" } else { "s" },
                r.median_round_ratio
            );
        }
    }
    if let Some(t) = report.stop_snapshot_seconds {
        let _ = writeln!(
            s,
            "\nrecovery snapshot at the stop: {t:.3} s (replays the run's log)"
        );
    }
    if let Some(t) = report.startup_seconds {
        let _ = writeln!(
            s,
            "start-up on the data this run left: {t:.3} s (from that snapshot)"
        );
    }
    if let Some(t) = report.second_startup_seconds {
        let _ = writeln!(s, "the start after that: {t:.3} s");
    }
    if let Some(m) = report.max_rss_mib {
        let _ = writeln!(s, "peak process RSS: {m:.0} MiB");
    }
    if !report.ceiling.is_empty() {
        s.push_str(&super::ceiling::render_text(&report.ceiling));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        let l = Latency::from_micros(&mut v);
        assert_eq!(l.p50_ms, 50.0);
        assert_eq!(l.p90_ms, 90.0);
        assert_eq!(l.p99_ms, 99.0);
        assert_eq!(l.max_ms, 100.0);
        let l = Latency::from_micros(&mut []);
        assert_eq!(l.max_ms, 0.0);
        let l = Latency::from_micros(&mut [7000]);
        assert_eq!(l.p50_ms, 7.0);
    }

    #[test]
    fn principal_ratios_sum_rounds_against_the_first_principal() {
        let run = |principal: &str, round, ops, seconds| RunReport {
            object_size: 4096,
            concurrency: 16,
            sse: "kms".into(),
            objects: 10,
            principal: principal.into(),
            round,
            phases: vec![PhaseReport::new("put", ops, 0, None, 0, seconds, &mut [])],
            rss_mib_after: None,
        };
        let runs = [
            run("root", 1, 100, 1.0),
            run("iam-user", 1, 80, 1.0),
            run("iam-user", 2, 120, 1.0),
            run("root", 2, 100, 1.0),
        ];
        let r = principal_ratios(&runs);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].principal.as_str(), r[0].baseline.as_str()),
            ("iam-user", "root")
        );
        assert_eq!(r[0].rounds, 2);
        assert!((r[0].ratio - 1.0).abs() < 1e-9, "{}", r[0].ratio);
        // Rounds 0.8x and 1.2x: the median is their mean.
        assert!((r[0].median_round_ratio - 1.0).abs() < 1e-9);
        assert!(principal_ratios(&runs[..1]).is_empty());
        // One slow round moves the sum by its share, the median by one rank.
        let runs = [
            run("root", 1, 100, 1.0),
            run("iam-user", 1, 96, 1.0),
            run("iam-user", 2, 97, 1.0),
            run("root", 2, 100, 1.0),
            run("root", 3, 100, 1.0),
            run("iam-user", 3, 20, 1.0),
        ];
        let r = principal_ratios(&runs);
        assert!((r[0].ratio - 213.0 / 300.0).abs() < 1e-9, "{}", r[0].ratio);
        assert!((r[0].median_round_ratio - 0.96).abs() < 1e-9);
        let mut v = [3.0, 1.0, 2.0];
        assert_eq!(median(&mut v), 2.0);
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(human_size(4096), "4KiB");
        assert_eq!(human_size(1 << 20), "1MiB");
        assert_eq!(human_size(1000), "1000B");
    }
}
