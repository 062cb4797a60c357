//! The v1 chunk cipher: how an object's body is encrypted.
//!
//! ```text
//! stream key  = HKDF-SHA256(ikm = data key, salt = 32 random bytes per stream,
//!                           info = "coffer/v1/stream")                         (32 B)
//! plaintext   = chunk 0 | chunk 1 | ... | chunk n-1, each CHUNK_SIZE bytes but the last,
//!               which may be shorter; an empty body is one empty final chunk
//! chunk i     = AES-256-GCM(stream key, nonce(i), aad = empty, plaintext_i)
//! nonce(i)    = u64be(i) || u32be(i == n-1 ? 1 : 0)                            (12 B)
//! stored      = ciphertext_i || tag_i                                          (len + 16 B)
//! ```
//!
//! The index in the nonce makes reordered or swapped chunks fail; the final flag makes a
//! truncated or extended chunk list fail (the reader always knows which chunk must be final
//! from the plaintext size in the record). Every stream has its own salt, so a re-uploaded part
//! never reuses a key and nonce pair. All of these sizes are part of the format: do not change.
//!
//! The DSSE scheme (`aws:kms:dsse`, [`SCHEME_DSSE_V1`]) is two independent layers of the v1
//! cipher, each under its own KMS data key:
//!
//! ```text
//! inner key   = HKDF-SHA256(ikm = data key 1, salt = stream salt,
//!                           info = "coffer/v1/stream")                         (32 B)
//! outer key   = HKDF-SHA256(ikm = data key 2, salt = stream salt,
//!                           info = "coffer/v1/dsse-outer-stream")              (32 B)
//! inner_i     = AES-256-GCM(inner key, nonce(i), aad = empty, plaintext_i)
//!             = ciphertext1_i || tag1_i
//! stored_i    = AES-256-GCM(outer key, nonce(i), aad = empty, inner_i)
//!             = ciphertext_i || tag1'_i || tag2_i                               (len + 32 B)
//! ```
//!
//! Chunking, nonces and salt are those of v1; the distinct info string keeps the two layers from
//! ever sharing a key even if both data keys were equal. Decryption removes the outer layer,
//! then the inner one; either failing fails the chunk. Do not change.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::secret::Key32;

/// Name of this scheme as stored in object records. Do not change.
pub const SCHEME_V1: &str = "AES-256-GCM/HKDF-SHA256/v1";
/// Plaintext bytes per chunk (the last chunk may be shorter). Do not change for v1.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// AES-GCM tag length, appended to each chunk. Do not change.
pub const TAG_LEN: usize = 16;
/// Per-stream HKDF salt length. Do not change.
pub const SALT_LEN: usize = 32;
/// HKDF info for stream keys. Do not change.
pub const STREAM_KEY_INFO: &[u8] = b"coffer/v1/stream";
/// Name of the dual-layer (DSSE-KMS) scheme as stored in object records. Do not change.
pub const SCHEME_DSSE_V1: &str = "AES-256-GCM-DSSE/HKDF-SHA256/v1";
/// HKDF info for the outer (second) layer's stream keys in [`SCHEME_DSSE_V1`]. Do not change.
pub const OUTER_STREAM_KEY_INFO: &[u8] = b"coffer/v1/dsse-outer-stream";
const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The chunk failed authentication: tampered, misplaced or under the wrong key.
    #[error("chunk {index} failed authentication")]
    Authentication { index: u64 },
    #[error("chunk {index} is shorter than its tag")]
    Truncated { index: u64 },
}

/// Number of chunks a stream of `size` plaintext bytes has (at least one).
pub fn chunk_count(size: u64) -> u64 {
    if size == 0 {
        1
    } else {
        size.div_ceil(CHUNK_SIZE as u64)
    }
}

/// Plaintext length of chunk `index` in a stream of `size` bytes.
pub fn chunk_plain_len(size: u64, index: u64) -> usize {
    let start = index * CHUNK_SIZE as u64;
    (size.saturating_sub(start)).min(CHUNK_SIZE as u64) as usize
}

fn nonce(index: u64, is_final: bool) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut n = [0u8; NONCE_LEN];
    n[..8].copy_from_slice(&index.to_be_bytes());
    n[8..].copy_from_slice(&u32::from(is_final).to_be_bytes());
    n.into()
}

/// Encrypts and decrypts the chunks of one stream.
pub struct StreamCipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for StreamCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamCipher(<redacted>)")
    }
}

/// A buffer a chunk is decrypted in: its bytes, and a way to drop the tag off the end.
/// `Vec<u8>` and `BytesMut` (a piece of a larger read, decrypted without copying) are.
pub trait ChunkBuf: AsMut<[u8]> {
    fn truncate(&mut self, len: usize);
}

impl ChunkBuf for Vec<u8> {
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

impl ChunkBuf for bytes::BytesMut {
    fn truncate(&mut self, len: usize) {
        bytes::BytesMut::truncate(self, len);
    }
}

impl StreamCipher {
    /// Derives the stream key from the object's data key and the stream's salt.
    pub fn new(data_key: &Key32, salt: &[u8; SALT_LEN]) -> StreamCipher {
        StreamCipher::with_info(data_key, salt, STREAM_KEY_INFO)
    }

    fn with_info(data_key: &Key32, salt: &[u8; SALT_LEN], info: &[u8]) -> StreamCipher {
        let hk = Hkdf::<Sha256>::new(Some(salt), data_key.expose());
        let mut okm = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 255 * 32 byte limit: expand cannot fail.
        let _ = hk.expand(info, okm.as_mut());
        let aead = Aes256Gcm::new(&(*okm).into());
        StreamCipher { aead }
    }

    /// Encrypts `buf` (one chunk's plaintext, at most [`CHUNK_SIZE`]) in place and appends the
    /// tag.
    pub fn encrypt_chunk(&self, index: u64, is_final: bool, buf: &mut Vec<u8>) {
        debug_assert!(buf.len() <= CHUNK_SIZE + TAG_LEN);
        let n = nonce(index, is_final);
        // AES-GCM fails only for messages over 64 GiB; a chunk is 64 KiB.
        match self
            .aead
            .encrypt_inout_detached(&n, &[], buf.as_mut_slice().into())
        {
            Ok(tag) => buf.extend_from_slice(tag.as_slice()),
            Err(_) => unreachable!("AES-GCM rejected a 64 KiB message"),
        }
    }

    /// Decrypts one stored chunk (ciphertext || tag) in place, leaving the plaintext.
    pub fn decrypt_chunk(
        &self,
        index: u64,
        is_final: bool,
        buf: &mut impl ChunkBuf,
    ) -> Result<(), ChunkError> {
        let ct_len = buf
            .as_mut()
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(ChunkError::Truncated { index })?;
        let n = nonce(index, is_final);
        let (ct, tag) = buf.as_mut().split_at_mut(ct_len);
        let tag: &[u8] = tag;
        let tag = tag
            .try_into()
            .map_err(|_| ChunkError::Truncated { index })?;
        self.aead
            .decrypt_inout_detached(&n, &[], ct.into(), tag)
            .map_err(|_| ChunkError::Authentication { index })?;
        buf.truncate(ct_len);
        Ok(())
    }
}

/// An object's data keys: one for the single-layer schemes, two for DSSE.
#[derive(Clone)]
pub struct DataKeys {
    /// Data key 1: the only layer, or DSSE's inner layer.
    pub inner: Key32,
    /// Data key 2: DSSE's outer layer.
    pub outer: Option<Key32>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKeys(<redacted>)")
    }
}

impl DataKeys {
    pub fn single(key: Key32) -> DataKeys {
        DataKeys {
            inner: key,
            outer: None,
        }
    }

    /// The chunk scheme these keys encrypt with.
    pub fn scheme(&self) -> &'static str {
        if self.outer.is_some() {
            SCHEME_DSSE_V1
        } else {
            SCHEME_V1
        }
    }
}

/// The chunk cipher of one stream: one layer (v1) or two (DSSE).
pub struct ChunkCipher {
    inner: StreamCipher,
    outer: Option<StreamCipher>,
}

impl std::fmt::Debug for ChunkCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkCipher(<redacted>)")
    }
}

impl ChunkCipher {
    pub fn new(keys: &DataKeys, salt: &[u8; SALT_LEN]) -> ChunkCipher {
        ChunkCipher {
            inner: StreamCipher::new(&keys.inner, salt),
            outer: keys
                .outer
                .as_ref()
                .map(|k| StreamCipher::with_info(k, salt, OUTER_STREAM_KEY_INFO)),
        }
    }

    /// Bytes a stored chunk has beyond its plaintext.
    pub fn overhead(&self) -> usize {
        if self.outer.is_some() {
            2 * TAG_LEN
        } else {
            TAG_LEN
        }
    }

    /// Encrypts one chunk's plaintext in place: inner layer, then (DSSE) outer layer.
    pub fn encrypt_chunk(&self, index: u64, is_final: bool, buf: &mut Vec<u8>) {
        self.inner.encrypt_chunk(index, is_final, buf);
        if let Some(outer) = &self.outer {
            outer.encrypt_chunk(index, is_final, buf);
        }
    }

    /// Decrypts one stored chunk in place: outer layer (DSSE), then inner layer.
    pub fn decrypt_chunk(
        &self,
        index: u64,
        is_final: bool,
        buf: &mut impl ChunkBuf,
    ) -> Result<(), ChunkError> {
        if let Some(outer) = &self.outer {
            outer.decrypt_chunk(index, is_final, buf)?;
        }
        self.inner.decrypt_chunk(index, is_final, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cipher(k: u8, s: u8) -> StreamCipher {
        StreamCipher::new(&Key32::from_bytes([k; 32]), &[s; SALT_LEN])
    }

    fn encrypt_stream(c: &StreamCipher, data: &[u8]) -> Vec<Vec<u8>> {
        let n = chunk_count(data.len() as u64);
        (0..n)
            .map(|i| {
                let start = (i as usize) * CHUNK_SIZE;
                let len = chunk_plain_len(data.len() as u64, i);
                let mut b = data[start..start + len].to_vec();
                c.encrypt_chunk(i, i == n - 1, &mut b);
                b
            })
            .collect()
    }

    fn decrypt_stream(c: &StreamCipher, chunks: &[Vec<u8>]) -> Result<Vec<u8>, ChunkError> {
        let mut out = Vec::new();
        let n = chunks.len() as u64;
        for (i, ch) in chunks.iter().enumerate() {
            let mut b = ch.clone();
            c.decrypt_chunk(i as u64, i as u64 == n - 1, &mut b)?;
            out.extend_from_slice(&b);
        }
        Ok(out)
    }

    #[test]
    fn chunk_arithmetic() {
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(65536), 1);
        assert_eq!(chunk_count(65537), 2);
        assert_eq!(chunk_plain_len(0, 0), 0);
        assert_eq!(chunk_plain_len(65537, 0), 65536);
        assert_eq!(chunk_plain_len(65537, 1), 1);
    }

    #[test]
    fn empty_stream_has_an_authenticated_chunk() {
        let c = cipher(1, 2);
        let chunks = encrypt_stream(&c, b"");
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].len(), TAG_LEN);
        assert_eq!(decrypt_stream(&c, &chunks).unwrap(), b"");
        let mut bad = chunks[0].clone();
        bad[0] ^= 1;
        assert!(c.decrypt_chunk(0, true, &mut bad).is_err());
        // The same empty chunk is not valid as a non-final chunk.
        let mut b = chunks[0].clone();
        assert!(c.decrypt_chunk(0, false, &mut b).is_err());
    }

    #[test]
    fn wrong_key_or_salt_fails() {
        let data = vec![7u8; 1000];
        let chunks = encrypt_stream(&cipher(1, 2), &data);
        assert!(decrypt_stream(&cipher(1, 3), &chunks).is_err());
        assert!(decrypt_stream(&cipher(9, 2), &chunks).is_err());
    }

    fn dual(k1: u8, k2: u8, s: u8) -> ChunkCipher {
        ChunkCipher::new(
            &DataKeys {
                inner: Key32::from_bytes([k1; 32]),
                outer: Some(Key32::from_bytes([k2; 32])),
            },
            &[s; SALT_LEN],
        )
    }

    fn dual_encrypt(c: &ChunkCipher, data: &[u8]) -> Vec<Vec<u8>> {
        let n = chunk_count(data.len() as u64);
        (0..n)
            .map(|i| {
                let start = (i as usize) * CHUNK_SIZE;
                let len = chunk_plain_len(data.len() as u64, i);
                let mut b = data[start..start + len].to_vec();
                c.encrypt_chunk(i, i == n - 1, &mut b);
                b
            })
            .collect()
    }

    fn dual_decrypt(c: &ChunkCipher, chunks: &[Vec<u8>]) -> Result<Vec<u8>, ChunkError> {
        let mut out = Vec::new();
        let n = chunks.len() as u64;
        for (i, ch) in chunks.iter().enumerate() {
            let mut b = ch.clone();
            c.decrypt_chunk(i as u64, i as u64 == n - 1, &mut b)?;
            out.extend_from_slice(&b);
        }
        Ok(out)
    }

    #[test]
    fn dsse_round_trip_and_layout() {
        for len in [0usize, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 5] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            let c = dual(1, 2, 3);
            assert_eq!(c.overhead(), 2 * TAG_LEN);
            let chunks = dual_encrypt(&c, &data);
            for (i, ch) in chunks.iter().enumerate() {
                assert_eq!(
                    ch.len(),
                    chunk_plain_len(len as u64, i as u64) + 2 * TAG_LEN
                );
            }
            assert_eq!(dual_decrypt(&c, &chunks).unwrap(), data);
            // The layout is exactly outer(inner(plaintext)).
            let inner = cipher(1, 3);
            let outer = StreamCipher::with_info(
                &Key32::from_bytes([2; 32]),
                &[3; SALT_LEN],
                OUTER_STREAM_KEY_INFO,
            );
            let n = chunks.len() as u64;
            for (i, ch) in chunks.iter().enumerate() {
                let mut b = ch.clone();
                let fin = i as u64 == n - 1;
                outer.decrypt_chunk(i as u64, fin, &mut b).unwrap();
                inner.decrypt_chunk(i as u64, fin, &mut b).unwrap();
            }
        }
    }

    #[test]
    fn dsse_tampering_either_layer_fails() {
        let data: Vec<u8> = (0..(CHUNK_SIZE + 100)).map(|i| i as u8).collect();
        let c = dual(1, 2, 3);
        let chunks = dual_encrypt(&c, &data);
        // Outer layer: flip a ciphertext bit, or the outer tag.
        for pos in [0usize, chunks[1].len() - 1] {
            let mut t = chunks.clone();
            t[1][pos] ^= 1;
            assert!(dual_decrypt(&c, &t).is_err());
        }
        // Inner layer: re-encrypt a tampered inner chunk under a valid outer layer.
        let outer = StreamCipher::with_info(
            &Key32::from_bytes([2; 32]),
            &[3; SALT_LEN],
            OUTER_STREAM_KEY_INFO,
        );
        let mut t = chunks.clone();
        let mut b = t[0].clone();
        outer.decrypt_chunk(0, false, &mut b).unwrap();
        b[5] ^= 1;
        outer.encrypt_chunk(0, false, &mut b);
        t[0] = b;
        assert!(dual_decrypt(&c, &t).is_err());
        // Either data key wrong fails.
        assert!(dual_decrypt(&dual(9, 2, 3), &chunks).is_err());
        assert!(dual_decrypt(&dual(1, 9, 3), &chunks).is_err());
        // Layers swapped fails.
        assert!(dual_decrypt(&dual(2, 1, 3), &chunks).is_err());
    }

    #[test]
    fn v1_stream_is_not_dsse_and_back() {
        let data = vec![5u8; CHUNK_SIZE + 3];
        let single = ChunkCipher::new(&DataKeys::single(Key32::from_bytes([1; 32])), &[3; 32]);
        assert_eq!(single.overhead(), TAG_LEN);
        let v1 = dual_encrypt(&single, &data);
        // The v1 stream under the same key 1 (and any key 2) does not decrypt as DSSE.
        assert!(dual_decrypt(&dual(1, 1, 3), &v1).is_err());
        assert!(dual_decrypt(&dual(1, 2, 3), &v1).is_err());
        // A DSSE stream does not decrypt as v1 under either key.
        let d = dual_encrypt(&dual(1, 2, 3), &data);
        assert!(dual_decrypt(&single, &d).is_err());
        let single2 = ChunkCipher::new(&DataKeys::single(Key32::from_bytes([2; 32])), &[3; 32]);
        assert!(dual_decrypt(&single2, &d).is_err());
        assert_eq!(
            DataKeys::single(Key32::from_bytes([1; 32])).scheme(),
            SCHEME_V1
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn tampering_is_detected(len in 0usize..(3 * CHUNK_SIZE + 10), op in 0u8..5, pick in any::<usize>()) {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let c = cipher(3, 4);
            let mut chunks = encrypt_stream(&c, &data);
            prop_assert_eq!(decrypt_stream(&c, &chunks).unwrap(), data.clone());
            let n = chunks.len();
            match op {
                0 => { let ch = &mut chunks[pick % n]; let l = ch.len(); ch[pick % l] ^= 0x80; }
                1 => { if n < 2 { return Ok(()); } let a = pick % n; let b = (a + 1) % n; chunks.swap(a, b); }
                2 => { if n < 2 { return Ok(()); } chunks.pop(); }
                3 => { let last = chunks[n - 1].clone(); chunks.push(last); }
                _ => { let l = chunks[pick % n].len(); chunks[pick % n].truncate(l.saturating_sub(1 + pick % 3)); }
            }
            prop_assert!(decrypt_stream(&c, &chunks).is_err());
        }
    }
}
