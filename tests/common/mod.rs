//! The shared test server: a real Coffer on 127.0.0.1:0 over a temporary data directory,
//! driven by real clients (aws-sdk-s3, aws-sdk-kms, aws-cli, boto3).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use coffer::clock::{OffsetClock, SharedClock};
use coffer::config::Config;
use tokio::sync::oneshot;

pub mod multipart;
pub mod raw;
pub use raw::{RawRequest, RawResponse};

pub const ACCESS_KEY: &str = "AKIDCOFFERTEST";
pub const SECRET_KEY: &str = "coffer-test-secret-key-0123456789";
pub const REGION: &str = "us-east-1";

/// A Coffer running in-process on its own runtime thread.
pub struct TestServer {
    pub dir: Arc<tempfile::TempDir>,
    pub addr: std::net::SocketAddr,
    pub clock: Arc<OffsetClock>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub fn test_config(data_dir: &Path) -> Config {
    let mut cfg = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.to_path_buf(),
        credentials: vec![coffer::config::CredentialConfig {
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
        }],
        ..Config::default()
    };
    cfg.storage.cache_capacity_mib = 64;
    cfg
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        Self::start_in(dir, |_| {}).await
    }

    /// Starts a server on `dir` with a config adjusted by `tweak`.
    pub async fn start_in(
        dir: Arc<tempfile::TempDir>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut cfg = test_config(dir.path());
        tweak(&mut cfg);
        Self::start_with(dir, cfg).await
    }

    pub async fn start_with(dir: Arc<tempfile::TempDir>, cfg: Config) -> TestServer {
        let clock = OffsetClock::new();
        let shared: SharedClock = clock.clone();
        let (addr_tx, addr_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let prepared = match coffer::app::prepare(&cfg, Some(shared)) {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = addr_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let _ = addr_tx.send(Ok(listener.local_addr().expect("addr")));
                let store = prepared.store.clone();
                let _ = coffer::server::run(
                    listener,
                    prepared.app,
                    async {
                        let _ = stop_rx.await;
                    },
                    Duration::from_secs(5),
                )
                .await;
                let _ = store.flush().await;
            });
        });
        let addr = addr_rx.await.expect("server thread").expect("server start");
        TestServer {
            dir,
            addr,
            clock,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Stops the server and waits until its store is closed.
    pub fn stop(mut self) -> Arc<tempfile::TempDir> {
        self.shutdown();
        self.dir.clone()
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Stops and starts again on the same data directory.
    pub async fn restart(self) -> TestServer {
        let dir = self.stop();
        Self::start_in(dir, |_| {}).await
    }

    /// An S3 client whose signing clock is the server's (so advancing `clock` does not make
    /// its requests look skewed).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = s3_config(&self.endpoint(), ACCESS_KEY, SECRET_KEY)
            .to_builder()
            .time_source(ServerTime(self.clock.clone()))
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// An aws-sdk-kms client on the server's endpoint and clock.
    pub fn kms(&self) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "test",
            ))
            .time_source(ServerTime(self.clock.clone()))
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }

    pub fn s3_with(&self, access: &str, secret: &str) -> aws_sdk_s3::Client {
        s3_client(&self.endpoint(), access, secret)
    }

    /// An aws-sdk-kms client signing with another access key.
    pub fn kms_with(&self, access: &str, secret: &str) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                access, secret, None, None, "test",
            ))
            .time_source(ServerTime(self.clock.clone()))
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }

    /// An aws-sdk-iam client (the IAM query API on the same endpoint).
    pub fn iam_with(&self, access: &str, secret: &str) -> aws_sdk_iam::Client {
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                access, secret, None, None, "test",
            ))
            .time_source(ServerTime(self.clock.clone()))
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        self.iam_with(ACCESS_KEY, SECRET_KEY)
    }

    /// An aws-sdk-sts client.
    pub fn sts_with(&self, access: &str, secret: &str) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                access, secret, None, None, "test",
            ))
            .time_source(ServerTime(self.clock.clone()))
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The SDKs' clock, following the server's test clock.
#[derive(Debug, Clone)]
pub struct ServerTime(pub Arc<OffsetClock>);

impl aws_smithy_async::time::TimeSource for ServerTime {
    fn now(&self) -> std::time::SystemTime {
        coffer::clock::Clock::now(&*self.0)
    }
}

/// The error code of an aws-sdk-kms error (its `__type`).
pub fn kms_code<E>(
    err: &aws_sdk_kms::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
{
    match err.as_service_error().and_then(|e| e.code()) {
        Some(c) => c.to_string(),
        None => format!("{err:?}"),
    }
}

/// An aws-sdk-s3 client with the SDK's default checksum behaviour (CRC32 on every upload, sent
/// as an aws-chunked trailer for streaming bodies; response checksums validated).
pub fn s3_client(endpoint: &str, access: &str, secret: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_config(endpoint, access, secret))
}

fn s3_config(endpoint: &str, access: &str, secret: &str) -> aws_sdk_s3::Config {
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access, secret, None, None, "test"))
        .force_path_style(true)
        .build()
}

/// Deterministic pseudo-random bytes (xorshift) so failures reproduce.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub async fn read_all(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec()
}

/// The S3 error code of an SDK error (`HTTP <status>` for body-less HEAD errors).
pub fn code<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
{
    match err.as_service_error().and_then(|e| e.code()) {
        Some(c) => c.to_string(),
        None => match err.raw_response() {
            Some(r) => format!("HTTP {}", r.status().as_u16()),
            None => format!("{err:?}"),
        },
    }
}

/// The real `coffer` binary as a child process.
pub struct BinaryServer {
    pub child: Child,
    pub endpoint: String,
    pub stdout: String,
    /// Where the server's stderr (its log) is copied.
    pub log_path: PathBuf,
}

impl BinaryServer {
    /// The last `n` lines of the server's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Starts `coffer serve` with `args` and `envs`; returns once it printed its endpoint, or
    /// `Err(stderr)` if it exited.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Result<BinaryServer, String> {
        use std::io::{BufRead, BufReader, Read};
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
        cmd.arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut reader = BufReader::new(stdout);
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    let _ = child.wait();
                    return Err(err);
                }
                Ok(_) => {}
            }
            seen.push_str(&line);
            if let Some(rest) = line.split("serving S3 at ").nth(1) {
                let endpoint = rest.split_whitespace().next().unwrap_or("").to_string();
                // Drain the rest of stdout in the background so the child never blocks on it.
                std::thread::spawn(move || {
                    let mut sink = String::new();
                    let _ = reader.read_to_string(&mut sink);
                });
                // The server's log goes to a file a failing test can show.
                let log_path = std::env::temp_dir().join(format!("coffer-test-{}.log", child.id()));
                if let Some(mut e) = child.stderr.take() {
                    let path = log_path.clone();
                    std::thread::spawn(move || {
                        if let Ok(mut f) = std::fs::File::create(&path) {
                            let _ = std::io::copy(&mut e, &mut f);
                        }
                    });
                }
                return Ok(BinaryServer {
                    child,
                    endpoint,
                    stdout: seen,
                    log_path,
                });
            }
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for the exit status.
    pub fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        self.kill();
    }
}
