//! [`Kms`]: the embedded KMS, opened over the store and the root key. The operations live
//! beside it, one file per seam: key and alias lifecycle (`keys`), key references to records
//! (`resolve`), material and blobs (`crypto`), checks of names and states (`validate`),
//! rotation, deletion, tags and key policies (`lifecycle`), imported material (`import`),
//! grants (`grants`).
//!
//! Invariants:
//! - Every key record is read from the store on each operation, so a state change (disable,
//!   schedule deletion) takes effect for the very next request; only unsealed material is
//!   cached, per (key, version), and material never changes once written.
//! - The service key (SSE-S3) is reachable only through [`KeyRef::ServiceSseS3`] and blobs
//!   made with it; every public method treats it as nonexistent.
//! - The AWS-managed `alias/aws/s3` key and the service key are created on first use, at most
//!   once: an in-process lock serializes creation, and the pointer to the new key (alias or
//!   `meta` entry) is written with insert-if-absent and re-read, so a lost race leaves no
//!   second key behind.
//! - Writes here are not flushed by the KMS itself: sled's own periodic flush and every
//!   `Store::flush` of the S3 side cover them (one database); the JSON API calls [`Kms::flush`]
//!   before acknowledging a key change.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::{self, AuditLog, Source};
use super::resolve::parse_key_id;
use super::root::RootKey;
use super::store::{
    self, AliasRecord, KeyManager, KeyOrigin, KeySpec, KeyState, KeyUsage, KmsTables,
};
use super::validate::validate_alias_name;
use super::{EncryptionContext, KmsError, SecretBytes};
use crate::clock::{SharedClock, SystemClock, unix_millis};
use crate::secret::Key32;
use crate::storage::{StorageError, Store};

/// The AWS-managed key for SSE-KMS without a key id.
pub const AWS_S3_ALIAS: &str = "alias/aws/s3";
/// AWS's description of the `alias/aws/s3` key.
pub const AWS_S3_KEY_DESCRIPTION: &str =
    "Default key that protects my S3 objects when no other key is defined";
pub(super) const SERVICE_KEY_DESCRIPTION: &str = "Coffer service key for SSE-S3 (not callable)";
/// Data keys from `GenerateDataKey` are 1..=1024 bytes (AWS's limit).
pub const MAX_DATA_KEY_LEN: usize = 1024;

/// Options for [`Kms::open`].
#[derive(Clone)]
pub struct KmsOptions {
    pub region: String,
    pub account_id: String,
    /// Keys created on first start with exactly these ids; never overwritten later.
    pub seed_keys: Vec<SeedKey>,
    pub clock: SharedClock,
    /// Where the audit log goes (JSON lines); `None`: no audit log.
    pub audit_log: Option<PathBuf>,
}

impl Default for KmsOptions {
    fn default() -> Self {
        KmsOptions {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            seed_keys: Vec::new(),
            clock: Arc::new(SystemClock),
            audit_log: None,
        }
    }
}

impl std::fmt::Debug for KmsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsOptions")
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field("seed_keys", &self.seed_keys)
            .field("audit_log", &self.audit_log)
            .finish_non_exhaustive()
    }
}

/// A customer key to create on first start (config `kms.seed_keys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedKey {
    /// A UUID, hyphenated.
    pub key_id: String,
    /// `alias/name` (the `alias/` prefix is added if missing).
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KmsOpenError {
    #[error(
        "the root key does not match the one this data directory was created with; refusing \
         to start (use the original root key file)"
    )]
    WrongRootKey,
    #[error(
        "the data directory holds KMS keys but no root-key check value; refusing to start \
         rather than guess whether the root key is right"
    )]
    MissingRootKeyCheck,
    #[error("invalid seed key {0:?}: {1}")]
    InvalidSeedKey(String, String),
    #[error("opening the KMS key store: {0}")]
    Storage(#[from] StorageError),
    #[error("opening the KMS: {0}")]
    Kms(#[from] KmsError),
    #[error("cannot open the KMS audit log {0}: {1}")]
    Audit(PathBuf, std::io::Error),
}

/// What the KMS tells about one key (AWS's `KeyMetadata` without its wire form, which is the
/// JSON API's: `api::kms::wire`). Dates are epoch milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyMetadata {
    pub aws_account_id: String,
    pub key_id: String,
    pub arn: String,
    pub creation_ms: u64,
    pub description: String,
    pub key_usage: KeyUsage,
    pub key_state: KeyState,
    pub deletion_ms: Option<u64>,
    pub pending_deletion_window_in_days: Option<u32>,
    pub origin: KeyOrigin,
    pub key_manager: KeyManager,
    pub key_spec: KeySpec,
    /// Imported (`EXTERNAL`) keys with material: whether it expires.
    pub material_expires: Option<bool>,
    /// When imported material expires.
    pub valid_to_ms: Option<u64>,
}

impl KeyMetadata {
    pub fn enabled(&self) -> bool {
        self.key_state == KeyState::Enabled
    }
}

/// One alias as `ListAliases` shows it. Dates are epoch milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasEntry {
    pub alias_name: String,
    pub alias_arn: String,
    pub target_key_id: String,
    pub creation_ms: u64,
    pub last_updated_ms: u64,
}

/// Size of a generated data key: `NumberOfBytes` or `KeySpec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKeyLength {
    Bytes(usize),
    Aes128,
    Aes256,
}

impl DataKeyLength {
    pub fn byte_len(self) -> usize {
        match self {
            DataKeyLength::Bytes(n) => n,
            DataKeyLength::Aes128 => 16,
            DataKeyLength::Aes256 => 32,
        }
    }
}

/// Output of `Encrypt` and `GenerateDataKeyWithoutPlaintext`.
#[derive(Debug, Clone)]
pub struct EncryptOutput {
    pub ciphertext_blob: Vec<u8>,
    pub key_arn: String,
}

/// Output of `Decrypt`.
#[derive(Debug)]
pub struct DecryptOutput {
    pub plaintext: SecretBytes,
    pub key_arn: String,
}

/// Output of `GenerateDataKey`.
#[derive(Debug)]
pub struct DataKeyOutput {
    pub plaintext: SecretBytes,
    pub ciphertext_blob: Vec<u8>,
    pub key_arn: String,
}

/// The embedded KMS. `Send + Sync`; share it in an `Arc`.
pub struct Kms {
    pub(super) tables: KmsTables,
    pub(super) store: Store,
    pub(super) root: RootKey,
    pub(super) region: String,
    pub(super) account_id: String,
    pub(super) clock: SharedClock,
    /// Unsealed material per (key id, version). A version's material never changes once
    /// written; it only disappears (deletion, expiry, `DeleteImportedKeyMaterial`), and then
    /// its entry is dropped here too.
    pub(super) materials: RwLock<HashMap<(Uuid, u32), Arc<Key32>>>,
    /// Serializes first-use creation of the AWS-managed and service keys in this process.
    pub(super) create_lock: Mutex<()>,
    pub(super) aws_s3_key: OnceLock<Uuid>,
    pub(super) service_key: OnceLock<Uuid>,
    /// The default key policies (customer managed, AWS managed) of this account and region,
    /// rendered once: every key use without a stored policy is judged by one of them.
    pub(super) default_policies: OnceLock<[Arc<str>; 2]>,
    pub(super) audit: Option<AuditLog>,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl Kms {
    /// Opens the KMS over `store`: checks the root key against the stored check value (writing
    /// one on a fresh store), then creates missing seed keys.
    pub fn open(store: &Store, root: RootKey, opts: KmsOptions) -> Result<Kms, KmsOpenError> {
        let tables = KmsTables::open(store)?;
        let kms = Kms {
            tables,
            store: store.clone(),
            root,
            region: opts.region,
            account_id: opts.account_id,
            clock: opts.clock,
            materials: RwLock::new(HashMap::new()),
            create_lock: Mutex::new(()),
            aws_s3_key: OnceLock::new(),
            service_key: OnceLock::new(),
            default_policies: OnceLock::new(),
            audit: match &opts.audit_log {
                Some(p) => Some(AuditLog::open(p).map_err(|e| KmsOpenError::Audit(p.clone(), e))?),
                None => None,
            },
        };
        kms.check_root_key()?;
        for seed in &opts.seed_keys {
            kms.create_seed_key(seed)?;
        }
        Ok(kms)
    }

    /// Whether `store` already holds KMS state (a root-key check value or any key). The server
    /// must not create a new root key for such a store: a missing root key file is then an
    /// error, never a reason to generate one.
    pub fn is_initialized(store: &Store) -> Result<bool, KmsOpenError> {
        let tables = KmsTables::open(store)?;
        Ok(tables.meta.get(store::ROOT_KEY_CHECK)?.is_some() || tables.has_keys()?)
    }

    fn check_root_key(&self) -> Result<(), KmsOpenError> {
        loop {
            if let Some(v) = self.tables.meta.get(store::ROOT_KEY_CHECK)? {
                let sealed = match v.split_first() {
                    Some((&store::KMS_RECORD_V1, rest)) => rest,
                    _ => return Err(KmsOpenError::WrongRootKey),
                };
                return match self.root.unseal(store::ROOT_KEY_CHECK_AAD, sealed) {
                    Ok(pt) if pt.expose() == store::ROOT_KEY_CHECK_PLAINTEXT => Ok(()),
                    _ => Err(KmsOpenError::WrongRootKey),
                };
            }
            if self.tables.has_keys()? {
                return Err(KmsOpenError::MissingRootKeyCheck);
            }
            let sealed = self
                .root
                .seal(store::ROOT_KEY_CHECK_AAD, store::ROOT_KEY_CHECK_PLAINTEXT)
                .map_err(|e| KmsError::Internal(e.to_string()))?;
            let mut value = vec![store::KMS_RECORD_V1];
            value.extend_from_slice(&sealed);
            if self
                .tables
                .meta
                .insert_if_absent(store::ROOT_KEY_CHECK, &value)?
            {
                return Ok(());
            }
            // Lost a race with another opener: verify what it wrote.
        }
    }

    fn create_seed_key(&self, seed: &SeedKey) -> Result<(), KmsOpenError> {
        let bad = |why: &str| KmsOpenError::InvalidSeedKey(seed.key_id.clone(), why.into());
        let id = parse_key_id(&seed.key_id).ok_or_else(|| bad("key_id is not a UUID"))?;
        let alias = match &seed.alias {
            Some(a) if a.starts_with("alias/") => Some(a.clone()),
            Some(a) => Some(format!("alias/{a}")),
            None => None,
        };
        if let Some(a) = &alias {
            validate_alias_name(a, false).map_err(|e| bad(&e.to_string()))?;
        }
        let description = seed.description.clone().unwrap_or_default();
        if self.tables.get_key(&id)?.is_none() {
            let rec = self.new_key_record(
                id,
                description,
                Vec::new(),
                KeyOrigin::AwsKms,
                KeyManager::Customer,
                false,
            )?;
            if self.tables.insert_key(&rec)? {
                tracing::info!(key_id = %id, "created seed KMS key");
            }
        }
        if let Some(a) = alias {
            let now = self.now_ms();
            let rec = AliasRecord {
                target_key_id: id.to_string(),
                created_ms: now,
                updated_ms: now,
            };
            if !self.tables.insert_alias(&a, &rec)? {
                match self.tables.get_alias(&a)? {
                    Some(existing) if existing.target_key_id == rec.target_key_id => {}
                    _ => tracing::warn!(
                        alias = %a,
                        key_id = %id,
                        "seed key alias already names another key; left unchanged"
                    ),
                }
            }
        }
        Ok(())
    }

    /// Makes every KMS write so far durable.
    pub async fn flush(&self) -> Result<(), KmsError> {
        self.store.flush().await.map_err(store::storage)
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// `arn:aws:kms:REGION:ACCOUNT:key/ID`.
    pub fn key_arn(&self, id: &Uuid) -> String {
        format!("arn:aws:kms:{}:{}:key/{id}", self.region, self.account_id)
    }

    /// `arn:aws:kms:REGION:ACCOUNT:alias/NAME` for `alias_name` = `alias/NAME`.
    pub fn alias_arn(&self, alias_name: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:{alias_name}",
            self.region, self.account_id
        )
    }

    pub(super) fn now_ms(&self) -> u64 {
        unix_millis(self.clock.now())
    }

    pub(super) fn lock_create(&self) -> std::sync::MutexGuard<'_, ()> {
        // The lock guards no data; a panic while holding it leaves nothing inconsistent.
        self.create_lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an audit line for a KMS use by the current caller (see [`audit`]).
    pub fn audit(
        &self,
        source: Source,
        operation: &str,
        key_arn: Option<&str>,
        context: Option<&EncryptionContext>,
        error: Option<&KmsError>,
    ) {
        self.audit_outcome(
            source,
            operation,
            key_arn,
            context,
            error.map_or("success", KmsError::exception_name),
        );
    }

    /// [`Kms::audit`] with the outcome spelled out (protocol errors that are not `KmsError`s).
    pub fn audit_outcome(
        &self,
        source: Source,
        operation: &str,
        key_arn: Option<&str>,
        context: Option<&EncryptionContext>,
        outcome: &str,
    ) {
        let Some(log) = &self.audit else { return };
        let resources = key_arn
            .filter(|a| a.contains(":key/"))
            .map(|arn| audit::AuditResource {
                arn,
                kind: "AWS::KMS::Key",
            })
            .into_iter()
            .collect();
        log.record(
            self.clock.now(),
            &self.region,
            &audit::Event {
                event_source: "kms.amazonaws.com",
                event_name: operation,
                invoked_by: (source == Source::S3).then_some("s3.amazonaws.com"),
                resources,
                request_parameters: audit::Params::KeyUse {
                    key_id: key_arn,
                    encryption_context: context,
                },
                error_code: (outcome != "success").then_some(outcome),
                error_message: None,
                recipient_account_id: key_arn.map(crate::kms::arn_account),
                service_event: source == Source::Internal,
            },
        );
    }

    /// The audit log, for lines of other services (IAM changes, S3 denials).
    pub fn audit_log(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// The audit log's path, if there is one.
    pub fn audit_log_path(&self) -> Option<&std::path::Path> {
        self.audit.as_ref().map(AuditLog::path)
    }
}
