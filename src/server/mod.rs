//! Listeners, connections and dispatch.
//!
//! [`run`] takes a bound listener and a shutdown future (so tests bind `127.0.0.1:0` and stop
//! the server at will). Every accepted socket gets TCP_NODELAY (small responses otherwise stall
//! ~40 ms behind delayed ACKs), an idle timeout, a header-read timeout, and a connection slot;
//! on shutdown, in-flight requests finish up to a deadline.
//!
//! Dispatch: `GET /health` (no auth) -> liveness; `POST /` with `X-Amz-Target` -> the KMS JSON
//! API; everything else -> S3.

pub mod io;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::api::kms::KmsApi;
use crate::api::s3::S3Api;
use crate::config::LimitsConfig;
use crate::kms::audit::{self, Caller};
use crate::transport::body::{self, ResBody};

/// Largest request head (request line and header fields) accepted; a larger one gets 431 and the
/// connection is closed. AWS allows 8 KiB of PUT headers; presigned URLs and metadata stay far
/// below this. Over HTTP/1.1 it is also hyper's read-buffer ceiling, so it stays well above the
/// 64 KiB chunk size rather than at 8 KiB, keeping body reads large.
pub const MAX_REQUEST_HEAD_BYTES: usize = 128 * 1024;

/// Most header fields in one request; more gets 431.
pub const MAX_HEADERS: usize = 100;

/// Everything a connection needs.
pub struct App {
    pub iam: crate::api::iam::IamApi,
    pub s3: S3Api,
    pub kms: KmsApi,
    pub limits: LimitsConfig,
}

/// How often the KMS applies what its clock made due (deletion windows that ended, automatic
/// rotations, expired imported material) to keys nobody is using; used keys get it on use.
pub const KMS_MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// Serves `listener` (plain HTTP) until `shutdown` resolves, then lets in-flight requests
/// finish for up to `grace` before returning.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    run_with_tls(listener, app, None, shutdown, grace).await
}

/// [`run`], serving HTTPS (HTTP/1.1 or HTTP/2 by ALPN) when `tls` is given. The TLS handshake
/// runs in the connection's task, bounded by the header-read timeout.
pub async fn run_with_tls(
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let handshake_timeout = Duration::from_secs(app.limits.header_read_timeout_secs);
    let slots = Arc::new(Semaphore::new(app.limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(app.limits.header_read_timeout_secs))
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true)
        // A client may shut its write side after the request and still read the answer.
        .half_close(true);
    builder
        .http2()
        .max_header_list_size(MAX_REQUEST_HEAD_BYTES as u32);
    let idle = Duration::from_secs(app.limits.idle_timeout_secs);
    let maintenance = {
        let kms = app.kms.kms.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KMS_MAINTENANCE_INTERVAL);
            loop {
                tick.tick().await;
                let kms = kms.clone();
                match tokio::task::spawn_blocking(move || kms.maintain()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "KMS maintenance failed"),
                    Err(e) => tracing::error!(error = %e, "KMS maintenance task failed"),
                }
            }
        })
    };
    let first_byte = Duration::from_secs(app.limits.header_read_timeout_secs);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "set_nodelay failed");
        }
        let io = io::IdleIo::new(stream, idle).with_first_byte_timeout(first_byte);
        let app = app.clone();
        let secure = acceptor.is_some();
        let svc = service_fn(move |mut req: Request<Incoming>| {
            let app = app.clone();
            if secure {
                req.extensions_mut().insert(OverTls);
            }
            async move { Ok::<_, Infallible>(dispatch(&app, req, peer).await) }
        });
        match &acceptor {
            None => {
                let conn = builder.serve_connection(TokioIo::new(io), svc).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(permit);
                });
            }
            Some(acceptor) => {
                let accept = acceptor.accept(io);
                let builder = builder.clone();
                // Registered before the handshake, so shutdown waits for it too.
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let tls = match tokio::time::timeout(handshake_timeout, accept).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            return;
                        }
                    };
                    let conn = builder
                        .serve_connection(TokioIo::new(tls), svc)
                        .into_owned();
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    maintenance.abort();
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!("shutdown deadline passed with requests still in flight");
        }
    }
    Ok(())
}

pub use crate::transport::OverTls;

/// A request id as S3 shows them: 16 upper-case hex characters.
pub fn new_request_id() -> String {
    let mut b = [0u8; 8];
    if crate::secret::fill_random(&mut b).is_err() {
        // Request ids need no secrecy; fall back to the clock.
        b = (crate::clock::unix_millis(std::time::SystemTime::now())).to_be_bytes();
    }
    hex::encode_upper(b)
}

async fn dispatch(app: &App, mut req: Request<Incoming>, peer: SocketAddr) -> Response<ResBody> {
    let started = Instant::now();
    let request_id = new_request_id();
    let method = req.method().clone();
    if method == Method::GET && req.uri().path() == "/health" {
        return health();
    }
    req.extensions_mut()
        .insert(crate::transport::PeerAddr(peer));
    let caller = Caller {
        request_id: Some(request_id.clone()),
        source_address: Some(peer.ip().to_string()),
        access_key: None,
        user_agent: req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
        principal: None,
    };
    if matches!(
        crate::api::auth::signing_service(req.headers(), req.uri()),
        Some("iam" | "sts")
    ) {
        let (resp, info) = audit::with_caller(caller, app.iam.handle(req, &request_id)).await;
        let status = resp.status().as_u16();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::error!(request_id, method = %method, api = info.service, op = info.operation,
                status, ms, access_key = info.access_key, error = info.error, "request");
        } else {
            tracing::info!(request_id, method = %method, api = info.service, op = info.operation,
                status, ms, access_key = info.access_key, error = info.error, "request");
        }
        return resp;
    }
    if method == Method::POST
        && req.uri().path() == "/"
        && req.headers().contains_key("x-amz-target")
    {
        let (resp, info) = audit::with_caller(caller, app.kms.handle(req, &request_id)).await;
        let status = resp.status().as_u16();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::error!(request_id, method = %method, api = "kms", op = info.operation,
                status, bytes_in = info.bytes_in, ms, access_key = info.access_key, error = info.error, "request");
        } else {
            tracing::info!(request_id, method = %method, api = "kms", op = info.operation,
                status, bytes_in = info.bytes_in, ms, access_key = info.access_key, error = info.error, "request");
        }
        return resp;
    }
    let (resp, info) = audit::with_caller(caller, app.s3.handle(req, &request_id)).await;
    let status = resp.status().as_u16();
    let bytes_out = http_body::Body::size_hint(resp.body()).exact().unwrap_or(0);
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(request_id, method = %method, op = info.operation, bucket = info.bucket, key = info.key,
            status, bytes_in = info.bytes_in, bytes_out, ms, access_key = info.access_key, error = info.error, "request");
    } else {
        tracing::info!(request_id, method = %method, op = info.operation, bucket = info.bucket, key = info.key,
            status, bytes_in = info.bytes_in, bytes_out, ms, access_key = info.access_key, error = info.error, "request");
    }
    resp
}

fn health() -> Response<ResBody> {
    let mut r = Response::new(body::full("ok\n"));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    r
}
