//! Multipart helpers shared by the integration tests (plain uploads, no SSE or checksum
//! options; tests that need those build the request themselves).

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

/// Starts an upload with no SSE or checksum options; returns its id.
pub async fn create(s3: &Client, b: &str, k: &str) -> String {
    s3.create_multipart_upload()
        .bucket(b)
        .key(k)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string()
}

/// Uploads part `n`; returns its ETag.
pub async fn put_part(s3: &Client, b: &str, k: &str, id: &str, n: i32, data: &[u8]) -> String {
    s3.upload_part()
        .bucket(b)
        .key(k)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string()
}

/// The CompleteMultipartUpload body for `(part number, ETag)` pairs.
pub fn completed(parts: &[(i32, String)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(e).build())
                .collect(),
        ))
        .build()
}

/// Completes an upload; returns the object's ETag.
pub async fn complete(s3: &Client, b: &str, k: &str, id: &str, parts: &[(i32, String)]) -> String {
    s3.complete_multipart_upload()
        .bucket(b)
        .key(k)
        .upload_id(id)
        .multipart_upload(completed(parts))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string()
}
