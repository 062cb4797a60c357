//! The S3 protocol.

pub mod error;
pub mod router;
pub mod xml;
