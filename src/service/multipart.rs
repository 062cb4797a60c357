//! Multipart uploads: one data key per upload, one encrypted stream per part, and completion
//! that stitches the parts' streams into an object record without copying or re-encrypting.
//!
//! - Create: resolve SSE as a PUT would, get a fresh data key from the KMS, store only its
//!   wrapped form in the upload record (which survives restarts).
//! - UploadPart / UploadPartCopy (whose copy-source conditionals are CopyObject's): unwrap the upload's data key through the KMS (key state is
//!   checked on every part), encrypt the part as a new stream with a fresh salt (so a re-uploaded
//!   part never reuses a key and nonce), record the part in one transaction that also protects
//!   its stream from the orphan sweep and hands a replaced part's stream to it.
//! - Complete: validate the list (order, ETags, sizes, checksums), then one transaction writes
//!   the object, removes the upload and orphans every unused part stream; flush; delete those.
//!
//! SSE-C slots in at [`Service::upload_data_key`]: the customer key is the data key, given on
//! every UploadPart instead of being unwrapped.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use md5::{Digest, Md5};

use super::digest::{BodyChecks, ChecksumAlgorithm, Digests};
use super::objects::{BodySource, ObjectReader};
use super::{MAX_USER_METADATA, Service, ServiceError};
use crate::sse::SseSpec;
use crate::sse::chunk::DataKeys;
use crate::sse::chunk::{CHUNK_SIZE, SCHEME_DSSE_V1, SCHEME_V1};
use crate::storage::StreamId;
use crate::storage::multipart::{
    CompleteCommit, ListedUpload, PartCommit, PartRecord, UploadRecord, valid_upload_id,
};
use crate::storage::records::{CipherParams, ObjectRecord, StreamRecord};

/// S3's smallest part, except the last (5 MiB).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// S3's largest part (5 GiB).
pub const MAX_PART_SIZE: u64 = 5 << 30;
/// S3's highest part number, and so the most parts an object can have.
pub const MAX_PARTS: u32 = 10_000;

/// Multipart failures, each an S3 error code of its own.
#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may \
         have been aborted or completed."
    )]
    NoSuchUpload,
    #[error(
        "One or more of the specified parts could not be found. The part may not have been \
         uploaded, or the specified entity tag may not match the part's entity tag."
    )]
    InvalidPart { part_number: u32 },
    #[error(
        "The list of parts was not in ascending order. The parts list must be specified in order by part number."
    )]
    InvalidPartOrder,
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    EntityTooSmall {
        part_number: u32,
        size: u64,
        etag: String,
    },
    #[error(
        "The XML you provided was not well-formed or did not validate against our published schema"
    )]
    MalformedXml,
    #[error("{0}")]
    InvalidRequest(String),
}

/// How the checksum of a multipart object is formed from its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumType {
    /// A checksum of the concatenated part checksums, with a `-N` suffix.
    Composite,
    /// The checksum of the whole object (CRC algorithms only, combined from the parts).
    FullObject,
}

impl ChecksumType {
    pub fn name(self) -> &'static str {
        match self {
            ChecksumType::Composite => "COMPOSITE",
            ChecksumType::FullObject => "FULL_OBJECT",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "COMPOSITE" => Some(ChecksumType::Composite),
            "FULL_OBJECT" => Some(ChecksumType::FullObject),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CreateUploadInput {
    pub bucket: String,
    pub key: String,
    pub content_type: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub user_meta: Vec<(String, String)>,
    /// `None`: the bucket default, else SSE-S3.
    pub sse: Option<SseSpec>,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    /// The completed object's owner and ACL when not the default.
    pub acl: Option<crate::storage::records::Acl>,
}

/// Which upload and part a request addresses.
#[derive(Debug, Clone)]
pub struct PartTarget {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub part_number: u32,
    /// The upload's SSE-C key, resent with every part.
    pub customer: Option<crate::sse::CustomerKey>,
}

/// What UploadPartCopy reads: a source object and an optional inclusive byte range.
#[derive(Debug, Clone)]
pub struct CopySourceInput {
    pub bucket: String,
    pub key: String,
    pub range: Option<(u64, u64)>,
    /// The source's SSE-C key (`x-amz-copy-source-server-side-encryption-customer-*`).
    pub customer: Option<crate::sse::CustomerKey>,
    /// `x-amz-copy-source-if-*`, judged on the source as CopyObject judges them.
    pub conditions: super::copy::SourceConditions,
}

/// One entry of a CompleteMultipartUpload list.
#[derive(Debug, Clone, Default)]
pub struct CompletedPartInput {
    pub part_number: u32,
    pub etag: String,
    /// Algorithm name -> base64 value, as the client listed them.
    pub checksums: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct CompleteInput {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub parts: Vec<CompletedPartInput>,
    /// A whole-object checksum the client sent with the request (`x-amz-checksum-*`).
    pub object_checksum: Option<(ChecksumAlgorithm, String)>,
    /// `x-amz-mp-object-size`, if sent.
    pub object_size: Option<u64>,
}

/// A page of ListParts.
#[derive(Debug)]
pub struct PartsPage {
    pub upload: UploadRecord,
    pub parts: Vec<PartRecord>,
    pub truncated: bool,
}

/// A page of ListMultipartUploads.
#[derive(Debug, Default)]
pub struct UploadsPage {
    pub uploads: Vec<ListedUpload>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ListUploadsParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max_uploads: usize,
}

/// An object being read, as a request body (UploadPartCopy).
struct ReaderBody(ObjectReader);

impl BodySource for ReaderBody {
    async fn next(&mut self) -> Option<Result<Bytes, ServiceError>> {
        self.0.next_chunk().transpose()
    }
}

fn no_such_upload() -> ServiceError {
    MultipartError::NoSuchUpload.into()
}

/// `"<hex md5 of the concatenated binary part MD5s>-N"` (without quotes).
fn multipart_etag(parts: &[&PartRecord]) -> Result<String, ServiceError> {
    let mut h = Md5::new();
    for p in parts {
        let raw = hex::decode(&p.md5_hex)
            .map_err(|_| ServiceError::Integrity("part MD5 is not hex".into()))?;
        h.update(&raw);
    }
    let d: [u8; 16] = h.finalize().into();
    Ok(format!("{}-{}", hex::encode(d), parts.len()))
}

/// The checksum of a multipart object, as S3 forms it for `ty`.
fn multipart_checksum(
    alg: ChecksumAlgorithm,
    ty: ChecksumType,
    parts: &[&PartRecord],
) -> Result<String, ServiceError> {
    let mut raws = Vec::with_capacity(parts.len());
    for p in parts {
        let v = p
            .checksums
            .get(alg.name())
            .and_then(|v| B64.decode(v).ok())
            .filter(|v| v.len() == alg.digest_len())
            .ok_or(MultipartError::InvalidPart {
                part_number: p.stream.part_number,
            })?;
        raws.push((v, p.stream.size));
    }
    match ty {
        ChecksumType::Composite => {
            let mut d = Digests::new(
                BodyChecks {
                    checksum: Some((alg, None)),
                    ..Default::default()
                },
                false,
            );
            for (raw, _) in &raws {
                d.update(raw);
            }
            let r = d.finish()?;
            let v = r
                .checksums
                .get(alg.name())
                .ok_or_else(|| ServiceError::Internal("checksum not computed".into()))?;
            Ok(format!("{v}-{}", parts.len()))
        }
        ChecksumType::FullObject => {
            use crc_fast::CrcAlgorithm as C;
            let crc = match alg {
                ChecksumAlgorithm::Crc32 => C::Crc32IsoHdlc,
                ChecksumAlgorithm::Crc32c => C::Crc32Iscsi,
                ChecksumAlgorithm::Crc64Nvme => C::Crc64Nvme,
                _ => {
                    return Err(MultipartError::InvalidRequest(format!(
                        "The FULL_OBJECT checksum type cannot be used with the {} algorithm.",
                        alg.name()
                    ))
                    .into());
                }
            };
            let mut acc: Option<u64> = None;
            for (raw, size) in &raws {
                let mut b = [0u8; 8];
                b[8 - raw.len()..].copy_from_slice(raw);
                let v = u64::from_be_bytes(b);
                acc = Some(match acc {
                    None => v,
                    Some(a) => crc_fast::checksum_combine(crc, a, v, *size),
                });
            }
            let v = acc.unwrap_or(0);
            let bytes = v.to_be_bytes();
            Ok(B64.encode(&bytes[8 - alg.digest_len()..]))
        }
    }
}

/// A part as the object record keeps it: its stream, with the part's own checksum of the
/// upload's algorithm (what a read of that part number returns; see [`StreamRecord`]).
fn object_part(p: &PartRecord, algorithm: Option<ChecksumAlgorithm>) -> StreamRecord {
    let mut stream = p.stream.clone();
    stream.checksums = algorithm
        .and_then(|a| p.checksums.get_key_value(a.name()))
        .map(|(k, v)| BTreeMap::from([(k.clone(), v.clone())]))
        .unwrap_or_default();
    stream
}

fn normalize_etag(s: &str) -> &str {
    s.trim().trim_matches('"')
}

impl Service {
    /// The upload's record, or NoSuchUpload.
    fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadRecord, ServiceError> {
        if !valid_upload_id(upload_id) {
            // Still NoSuchBucket first for a missing bucket.
            self.head_bucket(bucket)?;
            return Err(no_such_upload());
        }
        self.store
            .get_upload(bucket, key, upload_id)?
            .ok_or_else(no_such_upload)
    }

    /// The data key that encrypts the upload's parts: unwrapped through the KMS, or (SSE-C)
    /// the key resent with the part, once its MAC matches the upload's.
    fn upload_data_key(
        &self,
        upload: &UploadRecord,
        target: &PartTarget,
    ) -> Result<DataKeys, ServiceError> {
        self.envelope_key(&upload.sse, target.customer.as_ref())
    }

    /// Starts an upload: the envelope (a fresh data key, stored wrapped) is made here.
    pub fn create_multipart_upload(
        &self,
        input: CreateUploadInput,
    ) -> Result<(String, UploadRecord), ServiceError> {
        self.check_key(&input.key)?;
        let meta_size: usize = input.user_meta.iter().map(|(k, v)| k.len() + v.len()).sum();
        if meta_size > MAX_USER_METADATA {
            return Err(ServiceError::MetadataTooLarge);
        }
        let checksum_type = match (input.checksum_algorithm, input.checksum_type) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(MultipartError::InvalidRequest(
                    "The x-amz-checksum-type header can only be used with the \
                     x-amz-checksum-algorithm header."
                        .into(),
                )
                .into());
            }
            (Some(ChecksumAlgorithm::Crc64Nvme), None | Some(ChecksumType::FullObject)) => {
                Some(ChecksumType::FullObject)
            }
            (Some(ChecksumAlgorithm::Crc64Nvme), Some(ChecksumType::Composite)) => {
                return Err(MultipartError::InvalidRequest(
                    "The COMPOSITE checksum type cannot be used with the CRC64NVME algorithm."
                        .into(),
                )
                .into());
            }
            (
                Some(a @ (ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256)),
                Some(ChecksumType::FullObject),
            ) => {
                return Err(MultipartError::InvalidRequest(format!(
                    "The FULL_OBJECT checksum type cannot be used with the {} algorithm.",
                    a.name()
                ))
                .into());
            }
            (Some(_), t) => Some(t.unwrap_or(ChecksumType::Composite)),
        };
        let spec = self.resolve_sse(&input.bucket, input.sse.as_ref())?;
        let (sse_record, data_key) = self.make_envelope(&spec, &input.bucket, &input.key)?;
        drop(data_key);
        let now = self.now_millis();
        let upload_id = crate::storage::Store::new_upload_id(now)?;
        let record = UploadRecord {
            initiated_ms: now,
            content_type: input.content_type,
            headers: input.headers,
            user_meta: input.user_meta,
            sse: sse_record,
            checksum_algorithm: input.checksum_algorithm.map(|a| a.name().to_string()),
            checksum_type: checksum_type.map(|t| t.name().to_string()),
            acl: input.acl,
        };
        self.store
            .create_upload(&input.bucket, &input.key, &upload_id, &record)?;
        Ok((upload_id, record))
    }

    /// The upload a part request addresses, with its body checks extended by the upload's
    /// checksum algorithm (computed here when the client did not send it).
    fn part_upload(
        &self,
        target: &PartTarget,
        checks: &mut BodyChecks,
    ) -> Result<UploadRecord, ServiceError> {
        if target.part_number == 0 || target.part_number > MAX_PARTS {
            return Err(ServiceError::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive".into(),
            ));
        }
        let upload = self.upload(&target.bucket, &target.key, &target.upload_id)?;
        if let Some(alg) = upload
            .checksum_algorithm
            .as_deref()
            .and_then(ChecksumAlgorithm::from_name)
        {
            match &checks.checksum {
                Some((a, _)) if *a != alg => {
                    return Err(MultipartError::InvalidRequest(format!(
                        "Checksum Type mismatch occurred, expected checksum Type: {}, actual \
                         checksum Type: {}",
                        alg.name().to_ascii_lowercase(),
                        a.name().to_ascii_lowercase()
                    ))
                    .into());
                }
                Some(_) => {}
                None => checks.checksum = Some((alg, None)),
            }
        }
        Ok(upload)
    }

    /// Uploads (or replaces) one part.
    pub async fn upload_part<B: BodySource>(
        &self,
        target: &PartTarget,
        mut checks: BodyChecks,
        body: &mut B,
    ) -> Result<(PartRecord, UploadRecord), ServiceError> {
        if checks.content_length.is_some_and(|l| l > MAX_PART_SIZE) {
            return Err(ServiceError::EntityTooLarge);
        }
        let upload = self.part_upload(target, &mut checks)?;
        let data_key = self.upload_data_key(&upload, target)?;
        let part = self.write_part(target, data_key, checks, body).await?;
        Ok((part, upload))
    }

    /// Uploads (or replaces) one part with bytes of an existing object, decrypted under the
    /// source's key and encrypted under the upload's.
    pub async fn upload_part_copy(
        &self,
        target: &PartTarget,
        source: &CopySourceInput,
    ) -> Result<(PartRecord, UploadRecord), ServiceError> {
        let mut checks = BodyChecks::default();
        let upload = self.part_upload(target, &mut checks)?;
        let src = self.head_object(&source.bucket, &source.key)?;
        self.check_customer_key(&src.sse, source.customer.as_ref())?;
        // Judged on this record, which is then the one copied (as CopyObject).
        source.conditions.check(&src)?;
        // The upload's key is checked before anything is read.
        let data_key = self.upload_data_key(&upload, target)?;
        if let Some((first, last)) = source.range
            && (first > last || last >= src.size)
        {
            return Err(ServiceError::InvalidArgument(format!(
                "Range specified is not valid for source object of size: {}",
                src.size
            )));
        }
        let len = source.range.map_or(src.size, |(f, l)| l - f + 1);
        if len > MAX_PART_SIZE {
            return Err(ServiceError::InvalidArgument(
                "The specified copy source is larger than the maximum allowable size for a copy \
                 source: 5368709120"
                    .into(),
            ));
        }
        checks.content_length = Some(len);
        let mut reader = self.open_object(&src, source.range, source.customer.as_ref())?;
        if len == 0 {
            reader.verify_empty()?;
        }
        let part = self
            .write_part(target, data_key, checks, &mut ReaderBody(reader))
            .await?;
        Ok((part, upload))
    }

    /// Encrypts a part body into a new stream and records it (shared by both part writes).
    async fn write_part<B: BodySource>(
        &self,
        target: &PartTarget,
        data_key: DataKeys,
        checks: BodyChecks,
        body: &mut B,
    ) -> Result<PartRecord, ServiceError> {
        let mut digests = Digests::new(checks, true);
        let mut written = self
            .encrypt_to_new_stream(data_key, body, &mut digests, MAX_PART_SIZE)
            .await?;
        let (stream, salt, size) = (written.guard.id, written.salt, written.size);
        let result = digests.finish()?;
        let md5_hex = hex::encode(
            result
                .md5
                .ok_or_else(|| ServiceError::Internal("part MD5 not computed".into()))?,
        );
        let part = PartRecord {
            stream: StreamRecord {
                stream_id: stream,
                salt: salt.to_vec(),
                size,
                part_number: target.part_number,
                etag: md5_hex.clone(),
                checksums: Default::default(),
            },
            last_modified_ms: self.now_millis(),
            md5_hex,
            checksums: result.checksums,
        };
        let replaced =
            match self
                .store
                .commit_part(&target.bucket, &target.key, &target.upload_id, &part)?
            {
                PartCommit::NoSuchUpload => return Err(no_such_upload()),
                PartCommit::Recorded { replaced } => replaced,
            };
        written.guard.armed = false;
        self.store.flush().await?;
        if let Some(old) = replaced {
            self.delete_stream_ids(&[old.stream.stream_id]);
        }
        Ok(part)
    }

    /// Deletes streams already listed in `orphans` (a failure is repaired at start-up).
    pub(super) fn delete_stream_ids(&self, streams: &[StreamId]) {
        self.store.delete_streams_soon(streams.to_vec());
    }

    /// Removes part entries recorded while their upload was completed or aborted, or its
    /// bucket deleted.
    pub(super) fn sweep_late_parts(&self, upload_id: &str) {
        match self.store.sweep_upload_parts(upload_id) {
            Ok(late) => self.delete_stream_ids(&late),
            Err(e) => tracing::warn!(error = %e, "could not sweep late parts"),
        }
    }

    /// Completes an upload: the listed parts become the object, in one transaction.
    pub async fn complete_multipart_upload(
        &self,
        input: CompleteInput,
    ) -> Result<ObjectRecord, ServiceError> {
        let upload = self.upload(&input.bucket, &input.key, &input.upload_id)?;
        if input.parts.is_empty() {
            return Err(MultipartError::MalformedXml.into());
        }
        if input.parts.len() > MAX_PARTS as usize {
            return Err(MultipartError::InvalidRequest(format!(
                "A multipart upload has at most {MAX_PARTS} parts"
            ))
            .into());
        }
        if input
            .parts
            .windows(2)
            .any(|w| w[0].part_number >= w[1].part_number)
        {
            return Err(MultipartError::InvalidPartOrder.into());
        }
        let all: Vec<PartRecord> = self
            .store
            .list_parts(&input.upload_id, 0)?
            .collect::<Result<_, _>>()?;
        let by_number: BTreeMap<u32, &PartRecord> =
            all.iter().map(|p| (p.stream.part_number, p)).collect();
        let mut chosen: Vec<&PartRecord> = Vec::with_capacity(input.parts.len());
        for listed in &input.parts {
            let invalid = MultipartError::InvalidPart {
                part_number: listed.part_number,
            };
            let Some(p) = by_number.get(&listed.part_number) else {
                return Err(invalid.into());
            };
            if normalize_etag(&listed.etag) != p.stream.etag {
                return Err(invalid.into());
            }
            for (alg, v) in &listed.checksums {
                if p.checksums.get(alg).is_some_and(|s| s != v.trim()) {
                    return Err(invalid.into());
                }
            }
            chosen.push(p);
        }
        let last = chosen.len() - 1;
        for (i, p) in chosen.iter().enumerate() {
            if i != last && p.stream.size < MIN_PART_SIZE {
                return Err(MultipartError::EntityTooSmall {
                    part_number: p.stream.part_number,
                    size: p.stream.size,
                    etag: p.stream.etag.clone(),
                }
                .into());
            }
        }
        let size: u64 = chosen.iter().map(|p| p.stream.size).sum();
        if let Some(expected) = input.object_size
            && expected != size
        {
            return Err(MultipartError::InvalidRequest(format!(
                "The provided 'x-amz-mp-object-size' header value {expected} does not match \
                 what was computed: {size}"
            ))
            .into());
        }
        let mut checksums = BTreeMap::new();
        let algorithm = upload
            .checksum_algorithm
            .as_deref()
            .and_then(ChecksumAlgorithm::from_name);
        if let Some(alg) = algorithm {
            let ty = upload
                .checksum_type
                .as_deref()
                .and_then(ChecksumType::from_name)
                .unwrap_or(ChecksumType::Composite);
            let value = multipart_checksum(alg, ty, &chosen)?;
            if let Some((a, sent)) = &input.object_checksum
                && *a == alg
                && normalize_etag(sent) != value
            {
                return Err(ServiceError::BadDigest(format!(
                    "The {} you specified did not match the calculated checksum.",
                    alg.name()
                )));
            }
            checksums.insert(alg.name().to_string(), value);
        }
        let record = ObjectRecord {
            size,
            etag: multipart_etag(&chosen)?,
            last_modified_ms: self.now_millis(),
            content_type: upload.content_type.clone(),
            headers: upload.headers.clone(),
            user_meta: upload.user_meta.clone(),
            checksums,
            sse: upload.sse.clone(),
            cipher: CipherParams {
                scheme: if upload.sse.mode == crate::storage::records::SseMode::Dsse {
                    SCHEME_DSSE_V1
                } else {
                    SCHEME_V1
                }
                .to_string(),
                chunk_size: CHUNK_SIZE as u32,
            },
            parts: chosen.iter().map(|p| object_part(p, algorithm)).collect(),
            acl: upload.acl.clone(),
        };
        let commit = self.store.complete_upload(
            &input.bucket,
            &input.key,
            &input.upload_id,
            &record,
            &all,
        )?;
        match commit {
            CompleteCommit::NoSuchUpload => Err(no_such_upload()),
            CompleteCommit::PartChanged => {
                Err(MultipartError::InvalidPart { part_number: 0 }.into())
            }
            CompleteCommit::Completed { replaced, unused } => {
                self.store.flush().await?;
                self.delete_stream_ids(&unused);
                if let Some(old) = replaced {
                    self.delete_stream_ids(&old.stream_ids());
                }
                self.sweep_late_parts(&input.upload_id);
                Ok(record)
            }
        }
    }

    /// Aborts an upload and reclaims every part.
    pub async fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), ServiceError> {
        if !valid_upload_id(upload_id) {
            self.head_bucket(bucket)?;
            return Err(no_such_upload());
        }
        let streams = self
            .store
            .abort_upload(bucket, key, upload_id)?
            .ok_or_else(no_such_upload)?;
        self.store.flush().await?;
        self.delete_stream_ids(&streams);
        self.sweep_late_parts(upload_id);
        Ok(())
    }

    /// A page of an upload's parts after `marker`.
    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: u32,
        max_parts: usize,
    ) -> Result<PartsPage, ServiceError> {
        let upload = self.upload(bucket, key, upload_id)?;
        let mut parts = Vec::new();
        let mut truncated = false;
        for p in self.store.list_parts(upload_id, marker)? {
            if parts.len() >= max_parts {
                truncated = true;
                break;
            }
            parts.push(p?);
        }
        Ok(PartsPage {
            upload,
            parts,
            truncated,
        })
    }

    /// A page of a bucket's uploads in progress, in (key, initiation) order.
    pub fn list_multipart_uploads(
        &self,
        bucket: &str,
        params: &ListUploadsParams,
    ) -> Result<UploadsPage, ServiceError> {
        let mut page = UploadsPage::default();
        let start = match &params.key_marker {
            Some(m) if m.as_str() > params.prefix.as_str() => m.as_str(),
            _ => params.prefix.as_str(),
        };
        let iter = self.store.list_uploads_from(bucket, start)?;
        if params.max_uploads == 0 {
            return Ok(page);
        }
        for item in iter {
            let u = item?;
            if !u.key.starts_with(&params.prefix) {
                if u.key.as_str() > params.prefix.as_str() {
                    break;
                }
                continue;
            }
            if let Some(km) = &params.key_marker {
                // After the key marker; with an upload id marker, later uploads of that key too.
                let keep = match &params.upload_id_marker {
                    Some(um) => u.key > *km || (u.key == *km && u.upload_id > *um),
                    None => u.key > *km,
                };
                if !keep {
                    continue;
                }
            }
            let mut common = None;
            if let Some(d) = params.delimiter.as_deref().filter(|d| !d.is_empty())
                && let Some(pos) = u.key[params.prefix.len()..].find(d)
            {
                let cp = u.key[..params.prefix.len() + pos + d.len()].to_string();
                let already = params
                    .key_marker
                    .as_deref()
                    .is_some_and(|m| m >= cp.as_str());
                if already || page.common_prefixes.last() == Some(&cp) {
                    continue;
                }
                common = Some(cp);
            }
            if page.uploads.len() + page.common_prefixes.len() >= params.max_uploads {
                page.truncated = true;
                break;
            }
            match common {
                Some(cp) => {
                    page.next_key_marker = Some(cp.clone());
                    page.next_upload_id_marker = None;
                    page.common_prefixes.push(cp);
                }
                None => {
                    page.next_key_marker = Some(u.key.clone());
                    page.next_upload_id_marker = Some(u.upload_id.clone());
                    page.uploads.push(u);
                }
            }
        }
        if !page.truncated {
            page.next_key_marker = None;
            page.next_upload_id_marker = None;
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(n: u32, size: u64, data: &[u8], alg: ChecksumAlgorithm) -> PartRecord {
        let mut d = Digests::new(
            BodyChecks {
                checksum: Some((alg, None)),
                ..Default::default()
            },
            true,
        );
        d.update(data);
        let r = d.finish().unwrap();
        PartRecord {
            stream: StreamRecord {
                stream_id: StreamId([0; 16]),
                salt: vec![0; 32],
                size,
                part_number: n,
                etag: hex::encode(r.md5.unwrap()),
                checksums: Default::default(),
            },
            last_modified_ms: 0,
            md5_hex: hex::encode(r.md5.unwrap()),
            checksums: r.checksums,
        }
    }

    #[test]
    fn full_object_crc_combines_parts() {
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let a = b"hello, ";
            let b = b"multipart world";
            let pa = part(1, a.len() as u64, a, alg);
            let pb = part(2, b.len() as u64, b, alg);
            let got = multipart_checksum(alg, ChecksumType::FullObject, &[&pa, &pb]).unwrap();
            let whole = part(1, 0, b"hello, multipart world", alg);
            assert_eq!(got, whole.checksums[alg.name()], "{alg:?}");
        }
    }

    #[test]
    fn etag_is_md5_of_md5s() {
        let pa = part(1, 1, b"a", ChecksumAlgorithm::Crc32);
        let pb = part(2, 1, b"b", ChecksumAlgorithm::Crc32);
        let mut raw = hex::decode(&pa.md5_hex).unwrap();
        raw.extend(hex::decode(&pb.md5_hex).unwrap());
        let want: [u8; 16] = Md5::digest(&raw).into();
        assert_eq!(
            multipart_etag(&[&pa, &pb]).unwrap(),
            format!("{}-2", hex::encode(want))
        );
    }

    #[test]
    fn composite_checksum_has_part_count() {
        let pa = part(1, 1, b"a", ChecksumAlgorithm::Sha256);
        let v =
            multipart_checksum(ChecksumAlgorithm::Sha256, ChecksumType::Composite, &[&pa]).unwrap();
        assert!(v.ends_with("-1"));
    }
}
