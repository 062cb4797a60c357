//! The load phases: N workers, one keep-alive connection each, issuing signed requests until the
//! phase's deadline (or its operation count) is reached.
//!
//! Keys: `PREFIX objNNNNNNNN`. PUT writes key indexes 0, 1, 2, ... and wraps around at
//! `--objects` (overwriting), so a run's key set is bounded whatever its duration. GET, HEAD and
//! the mixed phase pick random keys among those written; DELETE removes each written key once
//! and ends early when none are left. Mixed: 50% GET, 30% HEAD, 15% PUT (overwrite), 5% LIST
//! (no DELETE, so every key a GET picks exists).
//!
//! Latency is recorded per successful operation (first byte sent to last byte received);
//! failures are counted and the first one kept for the report.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::client::{Conn, PayloadMode, RequestSpec, Signer, encode_key};
use super::report::PhaseReport;
use super::{Phase, SseChoice};
use crate::api::auth::sigv4::{EMPTY_SHA256, UNSIGNED_PAYLOAD, sha256_hex, uri_encode};

/// Most latency samples kept per worker and phase (memory stays bounded on long runs; the
/// percentiles then describe the first samples only).
pub const MAX_SAMPLES_PER_WORKER: usize = 1 << 20;
/// Pause after a failed connection attempt, so a dead endpoint is not hammered.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);
/// How long past the phase deadline an operation in flight may take before it is abandoned
/// (counted as an error, its connection dropped): a stalled server cannot stall the bench.
pub const PHASE_GRACE: Duration = Duration::from_secs(10);

/// Where requests go.
pub struct Target {
    pub addr: SocketAddr,
    pub signer: Signer,
    pub bucket: String,
    pub payload: PayloadMode,
}

/// One combination of size, concurrency and SSE mode.
pub struct RunCtx {
    pub target: Arc<Target>,
    pub prefix: String,
    pub size: u64,
    pub concurrency: usize,
    pub sse: SseChoice,
    pub objects: u64,
    pub body: Arc<Vec<u8>>,
    pub body_hash: String,
    pub progress: bool,
    pub label: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Put(u64),
    Get(u64),
    Head(u64),
    List,
    Delete(u64),
}

impl Op {
    fn kind(self) -> usize {
        match self {
            Op::Get(_) => 0,
            Op::Head(_) => 1,
            Op::Put(_) => 2,
            Op::List => 3,
            Op::Delete(_) => 4,
        }
    }
}

const KIND_NAMES: [&str; 5] = ["get", "head", "put", "list", "delete"];

impl RunCtx {
    fn key(&self, i: u64) -> String {
        format!("{}obj{i:08}", self.prefix)
    }

    /// Sends one operation; `Ok(payload bytes)` on success.
    async fn op(&self, conn: &mut Option<Conn>, op: Op) -> Result<u64, String> {
        let t = &self.target;
        let bucket_path = format!("/{}", t.bucket);
        let (method, path, query, body, no_body, keep): (&str, String, String, &[u8], bool, bool) =
            match op {
                Op::Put(i) => (
                    "PUT",
                    format!("{bucket_path}/{}", encode_key(&self.key(i))),
                    String::new(),
                    self.body.as_slice(),
                    false,
                    true,
                ),
                Op::Get(i) => (
                    "GET",
                    format!("{bucket_path}/{}", encode_key(&self.key(i))),
                    String::new(),
                    &[],
                    false,
                    false,
                ),
                Op::Head(i) => (
                    "HEAD",
                    format!("{bucket_path}/{}", encode_key(&self.key(i))),
                    String::new(),
                    &[],
                    true,
                    false,
                ),
                Op::Delete(i) => (
                    "DELETE",
                    format!("{bucket_path}/{}", encode_key(&self.key(i))),
                    String::new(),
                    &[],
                    false,
                    true,
                ),
                Op::List => {
                    let mut prefix = String::new();
                    uri_encode(self.prefix.as_bytes(), false, &mut prefix);
                    (
                        "GET",
                        bucket_path.clone(),
                        format!("list-type=2&max-keys=1000&prefix={prefix}"),
                        &[],
                        false,
                        true,
                    )
                }
            };
        let is_put = matches!(op, Op::Put(_));
        let payload_hash = if !is_put {
            EMPTY_SHA256
        } else if t.payload == PayloadMode::Sha256 {
            self.body_hash.as_str()
        } else {
            UNSIGNED_PAYLOAD
        };
        let sse_header: Vec<(&str, &str)> = self
            .sse
            .header_value()
            .map(|v| ("x-amz-server-side-encryption", v))
            .into_iter()
            .collect();
        let head = t.signer.head(
            &RequestSpec {
                method,
                path: &path,
                query: &query,
                payload_hash,
                content_length: is_put.then_some(body.len()),
                amz_headers: if is_put { &sse_header } else { &[] },
            },
            SystemTime::now(),
        );
        if conn.is_none() {
            match Conn::connect(t.addr).await {
                Ok(c) => *conn = Some(c),
                Err(e) => {
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    return Err(format!("connect {}: {e}", t.addr));
                }
            }
        }
        let Some(c) = conn.as_mut() else {
            return Err("no connection".into());
        };
        let resp = match c.round_trip(&head, body, no_body, keep).await {
            Ok(r) => r,
            Err(e) => {
                *conn = None;
                return Err(format!("{method} {path}: {e}"));
            }
        };
        if !c.is_reusable() {
            *conn = None;
        }
        let ok = match op {
            Op::Delete(_) => resp.status == 204 || resp.status == 200,
            _ => resp.status == 200,
        };
        if !ok {
            let detail = resp
                .body
                .as_deref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned())
                .unwrap_or_default();
            return Err(format!(
                "{method} {path}: HTTP {}{}{detail}",
                resp.status,
                if detail.is_empty() { "" } else { ": " }
            ));
        }
        match op {
            Op::Put(_) => Ok(self.size),
            Op::Get(_) if resp.body_len != self.size => Err(format!(
                "GET {path}: {} body bytes, expected {}",
                resp.body_len, self.size
            )),
            Op::Get(_) | Op::List => Ok(resp.body_len),
            Op::Head(_) | Op::Delete(_) => Ok(0),
        }
    }
}

/// How long and how much a phase runs.
#[derive(Clone, Copy)]
pub struct Bounds {
    pub duration: Duration,
    /// PUT and DELETE: at most this many operations in total.
    pub max_ops: Option<u64>,
}

struct Shared {
    ops: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    next: AtomicU64,
    stop: AtomicBool,
    /// Wakes the progress line when the phase ends.
    done: tokio::sync::Notify,
    first_error: Mutex<Option<String>>,
}

struct WorkerOut {
    conn: Option<Conn>,
    samples: Vec<u32>,
    by_kind: [u64; 5],
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Runs one phase with `conns` (one per worker, reused across phases). `written`: how many key
/// indexes exist (0..written). Returns the report and the new `written`.
pub async fn run_phase(
    ctx: &Arc<RunCtx>,
    phase: Phase,
    conns: &mut Vec<Option<Conn>>,
    written: u64,
    bounds: Bounds,
) -> (PhaseReport, u64) {
    let shared = Arc::new(Shared {
        ops: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        done: tokio::sync::Notify::new(),
        first_error: Mutex::new(None),
    });
    let start = Instant::now();
    let deadline = start + bounds.duration;
    let progress = ctx.progress.then(|| {
        let shared = shared.clone();
        let label = format!("{} {}", ctx.label, phase.name());
        tokio::spawn(progress_line(shared, label, start))
    });
    let mut tasks = Vec::with_capacity(ctx.concurrency);
    while conns.len() < ctx.concurrency {
        conns.push(None);
    }
    for (w, slot) in conns.iter_mut().enumerate().take(ctx.concurrency) {
        let conn = slot.take();
        let ctx = ctx.clone();
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            worker(
                ctx,
                shared,
                phase,
                w as u64,
                conn,
                written,
                deadline,
                bounds.max_ops,
            )
            .await
        }));
    }
    let mut samples = Vec::new();
    let mut by_kind = [0u64; 5];
    for (w, t) in tasks.into_iter().enumerate() {
        match t.await {
            Ok(out) => {
                conns[w] = out.conn;
                samples.extend_from_slice(&out.samples);
                for (a, b) in by_kind.iter_mut().zip(out.by_kind) {
                    *a += b;
                }
            }
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                record_error(&shared, format!("worker failed: {e}"));
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    shared.stop.store(true, Ordering::Relaxed);
    shared.done.notify_one();
    if let Some(p) = progress {
        let _ = p.await;
    }
    let ops = shared.ops.load(Ordering::Relaxed);
    let first_error = shared
        .first_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let mut report = PhaseReport::new(
        phase.name(),
        ops,
        shared.errors.load(Ordering::Relaxed),
        first_error,
        shared.bytes.load(Ordering::Relaxed),
        seconds,
        &mut samples,
    );
    if phase == Phase::Mixed {
        report.ops_by_kind = KIND_NAMES
            .iter()
            .zip(by_kind)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.to_string(), n))
            .collect();
    }
    let new_written = match phase {
        Phase::Put => written.max(shared.next.load(Ordering::Relaxed).min(ctx.objects)),
        Phase::Delete => 0,
        _ => written,
    };
    (report, new_written)
}

fn record_error(shared: &Shared, msg: String) {
    let mut slot = shared.first_error.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        *slot = Some(msg);
    }
}

#[allow(clippy::too_many_arguments)]
async fn worker(
    ctx: Arc<RunCtx>,
    shared: Arc<Shared>,
    phase: Phase,
    w: u64,
    mut conn: Option<Conn>,
    written: u64,
    deadline: Instant,
    max_ops: Option<u64>,
) -> WorkerOut {
    let mut rng = 0x2545_F491_4F6C_DD1D_u64 ^ (w + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut samples = Vec::new();
    let mut by_kind = [0u64; 5];
    let existing = written.max(1);
    loop {
        if Instant::now() >= deadline || shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let op = match phase {
            Phase::Put => {
                let i = shared.next.fetch_add(1, Ordering::Relaxed);
                if max_ops.is_some_and(|m| i >= m) {
                    break;
                }
                Op::Put(i % ctx.objects.max(1))
            }
            Phase::Delete => {
                let i = shared.next.fetch_add(1, Ordering::Relaxed);
                if i >= written || max_ops.is_some_and(|m| i >= m) {
                    break;
                }
                Op::Delete(i)
            }
            Phase::Get => Op::Get(xorshift(&mut rng) % existing),
            Phase::Head => Op::Head(xorshift(&mut rng) % existing),
            Phase::List => Op::List,
            Phase::Mixed => {
                let roll = xorshift(&mut rng) % 100;
                let k = xorshift(&mut rng) % existing;
                match roll {
                    0..50 => Op::Get(k),
                    50..80 => Op::Head(k),
                    80..95 => Op::Put(k),
                    _ => Op::List,
                }
            }
        };
        let t0 = Instant::now();
        let hard_stop = tokio::time::Instant::from_std(deadline + PHASE_GRACE);
        let result = match tokio::time::timeout_at(hard_stop, ctx.op(&mut conn, op)).await {
            Ok(r) => r,
            Err(_) => {
                conn = None;
                Err(format!(
                    "{op:?}: no response {:.0}s after the phase ended (server stalled?)",
                    PHASE_GRACE.as_secs_f64()
                ))
            }
        };
        match result {
            Ok(bytes) => {
                let micros = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
                if samples.len() < MAX_SAMPLES_PER_WORKER {
                    samples.push(micros.max(1));
                }
                by_kind[op.kind()] += 1;
                shared.ops.fetch_add(1, Ordering::Relaxed);
                shared.bytes.fetch_add(bytes, Ordering::Relaxed);
            }
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                record_error(&shared, e);
            }
        }
    }
    WorkerOut {
        conn,
        samples,
        by_kind,
    }
}

/// One status line per second on stderr (rewritten in place on a terminal).
async fn progress_line(shared: Arc<Shared>, label: String, start: Instant) {
    use std::io::{IsTerminal, Write};
    let tty = std::io::stderr().is_terminal();
    let mut last_ops = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shared.done.notified() => {}
        }
        let done = shared.stop.load(Ordering::Relaxed);
        let ops = shared.ops.load(Ordering::Relaxed);
        let line = format!(
            "{label}: {:5.1}s  {ops} ops  {} ops/s now  {} errors",
            start.elapsed().as_secs_f64(),
            ops - last_ops,
            shared.errors.load(Ordering::Relaxed)
        );
        last_ops = ops;
        let mut err = std::io::stderr().lock();
        if tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            if done {
                let _ = writeln!(err);
            }
        } else if !done {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
        if done {
            return;
        }
    }
}

/// The hex SHA-256 the PUT bodies are signed with.
pub fn body_hash(body: &[u8]) -> String {
    sha256_hex(body)
}
