//! `coffer bench --ceiling`: the raw parts of a PUT and a GET, with no HTTP, so end-to-end
//! throughput can be stated as a fraction of what the parts allow on the same machine in the
//! same run.
//!
//! Stages, each timed alone on one thread for the stage duration, per object size:
//! - `encrypt`: stream-key derivation (HKDF) and AES-256-GCM of every chunk;
//! - `decrypt`: the reverse, from stored chunks;
//! - `sha256`, `md5`: the payload hash and the SSE-S3 ETag;
//! - `kms_generate_<sse>`, `kms_decrypt_<sse>`: data key creation and unwrapping through the
//!   embedded KMS (per object, independent of size);
//! - `sled_write_flush_c<N>`: `begin_stream` + `put_chunk` per chunk + `flush`, from N
//!   concurrent writers (N = 1 and every `--concurrency`), the durable-write path;
//! - `sled_read`: `get_chunk` for every chunk of an object written before.
//!
//! The derived ceilings are meant as upper bounds, not predictions: a PUT should not go faster
//! than sled's concurrent write+flush rate, nor faster than the CPU stages it needs run on all
//! cores (`cores / sum of per-object CPU seconds`); the ceiling is the smaller of the two. A GET
//! is bounded by `cores / (decrypt + unwrap + read)`. HTTP, SigV4 and the client's own CPU are
//! what the end-to-end figure adds on top. The sled stage is not a strict bound: its N writers
//! all insert and flush at once, and 1 MiB SSE-KMS PUTs, which reach sled staggered, have
//! measured 106-129% of it (a fraction over 1 says so, it is not clamped).

use std::sync::Arc;
use std::time::{Duration, Instant};

use md5::Md5;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::client::PayloadMode;
use super::report::human_size;
use super::{BenchError, SseChoice};
use crate::kms::Kms;
use crate::secret::Key32;
use crate::sse::chunk::{CHUNK_SIZE, SALT_LEN, StreamCipher, chunk_count, chunk_plain_len};
use crate::sse::{SseSpec, new_envelope, open_envelope};
use crate::storage::{Store, StreamId};

/// One stage's measured rate.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub stage: String,
    pub ops: u64,
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub mb_per_sec: f64,
}

/// A derived ceiling for one operation kind.
#[derive(Debug, Clone, Serialize)]
pub struct DerivedCeiling {
    /// `put` or `get`.
    pub op: String,
    pub sse: String,
    /// For PUT, the number of concurrent writers sharing sled flushes.
    pub concurrency: usize,
    pub ops_per_sec: f64,
    pub mb_per_sec: f64,
    /// `cpu` or `sled`: which bound is the smaller.
    pub bound_by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CeilingReport {
    pub object_size: u64,
    pub stages: Vec<StageReport>,
    pub derived: Vec<DerivedCeiling>,
}

impl CeilingReport {
    /// The derived ceiling for `op`, `sse` and (PUT) `concurrency`.
    pub fn find(&self, op: &str, sse: &str, concurrency: usize) -> Option<&DerivedCeiling> {
        self.derived
            .iter()
            .find(|d| d.op == op && d.sse == sse && (op != "put" || d.concurrency == concurrency))
    }

    fn stage_ops(&self, name: &str) -> Option<f64> {
        self.stages
            .iter()
            .find(|s| s.stage == name)
            .map(|s| s.ops_per_sec)
    }
}

/// What the ceiling needs: a store and a KMS of its own (on a scratch directory).
pub struct CeilingParts {
    pub store: Store,
    pub kms: Arc<Kms>,
}

/// Deterministic filler; content does not change the speed of any stage.
pub fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Runs `op` until `budget` has passed (at least once); returns (ops, seconds).
fn timed(
    budget: Duration,
    mut op: impl FnMut() -> Result<(), BenchError>,
) -> Result<(u64, f64), BenchError> {
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        op()?;
        n += 1;
        if start.elapsed() >= budget {
            return Ok((n, start.elapsed().as_secs_f64()));
        }
    }
}

fn stage(name: &str, size: u64, (ops, secs): (u64, f64)) -> StageReport {
    let secs = secs.max(1e-9);
    StageReport {
        stage: name.to_string(),
        ops,
        seconds: secs,
        ops_per_sec: ops as f64 / secs,
        mb_per_sec: ops as f64 * size as f64 / secs / 1e6,
    }
}

fn encrypt_object(key: &Key32, salt: &[u8; SALT_LEN], data: &[u8], out: &mut Vec<Vec<u8>>) {
    let cipher = StreamCipher::new(key, salt);
    let n = chunk_count(data.len() as u64);
    out.clear();
    for i in 0..n {
        let start = (i as usize) * CHUNK_SIZE;
        let len = chunk_plain_len(data.len() as u64, i);
        let mut buf = Vec::with_capacity(len + crate::sse::chunk::TAG_LEN);
        buf.extend_from_slice(&data[start..start + len]);
        cipher.encrypt_chunk(i, i == n - 1, &mut buf);
        out.push(buf);
    }
}

fn sse_spec(sse: SseChoice) -> SseSpec {
    match sse {
        // Refused with --ceiling when the options are read.
        SseChoice::S3 | SseChoice::None => SseSpec::S3,
        SseChoice::Kms => SseSpec::Kms {
            key_id: None,
            context: None,
            bucket_key: false,
        },
    }
}

/// Measures every stage for every size and derives the ceilings.
pub async fn run(
    parts: &CeilingParts,
    sizes: &[u64],
    sse_modes: &[SseChoice],
    concurrencies: &[usize],
    payload: PayloadMode,
    budget: Duration,
    progress: bool,
) -> Result<Vec<CeilingReport>, BenchError> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut reports = Vec::new();
    let key = Key32::random().map_err(|e| BenchError::Setup(e.to_string()))?;
    let salt = [7u8; SALT_LEN];
    for &size in sizes {
        let say = |what: &str| {
            if progress {
                eprintln!("ceiling {}: {what}", human_size(size));
            }
        };
        let len = usize::try_from(size).map_err(|_| BenchError::Usage("size too large".into()))?;
        let data = filler(len, size);
        let mut stages = Vec::new();
        let mut chunks = Vec::new();

        say("encrypt");
        stages.push(stage(
            "encrypt",
            size,
            timed(budget, || {
                encrypt_object(&key, &salt, &data, &mut chunks);
                Ok(())
            })?,
        ));
        encrypt_object(&key, &salt, &data, &mut chunks);
        say("decrypt");
        stages.push(stage(
            "decrypt",
            size,
            timed(budget, || {
                let cipher = StreamCipher::new(&key, &salt);
                let n = chunks.len() as u64;
                for (i, c) in chunks.iter().enumerate() {
                    let mut buf = c.clone();
                    cipher
                        .decrypt_chunk(i as u64, i as u64 == n - 1, &mut buf)
                        .map_err(|e| BenchError::Setup(e.to_string()))?;
                }
                Ok(())
            })?,
        ));
        say("sha256, md5");
        stages.push(stage(
            "sha256",
            size,
            timed(budget, || {
                std::hint::black_box(Sha256::digest(&data));
                Ok(())
            })?,
        ));
        stages.push(stage(
            "md5",
            size,
            timed(budget, || {
                std::hint::black_box(Md5::digest(&data));
                Ok(())
            })?,
        ));
        for &sse in sse_modes {
            say(&format!("kms {}", sse.name()));
            let spec = sse_spec(sse);
            let mut i = 0u64;
            // Per-object stages: no bytes pass through them, so no MB/s.
            stages.push(stage(
                &format!("kms_generate_{}", sse.name()),
                0,
                timed(budget, || {
                    i += 1;
                    new_envelope(parts.kms.as_ref(), &spec, "ceiling", &format!("k{i}"))
                        .map_err(|e| BenchError::Setup(e.to_string()))?;
                    Ok(())
                })?,
            ));
            let (record, _) = new_envelope(parts.kms.as_ref(), &spec, "ceiling", "k")
                .map_err(|e| BenchError::Setup(e.to_string()))?;
            stages.push(stage(
                &format!("kms_decrypt_{}", sse.name()),
                0,
                timed(budget, || {
                    open_envelope(parts.kms.as_ref(), &record)
                        .map_err(|e| BenchError::Setup(e.to_string()))?;
                    Ok(())
                })?,
            ));
        }
        let mut writers: Vec<usize> = vec![1];
        writers.extend(concurrencies.iter().copied().filter(|&c| c > 1));
        writers.sort_unstable();
        writers.dedup();
        let chunks = Arc::new(chunks);
        let mut written: Vec<StreamId> = Vec::new();
        for &c in &writers {
            say(&format!("sled write+flush, {c} writers"));
            let (ops, secs, ids) = sled_writers(&parts.store, chunks.clone(), c, budget).await?;
            if written.is_empty() {
                written = ids;
            }
            stages.push(stage(&format!("sled_write_flush_c{c}"), size, (ops, secs)));
        }
        say("sled read");
        let mut next = 0usize;
        let n_chunks = chunks.len() as u64;
        stages.push(stage(
            "sled_read",
            size,
            timed(budget, || {
                let Some(id) = written.get(next % written.len().max(1)) else {
                    return Err(BenchError::Setup("no stream written".into()));
                };
                next += 1;
                for i in 0..n_chunks {
                    let c = parts
                        .store
                        .get_chunk(id, i)
                        .map_err(|e| BenchError::Setup(e.to_string()))?;
                    std::hint::black_box(c);
                }
                Ok(())
            })?,
        ));

        let mut report = CeilingReport {
            object_size: size,
            stages,
            derived: Vec::new(),
        };
        derive(&mut report, sse_modes, &writers, payload, cores);
        reports.push(report);
    }
    Ok(reports)
}

fn derive(
    report: &mut CeilingReport,
    sse_modes: &[SseChoice],
    writers: &[usize],
    payload: PayloadMode,
    cores: usize,
) {
    let secs = |name: &str| {
        report
            .stage_ops(name)
            .map(|o| 1.0 / o.max(1e-9))
            .unwrap_or(0.0)
    };
    let size = report.object_size as f64;
    let mut derived = Vec::new();
    for &sse in sse_modes {
        let mut put_cpu = secs("encrypt") + secs(&format!("kms_generate_{}", sse.name()));
        if payload == PayloadMode::Sha256 {
            put_cpu += secs("sha256");
        }
        if sse == SseChoice::S3 {
            put_cpu += secs("md5");
        }
        let cpu_ops = cores as f64 / put_cpu.max(1e-12);
        for &c in writers {
            let sled_ops = report
                .stage_ops(&format!("sled_write_flush_c{c}"))
                .unwrap_or(f64::INFINITY);
            let (ops, by) = if sled_ops < cpu_ops {
                (sled_ops, "sled")
            } else {
                (cpu_ops, "cpu")
            };
            derived.push(DerivedCeiling {
                op: "put".into(),
                sse: sse.name().into(),
                concurrency: c,
                ops_per_sec: ops,
                mb_per_sec: ops * size / 1e6,
                bound_by: by.into(),
            });
        }
        let get_cpu =
            secs("decrypt") + secs(&format!("kms_decrypt_{}", sse.name())) + secs("sled_read");
        let ops = cores as f64 / get_cpu.max(1e-12);
        derived.push(DerivedCeiling {
            op: "get".into(),
            sse: sse.name().into(),
            concurrency: 0,
            ops_per_sec: ops,
            mb_per_sec: ops * size / 1e6,
            bound_by: "cpu".into(),
        });
    }
    report.derived = derived;
}

/// `c` concurrent writers, each writing whole objects and flushing after each, for `budget`.
/// Returns (objects, seconds, ids written by the first writer).
async fn sled_writers(
    store: &Store,
    chunks: Arc<Vec<Vec<u8>>>,
    c: usize,
    budget: Duration,
) -> Result<(u64, f64, Vec<StreamId>), BenchError> {
    let start = Instant::now();
    let deadline = start + budget;
    let mut tasks = Vec::new();
    for w in 0..c {
        let store = store.clone();
        let chunks = chunks.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut ids = Vec::new();
            loop {
                let id = store.begin_stream(0)?;
                for (i, ch) in chunks.iter().enumerate() {
                    store.put_chunk(&id, i as u64, ch)?;
                }
                store.flush().await?;
                n += 1;
                if w == 0 && ids.len() < 1024 {
                    ids.push(id);
                }
                if Instant::now() >= deadline {
                    return Ok::<_, crate::storage::StorageError>((n, ids));
                }
            }
        }));
    }
    let mut total = 0u64;
    let mut first = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let (n, ids) = t
            .await
            .map_err(|e| BenchError::Setup(e.to_string()))?
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        total += n;
        if i == 0 {
            first = ids;
        }
    }
    Ok((total, start.elapsed().as_secs_f64(), first))
}

/// The ceiling tables (stdout).
pub fn render_text(reports: &[CeilingReport]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for r in reports {
        let _ = writeln!(
            s,
            "\n== ceiling, size {} (no HTTP; one thread per stage unless cN) ==",
            human_size(r.object_size)
        );
        let _ = writeln!(
            s,
            "{:<24} {:>10} {:>12} {:>10}",
            "stage", "ops", "ops/s", "MB/s"
        );
        for st in &r.stages {
            let _ = writeln!(
                s,
                "{:<24} {:>10} {:>12.1} {:>10.1}",
                st.stage, st.ops, st.ops_per_sec, st.mb_per_sec
            );
        }
        let _ = writeln!(s, "derived (upper bounds):");
        for d in &r.derived {
            let conc = if d.op == "put" {
                format!(" c{}", d.concurrency)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "  {} {}{}: {:.1} ops/s, {:.1} MB/s (bound by {})",
                d.op, d.sse, conc, d.ops_per_sec, d.mb_per_sec, d.bound_by
            );
        }
    }
    s
}
