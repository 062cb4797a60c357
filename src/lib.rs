//! Coffer: an S3-compatible object store that never stores an object in plaintext.
//!
//! The request path (see `DESIGN.md` in the project docs for the full picture):
//!
//! ```text
//! TCP -> hyper -> server::dispatch
//!    POST / with X-Amz-Target: TrentService.*  -> api::kms (later)  -> kms
//!    GET /health (no auth)                     -> liveness/readiness
//!    everything else                           -> api::s3
//! api::s3: api::auth (SigV4) -> router (pure) -> handlers -> service -> sse + storage
//! ```
//!
//! Layering rules, which the module boundaries enforce:
//! - `service` and `kms` know nothing of HTTP;
//! - `sse` reaches key material only through the [`kms::KeyProvider`] trait;
//! - nothing outside `storage` names sled.

pub mod api;
pub mod app;
pub mod bench;
pub mod clock;
pub mod config;
pub mod kms;
pub mod secret;
pub mod server;
pub mod service;
pub mod sse;
pub mod storage;
pub mod verify;
