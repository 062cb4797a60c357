//! No input makes an operation panic: random members of random types, for every operation.
// Test-only: compiled under #[cfg(test)], as the parent module declares it.
#![cfg(test)]

use std::sync::Arc;

use proptest::prelude::*;

use super::Op;
use super::ops::{Trail, run};
use crate::kms::{Kms, KmsOptions, RootKey};
use crate::secret::Key32;
use crate::storage::{Store, StoreOptions};

const ALL_OPS: [Op; 32] = [
    Op::CreateKey,
    Op::DescribeKey,
    Op::ListKeys,
    Op::UpdateKeyDescription,
    Op::EnableKey,
    Op::DisableKey,
    Op::ScheduleKeyDeletion,
    Op::CancelKeyDeletion,
    Op::CreateAlias,
    Op::UpdateAlias,
    Op::DeleteAlias,
    Op::ListAliases,
    Op::Encrypt,
    Op::Decrypt,
    Op::ReEncrypt,
    Op::GenerateDataKey,
    Op::GenerateDataKeyWithoutPlaintext,
    Op::GenerateRandom,
    Op::EnableKeyRotation,
    Op::DisableKeyRotation,
    Op::GetKeyRotationStatus,
    Op::RotateKeyOnDemand,
    Op::ListKeyRotations,
    Op::TagResource,
    Op::UntagResource,
    Op::ListResourceTags,
    Op::GetKeyPolicy,
    Op::PutKeyPolicy,
    Op::ListKeyPolicies,
    Op::GetParametersForImport,
    Op::ImportKeyMaterial,
    Op::DeleteImportedKeyMaterial,
];

const MEMBERS: [&str; 24] = [
    "KeyId",
    "TargetKeyId",
    "AliasName",
    "Description",
    "Plaintext",
    "CiphertextBlob",
    "EncryptionContext",
    "KeySpec",
    "NumberOfBytes",
    "Limit",
    "Marker",
    "PendingWindowInDays",
    "RotationPeriodInDays",
    "Tags",
    "TagKeys",
    "Policy",
    "PolicyName",
    "Origin",
    "KeyUsage",
    "WrappingAlgorithm",
    "ImportToken",
    "EncryptedKeyMaterial",
    "ValidTo",
    "ExpirationModel",
];

fn value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "[ -~]{0,40}".prop_map(|s| json!(s)),
        Just(json!("alias/k")),
        Just(json!("AAAA")),
        Just(json!([{"TagKey": "a", "TagValue": "b"}])),
        Just(json!({"k": "v"})),
        Just(json!(["a"])),
    ]
}

fn kms() -> (tempfile::TempDir, Arc<Kms>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
    let root = RootKey::from_key(Key32::from_bytes([3; 32]));
    let kms = Kms::open(&store, root, KmsOptions::default()).unwrap();
    kms.create_key("k", vec![], crate::kms::KeyOrigin::AwsKms)
        .unwrap();
    kms.create_alias("alias/k", &kms.list_keys().unwrap()[0].key_id)
        .unwrap();
    (dir, Arc::new(kms))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn kms_api_operations_never_panic_on_random_members(
        op in 0..ALL_OPS.len(),
        members in proptest::collection::vec((0..MEMBERS.len(), value()), 0..6),
        raw in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let (_dir, kms) = kms();
        let op = ALL_OPS[op];
        // GetParametersForImport with a valid spec would generate RSA keys: slow, not input.
        let mut obj = serde_json::Map::new();
        for (m, v) in members {
            if op == Op::GetParametersForImport && MEMBERS[m] == "WrappingAlgorithm" {
                continue;
            }
            obj.insert(MEMBERS[m].to_string(), v);
        }
        let body = serde_json::to_vec(&obj).unwrap();
        let _ = run(&kms, op, &body, &mut Trail::default());
        let _ = run(&kms, op, &raw, &mut Trail::default());
    }
}
