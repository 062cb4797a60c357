//! One function per operation: a typed request ([`super::wire`]) in, AWS's validation, one
//! core call, a typed response out. `run` only dispatches; grant operations, which need the
//! caller, are in [`super::grants`].

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::Op;
use super::error::{KmsApiError, invalid, missing};
use super::wire::{self, Page, SYMMETRIC_DEFAULT};
use crate::kms::{
    DataKeyLength, EncryptionContext, KeyOrigin, Kms, KmsError, MAX_DATA_KEY_LEN,
    WrappingAlgorithm, WrappingKeySpec,
};

/// What the audit line of a request records besides the operation and outcome.
#[derive(Debug, Default)]
pub struct Trail {
    pub key_arn: Option<String>,
    pub context: Option<EncryptionContext>,
    /// The operation changed stored state (flush before answering).
    pub changed: bool,
}

type R = Result<Vec<u8>, KmsApiError>;

/// Most aliases per `ListAliases` page, and the default page (AWS's limits); other lists
/// allow 1000 (tags: 50).
const MAX_ALIAS_PAGE: usize = 100;
const DEFAULT_ALIAS_PAGE: usize = 50;
const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 100;
const MAX_TAG_PAGE: usize = 50;
/// Longest `KeyId` member (AWS's limit).
const MAX_KEY_ID_LEN: usize = 2048;

/// Runs `op` (any but the grant operations) on the JSON `body`.
pub fn run(kms: &Kms, op: Op, body: &[u8], t: &mut Trail) -> R {
    let b = body;
    match op {
        Op::CreateKey => create_key(kms, parse(b)?, t),
        Op::DescribeKey => describe_key(kms, parse(b)?, t),
        Op::ListKeys => list_keys(kms, parse(b)?),
        Op::UpdateKeyDescription => update_key_description(kms, parse(b)?, t),
        Op::EnableKey => enable_key(kms, parse(b)?, t),
        Op::DisableKey => disable_key(kms, parse(b)?, t),
        Op::ScheduleKeyDeletion => schedule_key_deletion(kms, parse(b)?, t),
        Op::CancelKeyDeletion => cancel_key_deletion(kms, parse(b)?, t),
        Op::CreateAlias => create_alias(kms, parse(b)?, t),
        Op::UpdateAlias => update_alias(kms, parse(b)?, t),
        Op::DeleteAlias => delete_alias(kms, parse(b)?, t),
        Op::ListAliases => list_aliases(kms, parse(b)?, t),
        Op::Encrypt => encrypt(kms, parse(b)?, t),
        Op::Decrypt => decrypt(kms, parse(b)?, t),
        Op::ReEncrypt => re_encrypt(kms, parse(b)?, t),
        Op::GenerateDataKey => generate_data_key(kms, parse(b)?, t),
        Op::GenerateDataKeyWithoutPlaintext => {
            generate_data_key_without_plaintext(kms, parse(b)?, t)
        }
        Op::GenerateRandom => generate_random(parse(b)?),
        Op::EnableKeyRotation => enable_key_rotation(kms, parse(b)?, t),
        Op::DisableKeyRotation => disable_key_rotation(kms, parse(b)?, t),
        Op::GetKeyRotationStatus => get_key_rotation_status(kms, parse(b)?, t),
        Op::RotateKeyOnDemand => rotate_key_on_demand(kms, parse(b)?, t),
        Op::ListKeyRotations => list_key_rotations(kms, parse(b)?, t),
        Op::TagResource => tag_resource(kms, parse(b)?, t),
        Op::UntagResource => untag_resource(kms, parse(b)?, t),
        Op::ListResourceTags => list_resource_tags(kms, parse(b)?, t),
        Op::GetKeyPolicy => get_key_policy(kms, parse(b)?, t),
        Op::PutKeyPolicy => put_key_policy(kms, parse(b)?, t),
        Op::ListKeyPolicies => list_key_policies(kms, parse(b)?, t),
        Op::GetParametersForImport => get_parameters_for_import(kms, parse(b)?, t),
        Op::ImportKeyMaterial => import_key_material(kms, parse(b)?, t),
        Op::DeleteImportedKeyMaterial => delete_imported_key_material(kms, parse(b)?, t),
        // They need the caller: `super::grants` runs them.
        Op::CreateGrant
        | Op::ListGrants
        | Op::ListRetirableGrants
        | Op::RetireGrant
        | Op::RevokeGrant => {
            Err(KmsError::Internal(format!("{} is a grant operation", op.name())).into())
        }
    }
}

// ---- keys ----

fn create_key(kms: &Kms, r: wire::CreateKeyRequest, t: &mut Trail) -> R {
    match r.key_usage.as_deref() {
        None | Some("ENCRYPT_DECRYPT") => {}
        Some("SIGN_VERIFY" | "GENERATE_VERIFY_MAC" | "KEY_AGREEMENT") => {
            return Err(KmsError::Unsupported(
                "Coffer supports only symmetric ENCRYPT_DECRYPT keys.".into(),
            )
            .into());
        }
        Some(_) => {
            return Err(invalid(
                "KeyUsage",
                "Member must satisfy enum value set: [ENCRYPT_DECRYPT, SIGN_VERIFY, \
                 GENERATE_VERIFY_MAC, KEY_AGREEMENT]",
            ));
        }
    }
    for (member, spec) in [
        ("KeySpec", &r.key_spec),
        ("CustomerMasterKeySpec", &r.customer_master_key_spec),
    ] {
        match spec.as_deref() {
            None | Some(SYMMETRIC_DEFAULT) => {}
            Some(s)
                if s.starts_with("RSA_")
                    || s.starts_with("ECC_")
                    || s.starts_with("HMAC_")
                    || s.starts_with("ML_DSA_")
                    || s == "SM2" =>
            {
                return Err(KmsError::Unsupported(
                    "Coffer supports only SYMMETRIC_DEFAULT keys.".into(),
                )
                .into());
            }
            Some(_) => {
                return Err(invalid(member, "Member must satisfy enum value set"));
            }
        }
    }
    let origin = match r.origin.as_deref() {
        None | Some("AWS_KMS") => KeyOrigin::AwsKms,
        Some("EXTERNAL") => KeyOrigin::External,
        Some("AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE") => {
            return Err(
                KmsError::Unsupported("Custom key stores are not supported.".into()).into(),
            );
        }
        Some(_) => {
            return Err(invalid(
                "Origin",
                "Member must satisfy enum value set: [AWS_KMS, EXTERNAL, AWS_CLOUDHSM, \
                 EXTERNAL_KEY_STORE]",
            ));
        }
    };
    if r.multi_region == Some(true) {
        return Err(KmsError::Unsupported("Multi-Region keys are not supported.".into()).into());
    }
    if r.custom_key_store_id.is_some() || r.xks_key_id.is_some() {
        return Err(KmsError::Unsupported("Custom key stores are not supported.".into()).into());
    }
    let tags = r
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect();
    let m = kms.create_key_with_policy(
        r.description.as_deref().unwrap_or(""),
        tags,
        origin,
        r.policy,
    )?;
    t.key_arn = Some(m.arn.clone());
    t.changed = true;
    ok(&wire::KeyMetadataResponse {
        key_metadata: (&m).into(),
    })
}

fn describe_key(kms: &Kms, r: wire::KeyOnly, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let m = kms.describe_key(key)?;
    t.key_arn = Some(m.arn.clone());
    ok(&wire::KeyMetadataResponse {
        key_metadata: (&m).into(),
    })
}

fn list_keys(kms: &Kms, r: wire::Paging) -> R {
    let keys = kms.list_keys()?;
    let (page, next) = page(
        keys,
        |k| k.key_id.clone(),
        r.limit,
        MAX_PAGE,
        DEFAULT_PAGE,
        r.marker,
    )?;
    let keys = page
        .iter()
        .map(|k| wire::KeyListEntry {
            key_id: &k.key_id,
            key_arn: &k.arn,
        })
        .collect();
    ok(&Page::new(wire::Keys { keys }, next))
}

fn update_key_description(kms: &Kms, r: wire::UpdateKeyDescriptionRequest, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let d = r.description.ok_or_else(|| missing("Description"))?;
    kms.update_key_description(key, &d)?;
    t.key_arn = Some(kms.describe_key(key)?.arn);
    changed(t)
}

fn enable_key(kms: &Kms, r: wire::KeyOnly, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    t.key_arn = Some(kms.describe_key(key)?.arn);
    kms.enable_key(key)?;
    changed(t)
}

fn disable_key(kms: &Kms, r: wire::KeyOnly, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    t.key_arn = Some(kms.describe_key(key)?.arn);
    kms.disable_key(key)?;
    changed(t)
}

fn schedule_key_deletion(kms: &Kms, r: wire::ScheduleKeyDeletionRequest, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let days = match r.pending_window_in_days {
        Some(d) => Some(u32::try_from(d).map_err(|_| {
            invalid(
                "PendingWindowInDays",
                "Member must have value between 7 and 30",
            )
        })?),
        None => None,
    };
    let m = kms.schedule_key_deletion(key, days)?;
    t.key_arn = Some(m.arn.clone());
    t.changed = true;
    ok(&wire::ScheduleKeyDeletionResponse {
        key_id: &m.arn,
        deletion_date: m.deletion_ms.map(wire::secs),
        key_state: wire::key_state(m.key_state),
        pending_window_in_days: m.pending_deletion_window_in_days,
    })
}

fn cancel_key_deletion(kms: &Kms, r: wire::KeyOnly, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let arn = kms.cancel_key_deletion(key)?;
    t.changed = true;
    let out = ok(&wire::KeyIdResponse { key_id: &arn });
    t.key_arn = Some(arn);
    out
}

// ---- aliases ----

fn create_alias(kms: &Kms, r: wire::AliasRequest, t: &mut Trail) -> R {
    let name = r.alias_name.ok_or_else(|| missing("AliasName"))?;
    let target = key_id(kms, &r.target_key_id, t)?;
    kms.create_alias(&name, target)?;
    t.key_arn = Some(kms.describe_key(target)?.arn);
    changed(t)
}

fn update_alias(kms: &Kms, r: wire::AliasRequest, t: &mut Trail) -> R {
    let name = r.alias_name.ok_or_else(|| missing("AliasName"))?;
    let target = key_id(kms, &r.target_key_id, t)?;
    kms.update_alias(&name, target)?;
    t.key_arn = Some(kms.describe_key(target)?.arn);
    changed(t)
}

fn delete_alias(kms: &Kms, r: wire::AliasRequest, t: &mut Trail) -> R {
    let name = r.alias_name.ok_or_else(|| missing("AliasName"))?;
    t.key_arn = Some(kms.alias_arn(&name));
    kms.delete_alias(&name)?;
    changed(t)
}

fn list_aliases(kms: &Kms, r: wire::KeyPaging, t: &mut Trail) -> R {
    let filter = match &r.key_id {
        Some(_) => Some(key_id(kms, &r.key_id, t)?),
        None => None,
    };
    let aliases = kms.list_aliases(filter)?;
    let (page, next) = page(
        aliases,
        |a| a.alias_name.clone(),
        r.limit,
        MAX_ALIAS_PAGE,
        DEFAULT_ALIAS_PAGE,
        r.marker,
    )?;
    let aliases = page.iter().map(Into::into).collect();
    ok(&Page::new(wire::Aliases { aliases }, next))
}

// ---- cryptographic operations ----

fn encrypt(kms: &Kms, r: wire::EncryptRequest, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    check_algorithm(r.encryption_algorithm.as_deref())?;
    let pt = Zeroizing::new(blob(r.plaintext, "Plaintext")?);
    let ctx = r.encryption_context.unwrap_or_default();
    t.context = Some(ctx.clone());
    let out = kms.encrypt(key, &pt, &ctx)?;
    t.key_arn = Some(out.key_arn.clone());
    ok(&wire::EncryptResponse {
        ciphertext_blob: B64.encode(&out.ciphertext_blob),
        key_id: &out.key_arn,
        encryption_algorithm: Some(SYMMETRIC_DEFAULT),
    })
}

fn decrypt(kms: &Kms, r: wire::DecryptRequest, t: &mut Trail) -> R {
    check_algorithm(r.encryption_algorithm.as_deref())?;
    if r.recipient.is_some() {
        return Err(KmsError::Unsupported("Recipient is not supported.".into()).into());
    }
    let ct = blob(r.ciphertext_blob, "CiphertextBlob")?;
    let ctx = r.encryption_context.unwrap_or_default();
    t.context = Some(ctx.clone());
    let key = match &r.key_id {
        Some(_) => Some(key_id(kms, &r.key_id, t)?),
        None => None,
    };
    if key.is_none() {
        t.key_arn = blob_key_arn(kms, &ct);
    }
    let out = kms.decrypt(&ct, &ctx, key)?;
    t.key_arn = Some(out.key_arn.clone());
    let pt = Zeroizing::new(B64.encode(out.plaintext.expose()));
    ok(&wire::PlaintextResponse {
        ciphertext_blob: None,
        key_id: Some(&out.key_arn),
        plaintext: &pt,
        encryption_algorithm: Some(SYMMETRIC_DEFAULT),
    })
}

fn re_encrypt(kms: &Kms, r: wire::ReEncryptRequest, t: &mut Trail) -> R {
    check_algorithm(r.source_encryption_algorithm.as_deref())?;
    check_algorithm(r.destination_encryption_algorithm.as_deref())?;
    let ct = blob(r.ciphertext_blob, "CiphertextBlob")?;
    let dest = key_id(kms, &r.destination_key_id, t)?;
    let src_key = match &r.source_key_id {
        Some(_) => Some(key_id(kms, &r.source_key_id, t)?),
        None => None,
    };
    let src_ctx = r.source_encryption_context.unwrap_or_default();
    let dst_ctx = r.destination_encryption_context.unwrap_or_default();
    t.context = Some(dst_ctx.clone());
    t.key_arn = blob_key_arn(kms, &ct);
    let plain = kms.decrypt(&ct, &src_ctx, src_key)?;
    let out = kms.encrypt(dest, plain.plaintext.expose(), &dst_ctx)?;
    t.key_arn = Some(out.key_arn.clone());
    ok(&wire::ReEncryptResponse {
        ciphertext_blob: B64.encode(&out.ciphertext_blob),
        source_key_id: &plain.key_arn,
        key_id: &out.key_arn,
        source_encryption_algorithm: SYMMETRIC_DEFAULT,
        destination_encryption_algorithm: SYMMETRIC_DEFAULT,
    })
}

/// What both data-key operations check: the key, no `Recipient`, the length, the context.
fn data_key_request<'a>(
    kms: &Kms,
    r: &'a wire::DataKeyRequest,
    t: &mut Trail,
) -> Result<(&'a str, DataKeyLength, EncryptionContext), KmsApiError> {
    let key = key_id(kms, &r.key_id, t)?;
    if r.recipient.is_some() {
        return Err(KmsError::Unsupported("Recipient is not supported.".into()).into());
    }
    let length = data_key_length(r.key_spec.as_deref(), r.number_of_bytes)?;
    let ctx = r.encryption_context.clone().unwrap_or_default();
    t.context = Some(ctx.clone());
    Ok((key, length, ctx))
}

fn generate_data_key(kms: &Kms, r: wire::DataKeyRequest, t: &mut Trail) -> R {
    let (key, length, ctx) = data_key_request(kms, &r, t)?;
    let out = kms.generate_data_key_with(key, &ctx, length)?;
    t.key_arn = Some(out.key_arn.clone());
    let pt = Zeroizing::new(B64.encode(out.plaintext.expose()));
    ok(&wire::PlaintextResponse {
        ciphertext_blob: Some(&B64.encode(&out.ciphertext_blob)),
        key_id: Some(&out.key_arn),
        plaintext: &pt,
        encryption_algorithm: None,
    })
}

fn generate_data_key_without_plaintext(kms: &Kms, r: wire::DataKeyRequest, t: &mut Trail) -> R {
    let (key, length, ctx) = data_key_request(kms, &r, t)?;
    let out = kms.generate_data_key_without_plaintext(key, &ctx, length)?;
    t.key_arn = Some(out.key_arn.clone());
    ok(&wire::EncryptResponse {
        ciphertext_blob: B64.encode(&out.ciphertext_blob),
        key_id: &out.key_arn,
        encryption_algorithm: None,
    })
}

fn generate_random(r: wire::GenerateRandomRequest) -> R {
    if r.custom_key_store_id.is_some() || r.recipient.is_some() {
        return Err(KmsError::Unsupported(
            "CustomKeyStoreId and Recipient are not supported.".into(),
        )
        .into());
    }
    let n = r.number_of_bytes.ok_or_else(|| missing("NumberOfBytes"))?;
    let n = usize::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_DATA_KEY_LEN).contains(n))
        .ok_or_else(|| invalid("NumberOfBytes", "Member must have value between 1 and 1024"))?;
    let mut buf = Zeroizing::new(vec![0u8; n]);
    crate::secret::fill_random(&mut buf).map_err(|e| KmsError::Internal(e.to_string()))?;
    let pt = Zeroizing::new(B64.encode(buf.as_slice()));
    ok(&wire::PlaintextResponse {
        ciphertext_blob: None,
        key_id: None,
        plaintext: &pt,
        encryption_algorithm: None,
    })
}

// ---- rotation ----

fn enable_key_rotation(kms: &Kms, r: wire::EnableKeyRotationRequest, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let period = match r.rotation_period_in_days {
        Some(p) => Some(u32::try_from(p).map_err(|_| {
            invalid(
                "RotationPeriodInDays",
                "Member must have value between 90 and 2560",
            )
        })?),
        None => None,
    };
    t.key_arn = Some(kms.describe_key(key)?.arn);
    kms.enable_key_rotation(key, period)?;
    changed(t)
}

fn disable_key_rotation(kms: &Kms, r: wire::KeyOnly, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    t.key_arn = Some(kms.describe_key(key)?.arn);
    kms.disable_key_rotation(key)?;
    changed(t)
}

fn get_key_rotation_status(kms: &Kms, r: wire::KeyOnly, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let s = kms.key_rotation_status(key)?;
    t.key_arn = Some(s.key_arn.clone());
    ok(&wire::KeyRotationStatusResponse {
        key_id: &s.key_arn,
        key_rotation_enabled: s.enabled,
        rotation_period_in_days: s.period_days,
        next_rotation_date: s.next_rotation_ms.map(wire::secs),
    })
}

fn rotate_key_on_demand(kms: &Kms, r: wire::KeyOnly, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let m = kms.rotate_key_now(key)?;
    t.key_arn = Some(m.arn.clone());
    t.changed = true;
    ok(&wire::KeyIdResponse { key_id: &m.arn })
}

fn list_key_rotations(kms: &Kms, r: wire::KeyPaging, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let rotations = kms.list_key_rotations(key)?;
    t.key_arn = Some(kms.describe_key(key)?.arn);
    let (page, next) = page(
        rotations.into_iter().enumerate().collect(),
        |(i, _)| format!("{i:010}"),
        r.limit,
        MAX_PAGE,
        DEFAULT_PAGE,
        r.marker,
    )?;
    let rotations = page.iter().map(|(_, x)| x.into()).collect();
    ok(&Page::new(wire::Rotations { rotations }, next))
}

// ---- tags and policies ----

fn tag_resource(kms: &Kms, r: wire::TagResourceRequest, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let tags = r.tags.ok_or_else(|| missing("Tags"))?;
    t.key_arn = Some(kms.describe_key(key)?.arn);
    kms.tag_resource(key, tags.into_iter().map(Into::into).collect())?;
    changed(t)
}

fn untag_resource(kms: &Kms, r: wire::UntagResourceRequest, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let keys = r.tag_keys.ok_or_else(|| missing("TagKeys"))?;
    t.key_arn = Some(kms.describe_key(key)?.arn);
    kms.untag_resource(key, &keys)?;
    changed(t)
}

fn list_resource_tags(kms: &Kms, r: wire::KeyPaging, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let tags = kms.list_resource_tags(key)?;
    t.key_arn = Some(kms.describe_key(key)?.arn);
    let (page, next) = page(
        tags,
        |x| x.tag_key.clone(),
        r.limit,
        MAX_TAG_PAGE,
        MAX_TAG_PAGE,
        r.marker,
    )?;
    let tags = page.into_iter().map(Into::into).collect();
    ok(&Page::new(wire::Tags { tags }, next))
}

fn get_key_policy(kms: &Kms, r: wire::KeyPolicyRequest, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let p = kms.get_key_policy(key, r.policy_name.as_deref())?;
    t.key_arn = Some(kms.describe_key(key)?.arn);
    ok(&wire::GetKeyPolicyResponse {
        policy: &p,
        policy_name: crate::kms::DEFAULT_POLICY_NAME,
    })
}

fn put_key_policy(kms: &Kms, r: wire::KeyPolicyRequest, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let p = r.policy.as_deref().ok_or_else(|| missing("Policy"))?;
    t.key_arn = Some(kms.describe_key(key)?.arn);
    kms.put_key_policy(key, r.policy_name.as_deref(), p)?;
    changed(t)
}

fn list_key_policies(kms: &Kms, r: wire::KeyPaging, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let policy_names = kms.list_key_policies(key)?;
    t.key_arn = Some(kms.describe_key(key)?.arn);
    ok(&Page::new(wire::PolicyNames { policy_names }, None))
}

// ---- imported key material ----

fn get_parameters_for_import(
    kms: &Kms,
    r: wire::GetParametersForImportRequest,
    t: &mut Trail,
) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let alg = WrappingAlgorithm::parse(
        r.wrapping_algorithm
            .as_deref()
            .ok_or_else(|| missing("WrappingAlgorithm"))?,
    )?;
    let spec = WrappingKeySpec::parse(
        r.wrapping_key_spec
            .as_deref()
            .ok_or_else(|| missing("WrappingKeySpec"))?,
    )?;
    let p = kms.get_parameters_for_import(key, alg, spec)?;
    t.key_arn = Some(p.key_arn.clone());
    t.changed = true;
    ok(&wire::GetParametersForImportResponse {
        key_id: &p.key_arn,
        import_token: B64.encode(&p.import_token),
        public_key: B64.encode(&p.public_key),
        parameters_valid_to: wire::secs(p.parameters_valid_to_ms),
    })
}

fn import_key_material(kms: &Kms, r: wire::ImportKeyMaterialRequest, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let token = blob(r.import_token, "ImportToken")?;
    let material = blob(r.encrypted_key_material, "EncryptedKeyMaterial")?;
    let valid_to = match (r.expiration_model.as_deref(), r.valid_to) {
        (None | Some("KEY_MATERIAL_EXPIRES"), Some(v)) if v.is_finite() && v > 0.0 => {
            Some((v * 1000.0) as u64)
        }
        (Some("KEY_MATERIAL_EXPIRES"), _) => {
            return Err(KmsApiError::Validation(
                "A ValidTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES".into(),
            ));
        }
        (None, None) | (Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), None) => None,
        (Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), Some(_)) => {
            return Err(KmsApiError::Validation(
                "ValidTo must not be set if the ExpirationModel is \
                 KEY_MATERIAL_DOES_NOT_EXPIRE"
                    .into(),
            ));
        }
        (None, Some(_)) => {
            return Err(invalid("ValidTo", "Member must be a date in the future"));
        }
        (Some(_), _) => {
            return Err(invalid(
                "ExpirationModel",
                "Member must satisfy enum value set: [KEY_MATERIAL_EXPIRES, \
                 KEY_MATERIAL_DOES_NOT_EXPIRE]",
            ));
        }
    };
    let arn = kms.import_key_material(key, &token, &material, valid_to)?;
    t.changed = true;
    let out = ok(&wire::KeyIdResponse { key_id: &arn });
    t.key_arn = Some(arn);
    out
}

fn delete_imported_key_material(kms: &Kms, r: wire::KeyOnly, t: &mut Trail) -> R {
    let key = key_id(kms, &r.key_id, t)?;
    let arn = kms.delete_imported_key_material(key)?;
    t.changed = true;
    let out = ok(&wire::KeyIdResponse { key_id: &arn });
    t.key_arn = Some(arn);
    out
}

// ---- helpers ----

pub(super) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, KmsApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        KmsApiError::Serialization(format!(
            "The request body is not valid for this operation: {e}"
        ))
    })
}

/// A response body: `v` as JSON.
pub(super) fn ok<T: Serialize>(v: &T) -> R {
    serde_json::to_vec(v).map_err(|e| KmsError::Internal(e.to_string()).into())
}

/// The answer of an operation that changed state and returns nothing (an empty body, as AWS
/// answers).
fn changed(t: &mut Trail) -> R {
    t.changed = true;
    Ok(Vec::new())
}

/// The required `KeyId` (or `TargetKeyId`, ...), 1 to 2048 characters; recorded for the
/// audit line until the operation names the key's ARN.
fn key_id<'a>(kms: &Kms, k: &'a Option<String>, t: &mut Trail) -> Result<&'a str, KmsApiError> {
    let k = k.as_deref().ok_or_else(|| missing("KeyId"))?;
    if k.is_empty() || k.len() > MAX_KEY_ID_LEN {
        return Err(invalid(
            "KeyId",
            "Member must have length between 1 and 2048",
        ));
    }
    if t.key_arn.is_none() {
        t.key_arn = kms.arn_for_ref(k);
    }
    Ok(k)
}

/// A required base64 member.
fn blob(v: Option<String>, member: &str) -> Result<Vec<u8>, KmsApiError> {
    let s = v.ok_or_else(|| missing(member))?;
    B64.decode(s.as_bytes())
        .map_err(|_| KmsApiError::Serialization(format!("{member} is not valid base64")))
}

/// The key a blob names, for the audit line of a request that failed before decrypting.
fn blob_key_arn(kms: &Kms, ct: &[u8]) -> Option<String> {
    crate::kms::blob::parse(ct)
        .ok()
        .map(|p| kms.key_arn(&p.key_id))
}

fn check_algorithm(a: Option<&str>) -> Result<(), KmsApiError> {
    match a {
        None | Some(SYMMETRIC_DEFAULT) => Ok(()),
        Some("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE") => Err(KmsError::Unsupported(
            "Only SYMMETRIC_DEFAULT is supported with symmetric keys.".into(),
        )
        .into()),
        Some(_) => Err(invalid(
            "EncryptionAlgorithm",
            "Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, \
             RSAES_OAEP_SHA_256, SM2PKE]",
        )),
    }
}

fn data_key_length(spec: Option<&str>, bytes: Option<i64>) -> Result<DataKeyLength, KmsApiError> {
    match (spec, bytes) {
        (Some(_), Some(_)) => Err(KmsApiError::Validation(
            "Please specify either number of bytes or key spec, not both.".into(),
        )),
        (None, None) => Err(KmsApiError::Validation(
            "Please specify either number of bytes or key spec.".into(),
        )),
        (Some("AES_256"), None) => Ok(DataKeyLength::Aes256),
        (Some("AES_128"), None) => Ok(DataKeyLength::Aes128),
        (Some(_), None) => Err(invalid(
            "KeySpec",
            "Member must satisfy enum value set: [AES_256, AES_128]",
        )),
        (None, Some(n)) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_DATA_KEY_LEN).contains(n))
            .map(DataKeyLength::Bytes)
            .ok_or_else(|| invalid("NumberOfBytes", "Member must have value between 1 and 1024")),
    }
}

/// One page of `items` (sorted by `key`) after `marker`. Markers are opaque to clients:
/// base64 of the last key returned.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    limit: Option<i64>,
    max: usize,
    default: usize,
    marker: Option<String>,
) -> Result<(Vec<T>, Option<String>), KmsApiError> {
    let limit = match limit {
        None => default,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                invalid(
                    "Limit",
                    &format!("Member must have value between 1 and {max}"),
                )
            })?,
    };
    let after = match marker {
        None => None,
        Some(m) => {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(m.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(KmsError::InvalidMarker)?;
            Some(raw)
        }
    };
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|x| after.as_ref().is_none_or(|a| key(x) > *a))
        .collect();
    let truncated = rest.len() > limit;
    rest.truncate(limit);
    let next = if truncated {
        rest.last()
            .map(|x| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key(x)))
    } else {
        None
    };
    Ok((rest, next))
}
