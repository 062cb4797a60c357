//! Malformed requests on the wire: each gets AWS's error code in S3 error XML with a request
//! id, changes nothing that is stored, and never takes the server down.

use aws_sdk_s3::primitives::ByteStream;

use crate::common::*;

async fn setup() -> TestServer {
    let srv = TestServer::start().await;
    srv.s3().create_bucket().bucket("bad").send().await.unwrap();
    srv.s3()
        .put_object()
        .bucket("bad")
        .key("keep")
        .body(ByteStream::from_static(b"unchanged"))
        .send()
        .await
        .unwrap();
    srv
}

async fn assert_unchanged(srv: &TestServer) {
    let got = srv
        .s3()
        .get_object()
        .bucket("bad")
        .key("keep")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(got).await, b"unchanged");
    let list = srv
        .s3()
        .list_objects_v2()
        .bucket("bad")
        .send()
        .await
        .unwrap();
    assert_eq!(list.key_count(), Some(1));
}

fn assert_s3_error(r: &RawResponse, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.code(), code, "{}", r.text());
    assert!(r.text().contains("<RequestId>"), "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(r.header("x-amz-request-id").is_some());
}

#[tokio::test]
async fn malformed_xml_bodies() {
    let srv = setup().await;
    for body in [
        "<Delete><Object><Key>keep</Key></Object>",
        "not xml at all",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"keep\">]><Delete><Object><Key>&e;</Key></Object></Delete>",
        "\u{0}\u{1}\u{2}",
    ] {
        let r = RawRequest::new("POST", "/bad?delete", srv.addr)
            .body(body.as_bytes().to_vec())
            .send(srv.addr)
            .await;
        assert_s3_error(&r, 400, "MalformedXML");
    }
    let r = RawRequest::new("PUT", "/newbucket", srv.addr)
        .body(b"<CreateBucketConfiguration><LocationConstraint>".to_vec())
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 400, "MalformedXML");
    let r = RawRequest::new("PUT", "/newbucket2", srv.addr)
        .body(b"<CreateBucketConfiguration><LocationConstraint>mars-west-9</LocationConstraint></CreateBucketConfiguration>".to_vec())
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 400, "InvalidLocationConstraint");
    let buckets = srv.s3().list_buckets().send().await.unwrap();
    assert_eq!(buckets.buckets().len(), 1);
    // Too many keys in one DeleteObjects.
    let mut body = String::from("<Delete>");
    for i in 0..1001 {
        body.push_str(&format!("<Object><Key>k{i}</Key></Object>"));
    }
    body.push_str("</Delete>");
    let r = RawRequest::new("POST", "/bad?delete", srv.addr)
        .body(body.into_bytes())
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 400, "MalformedXML");
    assert_unchanged(&srv).await;
}

#[tokio::test]
async fn bad_names_headers_and_operations() {
    let srv = setup().await;
    let r = RawRequest::new("PUT", "/Bad_Bucket", srv.addr)
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 400, "InvalidBucketName");
    let r = RawRequest::new("GET", "/bad?tagging", srv.addr)
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 501, "NotImplemented");
    let r = RawRequest::new("GET", "/bad/keep?retention", srv.addr)
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 501, "NotImplemented");
    let long_key = format!("/bad/{}", "k".repeat(1025));
    let r = RawRequest::new("PUT", &long_key, srv.addr)
        .body(b"x".to_vec())
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 400, "KeyTooLongError");
    let r = RawRequest::new("PUT", "/bad/meta", srv.addr)
        .header("x-amz-meta-big", "v".repeat(3000))
        .body(b"x".to_vec())
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 400, "MetadataTooLarge");
    for (name, value) in [
        ("x-amz-server-side-encryption", "AES512"),
        ("x-amz-server-side-encryption-aws-kms-key-id", "some-key"),
    ] {
        let r = RawRequest::new("PUT", "/bad/sse", srv.addr)
            .header(name, value)
            .body(b"x".to_vec())
            .send(srv.addr)
            .await;
        assert_s3_error(&r, 400, "InvalidArgument");
    }
    let r = RawRequest::new("PUT", "/bad/ctx", srv.addr)
        .header("x-amz-server-side-encryption", "aws:kms")
        .header("x-amz-server-side-encryption-context", "%%%not-base64%%%")
        .body(b"x".to_vec())
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 400, "InvalidArgument");
    let r = RawRequest::new("PUT", "/bad/ck", srv.addr)
        .header("x-amz-checksum-crc32", "AAAAAA==")
        .body(b"x".to_vec())
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 400, "BadDigest");
    let r = RawRequest::new("GET", "/bad?list-type=2&max-keys=abc", srv.addr)
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 400, "InvalidArgument");
    let r = RawRequest::new(
        "GET",
        "/bad?list-type=2&continuation-token=%21%21",
        srv.addr,
    )
    .send(srv.addr)
    .await;
    assert_s3_error(&r, 400, "InvalidArgument");
    let r = RawRequest::new("GET", "/bad?list-type=2&encoding-type=base64", srv.addr)
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 400, "InvalidArgument");
    let r = RawRequest::new("GET", "/nobucket/key", srv.addr)
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 404, "NoSuchBucket");
    assert!(r.text().contains("<BucketName>nobucket</BucketName>"));
    let r = RawRequest::new("GET", "/bad/nokey", srv.addr)
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 404, "NoSuchKey");
    assert!(r.text().contains("<Key>nokey</Key>"));
    assert_unchanged(&srv).await;
}

#[tokio::test]
async fn bad_ranges() {
    let srv = setup().await;
    let r = RawRequest::new("GET", "/bad/keep", srv.addr)
        .header("range", "bytes=100-")
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 416, "InvalidRange");
    let r = RawRequest::new("GET", "/bad/keep", srv.addr)
        .header("range", "bytes=x-y")
        .send(srv.addr)
        .await;
    assert_s3_error(&r, 400, "InvalidArgument");
    // Forms S3 ignores: the whole object comes back.
    for h in ["bytes=5-1", "bytes=0-1,3-4", "lines=1-2"] {
        let r = RawRequest::new("GET", "/bad/keep", srv.addr)
            .header("range", h)
            .send(srv.addr)
            .await;
        assert_eq!(r.status, 200, "{h}");
        assert_eq!(r.body, b"unchanged");
    }
}

#[tokio::test]
async fn garbage_on_the_wire_never_kills_the_server() {
    let srv = setup().await;
    let junk: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02\x03\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential=\xff\xfe\r\n\r\n"
            .to_vec(),
        b"GET /bad/%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(200_000)
        )
        .into_bytes(),
        b"PUT /bad/x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc".to_vec(),
    ];
    for j in junk {
        let r = raw::send_bytes(srv.addr, &j).await;
        assert!(r.status == 0 || r.status >= 400, "{}", r.status);
    }
    assert_unchanged(&srv).await;
}
