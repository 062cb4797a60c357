//! SigV4 on the wire: header auth, presigned URLs, and AWS's error codes for each failure.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

use crate::common::*;

async fn setup() -> TestServer {
    let srv = TestServer::start().await;
    srv.s3()
        .create_bucket()
        .bucket("auth")
        .send()
        .await
        .unwrap();
    srv.s3()
        .put_object()
        .bucket("auth")
        .key("obj")
        .body(ByteStream::from_static(b"secret body"))
        .send()
        .await
        .unwrap();
    srv
}

#[tokio::test]
async fn wrong_secret_unknown_key_and_anonymous() {
    let srv = setup().await;
    let err = srv
        .s3_with(ACCESS_KEY, "wrong-secret-key-000")
        .list_buckets()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "SignatureDoesNotMatch");
    let err = srv
        .s3_with("AKIDUNKNOWN", SECRET_KEY)
        .list_buckets()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidAccessKeyId");
    let r = RawRequest::new("GET", "/auth/obj", srv.addr)
        .anonymous()
        .send(srv.addr)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "AccessDenied");
    assert!(r.text().contains("<RequestId>"));
    assert!(!r.text().contains("secret body"));
}

#[tokio::test]
async fn clock_skew_is_rejected() {
    let srv = setup().await;
    for skew in [Duration::from_secs(16 * 60), Duration::from_secs(3600)] {
        for t in [SystemTime::now() - skew, SystemTime::now() + skew] {
            let mut req = RawRequest::new("GET", "/auth/obj", srv.addr);
            req.time = Some(t);
            let r = req.send(srv.addr).await;
            assert_eq!(r.status, 403, "{skew:?}");
            assert_eq!(r.code(), "RequestTimeTooSkewed");
        }
    }
    // Within 15 minutes is fine.
    let mut req = RawRequest::new("GET", "/auth/obj", srv.addr);
    req.time = Some(SystemTime::now() - Duration::from_secs(14 * 60));
    let r = req.send(srv.addr).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"secret body");
}

#[tokio::test]
async fn tampered_requests_fail_signature_checks() {
    let srv = setup().await;
    // Signed over one body, sent with another: the payload hash no longer matches.
    let resp = RawRequest::new("PUT", "/auth/obj2", srv.addr)
        .body(b"original".to_vec())
        .send_body(srv.addr, b"tampered".to_vec())
        .await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.code(), "XAmzContentSHA256Mismatch");
    let head = srv
        .s3()
        .head_object()
        .bucket("auth")
        .key("obj2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&head), "NotFound", "nothing stored");

    // Content-MD5 that does not match the body.
    let resp = RawRequest::new("PUT", "/auth/obj3", srv.addr)
        .header("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")
        .body(b"not empty".to_vec())
        .send(srv.addr)
        .await;
    assert_eq!(resp.code(), "BadDigest");
    // A malformed one.
    let resp = RawRequest::new("PUT", "/auth/obj3", srv.addr)
        .header("content-md5", "zzz")
        .body(b"x".to_vec())
        .send(srv.addr)
        .await;
    assert_eq!(resp.code(), "InvalidDigest");
}

#[tokio::test]
async fn presigned_get_and_put_with_expiry() {
    let srv = setup().await;
    let s3 = srv.s3();
    let cfg = PresigningConfig::expires_in(Duration::from_secs(120)).unwrap();
    let req = s3
        .get_object()
        .bucket("auth")
        .key("obj")
        .presigned(cfg.clone())
        .await
        .unwrap();
    let uri: http::Uri = req.uri().parse().unwrap();
    let target = uri.path_and_query().unwrap().as_str().to_string();
    let r = RawRequest::new("GET", &target, srv.addr)
        .anonymous()
        .send(srv.addr)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"secret body");

    // A presigned PUT.
    let req = s3
        .put_object()
        .bucket("auth")
        .key("up")
        .presigned(cfg)
        .await
        .unwrap();
    let uri: http::Uri = req.uri().parse().unwrap();
    let target = uri.path_and_query().unwrap().as_str().to_string();
    let r = RawRequest::new("PUT", &target, srv.addr)
        .anonymous()
        .body(b"via presigned".to_vec())
        .send(srv.addr)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = s3
        .get_object()
        .bucket("auth")
        .key("up")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(got).await, b"via presigned");

    // Tampering with the presigned query fails; so does using it after expiry.
    let tampered = target.replace("up?", "up2?");
    let r = RawRequest::new("PUT", &tampered, srv.addr)
        .anonymous()
        .body(b"x".to_vec())
        .send(srv.addr)
        .await;
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    let past = PresigningConfig::builder()
        .start_time(SystemTime::now() - Duration::from_secs(600))
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let req = s3
        .get_object()
        .bucket("auth")
        .key("obj")
        .presigned(past)
        .await
        .unwrap();
    let uri: http::Uri = req.uri().parse().unwrap();
    let r = RawRequest::new("GET", uri.path_and_query().unwrap().as_str(), srv.addr)
        .anonymous()
        .send(srv.addr)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "AccessDenied");
    assert!(r.text().contains("expired"), "{}", r.text());

    // The server clock decides: move it past the expiry of a fresh URL.
    let cfg = PresigningConfig::expires_in(Duration::from_secs(60)).unwrap();
    let req = s3
        .get_object()
        .bucket("auth")
        .key("obj")
        .presigned(cfg)
        .await
        .unwrap();
    let uri: http::Uri = req.uri().parse().unwrap();
    srv.clock.advance(Duration::from_secs(120));
    let r = RawRequest::new("GET", uri.path_and_query().unwrap().as_str(), srv.addr)
        .anonymous()
        .send(srv.addr)
        .await;
    assert_eq!(r.code(), "AccessDenied");
}

#[tokio::test]
async fn virtual_host_style_addressing() {
    let srv = setup().await;
    let port = srv.addr.port();
    let mut req = RawRequest::new("GET", "/obj", srv.addr);
    req.host = format!("auth.localhost:{port}");
    let r = req.send(srv.addr).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"secret body");
    let mut req = RawRequest::new("GET", "/?list-type=2", srv.addr);
    req.host = format!("auth.localhost:{port}");
    let r = req.send(srv.addr).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<Key>obj</Key>"), "{}", r.text());
}

#[tokio::test]
async fn health_needs_no_auth() {
    let srv = TestServer::start().await;
    let r = RawRequest::new("GET", "/health", srv.addr)
        .anonymous()
        .send(srv.addr)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"ok\n");
}
