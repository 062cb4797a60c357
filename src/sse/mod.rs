//! Server-side encryption: which key protects an object, and the envelope around its body.
//!
//! Every object is encrypted; the modes only differ in what wraps the data key:
//! - SSE-S3: the service-owned KMS key, which no API can reach;
//! - SSE-KMS: a customer key or the AWS-managed `alias/aws/s3` key;
//! - DSSE-KMS: as SSE-KMS, but two data keys (same KMS key and context), one per layer of the
//!   dual-layer chunk scheme (`chunk::SCHEME_DSSE_V1`); never with a bucket key;
//! - SSE-C: the customer's key is the data key and is never stored; the record keeps its MD5
//!   (as the client sent it) and an HMAC-SHA256 of it under a server-side key, which decides
//!   whether a later request's key is the right one before anything is decrypted.
//!
//! The data key is bound to the object by the encryption context
//! `{"aws:s3:arn": "arn:aws:s3:::BUCKET/KEY"}`, merged with the caller's own context. Keys are
//! reached only through [`KeyProvider`], so an external KMS could slot in.

pub mod chunk;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::kms::{EncryptionContext, KeyProvider, KeyRef, KmsError};
use crate::secret::Key32;
use crate::sse::chunk::DataKeys;
use crate::storage::records::{SseMode, SseRecord};

/// The encryption context key S3 binds every data key to.
pub const S3_ARN_CONTEXT_KEY: &str = "aws:s3:arn";

/// What a request (or the bucket default) asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum SseSpec {
    /// `x-amz-server-side-encryption: AES256`, or nothing at all.
    S3,
    /// `x-amz-server-side-encryption: aws:kms`.
    Kms {
        /// Key id, ARN, alias or alias ARN; `None` means `alias/aws/s3`.
        key_id: Option<String>,
        /// The caller's `x-amz-server-side-encryption-context`, decoded.
        context: Option<EncryptionContext>,
        bucket_key: bool,
    },
    /// SSE-C: `x-amz-server-side-encryption-customer-*`.
    Customer(CustomerKey),
    /// `x-amz-server-side-encryption: aws:kms:dsse`: two layers, two data keys from the same KMS
    /// key and context. Bucket keys never apply.
    Dsse {
        /// Key id, ARN, alias or alias ARN; `None` means `alias/aws/s3`.
        key_id: Option<String>,
        /// The caller's `x-amz-server-side-encryption-context`, decoded.
        context: Option<EncryptionContext>,
    },
}

/// A customer-provided key (SSE-C), validated against its MD5. Never stored, never logged.
#[derive(Debug, Clone)]
pub struct CustomerKey {
    pub key: Key32,
    /// Base64 MD5 of the key, as the client sent it (and as it is echoed).
    pub md5_b64: String,
}

impl PartialEq for CustomerKey {
    fn eq(&self, other: &Self) -> bool {
        self.key.ct_eq(&other.key)
    }
}

/// The server-side key SSE-C key MACs are computed under.
pub type CustomerMacKey = Key32;

/// HMAC-SHA256 of a customer key under the server-side MAC key.
pub fn customer_key_mac(mac_key: &CustomerMacKey, ck: &CustomerKey) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    // `new_from_slice` cannot fail for HMAC-SHA256 (any key length is accepted).
    let Ok(mut mac) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(mac_key.expose()) else {
        return vec![0u8; 32];
    };
    mac.update(b"coffer/v1/sse-c-key\0");
    mac.update(ck.key.expose());
    mac.finalize().into_bytes().to_vec()
}

/// The envelope of an SSE-C object: the customer key is the data key; only its MD5 and MAC
/// are recorded.
pub fn customer_envelope(mac_key: &CustomerMacKey, ck: &CustomerKey) -> (SseRecord, Key32) {
    let record = SseRecord {
        mode: SseMode::Customer,
        kms_key_arn: None,
        wrapped_key: None,
        context: EncryptionContext::new(),
        bucket_key: false,
        customer_key_md5: Some(ck.md5_b64.clone()),
        customer_key_mac: Some(customer_key_mac(mac_key, ck)),
        bucket_key_salt: None,
        outer_wrapped_key: None,
    };
    (record, ck.key.clone())
}

/// Checks a customer key against an SSE-C record (constant time) and returns it as the data key.
pub fn open_customer(
    mac_key: &CustomerMacKey,
    record: &SseRecord,
    ck: Option<&CustomerKey>,
) -> Result<Key32, SseError> {
    let ck = ck.ok_or(SseError::CustomerKeyRequired)?;
    let stored = record
        .customer_key_mac
        .as_deref()
        .ok_or(SseError::Corrupt("no customer key MAC"))?;
    let mac = customer_key_mac(mac_key, ck);
    if !crate::secret::ct_eq(&mac, stored) {
        return Err(SseError::CustomerKeyMismatch);
    }
    Ok(ck.key.clone())
}

#[derive(Debug, thiserror::Error)]
pub enum SseError {
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("the object's encryption record is incomplete: {0}")]
    Corrupt(&'static str),
    #[error(
        "The object was stored using a form of Server Side Encryption. The correct parameters \
         must be provided to retrieve the object."
    )]
    CustomerKeyRequired,
    #[error("Access Denied")]
    CustomerKeyMismatch,
    #[error("The encryption parameters are not applicable to this object.")]
    CustomerKeyNotApplicable,
}

/// The object ARN S3 uses as encryption context.
pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

/// The bucket ARN (the context when a bucket key is enabled).
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// Creates the envelope for a new object (or multipart upload): a fresh data key from the KMS,
/// wrapped under the key `spec` names, bound to the object's encryption context. Returns the
/// record to store and the plaintext data key for this request only.
pub fn new_envelope(
    kms: &dyn KeyProvider,
    spec: &SseSpec,
    bucket: &str,
    key: &str,
) -> Result<(SseRecord, DataKeys), SseError> {
    new_envelope_cached(kms, spec, bucket, key, None)
}

/// [`new_envelope`], with bucket keys served from `cache` when the spec enables them.
pub fn new_envelope_cached(
    kms: &dyn KeyProvider,
    spec: &SseSpec,
    bucket: &str,
    key: &str,
    cache: Option<(&BucketKeyCache, SystemTime)>,
) -> Result<(SseRecord, DataKeys), SseError> {
    let (mode, key_ref, user_ctx, bucket_key) = match spec {
        SseSpec::S3 => (SseMode::S3, KeyRef::ServiceSseS3, None, false),
        SseSpec::Kms {
            key_id,
            context,
            bucket_key,
        } => (
            SseMode::Kms,
            match key_id {
                Some(k) => KeyRef::Named(k),
                None => KeyRef::AwsManagedS3,
            },
            context.as_ref(),
            *bucket_key,
        ),
        SseSpec::Dsse { key_id, context } => (
            SseMode::Dsse,
            match key_id {
                Some(k) => KeyRef::Named(k),
                None => KeyRef::AwsManagedS3,
            },
            context.as_ref(),
            false,
        ),
        SseSpec::Customer(_) => {
            return Err(SseError::InvalidArgument(
                "SSE-C envelopes are made by customer_envelope".into(),
            ));
        }
    };
    let arn = if bucket_key {
        bucket_arn(bucket)
    } else {
        object_arn(bucket, key)
    };
    let mut context = EncryptionContext::new();
    if let Some(user) = user_ctx {
        for (k, v) in user {
            context.insert(k.clone(), v.clone());
        }
    }
    match context.get(S3_ARN_CONTEXT_KEY) {
        Some(v) if *v != arn => {
            return Err(SseError::InvalidArgument(format!(
                "the encryption context key {S3_ARN_CONTEXT_KEY} must be {arn}"
            )));
        }
        _ => {
            context.insert(S3_ARN_CONTEXT_KEY.to_string(), arn);
        }
    }
    kms.authorize_generate(key_ref, &context)?;
    if bucket_key && let Some((cache, now)) = cache {
        let cache_key = BucketKeyId {
            key_ref: match key_ref {
                KeyRef::ServiceSseS3 => "sse-s3".to_string(),
                KeyRef::AwsManagedS3 => "aws/s3".to_string(),
                KeyRef::Named(k) => format!("named:{k}"),
            },
            context: context.clone(),
        };
        // A cached bucket key still obeys the KMS key's state, and an alias moved to another
        // key: one local lookup, no data-key request.
        let cached = match cache.get(&cache_key, now) {
            Some(e) if kms.resolve_key_arn(key_ref)? == e.key_arn => Some(e),
            _ => None,
        };
        let entry = match cached {
            Some(e) => e,
            None => {
                let generated = kms.generate_data_key(key_ref, &context)?;
                let entry = Arc::new(BucketKeyEntry {
                    key: generated.plaintext,
                    wrapped: generated.ciphertext_blob,
                    key_arn: generated.key_arn,
                    created: now,
                });
                cache.insert(cache_key, entry.clone());
                entry
            }
        };
        let mut salt = [0u8; BUCKET_KEY_SALT_LEN];
        crate::secret::fill_random(&mut salt)
            .map_err(|_| SseError::Corrupt("the system random generator failed"))?;
        let data_key = derive_object_key(&entry.key, &salt);
        let record = SseRecord {
            mode,
            kms_key_arn: Some(entry.key_arn.clone()),
            wrapped_key: Some(entry.wrapped.clone()),
            context,
            bucket_key,
            customer_key_md5: None,
            customer_key_mac: None,
            bucket_key_salt: Some(salt.to_vec()),
            outer_wrapped_key: None,
        };
        return Ok((record, DataKeys::single(data_key)));
    }
    let generated = kms.generate_data_key(key_ref, &context)?;
    // DSSE: a second, independent data key from the same KMS key and context. Asked of the key
    // the first one came from, by ARN: an alias moved in between must not split the layers
    // across two keys (nor fail the PUT).
    let (outer_key, outer_wrapped) = if mode == SseMode::Dsse {
        let second = kms.generate_data_key(KeyRef::Named(&generated.key_arn), &context)?;
        if second.key_arn != generated.key_arn {
            return Err(SseError::Corrupt("the KMS key changed between data keys"));
        }
        (Some(second.plaintext), Some(second.ciphertext_blob))
    } else {
        (None, None)
    };
    let record = SseRecord {
        mode,
        kms_key_arn: Some(generated.key_arn),
        wrapped_key: Some(generated.ciphertext_blob),
        context,
        bucket_key,
        customer_key_md5: None,
        customer_key_mac: None,
        bucket_key_salt: None,
        outer_wrapped_key: outer_wrapped,
    };
    Ok((
        record,
        DataKeys {
            inner: generated.plaintext,
            outer: outer_key,
        },
    ))
}

/// Length of the per-object salt under a bucket key.
pub const BUCKET_KEY_SALT_LEN: usize = 32;
const BUCKET_KEY_INFO: &[u8] = b"coffer/v1/bucket-key/object-data-key";
/// How long a bucket key serves new objects before the KMS is asked for a fresh one.
pub const BUCKET_KEY_TTL: Duration = Duration::from_secs(300);
/// Most bucket keys cached at once.
pub const BUCKET_KEY_CACHE_ENTRIES: usize = 1024;

/// An object's data key under a bucket key: distinct per object through its salt.
pub fn derive_object_key(bucket_key: &Key32, salt: &[u8]) -> Key32 {
    let hk = Hkdf::<Sha256>::new(Some(salt), bucket_key.expose());
    let mut okm = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit: expand cannot fail.
    let _ = hk.expand(BUCKET_KEY_INFO, okm.as_mut());
    Key32::from_bytes(*okm)
}

/// Which bucket key an envelope can share: the KMS key as requested and the full context.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketKeyId {
    key_ref: String,
    context: EncryptionContext,
}

pub struct BucketKeyEntry {
    key: Key32,
    wrapped: Vec<u8>,
    key_arn: String,
    created: SystemTime,
}

/// Bucket-level keys for new objects, bounded in time ([`BUCKET_KEY_TTL`]) and in entries.
#[derive(Default)]
pub struct BucketKeyCache {
    entries: Mutex<BTreeMap<BucketKeyId, Arc<BucketKeyEntry>>>,
}

impl BucketKeyCache {
    fn get(&self, id: &BucketKeyId, now: SystemTime) -> Option<Arc<BucketKeyEntry>> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = map.get(id).filter(|e| {
            now.duration_since(e.created)
                .is_ok_and(|age| age < BUCKET_KEY_TTL)
        });
        match fresh {
            Some(e) => Some(e.clone()),
            None => {
                map.remove(id);
                None
            }
        }
    }

    fn insert(&self, id: BucketKeyId, entry: Arc<BucketKeyEntry>) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= BUCKET_KEY_CACHE_ENTRIES {
            // Expired first; if all are fresh, the oldest.
            let now = entry.created;
            map.retain(|_, e| {
                now.duration_since(e.created)
                    .is_ok_and(|a| a < BUCKET_KEY_TTL)
            });
            if map.len() >= BUCKET_KEY_CACHE_ENTRIES
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, e)| e.created)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(id, entry);
    }

    /// Drops every cached key (tests, key-state changes).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Unwraps an object's data keys through the KMS (key state is enforced there): one, or two
/// for DSSE.
pub fn open_envelope(kms: &dyn KeyProvider, record: &SseRecord) -> Result<DataKeys, SseError> {
    match record.mode {
        SseMode::S3 | SseMode::Kms => {
            let blob = record
                .wrapped_key
                .as_deref()
                .ok_or(SseError::Corrupt("no wrapped data key"))?;
            let key = kms.decrypt_data_key(blob, &record.context)?.plaintext;
            match &record.bucket_key_salt {
                Some(salt) => Ok(DataKeys::single(derive_object_key(&key, salt))),
                None => Ok(DataKeys::single(key)),
            }
        }
        SseMode::Dsse => {
            if record.bucket_key_salt.is_some() {
                return Err(SseError::Corrupt("a DSSE record with a bucket key"));
            }
            let blob1 = record
                .wrapped_key
                .as_deref()
                .ok_or(SseError::Corrupt("no wrapped data key"))?;
            let blob2 = record
                .outer_wrapped_key
                .as_deref()
                .ok_or(SseError::Corrupt("no second wrapped data key"))?;
            let inner = kms.decrypt_data_key(blob1, &record.context)?.plaintext;
            let outer = kms.decrypt_data_key(blob2, &record.context)?.plaintext;
            Ok(DataKeys {
                inner,
                outer: Some(outer),
            })
        }
        SseMode::Customer => Err(SseError::CustomerKeyRequired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real KMS, moving `alias/app` to `to` right after the first data key it hands out.
    struct AliasMovesAfterFirstKey {
        kms: crate::kms::Kms,
        to: String,
        calls: std::sync::atomic::AtomicUsize,
    }

    impl KeyProvider for AliasMovesAfterFirstKey {
        fn generate_data_key(
            &self,
            key: KeyRef<'_>,
            context: &EncryptionContext,
        ) -> Result<crate::kms::GeneratedDataKey, KmsError> {
            let r = self.kms.generate_data_key(key, context);
            if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                self.kms.update_alias("alias/app", &self.to)?;
            }
            r
        }

        fn decrypt_data_key(
            &self,
            blob: &[u8],
            context: &EncryptionContext,
        ) -> Result<crate::kms::DecryptedDataKey, KmsError> {
            self.kms.decrypt_data_key(blob, context)
        }

        fn resolve_key_arn(&self, key: KeyRef<'_>) -> Result<String, KmsError> {
            self.kms.resolve_key_arn(key)
        }
    }

    #[test]
    fn dsse_keys_come_from_one_kms_key_when_an_alias_moves_between_them() {
        use crate::kms::{KeyOrigin, Kms, KmsOptions, RootKey};
        let dir = tempfile::tempdir().unwrap();
        let store =
            crate::storage::Store::open(dir.path(), &crate::storage::StoreOptions::default())
                .unwrap();
        let root = RootKey::from_key(Key32::from_bytes([0x5e; 32]));
        let kms = Kms::open(&store, root, KmsOptions::default()).unwrap();
        let a = kms.create_key("a", vec![], KeyOrigin::AwsKms).unwrap();
        let b = kms.create_key("b", vec![], KeyOrigin::AwsKms).unwrap();
        kms.create_alias("alias/app", &a.key_id).unwrap();
        let provider = AliasMovesAfterFirstKey {
            kms,
            to: b.key_id.clone(),
            calls: Default::default(),
        };
        let spec = SseSpec::Dsse {
            key_id: Some("alias/app".into()),
            context: None,
        };
        let (record, keys) = new_envelope(&provider, &spec, "bucket", "key").unwrap();
        assert_eq!(record.kms_key_arn.as_deref(), Some(a.arn.as_str()));
        assert_eq!(provider.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        let opened = open_envelope(&provider, &record).unwrap();
        assert!(opened.inner.ct_eq(&keys.inner));
        let (outer, reopened) = (keys.outer.as_ref().unwrap(), opened.outer.as_ref().unwrap());
        assert!(reopened.ct_eq(outer));
        // The alias did move: the next object's keys come from the other key.
        let (next, _) = new_envelope(&provider, &spec, "bucket", "key2").unwrap();
        assert_eq!(next.kms_key_arn.as_deref(), Some(b.arn.as_str()));
    }

    fn ck(b: u8) -> CustomerKey {
        CustomerKey {
            key: Key32::from_bytes([b; 32]),
            md5_b64: String::new(),
        }
    }

    #[test]
    fn sse_c_envelope_stores_no_key_and_checks_it() {
        let mac = Key32::from_bytes([1u8; 32]);
        let (rec, dk) = customer_envelope(&mac, &ck(7));
        assert!(dk.ct_eq(&ck(7).key));
        assert!(rec.wrapped_key.is_none());
        assert!(rec.kms_key_arn.is_none());
        let stored = rec.customer_key_mac.clone().unwrap();
        assert_ne!(stored, vec![7u8; 32]);
        assert!(open_customer(&mac, &rec, Some(&ck(7))).is_ok());
        assert!(matches!(
            open_customer(&mac, &rec, Some(&ck(8))),
            Err(SseError::CustomerKeyMismatch)
        ));
        assert!(matches!(
            open_customer(&mac, &rec, None),
            Err(SseError::CustomerKeyRequired)
        ));
        // Another server key: the MAC does not verify.
        let other = Key32::from_bytes([2u8; 32]);
        assert!(open_customer(&other, &rec, Some(&ck(7))).is_err());
    }
}
