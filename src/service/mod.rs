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
    /// The name is taken by another account.
    #[error("the bucket name is owned by another account")]
    BucketAlreadyExists,
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
    /// A storage backend is down or did not answer in time (S3's 503).
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    /// The object was replaced or deleted between reading its record and opening its data:
    /// read the record again.
    #[error("the object changed while it was being opened")]
    ObjectChanged,
    #[error(transparent)]
    Multipart(#[from] multipart::MultipartError),
    /// SSE-C object read without its key (`InvalidRequest`).
    #[error(
        "The object was stored using a form of Server Side Encryption. The correct parameters \
         must be provided to retrieve the object."
    )]
    CustomerKeyRequired,
    /// SSE-C key given for an object that is not SSE-C (`InvalidRequest`).
    #[error("The encryption parameters are not applicable to this object.")]
    CustomerKeyNotApplicable,
    /// The SSE-C key does not match the object's (`AccessDenied`).
    #[error("Access Denied")]
    AccessDenied,
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
            StorageError::Unavailable(m) => ServiceError::Unavailable(m),
        }
    }
}

impl From<SseError> for ServiceError {
    fn from(e: SseError) -> Self {
        match e {
            SseError::Kms(k) => ServiceError::Kms(k),
            SseError::InvalidArgument(m) => ServiceError::InvalidArgument(m),
            SseError::Corrupt(m) => ServiceError::Integrity(m.into()),
            SseError::CustomerKeyRequired => ServiceError::CustomerKeyRequired,
            SseError::CustomerKeyMismatch => ServiceError::AccessDenied,
            SseError::CustomerKeyNotApplicable => ServiceError::CustomerKeyNotApplicable,
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
    /// The server-side key SSE-C key MACs are computed under (sealed in the store's `meta`
    /// table). `None`: SSE-C is refused.
    pub(crate) customer_mac_key: Option<Arc<crate::sse::CustomerMacKey>>,
    /// Bucket-level keys for SSE-KMS with bucket keys enabled.
    pub(crate) bucket_keys: Arc<crate::sse::BucketKeyCache>,
    /// The account that owns buckets whose records predate accounts.
    pub(crate) default_account: String,
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
            customer_mac_key: None,
            bucket_keys: Arc::default(),
            default_account: crate::config::DEFAULT_ACCOUNT_ID.to_string(),
        }
    }

    /// Sets the default account (the owner of buckets created before accounts existed).
    pub fn with_default_account(mut self, account: &str) -> Self {
        self.default_account = account.to_string();
        self
    }

    /// Enables SSE-C with the server-side key its key MACs are computed under.
    pub fn with_customer_mac_key(mut self, key: crate::sse::CustomerMacKey) -> Self {
        self.customer_mac_key = Some(Arc::new(key));
        self
    }

    pub(crate) fn customer_mac_key(&self) -> Result<&crate::sse::CustomerMacKey, ServiceError> {
        self.customer_mac_key
            .as_deref()
            .ok_or_else(|| ServiceError::Internal("SSE-C is not configured".into()))
    }

    /// The data key(s) of an envelope: unwrapped through the KMS, or (SSE-C) the customer's key
    /// once its MAC matches. A customer key for a non-SSE-C object is refused, as AWS does.
    pub(crate) fn envelope_key(
        &self,
        sse: &crate::storage::records::SseRecord,
        customer: Option<&crate::sse::CustomerKey>,
    ) -> Result<crate::sse::chunk::DataKeys, ServiceError> {
        use crate::storage::records::SseMode;
        match sse.mode {
            SseMode::Customer => Ok(crate::sse::chunk::DataKeys::single(
                crate::sse::open_customer(self.customer_mac_key()?, sse, customer)?,
            )),
            _ if customer.is_some() => Err(ServiceError::CustomerKeyNotApplicable),
            _ => Ok(crate::sse::open_envelope(self.kms.as_ref(), sse)?),
        }
    }

    /// Checks a read's customer key against an object without decrypting (HEAD).
    pub fn check_customer_key(
        &self,
        sse: &crate::storage::records::SseRecord,
        customer: Option<&crate::sse::CustomerKey>,
    ) -> Result<(), ServiceError> {
        use crate::storage::records::SseMode;
        match sse.mode {
            SseMode::Customer => {
                crate::sse::open_customer(self.customer_mac_key()?, sse, customer)?;
                Ok(())
            }
            _ if customer.is_some() => Err(ServiceError::CustomerKeyNotApplicable),
            _ => Ok(()),
        }
    }

    /// A new envelope for `spec`: through the KMS, or (SSE-C) around the customer's key.
    pub(crate) fn make_envelope(
        &self,
        spec: &crate::sse::SseSpec,
        bucket: &str,
        key: &str,
    ) -> Result<
        (
            crate::storage::records::SseRecord,
            crate::sse::chunk::DataKeys,
        ),
        ServiceError,
    > {
        match spec {
            crate::sse::SseSpec::Customer(ck) => {
                let (record, key) = crate::sse::customer_envelope(self.customer_mac_key()?, ck);
                Ok((record, crate::sse::chunk::DataKeys::single(key)))
            }
            _ => Ok(crate::sse::new_envelope_cached(
                self.kms.as_ref(),
                spec,
                bucket,
                key,
                Some((&self.bucket_keys, self.clock.now())),
            )?),
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
