//! Stored record formats for buckets and objects.
//!
//! Layout of every record value (do not change; add a version instead):
//!
//! ```text
//! offset  size  field
//! 0       1     record format version (RECORD_V1 = 0x01)
//! 1       n     UTF-8 JSON of the record struct for that version
//! ```
//!
//! JSON keeps the records readable by `coffer verify` and by later versions: new fields are added
//! as `#[serde(default)]` so a v1 record written today still decodes. Binary fields are base64.
//! No secret is ever a field here: data keys are stored only wrapped by the KMS, SSE-C keys only
//! as a keyed MAC.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{StorageError, StreamId};

/// Record format version 1. Do not change.
pub const RECORD_V1: u8 = 0x01;

pub(super) fn encode_json<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![RECORD_V1];
    // Serializing these plain structs to a Vec cannot fail (no maps with non-string keys, no
    // custom serializers that error), so the fallback is unreachable.
    if serde_json::to_writer(&mut out, v).is_err() {
        out.truncate(1);
    }
    out
}

pub(super) fn decode_json<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    what: &str,
) -> Result<T, StorageError> {
    match bytes.split_first() {
        Some((&RECORD_V1, rest)) => serde_json::from_slice(rest)
            .map_err(|e| StorageError::Corrupt(format!("{what} record: {e}"))),
        Some((v, _)) => Err(StorageError::Corrupt(format!(
            "{what} record has unknown format version {v}"
        ))),
        None => Err(StorageError::Corrupt(format!("{what} record is empty"))),
    }
}

/// A bucket's configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BucketRecord {
    pub created_ms: u64,
    pub region: String,
    /// Default encryption (PutBucketEncryption); `None` means SSE-S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<BucketEncryption>,
    /// The owning account (12 digits). `None` in records written before accounts existed:
    /// those buckets belong to the default account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The bucket policy document (JSON text, validated when stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// Object Ownership. Records from before it existed had no ACLs: `BucketOwnerEnforced`.
    #[serde(default, skip_serializing_if = "ObjectOwnership::is_default")]
    pub ownership: ObjectOwnership,
    /// The bucket ACL (PutBucketAcl, `x-amz-acl` on CreateBucket). `None`: the owner's
    /// FULL_CONTROL alone, AWS's default. Evaluated only while ACLs are enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Acl>,
    /// Set (to the time, ms) while a DeleteBucket runs: commits that need the bucket refuse
    /// it, so no node adds an object after the deleter found the bucket empty. A mark older
    /// than [`BucketRecord::DELETE_MARK_TTL_MS`] is a deleter that died: ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleting_since_ms: Option<u64>,
}

impl BucketRecord {
    /// How long a DeleteBucket's mark holds (a deletion takes milliseconds).
    pub const DELETE_MARK_TTL_MS: u64 = 60_000;

    /// Whether a DeleteBucket is under way at `now_ms`.
    pub fn is_being_deleted(&self, now_ms: u64) -> bool {
        self.deleting_since_ms
            .is_some_and(|t| now_ms.saturating_sub(t) < Self::DELETE_MARK_TTL_MS)
    }
}

/// An access control list: the resource's owning account and what it grants to whom.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Acl {
    /// The owning account (12 digits).
    pub owner: String,
    pub grants: Vec<AclGrant>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AclGrant {
    pub grantee: AclGrantee,
    pub permission: AclPermission,
}

/// Who a grant names. S3 grantees are canonical users (here: accounts) and the predefined
/// groups; grants by e-mail address are resolved to accounts before they are stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum AclGrantee {
    Account(String),
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AclPermission {
    FullControl,
    Read,
    Write,
    ReadAcp,
    WriteAcp,
}

impl AclPermission {
    pub fn as_str(self) -> &'static str {
        match self {
            AclPermission::FullControl => "FULL_CONTROL",
            AclPermission::Read => "READ",
            AclPermission::Write => "WRITE",
            AclPermission::ReadAcp => "READ_ACP",
            AclPermission::WriteAcp => "WRITE_ACP",
        }
    }

    pub fn parse(s: &str) -> Option<AclPermission> {
        Some(match s {
            "FULL_CONTROL" => AclPermission::FullControl,
            "READ" => AclPermission::Read,
            "WRITE" => AclPermission::Write,
            "READ_ACP" => AclPermission::ReadAcp,
            "WRITE_ACP" => AclPermission::WriteAcp,
            _ => return None,
        })
    }
}

/// A bucket's public access block configuration (S3 `PublicAccessBlockConfiguration`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicAccessBlock {
    #[serde(default)]
    pub block_public_acls: bool,
    #[serde(default)]
    pub ignore_public_acls: bool,
    #[serde(default)]
    pub block_public_policy: bool,
    #[serde(default)]
    pub restrict_public_buckets: bool,
}

/// S3 Object Ownership: who owns new objects and whether ACLs are in effect.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum ObjectOwnership {
    /// ACLs disabled; the bucket owner owns every object (AWS's default for new buckets).
    #[default]
    BucketOwnerEnforced,
    BucketOwnerPreferred,
    ObjectWriter,
    /// DeleteBucketOwnershipControls: no setting, which S3 treats as `ObjectWriter`.
    Unset,
}

impl ObjectOwnership {
    fn is_default(&self) -> bool {
        *self == ObjectOwnership::BucketOwnerEnforced
    }

    pub fn as_str(self) -> Option<&'static str> {
        match self {
            ObjectOwnership::BucketOwnerEnforced => Some("BucketOwnerEnforced"),
            ObjectOwnership::BucketOwnerPreferred => Some("BucketOwnerPreferred"),
            ObjectOwnership::ObjectWriter => Some("ObjectWriter"),
            ObjectOwnership::Unset => None,
        }
    }

    pub fn parse(s: &str) -> Option<ObjectOwnership> {
        match s {
            "BucketOwnerEnforced" => Some(ObjectOwnership::BucketOwnerEnforced),
            "BucketOwnerPreferred" => Some(ObjectOwnership::BucketOwnerPreferred),
            "ObjectWriter" => Some(ObjectOwnership::ObjectWriter),
            _ => None,
        }
    }

    /// Whether ACLs are evaluated (every setting but `BucketOwnerEnforced`).
    pub fn acls_enabled(self) -> bool {
        self != ObjectOwnership::BucketOwnerEnforced
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BucketEncryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

impl BucketRecord {
    /// The owning account, given the default account for records from before accounts.
    pub fn owner_or<'a>(&'a self, default_account: &'a str) -> &'a str {
        self.owner.as_deref().unwrap_or(default_account)
    }

    pub fn encode(&self) -> Vec<u8> {
        encode_json(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, StorageError> {
        decode_json(bytes, "bucket")
    }
}

/// How an object's body is encrypted, and what unwraps its data key.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum SseMode {
    /// SSE-S3: data key wrapped under the service-owned KMS key.
    #[serde(rename = "AES256")]
    S3,
    /// SSE-KMS: data key wrapped under a customer or AWS-managed KMS key.
    #[serde(rename = "aws:kms")]
    Kms,
    /// SSE-C: the customer's key is the data key; only a MAC of it is stored.
    #[serde(rename = "SSE-C")]
    Customer,
    /// DSSE-KMS: two layers of encryption, each under its own data key wrapped under the same
    /// KMS key and context (`wrapped_key` and `outer_wrapped_key`).
    #[serde(rename = "aws:kms:dsse")]
    Dsse,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SseRecord {
    pub mode: SseMode,
    /// Full ARN of the KMS key that wrapped the data key (SSE-S3 and SSE-KMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// The KMS ciphertext blob of the data key (SSE-S3 and SSE-KMS).
    #[serde(default, with = "b64_opt", skip_serializing_if = "Option::is_none")]
    pub wrapped_key: Option<Vec<u8>>,
    /// The complete encryption context the data key was wrapped with (the AAD).
    #[serde(default)]
    pub context: BTreeMap<String, String>,
    #[serde(default)]
    pub bucket_key: bool,
    /// SSE-C: base64 MD5 of the customer key, as the client sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_key_md5: Option<String>,
    /// SSE-C: HMAC-SHA256 of the customer key under a server-side key.
    #[serde(default, with = "b64_opt", skip_serializing_if = "Option::is_none")]
    pub customer_key_mac: Option<Vec<u8>>,
    /// Bucket keys: `wrapped_key` is the bucket-level key, shared by many objects; this
    /// object's data key is HKDF-SHA256(bucket key, this salt). Absent: `wrapped_key` is the
    /// object's own data key.
    #[serde(default, with = "b64_opt", skip_serializing_if = "Option::is_none")]
    pub bucket_key_salt: Option<Vec<u8>>,
    /// DSSE-KMS: the KMS ciphertext blob of the second data key (the outer layer's); the inner
    /// layer's is `wrapped_key`.
    #[serde(default, with = "b64_opt", skip_serializing_if = "Option::is_none")]
    pub outer_wrapped_key: Option<Vec<u8>>,
}

#[cfg(test)]
impl SseRecord {
    /// An SSE-S3 envelope with no key material, for storage tests that never decrypt.
    pub(crate) fn s3_for_tests() -> SseRecord {
        SseRecord {
            mode: SseMode::S3,
            kms_key_arn: None,
            wrapped_key: None,
            context: Default::default(),
            bucket_key: false,
            customer_key_md5: None,
            customer_key_mac: None,
            bucket_key_salt: None,
            outer_wrapped_key: None,
        }
    }
}

/// Cipher parameters of an object's streams: nothing about the body format is implicit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CipherParams {
    /// `"AES-256-GCM/HKDF-SHA256/v1"` or `"AES-256-GCM-DSSE/HKDF-SHA256/v1"`: see `sse::chunk`.
    pub scheme: String,
    pub chunk_size: u32,
}

/// One encrypted stream: the body of a single PUT, or one part of a multipart object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StreamRecord {
    #[serde(with = "stream_id_hex")]
    pub stream_id: StreamId,
    #[serde(with = "b64")]
    pub salt: Vec<u8>,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Part number for multipart objects (1-based); 0 for a single PUT.
    #[serde(default)]
    pub part_number: u32,
    /// The part's ETag (multipart), without quotes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
    /// Multipart: the part's own flexible checksum of the upload's algorithm (`CRC32` ... ->
    /// base64 of the part's plaintext), what GET and HEAD with `partNumber` return for a
    /// COMPOSITE object. Empty for a single PUT, without an algorithm, and in records written
    /// before it was kept (left out when empty, so such records encode as before). A part
    /// entry of an upload in progress keeps its checksums in `PartRecord::checksums` instead.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
}

/// The current version of an object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectRecord {
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    pub last_modified_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Standard headers stored with the object: cache-control, content-disposition,
    /// content-encoding, content-language, expires (lower-case names).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// User metadata, `x-amz-meta-` prefix stripped, names lower-case, in request order.
    #[serde(default)]
    pub user_meta: Vec<(String, String)>,
    /// Flexible checksums of the plaintext: algorithm (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`,
    /// `SHA256`) -> base64 value.
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    pub sse: SseRecord,
    pub cipher: CipherParams,
    /// The object's streams in order; one for a single PUT.
    pub parts: Vec<StreamRecord>,
    /// The object's owner and ACL, when they differ from the default (owned by the bucket
    /// owner, who alone has FULL_CONTROL). Evaluated only while the bucket's ACLs are enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Acl>,
}

impl ObjectRecord {
    pub fn encode(&self) -> Vec<u8> {
        encode_json(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, StorageError> {
        decode_json(bytes, "object")
    }
    pub fn stream_ids(&self) -> Vec<StreamId> {
        self.parts.iter().map(|p| p.stream_id).collect()
    }
}

/// Serde helper: bytes as standard base64 (also used by the KMS key records).
pub mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

mod b64_opt {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&STANDARD.encode(v)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => STANDARD
                .decode(s)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

mod stream_id_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::storage::StreamId;

    pub fn serialize<S: Serializer>(v: &StreamId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_hex())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StreamId, D::Error> {
        let s = String::deserialize(d)?;
        StreamId::from_hex(&s).ok_or_else(|| serde::de::Error::custom("bad stream id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A multipart object record as written before parts kept their checksums: it decodes
    /// with none, and re-encodes byte for byte (an empty map is left out).
    #[test]
    fn multipart_record_without_part_checksums_still_decodes() {
        let json = concat!(
            r#"{"size":3,"etag":"00112233445566778899aabbccddeeff-2","last_modified_ms":1,"#,
            r#""headers":{},"user_meta":[],"checksums":{"CRC32":"AAAAAA==-2"},"#,
            r#""sse":{"mode":"AES256","context":{},"bucket_key":false},"#,
            r#""cipher":{"scheme":"AES-256-GCM/HKDF-SHA256/v1","chunk_size":65536},"#,
            r#""parts":[{"stream_id":"00112233445566778899aabbccddeeff","salt":"AA==","size":1,"#,
            r#""part_number":1,"etag":"aa"},{"stream_id":"ffeeddccbbaa99887766554433221100","#,
            r#""salt":"AA==","size":2,"part_number":2,"etag":"bb"}]}"#
        );
        let mut bytes = vec![RECORD_V1];
        bytes.extend_from_slice(json.as_bytes());
        let rec = ObjectRecord::decode(&bytes).unwrap();
        assert_eq!(rec.parts.len(), 2);
        assert!(rec.parts.iter().all(|p| p.checksums.is_empty()));
        assert_eq!(rec.encode(), bytes);

        // A part checksum, once kept, round-trips.
        let mut rec = rec;
        rec.parts[0]
            .checksums
            .insert("CRC32".into(), "AAAAAQ==".into());
        let again = ObjectRecord::decode(&rec.encode()).unwrap();
        assert_eq!(again, rec);
    }
}
