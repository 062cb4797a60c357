//! Multipart upload operations: headers and XML in, [`crate::service::multipart`] calls, headers
//! and XML out. The service does the encryption and the bookkeeping; this file only translates.

use std::collections::BTreeMap;

use http::{HeaderMap, Response, StatusCode};

use super::error::{S3Error, S3ErrorCode};
use super::handlers::{empty_response, encode_if, with_bucket, with_key, xml_response};
use super::headers::{self, header_str, insert};
use super::router::{CopySource, EncodingType, VersionId};
use super::xml::{self, Timestamp, Xmlns};
use super::{Ctx, RequestBody, S3Api, service_error};
use crate::api::auth::PayloadCheck;
use crate::service::ServiceError;
use crate::service::digest::{ChecksumAlgorithm, Digests};
use crate::service::multipart::{
    ChecksumType, CompleteInput, CompletedPartInput, CopySourceInput, CreateUploadInput,
    ListUploadsParams, MultipartError, PartTarget,
};
use crate::storage::multipart::UploadRecord;
use crate::transport::body::ResBody;

/// Multipart failures as S3 reports them.
pub fn multipart_error(e: MultipartError) -> S3Error {
    use S3ErrorCode as C;
    let msg = e.to_string();
    match e {
        MultipartError::NoSuchUpload => S3Error::new(C::NoSuchUpload, msg),
        MultipartError::InvalidPart { part_number } => {
            let err = S3Error::new(C::InvalidPart, msg);
            if part_number > 0 {
                err.with_extra("PartNumber", part_number.to_string())
            } else {
                err
            }
        }
        MultipartError::InvalidPartOrder => S3Error::new(C::InvalidPartOrder, msg),
        MultipartError::EntityTooSmall {
            part_number,
            size,
            etag,
        } => S3Error::new(C::EntityTooSmall, msg)
            .with_extra("ProposedSize", size.to_string())
            .with_extra(
                "MinSizeAllowed",
                crate::service::multipart::MIN_PART_SIZE.to_string(),
            )
            .with_extra("PartNumber", part_number.to_string())
            .with_extra("ETag", etag),
        MultipartError::MalformedXml => S3Error::new(C::MalformedXML, msg),
        MultipartError::InvalidRequest(_) => S3Error::new(C::InvalidRequest, msg),
    }
}

fn payload_sha256(ctx: &Ctx<'_>) -> Option<[u8; 32]> {
    match &ctx.verified.payload {
        PayloadCheck::Sha256(d) => Some(*d),
        _ => None,
    }
}

/// `x-amz-copy-source-range: bytes=first-last` (both required, inclusive).
fn copy_source_range(h: &HeaderMap) -> Result<Option<(u64, u64)>, S3Error> {
    let Some(v) = header_str(h, "x-amz-copy-source-range")? else {
        return Ok(None);
    };
    let bad = || {
        S3Error::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first \
             and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            v,
        )
    };
    let (a, b) = v
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let first = a.trim().parse::<u64>().map_err(|_| bad())?;
    let last = b.trim().parse::<u64>().map_err(|_| bad())?;
    if last < first {
        return Err(bad());
    }
    Ok(Some((first, last)))
}

fn checksums_xml(map: &BTreeMap<String, String>) -> xml::Checksums {
    let mut c = xml::Checksums::default();
    for (alg, v) in map {
        let slot = match ChecksumAlgorithm::from_name(alg) {
            Some(ChecksumAlgorithm::Crc32) => &mut c.crc32,
            Some(ChecksumAlgorithm::Crc32c) => &mut c.crc32c,
            Some(ChecksumAlgorithm::Crc64Nvme) => &mut c.crc64nvme,
            Some(ChecksumAlgorithm::Sha1) => &mut c.sha1,
            Some(ChecksumAlgorithm::Sha256) => &mut c.sha256,
            None => continue,
        };
        *slot = Some(v.clone());
    }
    c
}

fn completed_part_checksums(p: &xml::CompletedPart) -> BTreeMap<String, String> {
    [
        (ChecksumAlgorithm::Crc32, &p.checksum_crc32),
        (ChecksumAlgorithm::Crc32c, &p.checksum_crc32c),
        (ChecksumAlgorithm::Crc64Nvme, &p.checksum_crc64nvme),
        (ChecksumAlgorithm::Sha1, &p.checksum_sha1),
        (ChecksumAlgorithm::Sha256, &p.checksum_sha256),
    ]
    .into_iter()
    .filter_map(|(a, v)| v.as_ref().map(|v| (a.name().to_string(), v.clone())))
    .collect()
}

/// Checksum headers of an upload (`x-amz-checksum-algorithm`, `x-amz-checksum-type`).
fn upload_checksum_headers(h: &mut HeaderMap, u: &UploadRecord) {
    if let Some(a) = &u.checksum_algorithm {
        insert(h, "x-amz-checksum-algorithm", a);
    }
    if let Some(t) = &u.checksum_type {
        insert(h, "x-amz-checksum-type", t);
    }
}

fn upload_error<'a>(
    bucket: &'a str,
    key: &'a str,
    upload_id: &'a str,
) -> impl Fn(ServiceError) -> S3Error + 'a {
    move |e| match e {
        ServiceError::Multipart(MultipartError::NoSuchUpload) => {
            multipart_error(MultipartError::NoSuchUpload).with_extra("UploadId", upload_id)
        }
        e => with_key(bucket, key)(e),
    }
}

impl S3Api {
    pub(crate) fn create_multipart_upload(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        key: &str,
    ) -> Result<Response<ResBody>, S3Error> {
        let h = &ctx.parts.headers;
        let checksum_algorithm = match header_str(h, "x-amz-checksum-algorithm")? {
            Some(v) => Some(ChecksumAlgorithm::from_name(v.trim()).ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "Checksum algorithm provided is unsupported. Please try again with any of \
                     the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
                )
            })?),
            None => None,
        };
        let checksum_type = match header_str(h, "x-amz-checksum-type")? {
            Some(v) => Some(ChecksumType::from_name(v).ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "Value for x-amz-checksum-type header is invalid.",
                )
            })?),
            None => None,
        };
        let user_context =
            header_str(h, "x-amz-server-side-encryption-context")?.map(str::to_string);
        let input = CreateUploadInput {
            bucket: bucket.to_string(),
            key: key.to_string(),
            content_type: header_str(h, "content-type")?.map(str::to_string),
            headers: headers::stored_headers(h)?,
            user_meta: headers::user_metadata(h)?,
            sse: headers::sse_spec(h)?,
            checksum_algorithm,
            checksum_type,
            acl: self.write_acl(ctx, bucket)?,
        };
        let (upload_id, upload) = self
            .service
            .create_multipart_upload(input)
            .map_err(with_key(bucket, key))?;
        let doc = xml::InitiateMultipartUploadResult {
            xmlns: Xmlns,
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id,
        };
        let mut r = xml_response(xml::to_xml("InitiateMultipartUploadResult", &doc)?);
        let rh = r.headers_mut();
        headers::sse_record_headers(rh, &upload.sse);
        if let Some(c) = user_context {
            insert(rh, "x-amz-server-side-encryption-context", &c);
        }
        upload_checksum_headers(rh, &upload);
        Ok(r)
    }

    pub(crate) async fn upload_part(
        &self,
        ctx: &Ctx<'_>,
        target: PartTarget,
        body: &mut RequestBody,
    ) -> Result<Response<ResBody>, S3Error> {
        let h = &ctx.parts.headers;
        let checks = headers::body_checks(h, payload_sha256(ctx))?;
        if checks.content_length.is_none() && !h.contains_key(http::header::TRANSFER_ENCODING) {
            return Err(S3Error::from_code(S3ErrorCode::MissingContentLength));
        }
        let (part, upload) = self
            .service
            .upload_part(&target, checks, body)
            .await
            .map_err(upload_error(&target.bucket, &target.key, &target.upload_id))?;
        let mut r = empty_response(StatusCode::OK);
        let rh = r.headers_mut();
        insert(rh, "etag", &format!("\"{}\"", part.stream.etag));
        headers::sse_record_headers(rh, &upload.sse);
        for (alg, value) in &part.checksums {
            if let Some(a) = ChecksumAlgorithm::from_name(alg) {
                insert(rh, a.header(), value);
            }
        }
        Ok(r)
    }

    pub(crate) async fn upload_part_copy(
        &self,
        ctx: &Ctx<'_>,
        target: PartTarget,
        source: CopySource,
    ) -> Result<Response<ResBody>, S3Error> {
        let h = &ctx.parts.headers;
        if let Some(VersionId::Id(v)) = &source.version_id {
            return Err(S3Error::from_code(S3ErrorCode::NoSuchVersion)
                .with_key(source.key.clone())
                .with_extra("VersionId", v.clone()));
        }
        let input = CopySourceInput {
            bucket: source.bucket.clone(),
            key: source.key.clone(),
            range: copy_source_range(h)?,
            customer: headers::customer_key(h, headers::SSE_C_COPY_SOURCE_PREFIX)?,
            conditions: super::copy::source_conditions(h)?,
        };
        let (part, upload) = self
            .service
            .upload_part_copy(&target, &input)
            .await
            .map_err(|e| match e {
                ServiceError::NoSuchKey | ServiceError::NoSuchBucket => {
                    with_key(&source.bucket, &source.key)(e)
                }
                e => upload_error(&target.bucket, &target.key, &target.upload_id)(e),
            })?;
        let doc = xml::CopyObjectResult {
            xmlns: Xmlns,
            etag: format!("\"{}\"", part.stream.etag),
            last_modified: Timestamp(part.last_modified_ms),
            checksum_type: None,
            checksums: checksums_xml(&part.checksums),
        };
        let mut r = xml_response(xml::to_xml("CopyPartResult", &doc)?);
        headers::sse_record_headers(r.headers_mut(), &upload.sse);
        Ok(r)
    }

    pub(crate) async fn complete_multipart_upload(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        key: &str,
        upload_id: &str,
        body: &mut RequestBody,
    ) -> Result<Response<ResBody>, S3Error> {
        let h = &ctx.parts.headers;
        let mut checks = headers::body_checks(h, payload_sha256(ctx))?;
        // A checksum header here is the whole object's, not the XML body's.
        let object_checksum = checks.checksum.take().and_then(|(a, v)| v.map(|v| (a, v)));
        let raw = body.read_limited(xml::MAX_XML_BODY).await?;
        let mut digests = Digests::new(checks, false);
        digests.update(&raw);
        digests.finish().map_err(service_error)?;
        let req: xml::CompleteMultipartUpload = xml::parse_xml(&raw)?;
        let object_size = match header_str(h, "x-amz-mp-object-size")? {
            Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
                S3Error::invalid_argument(
                    "Value for x-amz-mp-object-size header is invalid.",
                    "x-amz-mp-object-size",
                    v,
                )
            })?),
            None => None,
        };
        let input = CompleteInput {
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id: upload_id.to_string(),
            parts: req
                .parts
                .iter()
                .map(|p| CompletedPartInput {
                    part_number: p.part_number,
                    etag: p.etag.clone(),
                    checksums: completed_part_checksums(p),
                })
                .collect(),
            object_checksum,
            object_size,
        };
        let rec = self
            .service
            .complete_multipart_upload(input)
            .await
            .map_err(upload_error(bucket, key, upload_id))?;
        let host = header_str(h, "host")?.unwrap_or("localhost");
        let doc = xml::CompleteMultipartUploadResult {
            xmlns: Xmlns,
            location: format!("http://{host}/{bucket}/{key}"),
            bucket: bucket.to_string(),
            key: key.to_string(),
            etag: format!("\"{}\"", rec.etag),
            checksum_type: rec
                .checksums
                .values()
                .next()
                .map(|v| headers::checksum_type_of(v).to_string()),
            checksums: checksums_xml(&rec.checksums),
        };
        let mut r = xml_response(xml::to_xml("CompleteMultipartUploadResult", &doc)?);
        headers::sse_response_headers(r.headers_mut(), &rec);
        Ok(r)
    }

    pub(crate) async fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Response<ResBody>, S3Error> {
        self.service
            .abort_multipart_upload(bucket, key, upload_id)
            .await
            .map_err(upload_error(bucket, key, upload_id))?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    }

    pub(crate) fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        max_parts: u32,
        part_number_marker: Option<u32>,
    ) -> Result<Response<ResBody>, S3Error> {
        let marker = part_number_marker.unwrap_or(0);
        let page = self
            .service
            .list_parts(bucket, key, upload_id, marker, max_parts as usize)
            .map_err(upload_error(bucket, key, upload_id))?;
        let owner = self.owners(bucket)?.of(page.upload.acl.as_ref());
        let doc = xml::ListPartsResult {
            xmlns: Xmlns,
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id: upload_id.to_string(),
            initiator: owner.clone(),
            owner,
            storage_class: "STANDARD".into(),
            part_number_marker: marker,
            next_part_number_marker: page.parts.last().map(|p| p.stream.part_number),
            max_parts,
            is_truncated: page.truncated,
            checksum_algorithm: page.upload.checksum_algorithm.clone(),
            checksum_type: page.upload.checksum_type.clone(),
            parts: page
                .parts
                .iter()
                .map(|p| xml::Part {
                    part_number: p.stream.part_number,
                    last_modified: Timestamp(p.last_modified_ms),
                    etag: format!("\"{}\"", p.stream.etag),
                    size: p.stream.size,
                    checksums: checksums_xml(&p.checksums),
                })
                .collect(),
        };
        let mut r = xml_response(xml::to_xml("ListPartsResult", &doc)?);
        headers::sse_record_headers(r.headers_mut(), &page.upload.sse);
        Ok(r)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn list_multipart_uploads(
        &self,
        bucket: &str,
        prefix: Option<String>,
        delimiter: Option<String>,
        key_marker: Option<String>,
        upload_id_marker: Option<String>,
        max_uploads: u32,
        encoding: Option<EncodingType>,
    ) -> Result<Response<ResBody>, S3Error> {
        let url = encoding.is_some();
        let params = ListUploadsParams {
            prefix: prefix.clone().unwrap_or_default(),
            delimiter: delimiter.clone(),
            // The upload id marker only counts together with a key marker.
            upload_id_marker: key_marker.as_ref().and(upload_id_marker.clone()),
            key_marker: key_marker.clone(),
            max_uploads: max_uploads as usize,
        };
        let page = self
            .service
            .list_multipart_uploads(bucket, &params)
            .map_err(with_bucket(bucket))?;
        let owners = self.owners(bucket)?;
        let doc = xml::ListMultipartUploadsResult {
            xmlns: Xmlns,
            bucket: bucket.to_string(),
            key_marker: encode_if(url, key_marker.as_deref().unwrap_or("")),
            upload_id_marker: upload_id_marker.unwrap_or_default(),
            next_key_marker: page.next_key_marker.as_deref().map(|k| encode_if(url, k)),
            next_upload_id_marker: page.next_upload_id_marker.clone(),
            prefix: prefix.as_deref().map(|p| encode_if(url, p)),
            delimiter: delimiter.as_deref().map(|d| encode_if(url, d)),
            max_uploads,
            is_truncated: page.truncated,
            encoding_type: url.then(|| "url".to_string()),
            uploads: page
                .uploads
                .iter()
                .map(|u| xml::MultipartUpload {
                    key: encode_if(url, &u.key),
                    upload_id: u.upload_id.clone(),
                    initiator: owners.of(u.record.acl.as_ref()),
                    owner: owners.of(u.record.acl.as_ref()),
                    storage_class: "STANDARD".into(),
                    initiated: Timestamp(u.record.initiated_ms),
                    checksum_algorithm: u.record.checksum_algorithm.clone(),
                    checksum_type: u.record.checksum_type.clone(),
                })
                .collect(),
            common_prefixes: page
                .common_prefixes
                .iter()
                .map(|p| xml::CommonPrefix {
                    prefix: encode_if(url, p),
                })
                .collect(),
        };
        Ok(xml_response(xml::to_xml(
            "ListMultipartUploadsResult",
            &doc,
        )?))
    }
}
