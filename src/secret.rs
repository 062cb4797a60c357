//! Secret newtypes: key material and data keys live only in these types.
//!
//! Invariants: they zeroize on drop, `Debug` prints `<redacted>`, they have no `PartialEq`
//! (compare with [`Key32::ct_eq`], which is constant-time), and they never implement
//! `Display` or `Serialize`, so a secret cannot reach a log, an error message or the disk by
//! accident.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of every symmetric key Coffer handles (AES-256). Do not change.
pub const KEY_LEN: usize = 32;

/// A 256-bit secret key: root key, KMS key material, data key or stream key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key32([u8; KEY_LEN]);

impl Key32 {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Key32(bytes)
    }

    /// Copies a key out of a slice; `None` unless it is exactly [`KEY_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Key32(arr))
    }

    /// A fresh key from the operating system's CSPRNG.
    pub fn random() -> Result<Self, RandomError> {
        let mut k = [0u8; KEY_LEN];
        fill_random(&mut k)?;
        Ok(Key32(k))
    }

    /// Exposes the bytes to a cipher. Keep the borrow short; never copy into a plain buffer.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Key32) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key32(<redacted>)")
    }
}

/// A secret string, such as a secret access key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: String) -> Self {
        SecretString(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The operating system's random source failed; nothing was generated.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomError;

/// Fills `buf` from the operating system's CSPRNG (keys, nonces, salts, ids).
pub fn fill_random(buf: &mut [u8]) -> Result<(), RandomError> {
    use rand::TryRng;
    rand::rngs::SysRng
        .try_fill_bytes(buf)
        .map_err(|_| RandomError)
}

/// Constant-time comparison of two byte strings (signatures, MACs).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = Key32::from_bytes([7u8; 32]);
        assert_eq!(format!("{k:?}"), "Key32(<redacted>)");
        let s = SecretString::new("wJalrXUtnFEMI".into());
        assert!(!format!("{s:?}").contains("wJal"));
    }

    #[test]
    fn random_keys_differ() {
        let a = Key32::random().unwrap();
        let b = Key32::random().unwrap();
        assert!(!a.ct_eq(&b));
        assert!(a.ct_eq(&a.clone()));
    }
}
