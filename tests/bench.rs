//! `coffer bench` smoke tests: the bench runs against an in-process Coffer with tiny settings
//! and reports sane, non-zero figures for every phase. No timed assertions: only that work was
//! done, nothing failed and the numbers are consistent with each other.

use coffer::bench::{BenchArgs, BenchOptions};

fn tiny_args(json: Option<std::path::PathBuf>, scratch: &std::path::Path) -> BenchArgs {
    BenchArgs {
        endpoint: None,
        in_process: true,
        access_key: None,
        secret_key: None,
        region: "us-east-1".into(),
        bucket: "bench-smoke".into(),
        size: "4KiB".into(),
        objects: 20,
        concurrency: "2".into(),
        duration: "1s".into(),
        sse: "s3,kms".into(),
        phases: "put,get,head,list,mixed,delete".into(),
        payload: "sha256".into(),
        ceiling: false,
        ceiling_duration: None,
        json,
        quiet: true,
        scratch_dir: Some(scratch.to_path_buf()),
        fill: false,
        startup_check: true,
        principals: "root".into(),
        rounds: 1,
    }
}

fn num(v: &serde_json::Value, field: &str) -> f64 {
    v[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_in_process_reports_every_phase() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let json = scratch.path().join("report.json");
    let opts: BenchOptions = tiny_args(Some(json.clone()), scratch.path())
        .parse_options()
        .expect("options");
    coffer::bench::run(&opts).await.expect("bench runs");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written"))
            .expect("valid JSON");
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "one run per SSE mode");
    // --startup-check: two timed starts on the data the run left.
    assert!(num(&report, "stop_snapshot_seconds") > 0.0, "{report}");
    assert!(num(&report, "startup_seconds") > 0.0, "{report}");
    assert!(num(&report, "second_startup_seconds") > 0.0, "{report}");
    for run in runs {
        let phases = run["phases"].as_array().expect("phases");
        let names: Vec<&str> = phases.iter().filter_map(|p| p["phase"].as_str()).collect();
        assert_eq!(names, ["put", "get", "head", "list", "mixed", "delete"]);
        for p in phases {
            let name = p["phase"].as_str().unwrap_or("?");
            assert!(num(p, "ops") > 0.0, "{name}: no operations: {p}");
            // The mixed phase overwrites keys other workers read; see the bench report for
            // the GET-during-overwrite race. Every other phase must be clean.
            if name != "mixed" {
                assert_eq!(num(p, "errors"), 0.0, "{name}: {p}");
            }
            assert!(num(p, "ops_per_sec") > 0.0, "{name}: {p}");
            assert!(num(p, "seconds") > 0.0, "{name}: {p}");
            let lat = &p["latency"];
            for f in ["p50_ms", "p90_ms", "p99_ms", "max_ms"] {
                assert!(num(lat, f) > 0.0, "{name} {f}: {p}");
            }
            assert!(num(lat, "p50_ms") <= num(lat, "p90_ms"));
            assert!(num(lat, "p90_ms") <= num(lat, "p99_ms"));
            assert!(num(lat, "p99_ms") <= num(lat, "max_ms"));
            if matches!(name, "put" | "get" | "list" | "mixed") {
                assert!(num(p, "mb_per_sec") > 0.0, "{name}: {p}");
            }
        }
        // PUT and GET move exactly the object size per operation.
        for p in &phases[..2] {
            assert_eq!(num(p, "bytes"), num(p, "ops") * 4096.0, "{p}");
        }
        // DELETE removes each written key once (PUT wrote at least `objects` keys in 1 s).
        assert!(num(&phases[5], "ops") <= 20.0);
    }
    // The scratch directories are gone.
    let left: Vec<_> = std::fs::read_dir(scratch.path())
        .expect("scratch")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("coffer-bench-"))
        .collect();
    assert!(left.is_empty(), "scratch left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_ceiling_reports_every_stage_and_fraction() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut args = tiny_args(None, scratch.path());
    args.ceiling = true;
    args.ceiling_duration = Some("100ms".into());
    args.sse = "kms".into();
    args.phases = "put,get".into();
    args.duration = "500ms".into();
    let report = coffer::bench::run(&args.parse_options().expect("options"))
        .await
        .expect("bench runs");
    assert_eq!(report.ceiling.len(), 1);
    let c = &report.ceiling[0];
    for stage in [
        "encrypt",
        "decrypt",
        "sha256",
        "md5",
        "kms_generate_kms",
        "kms_decrypt_kms",
        "sled_write_flush_c1",
        "sled_write_flush_c2",
        "sled_read",
    ] {
        let s = c
            .stages
            .iter()
            .find(|s| s.stage == stage)
            .unwrap_or_else(|| panic!("stage {stage} missing"));
        assert!(s.ops > 0 && s.ops_per_sec > 0.0, "{s:?}");
    }
    assert!(c.find("put", "kms", 2).is_some_and(|d| d.ops_per_sec > 0.0));
    assert!(c.find("get", "kms", 0).is_some_and(|d| d.ops_per_sec > 0.0));
    let phases = &report.runs[0].phases;
    for p in phases {
        let f = p.fraction_of_ceiling.expect("fraction for put and get");
        assert!(f > 0.0 && f.is_finite(), "{p:?}");
    }
    let text = coffer::bench::report::render_text(&report);
    assert!(text.contains("ceiling") && text.contains("put"));
}

/// `--principals root,iam-user`: the same phases as the account root and as an IAM user with
/// 10 attached policies into a bucket with a 20-statement policy; both are served (no denial).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_runs_as_root_and_as_a_policy_laden_user() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut args = tiny_args(None, scratch.path());
    args.principals = "root,iam-user".into();
    args.sse = "kms".into();
    args.phases = "put,get".into();
    args.duration = "300ms".into();
    args.startup_check = false;
    args.rounds = 2;
    let report = coffer::bench::run(&args.parse_options().expect("options"))
        .await
        .expect("bench runs");
    // Two rounds, the second in reverse order.
    let who: Vec<(&str, u32)> = report
        .runs
        .iter()
        .map(|r| (r.principal.as_str(), r.round))
        .collect();
    assert_eq!(
        who,
        [("root", 1), ("iam-user", 1), ("iam-user", 2), ("root", 2)]
    );
    let phases: Vec<&str> = report
        .principal_ratios
        .iter()
        .map(|r| r.phase.as_str())
        .collect();
    assert_eq!(phases, ["get", "put"]);
    for r in &report.principal_ratios {
        assert_eq!(
            (r.principal.as_str(), r.baseline.as_str(), r.rounds),
            ("iam-user", "root", 2)
        );
        assert!(r.ratio > 0.0 && r.ratio.is_finite(), "{r:?}");
        assert!(
            r.median_round_ratio > 0.0 && r.median_round_ratio.is_finite(),
            "{r:?}"
        );
    }
    assert!(coffer::bench::report::render_text(&report).contains("iam-user / root"));
    for run in &report.runs {
        for p in &run.phases {
            assert!(p.ops > 0, "{}: {p:?}", run.principal);
            assert_eq!(p.errors, 0, "{}: {p:?}", run.principal);
        }
    }
    let mut bad = tiny_args(None, scratch.path());
    bad.principals = "iam-user".into();
    bad.in_process = false;
    bad.endpoint = Some("http://127.0.0.1:1".into());
    assert!(bad.parse_options().is_err());
}

#[test]
fn bench_cli_refuses_bad_flags() {
    let bin = env!("CARGO_BIN_EXE_coffer");
    let out = std::process::Command::new(bin)
        .args(["bench", "--in-process", "--size", "3XB"])
        .output()
        .expect("run coffer");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad size"));
    let out = std::process::Command::new(bin)
        .args(["bench"])
        .env_remove("COFFER_BENCH_ENDPOINT")
        .output()
        .expect("run coffer");
    assert!(!out.status.success());
}

/// Regression: `Store::flush` called `flush_async` per caller; each call parked one thread of
/// sled's I/O pool until the log buffers were written, and those writes queue on the same pool,
/// so 16 concurrent PUTs stopped the server for good (found by `coffer bench -c 16`: 0 PUT/s).
/// Group commit keeps one flush in flight. The bound below is a liveness limit, not a timing.
#[test]
fn regression_concurrent_flushes_do_not_deadlock() {
    // The writers run on a thread of their own: were sled to wedge again, this test must fail
    // rather than hang (dropping a wedged store blocks in sled's own flush-on-drop).
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = coffer::storage::Store::open(
                &dir.path().join("db"),
                &coffer::storage::StoreOptions::default(),
            )
            .expect("open");
            let mut tasks = Vec::new();
            for w in 0..64u64 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..5u64 {
                        let id = store.begin_stream(w * 100 + i).expect("begin");
                        store.put_chunk(&id, 0, &[w as u8; 4096]).expect("put");
                        store.flush().await.expect("flush");
                    }
                }));
            }
            for t in tasks {
                t.await.expect("task");
            }
        });
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("64 concurrent writers flushing finish (no sled pool deadlock)");
}
