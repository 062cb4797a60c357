//! Persistent KMS records: keys, aliases and the KMS's entries in `meta`.
//!
//! | table         | key                         | value                                   |
//! |---------------|-----------------------------|-----------------------------------------|
//! | `kms.keys`    | key id (16 UUID bytes)      | `0x01` ‖ JSON [`KeyRecord`]             |
//! | `kms.aliases` | alias name (`alias/...`)    | `0x01` ‖ JSON [`AliasRecord`]           |
//! | `meta`        | `root-key-check`            | `0x01` ‖ root-key sealed check value    |
//! | `meta`        | `kms.service-key`           | `0x01` ‖ key id (16 UUID bytes)         |
//!
//! Key material is stored only sealed under the root key, with AAD
//! `"coffer/v1/key-material" ‖ key id (16) ‖ u32be version`, so a sealed material cannot be
//! moved to another key or version. JSON keeps the records readable by `coffer verify` and
//! extendable: fields added later are `#[serde(default)]`, so a v1 record written today still
//! decodes. The record already carries everything the KMS JSON API needs (states, rotation,
//! deletion schedule, imported material, tags, policy) so those features need no format change.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::KmsError;
use crate::storage::{Store, Table};

/// Format version byte of every KMS record value. Do not change; add a version instead.
pub const KMS_RECORD_V1: u8 = 0x01;

pub const KEYS_TABLE: &str = "kms.keys";
pub const ALIASES_TABLE: &str = "kms.aliases";
pub const META_TABLE: &str = "meta";
pub const ROOT_KEY_CHECK: &[u8] = b"root-key-check";
pub const SERVICE_KEY_POINTER: &[u8] = b"kms.service-key";

/// AAD prefix for sealed key material. Do not change.
pub const MATERIAL_AAD_PREFIX: &[u8] = b"coffer/v1/key-material";
/// AAD and plaintext of the root-key check value. Do not change.
pub const ROOT_KEY_CHECK_AAD: &[u8] = b"coffer/v1/root-key-check";
pub const ROOT_KEY_CHECK_PLAINTEXT: &[u8] = b"coffer root key check";

/// The AAD that binds a sealed material to its key and version.
pub fn material_aad(key_id: &Uuid, version: u32) -> Vec<u8> {
    let mut aad = MATERIAL_AAD_PREFIX.to_vec();
    aad.extend_from_slice(key_id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// AWS key states. Serialized with AWS's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyManager {
    #[serde(rename = "CUSTOMER")]
    Customer,
    #[serde(rename = "AWS")]
    Aws,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyOrigin {
    #[serde(rename = "AWS_KMS")]
    AwsKms,
    #[serde(rename = "EXTERNAL")]
    External,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyUsage {
    #[serde(rename = "ENCRYPT_DECRYPT")]
    EncryptDecrypt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeySpec {
    #[serde(rename = "SYMMETRIC_DEFAULT")]
    SymmetricDefault,
}

/// How a material version came to be (AWS `ListKeyRotations` `RotationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationType {
    #[serde(rename = "AUTOMATIC")]
    Automatic,
    #[serde(rename = "ON_DEMAND")]
    OnDemand,
}

/// One version of a key's material, sealed under the root key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaterialRecord {
    /// 1, 2, ...: the version written into every blob made with it.
    pub version: u32,
    /// `RootKey::seal(material_aad(key id, version), material)`.
    #[serde(with = "crate::storage::records::b64")]
    pub sealed: Vec<u8>,
    pub created_ms: u64,
    /// `AWS_KMS` for generated material, `EXTERNAL` for imported.
    pub origin: KeyOrigin,
    /// `None` for the first version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_type: Option<RotationType>,
    /// Imported material may expire (`ValidTo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
}

/// Automatic rotation settings (`EnableKeyRotation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RotationSettings {
    pub enabled: bool,
    pub period_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation_ms: Option<u64>,
}

/// AWS's default rotation period.
pub const DEFAULT_ROTATION_PERIOD_DAYS: u32 = 365;

impl Default for RotationSettings {
    fn default() -> Self {
        RotationSettings {
            enabled: false,
            period_days: DEFAULT_ROTATION_PERIOD_DAYS,
            next_rotation_ms: None,
        }
    }
}

/// A scheduled deletion (`ScheduleKeyDeletion`): when it happens, the record and every sealed
/// material are removed (crypto-shredding).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletionSchedule {
    pub deletion_ms: u64,
    pub window_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KmsTag {
    pub tag_key: String,
    pub tag_value: String,
}

/// Everything stored about one KMS key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Hyphenated lower-case UUID; also the table key (as bytes).
    pub key_id: String,
    pub arn: String,
    #[serde(default)]
    pub description: String,
    pub created_ms: u64,
    pub state: KeyState,
    pub key_manager: KeyManager,
    pub origin: KeyOrigin,
    pub key_usage: KeyUsage,
    pub key_spec: KeySpec,
    /// The SSE-S3 service key: never listed, never reachable by id through public methods.
    #[serde(default, skip_serializing_if = "is_false")]
    pub service_owned: bool,
    /// All material versions ever made, oldest first; each stays usable for decryption.
    #[serde(default)]
    pub materials: Vec<MaterialRecord>,
    /// The version new encryptions use; 0 while there is none (`PendingImport`).
    #[serde(default)]
    pub current_version: u32,
    #[serde(default)]
    pub rotation: RotationSettings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion: Option<DeletionSchedule>,
    #[serde(default)]
    pub tags: Vec<KmsTag>,
    /// The key policy document; `None` means the default policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The outstanding `GetParametersForImport` answer of an `EXTERNAL` key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_params: Option<ImportParamsRecord>,
    /// Hex SHA-256 commitment to the material imported first (see `import`), so a re-import
    /// of different material is refused as AWS does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_material_digest: Option<String>,
    /// The key's grants (CreateGrant), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<GrantRecord>,
}

/// One grant: who may do which operations with the key, under which constraints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// 64 hex characters.
    pub grant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub grantee_principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    /// The account root ARN of the principal that created the grant.
    pub issuing_account: String,
    /// KMS operation names (`Decrypt`, `GenerateDataKey`, ...).
    pub operations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<std::collections::BTreeMap<String, String>>,
    pub created_ms: u64,
}

/// The wrapping key pair and token handed out by `GetParametersForImport`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportParamsRecord {
    /// Hex of the 16 random bytes the import token names.
    pub token_id: String,
    /// `RSAES_OAEP_SHA_1` or `RSAES_OAEP_SHA_256`.
    pub algorithm: String,
    /// The RSA private key (PKCS#8 DER), `RootKey::seal(import_key_aad(key id, token id))`.
    #[serde(with = "crate::storage::records::b64")]
    pub sealed_private_key: Vec<u8>,
    pub valid_to_ms: u64,
}

/// AAD prefix for a sealed import wrapping key. Do not change.
pub const IMPORT_KEY_AAD_PREFIX: &[u8] = b"coffer/v1/import-wrapping-key";

/// The AAD that binds a sealed wrapping key to its KMS key and token.
pub fn import_key_aad(key_id: &Uuid, token_id: &[u8]) -> Vec<u8> {
    let mut aad = IMPORT_KEY_AAD_PREFIX.to_vec();
    aad.extend_from_slice(key_id.as_bytes());
    aad.extend_from_slice(token_id);
    aad
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl KeyRecord {
    pub fn id(&self) -> Result<Uuid, KmsError> {
        Uuid::try_parse(&self.key_id)
            .map_err(|_| KmsError::Internal("stored KMS key record has a malformed key id".into()))
    }

    pub fn material(&self, version: u32) -> Option<&MaterialRecord> {
        self.materials.iter().find(|m| m.version == version)
    }

    pub fn encode(&self) -> Result<Vec<u8>, KmsError> {
        encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, KmsError> {
        decode(bytes, "key")
    }
}

/// An alias: a name for a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub target_key_id: String,
    pub created_ms: u64,
    pub updated_ms: u64,
}

impl AliasRecord {
    pub fn encode(&self) -> Result<Vec<u8>, KmsError> {
        encode(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, KmsError> {
        decode(bytes, "alias")
    }
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, KmsError> {
    let mut out = vec![KMS_RECORD_V1];
    serde_json::to_writer(&mut out, v)
        .map_err(|e| KmsError::Internal(format!("encoding a KMS record: {e}")))?;
    Ok(out)
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, KmsError> {
    match bytes.split_first() {
        Some((&KMS_RECORD_V1, rest)) => serde_json::from_slice(rest)
            .map_err(|e| KmsError::Internal(format!("stored KMS {what} record is corrupt: {e}"))),
        Some((v, _)) => Err(KmsError::Internal(format!(
            "stored KMS {what} record has unknown format version {v}"
        ))),
        None => Err(KmsError::Internal(format!(
            "stored KMS {what} record is empty"
        ))),
    }
}

/// Encodes the service-key pointer.
pub fn encode_pointer(id: &Uuid) -> Vec<u8> {
    let mut v = vec![KMS_RECORD_V1];
    v.extend_from_slice(id.as_bytes());
    v
}

pub fn decode_pointer(bytes: &[u8]) -> Result<Uuid, KmsError> {
    match bytes.split_first() {
        Some((&KMS_RECORD_V1, rest)) => <[u8; 16]>::try_from(rest)
            .map(Uuid::from_bytes)
            .map_err(|_| KmsError::Internal("stored KMS key pointer is corrupt".into())),
        _ => Err(KmsError::Internal(
            "stored KMS key pointer has an unknown format".into(),
        )),
    }
}

/// The KMS's tables.
#[derive(Clone)]
pub struct KmsTables {
    pub keys: Table,
    pub aliases: Table,
    pub meta: Table,
    /// Key records are read several times for every use of a key (its state and policy, then
    /// the key itself); decoding them once per change is enough.
    decoded_keys: std::sync::Arc<crate::storage::DecodedCache<KeyRecord>>,
}

impl KmsTables {
    pub fn open(store: &Store) -> Result<Self, crate::storage::StorageError> {
        Ok(KmsTables {
            keys: store.table(KEYS_TABLE)?,
            aliases: store.table(ALIASES_TABLE)?,
            meta: store.table(META_TABLE)?,
            decoded_keys: Default::default(),
        })
    }

    pub fn get_key(&self, id: &Uuid) -> Result<Option<KeyRecord>, KmsError> {
        match self.keys.get(id.as_bytes()).map_err(storage)? {
            Some(v) => Ok(Some(self.decoded_keys.get_or_decode(
                id.as_bytes(),
                &v,
                KeyRecord::decode,
            )?)),
            None => Ok(None),
        }
    }

    /// Inserts a new key record; `false` if the id is taken.
    pub fn insert_key(&self, rec: &KeyRecord) -> Result<bool, KmsError> {
        let id = rec.id()?;
        self.keys
            .insert_if_absent(id.as_bytes(), &rec.encode()?)
            .map_err(storage)
    }

    /// Read-modify-write of a key record, retried on concurrent change. `f` may refuse.
    pub fn update_key(
        &self,
        id: &Uuid,
        mut f: impl FnMut(&mut KeyRecord) -> Result<(), KmsError>,
    ) -> Result<KeyRecord, KmsError> {
        loop {
            let Some(old) = self.keys.get(id.as_bytes()).map_err(storage)? else {
                return Err(KmsError::NotFound("key does not exist".into()));
            };
            let mut rec = KeyRecord::decode(&old)?;
            f(&mut rec)?;
            let new = rec.encode()?;
            if self
                .keys
                .compare_and_swap(id.as_bytes(), Some(&old), Some(&new))
                .map_err(storage)?
            {
                return Ok(rec);
            }
        }
    }

    /// Every key record, in key id byte order.
    pub fn all_keys(&self) -> Result<Vec<KeyRecord>, KmsError> {
        let mut out = Vec::new();
        for kv in self.keys.scan_prefix(b"") {
            let (_, v) = kv.map_err(storage)?;
            out.push(KeyRecord::decode(&v)?);
        }
        Ok(out)
    }

    pub fn has_keys(&self) -> Result<bool, KmsError> {
        Ok(self
            .keys
            .scan_prefix(b"")
            .next()
            .transpose()
            .map_err(storage)?
            .is_some())
    }

    pub fn get_alias(&self, name: &str) -> Result<Option<AliasRecord>, KmsError> {
        match self.aliases.get(name.as_bytes()).map_err(storage)? {
            Some(v) => Ok(Some(AliasRecord::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Inserts an alias; `false` if the name is taken.
    pub fn insert_alias(&self, name: &str, rec: &AliasRecord) -> Result<bool, KmsError> {
        self.aliases
            .insert_if_absent(name.as_bytes(), &rec.encode()?)
            .map_err(storage)
    }

    pub fn remove_alias(&self, name: &str) -> Result<bool, KmsError> {
        Ok(self
            .aliases
            .remove(name.as_bytes())
            .map_err(storage)?
            .is_some())
    }

    /// Every alias, in name order.
    pub fn all_aliases(&self) -> Result<Vec<(String, AliasRecord)>, KmsError> {
        let mut out = Vec::new();
        for kv in self.aliases.scan_prefix(b"") {
            let (k, v) = kv.map_err(storage)?;
            let name = String::from_utf8(k)
                .map_err(|_| KmsError::Internal("stored alias name is not UTF-8".into()))?;
            out.push((name, AliasRecord::decode(&v)?));
        }
        Ok(out)
    }
}

pub fn storage(e: crate::storage::StorageError) -> KmsError {
    match e {
        crate::storage::StorageError::Unavailable(m) => KmsError::DependencyTimeout(m),
        e => KmsError::Internal(e.to_string()),
    }
}
