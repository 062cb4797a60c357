//! Graceful shutdown of the real binary: SIGTERM lets an upload in flight finish, flushes,
//! writes sled's recovery snapshot and exits 0, and the restart finds nothing to recover (no
//! orphaned stream, no log to replay). A client that stalls
//! past `--shutdown-grace-secs` does not hold the exit up; its stream is swept on restart.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use coffer::storage::{Store, StoreOptions};

use crate::common::raw::parse_response;
use crate::common::*;

fn start(data: &Path, grace: &str) -> BinaryServer {
    BinaryServer::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--shutdown-grace-secs",
            grace,
        ],
        &[
            ("COFFER_ACCESS_KEY", ACCESS_KEY),
            ("COFFER_SECRET_KEY", SECRET_KEY),
            ("COFFER_LOG_LEVEL", "warn"),
        ],
    )
    .expect("coffer starts")
}

fn addr(srv: &BinaryServer) -> SocketAddr {
    srv.endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("endpoint address")
}

fn sigterm(srv: &BinaryServer) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(srv.child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Opens a PUT of `body` and sends its head and the first `sent` bytes.
fn open_upload(a: SocketAddr, key: &str, body: &[u8], sent: usize) -> TcpStream {
    let target = format!("/grace/{key}");
    let (target, headers) = RawRequest::new("PUT", &target, a)
        .header("content-length", body.len().to_string())
        .body(body.to_vec())
        .signed_head();
    let mut wire = format!("PUT {target} HTTP/1.1\r\n");
    for (k, v) in &headers {
        wire.push_str(&format!("{k}: {v}\r\n"));
    }
    wire.push_str("\r\n");
    let mut s = TcpStream::connect(a).unwrap();
    s.write_all(wire.as_bytes()).unwrap();
    s.write_all(&body[..sent]).unwrap();
    s
}

fn orphans(data: &Path) -> usize {
    let store = Store::open_unswept(&data.join("db"), &StoreOptions::default()).unwrap();
    store.orphan_streams().unwrap().len()
}

fn create_bucket(srv: &BinaryServer) {
    let r = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(RawRequest::new("PUT", "/grace", addr(srv)).send(addr(srv)));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn sigterm_finishes_inflight_upload_then_restart_needs_no_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut srv = start(&data, "10");
    create_bucket(&srv);
    let a = addr(&srv);
    let body = pattern(600_000, 9);
    let mut up = open_upload(a, "slow", &body, 100_000);
    std::thread::sleep(Duration::from_millis(200));
    sigterm(&srv);
    // The server stops accepting but the upload in flight continues, slowly.
    std::thread::sleep(Duration::from_millis(300));
    for piece in body[100_000..].chunks(100_000) {
        up.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut resp = Vec::new();
    up.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = up.read_to_end(&mut resp);
    let resp = parse_response(&resp);
    assert_eq!(resp.status, 200, "in-flight upload: {}", resp.text());
    let exit = srv.child.wait().unwrap().code();
    assert_eq!(exit, Some(0), "exit status after SIGTERM");
    // Nothing to recover: no stream in flight was left behind.
    assert_eq!(orphans(&data), 0, "a clean shutdown left orphans");

    // The object is there after a restart.
    let srv = start(&data, "10");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s3 = s3_client(&srv.endpoint, ACCESS_KEY, SECRET_KEY);
        let got = s3.get_object().bucket("grace").key("slow").send().await;
        assert_eq!(read_all(got.unwrap()).await, body);
    });
}

#[test]
fn sigterm_deadline_bounds_a_stalled_upload() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut srv = start(&data, "1");
    create_bucket(&srv);
    let body = pattern(300_000, 10);
    // Half an upload, then the client stalls for good.
    let _stalled = open_upload(addr(&srv), "stalled", &body, 150_000);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    sigterm(&srv);
    let exit = srv.child.wait().unwrap().code();
    let took = started.elapsed();
    assert_eq!(exit, Some(0), "exit status after the deadline");
    assert!(
        took < Duration::from_secs(5),
        "exit took {took:?} with a 1 s grace"
    );
    // The restart sweeps the stalled stream; the object never appeared.
    let srv = start(&data, "1");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s3 = s3_client(&srv.endpoint, ACCESS_KEY, SECRET_KEY);
        let err = s3
            .get_object()
            .bucket("grace")
            .key("stalled")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "NoSuchKey");
    });
    drop(srv);
    assert_eq!(orphans(&data), 0);
    crate::crash::assert_no_unreferenced_streams(&data, "after the deadline");
}

/// The newest sled snapshot's log position (its file name), 0 when there is none.
fn newest_snapshot_lsn(data: &Path) -> u64 {
    std::fs::read_dir(data.join("db"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let hex = name.strip_prefix("snap.")?;
            u64::from_str_radix(hex, 16).ok()
        })
        .max()
        .unwrap_or(0)
}

/// sled writes a snapshot only while it opens, so a start after a stop used to replay the log
/// of everything the stopped run wrote (1.5 s after a million objects). A clean stop now writes
/// the snapshot itself: its position covers the run's writes before anything reopens the store.
#[test]
fn sigterm_writes_the_recovery_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut srv = start(&data, "5");
    create_bucket(&srv);
    let a = addr(&srv);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for i in 0..20 {
        let r = rt.block_on(
            RawRequest::new("PUT", &format!("/grace/k{i}"), a)
                .body(pattern(100_000, i))
                .send(a),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let while_running = newest_snapshot_lsn(&data);
    sigterm(&srv);
    assert_eq!(srv.child.wait().unwrap().code(), Some(0));
    let at_stop = newest_snapshot_lsn(&data);
    assert!(
        at_stop > while_running,
        "no snapshot past the run's writes: {at_stop:x} vs {while_running:x}"
    );

    let srv = start(&data, "5");
    rt.block_on(async {
        let s3 = s3_client(&srv.endpoint, ACCESS_KEY, SECRET_KEY);
        for i in 0..20 {
            let got = s3
                .get_object()
                .bucket("grace")
                .key(format!("k{i}"))
                .send()
                .await;
            assert_eq!(read_all(got.unwrap()).await, pattern(100_000, i));
        }
    });
}
