//! The root key: the one secret outside the database. It seals every KMS key version's
//! material (and anything else the server must keep secret at rest, such as dev credentials).
//!
//! It comes from a file holding 64 hex characters (whitespace around them ignored) or from a
//! hex string in the environment. A dev default may create the file on first start
//! ([`RootKey::create_dev_key_file`]), never overwriting one. Sealed values are
//! `nonce || ciphertext || tag` (AES-256-GCM, random nonce) with caller-chosen AAD that names
//! what is sealed, so a sealed value cannot be swapped for another of a different purpose.
//!
//! ```text
//! offset  size  field
//! 0       12    nonce (random)          SEAL_NONCE_LEN
//! 12      n     ciphertext
//! 12+n    16    GCM tag                 SEAL_TAG_LEN
//! ```

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use super::SecretBytes;
use crate::secret::{KEY_LEN, Key32, RandomError, fill_random};

/// Nonce size of a sealed value. Do not change.
pub const SEAL_NONCE_LEN: usize = 12;
/// Tag size of a sealed value. Do not change.
pub const SEAL_TAG_LEN: usize = 16;
/// Smallest sealed value (empty plaintext).
pub const SEAL_OVERHEAD: usize = SEAL_NONCE_LEN + SEAL_TAG_LEN;
/// Number of hex characters in a root key file.
pub const ROOT_KEY_HEX_LEN: usize = 2 * KEY_LEN;
/// A root key file larger than this is not one (read no further than needed to say so).
const MAX_ROOT_KEY_FILE_LEN: u64 = 4096;

/// Why the root key could not be loaded or created. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    #[error("no root key configured: set a root key file or the root key environment variable")]
    NotConfigured,
    #[error("root key file {} does not exist", .0.display())]
    Missing(PathBuf),
    #[error("root key file {} cannot be read: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("root key from {0} is malformed: {1}")]
    Malformed(String, &'static str),
    #[error("root key file {} already exists; refusing to overwrite it", .0.display())]
    AlreadyExists(PathBuf),
    #[error("root key file {} cannot be written: {source}", .path.display())]
    Unwritable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// Sealing failed (only if the OS random source fails or the input is absurdly large).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("value too large to seal")]
    TooLarge,
}

/// A sealed value did not authenticate under this root key and AAD (wrong root key, wrong
/// purpose, or corrupted).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("sealed value does not authenticate under the root key")]
pub struct UnsealError;

/// The root key. `Debug` is redacted (via [`Key32`]).
#[derive(Clone)]
pub struct RootKey(Key32);

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

impl RootKey {
    pub fn from_key(key: Key32) -> Self {
        RootKey(key)
    }

    /// Loads the root key: from `hex_env` (the environment's hex string) if given, else from
    /// `file`. The environment takes precedence, as every environment override does. Warns
    /// (does not fail) if the file is readable by group or others.
    pub fn load(file: Option<&Path>, hex_env: Option<&str>) -> Result<RootKey, RootKeyError> {
        if let Some(hex) = hex_env {
            return parse_hex(hex, "the environment").map(RootKey);
        }
        let Some(path) = file else {
            return Err(RootKeyError::NotConfigured);
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RootKeyError::Missing(path.to_path_buf()));
            }
            Err(e) => {
                return Err(RootKeyError::Unreadable {
                    path: path.to_path_buf(),
                    source: e,
                });
            }
        };
        if !meta.is_file() {
            return Err(RootKeyError::Malformed(
                path.display().to_string(),
                "not a regular file",
            ));
        }
        if meta.len() > MAX_ROOT_KEY_FILE_LEN {
            return Err(RootKeyError::Malformed(
                path.display().to_string(),
                "file is far too large to hold a 64-hex-character key",
            ));
        }
        warn_if_permissions_open(path, &meta);
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| RootKeyError::Unreadable {
            path: path.to_path_buf(),
            source: e,
        })?);
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            RootKeyError::Malformed(path.display().to_string(), "not 64 hex characters")
        })?;
        parse_hex(text, &path.display().to_string()).map(RootKey)
    }

    /// Writes a fresh random root key to `path` as hex, mode 0600, failing if the file exists.
    pub fn create_dev_key_file(path: &Path) -> Result<RootKey, RootKeyError> {
        let key = Key32::random()?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = match opts.open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(RootKeyError::AlreadyExists(path.to_path_buf()));
            }
            Err(e) => {
                return Err(RootKeyError::Unwritable {
                    path: path.to_path_buf(),
                    source: e,
                });
            }
        };
        let mut text = Zeroizing::new(hex::encode(key.expose()));
        text.push('\n');
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| RootKeyError::Unwritable {
                path: path.to_path_buf(),
                source: e,
            })?;
        Ok(RootKey(key))
    }

    /// Seals `plaintext` bound to `aad`: `nonce || ciphertext || tag`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; SEAL_NONCE_LEN];
        fill_random(&mut nonce)?;
        self.seal_with_nonce(&nonce, aad, plaintext)
    }

    /// [`RootKey::seal`] with a given nonce: only for `seal` and golden-file tests.
    pub(crate) fn seal_with_nonce(
        &self,
        nonce: &[u8; SEAL_NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let mut out = Vec::with_capacity(SEAL_OVERHEAD + plaintext.len());
        out.extend_from_slice(nonce);
        out.extend_from_slice(plaintext);
        let tag = Aes256Gcm::new(self.0.expose().into())
            .encrypt_inout_detached(
                &Nonce::from(*nonce),
                aad,
                out[SEAL_NONCE_LEN..].as_mut().into(),
            )
            .map_err(|_| {
                // Leave no plaintext behind in the freed buffer.
                zeroize::Zeroize::zeroize(&mut out);
                SealError::TooLarge
            })?;
        out.extend_from_slice(tag.as_slice());
        Ok(out)
    }

    /// Opens a value made by [`RootKey::seal`] with the same `aad`.
    pub fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<SecretBytes, UnsealError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(UnsealError);
        }
        let (nonce, rest) = sealed.split_at(SEAL_NONCE_LEN);
        let (ct, tag) = rest.split_at(rest.len() - SEAL_TAG_LEN);
        let nonce: [u8; SEAL_NONCE_LEN] = nonce.try_into().map_err(|_| UnsealError)?;
        let tag = aes_gcm::Tag::try_from(tag).map_err(|_| UnsealError)?;
        let mut buf = Zeroizing::new(ct.to_vec());
        Aes256Gcm::new(self.0.expose().into())
            .decrypt_inout_detached(&Nonce::from(nonce), aad, buf.as_mut_slice().into(), &tag)
            .map_err(|_| UnsealError)?;
        Ok(SecretBytes::new(buf))
    }
}

fn parse_hex(text: &str, source: &str) -> Result<Key32, RootKeyError> {
    let t = text.trim();
    if t.len() != ROOT_KEY_HEX_LEN {
        return Err(RootKeyError::Malformed(
            source.to_string(),
            "expected exactly 64 hex characters (32 bytes)",
        ));
    }
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(t, bytes.as_mut_slice()).map_err(|_| {
        RootKeyError::Malformed(source.to_string(), "contains characters that are not hex")
    })?;
    Ok(Key32::from_bytes(*bytes))
}

#[cfg(unix)]
fn warn_if_permissions_open(path: &Path, meta: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "root key file is readable or writable by group or others; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_permissions_open(_path: &Path, _meta: &std::fs::Metadata) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_from_env_and_file() {
        let hex64 = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let k = RootKey::load(None, Some(&format!("  {hex64}\n"))).unwrap();
        assert_eq!(k.0.expose()[1], 0x11);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("root.key");
        std::fs::write(&p, format!("{hex64}\n")).unwrap();
        let k2 = RootKey::load(Some(&p), None).unwrap();
        assert!(k.0.ct_eq(&k2.0));
    }

    #[test]
    fn load_errors_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope.key");
        let e = RootKey::load(Some(&p), None).unwrap_err();
        assert!(matches!(e, RootKeyError::Missing(_)));
        assert!(e.to_string().contains("does not exist"));
        assert!(matches!(
            RootKey::load(None, None),
            Err(RootKeyError::NotConfigured)
        ));
        std::fs::write(&p, "abcd").unwrap();
        let e = RootKey::load(Some(&p), None).unwrap_err();
        assert!(e.to_string().contains("64 hex"), "{e}");
        let bad = "zz".repeat(32);
        std::fs::write(&p, &bad).unwrap();
        let e = RootKey::load(Some(&p), None).unwrap_err();
        assert!(e.to_string().contains("not hex"), "{e}");
        assert!(!e.to_string().contains(&bad));
        let e = RootKey::load(Some(dir.path()), None).unwrap_err();
        assert!(matches!(e, RootKeyError::Malformed(..)));
    }

    #[test]
    fn dev_key_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("root.key");
        let k = RootKey::create_dev_key_file(&p).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = RootKey::load(Some(&p), None).unwrap();
        assert!(k.0.ct_eq(&again.0));
        assert!(matches!(
            RootKey::create_dev_key_file(&p),
            Err(RootKeyError::AlreadyExists(_))
        ));
        let still = RootKey::load(Some(&p), None).unwrap();
        assert!(k.0.ct_eq(&still.0));
    }

    #[test]
    fn seal_round_trip_and_aad_binding() {
        let k = RootKey::from_key(Key32::from_bytes([1; 32]));
        let s = k.seal(b"purpose-a", b"top secret").unwrap();
        assert_eq!(s.len(), SEAL_OVERHEAD + 10);
        assert_eq!(k.unseal(b"purpose-a", &s).unwrap().expose(), b"top secret");
        assert!(k.unseal(b"purpose-b", &s).is_err());
        let other = RootKey::from_key(Key32::from_bytes([2; 32]));
        assert!(other.unseal(b"purpose-a", &s).is_err());
        for n in 0..s.len() {
            assert!(k.unseal(b"purpose-a", &s[..n]).is_err());
        }
        assert_eq!(format!("{k:?}"), "RootKey(<redacted>)");
    }
}
