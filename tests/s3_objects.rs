//! See tests.rs for what goes here.
use crate::common::*;

#[tokio::test]
async fn put_get_roundtrip_smoke() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("smoke").send().await.unwrap();
    let body = pattern(1000, 1);
    s3.put_object()
        .bucket("smoke")
        .key("k")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let got = read_all(
        s3.get_object()
            .bucket("smoke")
            .key("k")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got, body);
}
