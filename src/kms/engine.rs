//! [`Kms`]: the key store, key resolution and the cryptographic operations on top of it.
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
use super::blob;
use super::root::RootKey;
use super::store::{
    self, AliasRecord, KeyManager, KeyOrigin, KeyRecord, KeySpec, KeyState, KeyUsage, KmsTables,
    KmsTag, MaterialRecord, RotationSettings, RotationType,
};
use super::{
    DecryptedDataKey, EncryptionContext, GeneratedDataKey, KeyProvider, KeyRef, KmsError,
    SecretBytes,
};
use crate::clock::{SharedClock, SystemClock, unix_millis};
use crate::secret::{Key32, fill_random};
use crate::storage::{StorageError, Store};

/// The AWS-managed key for SSE-KMS without a key id.
pub const AWS_S3_ALIAS: &str = "alias/aws/s3";
/// AWS's description of the `alias/aws/s3` key.
pub const AWS_S3_KEY_DESCRIPTION: &str =
    "Default key that protects my S3 objects when no other key is defined";
const SERVICE_KEY_DESCRIPTION: &str = "Coffer service key for SSE-S3 (not callable)";
/// Prefix of alias names reserved for AWS-managed keys.
pub const RESERVED_ALIAS_PREFIX: &str = "alias/aws/";
/// Longest alias name, `alias/` included (AWS's limit).
pub const MAX_ALIAS_NAME_LEN: usize = 256;
/// Longest key description (AWS's limit).
pub const MAX_DESCRIPTION_LEN: usize = 8192;
/// Most tags on one key (AWS's limit).
pub const MAX_TAGS: usize = 50;
/// Data keys from `GenerateDataKey` are 1..=1024 bytes (AWS's limit).
pub const MAX_DATA_KEY_LEN: usize = 1024;
/// Longest key reference echoed back in an error message.
const MAX_ECHOED_REF_LEN: usize = 256;

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

/// AWS `KeyMetadata`, ready to be rendered by the JSON API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    pub key_id: String,
    pub arn: String,
    /// Seconds since the Unix epoch (AWS JSON timestamps).
    pub creation_date: f64,
    pub enabled: bool,
    pub description: String,
    pub key_usage: KeyUsage,
    pub key_state: KeyState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_deletion_window_in_days: Option<u32>,
    pub origin: KeyOrigin,
    pub key_manager: KeyManager,
    pub customer_master_key_spec: KeySpec,
    pub key_spec: KeySpec,
    pub encryption_algorithms: Vec<String>,
    pub multi_region: bool,
    /// Imported (`EXTERNAL`) keys with material: `KEY_MATERIAL_EXPIRES` or
    /// `KEY_MATERIAL_DOES_NOT_EXPIRE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<String>,
    /// When imported material expires (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<f64>,
}

/// One alias as `ListAliases` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasEntry {
    pub alias_name: String,
    pub alias_arn: String,
    pub target_key_id: String,
    pub creation_date: f64,
    pub last_updated_date: f64,
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
    store: Store,
    pub(super) root: RootKey,
    region: String,
    account_id: String,
    pub(super) clock: SharedClock,
    /// Unsealed material per (key id, version). A version's material never changes once
    /// written; it only disappears (deletion, expiry, `DeleteImportedKeyMaterial`), and then
    /// its entry is dropped here too.
    pub(super) materials: RwLock<HashMap<(Uuid, u32), Arc<Key32>>>,
    /// Serializes first-use creation of the AWS-managed and service keys in this process.
    create_lock: Mutex<()>,
    aws_s3_key: OnceLock<Uuid>,
    service_key: OnceLock<Uuid>,
    /// The default key policies (customer managed, AWS managed) of this account and region,
    /// rendered once: every key use without a stored policy is judged by one of them.
    pub(super) default_policies: OnceLock<[Arc<str>; 2]>,
    audit: Option<AuditLog>,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// Where a key reference came from, for AWS-style error messages.
enum Lookup {
    Key(Uuid),
    Alias(String),
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

    // ---- public operations (the later JSON API calls these) ----

    /// `CreateKey`: a symmetric customer key. `EXTERNAL` keys start `PendingImport` with no
    /// material.
    pub fn create_key(
        &self,
        description: &str,
        tags: Vec<KmsTag>,
        origin: KeyOrigin,
    ) -> Result<KeyMetadata, KmsError> {
        if description.len() > MAX_DESCRIPTION_LEN {
            return Err(KmsError::InvalidArgument(format!(
                "Description is longer than {MAX_DESCRIPTION_LEN} characters"
            )));
        }
        validate_tags(&tags)?;
        let rec = self.new_key_record(
            new_uuid()?,
            description.to_string(),
            tags,
            origin,
            KeyManager::Customer,
            false,
        )?;
        if !self.tables.insert_key(&rec)? {
            // 122 random bits collided: only a broken random source gets here.
            return Err(KmsError::Internal("generated key id already exists".into()));
        }
        Ok(self.metadata(&rec))
    }

    /// `DescribeKey` (key id, key ARN, alias name or alias ARN).
    pub fn describe_key(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        let rec = self.resolve_named(key)?;
        Ok(self.metadata(&rec))
    }

    /// `ListKeys`: customer and AWS-managed keys, in key id byte order; never the service key.
    pub fn list_keys(&self) -> Result<Vec<KeyMetadata>, KmsError> {
        Ok(self
            .tables
            .all_keys()?
            .iter()
            .filter(|r| !r.service_owned)
            .map(|r| self.metadata(r))
            .collect())
    }

    /// `CreateAlias`: `alias_name` must be `alias/...`, not reserved, not taken; the target
    /// must be a customer key.
    pub fn create_alias(&self, alias_name: &str, target: &str) -> Result<(), KmsError> {
        validate_alias_name(alias_name, false)?;
        let rec = self.resolve_named(target)?;
        if rec.key_manager != KeyManager::Customer {
            return Err(KmsError::AccessDenied(format!(
                "Cannot create an alias for {} because it is an AWS managed key.",
                rec.arn
            )));
        }
        if rec.state == KeyState::PendingDeletion {
            return Err(pending_deletion(&rec.arn));
        }
        let now = self.now_ms();
        let alias = AliasRecord {
            target_key_id: rec.key_id.clone(),
            created_ms: now,
            updated_ms: now,
        };
        if !self.tables.insert_alias(alias_name, &alias)? {
            return Err(KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                self.alias_arn(alias_name)
            )));
        }
        Ok(())
    }

    /// `DeleteAlias`. Aliases of AWS-managed keys cannot be deleted.
    pub fn delete_alias(&self, alias_name: &str) -> Result<(), KmsError> {
        validate_alias_name(alias_name, true)?;
        if alias_name.starts_with(RESERVED_ALIAS_PREFIX) {
            return Err(KmsError::AccessDenied(format!(
                "Cannot delete AWS reserved alias {}.",
                self.alias_arn(alias_name)
            )));
        }
        if !self.tables.remove_alias(alias_name)? {
            return Err(self.alias_not_found(alias_name));
        }
        Ok(())
    }

    /// `ListAliases`, optionally only those naming `key`.
    pub fn list_aliases(&self, key: Option<&str>) -> Result<Vec<AliasEntry>, KmsError> {
        let only = match key {
            Some(k) => Some(self.resolve_named(k)?.key_id),
            None => None,
        };
        Ok(self
            .tables
            .all_aliases()?
            .into_iter()
            .filter(|(_, a)| only.as_ref().is_none_or(|id| *id == a.target_key_id))
            .map(|(name, a)| AliasEntry {
                alias_arn: self.alias_arn(&name),
                alias_name: name,
                target_key_id: a.target_key_id,
                creation_date: secs(a.created_ms),
                last_updated_date: secs(a.updated_ms),
            })
            .collect())
    }

    /// `EnableKey`.
    pub fn enable_key(&self, key: &str) -> Result<(), KmsError> {
        self.set_enabled(key, true)
    }

    /// `DisableKey`.
    pub fn disable_key(&self, key: &str) -> Result<(), KmsError> {
        self.set_enabled(key, false)
    }

    fn set_enabled(&self, key: &str, enabled: bool) -> Result<(), KmsError> {
        let rec = self.resolve_named(key)?;
        if rec.key_manager != KeyManager::Customer {
            return Err(KmsError::AccessDenied(format!(
                "{} is an AWS managed key and cannot be {}.",
                rec.arn,
                if enabled { "enabled" } else { "disabled" }
            )));
        }
        let id = rec.id()?;
        self.tables.update_key(&id, |r| match r.state {
            KeyState::Enabled | KeyState::Disabled => {
                r.state = if enabled {
                    KeyState::Enabled
                } else {
                    KeyState::Disabled
                };
                Ok(())
            }
            KeyState::PendingDeletion => Err(pending_deletion(&r.arn)),
            KeyState::PendingImport => Err(pending_import(&r.arn)),
        })?;
        Ok(())
    }

    /// `Encrypt`: at most [`blob::MAX_PLAINTEXT_LEN`] bytes under the key's current version.
    pub fn encrypt(
        &self,
        key: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<EncryptOutput, KmsError> {
        if plaintext.is_empty() || plaintext.len() > blob::MAX_PLAINTEXT_LEN {
            return Err(KmsError::InvalidArgument(format!(
                "Plaintext must be 1 to {} bytes long",
                blob::MAX_PLAINTEXT_LEN
            )));
        }
        let rec = self.resolve_named(key)?;
        self.seal_under(&rec, plaintext, context)
    }

    /// `Decrypt`. `expected_key` (the request's `KeyId`) must name the key the blob names,
    /// else [`KmsError::IncorrectKey`].
    pub fn decrypt(
        &self,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
        expected_key: Option<&str>,
    ) -> Result<DecryptOutput, KmsError> {
        let expected = match expected_key {
            Some(k) => Some(self.resolve_named(k)?.id()?),
            None => None,
        };
        let parsed = blob::parse(ciphertext_blob)?;
        if expected.is_some_and(|e| e != parsed.key_id) {
            return Err(KmsError::IncorrectKey);
        }
        let (plaintext, key_arn) = self.open_blob(&parsed, context, false)?;
        Ok(DecryptOutput { plaintext, key_arn })
    }

    /// `GenerateDataKey`: a random data key of `length` (1..=1024 bytes) and its blob. (Named
    /// apart from [`KeyProvider::generate_data_key`] so calls on a `Kms` are never ambiguous.)
    pub fn generate_data_key_with(
        &self,
        key: &str,
        context: &EncryptionContext,
        length: DataKeyLength,
    ) -> Result<DataKeyOutput, KmsError> {
        let rec = self.resolve_named(key)?;
        let plaintext = random_data_key(length)?;
        let out = self.seal_under(&rec, plaintext.expose(), context)?;
        Ok(DataKeyOutput {
            plaintext,
            ciphertext_blob: out.ciphertext_blob,
            key_arn: out.key_arn,
        })
    }

    /// `GenerateDataKeyWithoutPlaintext`.
    pub fn generate_data_key_without_plaintext(
        &self,
        key: &str,
        context: &EncryptionContext,
        length: DataKeyLength,
    ) -> Result<EncryptOutput, KmsError> {
        let out = self.generate_data_key_with(key, context, length)?;
        Ok(EncryptOutput {
            ciphertext_blob: out.ciphertext_blob,
            key_arn: out.key_arn,
        })
    }

    /// `RotateKeyOnDemand`: adds a material version that new encryptions use from now on;
    /// every older version keeps decrypting.
    pub fn rotate_key_now(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        let rec = self.resolve_named(key)?;
        if rec.key_manager != KeyManager::Customer {
            return Err(KmsError::AccessDenied(format!(
                "{} is an AWS managed key and cannot be rotated on demand.",
                rec.arn
            )));
        }
        if rec.origin != KeyOrigin::AwsKms {
            return Err(KmsError::Unsupported(format!(
                "{} has imported key material and cannot be rotated on demand.",
                rec.arn
            )));
        }
        check_usable(&rec)?;
        let id = rec.id()?;
        let material = Key32::random().map_err(|e| KmsError::Internal(e.to_string()))?;
        let now = self.now_ms();
        let rec = self.tables.update_key(&id, |r| {
            check_usable(r)?;
            self.add_version(r, &id, &material, now, RotationType::OnDemand)
        })?;
        Ok(self.metadata(&rec))
    }

    // ---- internals ----

    pub(super) fn now_ms(&self) -> u64 {
        unix_millis(self.clock.now())
    }

    pub(super) fn metadata(&self, r: &KeyRecord) -> KeyMetadata {
        KeyMetadata {
            aws_account_id: self.account_id.clone(),
            key_id: r.key_id.clone(),
            arn: r.arn.clone(),
            creation_date: secs(r.created_ms),
            enabled: r.state == KeyState::Enabled,
            description: r.description.clone(),
            key_usage: r.key_usage,
            key_state: r.state,
            deletion_date: r.deletion.as_ref().map(|d| secs(d.deletion_ms)),
            pending_deletion_window_in_days: r.deletion.as_ref().map(|d| d.window_days),
            origin: r.origin,
            key_manager: r.key_manager,
            customer_master_key_spec: r.key_spec,
            key_spec: r.key_spec,
            encryption_algorithms: vec!["SYMMETRIC_DEFAULT".into()],
            multi_region: false,
            expiration_model: match (r.origin, r.material(r.current_version)) {
                (KeyOrigin::External, Some(m)) => Some(
                    if m.expires_ms.is_some() {
                        "KEY_MATERIAL_EXPIRES"
                    } else {
                        "KEY_MATERIAL_DOES_NOT_EXPIRE"
                    }
                    .into(),
                ),
                _ => None,
            },
            valid_to: r
                .material(r.current_version)
                .and_then(|m| m.expires_ms)
                .map(secs),
        }
    }

    pub(super) fn seal_material(
        &self,
        id: &Uuid,
        version: u32,
        material: &Key32,
        now: u64,
        rotation_type: Option<RotationType>,
    ) -> Result<MaterialRecord, KmsError> {
        let sealed = self
            .root
            .seal(&store::material_aad(id, version), material.expose())
            .map_err(|e| KmsError::Internal(e.to_string()))?;
        Ok(MaterialRecord {
            version,
            sealed,
            created_ms: now,
            origin: KeyOrigin::AwsKms,
            rotation_type,
            expires_ms: None,
        })
    }

    fn new_key_record(
        &self,
        id: Uuid,
        description: String,
        tags: Vec<KmsTag>,
        origin: KeyOrigin,
        key_manager: KeyManager,
        service_owned: bool,
    ) -> Result<KeyRecord, KmsError> {
        let now = self.now_ms();
        let (materials, current_version, state) = match origin {
            KeyOrigin::AwsKms => {
                let material = Key32::random().map_err(|e| KmsError::Internal(e.to_string()))?;
                (
                    vec![self.seal_material(&id, 1, &material, now, None)?],
                    1,
                    KeyState::Enabled,
                )
            }
            KeyOrigin::External => (Vec::new(), 0, KeyState::PendingImport),
        };
        Ok(KeyRecord {
            key_id: id.to_string(),
            arn: self.key_arn(&id),
            description,
            created_ms: now,
            state,
            key_manager,
            origin,
            key_usage: KeyUsage::EncryptDecrypt,
            key_spec: KeySpec::SymmetricDefault,
            service_owned,
            materials,
            current_version,
            rotation: RotationSettings::default(),
            deletion: None,
            tags,
            policy: None,
            import_params: None,
            imported_material_digest: None,
            grants: Vec::new(),
        })
    }

    /// Unsealed material of one version of a key, from the cache or the record.
    pub(super) fn material(&self, rec: &KeyRecord, version: u32) -> Result<Arc<Key32>, KmsError> {
        let id = rec.id()?;
        if let Some(k) = self
            .materials
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(id, version))
        {
            return Ok(k.clone());
        }
        // A version the record does not have: the blob is not one of ours (or forged).
        let m = rec.material(version).ok_or(KmsError::InvalidCiphertext)?;
        let pt = self
            .root
            .unseal(&store::material_aad(&id, version), &m.sealed)
            .map_err(|_| {
                KmsError::Internal(format!(
                    "key material of {} version {version} does not authenticate under the root key",
                    rec.arn
                ))
            })?;
        let key = Arc::new(Key32::from_slice(pt.expose()).ok_or_else(|| {
            KmsError::Internal(format!(
                "key material of {} version {version} has the wrong length",
                rec.arn
            ))
        })?);
        // Cache poisoning only means a panic elsewhere while inserting; the map is still valid.
        self.materials
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((id, version), key.clone());
        Ok(key)
    }

    /// Encrypts under the current version of a usable key.
    pub(super) fn seal_under(
        &self,
        rec: &KeyRecord,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<EncryptOutput, KmsError> {
        check_usable(rec)?;
        let id = rec.id()?;
        let material = self
            .material(rec, rec.current_version)
            .map_err(|e| match e {
                KmsError::InvalidCiphertext => {
                    KmsError::Internal(format!("{} has no current key material", rec.arn))
                }
                e => e,
            })?;
        let ciphertext_blob = blob::seal(&material, id, rec.current_version, plaintext, context)?;
        Ok(EncryptOutput {
            ciphertext_blob,
            key_arn: rec.arn.clone(),
        })
    }

    /// Decrypts a parsed blob; `internal` allows the service key.
    fn open_blob(
        &self,
        parsed: &blob::ParsedBlob<'_>,
        context: &EncryptionContext,
        internal: bool,
    ) -> Result<(SecretBytes, String), KmsError> {
        self.open_blob_of(None, parsed, context, internal)
    }

    /// [`Kms::open_blob`] with the key's record when the caller just loaded it (`loaded`, used
    /// only if it is the blob's key): one read of the key store instead of two.
    fn open_blob_of(
        &self,
        loaded: Option<KeyRecord>,
        parsed: &blob::ParsedBlob<'_>,
        context: &EncryptionContext,
        internal: bool,
    ) -> Result<(SecretBytes, String), KmsError> {
        let loaded = loaded.filter(|r| r.id().is_ok_and(|id| id == parsed.key_id));
        let rec = match loaded.map_or_else(|| self.load_key(&parsed.key_id), |r| Ok(Some(r)))? {
            Some(r) if internal || !r.service_owned => r,
            _ => return Err(self.key_not_found(&parsed.key_id)),
        };
        check_usable(&rec)?;
        let material = self.material(&rec, parsed.key_version)?;
        let plaintext = blob::open(&material, parsed, context)?;
        Ok((plaintext, rec.arn))
    }

    pub(super) fn key_not_found(&self, id: &Uuid) -> KmsError {
        KmsError::NotFound(format!("Key '{}' does not exist", self.key_arn(id)))
    }

    pub(super) fn alias_not_found(&self, alias_name: &str) -> KmsError {
        KmsError::NotFound(format!(
            "Alias {} is not found.",
            self.alias_arn(alias_name)
        ))
    }

    /// Parses a caller's key reference into a key id or an alias name. ARNs must name this
    /// region and account.
    fn parse_ref(&self, key: &str) -> Result<Lookup, KmsError> {
        let invalid = || {
            let shown: String = key.chars().take(MAX_ECHOED_REF_LEN).collect();
            KmsError::NotFound(format!("Invalid keyId '{shown}'"))
        };
        if let Some(rest) = key.strip_prefix("arn:") {
            let prefix = format!("aws:kms:{}:{}:", self.region, self.account_id);
            let Some(resource) = rest.strip_prefix(&prefix) else {
                // Another partition, region or account: no such key here.
                return Err(if rest.contains(":alias/") {
                    KmsError::NotFound(format!(
                        "Alias {} is not found.",
                        key.chars().take(MAX_ECHOED_REF_LEN).collect::<String>()
                    ))
                } else {
                    KmsError::NotFound(format!(
                        "Key '{}' does not exist",
                        key.chars().take(MAX_ECHOED_REF_LEN).collect::<String>()
                    ))
                });
            };
            if let Some(id) = resource.strip_prefix("key/") {
                return parse_key_id(id).map(Lookup::Key).ok_or_else(invalid);
            }
            if resource.starts_with("alias/") {
                validate_alias_name(resource, true).map_err(|_| invalid())?;
                return Ok(Lookup::Alias(resource.to_string()));
            }
            return Err(invalid());
        }
        if key.starts_with("alias/") {
            validate_alias_name(key, true).map_err(|_| invalid())?;
            return Ok(Lookup::Alias(key.to_string()));
        }
        parse_key_id(key).map(Lookup::Key).ok_or_else(invalid)
    }

    /// Resolves a public key reference to its record. The service key does not exist here;
    /// `alias/aws/s3` is created on first use, as in AWS.
    pub(super) fn resolve_named(&self, key: &str) -> Result<KeyRecord, KmsError> {
        match self.parse_ref(key)? {
            Lookup::Key(id) => match self.load_key(&id)? {
                Some(r) if !r.service_owned => Ok(r),
                _ => Err(self.key_not_found(&id)),
            },
            Lookup::Alias(name) if name == AWS_S3_ALIAS => self.aws_managed_s3(),
            Lookup::Alias(name) => {
                let alias = self
                    .tables
                    .get_alias(&name)?
                    .ok_or_else(|| self.alias_not_found(&name))?;
                let id = parse_key_id(&alias.target_key_id)
                    .ok_or_else(|| KmsError::Internal("stored alias target is malformed".into()))?;
                match self.load_key(&id)? {
                    Some(r) if !r.service_owned => Ok(r),
                    _ => Err(self.alias_not_found(&name)),
                }
            }
        }
    }

    fn resolve(&self, key: KeyRef<'_>) -> Result<KeyRecord, KmsError> {
        match key {
            KeyRef::ServiceSseS3 => self.service_key(),
            KeyRef::AwsManagedS3 => self.aws_managed_s3(),
            KeyRef::Named(s) => self.resolve_named(s),
        }
    }

    fn lock_create(&self) -> std::sync::MutexGuard<'_, ()> {
        // The lock guards no data; a panic while holding it leaves nothing inconsistent.
        self.create_lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn known_key(&self, id: &Uuid) -> Result<KeyRecord, KmsError> {
        self.load_key(id)?
            .ok_or_else(|| KmsError::Internal(format!("key {} vanished", self.key_arn(id))))
    }

    /// The AWS-managed `alias/aws/s3` key, created on first use.
    pub(super) fn aws_managed_s3(&self) -> Result<KeyRecord, KmsError> {
        self.shared_key(
            &self.aws_s3_key,
            "alias/aws/s3",
            AWS_S3_KEY_DESCRIPTION,
            false,
            &|kms| match kms.tables.get_alias(AWS_S3_ALIAS)? {
                Some(a) => parse_key_id(&a.target_key_id)
                    .map(Some)
                    .ok_or_else(|| KmsError::Internal("stored alias target is malformed".into())),
                None => Ok(None),
            },
            &|kms, rec| {
                let alias = AliasRecord {
                    target_key_id: rec.key_id.clone(),
                    created_ms: rec.created_ms,
                    updated_ms: rec.created_ms,
                };
                kms.tables.insert_alias(AWS_S3_ALIAS, &alias)
            },
        )
    }

    /// The service-owned SSE-S3 key, created on first use.
    fn service_key(&self) -> Result<KeyRecord, KmsError> {
        self.shared_key(
            &self.service_key,
            "the service key",
            SERVICE_KEY_DESCRIPTION,
            true,
            &|kms| match kms
                .tables
                .meta
                .get(store::SERVICE_KEY_POINTER)
                .map_err(store::storage)?
            {
                Some(v) => store::decode_pointer(&v).map(Some),
                None => Ok(None),
            },
            &|kms, rec| {
                kms.tables
                    .meta
                    .insert_if_absent(
                        store::SERVICE_KEY_POINTER,
                        &store::encode_pointer(&rec.id()?),
                    )
                    .map_err(store::storage)
            },
        )
    }

    /// A key every caller shares and the first use creates (`alias/aws/s3`, the SSE-S3 service
    /// key): `find` reads where it is published, `publish` publishes a new one if nothing is
    /// there yet. Race-free within the process (the create lock) and across writers (publish
    /// is insert-if-absent; the loser removes its record and uses the winner's).
    fn shared_key(
        &self,
        cell: &OnceLock<Uuid>,
        what: &str,
        description: &str,
        service_owned: bool,
        find: &dyn Fn(&Self) -> Result<Option<Uuid>, KmsError>,
        publish: &dyn Fn(&Self, &KeyRecord) -> Result<bool, KmsError>,
    ) -> Result<KeyRecord, KmsError> {
        if let Some(id) = cell.get() {
            return self.known_key(id);
        }
        let id = match find(self)? {
            Some(id) => id,
            None => {
                let _guard = self.lock_create();
                match find(self)? {
                    Some(id) => id,
                    None => {
                        let rec = self.new_key_record(
                            new_uuid()?,
                            description.into(),
                            Vec::new(),
                            KeyOrigin::AwsKms,
                            KeyManager::Aws,
                            service_owned,
                        )?;
                        let id = rec.id()?;
                        if !self.tables.insert_key(&rec)? {
                            return Err(KmsError::Internal(
                                "generated key id already exists".into(),
                            ));
                        }
                        if publish(self, &rec)? {
                            id
                        } else {
                            // Someone outside this process won: drop ours, use theirs.
                            self.tables
                                .keys
                                .remove(id.as_bytes())
                                .map_err(store::storage)?;
                            find(self)?.ok_or_else(|| {
                                KmsError::Internal(format!("{what} vanished while created"))
                            })?
                        }
                    }
                }
            }
        };
        let _ = cell.set(id);
        self.known_key(&id)
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

    /// The ARN a caller's key reference names (key id -> key ARN, alias name -> alias ARN,
    /// ARNs as given), for audit lines of requests that failed before resolving it; `None`
    /// when it is not a well-formed reference. No key is created or looked up here.
    pub fn arn_for_ref(&self, key: &str) -> Option<String> {
        self.arn_of_ref(KeyRef::Named(key))
    }

    /// The ARN a failed key reference would have had, for the audit log (best effort; no key
    /// is created here).
    fn arn_of_ref(&self, key: KeyRef<'_>) -> Option<String> {
        match key {
            KeyRef::ServiceSseS3 => self.service_key.get().map(|id| self.key_arn(id)),
            KeyRef::AwsManagedS3 => self.aws_s3_key.get().map(|id| self.key_arn(id)),
            KeyRef::Named(s) => match self.parse_ref(s).ok()? {
                Lookup::Key(id) => Some(self.key_arn(&id)),
                Lookup::Alias(_) if s.starts_with("arn:") => Some(s.to_string()),
                Lookup::Alias(name) => Some(self.alias_arn(&name)),
            },
        }
    }

    /// Test-only: the plaintext material of a key version (to prove it is never stored).
    #[cfg(test)]
    pub(crate) fn material_for_test(&self, key: &str, version: u32) -> Result<Key32, KmsError> {
        let rec = self.resolve_named(key)?;
        Ok((*self.material(&rec, version)?).clone())
    }

    /// Test-only: drops cached material, so the next use unseals from the record.
    #[cfg(test)]
    pub(crate) fn clear_cache_for_test(&self) {
        self.materials
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl Kms {
    /// S3's data-key unwrap, with the key's record when the caller (the access check) just
    /// loaded it: see [`Kms::open_blob_of`].
    pub fn decrypt_data_key_of(
        &self,
        loaded: Option<KeyRecord>,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<DecryptedDataKey, KmsError> {
        let parsed = blob::parse(blob);
        let r = parsed.and_then(|parsed| {
            let (pt, key_arn) = self.open_blob_of(loaded, &parsed, context, true)?;
            // A blob of the right key but not a 32-byte data key was not made by
            // generate_data_key.
            let plaintext = Key32::from_slice(pt.expose()).ok_or(KmsError::InvalidCiphertext)?;
            Ok(DecryptedDataKey { plaintext, key_arn })
        });
        let arn = match &r {
            Ok(d) => Some(d.key_arn.clone()),
            Err(_) => blob::parse(blob).ok().map(|p| self.key_arn(&p.key_id)),
        };
        self.audit(
            Source::S3,
            "Decrypt",
            arn.as_deref(),
            Some(context),
            r.as_ref().err(),
        );
        r
    }
}

impl KeyProvider for Kms {
    fn generate_data_key(
        &self,
        key: KeyRef<'_>,
        context: &EncryptionContext,
    ) -> Result<GeneratedDataKey, KmsError> {
        let mut arn = None;
        let r = (|| {
            let rec = self.resolve(key)?;
            arn = Some(rec.arn.clone());
            let plaintext = Key32::random().map_err(|e| KmsError::Internal(e.to_string()))?;
            let out = self.seal_under(&rec, plaintext.expose(), context)?;
            Ok(GeneratedDataKey {
                plaintext,
                ciphertext_blob: out.ciphertext_blob,
                key_arn: out.key_arn,
            })
        })();
        let arn = arn.or_else(|| self.arn_of_ref(key));
        self.audit(
            Source::S3,
            "GenerateDataKey",
            arn.as_deref(),
            Some(context),
            r.as_ref().err(),
        );
        r
    }

    fn decrypt_data_key(
        &self,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<DecryptedDataKey, KmsError> {
        self.decrypt_data_key_of(None, blob, context)
    }

    fn resolve_key_arn(&self, key: KeyRef<'_>) -> Result<String, KmsError> {
        let rec = self.resolve(key)?;
        check_usable(&rec)?;
        Ok(rec.arn)
    }
}

pub(super) fn check_usable(rec: &KeyRecord) -> Result<(), KmsError> {
    match rec.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", rec.arn))),
        KeyState::PendingDeletion => Err(pending_deletion(&rec.arn)),
        KeyState::PendingImport => Err(pending_import(&rec.arn)),
    }
}

pub(super) fn pending_deletion(arn: &str) -> KmsError {
    KmsError::InvalidState(format!("{arn} is pending deletion."))
}

pub(super) fn pending_import(arn: &str) -> KmsError {
    KmsError::InvalidState(format!("{arn} is pending import."))
}

/// A key id as AWS writes it: a hyphenated UUID (36 characters).
pub(super) fn parse_key_id(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::try_parse(s).ok()
}

/// `alias/` followed by 1.. characters of `[A-Za-z0-9/_-]`, at most 256 in all; the reserved
/// `alias/aws/` prefix only when `allow_reserved` (lookups, not creation).
pub(super) fn validate_alias_name(name: &str, allow_reserved: bool) -> Result<(), KmsError> {
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(KmsError::InvalidAliasName(
            "Alias name must begin with 'alias/'".into(),
        ));
    };
    if rest.is_empty()
        || name.len() > MAX_ALIAS_NAME_LEN
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
    {
        return Err(KmsError::InvalidAliasName(format!(
            "Alias name must be 'alias/' followed by 1 to {} characters from a-z, A-Z, 0-9, \
             '/', '_' and '-'",
            MAX_ALIAS_NAME_LEN - "alias/".len()
        )));
    }
    if !allow_reserved && name.starts_with(RESERVED_ALIAS_PREFIX) {
        return Err(KmsError::InvalidAliasName(
            "Alias names beginning with 'alias/aws/' are reserved for AWS managed keys".into(),
        ));
    }
    Ok(())
}

pub(super) fn validate_tags(tags: &[KmsTag]) -> Result<(), KmsError> {
    if tags.len() > MAX_TAGS {
        return Err(KmsError::Tag(format!(
            "A key can have at most {MAX_TAGS} tags"
        )));
    }
    for t in tags {
        if t.tag_key.is_empty() || t.tag_key.chars().count() > 128 {
            return Err(KmsError::Tag("TagKey must be 1 to 128 characters".into()));
        }
        if t.tag_value.chars().count() > 256 {
            return Err(KmsError::Tag(
                "TagValue must be at most 256 characters".into(),
            ));
        }
        if t.tag_key.starts_with("aws:") {
            return Err(KmsError::Tag(
                "Tag keys beginning with 'aws:' are reserved".into(),
            ));
        }
    }
    Ok(())
}

fn random_data_key(length: DataKeyLength) -> Result<SecretBytes, KmsError> {
    let n = length.byte_len();
    if n == 0 || n > MAX_DATA_KEY_LEN {
        return Err(KmsError::InvalidArgument(format!(
            "NumberOfBytes must be 1 to {MAX_DATA_KEY_LEN}"
        )));
    }
    let mut buf = zeroize::Zeroizing::new(vec![0u8; n]);
    fill_random(&mut buf).map_err(|e| KmsError::Internal(e.to_string()))?;
    Ok(SecretBytes::new(buf))
}

/// A random (v4) UUID from the OS random source.
pub(super) fn new_uuid() -> Result<Uuid, KmsError> {
    let mut b = [0u8; 16];
    fill_random(&mut b).map_err(|e| KmsError::Internal(e.to_string()))?;
    Ok(uuid::Builder::from_random_bytes(b).into_uuid())
}

pub(super) fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
