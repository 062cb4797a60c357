//! One integration test binary. Where new tests go:
//! - `s3_objects`: object and bucket operations through aws-sdk-s3
//! - `s3_multipart`: multipart uploads, UploadPartCopy, multipart reads, kill -9 mid-upload
//! - `s3_auth`: SigV4 header auth, presigned URLs, their errors
//! - `s3_bad_input`: malformed requests on the wire, AWS's error codes, nothing changed
//! - `at_rest`: what is on disk (no plaintext), tampering, golden files, restarts
//! - `s3_stream`: aws-chunked uploads (SDK defaults and hand-built bodies), checksums, 100-continue
//! - `s3_copy`: CopyObject (SSE of the destination, directives, copy-source conditionals)
//! - `s3_conditional`: conditional GET/HEAD/PUT, response-* overrides
//! - `tls`: HTTPS with the generated certificate, HTTP/2 by ALPN, HTTP and HTTPS side by side
//! - `s3_sse`: bucket default encryption, bucket keys, SSE header rules
//! - `cli`: stock aws-cli and boto3 scripts against the real binary
//! - `kms_api`: the KMS JSON API through aws-sdk-kms, key states as S3 sees them, audit log
//! - `hostile`: hostile clients on the wire: limits, stalls, idle connections
//! - `shutdown`: SIGTERM with uploads in flight, the grace deadline, no recovery after
//! - `tamper`: chunks swapped between objects, dropped, appended: errors, never wrong bytes
//! - `verify`: `coffer verify` on clean, crashed, tampered stores and a wrong root key
//! - `crash`: SIGKILL under load, restart, every acknowledged write intact, nothing left behind
//! - `bench`: `coffer bench` smoke tests (in-process, tiny settings, no timed assertions)
//! - `multinode`: several nodes over PostgreSQL and SeaweedFS (started by the test itself)
//! - `access`: accounts, IAM users and policies, bucket and key policies, anonymous access,
//!   cross-account access, S3's key uses on the caller's behalf, the audit of all of it

// Test code may unwrap, expect and panic (Cargo.toml denies them in the product).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "services/mod.rs"]
mod services;

mod access;
mod at_rest;
mod bench;
mod cli;
mod crash;
mod hostile;
mod kms_api;
mod multinode;
mod s3_auth;
mod s3_bad_input;
mod s3_conditional;
mod s3_copy;
mod s3_multipart;
mod s3_objects;
mod s3_sse;
mod s3_stream;
mod shutdown;
mod tamper;
mod tls;
mod verify;
