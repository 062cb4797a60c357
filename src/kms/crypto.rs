//! The cryptographic operations: key material (unsealed from the root key, cached per
//! version), encrypting and decrypting ciphertext blobs, data keys, and the [`KeyProvider`]
//! the S3 side uses.

use std::sync::Arc;

use uuid::Uuid;

use super::audit::Source;
use super::blob;
use super::engine::{DataKeyLength, DataKeyOutput, DecryptOutput, EncryptOutput, MAX_DATA_KEY_LEN};
use super::store::{self, KeyOrigin, KeyRecord, MaterialRecord, RotationType};
use super::validate::check_usable;
use super::{
    DecryptedDataKey, EncryptionContext, GeneratedDataKey, KeyProvider, KeyRef, Kms, KmsError,
    SecretBytes,
};
use crate::secret::{Key32, fill_random};

impl Kms {
    /// `Encrypt`: at most [`blob::MAX_PLAINTEXT_LEN`] bytes under the key's current version.
    pub fn encrypt(
        &self,
        key: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<EncryptOutput, KmsError> {
        if plaintext.is_empty() || plaintext.len() > blob::MAX_PLAINTEXT_LEN {
            return Err(KmsError::InvalidArgument(format!(
                "Plaintext must be 1 to {} bytes long",
                blob::MAX_PLAINTEXT_LEN
            )));
        }
        let rec = self.resolve_named(key)?;
        self.seal_under(&rec, plaintext, context)
    }

    /// `Decrypt`. `expected_key` (the request's `KeyId`) must name the key the blob names,
    /// else [`KmsError::IncorrectKey`].
    pub fn decrypt(
        &self,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
        expected_key: Option<&str>,
    ) -> Result<DecryptOutput, KmsError> {
        let expected = match expected_key {
            Some(k) => Some(self.resolve_named(k)?.id()?),
            None => None,
        };
        let parsed = blob::parse(ciphertext_blob)?;
        if expected.is_some_and(|e| e != parsed.key_id) {
            return Err(KmsError::IncorrectKey);
        }
        let (plaintext, key_arn) = self.open_blob(&parsed, context, false)?;
        Ok(DecryptOutput { plaintext, key_arn })
    }

    /// `GenerateDataKey`: a random data key of `length` (1..=1024 bytes) and its blob. (Named
    /// apart from [`KeyProvider::generate_data_key`] so calls on a `Kms` are never ambiguous.)
    pub fn generate_data_key_with(
        &self,
        key: &str,
        context: &EncryptionContext,
        length: DataKeyLength,
    ) -> Result<DataKeyOutput, KmsError> {
        let rec = self.resolve_named(key)?;
        let plaintext = random_data_key(length)?;
        let out = self.seal_under(&rec, plaintext.expose(), context)?;
        Ok(DataKeyOutput {
            plaintext,
            ciphertext_blob: out.ciphertext_blob,
            key_arn: out.key_arn,
        })
    }

    /// `GenerateDataKeyWithoutPlaintext`.
    pub fn generate_data_key_without_plaintext(
        &self,
        key: &str,
        context: &EncryptionContext,
        length: DataKeyLength,
    ) -> Result<EncryptOutput, KmsError> {
        let out = self.generate_data_key_with(key, context, length)?;
        Ok(EncryptOutput {
            ciphertext_blob: out.ciphertext_blob,
            key_arn: out.key_arn,
        })
    }

    pub(super) fn seal_material(
        &self,
        id: &Uuid,
        version: u32,
        material: &Key32,
        now: u64,
        rotation_type: Option<RotationType>,
    ) -> Result<MaterialRecord, KmsError> {
        let sealed = self
            .root
            .seal(&store::material_aad(id, version), material.expose())
            .map_err(|e| KmsError::Internal(e.to_string()))?;
        Ok(MaterialRecord {
            version,
            sealed,
            created_ms: now,
            origin: KeyOrigin::AwsKms,
            rotation_type,
            expires_ms: None,
        })
    }

    /// Unsealed material of one version of a key, from the cache or the record.
    pub(super) fn material(&self, rec: &KeyRecord, version: u32) -> Result<Arc<Key32>, KmsError> {
        let id = rec.id()?;
        if let Some(k) = self
            .materials
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(id, version))
        {
            return Ok(k.clone());
        }
        // A version the record does not have: the blob is not one of ours (or forged).
        let m = rec.material(version).ok_or(KmsError::InvalidCiphertext)?;
        let pt = self
            .root
            .unseal(&store::material_aad(&id, version), &m.sealed)
            .map_err(|_| {
                KmsError::Internal(format!(
                    "key material of {} version {version} does not authenticate under the root key",
                    rec.arn
                ))
            })?;
        let key = Arc::new(Key32::from_slice(pt.expose()).ok_or_else(|| {
            KmsError::Internal(format!(
                "key material of {} version {version} has the wrong length",
                rec.arn
            ))
        })?);
        // Cache poisoning only means a panic elsewhere while inserting; the map is still valid.
        self.materials
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((id, version), key.clone());
        Ok(key)
    }

    /// Encrypts under the current version of a usable key.
    pub(super) fn seal_under(
        &self,
        rec: &KeyRecord,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<EncryptOutput, KmsError> {
        check_usable(rec)?;
        let id = rec.id()?;
        let material = self
            .material(rec, rec.current_version)
            .map_err(|e| match e {
                KmsError::InvalidCiphertext => {
                    KmsError::Internal(format!("{} has no current key material", rec.arn))
                }
                e => e,
            })?;
        let ciphertext_blob = blob::seal(&material, id, rec.current_version, plaintext, context)?;
        Ok(EncryptOutput {
            ciphertext_blob,
            key_arn: rec.arn.clone(),
        })
    }

    /// Decrypts a parsed blob; `internal` allows the service key.
    pub(super) fn open_blob(
        &self,
        parsed: &blob::ParsedBlob<'_>,
        context: &EncryptionContext,
        internal: bool,
    ) -> Result<(SecretBytes, String), KmsError> {
        self.open_blob_of(None, parsed, context, internal)
    }

    /// [`Kms::open_blob`] with the key's record when the caller just loaded it (`loaded`, used
    /// only if it is the blob's key): one read of the key store instead of two.
    pub(super) fn open_blob_of(
        &self,
        loaded: Option<KeyRecord>,
        parsed: &blob::ParsedBlob<'_>,
        context: &EncryptionContext,
        internal: bool,
    ) -> Result<(SecretBytes, String), KmsError> {
        let loaded = loaded.filter(|r| r.id().is_ok_and(|id| id == parsed.key_id));
        let rec = match loaded.map_or_else(|| self.load_key(&parsed.key_id), |r| Ok(Some(r)))? {
            Some(r) if internal || !r.service_owned => r,
            _ => return Err(self.key_not_found(&parsed.key_id)),
        };
        check_usable(&rec)?;
        let material = self.material(&rec, parsed.key_version)?;
        let plaintext = blob::open(&material, parsed, context)?;
        Ok((plaintext, rec.arn))
    }

    /// Test-only: the plaintext material of a key version (to prove it is never stored).
    #[cfg(test)]
    pub(crate) fn material_for_test(&self, key: &str, version: u32) -> Result<Key32, KmsError> {
        let rec = self.resolve_named(key)?;
        Ok((*self.material(&rec, version)?).clone())
    }

    /// Test-only: drops cached material, so the next use unseals from the record.
    #[cfg(test)]
    pub(crate) fn clear_cache_for_test(&self) {
        self.materials
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl Kms {
    /// S3's data-key unwrap, with the key's record when the caller (the access check) just
    /// loaded it: see [`Kms::open_blob_of`].
    pub fn decrypt_data_key_of(
        &self,
        loaded: Option<KeyRecord>,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<DecryptedDataKey, KmsError> {
        let parsed = blob::parse(blob);
        let r = parsed.and_then(|parsed| {
            let (pt, key_arn) = self.open_blob_of(loaded, &parsed, context, true)?;
            // A blob of the right key but not a 32-byte data key was not made by
            // generate_data_key.
            let plaintext = Key32::from_slice(pt.expose()).ok_or(KmsError::InvalidCiphertext)?;
            Ok(DecryptedDataKey { plaintext, key_arn })
        });
        let arn = match &r {
            Ok(d) => Some(d.key_arn.clone()),
            Err(_) => blob::parse(blob).ok().map(|p| self.key_arn(&p.key_id)),
        };
        self.audit(
            Source::S3,
            "Decrypt",
            arn.as_deref(),
            Some(context),
            r.as_ref().err(),
        );
        r
    }
}

impl KeyProvider for Kms {
    fn generate_data_key(
        &self,
        key: KeyRef<'_>,
        context: &EncryptionContext,
    ) -> Result<GeneratedDataKey, KmsError> {
        let mut arn = None;
        let r = (|| {
            let rec = self.resolve(key)?;
            arn = Some(rec.arn.clone());
            let plaintext = Key32::random().map_err(|e| KmsError::Internal(e.to_string()))?;
            let out = self.seal_under(&rec, plaintext.expose(), context)?;
            Ok(GeneratedDataKey {
                plaintext,
                ciphertext_blob: out.ciphertext_blob,
                key_arn: out.key_arn,
            })
        })();
        let arn = arn.or_else(|| self.arn_of_ref(key));
        self.audit(
            Source::S3,
            "GenerateDataKey",
            arn.as_deref(),
            Some(context),
            r.as_ref().err(),
        );
        r
    }

    fn decrypt_data_key(
        &self,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<DecryptedDataKey, KmsError> {
        self.decrypt_data_key_of(None, blob, context)
    }

    fn resolve_key_arn(&self, key: KeyRef<'_>) -> Result<String, KmsError> {
        let rec = self.resolve(key)?;
        check_usable(&rec)?;
        Ok(rec.arn)
    }
}

fn random_data_key(length: DataKeyLength) -> Result<SecretBytes, KmsError> {
    let n = length.byte_len();
    if n == 0 || n > MAX_DATA_KEY_LEN {
        return Err(KmsError::InvalidArgument(format!(
            "NumberOfBytes must be 1 to {MAX_DATA_KEY_LEN}"
        )));
    }
    let mut buf = zeroize::Zeroizing::new(vec![0u8; n]);
    fill_random(&mut buf).map_err(|e| KmsError::Internal(e.to_string()))?;
    Ok(SecretBytes::new(buf))
}
