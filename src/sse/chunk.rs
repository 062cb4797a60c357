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

impl StreamCipher {
    /// Derives the stream key from the object's data key and the stream's salt.
    pub fn new(data_key: &Key32, salt: &[u8; SALT_LEN]) -> StreamCipher {
        let hk = Hkdf::<Sha256>::new(Some(salt), data_key.expose());
        let mut okm = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 255 * 32 byte limit: expand cannot fail.
        let _ = hk.expand(STREAM_KEY_INFO, okm.as_mut());
        let aead = Aes256Gcm::new(&(*okm).into());
        StreamCipher { aead }
    }

    /// Encrypts `buf` (one chunk's plaintext, at most [`CHUNK_SIZE`]) in place and appends the
    /// tag.
    pub fn encrypt_chunk(&self, index: u64, is_final: bool, buf: &mut Vec<u8>) {
        debug_assert!(buf.len() <= CHUNK_SIZE);
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
        buf: &mut Vec<u8>,
    ) -> Result<(), ChunkError> {
        let ct_len = buf
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(ChunkError::Truncated { index })?;
        let n = nonce(index, is_final);
        let (ct, tag) = buf.split_at_mut(ct_len);
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
