//! The AWS KMS JSON wire shapes: one request struct per operation (AWS's member names; unknown
//! members are ignored, as AWS ignores them) and one response struct per operation, encoded
//! by serde. Nothing here decides anything: [`super::ops`] validates and calls the core, and
//! the core ([`crate::kms`]) knows nothing of these names.
//!
//! Conventions (AWS's, from the API reference's "Common data types"): blobs are base64
//! strings, dates are epoch seconds as JSON numbers, absent optional members are omitted (not
//! `null`), and list responses carry `Truncated` and, when truncated, `NextMarker`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::kms::grants::GrantInfo;
use crate::kms::store::RotationType;
use crate::kms::{
    AliasEntry, EncryptionContext, KeyManager, KeyMetadata, KeyOrigin, KeyRotation, KeySpec,
    KeyState, KeyUsage, KmsTag,
};

// ---- requests ----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyOnly {
    pub key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Paging {
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

/// `ListKeyRotations`, `ListResourceTags`, `ListKeyPolicies`, `ListAliases` (whose `KeyId`
/// is optional).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyPaging {
    pub key_id: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateKeyRequest {
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub key_spec: Option<String>,
    pub customer_master_key_spec: Option<String>,
    pub origin: Option<String>,
    pub tags: Option<Vec<Tag>>,
    pub policy: Option<String>,
    pub multi_region: Option<bool>,
    pub custom_key_store_id: Option<String>,
    pub xks_key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateKeyDescriptionRequest {
    pub key_id: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ScheduleKeyDeletionRequest {
    pub key_id: Option<String>,
    pub pending_window_in_days: Option<i64>,
}

/// `CreateAlias`, `UpdateAlias`, `DeleteAlias`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AliasRequest {
    pub alias_name: Option<String>,
    pub target_key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EncryptRequest {
    pub key_id: Option<String>,
    pub plaintext: Option<String>,
    pub encryption_context: Option<EncryptionContext>,
    pub encryption_algorithm: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DecryptRequest {
    pub key_id: Option<String>,
    pub ciphertext_blob: Option<String>,
    pub encryption_context: Option<EncryptionContext>,
    pub encryption_algorithm: Option<String>,
    pub recipient: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReEncryptRequest {
    pub ciphertext_blob: Option<String>,
    pub source_key_id: Option<String>,
    pub source_encryption_context: Option<EncryptionContext>,
    pub source_encryption_algorithm: Option<String>,
    pub destination_key_id: Option<String>,
    pub destination_encryption_context: Option<EncryptionContext>,
    pub destination_encryption_algorithm: Option<String>,
}

/// `GenerateDataKey`, `GenerateDataKeyWithoutPlaintext`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DataKeyRequest {
    pub key_id: Option<String>,
    pub key_spec: Option<String>,
    pub number_of_bytes: Option<i64>,
    pub encryption_context: Option<EncryptionContext>,
    pub recipient: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GenerateRandomRequest {
    pub number_of_bytes: Option<i64>,
    pub custom_key_store_id: Option<String>,
    pub recipient: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EnableKeyRotationRequest {
    pub key_id: Option<String>,
    pub rotation_period_in_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagResourceRequest {
    pub key_id: Option<String>,
    pub tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UntagResourceRequest {
    pub key_id: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

/// `GetKeyPolicy`, `PutKeyPolicy`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyPolicyRequest {
    pub key_id: Option<String>,
    pub policy_name: Option<String>,
    pub policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetParametersForImportRequest {
    pub key_id: Option<String>,
    pub wrapping_algorithm: Option<String>,
    pub wrapping_key_spec: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ImportKeyMaterialRequest {
    pub key_id: Option<String>,
    pub import_token: Option<String>,
    pub encrypted_key_material: Option<String>,
    pub valid_to: Option<f64>,
    pub expiration_model: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct GrantConstraints {
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateGrantRequest {
    pub key_id: Option<String>,
    pub grantee_principal: Option<String>,
    pub retiring_principal: Option<String>,
    #[serde(default)]
    pub operations: Vec<String>,
    pub constraints: Option<GrantConstraints>,
    pub name: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

/// `ListGrants`, `ListRetirableGrants`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListGrantsRequest {
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub grantee_principal: Option<String>,
    pub retiring_principal: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

/// `RetireGrant`, `RevokeGrant`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RetireGrantRequest {
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub grant_token: Option<String>,
}

/// AWS's `Tag`, in requests and responses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Tag {
    pub tag_key: String,
    pub tag_value: String,
}

impl From<Tag> for KmsTag {
    fn from(t: Tag) -> KmsTag {
        KmsTag {
            tag_key: t.tag_key,
            tag_value: t.tag_value,
        }
    }
}

impl From<KmsTag> for Tag {
    fn from(t: KmsTag) -> Tag {
        Tag {
            tag_key: t.tag_key,
            tag_value: t.tag_value,
        }
    }
}

// ---- responses ----

/// The `EncryptionAlgorithm` of every symmetric operation.
pub(super) const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

/// AWS `KeyMetadata`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMetadataOut<'a> {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: &'a str,
    key_id: &'a str,
    arn: &'a str,
    creation_date: f64,
    enabled: bool,
    description: &'a str,
    key_usage: &'static str,
    key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_deletion_window_in_days: Option<u32>,
    origin: &'static str,
    key_manager: &'static str,
    customer_master_key_spec: &'static str,
    key_spec: &'static str,
    encryption_algorithms: [&'static str; 1],
    multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<f64>,
}

impl<'a> From<&'a KeyMetadata> for KeyMetadataOut<'a> {
    fn from(m: &'a KeyMetadata) -> Self {
        KeyMetadataOut {
            aws_account_id: &m.aws_account_id,
            key_id: &m.key_id,
            arn: &m.arn,
            creation_date: secs(m.creation_ms),
            enabled: m.key_state == KeyState::Enabled,
            description: &m.description,
            key_usage: key_usage(m.key_usage),
            key_state: key_state(m.key_state),
            deletion_date: m.deletion_ms.map(secs),
            pending_deletion_window_in_days: m.pending_deletion_window_in_days,
            origin: origin(m.origin),
            key_manager: key_manager(m.key_manager),
            customer_master_key_spec: key_spec(m.key_spec),
            key_spec: key_spec(m.key_spec),
            encryption_algorithms: [SYMMETRIC_DEFAULT],
            multi_region: false,
            expiration_model: m.material_expires.map(|expires| {
                if expires {
                    "KEY_MATERIAL_EXPIRES"
                } else {
                    "KEY_MATERIAL_DOES_NOT_EXPIRE"
                }
            }),
            valid_to: m.valid_to_ms.map(secs),
        }
    }
}

/// `CreateKey`, `DescribeKey`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMetadataResponse<'a> {
    pub key_metadata: KeyMetadataOut<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyListEntry<'a> {
    pub key_id: &'a str,
    pub key_arn: &'a str,
}

/// A list operation's page: the list under its AWS name (`#[serde(flatten)]` of a one-member
/// struct), `Truncated`, and `NextMarker` when truncated.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Page<L: Serialize> {
    #[serde(flatten)]
    pub list: L,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

impl<L: Serialize> Page<L> {
    pub fn new(list: L, next_marker: Option<String>) -> Self {
        Page {
            list,
            truncated: next_marker.is_some(),
            next_marker,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Keys<'a> {
    pub keys: Vec<KeyListEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Aliases<'a> {
    pub aliases: Vec<AliasOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Rotations<'a> {
    pub rotations: Vec<RotationOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Tags {
    pub tags: Vec<Tag>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PolicyNames {
    pub policy_names: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Grants<'a> {
    pub grants: Vec<GrantOut<'a>>,
}

/// AWS `AliasListEntry`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AliasOut<'a> {
    alias_name: &'a str,
    alias_arn: &'a str,
    target_key_id: &'a str,
    creation_date: f64,
    last_updated_date: f64,
}

impl<'a> From<&'a AliasEntry> for AliasOut<'a> {
    fn from(a: &'a AliasEntry) -> Self {
        AliasOut {
            alias_name: &a.alias_name,
            alias_arn: &a.alias_arn,
            target_key_id: &a.target_key_id,
            creation_date: secs(a.creation_ms),
            last_updated_date: secs(a.last_updated_ms),
        }
    }
}

/// AWS `RotationsListEntry`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RotationOut<'a> {
    key_id: &'a str,
    rotation_date: f64,
    rotation_type: &'static str,
}

impl<'a> From<&'a KeyRotation> for RotationOut<'a> {
    fn from(r: &'a KeyRotation) -> Self {
        RotationOut {
            key_id: &r.key_arn,
            rotation_date: secs(r.rotation_ms),
            rotation_type: match r.rotation_type {
                RotationType::Automatic => "AUTOMATIC",
                RotationType::OnDemand => "ON_DEMAND",
            },
        }
    }
}

/// AWS `GrantListEntry`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GrantOut<'a> {
    key_id: &'a str,
    grant_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    creation_date: f64,
    grantee_principal: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retiring_principal: Option<&'a str>,
    issuing_account: &'a str,
    operations: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    constraints: Option<GrantConstraintsOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GrantConstraintsOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context_subset: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context_equals: Option<&'a BTreeMap<String, String>>,
}

impl<'a> From<&'a GrantInfo> for GrantOut<'a> {
    fn from(g: &'a GrantInfo) -> Self {
        let r = &g.record;
        let constraints = match (&r.encryption_context_subset, &r.encryption_context_equals) {
            (None, None) => None,
            (subset, equals) => Some(GrantConstraintsOut {
                encryption_context_subset: subset.as_ref(),
                encryption_context_equals: equals.as_ref(),
            }),
        };
        GrantOut {
            key_id: &g.key_arn,
            grant_id: &r.grant_id,
            name: r.name.as_deref(),
            creation_date: secs(r.created_ms),
            grantee_principal: &r.grantee_principal,
            retiring_principal: r.retiring_principal.as_deref(),
            issuing_account: &r.issuing_account,
            operations: &r.operations,
            constraints,
        }
    }
}

/// `CancelKeyDeletion`, `RotateKeyOnDemand`, `ImportKeyMaterial`,
/// `DeleteImportedKeyMaterial`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyIdResponse<'a> {
    pub key_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ScheduleKeyDeletionResponse<'a> {
    pub key_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    pub key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_window_in_days: Option<u32>,
}

/// `Encrypt`, `GenerateDataKeyWithoutPlaintext` (no `EncryptionAlgorithm`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EncryptResponse<'a> {
    pub ciphertext_blob: String,
    pub key_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReEncryptResponse<'a> {
    pub ciphertext_blob: String,
    pub source_key_id: &'a str,
    pub key_id: &'a str,
    pub source_encryption_algorithm: &'static str,
    pub destination_encryption_algorithm: &'static str,
}

/// A response that carries a plaintext (`Decrypt`, `GenerateDataKey`, `GenerateRandom`). It
/// borrows the base64 plaintext from a zeroizing buffer and is encoded straight into the
/// response body, so no other copy of the plaintext is left behind. (The response body itself
/// is handed to hyper, which does not zeroize; it lives only until sent.)
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PlaintextResponse<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ciphertext_blob: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<&'a str>,
    pub plaintext: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyRotationStatusResponse<'a> {
    pub key_id: &'a str,
    pub key_rotation_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetKeyPolicyResponse<'a> {
    pub policy: &'a str,
    pub policy_name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetParametersForImportResponse<'a> {
    pub key_id: &'a str,
    pub import_token: String,
    pub public_key: String,
    pub parameters_valid_to: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateGrantResponse<'a> {
    pub grant_id: &'a str,
    pub grant_token: &'a str,
}

/// An operation that answers `{}` on success with content (`RetireGrant`, `RevokeGrant`).
#[derive(Serialize)]
pub(super) struct Empty {}

// ---- AWS's enum names ----

/// Epoch milliseconds as AWS's epoch seconds.
pub(super) fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

pub(super) fn key_state(s: KeyState) -> &'static str {
    match s {
        KeyState::Enabled => "Enabled",
        KeyState::Disabled => "Disabled",
        KeyState::PendingDeletion => "PendingDeletion",
        KeyState::PendingImport => "PendingImport",
    }
}

fn key_usage(u: KeyUsage) -> &'static str {
    match u {
        KeyUsage::EncryptDecrypt => "ENCRYPT_DECRYPT",
    }
}

fn origin(o: KeyOrigin) -> &'static str {
    match o {
        KeyOrigin::AwsKms => "AWS_KMS",
        KeyOrigin::External => "EXTERNAL",
    }
}

fn key_manager(m: KeyManager) -> &'static str {
    match m {
        KeyManager::Customer => "CUSTOMER",
        KeyManager::Aws => "AWS",
    }
}

fn key_spec(s: KeySpec) -> &'static str {
    match s {
        KeySpec::SymmetricDefault => SYMMETRIC_DEFAULT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::store::GrantRecord;

    fn json<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap()
    }

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn metadata() -> KeyMetadata {
        KeyMetadata {
            aws_account_id: "111122223333".into(),
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            arn: ARN.into(),
            creation_ms: 1_700_000_000_123,
            description: "d".into(),
            key_usage: KeyUsage::EncryptDecrypt,
            key_state: KeyState::PendingDeletion,
            deletion_ms: Some(1_700_604_800_000),
            pending_deletion_window_in_days: Some(7),
            origin: KeyOrigin::External,
            key_manager: KeyManager::Customer,
            key_spec: KeySpec::SymmetricDefault,
            material_expires: Some(true),
            valid_to_ms: Some(1_800_000_000_000),
        }
    }

    /// AWS's `DescribeKey` response shape (member names and types from the API reference's
    /// `KeyMetadata`), byte for byte.
    #[test]
    fn golden_key_metadata() {
        let m = metadata();
        assert_eq!(
            json(&KeyMetadataResponse {
                key_metadata: (&m).into()
            }),
            concat!(
                r#"{"KeyMetadata":{"AWSAccountId":"111122223333","#,
                r#""KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","#,
                r#""Arn":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab","#,
                r#""CreationDate":1700000000.123,"Enabled":false,"Description":"d","#,
                r#""KeyUsage":"ENCRYPT_DECRYPT","KeyState":"PendingDeletion","#,
                r#""DeletionDate":1700604800.0,"PendingDeletionWindowInDays":7,"#,
                r#""Origin":"EXTERNAL","KeyManager":"CUSTOMER","#,
                r#""CustomerMasterKeySpec":"SYMMETRIC_DEFAULT","KeySpec":"SYMMETRIC_DEFAULT","#,
                r#""EncryptionAlgorithms":["SYMMETRIC_DEFAULT"],"MultiRegion":false,"#,
                r#""ExpirationModel":"KEY_MATERIAL_EXPIRES","ValidTo":1800000000.0}}"#
            )
        );
        // An enabled AWS_KMS key: no deletion or import members at all (never `null`).
        let m = KeyMetadata {
            key_state: KeyState::Enabled,
            deletion_ms: None,
            pending_deletion_window_in_days: None,
            origin: KeyOrigin::AwsKms,
            material_expires: None,
            valid_to_ms: None,
            ..metadata()
        };
        let out = json(&KeyMetadataOut::from(&m));
        assert!(out.contains(r#""Enabled":true"#), "{out}");
        for absent in [
            "DeletionDate",
            "PendingDeletionWindowInDays",
            "ExpirationModel",
            "ValidTo",
            "null",
        ] {
            assert!(!out.contains(absent), "{absent} in {out}");
        }
    }

    #[test]
    fn golden_pages_and_grants() {
        let keys = vec![KeyListEntry {
            key_id: "k",
            key_arn: "a",
        }];
        assert_eq!(
            json(&Page::new(Keys { keys }, Some("m".into()))),
            r#"{"Keys":[{"KeyId":"k","KeyArn":"a"}],"Truncated":true,"NextMarker":"m"}"#
        );
        assert_eq!(
            json(&Page::new(Tags { tags: Vec::new() }, None)),
            r#"{"Tags":[],"Truncated":false}"#
        );
        let g = GrantInfo {
            key_arn: ARN.into(),
            record: GrantRecord {
                grant_id: "g1".into(),
                name: None,
                grantee_principal: "arn:aws:iam::111122223333:user/a".into(),
                retiring_principal: None,
                issuing_account: "arn:aws:iam::111122223333:root".into(),
                operations: vec!["Decrypt".into()],
                encryption_context_subset: Some([("k".to_string(), "v".to_string())].into()),
                encryption_context_equals: None,
                created_ms: 1_500,
            },
        };
        assert_eq!(
            json(&GrantOut::from(&g)),
            concat!(
                r#"{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab","#,
                r#""GrantId":"g1","CreationDate":1.5,"#,
                r#""GranteePrincipal":"arn:aws:iam::111122223333:user/a","#,
                r#""IssuingAccount":"arn:aws:iam::111122223333:root","Operations":["Decrypt"],"#,
                r#""Constraints":{"EncryptionContextSubset":{"k":"v"}}}"#
            )
        );
        assert_eq!(json(&Empty {}), "{}");
    }

    /// Tags round-trip between the wire and the stored record with AWS's member names.
    #[test]
    fn tags_in_and_out() {
        let t: Tag = serde_json::from_str(r#"{"TagKey":"a","TagValue":"b"}"#).unwrap();
        let stored: KmsTag = t.into();
        assert_eq!(json(&Tag::from(stored)), r#"{"TagKey":"a","TagValue":"b"}"#);
    }
}
