//! The embedded KMS: symmetric customer master keys with versions, their material sealed under
//! the root key, data keys wrapped into the v1 ciphertext blob.
//!
//! This module knows no HTTP. The S3 side reaches it only through [`KeyProvider`], so an
//! external KMS could take its place; the KMS JSON API (a later layer) calls [`Kms`] directly.

pub mod audit;
pub mod blob;
mod crypto;
mod engine;
pub mod grants;
mod import;
mod keys;
mod lifecycle;
mod resolve;
pub mod root;
pub mod store;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::BTreeMap;
use std::fmt;

use zeroize::Zeroizing;

use crate::secret::Key32;

pub use engine::{
    AWS_S3_ALIAS, AWS_S3_KEY_DESCRIPTION, AliasEntry, DataKeyLength, DataKeyOutput, DecryptOutput,
    EncryptOutput, KeyMetadata, Kms, KmsOpenError, KmsOptions, MAX_DATA_KEY_LEN, SeedKey,
};
pub use import::{ImportParameters, WrappingAlgorithm, WrappingKeySpec};
pub use lifecycle::{
    DEFAULT_PENDING_WINDOW_DAYS, DEFAULT_POLICY_NAME, KeyAccess, KeyRotation,
    MAX_PENDING_WINDOW_DAYS, MAX_POLICY_LEN, MAX_ROTATION_PERIOD_DAYS, MIN_PENDING_WINDOW_DAYS,
    MIN_ROTATION_PERIOD_DAYS, RotationStatus, arn_account,
};
pub use root::{RootKey, RootKeyError};
pub use store::{KeyManager, KeyOrigin, KeySpec, KeyState, KeyUsage, KmsTag};

/// Secret bytes of any length (a decrypted `Encrypt` payload, a data key of a requested
/// size): zeroized on drop, `Debug` redacted, no `PartialEq`.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        SecretBytes(bytes)
    }
    /// Exposes the bytes. Keep the borrow short; never copy into a plain buffer.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

/// An AWS encryption context: string pairs bound to a ciphertext as AAD.
pub type EncryptionContext = BTreeMap<String, String>;

/// Which KMS key wraps a data key.
#[derive(Debug, Clone, Copy)]
pub enum KeyRef<'a> {
    /// The service-owned key for SSE-S3; not reachable through any API.
    ServiceSseS3,
    /// The AWS-managed `alias/aws/s3` key, created on first use.
    AwsManagedS3,
    /// A key named by the caller: key id, key ARN, alias name (`alias/x`) or alias ARN.
    Named(&'a str),
}

/// A freshly generated data key: the plaintext (for this request only) and its wrapped form.
#[derive(Debug)]
pub struct GeneratedDataKey {
    pub plaintext: Key32,
    /// The v1 KMS ciphertext blob (see `blob`).
    pub ciphertext_blob: Vec<u8>,
    /// Full ARN of the key that wrapped it.
    pub key_arn: String,
}

/// A data key unwrapped from its blob.
#[derive(Debug)]
pub struct DecryptedDataKey {
    pub plaintext: Key32,
    pub key_arn: String,
}

/// KMS failures, named after the AWS KMS exceptions they map to. Messages never carry key
/// material.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KmsError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Disabled(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("the ciphertext is invalid or does not match its encryption context")]
    InvalidCiphertext,
    #[error("the key id does not match the key that encrypted the ciphertext")]
    IncorrectKey,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// A malformed, reserved or otherwise unusable alias name (`InvalidAliasNameException`).
    #[error("{0}")]
    InvalidAliasName(String),
    /// Bad tags (`TagException`).
    #[error("{0}")]
    Tag(String),
    /// A feature or key type Coffer (or AWS) does not support here
    /// (`UnsupportedOperationException`).
    #[error("{0}")]
    Unsupported(String),
    /// The operation is not allowed on this key, e.g. a lifecycle change on an AWS-managed key
    /// (`AccessDeniedException`, as AWS answers since no key policy grants it).
    #[error("{0}")]
    AccessDenied(String),
    /// A paging marker this server did not hand out (`InvalidMarkerException`).
    #[error("the marker is not valid")]
    InvalidMarker,
    /// An import token that is unknown or not for this key (`InvalidImportTokenException`).
    #[error("{0}")]
    InvalidImportToken(String),
    /// An import token past its `ParametersValidTo` (`ExpiredImportTokenException`).
    #[error("{0}")]
    ExpiredImportToken(String),
    /// Imported material that does not unwrap, or differs from the key's earlier material
    /// (`IncorrectKeyMaterialException`).
    #[error("{0}")]
    IncorrectKeyMaterial(String),
    /// A key policy that is not a JSON object (`MalformedPolicyDocumentException`).
    #[error("{0}")]
    MalformedPolicy(String),
    /// A quota is exhausted (`LimitExceededException`), e.g. grants per key.
    #[error("{0}")]
    LimitExceeded(String),
    #[error("KMS internal error: {0}")]
    Internal(String),
    /// The key store's backend is down or did not answer in time
    /// (`DependencyTimeoutException`, 503: worth retrying).
    #[error("the KMS key store is unavailable: {0}")]
    DependencyTimeout(String),
}

impl KmsError {
    /// The AWS KMS exception this error is (`__type` on the wire, `outcome` in the audit log).
    pub fn exception_name(&self) -> &'static str {
        match self {
            KmsError::NotFound(_) => "NotFoundException",
            KmsError::Disabled(_) => "DisabledException",
            KmsError::InvalidState(_) => "KMSInvalidStateException",
            KmsError::InvalidCiphertext => "InvalidCiphertextException",
            KmsError::IncorrectKey => "IncorrectKeyException",
            KmsError::InvalidArgument(_) => "ValidationException",
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::InvalidAliasName(_) => "InvalidAliasNameException",
            KmsError::Tag(_) => "TagException",
            KmsError::Unsupported(_) => "UnsupportedOperationException",
            KmsError::AccessDenied(_) => "AccessDeniedException",
            KmsError::InvalidMarker => "InvalidMarkerException",
            KmsError::InvalidImportToken(_) => "InvalidImportTokenException",
            KmsError::ExpiredImportToken(_) => "ExpiredImportTokenException",
            KmsError::IncorrectKeyMaterial(_) => "IncorrectKeyMaterialException",
            KmsError::MalformedPolicy(_) => "MalformedPolicyDocumentException",
            KmsError::LimitExceeded(_) => "LimitExceededException",
            KmsError::Internal(_) => "KMSInternalException",
            KmsError::DependencyTimeout(_) => "DependencyTimeoutException",
        }
    }
}

/// What the S3 side needs from a KMS.
pub trait KeyProvider: Send + Sync + 'static {
    /// A fresh 256-bit data key wrapped under `key`, bound to `context`.
    fn generate_data_key(
        &self,
        key: KeyRef<'_>,
        context: &EncryptionContext,
    ) -> Result<GeneratedDataKey, KmsError>;

    /// Unwraps a blob made by [`KeyProvider::generate_data_key`]; fails unless `context` is
    /// exactly the one it was made with and its key is usable.
    fn decrypt_data_key(
        &self,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<DecryptedDataKey, KmsError>;

    /// The full ARN of `key`, creating the AWS-managed key if needed; errors as
    /// `generate_data_key` would (not found, disabled, ...).
    fn resolve_key_arn(&self, key: KeyRef<'_>) -> Result<String, KmsError>;

    /// Whether the current caller may have data keys generated under `key` with `context`
    /// (`kms:GenerateDataKey`), asked before any is made or taken from a cache. The KMS itself
    /// allows everything; the provider S3 uses asks the key policy (`iam::keys`).
    fn authorize_generate(
        &self,
        _key: KeyRef<'_>,
        _context: &EncryptionContext,
    ) -> Result<(), KmsError> {
        Ok(())
    }
}
