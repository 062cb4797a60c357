//! Protocols: they translate between the wire and the core, and own nothing else.

pub mod auth;
pub mod iam;
pub mod kms;
pub mod s3;
