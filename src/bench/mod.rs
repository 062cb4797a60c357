//! `coffer bench`: a load generator for any S3 endpoint, and the ceiling it is measured against.
//!
//! It signs its own SigV4 requests (with the server's own [`crate::api::auth::sigv4`] code) and
//! drives the endpoint over N keep-alive HTTP/1.1 connections ([`client`]) through the phases
//! PUT, GET, HEAD, LIST, MIXED and DELETE ([`phases`]), for every combination of the object
//! sizes, concurrencies and SSE modes asked for. `--in-process` starts a Coffer on a scratch
//! directory itself (the same `app::prepare` + `server::run` as `coffer serve`); `--ceiling`
//! also times the raw parts with no HTTP ([`ceiling`]) so the report can state each PUT and GET
//! figure as a fraction of what the parts allow in the same run ([`report`]).
//!
//! Bounded by construction: every phase ends at its deadline, PUT wraps around at `--objects`
//! keys, DELETE removes only what was written, and scratch directories are removed at the end.
//! Figures are only as quiet as the machine: client and server share its cores.

pub mod ceiling;
pub use crate::transport::client;
pub mod phases;
pub mod policies;
pub mod report;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::config::{Config, CredentialConfig};
use crate::secret::SecretString;
use client::{Conn, PayloadMode, RequestSpec, Signer};
use phases::{Bounds, RunCtx, Target};
use report::{Report, RunReport, human_size};

/// Largest object size the bench accepts (it keeps one body per run in memory).
pub const MAX_OBJECT_SIZE: u64 = 1 << 30;
/// Most concurrent connections per run.
pub const MAX_CONCURRENCY: usize = 4096;
/// Longest preparation (writing `--objects` objects when no PUT phase ran first).
pub const MAX_PREPARE: Duration = Duration::from_secs(600);
/// How long the in-process server gets to stop (and flush) at the end.
pub const SERVER_STOP_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error("setup: {0}")]
    Setup(String),
    #[error("cannot write the report: {0}")]
    Report(String),
}

/// The SSE mode each PUT asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseChoice {
    S3,
    Kms,
    /// No SSE header: the server's default (for benching a plain S3 server against Coffer).
    None,
}

impl SseChoice {
    pub fn name(self) -> &'static str {
        match self {
            SseChoice::S3 => "s3",
            SseChoice::Kms => "kms",
            SseChoice::None => "none",
        }
    }

    /// The `x-amz-server-side-encryption` a PUT sends; `None` for none.
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            SseChoice::S3 => Some("AES256"),
            SseChoice::Kms => Some("aws:kms"),
            SseChoice::None => None,
        }
    }

    fn parse(s: &str) -> Result<SseChoice, BenchError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "s3" | "aes256" | "sse-s3" => Ok(SseChoice::S3),
            "kms" | "aws:kms" | "sse-kms" => Ok(SseChoice::Kms),
            "none" => Ok(SseChoice::None),
            other => Err(BenchError::Usage(format!(
                "unknown SSE mode {other:?} (s3, kms or none)"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Put,
    Get,
    Head,
    List,
    Mixed,
    Delete,
}

impl Phase {
    /// The order phases run in: DELETE last, since it empties the key set.
    pub const ALL: [Phase; 6] = [
        Phase::Put,
        Phase::Get,
        Phase::Head,
        Phase::List,
        Phase::Mixed,
        Phase::Delete,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Put => "put",
            Phase::Get => "get",
            Phase::Head => "head",
            Phase::List => "list",
            Phase::Mixed => "mixed",
            Phase::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Result<Phase, BenchError> {
        Phase::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                BenchError::Usage(format!(
                    "unknown phase {s:?} (put, get, head, list, mixed, delete)"
                ))
            })
    }

    fn needs_objects(self) -> bool {
        matches!(self, Phase::Get | Phase::Head | Phase::Mixed)
    }
}

/// `coffer bench` flags. Lists (`--size 4KiB,1MiB`) run every combination.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// S3 endpoint, http://HOST:PORT (plain HTTP).
    #[arg(long, env = "COFFER_BENCH_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Start a Coffer on a scratch directory and bench it (127.0.0.1, random port).
    #[arg(long, conflicts_with = "endpoint")]
    pub in_process: bool,
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub access_key: Option<String>,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Bucket to use (created when missing).
    #[arg(long, default_value = "coffer-bench")]
    pub bucket: String,
    /// Object sizes, comma-separated: 4KiB, 1MiB, 1000, 64k ...
    #[arg(long, default_value = "4KiB")]
    pub size: String,
    /// Distinct keys per run (PUT wraps around and overwrites beyond this).
    #[arg(long, default_value_t = 1000)]
    pub objects: u64,
    /// Concurrent connections, comma-separated (16,64).
    #[arg(long, default_value = "16")]
    pub concurrency: String,
    /// Duration of each phase: 10s, 500ms, 1m.
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// SSE modes, comma-separated: s3, kms, or none (no SSE header: for benching a plain S3
    /// server under the same load).
    #[arg(long, default_value = "s3")]
    pub sse: String,
    /// Phases to run, comma-separated, in the fixed order put,get,head,list,mixed,delete.
    #[arg(long, default_value = "put,get,head,list,mixed,delete")]
    pub phases: String,
    /// x-amz-content-sha256 of PUTs: sha256 (server verifies it) or unsigned.
    #[arg(long, default_value = "sha256")]
    pub payload: String,
    /// Also time the raw parts (crypto, hashes, KMS, sled) with no HTTP.
    #[arg(long)]
    pub ceiling: bool,
    /// Duration of each ceiling stage (default: the phase duration, at most 3s).
    #[arg(long)]
    pub ceiling_duration: Option<String>,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Scratch directory parent for --in-process and --ceiling (default: the system temp dir).
    #[arg(long)]
    pub scratch_dir: Option<PathBuf>,
    /// Before the phases, write every one of the --objects keys once (reported as the `fill`
    /// phase; not bounded by --duration). For the listing scale check: --size 0 --objects
    /// 1000000 --fill --phases list.
    #[arg(long)]
    pub fill: bool,
    /// With --in-process: at the end, stop the server and time a start-up on its data
    /// (open the store, sweep, open the KMS), to check start-up time against object count.
    #[arg(long)]
    pub startup_check: bool,
    /// Who the phases run as, comma-separated: root (the account root, no policies) and, with
    /// --in-process, iam-user (an IAM user with 10 attached managed policies, into a bucket
    /// with a 20-statement bucket policy): the cost of authorization, in one run.
    #[arg(long, default_value = "root")]
    pub principals: String,
    /// Run every principal's phases this many times, the order reversed on every other round
    /// (root, iam-user, iam-user, root, ...), so that a store growing over the invocation
    /// favours neither; the principal ratios sum the rounds.
    #[arg(long, default_value_t = 1)]
    pub rounds: u32,
}

/// Parsed and checked options.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub endpoint: Option<String>,
    pub in_process: bool,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub region: String,
    pub bucket: String,
    pub sizes: Vec<u64>,
    pub objects: u64,
    pub concurrency: Vec<usize>,
    pub duration: Duration,
    pub sse: Vec<SseChoice>,
    pub phases: Vec<Phase>,
    pub payload: PayloadMode,
    pub ceiling: bool,
    pub ceiling_duration: Duration,
    pub json: Option<PathBuf>,
    pub progress: bool,
    pub scratch_dir: Option<PathBuf>,
    pub fill: bool,
    pub startup_check: bool,
    pub principals: Vec<policies::PrincipalChoice>,
    pub rounds: u32,
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty())
}

/// Parses a size: a number with an optional unit (B, K/KB = 1000, KiB = 1024, M/MB, MiB, G/GB,
/// GiB; `k`, `m`, `g` alone are binary, as in warp).
pub fn parse_size(s: &str) -> Result<u64, BenchError> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| BenchError::Usage(format!("bad size {s:?}")))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        _ => return Err(BenchError::Usage(format!("bad size unit in {s:?}"))),
    };
    let v = n
        .checked_mul(mult)
        .ok_or_else(|| BenchError::Usage(format!("size {s:?} too large")))?;
    if v > MAX_OBJECT_SIZE {
        return Err(BenchError::Usage(format!(
            "size {s:?} is above the bench's limit of {}",
            human_size(MAX_OBJECT_SIZE)
        )));
    }
    Ok(v)
}

/// Parses a duration: `500ms`, `10s`, `2m`, or a bare number of seconds (fractions allowed).
pub fn parse_duration(s: &str) -> Result<Duration, BenchError> {
    let t = s.trim();
    let bad = || BenchError::Usage(format!("bad duration {s:?}"));
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    let secs = v * scale;
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

impl BenchArgs {
    pub fn parse_options(&self) -> Result<BenchOptions, BenchError> {
        let sizes = list(&self.size)
            .map(parse_size)
            .collect::<Result<Vec<_>, _>>()?;
        let concurrency = list(&self.concurrency)
            .map(|c| match c.parse::<usize>() {
                Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Ok(n),
                _ => Err(BenchError::Usage(format!(
                    "concurrency {c:?} must be 1..={MAX_CONCURRENCY}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sse = list(&self.sse)
            .map(SseChoice::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let mut phases = list(&self.phases)
            .map(Phase::parse)
            .collect::<Result<Vec<_>, _>>()?;
        phases.sort_by_key(|p| Phase::ALL.iter().position(|q| q == p));
        phases.dedup();
        let payload = match self.payload.trim().to_ascii_lowercase().as_str() {
            "sha256" => PayloadMode::Sha256,
            "unsigned" | "unsigned-payload" => PayloadMode::Unsigned,
            other => {
                return Err(BenchError::Usage(format!(
                    "--payload {other:?}: sha256 or unsigned"
                )));
            }
        };
        let duration = parse_duration(&self.duration)?;
        let ceiling_duration = match &self.ceiling_duration {
            Some(d) => parse_duration(d)?,
            None => duration.min(Duration::from_secs(3)),
        };
        if self.ceiling && sse.contains(&SseChoice::None) {
            return Err(BenchError::Usage(
                "--ceiling times Coffer's encryption: --sse none has none to time".into(),
            ));
        }
        if sizes.is_empty() || concurrency.is_empty() || sse.is_empty() {
            return Err(BenchError::Usage(
                "--size, --concurrency and --sse need at least one value".into(),
            ));
        }
        if self.objects == 0 {
            return Err(BenchError::Usage("--objects must be at least 1".into()));
        }
        let principals = list(&self.principals)
            .map(|p| {
                policies::PrincipalChoice::parse(p).ok_or_else(|| {
                    BenchError::Usage(format!("unknown principal {p:?} (root or iam-user)"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if principals.is_empty() {
            return Err(BenchError::Usage(
                "--principals needs at least one value".into(),
            ));
        }
        if !(1..=100).contains(&self.rounds) {
            return Err(BenchError::Usage("--rounds must be 1 to 100".into()));
        }
        if principals.contains(&policies::PrincipalChoice::IamUser) && !self.in_process {
            return Err(BenchError::Usage(
                "--principals iam-user needs --in-process (the bench sets the user up)".into(),
            ));
        }
        if self.endpoint.is_none() && !self.in_process && !self.ceiling {
            return Err(BenchError::Usage(
                "say what to bench: --endpoint URL, --in-process, or --ceiling".into(),
            ));
        }
        Ok(BenchOptions {
            endpoint: self.endpoint.clone(),
            in_process: self.in_process,
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            sizes,
            objects: self.objects,
            concurrency,
            duration,
            sse,
            phases,
            payload,
            ceiling: self.ceiling,
            ceiling_duration,
            json: self.json.clone(),
            progress: !self.quiet,
            scratch_dir: self.scratch_dir.clone(),
            fill: self.fill,
            startup_check: self.startup_check,
            principals,
            rounds: self.rounds,
        })
    }
}

/// `coffer bench` from the command line: runs, prints the tables, writes the JSON.
pub fn run_cli(args: &BenchArgs) -> Result<(), BenchError> {
    let opts = args.parse_options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Setup(format!("cannot start the runtime: {e}")))?;
    let report = runtime.block_on(run(&opts))?;
    print!("{}", report::render_text(&report));
    Ok(())
}

/// A directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(parent: Option<&Path>, tag: &str) -> Result<Scratch, BenchError> {
        let mut r = [0u8; 6];
        crate::secret::fill_random(&mut r).map_err(|e| BenchError::Setup(e.to_string()))?;
        let base = parent
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!(
            "coffer-bench-{tag}-{}-{}",
            std::process::id(),
            hex::encode(r)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| BenchError::Setup(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Coffer on its own runtime thread, stopped (and its store flushed) on drop.
struct InProcess {
    addr: SocketAddr,
    cfg: Config,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The server thread; it returns how long writing the recovery snapshot took after the
    /// server stopped (as `coffer serve` does), `None` if that failed.
    thread: Option<std::thread::JoinHandle<Option<f64>>>,
    /// Set when the thread has been joined.
    stop_snapshot_seconds: Option<f64>,
    _dir: Scratch,
}

/// The bench IAM user's credentials (derived from the root's: the bench makes both).
fn user_credentials(access: &str, secret: &str) -> (String, String) {
    (format!("{access}U"), format!("{secret}-user"))
}

fn bench_config(dir: &Path, access: &str, secret: &str, region: &str) -> Config {
    let mut cfg = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        region: region.to_string(),
        credentials: vec![CredentialConfig {
            access_key_id: access.into(),
            secret_access_key: secret.into(),
        }],
        ..Config::default()
    };
    cfg.log.level = "warn".into();
    cfg
}

impl InProcess {
    async fn start(
        parent: Option<&Path>,
        access: &str,
        secret: &str,
        region: &str,
        user_bucket: Option<&str>,
    ) -> Result<InProcess, BenchError> {
        let dir = Scratch::new(parent, "server")?;
        let mut cfg = bench_config(&dir.0, access, secret, region);
        if let Some(bucket) = user_bucket {
            let (ua, us) = user_credentials(access, secret);
            policies::add_user(&mut cfg, &ua, &us, bucket);
        }
        let server_cfg = cfg.clone();
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("coffer-bench-server".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = addr_tx.send(Err(e.to_string()));
                        return None;
                    }
                };
                let snapshot_cfg = server_cfg.clone();
                let served = rt.block_on(async move {
                    let prepared = match crate::app::prepare(&server_cfg, None) {
                        Ok(p) => p,
                        Err(e) => {
                            let _ = addr_tx.send(Err(e.to_string()));
                            return false;
                        }
                    };
                    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = addr_tx.send(Err(e.to_string()));
                            return false;
                        }
                    };
                    let addr = match listener.local_addr() {
                        Ok(a) => a,
                        Err(e) => {
                            let _ = addr_tx.send(Err(e.to_string()));
                            return false;
                        }
                    };
                    let _ = addr_tx.send(Ok(addr));
                    let store = prepared.store.clone();
                    let _ = crate::server::run(
                        listener,
                        prepared.app,
                        async {
                            let _ = stop_rx.await;
                        },
                        Duration::from_secs(5),
                    )
                    .await;
                    store.flush().await.is_ok()
                });
                drop(rt);
                if !served {
                    return None;
                }
                crate::app::write_recovery_snapshot(&snapshot_cfg)
                    .ok()
                    .map(|t| t.as_secs_f64())
            })
            .map_err(|e| BenchError::Setup(format!("cannot start the server thread: {e}")))?;
        let addr = addr_rx
            .await
            .map_err(|_| BenchError::Setup("the in-process server did not start".into()))?
            .map_err(|e| BenchError::Setup(format!("in-process server: {e}")))?;
        Ok(InProcess {
            addr,
            cfg,
            stop: Some(stop_tx),
            thread: Some(thread),
            stop_snapshot_seconds: None,
            _dir: dir,
        })
    }
}

impl InProcess {
    /// Stops the server (which writes sled's recovery snapshot, as `coffer serve` does), then
    /// times opening its data again as `coffer serve` would, twice. Returns (seconds the
    /// stopping server spent on the snapshot, first start, second start).
    fn startup_times(&mut self) -> Result<(f64, f64, f64), BenchError> {
        self.shutdown();
        if self.thread.is_some() {
            return Err(BenchError::Setup("the server did not stop".into()));
        }
        let snapshot = self.stop_snapshot_seconds.ok_or_else(|| {
            BenchError::Setup("the stopped server wrote no recovery snapshot".into())
        })?;
        let first = self.time_one_start()?;
        let second = self.time_one_start()?;
        Ok((snapshot, first, second))
    }

    fn time_one_start(&self) -> Result<f64, BenchError> {
        let t = std::time::Instant::now();
        let prepared = crate::app::prepare(&self.cfg, None)
            .map_err(|e| BenchError::Setup(format!("restart: {e}")))?;
        let secs = t.elapsed().as_secs_f64();
        drop(prepared);
        Ok(secs)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl InProcess {
    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            // A wedged server must not wedge the bench: wait a bounded time, then leave the
            // thread behind (the process is about to exit).
            let until = std::time::Instant::now() + SERVER_STOP_WAIT;
            while !t.is_finished() && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            if t.is_finished() {
                self.stop_snapshot_seconds = t.join().ok().flatten();
            } else {
                eprintln!(
                    "coffer bench: the in-process server did not stop within {}s",
                    SERVER_STOP_WAIT.as_secs()
                );
                self.thread = Some(t);
            }
        }
    }
}

fn random_token(n: usize) -> Result<String, BenchError> {
    let mut b = vec![0u8; n];
    crate::secret::fill_random(&mut b).map_err(|e| BenchError::Setup(e.to_string()))?;
    Ok(hex::encode_upper(b))
}

/// `http://HOST:PORT[/]` -> (socket address, Host header value).
async fn resolve_endpoint(endpoint: &str) -> Result<(SocketAddr, String), BenchError> {
    let rest = endpoint.strip_prefix("http://").ok_or_else(|| {
        BenchError::Usage(format!("endpoint {endpoint:?} must be http://HOST:PORT"))
    })?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(BenchError::Usage(format!(
            "endpoint {endpoint:?} must be http://HOST:PORT with no path"
        )));
    }
    let with_port = if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !host.ends_with(']')
    {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let addr = tokio::net::lookup_host(&with_port)
        .await
        .map_err(|e| BenchError::Setup(format!("cannot resolve {host}: {e}")))?
        .next()
        .ok_or_else(|| BenchError::Setup(format!("{host} resolves to no address")))?;
    Ok((addr, host.to_string()))
}

/// Creates the bucket unless it exists already (owned by us).
/// PutBucketPolicy as the target's principal.
async fn put_bucket_policy(target: &Target, policy: &str) -> Result<(), BenchError> {
    let mut conn = Conn::connect(target.addr)
        .await
        .map_err(|e| BenchError::Setup(format!("cannot connect to {}: {e}", target.addr)))?;
    let path = format!("/{}", target.bucket);
    let hash = phases::body_hash(policy.as_bytes());
    let head = target.signer.head(
        &RequestSpec {
            method: "PUT",
            path: &path,
            query: "policy=",
            payload_hash: &hash,
            content_length: Some(policy.len()),
            amz_headers: &[],
        },
        std::time::SystemTime::now(),
    );
    let resp = conn
        .round_trip(&head, policy.as_bytes(), false, true)
        .await
        .map_err(|e| BenchError::Setup(format!("put bucket policy: {e}")))?;
    if resp.status == 204 || resp.status == 200 {
        return Ok(());
    }
    let body = resp
        .body
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default()
        .into_owned();
    Err(BenchError::Setup(format!(
        "put bucket policy: HTTP {}: {}",
        resp.status,
        &body[..body.len().min(300)]
    )))
}

async fn ensure_bucket(target: &Target) -> Result<(), BenchError> {
    let mut conn = Conn::connect(target.addr)
        .await
        .map_err(|e| BenchError::Setup(format!("cannot connect to {}: {e}", target.addr)))?;
    let path = format!("/{}", target.bucket);
    let head = target.signer.head(
        &RequestSpec {
            method: "PUT",
            path: &path,
            query: "",
            payload_hash: crate::api::auth::sigv4::EMPTY_SHA256,
            content_length: Some(0),
            amz_headers: &[],
        },
        std::time::SystemTime::now(),
    );
    let resp = conn
        .round_trip(&head, &[], false, true)
        .await
        .map_err(|e| BenchError::Setup(format!("create bucket: {e}")))?;
    let body = resp
        .body
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default()
        .into_owned();
    if resp.status == 200 || (resp.status == 409 && body.contains("BucketAlreadyOwnedByYou")) {
        Ok(())
    } else {
        Err(BenchError::Setup(format!(
            "create bucket {}: HTTP {}: {}",
            target.bucket,
            resp.status,
            &body[..body.len().min(300)]
        )))
    }
}

/// Runs the whole bench: the ceiling (when asked), then every run's phases.
pub async fn run(opts: &BenchOptions) -> Result<Report, BenchError> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (access, secret) = match (&opts.access_key, &opts.secret_key) {
        (Some(a), Some(s)) => (a.clone(), s.clone()),
        (None, None) if opts.endpoint.is_none() => {
            (format!("BENCH{}", random_token(6)?), random_token(20)?)
        }
        _ => {
            return Err(BenchError::Usage(
                "--endpoint needs --access-key and --secret-key (or AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY)"
                    .into(),
            ));
        }
    };

    let mut ceiling = Vec::new();
    if opts.ceiling {
        let dir = Scratch::new(opts.scratch_dir.as_deref(), "ceiling")?;
        let cfg = bench_config(&dir.0, &access, &secret, &opts.region);
        let prepared = crate::app::prepare(&cfg, None)
            .map_err(|e| BenchError::Setup(format!("ceiling store: {e}")))?;
        let parts = ceiling::CeilingParts {
            store: prepared.store.clone(),
            kms: prepared.kms.clone(),
        };
        ceiling = ceiling::run(
            &parts,
            &opts.sizes,
            &opts.sse,
            &opts.concurrency,
            opts.payload,
            opts.ceiling_duration,
            opts.progress,
        )
        .await?;
        drop(parts);
        drop(prepared);
        drop(dir);
    }

    let mut server = None;
    let (addr, host, target_name) = if let Some(ep) = &opts.endpoint {
        let (addr, host) = resolve_endpoint(ep).await?;
        (Some(addr), host, ep.clone())
    } else if opts.in_process {
        let with_user = opts
            .principals
            .contains(&policies::PrincipalChoice::IamUser)
            .then_some(opts.bucket.as_str());
        let s = InProcess::start(
            opts.scratch_dir.as_deref(),
            &access,
            &secret,
            &opts.region,
            with_user,
        )
        .await?;
        let addr = s.addr;
        server = Some(s);
        (Some(addr), addr.to_string(), "in-process".to_string())
    } else {
        (None, String::new(), "none (ceiling only)".to_string())
    };

    let mut runs = Vec::new();
    if let Some(addr) = addr {
        let target_for = |access_key_id: &str, secret: &str| {
            Arc::new(Target {
                addr,
                signer: Signer {
                    access_key_id: access_key_id.to_string(),
                    secret: SecretString::new(secret.to_string()),
                    region: opts.region.clone(),
                    host: host.clone(),
                },
                bucket: opts.bucket.clone(),
                payload: opts.payload,
            })
        };
        let root_target = target_for(&access, &secret);
        ensure_bucket(&root_target).await?;
        if opts
            .principals
            .contains(&policies::PrincipalChoice::IamUser)
        {
            put_bucket_policy(&root_target, &policies::bucket_policy(&opts.bucket)).await?;
        }
        let run_id = random_token(4)?.to_ascii_lowercase();
        // Runs in the order they run: each run's keys sort after every earlier run's, so every
        // run appends to the bucket's key order. (Named by principal first, the user's keys
        // landed in the middle of the order and the root's at its end, a cost the user paid
        // in every round, not one the alternating order evens out.)
        let mut seq = 0u32;
        for &size in &opts.sizes {
            let len =
                usize::try_from(size).map_err(|_| BenchError::Usage("size too large".into()))?;
            let body = Arc::new(ceiling::filler(len, size ^ 0xC0FFEE));
            let hash = phases::body_hash(&body);
            for &sse in &opts.sse {
                for &c in &opts.concurrency {
                    let orders = (0..opts.rounds).flat_map(|round| {
                        let mut order = opts.principals.clone();
                        if round % 2 == 1 {
                            order.reverse();
                        }
                        order.into_iter().map(move |p| (round, p))
                    });
                    for (round, principal) in orders {
                        let target = match principal {
                            policies::PrincipalChoice::Root => root_target.clone(),
                            policies::PrincipalChoice::IamUser => {
                                let (ua, us) = user_credentials(&access, &secret);
                                target_for(&ua, &us)
                            }
                        };
                        let mut who = if opts.principals.len() > 1 {
                            format!(" {}", principal.name())
                        } else {
                            String::new()
                        };
                        if opts.rounds > 1 {
                            who.push_str(&format!(" round {}", round + 1));
                        }
                        let label = format!("{} c{} {}{who}", human_size(size), c, sse.name());
                        let ctx = Arc::new(RunCtx {
                            target,
                            prefix: format!(
                                "bench-{run_id}/{seq:05}-{}-c{c}-{}-{}-r{round}/",
                                human_size(size),
                                sse.name(),
                                principal.name()
                            ),
                            size,
                            concurrency: c,
                            sse,
                            objects: opts.objects,
                            body: body.clone(),
                            body_hash: hash.clone(),
                            progress: opts.progress,
                            label,
                        });
                        seq += 1;
                        let mut run = run_phases(&ctx, opts, &ceiling).await;
                        run.principal = principal.name().to_string();
                        run.round = round + 1;
                        run.rss_mib_after = report::rss_mib();
                        runs.push(run);
                    }
                }
            }
        }
    }

    let startups = match (&mut server, opts.startup_check) {
        (Some(s), true) => Some(s.startup_times()?),
        _ => None,
    };
    drop(server);
    let report = Report {
        stop_snapshot_seconds: startups.map(|t| t.0),
        startup_seconds: startups.map(|t| t.1),
        second_startup_seconds: startups.map(|t| t.2),
        max_rss_mib: report::max_rss_mib(),
        coffer_version: env!("CARGO_PKG_VERSION"),
        target: target_name,
        payload: opts.payload,
        seconds_per_phase: opts.duration.as_secs_f64(),
        cores,
        principal_ratios: report::principal_ratios(&runs),
        runs,
        ceiling,
        note: report::NOTE,
    };
    if let Some(path) = &opts.json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| BenchError::Report(e.to_string()))?;
        std::fs::write(path, text)
            .map_err(|e| BenchError::Report(format!("{}: {e}", path.display())))?;
    }
    Ok(report)
}

async fn run_phases(
    ctx: &Arc<RunCtx>,
    opts: &BenchOptions,
    ceiling: &[ceiling::CeilingReport],
) -> RunReport {
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut written = 0u64;
    let mut phases = Vec::new();
    if opts.fill {
        let (mut report, w) = phases::run_phase(
            ctx,
            Phase::Put,
            &mut conns,
            0,
            Bounds {
                duration: MAX_PREPARE,
                max_ops: Some(ctx.objects),
            },
        )
        .await;
        report.phase = "fill".into();
        written = w;
        phases.push(report);
    }
    for &phase in &opts.phases {
        if phase.needs_objects() && written == 0 {
            // Nothing to read yet: write the key set first (not reported).
            if ctx.progress {
                eprintln!("{}: writing {} objects first", ctx.label, ctx.objects);
            }
            let (_, w) = phases::run_phase(
                ctx,
                Phase::Put,
                &mut conns,
                0,
                Bounds {
                    duration: MAX_PREPARE,
                    max_ops: Some(ctx.objects),
                },
            )
            .await;
            written = w;
        }
        let (mut report, w) = phases::run_phase(
            ctx,
            phase,
            &mut conns,
            written,
            Bounds {
                duration: opts.duration,
                max_ops: None,
            },
        )
        .await;
        written = w;
        let op = match phase {
            Phase::Put => Some("put"),
            Phase::Get => Some("get"),
            _ => None,
        };
        if let Some(op) = op
            && let Some(c) = ceiling.iter().find(|c| c.object_size == ctx.size)
            && let Some(d) = c.find(op, ctx.sse.name(), ctx.concurrency)
            && d.ops_per_sec > 0.0
        {
            report.fraction_of_ceiling = Some(report.ops_per_sec / d.ops_per_sec);
        }
        if ctx.progress {
            eprintln!(
                "{} {}: {} ops, {:.1} ops/s, {:.1} MiB/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                ctx.label,
                phase.name(),
                report.ops,
                report.ops_per_sec,
                report.mib_per_sec,
                report.latency.p50_ms,
                report.latency.p99_ms,
                report.errors
            );
        }
        phases.push(report);
    }
    RunReport {
        object_size: ctx.size,
        concurrency: ctx.concurrency,
        sse: ctx.sse.name().to_string(),
        objects: ctx.objects,
        phases,
        rss_mib_after: None,
        principal: String::new(),
        round: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("4k").unwrap(), 4096);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("1MB").unwrap(), 1_000_000);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert!(parse_size("2GiB").is_err());
        assert!(parse_size("1x").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("NaNs").is_err());
    }

    #[test]
    fn phases_run_in_fixed_order() {
        let args = BenchArgs {
            endpoint: None,
            in_process: true,
            access_key: None,
            secret_key: None,
            region: "us-east-1".into(),
            bucket: "b".into(),
            size: "4KiB".into(),
            objects: 10,
            concurrency: "2".into(),
            duration: "1s".into(),
            sse: "kms,s3".into(),
            phases: "delete,get,put".into(),
            payload: "sha256".into(),
            ceiling: false,
            ceiling_duration: None,
            json: None,
            quiet: true,
            scratch_dir: None,
            fill: false,
            startup_check: false,
            principals: "root".into(),
            rounds: 1,
        };
        let o = args.parse_options().unwrap();
        assert_eq!(o.phases, vec![Phase::Put, Phase::Get, Phase::Delete]);
        assert_eq!(o.sse, vec![SseChoice::Kms, SseChoice::S3]);
        let mut bad = args.clone();
        bad.concurrency = "0".into();
        assert!(bad.parse_options().is_err());
        let mut bad = args;
        bad.in_process = false;
        assert!(bad.parse_options().is_err());
    }
}
