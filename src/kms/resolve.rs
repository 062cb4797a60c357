//! Key resolution: a caller's key reference (key id, key ARN, alias name, alias ARN) to the
//! key's record, AWS's not-found messages, and the ARNs audit lines name.

use uuid::Uuid;

use super::engine::AWS_S3_ALIAS;
use super::store::KeyRecord;
use super::validate::{MAX_ECHOED_REF_LEN, validate_alias_name};
use super::{KeyRef, Kms, KmsError};

/// Where a key reference came from, for AWS-style error messages.
pub(super) enum Lookup {
    Key(Uuid),
    Alias(String),
}

impl Kms {
    pub(super) fn key_not_found(&self, id: &Uuid) -> KmsError {
        KmsError::NotFound(format!("Key '{}' does not exist", self.key_arn(id)))
    }

    pub(super) fn alias_not_found(&self, alias_name: &str) -> KmsError {
        KmsError::NotFound(format!(
            "Alias {} is not found.",
            self.alias_arn(alias_name)
        ))
    }

    /// Parses a caller's key reference into a key id or an alias name. ARNs must name this
    /// region and account.
    pub(super) fn parse_ref(&self, key: &str) -> Result<Lookup, KmsError> {
        let invalid = || {
            let shown: String = key.chars().take(MAX_ECHOED_REF_LEN).collect();
            KmsError::NotFound(format!("Invalid keyId '{shown}'"))
        };
        if let Some(rest) = key.strip_prefix("arn:") {
            let prefix = format!("aws:kms:{}:{}:", self.region, self.account_id);
            let Some(resource) = rest.strip_prefix(&prefix) else {
                // Another partition, region or account: no such key here.
                return Err(if rest.contains(":alias/") {
                    KmsError::NotFound(format!(
                        "Alias {} is not found.",
                        key.chars().take(MAX_ECHOED_REF_LEN).collect::<String>()
                    ))
                } else {
                    KmsError::NotFound(format!(
                        "Key '{}' does not exist",
                        key.chars().take(MAX_ECHOED_REF_LEN).collect::<String>()
                    ))
                });
            };
            if let Some(id) = resource.strip_prefix("key/") {
                return parse_key_id(id).map(Lookup::Key).ok_or_else(invalid);
            }
            if resource.starts_with("alias/") {
                validate_alias_name(resource, true).map_err(|_| invalid())?;
                return Ok(Lookup::Alias(resource.to_string()));
            }
            return Err(invalid());
        }
        if key.starts_with("alias/") {
            validate_alias_name(key, true).map_err(|_| invalid())?;
            return Ok(Lookup::Alias(key.to_string()));
        }
        parse_key_id(key).map(Lookup::Key).ok_or_else(invalid)
    }

    /// Resolves a public key reference to its record. The service key does not exist here;
    /// `alias/aws/s3` is created on first use, as in AWS.
    pub(super) fn resolve_named(&self, key: &str) -> Result<KeyRecord, KmsError> {
        match self.parse_ref(key)? {
            Lookup::Key(id) => match self.load_key(&id)? {
                Some(r) if !r.service_owned => Ok(r),
                _ => Err(self.key_not_found(&id)),
            },
            Lookup::Alias(name) if name == AWS_S3_ALIAS => self.aws_managed_s3(),
            Lookup::Alias(name) => {
                let alias = self
                    .tables
                    .get_alias(&name)?
                    .ok_or_else(|| self.alias_not_found(&name))?;
                let id = parse_key_id(&alias.target_key_id)
                    .ok_or_else(|| KmsError::Internal("stored alias target is malformed".into()))?;
                match self.load_key(&id)? {
                    Some(r) if !r.service_owned => Ok(r),
                    _ => Err(self.alias_not_found(&name)),
                }
            }
        }
    }

    pub(super) fn resolve(&self, key: KeyRef<'_>) -> Result<KeyRecord, KmsError> {
        match key {
            KeyRef::ServiceSseS3 => self.service_key(),
            KeyRef::AwsManagedS3 => self.aws_managed_s3(),
            KeyRef::Named(s) => self.resolve_named(s),
        }
    }

    /// The ARN a caller's key reference names (key id -> key ARN, alias name -> alias ARN,
    /// ARNs as given), for audit lines of requests that failed before resolving it; `None`
    /// when it is not a well-formed reference. No key is created or looked up here.
    pub fn arn_for_ref(&self, key: &str) -> Option<String> {
        self.arn_of_ref(KeyRef::Named(key))
    }

    /// The ARN a failed key reference would have had, for the audit log (best effort; no key
    /// is created here).
    pub(super) fn arn_of_ref(&self, key: KeyRef<'_>) -> Option<String> {
        match key {
            KeyRef::ServiceSseS3 => self.service_key.get().map(|id| self.key_arn(id)),
            KeyRef::AwsManagedS3 => self.aws_s3_key.get().map(|id| self.key_arn(id)),
            KeyRef::Named(s) => match self.parse_ref(s).ok()? {
                Lookup::Key(id) => Some(self.key_arn(&id)),
                Lookup::Alias(_) if s.starts_with("arn:") => Some(s.to_string()),
                Lookup::Alias(name) => Some(self.alias_arn(&name)),
            },
        }
    }
}

/// A key id as AWS writes it: a hyphenated UUID (36 characters).
pub(super) fn parse_key_id(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::try_parse(s).ok()
}
