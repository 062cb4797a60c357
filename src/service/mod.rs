//! The store's logic: buckets, objects, listing. No HTTP types here: protocols translate
//! requests into calls on [`Service`] and its results back into wire responses.
//!
//! Invariants this layer keeps:
//! - there is no unencrypted object: every body goes through `sse` on its way to `storage`;
//! - nothing is acknowledged before it is durable ([`crate::storage::Store::flush`]);
//! - a failed or abandoned write leaves nothing visible and nothing behind (stream guards).

pub mod buckets;
pub mod copy;
pub mod digest;
pub mod list;
pub mod multipart;
pub mod objects;

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::kms::{KeyProvider, KmsError};
use crate::sse::SseError;
use crate::storage::{StorageError, Store};

/// S3's largest single PUT (5 GiB).
pub const MAX_PUT_SIZE: u64 = 5 << 30;
/// S3's longest object key, in UTF-8 bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// S3's limit on user metadata: names and values of all `x-amz-meta-*` headers, in bytes.
pub const MAX_USER_METADATA: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    #[error("The specified key does not exist.")]
    NoSuchKey,
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou,
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    #[error("The specified bucket is not valid: {0}")]
    InvalidBucketName(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("Your metadata headers exceed the maximum allowed metadata size")]
    MetadataTooLarge,
    #[error("The requested range is not satisfiable")]
    InvalidRange { size: u64 },
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    #[error("{0}")]
    BadDigest(String),
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    PayloadHashMismatch,
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header.")]
    IncompleteBody,
    #[error("Your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge,
    #[error("error reading the request body: {0}")]
    BodyRead(String),
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error("stored object failed its integrity check: {0}")]
    Integrity(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// The object was replaced or deleted between reading its record and opening its data:
    /// read the record again.
    #[error("the object changed while it was being opened")]
    ObjectChanged,
    #[error(transparent)]
    Multipart(#[from] multipart::MultipartError),
}

impl From<StorageError> for ServiceError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NoSuchBucket => ServiceError::NoSuchBucket,
            StorageError::BucketExists => ServiceError::BucketAlreadyOwnedByYou,
            StorageError::BucketNotEmpty => ServiceError::BucketNotEmpty,
            StorageError::PreconditionFailed => ServiceError::PreconditionFailed,
            StorageError::Corrupt(m) => ServiceError::Integrity(m),
            StorageError::Io(m) => ServiceError::Internal(m),
        }
    }
}

impl From<SseError> for ServiceError {
    fn from(e: SseError) -> Self {
        match e {
            SseError::Kms(k) => ServiceError::Kms(k),
            SseError::InvalidArgument(m) => ServiceError::InvalidArgument(m),
            SseError::Corrupt(m) => ServiceError::Integrity(m.into()),
        }
    }
}

impl From<crate::secret::RandomError> for ServiceError {
    fn from(e: crate::secret::RandomError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

/// The object store: cheap to clone, shared by every connection.
#[derive(Clone)]
pub struct Service {
    pub(crate) store: Store,
    pub(crate) kms: Arc<dyn KeyProvider>,
    pub(crate) clock: SharedClock,
    pub(crate) region: String,
}

impl Service {
    pub fn new(
        store: Store,
        kms: Arc<dyn KeyProvider>,
        clock: SharedClock,
        region: String,
    ) -> Self {
        Service {
            store,
            kms,
            clock,
            region,
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn now_millis(&self) -> u64 {
        crate::clock::unix_millis(self.clock.now())
    }
}
