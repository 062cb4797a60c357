//! Buckets: naming rules, create, delete (discarding uploads in progress, as AWS does), list.

use super::{Service, ServiceError};
use crate::storage::records::{Acl, BucketRecord, ObjectOwnership};

/// Checks S3's bucket naming rules (general purpose buckets).
pub fn validate_bucket_name(name: &str) -> Result<(), ServiceError> {
    let bad = |why: &str| Err(ServiceError::InvalidBucketName(why.to_string()));
    if name.len() < 3 || name.len() > 63 {
        return bad("bucket names must be between 3 and 63 characters long");
    }
    let bytes = name.as_bytes();
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
    {
        return bad(
            "bucket names can consist only of lowercase letters, numbers, dots and hyphens",
        );
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return bad("bucket names must begin and end with a letter or number");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return bad(
            "bucket names must not contain two adjacent periods or a period next to a hyphen",
        );
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("bucket names must not be formatted as an IP address");
    }
    for p in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(p) {
            return bad("bucket names must not start with a reserved prefix");
        }
    }
    for s in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(s) {
            return bad("bucket names must not end with a reserved suffix");
        }
    }
    Ok(())
}

/// What a new bucket starts with besides its name and region.
#[derive(Debug, Clone)]
pub struct BucketInit {
    /// The owning account.
    pub owner: String,
    /// `x-amz-object-ownership` (default `BucketOwnerEnforced`).
    pub ownership: ObjectOwnership,
    /// The bucket ACL when not the owner's FULL_CONTROL alone.
    pub acl: Option<Acl>,
}

impl BucketInit {
    pub fn owned_by(owner: &str) -> BucketInit {
        BucketInit {
            owner: owner.to_string(),
            ownership: ObjectOwnership::default(),
            acl: None,
        }
    }
}

impl Service {
    /// Creates a bucket owned by `init.owner`. `location`: the LocationConstraint the client asked
    /// for, if any. A name another account owns is `BucketAlreadyExists`, as in AWS, where the
    /// bucket namespace is shared by all accounts.
    pub fn create_bucket_owned(
        &self,
        name: &str,
        location: Option<&str>,
        init: BucketInit,
    ) -> Result<(), ServiceError> {
        let owner = init.owner.as_str();
        validate_bucket_name(name)?;
        if let Some(loc) = location
            && !loc.is_empty()
            && loc != self.region
        {
            return Err(ServiceError::InvalidArgument(format!(
                "The {loc} location constraint is incompatible for the region specific endpoint \
                 this request was sent to."
            )));
        }
        let record = BucketRecord {
            created_ms: self.now_millis(),
            region: self.region.clone(),
            owner: Some(owner.to_string()),
            ownership: init.ownership,
            acl: init.acl,
            ..Default::default()
        };
        match self.store.create_bucket(name, &record) {
            Err(crate::storage::StorageError::BucketExists) => {
                let existing = self.store.get_bucket(name)?;
                match existing {
                    Some(rec) if rec.owner_or(&self.default_account) != owner => {
                        Err(ServiceError::BucketAlreadyExists)
                    }
                    _ => Err(ServiceError::BucketAlreadyOwnedByYou),
                }
            }
            r => Ok(r?),
        }
    }

    /// Creates a bucket owned by the default account.
    pub fn create_bucket(&self, name: &str, location: Option<&str>) -> Result<(), ServiceError> {
        let init = BucketInit::owned_by(&self.default_account);
        self.create_bucket_owned(name, location, init)
    }

    pub async fn create_bucket_durable(
        &self,
        name: &str,
        location: Option<&str>,
        init: BucketInit,
    ) -> Result<(), ServiceError> {
        self.create_bucket_owned(name, location, init)?;
        self.store.flush().await?;
        Ok(())
    }

    pub fn head_bucket(&self, name: &str) -> Result<BucketRecord, ServiceError> {
        self.store
            .get_bucket(name)?
            .ok_or(ServiceError::NoSuchBucket)
    }

    /// Deletes a bucket that holds no object. Its uploads in progress are discarded with it,
    /// as AWS does, and every part they had is reclaimed.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), ServiceError> {
        let discarded = self.store.delete_bucket(name)?;
        self.store.flush().await?;
        self.delete_stream_ids(&discarded.streams);
        for id in &discarded.upload_ids {
            self.sweep_late_parts(id);
        }
        Ok(())
    }

    /// Sets (or with `None` removes) the bucket's default encryption.
    pub async fn set_bucket_encryption(
        &self,
        name: &str,
        encryption: Option<crate::storage::records::BucketEncryption>,
    ) -> Result<(), ServiceError> {
        self.update_bucket(name, |rec| rec.encryption = encryption)
            .await
    }

    /// Changes a bucket's configuration durably. Configuration changes are rare, so the
    /// read-modify-write is not guarded against a concurrent change of another field.
    pub async fn update_bucket(
        &self,
        name: &str,
        change: impl FnOnce(&mut BucketRecord),
    ) -> Result<(), ServiceError> {
        let mut rec = self.head_bucket(name)?;
        change(&mut rec);
        self.store.update_bucket(name, &rec)?;
        self.store.flush().await?;
        Ok(())
    }

    /// The account that owns `rec`'s bucket.
    pub fn bucket_owner<'a>(&'a self, rec: &'a BucketRecord) -> &'a str {
        rec.owner_or(&self.default_account)
    }

    pub fn default_account(&self) -> &str {
        &self.default_account
    }

    pub fn list_buckets(&self) -> Result<Vec<(String, BucketRecord)>, ServiceError> {
        Ok(self.store.list_buckets()?)
    }
}

#[cfg(test)]
mod tests {
    use super::validate_bucket_name;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.data", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "ABC",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a_b",
            "a b",
        ] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
