//! Coffer: an S3-compatible object store that never stores an object in plaintext.
//!
//! The request path (the README's architecture map has the whole picture):
//!
//! ```text
//! TCP -> hyper -> server::dispatch
//!    GET /health (no auth)                     -> liveness/readiness
//!    signed for service iam / sts              -> api::iam -> iam (users, keys, policies)
//!    POST / with X-Amz-Target: TrentService.*  -> api::kms -> iam::keys (key policy) -> kms
//!    everything else                           -> api::s3
//! api::s3: api::auth (SigV4 or anonymous) -> iam (principal) -> router (pure)
//!          -> authz (IAM action, resource, condition keys; identity + bucket policy)
//!          -> handlers -> service -> sse (-> iam::keys for the caller's KMS permission)
//!          + storage
//! ```
//!
//! Layering rules, which the module boundaries enforce:
//! - `service` and `kms` know nothing of HTTP;
//! - `sse` reaches key material only through the [`kms::KeyProvider`] trait;
//! - `iam::policy` is a pure evaluator: no I/O, no clock;
//! - nothing outside `storage` names sled.

// Cargo.toml denies unwrap, expect and panic; unit tests may use them.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod api;
pub mod app;
pub mod bench;
pub mod clock;
pub mod config;
pub mod iam;
pub mod kms;
pub mod secret;
pub mod server;
pub mod service;
pub mod sse;
pub mod storage;
pub mod transport;
pub mod verify;

#[cfg(test)]
#[path = "../tests/services/mod.rs"]
mod test_services;
