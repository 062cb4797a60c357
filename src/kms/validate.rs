//! Validation of what callers name and of key states: alias names, tags, and whether a key
//! can be used.

use super::KmsError;
use super::store::{KeyRecord, KeyState, KmsTag};

/// Prefix of alias names reserved for AWS-managed keys.
pub const RESERVED_ALIAS_PREFIX: &str = "alias/aws/";

/// Longest alias name, `alias/` included (AWS's limit).
pub const MAX_ALIAS_NAME_LEN: usize = 256;

/// Longest key description (AWS's limit).
pub const MAX_DESCRIPTION_LEN: usize = 8192;

/// Most tags on one key (AWS's limit).
pub const MAX_TAGS: usize = 50;

/// Longest key reference echoed back in an error message.
pub(super) const MAX_ECHOED_REF_LEN: usize = 256;

pub(super) fn check_usable(rec: &KeyRecord) -> Result<(), KmsError> {
    match rec.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", rec.arn))),
        KeyState::PendingDeletion => Err(pending_deletion(&rec.arn)),
        KeyState::PendingImport => Err(pending_import(&rec.arn)),
    }
}

pub(super) fn pending_deletion(arn: &str) -> KmsError {
    KmsError::InvalidState(format!("{arn} is pending deletion."))
}

pub(super) fn pending_import(arn: &str) -> KmsError {
    KmsError::InvalidState(format!("{arn} is pending import."))
}

/// `alias/` followed by 1.. characters of `[A-Za-z0-9/_-]`, at most 256 in all; the reserved
/// `alias/aws/` prefix only when `allow_reserved` (lookups, not creation).
pub(super) fn validate_alias_name(name: &str, allow_reserved: bool) -> Result<(), KmsError> {
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(KmsError::InvalidAliasName(
            "Alias name must begin with 'alias/'".into(),
        ));
    };
    if rest.is_empty()
        || name.len() > MAX_ALIAS_NAME_LEN
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
    {
        return Err(KmsError::InvalidAliasName(format!(
            "Alias name must be 'alias/' followed by 1 to {} characters from a-z, A-Z, 0-9, \
             '/', '_' and '-'",
            MAX_ALIAS_NAME_LEN - "alias/".len()
        )));
    }
    if !allow_reserved && name.starts_with(RESERVED_ALIAS_PREFIX) {
        return Err(KmsError::InvalidAliasName(
            "Alias names beginning with 'alias/aws/' are reserved for AWS managed keys".into(),
        ));
    }
    Ok(())
}

pub(super) fn validate_tags(tags: &[KmsTag]) -> Result<(), KmsError> {
    if tags.len() > MAX_TAGS {
        return Err(KmsError::Tag(format!(
            "A key can have at most {MAX_TAGS} tags"
        )));
    }
    for t in tags {
        if t.tag_key.is_empty() || t.tag_key.chars().count() > 128 {
            return Err(KmsError::Tag("TagKey must be 1 to 128 characters".into()));
        }
        if t.tag_value.chars().count() > 256 {
            return Err(KmsError::Tag(
                "TagValue must be at most 256 characters".into(),
            ));
        }
        if t.tag_key.starts_with("aws:") {
            return Err(KmsError::Tag(
                "Tag keys beginning with 'aws:' are reserved".into(),
            ));
        }
    }
    Ok(())
}
