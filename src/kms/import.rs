//! Imported key material (`Origin EXTERNAL`): `GetParametersForImport`, `ImportKeyMaterial`,
//! `DeleteImportedKeyMaterial`, as AWS documents them.
//!
//! `GetParametersForImport` makes a fresh RSA key pair and an import token valid for 24 hours.
//! The private key is kept only sealed under the root key (AAD: key id and token id) in the
//! key record; the token is `0x01 ‖ key id (16) ‖ token id (16)`, base64 on the wire. Only the
//! newest parameters are kept: an older token is refused as invalid. The caller wraps 32
//! bytes of material with RSA-OAEP (SHA-1 or SHA-256, MGF1 with the same hash, empty label),
//! which is what `openssl pkeyutl -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256`
//! does. A token is single-use.
//!
//! Re-importing must bring the same material (AWS's rule); a SHA-256 commitment to the first
//! import (`"coffer/v1/import-commitment" ‖ key id ‖ material`) is what checks it. The
//! material has 256 bits, so the commitment reveals nothing usable.
//!
//! The `rsa` crate (0.9) is of the older RustCrypto generation; it stays in this file.

use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::{Oaep, RsaPrivateKey};
use sha2::Digest;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::store::{self, ImportParamsRecord, KeyManager, KeyOrigin, KeyRecord, KeyState};
use super::validate::pending_deletion;
use super::{Kms, KmsError};
use crate::secret::{Key32, fill_random};

/// How long import parameters stay valid (AWS: 24 hours).
pub const IMPORT_PARAMS_VALIDITY_MS: u64 = 24 * 3_600_000;
/// Import token format version. Do not change.
const TOKEN_V1: u8 = 0x01;
/// Token id length. Do not change.
const TOKEN_ID_LEN: usize = 16;
/// Token length: version, key id, token id.
const TOKEN_LEN: usize = 1 + 16 + TOKEN_ID_LEN;
/// Commitment domain separator. Do not change.
const COMMITMENT_PREFIX: &[u8] = b"coffer/v1/import-commitment";
/// Size of imported symmetric material (AWS: exactly 256 bits).
pub const IMPORTED_MATERIAL_LEN: usize = 32;

/// `WrappingAlgorithm` values supported here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingAlgorithm {
    RsaesOaepSha1,
    RsaesOaepSha256,
}

impl WrappingAlgorithm {
    pub fn parse(s: &str) -> Result<Self, KmsError> {
        match s {
            "RSAES_OAEP_SHA_1" => Ok(WrappingAlgorithm::RsaesOaepSha1),
            "RSAES_OAEP_SHA_256" => Ok(WrappingAlgorithm::RsaesOaepSha256),
            "RSAES_PKCS1_V1_5"
            | "RSA_AES_KEY_WRAP_SHA_1"
            | "RSA_AES_KEY_WRAP_SHA_256"
            | "SM2PKE" => Err(KmsError::Unsupported(format!(
                "WrappingAlgorithm {s} is not supported by Coffer; use RSAES_OAEP_SHA_256 or \
                 RSAES_OAEP_SHA_1"
            ))),
            _ => Err(KmsError::InvalidArgument(format!(
                "1 validation error detected: Value '{}' at 'wrappingAlgorithm' failed to \
                 satisfy constraint: Member must satisfy enum value set",
                s.chars().take(64).collect::<String>()
            ))),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            WrappingAlgorithm::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            WrappingAlgorithm::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
        }
    }
}

/// `WrappingKeySpec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingKeySpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl WrappingKeySpec {
    pub fn parse(s: &str) -> Result<Self, KmsError> {
        match s {
            "RSA_2048" => Ok(WrappingKeySpec::Rsa2048),
            "RSA_3072" => Ok(WrappingKeySpec::Rsa3072),
            "RSA_4096" => Ok(WrappingKeySpec::Rsa4096),
            _ => Err(KmsError::InvalidArgument(format!(
                "1 validation error detected: Value '{}' at 'wrappingKeySpec' failed to \
                 satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, \
                 RSA_4096]",
                s.chars().take(64).collect::<String>()
            ))),
        }
    }

    fn bits(self) -> usize {
        match self {
            WrappingKeySpec::Rsa2048 => 2048,
            WrappingKeySpec::Rsa3072 => 3072,
            WrappingKeySpec::Rsa4096 => 4096,
        }
    }
}

/// What `GetParametersForImport` returns.
#[derive(Debug, Clone)]
pub struct ImportParameters {
    pub key_arn: String,
    pub import_token: Vec<u8>,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// Epoch milliseconds.
    pub parameters_valid_to_ms: u64,
}

impl Kms {
    fn external_key(&self, key: &str) -> Result<KeyRecord, KmsError> {
        let rec = self.resolve_named(key)?;
        if rec.key_manager != KeyManager::Customer {
            return Err(KmsError::AccessDenied(format!(
                "{} is an AWS managed key.",
                rec.arn
            )));
        }
        if rec.origin != KeyOrigin::External {
            return Err(KmsError::Unsupported(format!(
                "{} origin is AWS_KMS which is not valid for this operation.",
                rec.arn
            )));
        }
        if rec.state == KeyState::PendingDeletion {
            return Err(pending_deletion(&rec.arn));
        }
        Ok(rec)
    }

    /// `GetParametersForImport`.
    pub fn get_parameters_for_import(
        &self,
        key: &str,
        algorithm: WrappingAlgorithm,
        spec: WrappingKeySpec,
    ) -> Result<ImportParameters, KmsError> {
        let rec = self.external_key(key)?;
        let id = rec.id()?;
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, spec.bits())
            .map_err(|e| KmsError::Internal(format!("generating the wrapping key: {e}")))?;
        let public_der = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| KmsError::Internal(format!("encoding the wrapping key: {e}")))?
            .into_vec();
        let private_der = private
            .to_pkcs8_der()
            .map_err(|e| KmsError::Internal(format!("encoding the wrapping key: {e}")))?;
        let mut token_id = [0u8; TOKEN_ID_LEN];
        fill_random(&mut token_id).map_err(|e| KmsError::Internal(e.to_string()))?;
        let sealed = self
            .root
            .seal(
                &store::import_key_aad(&id, &token_id),
                private_der.as_bytes(),
            )
            .map_err(|e| KmsError::Internal(e.to_string()))?;
        let valid_to_ms = self.now_ms() + IMPORT_PARAMS_VALIDITY_MS;
        let params = ImportParamsRecord {
            token_id: hex::encode(token_id),
            algorithm: algorithm.as_str().into(),
            sealed_private_key: sealed,
            valid_to_ms,
        };
        self.tables.update_key(&id, |r| {
            if r.state == KeyState::PendingDeletion {
                return Err(pending_deletion(&r.arn));
            }
            r.import_params = Some(params.clone());
            Ok(())
        })?;
        let mut token = Vec::with_capacity(TOKEN_LEN);
        token.push(TOKEN_V1);
        token.extend_from_slice(id.as_bytes());
        token.extend_from_slice(&token_id);
        Ok(ImportParameters {
            key_arn: rec.arn,
            import_token: token,
            public_key: public_der,
            parameters_valid_to_ms: valid_to_ms,
        })
    }

    /// `ImportKeyMaterial`: `valid_to_ms` set means the material expires then.
    pub fn import_key_material(
        &self,
        key: &str,
        import_token: &[u8],
        encrypted_material: &[u8],
        valid_to_ms: Option<u64>,
    ) -> Result<String, KmsError> {
        let rec = self.external_key(key)?;
        let id = rec.id()?;
        let now = self.now_ms();
        if valid_to_ms.is_some_and(|v| v <= now) {
            return Err(KmsError::InvalidArgument(
                "ValidTo must be a time in the future".into(),
            ));
        }
        let token_id = parse_token(import_token, &id)?;
        let params = rec
            .import_params
            .as_ref()
            .filter(|p| {
                crate::secret::ct_eq(p.token_id.as_bytes(), hex::encode(token_id).as_bytes())
            })
            .ok_or_else(|| {
                KmsError::InvalidImportToken(
                    "Import token is not valid for this key; call GetParametersForImport again."
                        .into(),
                )
            })?;
        if params.valid_to_ms <= now {
            return Err(KmsError::ExpiredImportToken(
                "Import token expired. Use GetParametersForImport to get a new import token and \
                 public key, use the new public key to encrypt the key material, and then try \
                 the request again."
                    .into(),
            ));
        }
        let der = self
            .root
            .unseal(
                &store::import_key_aad(&id, &token_id),
                &params.sealed_private_key,
            )
            .map_err(|_| KmsError::Internal("the sealed wrapping key does not unseal".into()))?;
        let private = RsaPrivateKey::from_pkcs8_der(der.expose())
            .map_err(|_| KmsError::Internal("the sealed wrapping key is corrupt".into()))?;
        let padding = match WrappingAlgorithm::parse(&params.algorithm)? {
            WrappingAlgorithm::RsaesOaepSha1 => Oaep::new::<sha1_010::Sha1>(),
            WrappingAlgorithm::RsaesOaepSha256 => Oaep::new::<rsa::sha2::Sha256>(),
        };
        let material = Zeroizing::new(
            private
                .decrypt(padding, encrypted_material)
                .map_err(|_| KmsError::InvalidCiphertext)?,
        );
        let material = Key32::from_slice(&material).ok_or_else(|| {
            KmsError::IncorrectKeyMaterial(format!(
                "Imported key material must be {IMPORTED_MATERIAL_LEN} bytes (256 bits)"
            ))
        })?;
        let digest = commitment(&id, &material);
        let sealed = self.seal_material(&id, 1, &material, now, None)?;
        let rec = self.tables.update_key(&id, |r| {
            if r.state == KeyState::PendingDeletion {
                return Err(pending_deletion(&r.arn));
            }
            if r.import_params.as_ref().map(|p| &p.token_id) != Some(&params.token_id) {
                return Err(KmsError::InvalidImportToken(
                    "Import token was used or replaced meanwhile.".into(),
                ));
            }
            if let Some(d) = &r.imported_material_digest
                && !crate::secret::ct_eq(d.as_bytes(), digest.as_bytes())
            {
                return Err(KmsError::IncorrectKeyMaterial(
                    "The key material is not the material previously imported into this \
                         key."
                        .into(),
                ));
            }
            let mut m = sealed.clone();
            m.origin = KeyOrigin::External;
            m.expires_ms = valid_to_ms;
            r.materials = vec![m];
            r.current_version = 1;
            r.import_params = None;
            r.imported_material_digest = Some(digest.clone());
            if r.state == KeyState::PendingImport {
                r.state = KeyState::Enabled;
            }
            Ok(())
        })?;
        self.drop_cached(&id, None);
        Ok(rec.arn)
    }

    /// `DeleteImportedKeyMaterial`: the key becomes `PendingImport` (unless pending deletion).
    pub fn delete_imported_key_material(&self, key: &str) -> Result<String, KmsError> {
        let rec = self.resolve_named(key)?;
        if rec.origin != KeyOrigin::External {
            return Err(KmsError::Unsupported(format!(
                "{} origin is AWS_KMS which is not valid for this operation.",
                rec.arn
            )));
        }
        let id = rec.id()?;
        let rec = self.tables.update_key(&id, |r| {
            r.materials.clear();
            r.current_version = 0;
            if r.state != KeyState::PendingDeletion {
                r.state = KeyState::PendingImport;
            }
            Ok(())
        })?;
        self.drop_cached(&id, None);
        Ok(rec.arn)
    }
}

fn parse_token(token: &[u8], id: &Uuid) -> Result<[u8; TOKEN_ID_LEN], KmsError> {
    let bad = || KmsError::InvalidImportToken("Import token is not valid for this key.".into());
    if token.len() != TOKEN_LEN || token[0] != TOKEN_V1 || &token[1..17] != id.as_bytes() {
        return Err(bad());
    }
    <[u8; TOKEN_ID_LEN]>::try_from(&token[17..]).map_err(|_| bad())
}

fn commitment(id: &Uuid, material: &Key32) -> String {
    let mut h = sha2::Sha256::new();
    h.update(COMMITMENT_PREFIX);
    h.update(id.as_bytes());
    h.update(material.expose());
    hex::encode(h.finalize())
}
