//! KMS API authorization: each operation as its `kms:` action on the key (or alias, or `*`)
//! it names, decided before the operation runs.
//!
//! Key resources are decided by the key's policy with AWS's KMS rules ([`KeyGuard`]): the
//! default key policy delegates to the account, so the account root, and users whose identity
//! policies allow it, may use the key; a key policy that names a user or another account
//! grants directly. Operations without a key (`CreateKey`, `ListKeys`, `ListAliases`,
//! `GenerateRandom`) and alias resources have no resource policy and are decided by identity
//! policies alone, as in AWS. A key the request names that does not resolve is left to the
//! operation, which answers `NotFoundException`. Per AWS ("Authorization reference",
//! https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html):
//! `ReEncrypt` needs `kms:ReEncryptFrom` on the source key and `kms:ReEncryptTo` on the
//! destination; `CreateAlias`/`UpdateAlias`/`DeleteAlias` need the action on the alias and on
//! the key(s); `PutKeyPolicy` and `CreateKey` with a policy run AWS's lockout safety check.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use super::Op;
use super::error::KmsApiError;
use crate::iam::Principal;
use crate::iam::keys::{KeyGuard, Via, denied, fill_time};
use crate::iam::policy::{self, Context};
use crate::kms::{EncryptionContext, KmsError};

/// What one permission applies to.
enum Target<'a> {
    /// A key reference from the request (id, ARN, alias name or alias ARN).
    Key(&'a str),
    /// The key a ciphertext blob names.
    Blob(Vec<u8>),
    /// An alias name (`alias/x`).
    Alias(&'a str),
    /// No resource (`*`).
    None,
}

fn str_member<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

fn context_member(v: &Value, name: &str) -> Option<EncryptionContext> {
    let obj = v.get(name)?.as_object()?;
    Some(
        obj.iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect(),
    )
}

fn blob_member(v: &Value, name: &str) -> Option<Vec<u8>> {
    B64.decode(str_member(v, name)?).ok()
}

/// The permissions `op` needs: (action, target, encryption context).
fn needs<'a>(op: Op, v: &'a Value) -> Vec<(String, Target<'a>, Option<EncryptionContext>)> {
    let action = format!("kms:{}", op.name());
    let key = |name: &str| match str_member(v, name) {
        Some(k) => Target::Key(k),
        // Missing: the operation reports the validation error.
        None => Target::None,
    };
    match op {
        Op::CreateKey
        | Op::ListKeys
        | Op::GenerateRandom
        | Op::ListAliases
        | Op::ListRetirableGrants => vec![(action, Target::None, None)],
        // RetireGrant follows AWS's own rule (retiring principal, grantee, issuer).
        Op::RetireGrant => Vec::new(),
        Op::Decrypt => {
            let target = match (str_member(v, "KeyId"), blob_member(v, "CiphertextBlob")) {
                (_, Some(b)) => Target::Blob(b),
                (Some(k), None) => Target::Key(k),
                (None, None) => Target::None,
            };
            vec![(action, target, context_member(v, "EncryptionContext"))]
        }
        Op::ReEncrypt => {
            let src = match blob_member(v, "CiphertextBlob") {
                Some(b) => Target::Blob(b),
                None => Target::None,
            };
            vec![
                (
                    "kms:ReEncryptFrom".into(),
                    src,
                    context_member(v, "SourceEncryptionContext"),
                ),
                (
                    "kms:ReEncryptTo".into(),
                    key("DestinationKeyId"),
                    context_member(v, "DestinationEncryptionContext"),
                ),
            ]
        }
        Op::CreateAlias | Op::UpdateAlias => {
            let mut out = Vec::new();
            if let Some(a) = str_member(v, "AliasName") {
                out.push((action.clone(), Target::Alias(a), None));
                if op == Op::UpdateAlias {
                    // The key the alias points to now.
                    out.push((action.clone(), Target::Key(a), None));
                }
            }
            out.push((action, key("TargetKeyId"), None));
            out
        }
        Op::DeleteAlias => match str_member(v, "AliasName") {
            Some(a) => vec![
                (action.clone(), Target::Alias(a), None),
                (action, Target::Key(a), None),
            ],
            None => Vec::new(),
        },
        Op::Encrypt | Op::GenerateDataKey | Op::GenerateDataKeyWithoutPlaintext => {
            vec![(action, key("KeyId"), context_member(v, "EncryptionContext"))]
        }
        _ => vec![(action, key("KeyId"), None)],
    }
}

/// The condition keys an operation defines besides the context ones.
fn op_context(op: Op, v: &Value) -> Context {
    let mut ctx = Context::new();
    if let Some(alias) =
        str_member(v, "KeyId").filter(|k| k.starts_with("alias/") || k.contains(":alias/"))
    {
        ctx.insert(
            "kms:RequestAlias",
            alias.rsplit(':').next().unwrap_or(alias).to_string(),
        );
    }
    if let Some(b) = v
        .get("BypassPolicyLockoutSafetyCheck")
        .and_then(Value::as_bool)
    {
        ctx.insert("kms:BypassPolicyLockoutSafetyCheck", b.to_string());
    }
    if op == Op::CreateGrant {
        if let Some(ops) = v.get("Operations").and_then(Value::as_array) {
            ctx.insert_many(
                "kms:GrantOperations",
                ops.iter()
                    .filter_map(|o| o.as_str().map(str::to_string))
                    .collect(),
            );
        }
        for (member, key) in [
            ("GranteePrincipal", "kms:GranteePrincipal"),
            ("RetiringPrincipal", "kms:RetiringPrincipal"),
        ] {
            if let Some(p) = str_member(v, member) {
                ctx.insert(key, p.to_string());
            }
        }
        if let Some(c) = v.get("Constraints").and_then(Value::as_object) {
            for k in c.keys() {
                ctx.insert("kms:GrantConstraintType", k.clone());
            }
        }
    }
    if matches!(op, Op::ScheduleKeyDeletion)
        && let Some(d) = v.get("PendingWindowInDays").and_then(Value::as_i64)
    {
        ctx.insert("kms:ScheduleKeyDeletionPendingWindowInDays", d.to_string());
    }
    ctx
}

/// Decides every permission `op` needs for `principal`.
pub(crate) fn authorize(
    guard: &KeyGuard,
    principal: &Principal,
    op: Op,
    body: &[u8],
    base: &Context,
) -> Result<(), KmsApiError> {
    // A body that is not JSON is the operation's error to report.
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    let mut extra = base.clone();
    extra.extend(op_context(op, &v));
    for (action, target, ctx) in needs(op, &v) {
        let key = match target {
            Target::Key(k) => match guard.kms.key_access(k) {
                Ok(a) => a,
                Err(KmsError::NotFound(_)) | Err(KmsError::InvalidArgument(_)) => continue,
                Err(e) => return Err(e.into()),
            },
            Target::Blob(b) => match guard.kms.blob_key_access(&b) {
                Ok(Some(a)) => a,
                // The service key, or a blob that does not parse: the operation refuses it.
                Ok(None) | Err(_) => continue,
            },
            Target::Alias(a) => {
                let arn = guard.kms.alias_arn(a);
                identity_only(guard, principal, &action, &arn, &extra)?;
                continue;
            }
            Target::None => {
                identity_only(guard, principal, &action, "*", &extra)?;
                continue;
            }
        };
        guard.check(principal, &action, &key, Via::Direct, ctx.as_ref(), &extra)?;
    }
    if op == Op::PutKeyPolicy || op == Op::CreateKey {
        lockout_check(guard, principal, op, &v, &extra)?;
    }
    if op == Op::CreateKey && principal.account != guard.kms.account_id() {
        return Err(KmsError::Unsupported(format!(
            "This KMS holds the keys of account {} only; principals of other accounts use them \
             by key ARN where the key policy allows it.",
            guard.kms.account_id()
        ))
        .into());
    }
    Ok(())
}

/// Resources without a resource policy: the caller's identity decides (the account root may
/// do anything in its account).
fn identity_only(
    guard: &KeyGuard,
    principal: &Principal,
    action: &str,
    resource: &str,
    extra: &Context,
) -> Result<(), KmsApiError> {
    let mut ctx = extra.clone();
    fill_time(&mut ctx, guard.iam.clock_now());
    ctx.insert("kms:CallerAccount", principal.account.clone());
    let who = principal.as_policy();
    let req = policy::Request {
        principal: &who,
        action,
        resource,
        context: &ctx,
    };
    let identity: Vec<&policy::Policy> = principal.policies.iter().collect();
    let d = policy::decide(
        &req,
        &identity,
        None,
        guard.kms.account_id(),
        policy::Service::Iam,
    );
    if d.allowed {
        Ok(())
    } else {
        Err(denied(principal, action, resource, d.explicit_deny).into())
    }
}

/// Parses a key policy as KMS does: the grammar, KMS's and the global condition keys.
pub(crate) fn parse_key_policy(doc: &str) -> Result<policy::Policy, KmsError> {
    let p = policy::Policy::parse(
        doc,
        &policy::ParseOptions {
            kind: policy::PolicyKind::Resource,
            max_len: crate::iam::keys::MAX_KEY_POLICY_LEN,
        },
    )
    .map_err(|e| KmsError::MalformedPolicy(e.message))?;
    p.validate_condition_keys(&|k| policy::is_known_key(policy::Service::Kms, k))
        .map_err(|e| KmsError::MalformedPolicy(e.message))?;
    Ok(p)
}

/// AWS's policy lockout safety check: unless the request bypasses it, the new policy must let
/// the caller change the policy again.
fn lockout_check(
    guard: &KeyGuard,
    principal: &Principal,
    op: Op,
    v: &Value,
    extra: &Context,
) -> Result<(), KmsApiError> {
    let Some(doc) = str_member(v, "Policy") else {
        return Ok(());
    };
    parse_key_policy(doc)?;
    if v.get("BypassPolicyLockoutSafetyCheck")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return Ok(());
    }
    let key_arn = match (op, str_member(v, "KeyId")) {
        (Op::PutKeyPolicy, Some(k)) => match guard.kms.key_access(k) {
            Ok(a) => a.arn,
            Err(_) => return Ok(()),
        },
        // A new key: any key ARN of the account stands for it.
        _ => format!(
            "arn:aws:kms:{}:{}:key/00000000-0000-0000-0000-000000000000",
            guard.kms.region(),
            guard.kms.account_id()
        ),
    };
    let d = guard.decide(
        principal,
        "kms:PutKeyPolicy",
        &key_arn,
        doc,
        guard.kms.account_id(),
        Via::Direct,
        None,
        extra,
    )?;
    if d.allowed {
        Ok(())
    } else {
        Err(KmsError::MalformedPolicy(
            "The new key policy will not allow you to update the key policy in the future.".into(),
        )
        .into())
    }
}
