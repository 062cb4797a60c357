//! One integration test binary. Where new tests go:
//! - `s3_objects`: object and bucket operations through aws-sdk-s3
//! - `s3_auth`: SigV4 header auth, presigned URLs, their errors
//! - `s3_bad_input`: malformed requests on the wire, AWS's error codes, nothing changed
//! - `at_rest`: what is on disk (no plaintext), tampering, golden files, restarts
//! - `cli`: stock aws-cli and boto3 scripts against the real binary
//! - `bench`: `coffer bench` smoke tests (in-process, tiny settings, no timed assertions)

mod common;

mod at_rest;
mod bench;
mod cli;
mod s3_auth;
mod s3_bad_input;
mod s3_objects;
