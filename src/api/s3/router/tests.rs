//! Router tests: the request lines of the AWS S3 API reference, in both addressing styles.
// Test-only: compiled under #[cfg(test)], as the parent module declares it.
#![cfg(test)]

use super::*;
use http::HeaderValue;

fn domains() -> Vec<String> {
    vec![
        "localhost".into(),
        "s3.localhost".into(),
        "127.0.0.1.nip.io".into(),
    ]
}

/// Routes `METHOD target` sent to `host` with extra headers.
fn route_with(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> Result<Endpoint, S3Error> {
    let method = Method::from_bytes(method.as_bytes()).expect("test method");
    let uri: Uri = target.parse().expect("test uri");
    let mut map = HeaderMap::new();
    map.insert(
        http::header::HOST,
        HeaderValue::from_str(host).expect("test host"),
    );
    for (k, v) in headers {
        map.insert(
            http::HeaderName::from_bytes(k.as_bytes()).expect("test header name"),
            HeaderValue::from_str(v).expect("test header"),
        );
    }
    let domains = domains();
    route(&RouteInput {
        method: &method,
        uri: &uri,
        headers: &map,
        vhost_domains: &domains,
    })
}

/// Path-style, as `aws --endpoint-url http://127.0.0.1:9000` sends it.
fn r(method: &str, target: &str) -> Result<Endpoint, S3Error> {
    route_with(method, target, "127.0.0.1:9000", &[])
}

fn ok(method: &str, target: &str) -> Endpoint {
    match r(method, target) {
        Ok(e) => e,
        Err(e) => panic!("{method} {target}: {e}"),
    }
}

fn err(method: &str, target: &str) -> S3Error {
    match r(method, target) {
        Ok(e) => panic!("{method} {target}: routed to {e:?}"),
        Err(e) => e,
    }
}

fn s(v: &str) -> String {
    v.to_owned()
}

fn get_object(bucket: &str, key: &str) -> Endpoint {
    Endpoint::GetObject {
        bucket: s(bucket),
        key: s(key),
        part_number: None,
        version_id: None,
        overrides: ResponseOverrides::default(),
    }
}

#[test]
fn service_and_bucket_operations() {
    assert_eq!(ok("GET", "/"), Endpoint::ListBuckets);
    assert_eq!(
        ok("PUT", "/bucket"),
        Endpoint::CreateBucket {
            bucket: s("bucket")
        }
    );
    assert_eq!(
        ok("PUT", "/bucket/"),
        Endpoint::CreateBucket {
            bucket: s("bucket")
        }
    );
    assert_eq!(
        ok("HEAD", "/bucket"),
        Endpoint::HeadBucket {
            bucket: s("bucket")
        }
    );
    assert_eq!(
        ok("DELETE", "/bucket"),
        Endpoint::DeleteBucket {
            bucket: s("bucket")
        }
    );
    assert_eq!(
        ok("GET", "/bucket?location"),
        Endpoint::GetBucketLocation {
            bucket: s("bucket")
        }
    );
    assert_eq!(
        ok("GET", "/bucket?location="),
        Endpoint::GetBucketLocation {
            bucket: s("bucket")
        }
    );
    assert_eq!(
        ok("GET", "/bucket?versioning"),
        Endpoint::GetBucketVersioning {
            bucket: s("bucket")
        }
    );
    assert_eq!(
        ok("PUT", "/bucket?encryption"),
        Endpoint::PutBucketEncryption {
            bucket: s("bucket")
        }
    );
    assert_eq!(
        ok("GET", "/bucket?encryption"),
        Endpoint::GetBucketEncryption {
            bucket: s("bucket")
        }
    );
    assert_eq!(
        ok("DELETE", "/bucket?encryption"),
        Endpoint::DeleteBucketEncryption {
            bucket: s("bucket")
        }
    );
    assert_eq!(
        ok("POST", "/bucket?delete"),
        Endpoint::DeleteObjects {
            bucket: s("bucket")
        }
    );
    assert_eq!(
        ok("POST", "/bucket?delete="),
        Endpoint::DeleteObjects {
            bucket: s("bucket")
        }
    );
    assert_eq!(err("PUT", "/").code, S3ErrorCode::MethodNotAllowed);
    assert_eq!(err("PATCH", "/bucket").code, S3ErrorCode::MethodNotAllowed);
}

#[test]
fn list_objects_v1() {
    assert_eq!(
        ok("GET", "/bucket"),
        Endpoint::ListObjects {
            bucket: s("bucket"),
            prefix: None,
            delimiter: None,
            marker: None,
            max_keys: 1000,
            encoding_type: None,
        }
    );
    assert_eq!(
        ok(
            "GET",
            "/bucket?prefix=photos%2F2006%2F&delimiter=%2F&marker=a+b&max-keys=40&encoding-type=url"
        ),
        Endpoint::ListObjects {
            bucket: s("bucket"),
            prefix: Some(s("photos/2006/")),
            delimiter: Some(s("/")),
            marker: Some(s("a b")),
            max_keys: 40,
            encoding_type: Some(EncodingType::Url),
        }
    );
}

#[test]
fn list_objects_v2() {
    assert_eq!(
        ok("GET", "/bucket?list-type=2&prefix=a"),
        Endpoint::ListObjectsV2 {
            bucket: s("bucket"),
            prefix: Some(s("a")),
            delimiter: None,
            max_keys: 1000,
            continuation_token: None,
            start_after: None,
            encoding_type: None,
            fetch_owner: false,
        }
    );
    // aws-sdk adds x-id; unknown parameters are ignored.
    assert_eq!(
        ok(
            "GET",
            "/bucket?list-type=2&max-keys=2&continuation-token=1%2FeGT%3D&start-after=k&fetch-owner=true&x-id=ListObjectsV2"
        ),
        Endpoint::ListObjectsV2 {
            bucket: s("bucket"),
            prefix: None,
            delimiter: None,
            max_keys: 2,
            continuation_token: Some(s("1/eGT=")),
            start_after: Some(s("k")),
            encoding_type: None,
            fetch_owner: true,
        }
    );
    assert_eq!(
        err("GET", "/bucket?list-type=3").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("GET", "/bucket?list-type=2&fetch-owner=yes").code,
        S3ErrorCode::InvalidArgument
    );
}

#[test]
fn max_keys_is_clamped_and_checked() {
    let max = |t: &str| match ok("GET", t) {
        Endpoint::ListObjectsV2 { max_keys, .. } => max_keys,
        other => panic!("{other:?}"),
    };
    assert_eq!(max("/b?list-type=2&max-keys=0"), 0);
    assert_eq!(max("/b?list-type=2&max-keys=1000"), 1000);
    assert_eq!(max("/b?list-type=2&max-keys=5000"), 1000);
    assert_eq!(max("/b?list-type=2&max-keys=2147483647"), 1000);
    for bad in ["-1", "abc", "", "1.5", "2147483648", "99999999999999999999"] {
        let e = err("GET", &format!("/b?list-type=2&max-keys={bad}"));
        assert_eq!(e.code, S3ErrorCode::InvalidArgument, "{bad}");
        assert!(e.extra.contains(&("ArgumentName", s("max-keys"))));
        assert!(e.extra.contains(&("ArgumentValue", s(bad))));
    }
    assert_eq!(
        err("GET", "/b?max-keys=x").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("GET", "/b?versions&max-keys=x").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("GET", "/b?uploads&max-uploads=-5").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("GET", "/b/k?uploadId=u&max-parts=x").code,
        S3ErrorCode::InvalidArgument
    );
}

#[test]
fn encoding_type_only_url() {
    assert_eq!(
        err("GET", "/b?encoding-type=base64").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("GET", "/b?list-type=2&encoding-type=").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("GET", "/b?versions&encoding-type=xml").code,
        S3ErrorCode::InvalidArgument
    );
}

#[test]
fn list_object_versions() {
    assert_eq!(
        ok(
            "GET",
            "/bucket?versions&prefix=p&delimiter=%2F&key-marker=km&version-id-marker=null&max-keys=3&encoding-type=url"
        ),
        Endpoint::ListObjectVersions {
            bucket: s("bucket"),
            prefix: Some(s("p")),
            delimiter: Some(s("/")),
            key_marker: Some(s("km")),
            version_id_marker: Some(VersionId::Null),
            max_keys: 3,
            encoding_type: Some(EncodingType::Url),
        }
    );
}

#[test]
fn object_operations() {
    assert_eq!(
        ok("PUT", "/bucket/key"),
        Endpoint::PutObject {
            bucket: s("bucket"),
            key: s("key")
        }
    );
    assert_eq!(ok("GET", "/bucket/key"), get_object("bucket", "key"));
    assert_eq!(
        ok("GET", "/bucket/key?x-id=GetObject"),
        get_object("bucket", "key")
    );
    assert_eq!(
        ok(
            "HEAD",
            "/bucket/key?partNumber=2&versionId=3HL4kqtJlcpXroDTDmJ%2Brmsq"
        ),
        Endpoint::HeadObject {
            bucket: s("bucket"),
            key: s("key"),
            part_number: Some(2),
            version_id: Some(VersionId::Id(s("3HL4kqtJlcpXroDTDmJ+rmsq"))),
            overrides: ResponseOverrides::default(),
        }
    );
    assert_eq!(
        ok("DELETE", "/bucket/key"),
        Endpoint::DeleteObject {
            bucket: s("bucket"),
            key: s("key"),
            version_id: None
        }
    );
    assert_eq!(
        ok("DELETE", "/bucket/key?versionId=null"),
        Endpoint::DeleteObject {
            bucket: s("bucket"),
            key: s("key"),
            version_id: Some(VersionId::Null)
        }
    );
    assert_eq!(
        err("DELETE", "/bucket/key?versionId=").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("GET", "/bucket/key?versionId=").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("POST", "/bucket/key").code,
        S3ErrorCode::MethodNotAllowed
    );
}

#[test]
fn get_object_response_overrides_and_part_number() {
    assert_eq!(
        ok(
            "GET",
            "/bucket/key?response-content-type=text%2Fplain&response-content-language=mi%2C%20en\
             &response-expires=Thu%2C%2001%20Dec%201994%2016%3A00%3A00%20GMT&response-cache-control=no-cache\
             &response-content-disposition=attachment%3B%20filename%3Dtesting.txt&response-content-encoding=x-gzip\
             &partNumber=10000&versionId=v1"
        ),
        Endpoint::GetObject {
            bucket: s("bucket"),
            key: s("key"),
            part_number: Some(10000),
            version_id: Some(VersionId::Id(s("v1"))),
            overrides: ResponseOverrides {
                content_type: Some(s("text/plain")),
                content_language: Some(s("mi, en")),
                expires: Some(s("Thu, 01 Dec 1994 16:00:00 GMT")),
                cache_control: Some(s("no-cache")),
                content_disposition: Some(s("attachment; filename=testing.txt")),
                content_encoding: Some(s("x-gzip")),
            },
        }
    );
    for bad in ["0", "10001", "-1", "x", ""] {
        assert_eq!(
            err("GET", &format!("/b/k?partNumber={bad}")).code,
            S3ErrorCode::InvalidArgument,
            "{bad}"
        );
    }
}

#[test]
fn keys_are_percent_decoded_from_the_raw_path() {
    let key = |t: &str| match ok("GET", t) {
        Endpoint::GetObject { key, .. } => key,
        other => panic!("{other:?}"),
    };
    assert_eq!(key("/b/a%2Fb"), "a/b");
    assert_eq!(key("/b/a/b/c.txt"), "a/b/c.txt");
    assert_eq!(key("/b/a//b"), "a//b");
    assert_eq!(key("/b//lead"), "/lead");
    assert_eq!(key("/b/dir/"), "dir/");
    assert_eq!(key("/b/my%20file%20%20.txt"), "my file  .txt");
    assert_eq!(key("/b/a+b"), "a+b");
    assert_eq!(key("/b/a%2Bb"), "a+b");
    assert_eq!(
        key("/b/%E6%97%A5%E6%9C%AC%E8%AA%9E/%F0%9F%94%91"),
        "日本語/🔑"
    );
    assert_eq!(key("/b/%25"), "%");
    assert_eq!(key("/b/a?b"), "a"); // '?' starts the query
    assert_eq!(key("/b/a%3Fb"), "a?b");
    assert_eq!(key("/b/%00"), "\0"); // decoded as is; the handler decides what keys are allowed
    let e = err("GET", "/b/%FF%FE");
    assert_eq!(e.code, S3ErrorCode::InvalidURI);
    assert_eq!(err("GET", "/b/%C3").code, S3ErrorCode::InvalidURI);
    assert_eq!(err("GET", "/b?prefix=%FF").code, S3ErrorCode::InvalidURI);
    assert_eq!(err("GET", "//k").code, S3ErrorCode::InvalidBucketName);
}

#[test]
fn virtual_host_addressing() {
    let v = |method: &str, target: &str, host: &str| route_with(method, target, host, &[]);
    assert_eq!(
        v("GET", "/", "bucket.localhost:9000").ok(),
        Some(Endpoint::ListObjects {
            bucket: s("bucket"),
            prefix: None,
            delimiter: None,
            marker: None,
            max_keys: 1000,
            encoding_type: None,
        })
    );
    assert_eq!(
        v("GET", "/a%2Fb/c", "bucket.localhost:9000").ok(),
        Some(get_object("bucket", "a/b/c"))
    );
    assert_eq!(
        v("GET", "//k", "bucket.localhost").ok(),
        Some(get_object("bucket", "/k"))
    );
    // Dotted bucket names; the longest domain wins; case and trailing dot don't matter.
    assert_eq!(
        v("PUT", "/", "my.bucket.localhost").ok(),
        Some(Endpoint::CreateBucket {
            bucket: s("my.bucket")
        })
    );
    assert_eq!(
        v("PUT", "/", "b.s3.localhost:9000").ok(),
        Some(Endpoint::CreateBucket { bucket: s("b") })
    );
    assert_eq!(
        v("PUT", "/", "B.LocalHost.").ok(),
        Some(Endpoint::CreateBucket { bucket: s("b") })
    );
    assert_eq!(
        v("PUT", "/", "b.127.0.0.1.nip.io:9000").ok(),
        Some(Endpoint::CreateBucket { bucket: s("b") })
    );
    assert_eq!(
        v("POST", "/?delete", "b.localhost").ok(),
        Some(Endpoint::DeleteObjects { bucket: s("b") })
    );
    // The host is a domain, an IP literal, or unknown: path-style.
    assert_eq!(
        v("GET", "/", "localhost:9000").ok(),
        Some(Endpoint::ListBuckets)
    );
    assert_eq!(
        v("GET", "/", "s3.localhost").ok(),
        Some(Endpoint::ListBuckets)
    );
    assert_eq!(
        v("GET", "/", "127.0.0.1.nip.io").ok(),
        Some(Endpoint::ListBuckets)
    );
    assert_eq!(
        v("GET", "/b/k", "127.0.0.1:9000").ok(),
        Some(get_object("b", "k"))
    );
    assert_eq!(
        v("GET", "/b/k", "[::1]:9000").ok(),
        Some(get_object("b", "k"))
    );
    assert_eq!(v("GET", "/b/k", "[::1]").ok(), Some(get_object("b", "k")));
    assert_eq!(
        v("GET", "/b/k", "example.com").ok(),
        Some(get_object("b", "k"))
    );
    assert_eq!(
        v("GET", "/b/k", "notlocalhost").ok(),
        Some(get_object("b", "k"))
    );
    assert_eq!(
        v("GET", "/b/k", ".localhost").ok(),
        Some(get_object("b", "k"))
    );
}

#[test]
fn http2_authority_takes_precedence_over_host() {
    assert_eq!(
        route_with("GET", "http://b.localhost:9000/k", "other.localhost", &[]).ok(),
        Some(get_object("b", "k"))
    );
}

#[test]
fn copy_object_and_upload_part_copy() {
    let copy = |target: &str, src: &str| {
        route_with("PUT", target, "127.0.0.1", &[("x-amz-copy-source", src)])
    };
    assert_eq!(
        copy("/bucket/dst", "/src-bucket/a%2Fb%20c+d.txt").ok(),
        Some(Endpoint::CopyObject {
            bucket: s("bucket"),
            key: s("dst"),
            copy_source: CopySource {
                bucket: s("src-bucket"),
                key: s("a/b c+d.txt"),
                version_id: None
            },
        })
    );
    assert_eq!(
        copy("/bucket/dst", "src/k?versionId=null").ok(),
        Some(Endpoint::CopyObject {
            bucket: s("bucket"),
            key: s("dst"),
            copy_source: CopySource {
                bucket: s("src"),
                key: s("k"),
                version_id: Some(VersionId::Null)
            },
        })
    );
    assert_eq!(
        copy("/bucket/dst?partNumber=3&uploadId=VXBsb2FkIElE", "/src/k/x").ok(),
        Some(Endpoint::UploadPartCopy {
            bucket: s("bucket"),
            key: s("dst"),
            part_number: 3,
            upload_id: s("VXBsb2FkIElE"),
            copy_source: CopySource {
                bucket: s("src"),
                key: s("k/x"),
                version_id: None
            },
        })
    );
    for bad in [
        "",
        "/",
        "bucket",
        "bucket/",
        "/k",
        "b/k?versionId=",
        "b/k?foo=1",
        "b/%FF",
    ] {
        let e = copy("/bucket/dst", bad)
            .err()
            .unwrap_or_else(|| panic!("{bad:?} accepted"));
        assert_eq!(e.code, S3ErrorCode::InvalidArgument, "{bad:?}");
    }
}

#[test]
fn multipart_family() {
    assert_eq!(
        ok("POST", "/bucket/key?uploads"),
        Endpoint::CreateMultipartUpload {
            bucket: s("bucket"),
            key: s("key")
        }
    );
    assert_eq!(
        ok("PUT", "/bucket/key?partNumber=1&uploadId=x"),
        Endpoint::UploadPart {
            bucket: s("bucket"),
            key: s("key"),
            part_number: 1,
            upload_id: s("x")
        }
    );
    assert_eq!(
        ok("POST", "/bucket/key?uploadId=x"),
        Endpoint::CompleteMultipartUpload {
            bucket: s("bucket"),
            key: s("key"),
            upload_id: s("x")
        }
    );
    assert_eq!(
        ok("DELETE", "/bucket/key?uploadId=x"),
        Endpoint::AbortMultipartUpload {
            bucket: s("bucket"),
            key: s("key"),
            upload_id: s("x")
        }
    );
    assert_eq!(
        ok(
            "GET",
            "/bucket/key?uploadId=x&max-parts=2&part-number-marker=1"
        ),
        Endpoint::ListParts {
            bucket: s("bucket"),
            key: s("key"),
            upload_id: s("x"),
            max_parts: 2,
            part_number_marker: Some(1),
        }
    );
    assert_eq!(
        ok("GET", "/bucket/key?uploadId=x"),
        Endpoint::ListParts {
            bucket: s("bucket"),
            key: s("key"),
            upload_id: s("x"),
            max_parts: 1000,
            part_number_marker: None
        }
    );
    assert_eq!(
        ok(
            "GET",
            "/bucket?uploads&prefix=p&delimiter=%2F&key-marker=k&upload-id-marker=u&max-uploads=5&encoding-type=url"
        ),
        Endpoint::ListMultipartUploads {
            bucket: s("bucket"),
            prefix: Some(s("p")),
            delimiter: Some(s("/")),
            key_marker: Some(s("k")),
            upload_id_marker: Some(s("u")),
            max_uploads: 5,
            encoding_type: Some(EncodingType::Url),
        }
    );
    assert_eq!(
        err("PUT", "/bucket/key?partNumber=0&uploadId=x").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("PUT", "/bucket/key?partNumber=10001&uploadId=x").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("PUT", "/bucket/key?uploadId=x").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("PUT", "/bucket/key?partNumber=1").code,
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        err("GET", "/bucket/key?uploadId=x&part-number-marker=-1").code,
        S3ErrorCode::InvalidArgument
    );
}

#[test]
fn unimplemented_operations_are_named() {
    let ni = |method: &str, target: &str| match ok(method, target) {
        Endpoint::NotImplemented { operation } => operation,
        other => panic!("{method} {target}: {other:?}"),
    };
    assert_eq!(ni("PUT", "/bucket?cors"), "PutBucketCors");
    assert_eq!(
        ni("GET", "/bucket?lifecycle"),
        "GetBucketLifecycleConfiguration"
    );
    assert_eq!(ni("DELETE", "/bucket?lifecycle"), "DeleteBucketLifecycle");
    assert_eq!(ni("GET", "/bucket?tagging"), "GetBucketTagging");
    assert_eq!(ni("PUT", "/bucket?website"), "PutBucketWebsite");
    assert_eq!(ni("GET", "/bucket?logging"), "GetBucketLogging");
    assert_eq!(
        ni("GET", "/bucket?notification"),
        "GetBucketNotificationConfiguration"
    );
    assert_eq!(ni("PUT", "/bucket?replication"), "PutBucketReplication");
    assert_eq!(
        ni("GET", "/bucket?object-lock"),
        "GetObjectLockConfiguration"
    );
    assert_eq!(
        ni("GET", "/bucket?accelerate"),
        "GetBucketAccelerateConfiguration"
    );
    assert_eq!(
        ni("GET", "/bucket?requestPayment"),
        "GetBucketRequestPayment"
    );
    assert_eq!(
        ni("GET", "/bucket?analytics&id=a"),
        "GetBucketAnalyticsConfiguration"
    );
    assert_eq!(
        ni("GET", "/bucket?metrics"),
        "GetBucketMetricsConfiguration"
    );
    assert_eq!(
        ni("GET", "/bucket?inventory"),
        "GetBucketInventoryConfiguration"
    );
    assert_eq!(
        ni("GET", "/bucket?intelligent-tiering"),
        "GetBucketIntelligentTieringConfiguration"
    );
    assert_eq!(ni("PUT", "/bucket?versioning"), "PutBucketVersioning");
    assert_eq!(ni("POST", "/bucket"), "PostObject");
    assert_eq!(ni("GET", "/bucket/key?tagging"), "GetObjectTagging");
    assert_eq!(ni("PUT", "/bucket/key?tagging"), "PutObjectTagging");
    assert_eq!(ni("DELETE", "/bucket/key?tagging"), "DeleteObjectTagging");
    assert_eq!(ni("GET", "/bucket/key?torrent"), "GetObjectTorrent");
    assert_eq!(ni("GET", "/bucket/key?attributes"), "GetObjectAttributes");
    assert_eq!(ni("PUT", "/bucket/key?legal-hold"), "PutObjectLegalHold");
    assert_eq!(ni("GET", "/bucket/key?retention"), "GetObjectRetention");
    assert_eq!(ni("POST", "/bucket/key?restore"), "RestoreObject");
    assert_eq!(
        ni("POST", "/bucket/key?select&select-type=2"),
        "SelectObjectContent"
    );
    // A PUT with a sub-resource never falls through to PutObject / CopyObject.
    assert_eq!(
        route_with(
            "PUT",
            "/bucket/key?tagging",
            "127.0.0.1",
            &[("x-amz-copy-source", "a/b")]
        )
        .ok(),
        Some(Endpoint::NotImplemented {
            operation: "PutObjectTagging"
        })
    );
    // Sub-resource with no such operation for the method.
    assert_eq!(
        err("DELETE", "/bucket?acl").code,
        S3ErrorCode::MethodNotAllowed
    );
    assert_eq!(
        err("DELETE", "/bucket/key?acl").code,
        S3ErrorCode::MethodNotAllowed
    );
}

/// The access-configuration sub-resources, from the S3 API reference's request lines.
#[test]
fn access_configuration_routes() {
    let cfg = |method: &str, target: &str| match ok(method, target) {
        Endpoint::BucketConfig { bucket, op } => {
            assert_eq!(bucket, "bucket");
            op
        }
        other => panic!("{method} {target}: {other:?}"),
    };
    assert_eq!(cfg("GET", "/bucket?policy"), BucketOp::GetBucketPolicy);
    assert_eq!(cfg("PUT", "/bucket?policy"), BucketOp::PutBucketPolicy);
    assert_eq!(
        cfg("DELETE", "/bucket?policy"),
        BucketOp::DeleteBucketPolicy
    );
    assert_eq!(
        cfg("GET", "/bucket?policyStatus"),
        BucketOp::GetBucketPolicyStatus
    );
    assert_eq!(
        cfg("PUT", "/bucket?publicAccessBlock"),
        BucketOp::PutPublicAccessBlock
    );
    assert_eq!(
        cfg("DELETE", "/bucket?publicAccessBlock"),
        BucketOp::DeletePublicAccessBlock
    );
    assert_eq!(
        cfg("GET", "/bucket?ownershipControls"),
        BucketOp::GetBucketOwnershipControls
    );
    assert_eq!(cfg("GET", "/bucket?acl"), BucketOp::GetBucketAcl);
    assert_eq!(cfg("PUT", "/bucket?acl"), BucketOp::PutBucketAcl);
    assert_eq!(
        ok("GET", "/bucket/key?acl&versionId=null"),
        Endpoint::ObjectAcl {
            bucket: "bucket".into(),
            key: "key".into(),
            put: false,
            version_id: Some(VersionId::Null),
        }
    );
    assert_eq!(ok("PUT", "/bucket/key?acl").operation(), "PutObjectAcl");
}

#[test]
fn operation_bucket_and_key_accessors() {
    let e = ok("PUT", "/bucket/a%2Fb?partNumber=1&uploadId=x");
    assert_eq!(e.operation(), "UploadPart");
    assert_eq!(e.bucket(), Some("bucket"));
    assert_eq!(e.key(), Some("a/b"));
    assert_eq!(Endpoint::ListBuckets.bucket(), None);
    assert_eq!(ok("GET", "/b?acl").operation(), "GetBucketAcl");
}

proptest::proptest! {
    /// Whatever the path, query and host, routing answers without panicking.
    #[test]
    fn route_never_panics(
        path in "(/[a-zA-Z0-9%+?&=./ -]{0,12}){0,4}",
        query in "[a-zA-Z0-9%+&=-]{0,40}",
        host in "[a-zA-Z0-9.:\\[\\]-]{0,20}",
        method in proptest::sample::select(vec!["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
        copy in proptest::option::of("[a-zA-Z0-9%/?=&]{0,20}"),
    ) {
        let target = format!("{}?{query}", if path.is_empty() { "/" } else { &path });
        let (Ok(uri), Ok(host)) = (target.parse::<Uri>(), HeaderValue::from_str(&host)) else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, host);
        if let Some(copy) = copy.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert("x-amz-copy-source", copy);
        }
        let method = Method::from_bytes(method.as_bytes()).expect("valid method");
        let domains = domains();
        let _ = route(&RouteInput { method: &method, uri: &uri, headers: &headers, vhost_domains: &domains });
    }
}
