//! CopyObject: decrypt the source, re-encrypt it as a new object.
//!
//! A copy is a fresh write: the plaintext of the source streams through
//! [`Service::put_object`], so the destination gets its own data key under the SSE the request
//! asks for, else the destination bucket's default (never the source's: a copy out of an
//! SSE-KMS object into an SSE-S3 bucket is SSE-S3), its own ETag, and the same all-or-nothing
//! commit as any PUT. The source's flexible checksum is recomputed over the copied plaintext
//! and must match what was stored (an integrity check of the copy for free), unless the
//! request asks for another algorithm.
//!
//! The source record is read once; its conditionals (`x-amz-copy-source-if-*`) are judged on
//! that record, which is then the one copied.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;

use super::digest::{BodyChecks, ChecksumAlgorithm};
use super::objects::{BodySource, ObjectReader, PutObjectInput, WriteConditions, etag_matches};
use super::{Service, ServiceError};
use crate::sse::SseSpec;
use crate::storage::records::ObjectRecord;

/// What becomes of the source's metadata (`x-amz-metadata-directive`).
#[derive(Debug, Clone, Default)]
pub enum MetadataDirective {
    /// Keep the source's content type, stored headers and user metadata.
    #[default]
    Copy,
    /// Take them from the request.
    Replace {
        content_type: Option<String>,
        headers: std::collections::BTreeMap<String, String>,
        user_meta: Vec<(String, String)>,
    },
}

/// `x-amz-copy-source-if-*`, judged on the source. Times are Unix seconds.
#[derive(Debug, Clone, Default)]
pub struct SourceConditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<u64>,
    pub if_unmodified_since: Option<u64>,
}

impl SourceConditions {
    /// S3's rules: a matching If-Match overrides a failing If-Unmodified-Since, and a
    /// present If-None-Match decides alone over If-Modified-Since. Every failure is 412.
    pub fn check(&self, rec: &ObjectRecord) -> Result<(), ServiceError> {
        let modified = rec.last_modified_ms / 1000;
        match &self.if_match {
            Some(m) if !etag_matches(m, &rec.etag) => return Err(ServiceError::PreconditionFailed),
            Some(_) => {}
            None => {
                if self.if_unmodified_since.is_some_and(|t| modified > t) {
                    return Err(ServiceError::PreconditionFailed);
                }
            }
        }
        match &self.if_none_match {
            Some(m) if etag_matches(m, &rec.etag) => return Err(ServiceError::PreconditionFailed),
            Some(_) => {}
            None => {
                if self.if_modified_since.is_some_and(|t| modified <= t) {
                    return Err(ServiceError::PreconditionFailed);
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default)]
pub struct CopyObjectInput {
    pub src_bucket: String,
    pub src_key: String,
    pub bucket: String,
    pub key: String,
    pub metadata: MetadataDirective,
    /// `None`: the destination bucket's default, else SSE-S3.
    pub sse: Option<SseSpec>,
    /// The source's SSE-C key (`x-amz-copy-source-server-side-encryption-customer-*`).
    pub source_customer: Option<crate::sse::CustomerKey>,
    /// A checksum algorithm for the destination (`x-amz-checksum-algorithm`); else the
    /// source's.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub source_conditions: SourceConditions,
    /// Conditions on the destination (conditional write).
    pub conditions: WriteConditions,
    /// The destination's owner and ACL when not the default (a copy does not inherit the
    /// source's ACL, as in S3).
    pub acl: Option<crate::storage::records::Acl>,
}

/// The result: the new record and the source it was copied from.
pub struct CopyOutcome {
    pub record: ObjectRecord,
    pub source: ObjectRecord,
}

/// The source's plaintext as a request body.
struct SourceBody {
    reader: ObjectReader,
    /// A zero-byte source still has a tag to verify before it counts as read.
    verify_empty: bool,
}

impl BodySource for SourceBody {
    async fn next(&mut self) -> Option<Result<Bytes, ServiceError>> {
        if self.verify_empty {
            self.verify_empty = false;
            if let Err(e) = self.reader.verify_empty() {
                return Some(Err(e));
            }
        }
        self.reader.next_chunk().transpose()
    }
}

impl Service {
    /// Copies `src_bucket/src_key` to `bucket/key` (see the module docs).
    pub async fn copy_object(&self, input: CopyObjectInput) -> Result<CopyOutcome, ServiceError> {
        // The destination bucket must exist before any work is done.
        self.head_bucket(&input.bucket)?;
        self.head_bucket(&input.src_bucket)?;
        let source = self.head_object(&input.src_bucket, &input.src_key)?;
        self.check_customer_key(&source.sse, input.source_customer.as_ref())?;
        input.source_conditions.check(&source)?;

        let checksum = match input.checksum_algorithm {
            Some(alg) => Some((alg, None)),
            None => source.checksums.iter().find_map(|(name, value)| {
                let alg = ChecksumAlgorithm::from_name(name)?;
                // Only a full-object value can be re-verified over the plaintext.
                let full = B64.decode(value).is_ok_and(|d| d.len() == alg.digest_len());
                Some((alg, full.then(|| value.clone())))
            }),
        };
        let (content_type, headers, user_meta) = match input.metadata {
            MetadataDirective::Copy => (
                source.content_type.clone(),
                source.headers.clone(),
                source.user_meta.clone(),
            ),
            MetadataDirective::Replace {
                content_type,
                headers,
                user_meta,
            } => (content_type, headers, user_meta),
        };
        let put = PutObjectInput {
            bucket: input.bucket,
            key: input.key,
            content_type,
            headers,
            user_meta,
            sse: input.sse,
            checks: BodyChecks {
                content_length: Some(source.size),
                payload_sha256: None,
                content_md5: None,
                checksum,
            },
            conditions: input.conditions,
            acl: input.acl,
        };
        let reader = self.open_object(&source, None, input.source_customer.as_ref())?;
        let mut body = SourceBody {
            reader,
            verify_empty: source.size == 0,
        };
        let record = self.put_object(put, &mut body).await.map_err(|e| match e {
            // The copied plaintext failed the source's own checksum: the store is damaged,
            // not the request.
            ServiceError::BadDigest(m) => {
                ServiceError::Integrity(format!("copy source failed its checksum: {m}"))
            }
            e => e,
        })?;
        Ok(CopyOutcome { record, source })
    }
}
