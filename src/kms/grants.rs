//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant, and what a
//! grant allows.
//!
//! A grant lets its grantee principal perform the listed operations with one key, optionally
//! only for encryption contexts that contain (`EncryptionContextSubset`) or equal
//! (`EncryptionContextEquals`) the constraint's pairs. Grants live in the key's record, so they
//! are as durable as the key and are gone with it. They take effect at once: Coffer is one
//! node, so the eventual consistency AWS bridges with grant tokens does not arise; a grant
//! token is still returned (and accepted wherever AWS accepts `GrantTokens`) so clients written
//! for AWS work unchanged. Who may create, list, retire and revoke grants is decided by the
//! caller's policies and grants (`api::kms::authz`); this module owns the records and the
//! matching ([`Kms::grant_allows`]). (KMS Developer Guide, "Grants in AWS KMS".)

use std::collections::BTreeMap;

use super::store::{GrantRecord, KeyState};
use super::{EncryptionContext, Kms, KmsError};

/// Grants one key may have (AWS's quota: 50,000; a record holds them all, so Coffer keeps the
/// number modest).
pub const MAX_GRANTS_PER_KEY: usize = 1_000;
/// Longest grant name (AWS: 256).
pub const MAX_GRANT_NAME_LEN: usize = 256;

/// The operations a grant may list (AWS's `GrantOperation` values for symmetric keys, and the
/// asymmetric and HMAC ones it accepts so grants written for AWS parse).
pub const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// Operations that take an encryption context (the only ones a constraint may apply to).
const CONTEXT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "CreateGrant",
    "RetireGrant",
];

/// What CreateGrant asks for.
#[derive(Debug, Clone, Default)]
pub struct NewGrant {
    pub name: Option<String>,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    pub operations: Vec<String>,
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
}

/// A grant as ListGrants shows it.
#[derive(Debug, Clone)]
pub struct GrantInfo {
    pub key_arn: String,
    pub record: GrantRecord,
}

fn check_principal(member: &str, arn: &str) -> Result<(), KmsError> {
    let ok = arn.starts_with("arn:aws:iam::")
        && arn
            .split(':')
            .nth(4)
            .is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        && arn.split(':').nth(5).is_some_and(|r| !r.is_empty());
    if ok || arn.ends_with(".amazonaws.com") {
        Ok(())
    } else {
        Err(KmsError::InvalidArgument(format!(
            "{member} is not a valid principal ARN: {}",
            arn.chars().take(128).collect::<String>()
        )))
    }
}

impl Kms {
    /// `CreateGrant`: returns (grant id, grant token). `issuer`: the caller's account root ARN.
    /// A grant with the same name, grantee, retiring principal, operations and constraints as
    /// an existing one returns that one, as AWS does.
    pub fn create_grant(
        &self,
        key: &str,
        issuer: &str,
        g: NewGrant,
    ) -> Result<(String, String, String), KmsError> {
        check_principal("GranteePrincipal", &g.grantee_principal)?;
        if let Some(r) = &g.retiring_principal {
            check_principal("RetiringPrincipal", r)?;
        }
        if g.operations.is_empty() {
            return Err(KmsError::InvalidArgument(
                "Operations must name at least one operation".into(),
            ));
        }
        for op in &g.operations {
            if !GRANT_OPERATIONS.contains(&op.as_str()) {
                return Err(KmsError::InvalidArgument(format!(
                    "Value '{}' at 'operations' failed to satisfy constraint: Member must \
                     satisfy enum value set: [{}]",
                    op.chars().take(64).collect::<String>(),
                    GRANT_OPERATIONS.join(", ")
                )));
            }
        }
        if g.encryption_context_subset.is_some() && g.encryption_context_equals.is_some() {
            return Err(KmsError::InvalidArgument(
                "Constraints may name EncryptionContextSubset or EncryptionContextEquals, not both"
                    .into(),
            ));
        }
        let constrained =
            g.encryption_context_subset.is_some() || g.encryption_context_equals.is_some();
        if constrained
            && g.operations
                .iter()
                .any(|o| !CONTEXT_OPERATIONS.contains(&o.as_str()))
        {
            return Err(KmsError::InvalidArgument(
                "Encryption context constraints apply only to cryptographic operations that \
                 take an encryption context"
                    .into(),
            ));
        }
        if let Some(n) = &g.name
            && (n.is_empty() || n.chars().count() > MAX_GRANT_NAME_LEN)
        {
            return Err(KmsError::InvalidArgument(format!(
                "Name must be 1 to {MAX_GRANT_NAME_LEN} characters"
            )));
        }
        let rec = self.resolve_named(key)?;
        if rec.state == KeyState::PendingDeletion {
            return Err(super::validate::pending_deletion(&rec.arn));
        }
        let mut id_bytes = [0u8; 32];
        crate::secret::fill_random(&mut id_bytes).map_err(|e| KmsError::Internal(e.to_string()))?;
        let fresh = GrantRecord {
            grant_id: hex::encode(id_bytes),
            name: g.name,
            grantee_principal: g.grantee_principal,
            retiring_principal: g.retiring_principal,
            issuing_account: issuer.to_string(),
            operations: g.operations,
            encryption_context_subset: g.encryption_context_subset,
            encryption_context_equals: g.encryption_context_equals,
            created_ms: self.now_ms(),
        };
        let mut chosen = None;
        let arn = rec.arn.clone();
        self.tables.update_key(&rec.id()?, |r| {
            let same = r.grants.iter().find(|e| {
                e.name.is_some()
                    && e.name == fresh.name
                    && e.grantee_principal == fresh.grantee_principal
                    && e.retiring_principal == fresh.retiring_principal
                    && e.operations == fresh.operations
                    && e.encryption_context_subset == fresh.encryption_context_subset
                    && e.encryption_context_equals == fresh.encryption_context_equals
            });
            if let Some(e) = same {
                chosen = Some(e.grant_id.clone());
                return Ok(());
            }
            if r.grants.len() >= MAX_GRANTS_PER_KEY {
                return Err(KmsError::LimitExceeded(format!(
                    "A key may have at most {MAX_GRANTS_PER_KEY} grants"
                )));
            }
            r.grants.push(fresh.clone());
            chosen = Some(fresh.grant_id.clone());
            Ok(())
        })?;
        let id = chosen.ok_or_else(|| KmsError::Internal("no grant id".into()))?;
        Ok((id.clone(), grant_token(&id), arn))
    }

    /// `ListGrants` of one key, oldest first.
    pub fn list_grants(&self, key: &str) -> Result<Vec<GrantInfo>, KmsError> {
        let rec = self.resolve_named(key)?;
        Ok(rec
            .grants
            .iter()
            .map(|g| GrantInfo {
                key_arn: rec.arn.clone(),
                record: g.clone(),
            })
            .collect())
    }

    /// `ListRetirableGrants`: every grant whose retiring principal is `principal`.
    pub fn list_retirable_grants(&self, principal: &str) -> Result<Vec<GrantInfo>, KmsError> {
        let mut out = Vec::new();
        for rec in self.tables.all_keys()? {
            for g in &rec.grants {
                if g.retiring_principal.as_deref() == Some(principal) {
                    out.push(GrantInfo {
                        key_arn: rec.arn.clone(),
                        record: g.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The grant a `GrantToken` names, with its key's ARN.
    pub fn grant_by_token(&self, token: &str) -> Result<GrantInfo, KmsError> {
        let id = grant_id_of_token(token)
            .ok_or_else(|| KmsError::InvalidArgument("Invalid grant token".into()))?;
        for rec in self.tables.all_keys()? {
            if let Some(g) = rec.grants.iter().find(|g| g.grant_id == id) {
                return Ok(GrantInfo {
                    key_arn: rec.arn.clone(),
                    record: g.clone(),
                });
            }
        }
        Err(KmsError::NotFound("Grant not found".into()))
    }

    /// The grant `grant_id` of `key`.
    pub fn grant(&self, key: &str, grant_id: &str) -> Result<GrantInfo, KmsError> {
        self.list_grants(key)?
            .into_iter()
            .find(|g| g.record.grant_id == grant_id)
            .ok_or_else(|| KmsError::NotFound(format!("Grant ID {grant_id} not found")))
    }

    /// `RetireGrant` / `RevokeGrant`: removes the grant (authorization is the caller's).
    pub fn delete_grant(&self, key_arn: &str, grant_id: &str) -> Result<(), KmsError> {
        let rec = self.resolve_named(key_arn)?;
        let mut found = false;
        self.tables.update_key(&rec.id()?, |r| {
            let before = r.grants.len();
            r.grants.retain(|g| g.grant_id != grant_id);
            found = r.grants.len() != before;
            Ok(())
        })?;
        if found {
            Ok(())
        } else {
            Err(KmsError::NotFound(format!("Grant ID {grant_id} not found")))
        }
    }

    /// Whether a grant of `key_arn` lets `principal_arn` perform `operation` (`Decrypt`) with
    /// `context`.
    pub fn grant_allows(
        &self,
        key_arn: &str,
        principal_arn: &str,
        operation: &str,
        context: Option<&EncryptionContext>,
    ) -> bool {
        let Ok(rec) = self.resolve_named(key_arn) else {
            return false;
        };
        rec.grants.iter().any(|g| {
            g.grantee_principal == principal_arn
                && g.operations.iter().any(|o| o == operation)
                && constraints_hold(g, context)
        })
    }
}

/// The grant's encryption context constraint against the request's context.
fn constraints_hold(g: &GrantRecord, context: Option<&EncryptionContext>) -> bool {
    let empty = EncryptionContext::new();
    let ctx = context.unwrap_or(&empty);
    if let Some(eq) = &g.encryption_context_equals {
        return ctx == eq;
    }
    if let Some(sub) = &g.encryption_context_subset {
        return sub.iter().all(|(k, v)| ctx.get(k) == Some(v));
    }
    true
}

/// An opaque grant token: the grant id with a version prefix, base64url. It carries no
/// authority of its own (the grant is in effect already); it identifies the grant for
/// RetireGrant.
fn grant_token(grant_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("coffer-grant-v1:{grant_id}"))
}

fn grant_id_of_token(token: &str) -> Option<String> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.strip_prefix("coffer-grant-v1:").map(str::to_string)
}

/// Whether `token` is one Coffer made (GrantTokens members are checked, never required).
pub fn is_grant_token(token: &str) -> bool {
    grant_id_of_token(token).is_some()
}
