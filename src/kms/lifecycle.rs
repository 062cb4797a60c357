//! Key lifecycle after creation: descriptions, deletion (crypto-shredding), rotation, tags,
//! key policies, alias retargeting; and the clock-driven work that comes due.
//!
//! Time-driven changes (a deletion window that ended, an automatic rotation that is due,
//! imported material that expired) are applied lazily by [`Kms::load_key`], which every key
//! lookup goes through, so no request ever sees a key in a state its dates have left; and
//! eagerly by [`Kms::maintain`], which the server runs periodically, so an unused key is
//! shredded on time too.
//!
//! Crypto-shredding: when a deletion window ends, the key record (with every sealed material
//! version) and the aliases naming it are removed from the store and the unsealed material is
//! dropped from the cache. Every blob made under the key, and so every object whose data key
//! it wrapped, can never be decrypted again: the only copy of the material is gone. (sled may
//! keep the overwritten bytes in its log until it reclaims the segment; they are sealed under
//! the root key, so shredding is complete against anyone without the root key, and complete
//! outright once the segment is reused.)

use std::sync::Arc;

use uuid::Uuid;

use super::audit::Source;
use super::store::{
    self, AliasRecord, DeletionSchedule, KeyManager, KeyOrigin, KeyRecord, KeyState, KmsTag,
    RotationType,
};
use super::validate::{check_usable, pending_deletion, validate_alias_name, validate_tags};
use super::{KeyMetadata, KeyRef, Kms, KmsError};
use crate::secret::Key32;

/// `ScheduleKeyDeletion` window bounds and default (AWS's).
pub const MIN_PENDING_WINDOW_DAYS: u32 = 7;
pub const MAX_PENDING_WINDOW_DAYS: u32 = 30;
pub const DEFAULT_PENDING_WINDOW_DAYS: u32 = 30;
/// `EnableKeyRotation` `RotationPeriodInDays` bounds (AWS's).
pub const MIN_ROTATION_PERIOD_DAYS: u32 = 90;
pub const MAX_ROTATION_PERIOD_DAYS: u32 = 2560;
/// Longest key policy document, in characters (AWS's limit).
pub const MAX_POLICY_LEN: usize = 32_768;
/// The only key policy name AWS has.
pub const DEFAULT_POLICY_NAME: &str = "default";

const DAY_MS: u64 = 86_400_000;

/// `GetKeyRotationStatus`.
#[derive(Debug, Clone, PartialEq)]
pub struct RotationStatus {
    pub key_arn: String,
    pub enabled: bool,
    pub period_days: Option<u32>,
    /// Epoch milliseconds.
    pub next_rotation_ms: Option<u64>,
}

/// One entry of `ListKeyRotations`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRotation {
    pub key_arn: String,
    /// Epoch milliseconds.
    pub rotation_ms: u64,
    pub rotation_type: RotationType,
}

impl Kms {
    /// Reads a key record after applying whatever its dates made due: a shredded key reads as
    /// absent, expired imported material is gone, a due automatic rotation has happened.
    pub(super) fn load_key(&self, id: &Uuid) -> Result<Option<KeyRecord>, KmsError> {
        let Some(rec) = self.tables.get_key(id)? else {
            return Ok(None);
        };
        let now = self.now_ms();
        if deletion_due(&rec, now) {
            self.shred(id, now)?;
            return Ok(None);
        }
        let rec = if material_expired(&rec, now) {
            self.expire_material(id, now)?
        } else {
            rec
        };
        if rotation_due(&rec, now) {
            return self.rotate_automatically(id, now).map(Some);
        }
        Ok(Some(rec))
    }

    /// Applies everything due on every key (deletions, expiries, rotations). Returns how many
    /// keys were looked at.
    pub fn maintain(&self) -> Result<usize, KmsError> {
        let keys = self.tables.all_keys()?;
        for rec in &keys {
            self.load_key(&rec.id()?)?;
        }
        Ok(keys.len())
    }

    /// Destroys a key whose deletion window ended: the record with all sealed material, its
    /// aliases, and the cached material.
    fn shred(&self, id: &Uuid, now: u64) -> Result<(), KmsError> {
        let mut arn = None;
        while let Some(old) = self
            .tables
            .keys
            .get(id.as_bytes())
            .map_err(store::storage)?
        {
            let rec = KeyRecord::decode(&old)?;
            if !deletion_due(&rec, now) {
                return Ok(()); // cancelled meanwhile
            }
            if self
                .tables
                .keys
                .compare_and_swap(id.as_bytes(), Some(&old), None)
                .map_err(store::storage)?
            {
                arn = Some(rec.arn);
                break;
            }
        }
        let target = id.to_string();
        for (name, a) in self.tables.all_aliases()? {
            if a.target_key_id == target {
                self.tables.remove_alias(&name)?;
            }
        }
        self.drop_cached(id, None);
        if let Some(arn) = arn {
            tracing::info!(key_arn = %arn, "KMS key deleted: its deletion window ended");
            self.audit(Source::Internal, "DeleteKey", Some(&arn), None, None);
        }
        Ok(())
    }

    /// Drops cached material of `id` (one version, or all).
    pub(super) fn drop_cached(&self, id: &Uuid, version: Option<u32>) {
        self.materials
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(k, v), _| k != id || version.is_some_and(|x| x != *v));
    }

    fn expire_material(&self, id: &Uuid, now: u64) -> Result<KeyRecord, KmsError> {
        let rec = self.tables.update_key(id, |r| {
            r.materials.retain(|m| m.expires_ms.is_none_or(|e| e > now));
            if r.materials.is_empty() {
                r.current_version = 0;
                if r.state != KeyState::PendingDeletion {
                    r.state = KeyState::PendingImport;
                }
            }
            Ok(())
        })?;
        self.drop_cached(id, None);
        self.audit(
            Source::Internal,
            "DeleteExpiredKeyMaterial",
            Some(&rec.arn),
            None,
            None,
        );
        Ok(rec)
    }

    fn rotate_automatically(&self, id: &Uuid, now: u64) -> Result<KeyRecord, KmsError> {
        let material = Key32::random().map_err(|e| KmsError::Internal(e.to_string()))?;
        let mut rotated = false;
        let rec = self.tables.update_key(id, |r| {
            rotated = false;
            if !rotation_due(r, now) {
                return Ok(());
            }
            self.add_version(r, id, &material, now, RotationType::Automatic)?;
            r.rotation.next_rotation_ms = Some(now + u64::from(r.rotation.period_days) * DAY_MS);
            rotated = true;
            Ok(())
        })?;
        if rotated {
            self.audit(Source::Internal, "RotateKey", Some(&rec.arn), None, None);
        }
        Ok(rec)
    }

    /// Appends a new material version and makes it current.
    pub(super) fn add_version(
        &self,
        r: &mut KeyRecord,
        id: &Uuid,
        material: &Key32,
        now: u64,
        kind: RotationType,
    ) -> Result<(), KmsError> {
        let version = r
            .materials
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0)
            .checked_add(1)
            .ok_or_else(|| KmsError::Internal("key version overflow".into()))?;
        r.materials
            .push(self.seal_material(id, version, material, now, Some(kind))?);
        r.current_version = version;
        Ok(())
    }

    /// A customer key for a lifecycle change: AWS-managed keys refuse them.
    fn customer_key(&self, key: &str, what: &str) -> Result<KeyRecord, KmsError> {
        let rec = self.resolve_named(key)?;
        if rec.key_manager != KeyManager::Customer {
            return Err(KmsError::AccessDenied(format!(
                "{} is an AWS managed key: {what} is not allowed on it.",
                rec.arn
            )));
        }
        Ok(rec)
    }

    /// `CreateKey` with everything the API accepts.
    pub fn create_key_with_policy(
        &self,
        description: &str,
        tags: Vec<KmsTag>,
        origin: KeyOrigin,
        policy: Option<String>,
    ) -> Result<KeyMetadata, KmsError> {
        if let Some(p) = &policy {
            validate_policy(p)?;
        }
        let meta = self.create_key(description, tags, origin)?;
        if policy.is_some() {
            let id = Uuid::try_parse(&meta.key_id)
                .map_err(|_| KmsError::Internal("new key id is malformed".into()))?;
            self.tables.update_key(&id, |r| {
                r.policy = policy.clone();
                Ok(())
            })?;
        }
        Ok(meta)
    }

    /// `UpdateKeyDescription`.
    pub fn update_key_description(&self, key: &str, description: &str) -> Result<(), KmsError> {
        if description.chars().count() > super::validate::MAX_DESCRIPTION_LEN {
            return Err(KmsError::InvalidArgument(format!(
                "Description is longer than {} characters",
                super::validate::MAX_DESCRIPTION_LEN
            )));
        }
        let rec = self.customer_key(key, "UpdateKeyDescription")?;
        self.tables.update_key(&rec.id()?, |r| {
            if r.state == KeyState::PendingDeletion {
                return Err(pending_deletion(&r.arn));
            }
            r.description = description.to_string();
            Ok(())
        })?;
        Ok(())
    }

    /// `ScheduleKeyDeletion`: the key becomes unusable now and is destroyed when the window
    /// (7 to 30 days, default 30) ends.
    pub fn schedule_key_deletion(
        &self,
        key: &str,
        window_days: Option<u32>,
    ) -> Result<KeyMetadata, KmsError> {
        let days = window_days.unwrap_or(DEFAULT_PENDING_WINDOW_DAYS);
        if !(MIN_PENDING_WINDOW_DAYS..=MAX_PENDING_WINDOW_DAYS).contains(&days) {
            return Err(KmsError::InvalidArgument(format!(
                "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to \
                 satisfy constraint: Member must have value between {MIN_PENDING_WINDOW_DAYS} \
                 and {MAX_PENDING_WINDOW_DAYS}"
            )));
        }
        let rec = self.customer_key(key, "ScheduleKeyDeletion")?;
        let now = self.now_ms();
        let rec = self.tables.update_key(&rec.id()?, |r| {
            if r.state == KeyState::PendingDeletion {
                return Err(pending_deletion(&r.arn));
            }
            r.state = KeyState::PendingDeletion;
            r.deletion = Some(DeletionSchedule {
                deletion_ms: now + u64::from(days) * DAY_MS,
                window_days: days,
            });
            Ok(())
        })?;
        Ok(self.metadata(&rec))
    }

    /// `CancelKeyDeletion`: the key comes back Disabled (PendingImport if it has no material).
    pub fn cancel_key_deletion(&self, key: &str) -> Result<String, KmsError> {
        let rec = self.customer_key(key, "CancelKeyDeletion")?;
        let rec = self.tables.update_key(&rec.id()?, |r| {
            if r.state != KeyState::PendingDeletion {
                return Err(KmsError::InvalidState(format!(
                    "{} is not pending deletion.",
                    r.arn
                )));
            }
            r.deletion = None;
            r.state = if r.materials.is_empty() {
                KeyState::PendingImport
            } else {
                KeyState::Disabled
            };
            Ok(())
        })?;
        Ok(rec.arn)
    }

    /// `UpdateAlias`: points an existing customer alias at another customer key.
    pub fn update_alias(&self, alias_name: &str, target: &str) -> Result<(), KmsError> {
        validate_alias_name(alias_name, false)?;
        let rec = self.customer_key(target, "UpdateAlias")?;
        if rec.state == KeyState::PendingDeletion {
            return Err(pending_deletion(&rec.arn));
        }
        let now = self.now_ms();
        loop {
            let Some(old) = self
                .tables
                .aliases
                .get(alias_name.as_bytes())
                .map_err(store::storage)?
            else {
                return Err(self.alias_not_found(alias_name));
            };
            let mut a = AliasRecord::decode(&old)?;
            a.target_key_id = rec.key_id.clone();
            a.updated_ms = now;
            if self
                .tables
                .aliases
                .compare_and_swap(alias_name.as_bytes(), Some(&old), Some(&a.encode()?))
                .map_err(store::storage)?
            {
                return Ok(());
            }
        }
    }

    /// `EnableKeyRotation` (period 90 to 2560 days, default 365).
    pub fn enable_key_rotation(&self, key: &str, period_days: Option<u32>) -> Result<(), KmsError> {
        let days = period_days.unwrap_or(store::DEFAULT_ROTATION_PERIOD_DAYS);
        if !(MIN_ROTATION_PERIOD_DAYS..=MAX_ROTATION_PERIOD_DAYS).contains(&days) {
            return Err(KmsError::InvalidArgument(format!(
                "1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to \
                 satisfy constraint: Member must have value between {MIN_ROTATION_PERIOD_DAYS} \
                 and {MAX_ROTATION_PERIOD_DAYS}"
            )));
        }
        let rec = self.customer_key(key, "EnableKeyRotation")?;
        rotation_supported(&rec)?;
        let now = self.now_ms();
        self.tables.update_key(&rec.id()?, |r| {
            check_usable(r)?;
            r.rotation.enabled = true;
            r.rotation.period_days = days;
            r.rotation.next_rotation_ms = Some(now + u64::from(days) * DAY_MS);
            Ok(())
        })?;
        Ok(())
    }

    /// `DisableKeyRotation`.
    pub fn disable_key_rotation(&self, key: &str) -> Result<(), KmsError> {
        let rec = self.customer_key(key, "DisableKeyRotation")?;
        rotation_supported(&rec)?;
        self.tables.update_key(&rec.id()?, |r| {
            check_usable(r)?;
            r.rotation.enabled = false;
            r.rotation.next_rotation_ms = None;
            Ok(())
        })?;
        Ok(())
    }

    /// `GetKeyRotationStatus`. AWS-managed keys rotate yearly, as in AWS.
    pub fn key_rotation_status(&self, key: &str) -> Result<RotationStatus, KmsError> {
        let rec = self.resolve_named(key)?;
        rotation_supported(&rec)?;
        if rec.state == KeyState::PendingDeletion {
            return Err(pending_deletion(&rec.arn));
        }
        if rec.key_manager == KeyManager::Aws {
            return Ok(RotationStatus {
                key_arn: rec.arn,
                enabled: true,
                period_days: Some(store::DEFAULT_ROTATION_PERIOD_DAYS),
                next_rotation_ms: None,
            });
        }
        Ok(RotationStatus {
            key_arn: rec.arn,
            enabled: rec.rotation.enabled,
            period_days: rec.rotation.enabled.then_some(rec.rotation.period_days),
            next_rotation_ms: rec
                .rotation
                .next_rotation_ms
                .filter(|_| rec.rotation.enabled),
        })
    }

    /// `ListKeyRotations`: every rotation so far, oldest first.
    pub fn list_key_rotations(&self, key: &str) -> Result<Vec<KeyRotation>, KmsError> {
        let rec = self.resolve_named(key)?;
        rotation_supported(&rec)?;
        Ok(rec
            .materials
            .iter()
            .filter_map(|m| {
                m.rotation_type.map(|t| KeyRotation {
                    key_arn: rec.arn.clone(),
                    rotation_ms: m.created_ms,
                    rotation_type: t,
                })
            })
            .collect())
    }

    /// `TagResource`: adds tags, replacing the values of existing keys.
    pub fn tag_resource(&self, key: &str, tags: Vec<KmsTag>) -> Result<(), KmsError> {
        validate_tags(&tags)?;
        let rec = self.customer_key(key, "TagResource")?;
        self.tables.update_key(&rec.id()?, |r| {
            if r.state == KeyState::PendingDeletion {
                return Err(pending_deletion(&r.arn));
            }
            for t in &tags {
                match r.tags.iter_mut().find(|x| x.tag_key == t.tag_key) {
                    Some(x) => x.tag_value = t.tag_value.clone(),
                    None => r.tags.push(t.clone()),
                }
            }
            validate_tags(&r.tags)
        })?;
        Ok(())
    }

    /// `UntagResource`.
    pub fn untag_resource(&self, key: &str, tag_keys: &[String]) -> Result<(), KmsError> {
        let rec = self.customer_key(key, "UntagResource")?;
        self.tables.update_key(&rec.id()?, |r| {
            if r.state == KeyState::PendingDeletion {
                return Err(pending_deletion(&r.arn));
            }
            r.tags.retain(|t| !tag_keys.contains(&t.tag_key));
            Ok(())
        })?;
        Ok(())
    }

    /// `ListResourceTags`, sorted by tag key.
    pub fn list_resource_tags(&self, key: &str) -> Result<Vec<KmsTag>, KmsError> {
        let mut tags = self.resolve_named(key)?.tags;
        tags.sort_by(|a, b| a.tag_key.cmp(&b.tag_key));
        Ok(tags)
    }

    /// `GetKeyPolicy`: the stored policy, or the default one.
    pub fn get_key_policy(&self, key: &str, name: Option<&str>) -> Result<String, KmsError> {
        check_policy_name(name)?;
        let rec = self.resolve_named(key)?;
        Ok(self.effective_policy(&rec).to_string())
    }

    /// What access control needs to know of a key: its ARN, account and policy in force.
    pub fn key_access(&self, key: &str) -> Result<KeyAccess, KmsError> {
        let rec = self.resolve_named(key)?;
        Ok(self.access_of(&rec))
    }

    /// [`Kms::key_access`] of the key a ciphertext blob names; `None` for the service-owned
    /// SSE-S3 key, which no principal calls (S3 uses it on its own behalf).
    pub fn blob_key_access(&self, blob: &[u8]) -> Result<Option<KeyAccess>, KmsError> {
        self.blob_key_access_of(blob).map(|(access, _)| access)
    }

    /// [`Kms::blob_key_access`] and the key's record, for [`Kms::decrypt_data_key_of`].
    pub fn blob_key_access_of(
        &self,
        blob: &[u8],
    ) -> Result<(Option<KeyAccess>, KeyRecord), KmsError> {
        let parsed = super::blob::parse(blob)?;
        let Some(rec) = self.load_key(&parsed.key_id)? else {
            return Err(KmsError::InvalidCiphertext);
        };
        let access = (!rec.service_owned).then(|| self.access_of(&rec));
        Ok((access, rec))
    }

    /// [`Kms::key_access`] for a key reference as S3 holds them; `None` for the service key.
    pub fn ref_key_access(&self, key: KeyRef<'_>) -> Result<Option<KeyAccess>, KmsError> {
        match key {
            KeyRef::ServiceSseS3 => Ok(None),
            KeyRef::AwsManagedS3 => Ok(Some(self.access_of(&self.aws_managed_s3()?))),
            KeyRef::Named(k) => self.key_access(k).map(Some),
        }
    }

    fn access_of(&self, rec: &KeyRecord) -> KeyAccess {
        KeyAccess {
            arn: rec.arn.clone(),
            account: arn_account(&rec.arn).to_string(),
            policy: self.effective_policy(rec),
            aws_managed: rec.key_manager == KeyManager::Aws,
        }
    }

    fn effective_policy(&self, rec: &KeyRecord) -> Arc<str> {
        let [customer, aws] = self.default_policies.get_or_init(|| {
            [
                self.default_policy().into(),
                self.aws_managed_policy().into(),
            ]
        });
        match (&rec.policy, rec.key_manager) {
            (Some(p), _) => p.as_str().into(),
            (None, KeyManager::Aws) => aws.clone(),
            (None, KeyManager::Customer) => customer.clone(),
        }
    }

    /// `PutKeyPolicy`: stored as given; the caller has validated it and applied the lockout
    /// safety check.
    pub fn put_key_policy(
        &self,
        key: &str,
        name: Option<&str>,
        policy: &str,
    ) -> Result<(), KmsError> {
        check_policy_name(name)?;
        validate_policy(policy)?;
        let rec = self.customer_key(key, "PutKeyPolicy")?;
        self.tables.update_key(&rec.id()?, |r| {
            if r.state == KeyState::PendingDeletion {
                return Err(pending_deletion(&r.arn));
            }
            r.policy = Some(policy.to_string());
            Ok(())
        })?;
        Ok(())
    }

    /// `ListKeyPolicies`: always `default`.
    pub fn list_key_policies(&self, key: &str) -> Result<Vec<String>, KmsError> {
        self.resolve_named(key)?;
        Ok(vec![DEFAULT_POLICY_NAME.to_string()])
    }

    /// The policy AWS gives the AWS managed key `aws/s3`: every principal of the account may
    /// use it through S3, and the account may read its metadata directly.
    fn aws_managed_policy(&self) -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Id": "auto-s3-2",
            "Statement": [
                {
                    "Sid": "Allow access through S3 for all principals in the account that are authorized to use S3",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {
                        "kms:CallerAccount": self.account_id(),
                        "kms:ViaService": format!("s3.{}.amazonaws.com", self.region()),
                    }}
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{}:root", self.account_id())},
                    // AWS grants the account only Describe*/Get*/List* here; Coffer also lets
                    // the account root use the key directly (its tests and demos unwrap data
                    // keys with `aws kms`). Users still need the S3 path or a grant.
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                    "Resource": "*"
                }
            ]
        })
        .to_string()
    }

    /// AWS's default key policy: the account root may do everything.
    fn default_policy(&self) -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [{
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{}:root", self.account_id())},
                "Action": "kms:*",
                "Resource": "*"
            }]
        })
        .to_string()
    }

    /// Whether the key is usable for new encryptions (for callers that check ahead).
    pub fn check_key_usable(&self, key: &str) -> Result<String, KmsError> {
        let rec = self.resolve_named(key)?;
        check_usable(&rec)?;
        Ok(rec.arn)
    }
}

/// A key as access control sees it.
#[derive(Debug, Clone)]
pub struct KeyAccess {
    pub arn: String,
    /// The account in the key's ARN.
    pub account: String,
    /// The key policy in force (stored, or the default for its kind).
    pub policy: Arc<str>,
    pub aws_managed: bool,
}

/// The account field of an ARN (`arn:partition:service:region:ACCOUNT:...`).
pub fn arn_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or("")
}

fn deletion_due(rec: &KeyRecord, now: u64) -> bool {
    rec.state == KeyState::PendingDeletion
        && rec.deletion.as_ref().is_some_and(|d| d.deletion_ms <= now)
}

fn material_expired(rec: &KeyRecord, now: u64) -> bool {
    rec.materials
        .iter()
        .any(|m| m.expires_ms.is_some_and(|e| e <= now))
}

fn rotation_due(rec: &KeyRecord, now: u64) -> bool {
    rec.state == KeyState::Enabled
        && rec.origin == KeyOrigin::AwsKms
        && rec.rotation.enabled
        && rec.rotation.next_rotation_ms.is_some_and(|t| t <= now)
}

fn rotation_supported(rec: &KeyRecord) -> Result<(), KmsError> {
    if rec.origin != KeyOrigin::AwsKms {
        return Err(KmsError::Unsupported(format!(
            "{} has imported key material; its rotation is not supported.",
            rec.arn
        )));
    }
    Ok(())
}

fn check_policy_name(name: Option<&str>) -> Result<(), KmsError> {
    match name {
        None | Some(DEFAULT_POLICY_NAME) => Ok(()),
        Some(other) => Err(KmsError::NotFound(format!(
            "No such policy exists: {}",
            other.chars().take(128).collect::<String>()
        ))),
    }
}

fn validate_policy(policy: &str) -> Result<(), KmsError> {
    if policy.is_empty() || policy.chars().count() > MAX_POLICY_LEN {
        return Err(KmsError::InvalidArgument(format!(
            "Policy must be 1 to {MAX_POLICY_LEN} characters"
        )));
    }
    match serde_json::from_str::<serde_json::Value>(policy) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(KmsError::MalformedPolicy(
            "The key policy is not a JSON object.".into(),
        )),
    }
}
