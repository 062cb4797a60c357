//! The grant operations of the KMS JSON API: CreateGrant, ListGrants, ListRetirableGrants,
//! RetireGrant and RevokeGrant. They need the caller (the issuing account of a new grant; who
//! may retire one), so they run here rather than in [`super::ops`].

use serde_json::Value;

use super::Op;
use super::error::{KmsApiError, invalid, missing};
use super::ops::{Trail, ok, parse};
use super::wire::{self, Page};
use crate::iam::Principal;
use crate::kms::grants::{GrantInfo, NewGrant, is_grant_token};
use crate::kms::{Kms, KmsError};

/// Most grants per page, and the default (AWS's).
const MAX_GRANT_PAGE: usize = 100;
const DEFAULT_GRANT_PAGE: usize = 50;
/// Most grant tokens a request may carry (AWS: 10).
pub const MAX_GRANT_TOKENS: usize = 10;

/// Grant tokens are accepted as AWS accepts them (at most ten, each one Coffer made); a grant
/// is in effect as soon as it exists, so they add nothing to the decision.
pub(crate) fn check_grant_tokens(body: &[u8]) -> Result<(), KmsApiError> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    let Some(tokens) = v.get("GrantTokens").and_then(Value::as_array) else {
        return Ok(());
    };
    if tokens.len() > MAX_GRANT_TOKENS {
        return Err(invalid(
            "GrantTokens",
            "Member must have length less than or equal to 10",
        ));
    }
    if tokens
        .iter()
        .any(|t| !t.as_str().is_some_and(is_grant_token))
    {
        return Err(KmsError::InvalidArgument("Invalid grant token".into()).into());
    }
    Ok(())
}

fn page(
    grants: Vec<GrantInfo>,
    limit: Option<i64>,
    marker: Option<String>,
) -> Result<Vec<u8>, KmsApiError> {
    let limit = match limit {
        None => DEFAULT_GRANT_PAGE,
        Some(l) if (1..=MAX_GRANT_PAGE as i64).contains(&l) => l as usize,
        Some(_) => {
            return Err(invalid("Limit", "Member must have value between 1 and 100"));
        }
    };
    let start = match marker {
        Some(m) => grants
            .iter()
            .position(|g| g.record.grant_id == m)
            .ok_or(KmsError::InvalidMarker)?,
        None => 0,
    };
    let rest = grants.get(start..).unwrap_or_default();
    let grants = rest.iter().take(limit).map(Into::into).collect();
    let next = rest.get(limit).map(|g| g.record.grant_id.clone());
    ok(&Page::new(wire::Grants { grants }, next))
}

/// Runs a grant operation for `principal` (authorization by policy was done before, except
/// RetireGrant's, which follows AWS's own rule here).
pub(crate) fn run(
    kms: &Kms,
    principal: &Principal,
    op: Op,
    body: &[u8],
    t: &mut Trail,
) -> Result<Vec<u8>, KmsApiError> {
    match op {
        Op::CreateGrant => create_grant(kms, principal, parse(body)?, t),
        Op::ListGrants => list_grants(kms, parse(body)?, t),
        Op::ListRetirableGrants => list_retirable_grants(kms, parse(body)?),
        Op::RetireGrant => retire_grant(kms, principal, parse(body)?, t),
        Op::RevokeGrant => revoke_grant(kms, parse(body)?, t),
        _ => Err(KmsError::Internal(format!("{} is not a grant operation", op.name())).into()),
    }
}

fn create_grant(
    kms: &Kms,
    principal: &Principal,
    r: wire::CreateGrantRequest,
    t: &mut Trail,
) -> Result<Vec<u8>, KmsApiError> {
    let key = r.key_id.ok_or_else(|| missing("KeyId"))?;
    let grantee = r
        .grantee_principal
        .ok_or_else(|| missing("GranteePrincipal"))?;
    let c = r.constraints.unwrap_or_default();
    let arn = kms.describe_key(&key)?.arn;
    t.key_arn = Some(arn.clone());
    if r.dry_run {
        return Err(KmsApiError::DryRun(
            "The request would have succeeded, but the DryRun flag is set.".into(),
        ));
    }
    let (id, token, _) = kms.create_grant(
        &arn,
        &crate::iam::root_arn(&principal.account),
        NewGrant {
            name: r.name,
            grantee_principal: grantee,
            retiring_principal: r.retiring_principal,
            operations: r.operations,
            encryption_context_subset: c.encryption_context_subset,
            encryption_context_equals: c.encryption_context_equals,
        },
    )?;
    t.changed = true;
    ok(&wire::CreateGrantResponse {
        grant_id: &id,
        grant_token: &token,
    })
}

fn list_grants(
    kms: &Kms,
    r: wire::ListGrantsRequest,
    t: &mut Trail,
) -> Result<Vec<u8>, KmsApiError> {
    let key = r.key_id.ok_or_else(|| missing("KeyId"))?;
    let mut grants = kms.list_grants(&key)?;
    t.key_arn = grants
        .first()
        .map(|g| g.key_arn.clone())
        .or_else(|| kms.arn_for_ref(&key));
    if let Some(id) = &r.grant_id {
        grants.retain(|g| &g.record.grant_id == id);
    }
    if let Some(p) = &r.grantee_principal {
        grants.retain(|g| &g.record.grantee_principal == p);
    }
    page(grants, r.limit, r.marker)
}

fn list_retirable_grants(kms: &Kms, r: wire::ListGrantsRequest) -> Result<Vec<u8>, KmsApiError> {
    let who = r
        .retiring_principal
        .ok_or_else(|| missing("RetiringPrincipal"))?;
    page(kms.list_retirable_grants(&who)?, r.limit, r.marker)
}

fn retire_grant(
    kms: &Kms,
    principal: &Principal,
    r: wire::RetireGrantRequest,
    t: &mut Trail,
) -> Result<Vec<u8>, KmsApiError> {
    let g = match (&r.grant_token, &r.key_id, &r.grant_id) {
        (Some(tok), _, _) => kms.grant_by_token(tok)?,
        (None, Some(k), Some(id)) => kms.grant(k, id)?,
        _ => {
            return Err(KmsError::InvalidArgument(
                "RetireGrant needs a GrantToken, or a KeyId and a GrantId".into(),
            )
            .into());
        }
    };
    t.key_arn = Some(g.key_arn.clone());
    // AWS: the retiring principal, the grantee when the grant lists RetireGrant, or the
    // account that issued it may retire a grant.
    let rec = &g.record;
    let may = rec.retiring_principal.as_deref() == Some(principal.arn.as_str())
        || (rec.grantee_principal == principal.arn
            && rec.operations.iter().any(|o| o == "RetireGrant"))
        || (principal.kind == crate::iam::PrincipalKind::Root
            && rec.issuing_account == principal.arn);
    if !may {
        return Err(
            crate::iam::keys::denied(principal, "kms:RetireGrant", &g.key_arn, false).into(),
        );
    }
    kms.delete_grant(&g.key_arn, &rec.grant_id)?;
    t.changed = true;
    ok(&wire::Empty {})
}

fn revoke_grant(
    kms: &Kms,
    r: wire::RetireGrantRequest,
    t: &mut Trail,
) -> Result<Vec<u8>, KmsApiError> {
    let key = r.key_id.ok_or_else(|| missing("KeyId"))?;
    let id = r.grant_id.ok_or_else(|| missing("GrantId"))?;
    let arn = kms.describe_key(&key)?.arn;
    t.key_arn = Some(arn.clone());
    kms.delete_grant(&arn, &id)?;
    t.changed = true;
    ok(&wire::Empty {})
}
