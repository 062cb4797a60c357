//! Conditional GET/HEAD (304/412 as AWS, validators on the 304), conditional PUT, and the
//! `response-*` overrides.

use crate::common::*;

fn status<E>(e: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>) -> u16 {
    e.raw_response().map_or(0, |r| r.status().as_u16())
}

#[tokio::test]
async fn conditional_get_and_head() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("cond").send().await.unwrap();
    let data = pattern(5000, 11);
    let etag = s3
        .put_object()
        .bucket("cond")
        .key("k")
        .body(data.clone().into())
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    let h = s3
        .head_object()
        .bucket("cond")
        .key("k")
        .send()
        .await
        .unwrap();
    let modified = h.last_modified.unwrap();
    let at = |d: i64| aws_smithy_types::DateTime::from_secs(modified.secs() + d);

    // (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since) -> status
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<i64>,
        Option<i64>,
        u16,
    );
    let cases: Vec<Case> = vec![
        (Some(&etag), None, None, None, 200),
        (Some("\"nope\""), None, None, None, 412),
        (Some("*"), None, None, None, 200),
        (None, Some(&etag), None, None, 304),
        (None, Some("\"nope\""), None, None, 200),
        (None, Some("*"), None, None, 304),
        (None, None, Some(-3600), None, 200),
        (None, None, Some(3600), None, 304),
        (None, None, None, Some(3600), 200),
        (None, None, None, Some(-3600), 412),
        // If-Match true wins over If-Unmodified-Since false.
        (Some(&etag), None, None, Some(-3600), 200),
        // If-None-Match decides alone over If-Modified-Since.
        (None, Some("\"nope\""), Some(3600), None, 200),
        (None, Some(&etag), Some(-3600), None, 304),
        // 412 outranks 304.
        (Some("\"nope\""), Some(&etag), None, None, 412),
    ];
    for (i, (im, inm, ims, ius, want)) in cases.into_iter().enumerate() {
        let mut get = s3.get_object().bucket("cond").key("k");
        let mut head = s3.head_object().bucket("cond").key("k");
        if let Some(v) = im {
            get = get.if_match(v);
            head = head.if_match(v);
        }
        if let Some(v) = inm {
            get = get.if_none_match(v);
            head = head.if_none_match(v);
        }
        if let Some(d) = ims {
            get = get.if_modified_since(at(d));
            head = head.if_modified_since(at(d));
        }
        if let Some(d) = ius {
            get = get.if_unmodified_since(at(d));
            head = head.if_unmodified_since(at(d));
        }
        match get.send().await {
            Ok(out) => {
                assert_eq!(want, 200, "GET case {i}");
                assert!(read_all(out).await == data);
            }
            Err(e) => {
                assert_eq!(status(&e), want, "GET case {i}");
                if want == 304 {
                    let r = e.raw_response().unwrap();
                    assert_eq!(r.headers().get("etag"), Some(etag.as_str()), "case {i}");
                    assert!(r.headers().get("last-modified").is_some(), "case {i}");
                } else {
                    assert_eq!(code(&e), "PreconditionFailed", "case {i}");
                }
            }
        }
        match head.send().await {
            Ok(_) => assert_eq!(want, 200, "HEAD case {i}"),
            Err(e) => assert_eq!(status(&e), want, "HEAD case {i}"),
        }
    }
}

#[tokio::test]
async fn conditional_put() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("cput").send().await.unwrap();
    let put = |body: &'static [u8]| {
        s3.put_object()
            .bucket("cput")
            .key("k")
            .body(body.to_vec().into())
    };

    // If-Match on a missing key: NoSuchKey, nothing created.
    let err = put(b"x").if_match("\"abc\"").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    // If-None-Match: * creates only.
    let first = put(b"one")
        .if_none_match("*")
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    let err = put(b"two").if_none_match("*").send().await.unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
    // If-Match replaces only the expected version.
    let err = put(b"two").if_match("\"0123\"").send().await.unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
    put(b"two").if_match(&first).send().await.unwrap();
    let got = read_all(
        s3.get_object()
            .bucket("cput")
            .key("k")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got, b"two");
}

#[tokio::test]
async fn response_overrides() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("ovr").send().await.unwrap();
    s3.put_object()
        .bucket("ovr")
        .key("k")
        .content_type("text/plain")
        .body(b"hi".to_vec().into())
        .send()
        .await
        .unwrap();
    let out = s3
        .get_object()
        .bucket("ovr")
        .key("k")
        .response_content_type("application/x-test")
        .response_content_disposition("attachment; filename=\"k.txt\"")
        .response_cache_control("no-store")
        .response_content_language("fr")
        .response_content_encoding("identity")
        .send()
        .await
        .unwrap();
    assert_eq!(out.content_type.as_deref(), Some("application/x-test"));
    assert_eq!(
        out.content_disposition.as_deref(),
        Some("attachment; filename=\"k.txt\"")
    );
    assert_eq!(out.cache_control.as_deref(), Some("no-store"));
    assert_eq!(out.content_language.as_deref(), Some("fr"));
    assert_eq!(out.content_encoding.as_deref(), Some("identity"));
    assert_eq!(read_all(out).await, b"hi");
}
