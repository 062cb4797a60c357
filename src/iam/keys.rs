//! KMS key access: the key policy (and, where it enables them, the caller's identity policies)
//! decides every use of a key, whether the caller calls the KMS API or S3 uses the key on the
//! caller's behalf.
//!
//! [`KeyGuard::check`] is the one decision point: it fills the KMS condition keys
//! (`kms:CallerAccount`, `kms:ViaService`, `kms:EncryptionContext:*`,
//! `kms:EncryptionContextKeys`, ...), evaluates with AWS's KMS rules ([`policy::decide`] with
//! [`policy::Service::Kms`]: no key policy allow, no access; identity policies count only where
//! the key policy delegates to the account) and answers AWS's `AccessDeniedException` message,
//! which names the principal, the action and the key.
//!
//! [`GovernedKeys`] is the [`KeyProvider`] S3 uses: before a data key is generated it asks for
//! `kms:GenerateDataKey`, before one is unwrapped for `kms:Decrypt`, for the principal of the
//! current request (the task-local caller of [`crate::kms::audit`]) with
//! `kms:ViaService = s3.REGION.amazonaws.com` and the object's encryption context. SSE-S3's
//! service key needs no permission. Outside a request (no principal recorded: start-up,
//! `coffer verify`, unit tests of the service) nothing is checked: only the protocol layers
//! take requests from callers, and both record the principal before anything else runs.

use std::sync::Arc;

use super::policy::{self, Context, Decision, PolicyKind, Request};
use super::{Iam, PolicyCache, Principal};
use crate::kms::{
    DecryptedDataKey, EncryptionContext, GeneratedDataKey, KeyAccess, KeyProvider, KeyRef, Kms,
    KmsError,
};

/// Largest key policy (AWS: 32 KiB).
pub const MAX_KEY_POLICY_LEN: usize = crate::kms::MAX_POLICY_LEN;

/// Who asks for the key use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The KMS API.
    Direct,
    /// S3, on the caller's behalf.
    S3,
}

/// The decision point for key uses.
pub struct KeyGuard {
    pub kms: Arc<Kms>,
    pub iam: Arc<Iam>,
    region: String,
    cache: PolicyCache,
}

impl KeyGuard {
    pub fn new(kms: Arc<Kms>, iam: Arc<Iam>, region: &str) -> KeyGuard {
        KeyGuard {
            kms,
            iam,
            region: region.to_string(),
            cache: PolicyCache::new(policy::ParseOptions {
                kind: PolicyKind::Resource,
                max_len: MAX_KEY_POLICY_LEN,
            }),
        }
    }

    /// `kms:ViaService` for S3 in this region.
    pub fn s3_service(&self) -> String {
        format!("s3.{}.amazonaws.com", self.region)
    }

    /// Whether `principal` may perform `action` (`kms:Decrypt`) on `key`. `context`: the
    /// encryption context of the operation, if it has one; `extra`: more condition keys the
    /// operation defines (`kms:GrantOperations`, `kms:RequestAlias`, ...).
    pub fn check(
        &self,
        principal: &Principal,
        action: &str,
        key: &KeyAccess,
        via: Via,
        context: Option<&EncryptionContext>,
        extra: &Context,
    ) -> Result<(), KmsError> {
        let decision = self.decide(
            principal,
            action,
            &key.arn,
            &key.policy,
            &key.account,
            via,
            context,
            extra,
        )?;
        if decision.allowed {
            return Ok(());
        }
        // A grant allows what no policy denies explicitly (KMS Developer Guide, "Grants").
        if !decision.explicit_deny
            && !principal.is_anonymous()
            && self.kms.grant_allows(
                &key.arn,
                &principal.arn,
                action.trim_start_matches("kms:"),
                context,
            )
        {
            return Ok(());
        }
        Err(denied(principal, action, &key.arn, decision.explicit_deny))
    }

    /// The decision of [`KeyGuard::check`] for a given policy document (PutKeyPolicy's lockout
    /// check evaluates the new policy before it is stored).
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &self,
        principal: &Principal,
        action: &str,
        key_arn: &str,
        policy_doc: &str,
        key_account: &str,
        via: Via,
        context: Option<&EncryptionContext>,
        extra: &Context,
    ) -> Result<Decision, KmsError> {
        let policy = self.cache.get(policy_doc).map_err(|e| {
            KmsError::Internal(format!("a stored key policy does not compile: {e}"))
        })?;
        // The principal's own keys (`aws:PrincipalArn`, ...) come from `principal` itself.
        let mut ctx = extra.clone();
        fill_time(&mut ctx, self.kms_now());
        if !principal.is_anonymous() {
            ctx.insert("kms:CallerAccount", principal.account.clone());
        }
        if via == Via::S3 {
            ctx.insert("kms:ViaService", self.s3_service());
            ctx.insert("aws:ViaAWSService", "true");
        } else {
            ctx.insert("aws:ViaAWSService", "false");
        }
        if let Some(ec) = context {
            for (k, v) in ec {
                ctx.insert(&format!("kms:EncryptionContext:{k}"), v.clone());
            }
            if !ec.is_empty() {
                ctx.insert_many("kms:EncryptionContextKeys", ec.keys().cloned().collect());
            }
        }
        let who = principal.as_policy();
        let req = Request {
            principal: &who,
            action,
            resource: key_arn,
            context: &ctx,
        };
        let identity: Vec<&policy::Policy> = principal.policies.iter().collect();
        Ok(policy::decide(
            &req,
            &identity,
            Some(&policy),
            key_account,
            policy::Service::Kms,
        ))
    }

    fn kms_now(&self) -> std::time::SystemTime {
        self.iam.clock.now()
    }
}

/// `aws:CurrentTime` (ISO 8601 in whole seconds, as AWS shows it) and `aws:EpochTime`.
pub fn fill_time(ctx: &mut Context, now: std::time::SystemTime) {
    thread_local! {
        /// The last second rendered on this thread: requests within one second share it.
        static RENDERED: std::cell::RefCell<(i64, String, String)> =
            const { std::cell::RefCell::new((i64::MIN, String::new(), String::new())) };
    }
    let secs = time::OffsetDateTime::from(now).unix_timestamp();
    RENDERED.with_borrow_mut(|(at, iso, epoch)| {
        if *at != secs {
            let t = time::OffsetDateTime::from_unix_timestamp(secs)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            *iso = t
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            *epoch = secs.to_string();
            *at = secs;
        }
        ctx.insert("aws:CurrentTime", iso.clone());
        ctx.insert("aws:EpochTime", epoch.clone());
    });
}

/// AWS's AccessDeniedException message.
pub fn denied(principal: &Principal, action: &str, resource: &str, explicit: bool) -> KmsError {
    let why = if explicit {
        "with an explicit deny in a resource-based policy".to_string()
    } else {
        format!("because no resource-based policy allows the {action} action")
    };
    KmsError::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
        principal.arn
    ))
}

/// The [`KeyProvider`] S3 uses: every data key it generates or unwraps is authorized for the
/// principal of the current request first.
pub struct GovernedKeys {
    pub guard: Arc<KeyGuard>,
}

impl GovernedKeys {
    fn authorize(
        &self,
        action: &str,
        key: Option<KeyAccess>,
        context: &EncryptionContext,
    ) -> Result<(), KmsError> {
        let (Some(principal), Some(key)) = (crate::kms::audit::current_principal(), key) else {
            return Ok(());
        };
        let r = self.guard.check(
            &principal,
            action,
            &key,
            Via::S3,
            Some(context),
            &Context::new(),
        );
        if let Err(e) = &r {
            self.guard.kms.audit_outcome(
                crate::kms::audit::Source::S3,
                action.trim_start_matches("kms:"),
                Some(&key.arn),
                Some(context),
                e.exception_name(),
            );
        }
        r
    }
}

impl KeyProvider for GovernedKeys {
    fn generate_data_key(
        &self,
        key: KeyRef<'_>,
        context: &EncryptionContext,
    ) -> Result<GeneratedDataKey, KmsError> {
        self.guard.kms.generate_data_key(key, context)
    }

    fn decrypt_data_key(
        &self,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<DecryptedDataKey, KmsError> {
        // A blob that does not parse is the KMS's error to report, as before. The record the
        // check loaded serves the unwrap too (one key-store read, not two).
        match self.guard.kms.blob_key_access_of(blob) {
            Ok((access, rec)) => {
                self.authorize("kms:Decrypt", access, context)?;
                self.guard.kms.decrypt_data_key_of(Some(rec), blob, context)
            }
            Err(_) => self.guard.kms.decrypt_data_key(blob, context),
        }
    }

    fn resolve_key_arn(&self, key: KeyRef<'_>) -> Result<String, KmsError> {
        self.guard.kms.resolve_key_arn(key)
    }

    fn authorize_generate(
        &self,
        key: KeyRef<'_>,
        context: &EncryptionContext,
    ) -> Result<(), KmsError> {
        let access = self.guard.kms.ref_key_access(key)?;
        self.authorize("kms:GenerateDataKey", access, context)
    }
}
