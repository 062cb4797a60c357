//! Body integrity: the payload SHA-256 from SigV4, Content-MD5, and the flexible checksums
//! (`x-amz-checksum-*`), all computed over the plaintext while it streams through, and checked
//! before anything is committed.

use std::collections::BTreeMap;

use bytes::Bytes;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::ServiceError;

/// The flexible checksum algorithms S3 supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The name S3 uses (`x-amz-checksum-algorithm`, XML `ChecksumAlgorithm`).
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// The header carrying the value, e.g. `x-amz-checksum-crc32`.
    pub fn header(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }

    /// Length in bytes of the raw digest.
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }
}

enum Hasher {
    Crc32(crc_fast::Digest),
    Crc64(crc_fast::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    fn new(a: ChecksumAlgorithm) -> Hasher {
        use crc_fast::CrcAlgorithm::*;
        match a {
            ChecksumAlgorithm::Crc32 => Hasher::Crc32(crc_fast::Digest::new(Crc32IsoHdlc)),
            ChecksumAlgorithm::Crc32c => Hasher::Crc32(crc_fast::Digest::new(Crc32Iscsi)),
            ChecksumAlgorithm::Crc64Nvme => Hasher::Crc64(crc_fast::Digest::new(Crc64Nvme)),
            ChecksumAlgorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
        }
    }
    fn update(&mut self, d: &[u8]) {
        match self {
            Hasher::Crc32(h) | Hasher::Crc64(h) => h.update(d),
            Hasher::Sha1(h) => h.update(d),
            Hasher::Sha256(h) => h.update(d),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Crc32(h) => (h.finalize() as u32).to_be_bytes().to_vec(),
            Hasher::Crc64(h) => h.finalize().to_be_bytes().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// What the request promised about its body.
#[derive(Debug, Clone, Default)]
pub struct BodyChecks {
    /// Content-Length (or x-amz-decoded-content-length), when known.
    pub content_length: Option<u64>,
    /// The SigV4 payload hash, when the request was signed over the body.
    pub payload_sha256: Option<[u8; 32]>,
    /// Content-MD5, decoded.
    pub content_md5: Option<[u8; 16]>,
    /// Flexible checksum to compute, with the value the client sent (base64) if it sent one.
    pub checksum: Option<(ChecksumAlgorithm, Option<String>)>,
}

/// Running digests over a body; [`Digests::finish`] checks them against [`BodyChecks`].
pub struct Digests {
    checks: BodyChecks,
    len: u64,
    sha256: Option<Sha256>,
    md5: Option<Md5>,
    checksum: Option<(ChecksumAlgorithm, Hasher)>,
}

/// Bodies declared at least this long have their digests computed by a [`DigestPipe`]: the
/// SHA-256, MD5 and checksum of a 1 MiB body take ~2 ms of CPU, about three times the chunk
/// encryption, so in a task of their own they run on the other core while the request task
/// encrypts and stores. Smaller bodies stay on the request task, where a hand-off would cost
/// more than it saves.
pub const PIPELINE_MIN_LEN: u64 = 256 * 1024;

/// Body pieces queued for a [`DigestPipe`]: enough to overlap hashing with encryption. More
/// held memory without speed: with 16, a 1 GiB multipart upload through aws-cli (10 parts at
/// once) peaked 10-20 MiB higher.
const PIPE_DEPTH: usize = 2;

/// [`Digests`] updated in a task of their own: the request task sends each body piece and goes
/// on encrypting; [`DigestPipe::finish`] returns the digests once every piece has been seen.
/// Dropped early (an error), the task stops at the end of the pieces already sent. A runtime
/// task, not a blocking thread: a thread per upload cost memory (a 1 GiB multipart upload
/// peaked 58-64 MiB above idle with blocking threads, 51-57 with tasks, 51 inline).
pub struct DigestPipe {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    task: tokio::task::JoinHandle<Digests>,
}

impl DigestPipe {
    pub fn start(mut digests: Digests) -> DigestPipe {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(PIPE_DEPTH);
        let task = tokio::spawn(async move {
            while let Some(piece) = rx.recv().await {
                digests.update(&piece);
            }
            digests
        });
        DigestPipe { tx, task }
    }

    pub async fn update(&self, piece: Bytes) -> Result<(), ServiceError> {
        self.tx
            .send(piece)
            .await
            .map_err(|_| ServiceError::Internal("the digest task stopped".into()))
    }

    pub async fn finish(self) -> Result<Digests, ServiceError> {
        drop(self.tx);
        self.task
            .await
            .map_err(|e| ServiceError::Internal(format!("the digest task failed: {e}")))
    }
}

/// The verified results.
#[derive(Debug, Default)]
pub struct DigestResult {
    pub len: u64,
    pub md5: Option<[u8; 16]>,
    /// Algorithm name -> base64 value.
    pub checksums: BTreeMap<String, String>,
}

impl Digests {
    /// `want_md5`: compute the MD5 even without Content-MD5 (the ETag needs it).
    pub fn new(checks: BodyChecks, want_md5: bool) -> Digests {
        Digests {
            sha256: checks.payload_sha256.map(|_| Sha256::new()),
            md5: (want_md5 || checks.content_md5.is_some()).then(Md5::new),
            checksum: checks.checksum.as_ref().map(|(a, _)| (*a, Hasher::new(*a))),
            checks,
            len: 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        if let Some(h) = &mut self.sha256 {
            h.update(data);
        }
        if let Some(h) = &mut self.md5 {
            h.update(data);
        }
        if let Some((_, h)) = &mut self.checksum {
            h.update(data);
        }
    }

    /// Supplies the expected value of the flexible checksum after the body (a trailer). The
    /// algorithm must be the one being computed (declared up front in `x-amz-trailer`), and
    /// no value may have come in a header as well.
    pub fn expect_trailing_checksum(
        &mut self,
        alg: ChecksumAlgorithm,
        value: String,
    ) -> Result<(), ServiceError> {
        match &mut self.checks.checksum {
            Some((a, expected @ None)) if *a == alg => {
                *expected = Some(value);
                Ok(())
            }
            _ => Err(ServiceError::InvalidArgument(format!(
                "The {} trailer does not match the checksum declared for this request.",
                alg.header()
            ))),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// The body length the request declared, if it declared one.
    pub fn declared_len(&self) -> Option<u64> {
        self.checks.content_length
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Result<DigestResult, ServiceError> {
        if let Some(expected) = self.checks.content_length
            && expected != self.len
        {
            return Err(ServiceError::IncompleteBody);
        }
        if let (Some(h), Some(expected)) = (self.sha256, self.checks.payload_sha256) {
            let got: [u8; 32] = h.finalize().into();
            if !crate::secret::ct_eq(&got, &expected) {
                return Err(ServiceError::PayloadHashMismatch);
            }
        }
        let md5: Option<[u8; 16]> = self.md5.map(|h| h.finalize().into());
        if let (Some(got), Some(expected)) = (md5, self.checks.content_md5)
            && got != expected
        {
            return Err(ServiceError::BadDigest(
                "The Content-MD5 you specified did not match what we received.".into(),
            ));
        }
        let mut checksums = BTreeMap::new();
        if let Some((alg, h)) = self.checksum {
            let got = B64.encode(h.finish());
            if let Some((_, Some(expected))) = &self.checks.checksum
                && *expected != got
            {
                return Err(ServiceError::BadDigest(format!(
                    "The {} you specified did not match the calculated checksum.",
                    alg.name()
                )));
            }
            checksums.insert(alg.name().to_string(), got);
        }
        Ok(DigestResult {
            len: self.len,
            md5,
            checksums,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checksum_of(a: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut d = Digests::new(
            BodyChecks {
                checksum: Some((a, None)),
                ..Default::default()
            },
            false,
        );
        d.update(data);
        d.finish().unwrap().checksums[a.name()].clone()
    }

    #[test]
    fn known_checksums() {
        // Values as the AWS SDKs compute them for "Hello world".
        assert_eq!(
            checksum_of(ChecksumAlgorithm::Crc32, b"Hello world"),
            "i9aeUg=="
        );
        assert_eq!(
            checksum_of(ChecksumAlgorithm::Crc32c, b"Hello world"),
            "crUfeA=="
        );
        assert_eq!(
            checksum_of(ChecksumAlgorithm::Sha256, b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            checksum_of(ChecksumAlgorithm::Sha1, b""),
            "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
        );
        assert_eq!(
            checksum_of(ChecksumAlgorithm::Crc64Nvme, b""),
            "AAAAAAAAAAA="
        );
    }

    /// The pipe computes what the request task would, over pieces of any size, and its
    /// mismatches are the same errors.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn digest_pipe_matches_inline_digests() {
        let body: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let checks = |md5: Option<[u8; 16]>| BodyChecks {
            content_length: Some(body.len() as u64),
            payload_sha256: Some(Sha256::digest(&body).into()),
            content_md5: md5,
            checksum: Some((ChecksumAlgorithm::Crc32c, None)),
        };
        let good_md5: [u8; 16] = Md5::digest(&body).into();

        let mut inline = Digests::new(checks(Some(good_md5)), true);
        inline.update(&body);
        let inline = inline.finish().unwrap();

        let pipe = DigestPipe::start(Digests::new(checks(Some(good_md5)), true));
        for piece in body.chunks(16_381) {
            pipe.update(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        let piped = pipe.finish().await.unwrap().finish().unwrap();
        assert_eq!((piped.len, piped.md5), (inline.len, inline.md5));
        assert_eq!(piped.checksums, inline.checksums);

        let pipe = DigestPipe::start(Digests::new(checks(Some([0; 16])), true));
        pipe.update(Bytes::from(body.clone())).await.unwrap();
        let wrong = pipe.finish().await.unwrap().finish();
        assert!(matches!(wrong, Err(ServiceError::BadDigest(_))));
    }

    #[test]
    fn mismatches_are_caught() {
        let mut d = Digests::new(
            BodyChecks {
                content_length: Some(3),
                content_md5: Some([0u8; 16]),
                ..Default::default()
            },
            false,
        );
        d.update(b"abc");
        assert!(matches!(d.finish(), Err(ServiceError::BadDigest(_))));
        let mut d = Digests::new(
            BodyChecks {
                content_length: Some(4),
                ..Default::default()
            },
            false,
        );
        d.update(b"abc");
        assert!(matches!(d.finish(), Err(ServiceError::IncompleteBody)));
        let mut d = Digests::new(
            BodyChecks {
                checksum: Some((ChecksumAlgorithm::Crc32, Some("AAAAAA==".into()))),
                ..Default::default()
            },
            false,
        );
        d.update(b"abc");
        assert!(matches!(d.finish(), Err(ServiceError::BadDigest(_))));
    }
}
