//! Hostile clients against the live server: oversized heads, too many headers, bodies longer or
//! shorter than declared, clients that stall in the head or the body, silent connections, the
//! connection limit, and 1 000 idle connections while a normal client still gets answers.
//! Every limit hit here is a named constant (`server::MAX_*`) or a `[limits]` setting, set
//! short so the tests stay fast. Connections go to 127.0.0.1 only.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use coffer::server::{MAX_HEADERS, MAX_REQUEST_HEAD_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::raw::parse_response;
use crate::common::*;

const B: &str = "hostile";

async fn server_with(tweak: impl FnOnce(&mut coffer::config::Config)) -> TestServer {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let srv = TestServer::start_in(dir, tweak).await;
    srv.s3().create_bucket().bucket(B).send().await.unwrap();
    srv
}

/// Writes `wire` (ignoring a reset from a server that already answered), optionally half-closes,
/// and reads until EOF or `limit`. Returns what was read and how long until EOF (None: the
/// server kept the connection open past `limit`).
async fn exchange(
    addr: std::net::SocketAddr,
    wire: &[u8],
    half_close: bool,
    limit: Duration,
) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let _ = s.write_all(wire).await;
    if half_close {
        let _ = s.shutdown().await;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + limit).into(), s.read(&mut chunk)).await {
            Err(_) => return (buf, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (buf, Some(started.elapsed())),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn health_ok(srv: &TestServer) {
    let (buf, _) = exchange(
        srv.addr,
        b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        false,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(parse_response(&buf).status, 200, "server no longer healthy");
}

async fn object_exists(srv: &TestServer, key: &str) -> bool {
    srv.s3()
        .head_object()
        .bucket(B)
        .key(key)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn hostile_heads_over_the_limits_get_431() {
    let srv = server_with(|_| {}).await;
    // One header larger than the head limit.
    let big = format!(
        "GET /{B} HTTP/1.1\r\nhost: x\r\nx-pad: {}\r\n\r\n",
        "a".repeat(MAX_REQUEST_HEAD_BYTES + 1024)
    );
    let (buf, closed) = exchange(srv.addr, big.as_bytes(), false, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "oversized head: connection left open");
    let status = parse_response(&buf).status;
    // The 431 can be lost to the reset of a socket closed with unread input: 0 is "closed".
    assert!(status == 431 || status == 0, "oversized head: {status}");
    // Too many header fields: a small head, so the 431 arrives.
    let mut many = format!("GET /{B} HTTP/1.1\r\nhost: x\r\n");
    for i in 0..MAX_HEADERS + 10 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let (buf, _) = exchange(srv.addr, many.as_bytes(), false, Duration::from_secs(5)).await;
    assert_eq!(parse_response(&buf).status, 431, "too many headers");
    // Just under the limits: an ordinary (here unauthenticated) S3 answer.
    let ok = format!(
        "GET /{B} HTTP/1.1\r\nhost: x\r\nx-pad: {}\r\nconnection: close\r\n\r\n",
        "a".repeat(16 * 1024)
    );
    let (buf, _) = exchange(srv.addr, ok.as_bytes(), false, Duration::from_secs(5)).await;
    assert_eq!(parse_response(&buf).status, 403);
    health_ok(&srv).await;
}

#[tokio::test]
async fn hostile_body_longer_or_shorter_than_declared() {
    let srv = server_with(|c| c.limits.body_read_timeout_secs = 1).await;
    // Longer: the object is exactly the declared bytes; the rest is a bad next request.
    let r = RawRequest::new("PUT", "/hostile/longer", srv.addr)
        .header("content-length", "10")
        .body(b"0123456789".to_vec())
        .send_body(srv.addr, b"0123456789GARBAGE-GARBAGE\r\n\r\n".to_vec())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = srv
        .s3()
        .get_object()
        .bucket(B)
        .key("longer")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(got).await, b"0123456789");

    // Shorter, then the client closes its side: an error, nothing stored.
    let body = vec![7u8; 100];
    let r = RawRequest::new("PUT", "/hostile/shorter", srv.addr)
        .header("content-length", "100")
        .body(body.clone())
        .send_body(srv.addr, body[..50].to_vec())
        .await;
    assert!(r.status == 400 || r.status == 0, "short body: {}", r.status);
    assert!(!object_exists(&srv, "shorter").await);

    // Shorter, and the client stalls with the connection open: the body-read timeout ends it.
    let (target, headers) = signed_put_head("/hostile/stalled", &body, &srv);
    let mut wire = format!("PUT {target} HTTP/1.1\r\n");
    for (k, v) in &headers {
        wire.push_str(&format!("{k}: {v}\r\n"));
    }
    wire.push_str("\r\n");
    let mut wire = wire.into_bytes();
    wire.extend_from_slice(&body[..50]);
    let (buf, closed) = exchange(srv.addr, &wire, false, Duration::from_secs(8)).await;
    let resp = parse_response(&buf);
    assert!(
        closed.is_some() || resp.status != 0,
        "a stalled body was never timed out"
    );
    assert!(resp.status == 400 || resp.status == 0, "{}", resp.status);
    assert!(!object_exists(&srv, "stalled").await);
    health_ok(&srv).await;
}

/// A stalled body is cut after `body_read_timeout_secs`, once (the drain before the error
/// response does not wait it out again), and answered `RequestTimeout`; garbled chunked
/// framing and a body cut short are 400s that are not `RequestTimeout` (which SDKs retry).
#[tokio::test]
async fn hostile_stalled_and_garbled_bodies_get_the_right_error_in_time() {
    let srv = server_with(|c| c.limits.body_read_timeout_secs = 2).await;
    let body = vec![7u8; 100];
    let (target, headers) = signed_put_head("/hostile/stalled-once", &body, &srv);
    let mut wire = format!("PUT {target} HTTP/1.1\r\n");
    for (k, v) in &headers {
        wire.push_str(&format!("{k}: {v}\r\n"));
    }
    wire.push_str("\r\n");
    let mut wire = wire.into_bytes();
    wire.extend_from_slice(&body[..10]);
    let (buf, closed) = exchange(srv.addr, &wire, false, Duration::from_secs(15)).await;
    let resp = parse_response(&buf);
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.code(), "RequestTimeout");
    // Twice the timeout is 4 s: one stall must not be waited out twice.
    let closed = closed.expect("the connection was closed");
    assert!(closed < Duration::from_millis(3800), "took {closed:?}");

    // Transfer-Encoding: chunked with a chunk size that is not hex.
    let signed = RawRequest::new("PUT", "/hostile/garbled", srv.addr)
        .header("transfer-encoding", "chunked")
        .body(b"abc".to_vec());
    let (target, headers) = signed.signed_head();
    let mut wire = format!("PUT {target} HTTP/1.1\r\n");
    for (k, v) in &headers {
        wire.push_str(&format!("{k}: {v}\r\n"));
    }
    wire.push_str("\r\nzz\r\nabc\r\n0\r\n\r\n");
    let (buf, _) = exchange(srv.addr, wire.as_bytes(), false, Duration::from_secs(10)).await;
    let resp = parse_response(&buf);
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.code(), "InvalidRequest", "{}", resp.text());

    // Shorter than declared, then the client closes its side.
    let r = RawRequest::new("PUT", "/hostile/short", srv.addr)
        .header("content-length", "100")
        .body(body.clone())
        .send_body(srv.addr, body[..50].to_vec())
        .await;
    if r.status != 0 {
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.code(), "IncompleteBody", "{}", r.text());
    }
    for key in ["stalled-once", "garbled", "short"] {
        assert!(!object_exists(&srv, key).await, "{key}");
    }
    health_ok(&srv).await;
}

/// The signed head of a PUT of `body` (with content-length), for hand-made wire bytes.
fn signed_put_head(target: &str, body: &[u8], srv: &TestServer) -> (String, Vec<(String, String)>) {
    let r = RawRequest::new("PUT", target, srv.addr)
        .header("content-length", body.len().to_string())
        .body(body.to_vec());
    r.signed_head()
}

#[tokio::test]
async fn hostile_stalled_head_and_silent_connections_are_closed() {
    let srv = server_with(|c| {
        c.limits.header_read_timeout_secs = 1;
        c.limits.idle_timeout_secs = 3;
    })
    .await;
    // Half a head, then nothing: the header-read timeout closes it.
    let (_, closed) = exchange(
        srv.addr,
        b"GET /hostile HTTP/1.1\r\nhost: x\r\nx-slow: ",
        false,
        Duration::from_secs(6),
    )
    .await;
    let t = closed.expect("a stalled head was never timed out");
    assert!(t >= Duration::from_millis(900), "closed too early: {t:?}");
    assert!(
        t < Duration::from_millis(2500),
        "closed by the idle timeout, not the header timeout: {t:?}"
    );
    // Not a single byte: closed at the header-read timeout too, not only at the idle timeout.
    let (_, closed) = exchange(srv.addr, b"", false, Duration::from_secs(6)).await;
    let t = closed.expect("a silent connection was never closed");
    assert!(
        t < Duration::from_millis(2500),
        "a silent connection held on for {t:?}"
    );
    // A keep-alive connection idle after its answer: hyper's header-read timer waits for the
    // next request, so it is closed at the header-read timeout as well.
    let (buf, closed) = exchange(
        srv.addr,
        b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n",
        false,
        Duration::from_secs(8),
    )
    .await;
    assert_eq!(parse_response(&buf).status, 200);
    let t = closed.expect("an idle keep-alive connection was never closed");
    assert!(
        t < Duration::from_millis(2500),
        "idle keep-alive held on for {t:?}"
    );
    // A client that asks for a large object and never reads it: the response stalls, and the
    // idle timeout (no read, no write progress) closes the connection.
    let size = 8 << 20;
    srv.s3()
        .put_object()
        .bucket(B)
        .key("large")
        .body(ByteStream::from(pattern(size, 3)))
        .send()
        .await
        .unwrap();
    let (target, headers) = RawRequest::new("GET", "/hostile/large", srv.addr).signed_head();
    let mut wire = format!("GET {target} HTTP/1.1\r\n");
    for (k, v) in &headers {
        wire.push_str(&format!("{k}: {v}\r\n"));
    }
    wire.push_str("\r\n");
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(wire.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
    assert!(
        got.len() < size,
        "a stalled reader got the whole {size}-byte body: the idle timeout did not fire"
    );
    health_ok(&srv).await;
}

#[tokio::test]
async fn hostile_connection_limit_queues_rather_than_fails() {
    let srv = server_with(|c| {
        c.limits.max_connections = 4;
        c.limits.header_read_timeout_secs = 1;
    })
    .await;
    // Give the accept loop a moment to settle after the create-bucket connection closed.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut hogs = Vec::new();
    for _ in 0..4 {
        hogs.push(TcpStream::connect(srv.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The fifth waits for a slot (the silent hogs are closed at the 1 s header-read timeout,
    // long before the idle timeout), then is served.
    let started = Instant::now();
    let (buf, _) = exchange(
        srv.addr,
        b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        false,
        Duration::from_secs(10),
    )
    .await;
    let waited = started.elapsed();
    assert_eq!(parse_response(&buf).status, 200);
    assert!(
        waited >= Duration::from_millis(500),
        "served at once ({waited:?}): the limit did not hold"
    );
    drop(hogs);
}

/// The soft limit on open files, from /proc (Linux); None elsewhere.
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_1000_idle_connections_normal_client_still_served() {
    // Both ends live in this process: two descriptors per idle connection.
    let wanted: usize = std::env::var("COFFER_IDLE_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let n = match open_file_limit() {
        Some(limit) if limit < 2 * wanted + 256 => {
            eprintln!(
                "open-file limit {limit}: using {} idle connections",
                (limit - 256) / 2
            );
            (limit.saturating_sub(256)) / 2
        }
        _ => wanted,
    };
    let srv = server_with(|_| {}).await;
    let mut idle = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        // Some silent, some stuck half-way through a head.
        if i % 2 == 1 {
            s.write_all(b"GET /hostile HTTP/1.1\r\nhost: x\r\n")
                .await
                .unwrap();
        }
        idle.push(s);
    }
    let s3 = srv.s3();
    let body = pattern(100_000, 5);
    for i in 0..10 {
        let started = Instant::now();
        let key = format!("k{i}");
        s3.put_object()
            .bucket(B)
            .key(&key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        let got = s3.get_object().bucket(B).key(&key).send().await.unwrap();
        assert_eq!(read_all(got).await, body);
        let t = started.elapsed();
        assert!(
            t < Duration::from_secs(2),
            "PUT+GET took {t:?} with {n} idle connections"
        );
    }
    drop(idle);
}
