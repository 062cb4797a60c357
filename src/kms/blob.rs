//! The KMS ciphertext blob, format v1: what `Encrypt` and `GenerateDataKey` return and what
//! `Decrypt` takes.
//!
//! The blob names its own key and key version, so decrypting needs no key id; the header is
//! authenticated (it is the first part of the AAD), and the encryption context is bound to the
//! blob through the AAD in a length-prefixed canonical form, so `{"ab":"c"}` and `{"a":"bc"}`
//! give different AADs. Parsing never panics on arbitrary bytes: every failure is
//! [`KmsError::InvalidCiphertext`], which says nothing about what exactly was wrong.
//!
//! Committed golden blobs (`tests/golden/kms_blob_v1.hex`) must keep decrypting in every later
//! version: add a new format version rather than change this one.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{EncryptionContext, KmsError, SecretBytes};
use crate::secret::{Key32, fill_random};

// Layout of a v1 blob (all sizes in bytes; big-endian integers):
//
// ```text
// offset  size  field
// 0       1     format version = 0x01                    VERSION_OFFSET
// 1       16    KMS key id (UUID bytes)                  KEY_ID_OFFSET
// 17      4     key material version (u32be)             KEY_VERSION_OFFSET
// 21      12    nonce (random)                           NONCE_OFFSET
// 33      n     AES-256-GCM ciphertext of the plaintext  HEADER_LEN
// 33+n    16    GCM tag
// AAD = bytes 0..HEADER_LEN || canonical(encryption context)
// canonical(ctx) = for each pair sorted by key bytes: u32be len(k) || k || u32be len(v) || v
// ```

/// Format version byte of v1 blobs. Do not change.
pub const BLOB_V1: u8 = 0x01;
/// Size of the version field. Do not change.
pub const VERSION_LEN: usize = 1;
/// Size of the key id field (UUID bytes). Do not change.
pub const KEY_ID_LEN: usize = 16;
/// Size of the key material version field (u32be). Do not change.
pub const KEY_VERSION_LEN: usize = 4;
/// AES-GCM nonce size. Do not change.
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag size. Do not change.
pub const TAG_LEN: usize = 16;

pub const VERSION_OFFSET: usize = 0;
pub const KEY_ID_OFFSET: usize = VERSION_OFFSET + VERSION_LEN;
pub const KEY_VERSION_OFFSET: usize = KEY_ID_OFFSET + KEY_ID_LEN;
pub const NONCE_OFFSET: usize = KEY_VERSION_OFFSET + KEY_VERSION_LEN;
/// Length of the header, which is also the part of the AAD taken from the blob (33).
pub const HEADER_LEN: usize = NONCE_OFFSET + NONCE_LEN;

/// Largest plaintext `Encrypt` accepts (AWS's limit for symmetric keys).
pub const MAX_PLAINTEXT_LEN: usize = 4096;
/// Smallest well-formed blob: header and tag around an empty ciphertext.
pub const MIN_BLOB_LEN: usize = HEADER_LEN + TAG_LEN;
/// Largest blob we ever produce, so anything longer is rejected before any work is done.
pub const MAX_BLOB_LEN: usize = HEADER_LEN + MAX_PLAINTEXT_LEN + TAG_LEN;

const _: () = assert!(HEADER_LEN == 33, "the v1 header is 33 bytes; do not change");

/// The parsed, not yet authenticated, parts of a v1 blob.
#[derive(Debug, Clone, Copy)]
pub struct ParsedBlob<'a> {
    pub key_id: Uuid,
    pub key_version: u32,
    header: &'a [u8],
    nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the tag.
    sealed: &'a [u8],
}

/// Splits a blob into its fields. Checks only the framing; [`open`] authenticates.
pub fn parse(blob: &[u8]) -> Result<ParsedBlob<'_>, KmsError> {
    if blob.len() < MIN_BLOB_LEN || blob.len() > MAX_BLOB_LEN {
        return Err(KmsError::InvalidCiphertext);
    }
    let (header, sealed) = blob.split_at(HEADER_LEN);
    if header[VERSION_OFFSET] != BLOB_V1 {
        return Err(KmsError::InvalidCiphertext);
    }
    let key_id: [u8; KEY_ID_LEN] = header[KEY_ID_OFFSET..KEY_VERSION_OFFSET]
        .try_into()
        .map_err(|_| KmsError::InvalidCiphertext)?;
    let version: [u8; KEY_VERSION_LEN] = header[KEY_VERSION_OFFSET..NONCE_OFFSET]
        .try_into()
        .map_err(|_| KmsError::InvalidCiphertext)?;
    let nonce: [u8; NONCE_LEN] = header[NONCE_OFFSET..HEADER_LEN]
        .try_into()
        .map_err(|_| KmsError::InvalidCiphertext)?;
    Ok(ParsedBlob {
        key_id: Uuid::from_bytes(key_id),
        key_version: u32::from_be_bytes(version),
        header,
        nonce,
        sealed,
    })
}

/// The canonical byte form of an encryption context: pairs in key byte order, each field
/// prefixed by its u32be length. (A `BTreeMap<String, _>` iterates in byte order of the UTF-8
/// keys, which is the order required here.)
pub fn canonical_context(ctx: &EncryptionContext) -> Result<Vec<u8>, KmsError> {
    let mut out = Vec::new();
    for (k, v) in ctx {
        for field in [k.as_bytes(), v.as_bytes()] {
            let len = u32::try_from(field.len()).map_err(|_| {
                KmsError::InvalidArgument("encryption context entry is too long".into())
            })?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field);
        }
    }
    Ok(out)
}

fn aad(header: &[u8], ctx: &EncryptionContext) -> Result<Vec<u8>, KmsError> {
    let mut out = header.to_vec();
    out.extend_from_slice(&canonical_context(ctx)?);
    Ok(out)
}

/// Encrypts `plaintext` under one version of a KMS key into a v1 blob, with a random nonce.
pub fn seal(
    material: &Key32,
    key_id: Uuid,
    key_version: u32,
    plaintext: &[u8],
    ctx: &EncryptionContext,
) -> Result<Vec<u8>, KmsError> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce).map_err(|e| KmsError::Internal(e.to_string()))?;
    seal_with_nonce(material, key_id, key_version, &nonce, plaintext, ctx)
}

/// [`seal`] with a given nonce: only for [`seal`] itself and the golden-file tests. A nonce must
/// never repeat under one key version.
pub(crate) fn seal_with_nonce(
    material: &Key32,
    key_id: Uuid,
    key_version: u32,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    ctx: &EncryptionContext,
) -> Result<Vec<u8>, KmsError> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(KmsError::InvalidArgument(format!(
            "plaintext is longer than {MAX_PLAINTEXT_LEN} bytes"
        )));
    }
    let mut blob = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    blob.push(BLOB_V1);
    blob.extend_from_slice(key_id.as_bytes());
    blob.extend_from_slice(&key_version.to_be_bytes());
    blob.extend_from_slice(nonce);
    debug_assert_eq!(blob.len(), HEADER_LEN);
    let aad = aad(&blob, ctx)?;
    blob.extend_from_slice(plaintext);
    let cipher = Aes256Gcm::new(material.expose().into());
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::from(*nonce),
            &aad,
            blob[HEADER_LEN..].as_mut().into(),
        )
        .map_err(|_| {
            // Unreachable after the length check; still, leave no plaintext behind.
            zeroize::Zeroize::zeroize(&mut blob);
            KmsError::Internal("AES-GCM encryption failed".into())
        })?;
    blob.extend_from_slice(tag.as_slice());
    Ok(blob)
}

/// Authenticates and decrypts a parsed blob with the material of the key version it names.
/// Any mismatch (material, context, header, tag) is [`KmsError::InvalidCiphertext`].
pub fn open(
    material: &Key32,
    blob: &ParsedBlob<'_>,
    ctx: &EncryptionContext,
) -> Result<SecretBytes, KmsError> {
    let aad = aad(blob.header, ctx)?;
    let ct_len = blob
        .sealed
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(KmsError::InvalidCiphertext)?;
    let (ct, tag) = blob.sealed.split_at(ct_len);
    let tag = aes_gcm::Tag::try_from(tag).map_err(|_| KmsError::InvalidCiphertext)?;
    let mut buf = Zeroizing::new(ct.to_vec());
    let cipher = Aes256Gcm::new(material.expose().into());
    cipher
        .decrypt_inout_detached(
            &Nonce::from(blob.nonce),
            &aad,
            buf.as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| KmsError::InvalidCiphertext)?;
    Ok(SecretBytes::new(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn key() -> Key32 {
        Key32::from_bytes([0x42; 32])
    }

    #[test]
    fn layout_offsets() {
        assert_eq!(KEY_ID_OFFSET, 1);
        assert_eq!(KEY_VERSION_OFFSET, 17);
        assert_eq!(NONCE_OFFSET, 21);
        assert_eq!(HEADER_LEN, 33);
        let id = Uuid::from_bytes([9; 16]);
        let blob = seal(&key(), id, 7, b"hello", &ctx(&[])).unwrap();
        assert_eq!(blob.len(), HEADER_LEN + 5 + TAG_LEN);
        assert_eq!(blob[0], BLOB_V1);
        assert_eq!(&blob[KEY_ID_OFFSET..KEY_VERSION_OFFSET], &[9; 16]);
        assert_eq!(&blob[KEY_VERSION_OFFSET..NONCE_OFFSET], &[0, 0, 0, 7]);
    }

    #[test]
    fn round_trip() {
        let id = Uuid::from_bytes([1; 16]);
        let c = ctx(&[("aws:s3:arn", "arn:aws:s3:::b/k")]);
        for len in [0usize, 1, 32, MAX_PLAINTEXT_LEN] {
            let pt = vec![0xA5; len];
            let blob = seal(&key(), id, 3, &pt, &c).unwrap();
            let parsed = parse(&blob).unwrap();
            assert_eq!(parsed.key_id, id);
            assert_eq!(parsed.key_version, 3);
            assert_eq!(open(&key(), &parsed, &c).unwrap().expose(), &pt[..]);
        }
    }

    #[test]
    fn plaintext_limit() {
        let id = Uuid::from_bytes([1; 16]);
        let pt = vec![0; MAX_PLAINTEXT_LEN + 1];
        assert!(matches!(
            seal(&key(), id, 1, &pt, &ctx(&[])),
            Err(KmsError::InvalidArgument(_))
        ));
        // A blob longer than any we make is rejected unread.
        let mut blob = vec![BLOB_V1; MAX_BLOB_LEN + 1];
        assert!(matches!(parse(&blob), Err(KmsError::InvalidCiphertext)));
        blob.truncate(MIN_BLOB_LEN - 1);
        assert!(matches!(parse(&blob), Err(KmsError::InvalidCiphertext)));
    }

    #[test]
    fn context_is_aad() {
        let id = Uuid::from_bytes([2; 16]);
        let c = ctx(&[("a", "1"), ("b", "2")]);
        let blob = seal(&key(), id, 1, b"secret", &c).unwrap();
        let p = parse(&blob).unwrap();
        assert!(open(&key(), &p, &c).is_ok());
        for other in [
            ctx(&[]),
            ctx(&[("a", "1")]),
            ctx(&[("a", "1"), ("b", "2"), ("c", "3")]),
            ctx(&[("a", "1"), ("b", "3")]),
            ctx(&[("a", "1"), ("B", "2")]),
        ] {
            assert!(matches!(
                open(&key(), &p, &other),
                Err(KmsError::InvalidCiphertext)
            ));
        }
        // Wrong material, too.
        let wrong = Key32::from_bytes([0x43; 32]);
        assert!(matches!(
            open(&wrong, &p, &c),
            Err(KmsError::InvalidCiphertext)
        ));
    }

    #[test]
    fn canonical_form_is_length_prefixed() {
        let a = canonical_context(&ctx(&[("ab", "c")])).unwrap();
        let b = canonical_context(&ctx(&[("a", "bc")])).unwrap();
        assert_ne!(a, b);
        assert_eq!(a, b"\0\0\0\x02ab\0\0\0\x01c");
        let id = Uuid::from_bytes([3; 16]);
        let blob = seal(&key(), id, 1, b"x", &ctx(&[("ab", "c")])).unwrap();
        let p = parse(&blob).unwrap();
        assert!(matches!(
            open(&key(), &p, &ctx(&[("a", "bc")])),
            Err(KmsError::InvalidCiphertext)
        ));
        // Sorted by key bytes, whatever the insertion order.
        let sorted = canonical_context(&ctx(&[("b", ""), ("a", "")])).unwrap();
        assert_eq!(sorted, b"\0\0\0\x01a\0\0\0\0\0\0\0\x01b\0\0\0\0");
    }

    #[test]
    fn header_is_authenticated() {
        let id = Uuid::from_bytes([4; 16]);
        let c = ctx(&[]);
        let blob = seal(&key(), id, 1, b"payload", &c).unwrap();
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 0x01;
            match parse(&b) {
                Ok(p) => assert!(open(&key(), &p, &c).is_err(), "flip at {i} accepted"),
                Err(e) => assert!(matches!(e, KmsError::InvalidCiphertext)),
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = parse(&bytes) {
                prop_assert!(open(&key(), &p, &EncryptionContext::new()).is_err());
            }
        }

        #[test]
        fn truncated_or_extended_blobs_fail(cut in 0usize..60, extra in proptest::collection::vec(any::<u8>(), 0..4)) {
            let id = Uuid::from_bytes([5; 16]);
            let c = EncryptionContext::new();
            let blob = seal(&key(), id, 1, b"twenty bytes of text", &c).unwrap();
            let mut b = blob[..cut.min(blob.len())].to_vec();
            b.extend_from_slice(&extra);
            if b != blob
                && let Ok(p) = parse(&b) {
                    prop_assert!(open(&key(), &p, &c).is_err());
                }
        }
    }
}
