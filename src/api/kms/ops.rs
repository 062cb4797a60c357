//! One function per operation: JSON request members in (AWS's names and validation), a core
//! call, JSON response members out (key ARNs, base64 blobs, epoch-second dates).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::Op;
use super::error::{KmsApiError, invalid, missing};
use crate::kms::{
    DataKeyLength, EncryptionContext, KeyOrigin, Kms, KmsError, KmsTag, MAX_DATA_KEY_LEN,
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

const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
/// Most aliases per `ListAliases` page, and the default page (AWS's limits); other lists
/// allow 1000 (tags: 50).
const MAX_ALIAS_PAGE: usize = 100;
const DEFAULT_ALIAS_PAGE: usize = 50;
const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 100;
const MAX_TAG_PAGE: usize = 50;
/// Longest `KeyId` member (AWS's limit).
const MAX_KEY_ID_LEN: usize = 2048;

pub fn run(kms: &Kms, op: Op, body: &[u8], t: &mut Trail) -> R {
    match op {
        Op::CreateKey => create_key(kms, parse(body)?, t),
        Op::DescribeKey => {
            let r: KeyOnly = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let m = kms.describe_key(key)?;
            t.key_arn = Some(m.arn.clone());
            ok(json!({ "KeyMetadata": m }))
        }
        Op::ListKeys => {
            let r: Paging = parse(body)?;
            let keys = kms.list_keys()?;
            let (page, next) = page(
                keys,
                |k| k.key_id.clone(),
                r.limit,
                MAX_PAGE,
                DEFAULT_PAGE,
                r.marker,
            )?;
            let keys: Vec<Value> = page
                .iter()
                .map(|k| json!({"KeyId": k.key_id, "KeyArn": k.arn}))
                .collect();
            ok(paged(json!({ "Keys": keys }), next))
        }
        Op::UpdateKeyDescription => {
            let r: UpdateDescription = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let d = r.description.ok_or_else(|| missing("Description"))?;
            kms.update_key_description(key, &d)?;
            t.key_arn = Some(kms.describe_key(key)?.arn);
            changed(t)
        }
        Op::EnableKey | Op::DisableKey => {
            let r: KeyOnly = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            t.key_arn = Some(kms.describe_key(key)?.arn);
            if op == Op::EnableKey {
                kms.enable_key(key)?;
            } else {
                kms.disable_key(key)?;
            }
            changed(t)
        }
        Op::ScheduleKeyDeletion => {
            let r: ScheduleDeletion = parse(body)?;
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
            ok(json!({
                "KeyId": m.arn,
                "DeletionDate": m.deletion_date,
                "KeyState": m.key_state,
                "PendingWindowInDays": m.pending_deletion_window_in_days,
            }))
        }
        Op::CancelKeyDeletion => {
            let r: KeyOnly = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let arn = kms.cancel_key_deletion(key)?;
            t.key_arn = Some(arn.clone());
            t.changed = true;
            ok(json!({ "KeyId": arn }))
        }
        Op::CreateAlias | Op::UpdateAlias => {
            let r: AliasReq = parse(body)?;
            let name = r.alias_name.ok_or_else(|| missing("AliasName"))?;
            let target = key_id(kms, &r.target_key_id, t)?;
            if op == Op::CreateAlias {
                kms.create_alias(&name, target)?;
            } else {
                kms.update_alias(&name, target)?;
            }
            t.key_arn = Some(kms.describe_key(target)?.arn);
            changed(t)
        }
        Op::DeleteAlias => {
            let r: AliasReq = parse(body)?;
            let name = r.alias_name.ok_or_else(|| missing("AliasName"))?;
            t.key_arn = Some(kms.alias_arn(&name));
            kms.delete_alias(&name)?;
            changed(t)
        }
        Op::ListAliases => {
            let r: ListAliases = parse(body)?;
            let filter = match &r.key_id {
                Some(k) => Some(key_id(kms, &Some(k.clone()), t)?.to_string()),
                None => None,
            };
            let aliases = kms.list_aliases(filter.as_deref())?;
            let (page, next) = page(
                aliases,
                |a| a.alias_name.clone(),
                r.limit,
                MAX_ALIAS_PAGE,
                DEFAULT_ALIAS_PAGE,
                r.marker,
            )?;
            ok(paged(json!({ "Aliases": page }), next))
        }
        Op::Encrypt => {
            let r: EncryptReq = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            check_algorithm(r.encryption_algorithm.as_deref())?;
            let pt = Zeroizing::new(blob(r.plaintext, "Plaintext")?);
            let ctx = r.encryption_context.unwrap_or_default();
            t.context = Some(ctx.clone());
            let out = kms.encrypt(key, &pt, &ctx)?;
            t.key_arn = Some(out.key_arn.clone());
            ok(json!({
                "CiphertextBlob": B64.encode(&out.ciphertext_blob),
                "KeyId": out.key_arn,
                "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
            }))
        }
        Op::Decrypt => {
            let r: DecryptReq = parse(body)?;
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
            ok_secret(&SecretOut {
                ciphertext_blob: None,
                key_id: Some(&out.key_arn),
                plaintext: &pt,
                encryption_algorithm: Some(SYMMETRIC_DEFAULT),
            })
        }
        Op::ReEncrypt => {
            let r: ReEncryptReq = parse(body)?;
            check_algorithm(r.source_encryption_algorithm.as_deref())?;
            check_algorithm(r.destination_encryption_algorithm.as_deref())?;
            let ct = blob(r.ciphertext_blob, "CiphertextBlob")?;
            let dest = key_id(kms, &r.destination_key_id, t)?.to_string();
            let src_key = match &r.source_key_id {
                Some(_) => Some(key_id(kms, &r.source_key_id, t)?.to_string()),
                None => None,
            };
            let src_ctx = r.source_encryption_context.unwrap_or_default();
            let dst_ctx = r.destination_encryption_context.unwrap_or_default();
            t.context = Some(dst_ctx.clone());
            t.key_arn = blob_key_arn(kms, &ct);
            let plain = kms.decrypt(&ct, &src_ctx, src_key.as_deref())?;
            let out = kms.encrypt(&dest, plain.plaintext.expose(), &dst_ctx)?;
            t.key_arn = Some(out.key_arn.clone());
            ok(json!({
                "CiphertextBlob": B64.encode(&out.ciphertext_blob),
                "SourceKeyId": plain.key_arn,
                "KeyId": out.key_arn,
                "SourceEncryptionAlgorithm": SYMMETRIC_DEFAULT,
                "DestinationEncryptionAlgorithm": SYMMETRIC_DEFAULT,
            }))
        }
        Op::GenerateDataKey | Op::GenerateDataKeyWithoutPlaintext => {
            let r: DataKeyReq = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            if r.recipient.is_some() {
                return Err(KmsError::Unsupported("Recipient is not supported.".into()).into());
            }
            let length = data_key_length(r.key_spec.as_deref(), r.number_of_bytes)?;
            let ctx = r.encryption_context.unwrap_or_default();
            t.context = Some(ctx.clone());
            if op == Op::GenerateDataKey {
                let out = kms.generate_data_key_with(key, &ctx, length)?;
                t.key_arn = Some(out.key_arn.clone());
                let pt = Zeroizing::new(B64.encode(out.plaintext.expose()));
                ok_secret(&SecretOut {
                    ciphertext_blob: Some(&B64.encode(&out.ciphertext_blob)),
                    key_id: Some(&out.key_arn),
                    plaintext: &pt,
                    encryption_algorithm: None,
                })
            } else {
                let out = kms.generate_data_key_without_plaintext(key, &ctx, length)?;
                t.key_arn = Some(out.key_arn.clone());
                ok(json!({
                    "CiphertextBlob": B64.encode(&out.ciphertext_blob),
                    "KeyId": out.key_arn,
                }))
            }
        }
        Op::GenerateRandom => {
            let r: RandomReq = parse(body)?;
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
                .ok_or_else(|| {
                    invalid("NumberOfBytes", "Member must have value between 1 and 1024")
                })?;
            let mut buf = Zeroizing::new(vec![0u8; n]);
            crate::secret::fill_random(&mut buf).map_err(|e| KmsError::Internal(e.to_string()))?;
            let pt = Zeroizing::new(B64.encode(buf.as_slice()));
            ok_secret(&SecretOut {
                ciphertext_blob: None,
                key_id: None,
                plaintext: &pt,
                encryption_algorithm: None,
            })
        }
        Op::EnableKeyRotation => {
            let r: RotationReq = parse(body)?;
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
        Op::DisableKeyRotation => {
            let r: KeyOnly = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            t.key_arn = Some(kms.describe_key(key)?.arn);
            kms.disable_key_rotation(key)?;
            changed(t)
        }
        Op::GetKeyRotationStatus => {
            let r: KeyOnly = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let s = kms.key_rotation_status(key)?;
            t.key_arn = Some(s.key_arn.clone());
            let mut v = json!({
                "KeyId": s.key_arn,
                "KeyRotationEnabled": s.enabled,
            });
            if let Some(p) = s.period_days {
                v["RotationPeriodInDays"] = json!(p);
            }
            if let Some(n) = s.next_rotation_date {
                v["NextRotationDate"] = json!(n);
            }
            ok(v)
        }
        Op::RotateKeyOnDemand => {
            let r: KeyOnly = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let m = kms.rotate_key_now(key)?;
            t.key_arn = Some(m.arn.clone());
            t.changed = true;
            ok(json!({ "KeyId": m.arn }))
        }
        Op::ListKeyRotations => {
            let r: KeyPaging = parse(body)?;
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
            let items: Vec<Value> = page
                .iter()
                .map(|(_, x)| {
                    json!({
                        "KeyId": x.key_arn,
                        "RotationDate": x.rotation_date,
                        "RotationType": x.rotation_type,
                    })
                })
                .collect();
            ok(paged(json!({ "Rotations": items }), next))
        }
        Op::TagResource => {
            let r: TagReq = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let tags = r.tags.ok_or_else(|| missing("Tags"))?;
            t.key_arn = Some(kms.describe_key(key)?.arn);
            kms.tag_resource(key, tags)?;
            changed(t)
        }
        Op::UntagResource => {
            let r: UntagReq = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let keys = r.tag_keys.ok_or_else(|| missing("TagKeys"))?;
            t.key_arn = Some(kms.describe_key(key)?.arn);
            kms.untag_resource(key, &keys)?;
            changed(t)
        }
        Op::ListResourceTags => {
            let r: KeyPaging = parse(body)?;
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
            ok(paged(json!({ "Tags": page }), next))
        }
        Op::GetKeyPolicy => {
            let r: PolicyReq = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let p = kms.get_key_policy(key, r.policy_name.as_deref())?;
            t.key_arn = Some(kms.describe_key(key)?.arn);
            ok(json!({ "Policy": p, "PolicyName": "default" }))
        }
        Op::PutKeyPolicy => {
            let r: PolicyReq = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let p = r.policy.ok_or_else(|| missing("Policy"))?;
            t.key_arn = Some(kms.describe_key(key)?.arn);
            kms.put_key_policy(key, r.policy_name.as_deref(), &p)?;
            changed(t)
        }
        Op::ListKeyPolicies => {
            let r: KeyPaging = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let names = kms.list_key_policies(key)?;
            t.key_arn = Some(kms.describe_key(key)?.arn);
            ok(json!({ "PolicyNames": names, "Truncated": false }))
        }
        Op::GetParametersForImport => {
            let r: ImportParamsReq = parse(body)?;
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
            ok(json!({
                "KeyId": p.key_arn,
                "ImportToken": B64.encode(&p.import_token),
                "PublicKey": B64.encode(&p.public_key),
                "ParametersValidTo": p.parameters_valid_to,
            }))
        }
        Op::ImportKeyMaterial => {
            let r: ImportReq = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let token = blob(r.import_token, "ImportToken")?;
            let material = blob(r.encrypted_key_material, "EncryptedKeyMaterial")?;
            let valid_to = match (r.expiration_model.as_deref(), r.valid_to) {
                (None | Some("KEY_MATERIAL_EXPIRES"), Some(v)) if v.is_finite() && v > 0.0 => {
                    Some((v * 1000.0) as u64)
                }
                (Some("KEY_MATERIAL_EXPIRES"), _) => {
                    return Err(KmsApiError::Validation(
                        "A ValidTo date must be set if the ExpirationModel is \
                         KEY_MATERIAL_EXPIRES"
                            .into(),
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
            t.key_arn = Some(arn.clone());
            t.changed = true;
            ok(json!({ "KeyId": arn }))
        }
        Op::DeleteImportedKeyMaterial => {
            let r: KeyOnly = parse(body)?;
            let key = key_id(kms, &r.key_id, t)?;
            let arn = kms.delete_imported_key_material(key)?;
            t.key_arn = Some(arn.clone());
            t.changed = true;
            ok(json!({ "KeyId": arn }))
        }
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

fn create_key(kms: &Kms, r: CreateKeyReq, t: &mut Trail) -> R {
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
    let m = kms.create_key_with_policy(
        r.description.as_deref().unwrap_or(""),
        r.tags.unwrap_or_default(),
        origin,
        r.policy,
    )?;
    t.key_arn = Some(m.arn.clone());
    t.changed = true;
    ok(json!({ "KeyMetadata": m }))
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

pub(super) fn ok(v: Value) -> R {
    serde_json::to_vec(&v).map_err(|e| KmsError::Internal(e.to_string()).into())
}

/// A response that carries a plaintext (Decrypt, GenerateDataKey, GenerateRandom). It borrows
/// the base64 plaintext from a zeroizing buffer and is encoded straight into the response body,
/// so no other copy of the plaintext is left behind in a `serde_json::Value`. (The response
/// body itself is handed to hyper, which does not zeroize; it lives only until sent.)
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct SecretOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ciphertext_blob: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    plaintext: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_algorithm: Option<&'a str>,
}

fn ok_secret(v: &SecretOut<'_>) -> R {
    serde_json::to_vec(v).map_err(|e| KmsError::Internal(e.to_string()).into())
}

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

fn paged(mut v: Value, next: Option<String>) -> Value {
    v["Truncated"] = json!(next.is_some());
    if let Some(n) = next {
        v["NextMarker"] = json!(n);
    }
    v
}

// ---- request members (AWS's names; unknown members are ignored, as AWS does) ----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyOnly {
    key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Paging {
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyPaging {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListAliases {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateKeyReq {
    description: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    origin: Option<String>,
    tags: Option<Vec<KmsTag>>,
    policy: Option<String>,
    multi_region: Option<bool>,
    custom_key_store_id: Option<String>,
    xks_key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateDescription {
    key_id: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleDeletion {
    key_id: Option<String>,
    pending_window_in_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasReq {
    alias_name: Option<String>,
    target_key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptReq {
    key_id: Option<String>,
    plaintext: Option<String>,
    encryption_context: Option<EncryptionContext>,
    encryption_algorithm: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptReq {
    key_id: Option<String>,
    ciphertext_blob: Option<String>,
    encryption_context: Option<EncryptionContext>,
    encryption_algorithm: Option<String>,
    recipient: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncryptReq {
    ciphertext_blob: Option<String>,
    source_key_id: Option<String>,
    source_encryption_context: Option<EncryptionContext>,
    source_encryption_algorithm: Option<String>,
    destination_key_id: Option<String>,
    destination_encryption_context: Option<EncryptionContext>,
    destination_encryption_algorithm: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyReq {
    key_id: Option<String>,
    key_spec: Option<String>,
    number_of_bytes: Option<i64>,
    encryption_context: Option<EncryptionContext>,
    recipient: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RandomReq {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
    recipient: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RotationReq {
    key_id: Option<String>,
    rotation_period_in_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagReq {
    key_id: Option<String>,
    tags: Option<Vec<KmsTag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagReq {
    key_id: Option<String>,
    tag_keys: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyReq {
    key_id: Option<String>,
    policy_name: Option<String>,
    policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImportParamsReq {
    key_id: Option<String>,
    wrapping_algorithm: Option<String>,
    wrapping_key_spec: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImportReq {
    key_id: Option<String>,
    import_token: Option<String>,
    encrypted_key_material: Option<String>,
    valid_to: Option<f64>,
    expiration_model: Option<String>,
}
