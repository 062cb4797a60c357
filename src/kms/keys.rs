//! Key and alias lifecycle: creating keys (customer, seed, and the AWS-managed and service keys
//! made on first use), describing and listing them, enabling and disabling, aliases, and
//! on-demand rotation.

use std::sync::OnceLock;

use uuid::Uuid;

use super::engine::{
    AWS_S3_ALIAS, AWS_S3_KEY_DESCRIPTION, AliasEntry, KeyMetadata, SERVICE_KEY_DESCRIPTION,
};
use super::resolve::parse_key_id;
use super::store::{
    self, AliasRecord, KeyManager, KeyOrigin, KeyRecord, KeySpec, KeyState, KeyUsage, KmsTag,
    RotationSettings, RotationType,
};
use super::validate::{
    MAX_DESCRIPTION_LEN, RESERVED_ALIAS_PREFIX, check_usable, pending_deletion, pending_import,
    validate_alias_name, validate_tags,
};
use super::{Kms, KmsError};
use crate::secret::{Key32, fill_random};

impl Kms {
    /// `CreateKey`: a symmetric customer key. `EXTERNAL` keys start `PendingImport` with no
    /// material.
    pub fn create_key(
        &self,
        description: &str,
        tags: Vec<KmsTag>,
        origin: KeyOrigin,
    ) -> Result<KeyMetadata, KmsError> {
        if description.len() > MAX_DESCRIPTION_LEN {
            return Err(KmsError::InvalidArgument(format!(
                "Description is longer than {MAX_DESCRIPTION_LEN} characters"
            )));
        }
        validate_tags(&tags)?;
        let rec = self.new_key_record(
            new_uuid()?,
            description.to_string(),
            tags,
            origin,
            KeyManager::Customer,
            false,
        )?;
        if !self.tables.insert_key(&rec)? {
            // 122 random bits collided: only a broken random source gets here.
            return Err(KmsError::Internal("generated key id already exists".into()));
        }
        Ok(self.metadata(&rec))
    }

    /// `DescribeKey` (key id, key ARN, alias name or alias ARN).
    pub fn describe_key(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        let rec = self.resolve_named(key)?;
        Ok(self.metadata(&rec))
    }

    /// `ListKeys`: customer and AWS-managed keys, in key id byte order; never the service key.
    pub fn list_keys(&self) -> Result<Vec<KeyMetadata>, KmsError> {
        Ok(self
            .tables
            .all_keys()?
            .iter()
            .filter(|r| !r.service_owned)
            .map(|r| self.metadata(r))
            .collect())
    }

    /// `CreateAlias`: `alias_name` must be `alias/...`, not reserved, not taken; the target
    /// must be a customer key.
    pub fn create_alias(&self, alias_name: &str, target: &str) -> Result<(), KmsError> {
        validate_alias_name(alias_name, false)?;
        let rec = self.resolve_named(target)?;
        if rec.key_manager != KeyManager::Customer {
            return Err(KmsError::AccessDenied(format!(
                "Cannot create an alias for {} because it is an AWS managed key.",
                rec.arn
            )));
        }
        if rec.state == KeyState::PendingDeletion {
            return Err(pending_deletion(&rec.arn));
        }
        let now = self.now_ms();
        let alias = AliasRecord {
            target_key_id: rec.key_id.clone(),
            created_ms: now,
            updated_ms: now,
        };
        if !self.tables.insert_alias(alias_name, &alias)? {
            return Err(KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                self.alias_arn(alias_name)
            )));
        }
        Ok(())
    }

    /// `DeleteAlias`. Aliases of AWS-managed keys cannot be deleted.
    pub fn delete_alias(&self, alias_name: &str) -> Result<(), KmsError> {
        validate_alias_name(alias_name, true)?;
        if alias_name.starts_with(RESERVED_ALIAS_PREFIX) {
            return Err(KmsError::AccessDenied(format!(
                "Cannot delete AWS reserved alias {}.",
                self.alias_arn(alias_name)
            )));
        }
        if !self.tables.remove_alias(alias_name)? {
            return Err(self.alias_not_found(alias_name));
        }
        Ok(())
    }

    /// `ListAliases`, optionally only those naming `key`.
    pub fn list_aliases(&self, key: Option<&str>) -> Result<Vec<AliasEntry>, KmsError> {
        let only = match key {
            Some(k) => Some(self.resolve_named(k)?.key_id),
            None => None,
        };
        Ok(self
            .tables
            .all_aliases()?
            .into_iter()
            .filter(|(_, a)| only.as_ref().is_none_or(|id| *id == a.target_key_id))
            .map(|(name, a)| AliasEntry {
                alias_arn: self.alias_arn(&name),
                alias_name: name,
                target_key_id: a.target_key_id,
                creation_ms: a.created_ms,
                last_updated_ms: a.updated_ms,
            })
            .collect())
    }

    /// `EnableKey`.
    pub fn enable_key(&self, key: &str) -> Result<(), KmsError> {
        self.set_enabled(key, true)
    }

    /// `DisableKey`.
    pub fn disable_key(&self, key: &str) -> Result<(), KmsError> {
        self.set_enabled(key, false)
    }

    pub(super) fn set_enabled(&self, key: &str, enabled: bool) -> Result<(), KmsError> {
        let rec = self.resolve_named(key)?;
        if rec.key_manager != KeyManager::Customer {
            return Err(KmsError::AccessDenied(format!(
                "{} is an AWS managed key and cannot be {}.",
                rec.arn,
                if enabled { "enabled" } else { "disabled" }
            )));
        }
        let id = rec.id()?;
        self.tables.update_key(&id, |r| match r.state {
            KeyState::Enabled | KeyState::Disabled => {
                r.state = if enabled {
                    KeyState::Enabled
                } else {
                    KeyState::Disabled
                };
                Ok(())
            }
            KeyState::PendingDeletion => Err(pending_deletion(&r.arn)),
            KeyState::PendingImport => Err(pending_import(&r.arn)),
        })?;
        Ok(())
    }

    /// `RotateKeyOnDemand`: adds a material version that new encryptions use from now on;
    /// every older version keeps decrypting.
    pub fn rotate_key_now(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        let rec = self.resolve_named(key)?;
        if rec.key_manager != KeyManager::Customer {
            return Err(KmsError::AccessDenied(format!(
                "{} is an AWS managed key and cannot be rotated on demand.",
                rec.arn
            )));
        }
        if rec.origin != KeyOrigin::AwsKms {
            return Err(KmsError::Unsupported(format!(
                "{} has imported key material and cannot be rotated on demand.",
                rec.arn
            )));
        }
        check_usable(&rec)?;
        let id = rec.id()?;
        let material = Key32::random().map_err(|e| KmsError::Internal(e.to_string()))?;
        let now = self.now_ms();
        let rec = self.tables.update_key(&id, |r| {
            check_usable(r)?;
            self.add_version(r, &id, &material, now, RotationType::OnDemand)
        })?;
        Ok(self.metadata(&rec))
    }

    pub(super) fn metadata(&self, r: &KeyRecord) -> KeyMetadata {
        let material = r.material(r.current_version);
        KeyMetadata {
            aws_account_id: self.account_id.clone(),
            key_id: r.key_id.clone(),
            arn: r.arn.clone(),
            creation_ms: r.created_ms,
            description: r.description.clone(),
            key_usage: r.key_usage,
            key_state: r.state,
            deletion_ms: r.deletion.as_ref().map(|d| d.deletion_ms),
            pending_deletion_window_in_days: r.deletion.as_ref().map(|d| d.window_days),
            origin: r.origin,
            key_manager: r.key_manager,
            key_spec: r.key_spec,
            material_expires: match (r.origin, material) {
                (KeyOrigin::External, Some(m)) => Some(m.expires_ms.is_some()),
                _ => None,
            },
            valid_to_ms: material.and_then(|m| m.expires_ms),
        }
    }

    pub(super) fn new_key_record(
        &self,
        id: Uuid,
        description: String,
        tags: Vec<KmsTag>,
        origin: KeyOrigin,
        key_manager: KeyManager,
        service_owned: bool,
    ) -> Result<KeyRecord, KmsError> {
        let now = self.now_ms();
        let (materials, current_version, state) = match origin {
            KeyOrigin::AwsKms => {
                let material = Key32::random().map_err(|e| KmsError::Internal(e.to_string()))?;
                (
                    vec![self.seal_material(&id, 1, &material, now, None)?],
                    1,
                    KeyState::Enabled,
                )
            }
            KeyOrigin::External => (Vec::new(), 0, KeyState::PendingImport),
        };
        Ok(KeyRecord {
            key_id: id.to_string(),
            arn: self.key_arn(&id),
            description,
            created_ms: now,
            state,
            key_manager,
            origin,
            key_usage: KeyUsage::EncryptDecrypt,
            key_spec: KeySpec::SymmetricDefault,
            service_owned,
            materials,
            current_version,
            rotation: RotationSettings::default(),
            deletion: None,
            tags,
            policy: None,
            import_params: None,
            imported_material_digest: None,
            grants: Vec::new(),
        })
    }

    pub(super) fn known_key(&self, id: &Uuid) -> Result<KeyRecord, KmsError> {
        self.load_key(id)?
            .ok_or_else(|| KmsError::Internal(format!("key {} vanished", self.key_arn(id))))
    }

    /// The AWS-managed `alias/aws/s3` key, created on first use.
    pub(super) fn aws_managed_s3(&self) -> Result<KeyRecord, KmsError> {
        self.shared_key(
            &self.aws_s3_key,
            "alias/aws/s3",
            AWS_S3_KEY_DESCRIPTION,
            false,
            &|kms| match kms.tables.get_alias(AWS_S3_ALIAS)? {
                Some(a) => parse_key_id(&a.target_key_id)
                    .map(Some)
                    .ok_or_else(|| KmsError::Internal("stored alias target is malformed".into())),
                None => Ok(None),
            },
            &|kms, rec| {
                let alias = AliasRecord {
                    target_key_id: rec.key_id.clone(),
                    created_ms: rec.created_ms,
                    updated_ms: rec.created_ms,
                };
                kms.tables.insert_alias(AWS_S3_ALIAS, &alias)
            },
        )
    }

    /// The service-owned SSE-S3 key, created on first use.
    pub(super) fn service_key(&self) -> Result<KeyRecord, KmsError> {
        self.shared_key(
            &self.service_key,
            "the service key",
            SERVICE_KEY_DESCRIPTION,
            true,
            &|kms| match kms
                .tables
                .meta
                .get(store::SERVICE_KEY_POINTER)
                .map_err(store::storage)?
            {
                Some(v) => store::decode_pointer(&v).map(Some),
                None => Ok(None),
            },
            &|kms, rec| {
                kms.tables
                    .meta
                    .insert_if_absent(
                        store::SERVICE_KEY_POINTER,
                        &store::encode_pointer(&rec.id()?),
                    )
                    .map_err(store::storage)
            },
        )
    }

    /// A key every caller shares and the first use creates (`alias/aws/s3`, the SSE-S3 service
    /// key): `find` reads where it is published, `publish` publishes a new one if nothing is
    /// there yet. Race-free within the process (the create lock) and across writers (publish
    /// is insert-if-absent; the loser removes its record and uses the winner's).
    pub(super) fn shared_key(
        &self,
        cell: &OnceLock<Uuid>,
        what: &str,
        description: &str,
        service_owned: bool,
        find: &dyn Fn(&Self) -> Result<Option<Uuid>, KmsError>,
        publish: &dyn Fn(&Self, &KeyRecord) -> Result<bool, KmsError>,
    ) -> Result<KeyRecord, KmsError> {
        if let Some(id) = cell.get() {
            return self.known_key(id);
        }
        let id = match find(self)? {
            Some(id) => id,
            None => {
                let _guard = self.lock_create();
                match find(self)? {
                    Some(id) => id,
                    None => {
                        let rec = self.new_key_record(
                            new_uuid()?,
                            description.into(),
                            Vec::new(),
                            KeyOrigin::AwsKms,
                            KeyManager::Aws,
                            service_owned,
                        )?;
                        let id = rec.id()?;
                        if !self.tables.insert_key(&rec)? {
                            return Err(KmsError::Internal(
                                "generated key id already exists".into(),
                            ));
                        }
                        if publish(self, &rec)? {
                            id
                        } else {
                            // Someone outside this process won: drop ours, use theirs.
                            self.tables
                                .keys
                                .remove(id.as_bytes())
                                .map_err(store::storage)?;
                            find(self)?.ok_or_else(|| {
                                KmsError::Internal(format!("{what} vanished while created"))
                            })?
                        }
                    }
                }
            }
        };
        let _ = cell.set(id);
        self.known_key(&id)
    }
}

/// A random (v4) UUID from the OS random source.
pub(super) fn new_uuid() -> Result<Uuid, KmsError> {
    let mut b = [0u8; 16];
    fill_random(&mut b).map_err(|e| KmsError::Internal(e.to_string()))?;
    Ok(uuid::Builder::from_random_bytes(b).into_uuid())
}
