//! CopyObject on the wire: `PUT /bucket/key` with `x-amz-copy-source`.
//!
//! Headers in: the metadata directive, the destination's SSE (never inherited from the
//! source), `x-amz-copy-source-if-*`, `x-amz-checksum-algorithm`. Out: `CopyObjectResult` XML
//! and the destination's SSE headers. Refused here, before the service is asked:
//! `x-amz-copy-source-range` (UploadPartCopy only), SSE-C copy-source headers, and a copy onto
//! itself that changes nothing (S3's InvalidRequest).

use http::{Response, StatusCode};

use super::error::{S3Error, S3ErrorCode};
use super::headers::{self, header_str, insert};
use super::router::{CopySource, VersionId};
use super::xml::{self, Timestamp, Xmlns};
use super::{Ctx, S3Api, service_error};
use crate::service::ServiceError;
use crate::service::copy::{CopyObjectInput, MetadataDirective, SourceConditions};
use crate::service::digest::ChecksumAlgorithm;
use crate::service::objects::WriteConditions;
use crate::transport::body::{self, ResBody};

const MSG_COPY_TO_ITSELF: &str = "This copy request is illegal because it is trying to copy an \
     object to itself without changing the object's metadata, storage class, website redirect \
     location or encryption attributes.";

fn http_date_secs(h: &http::HeaderMap, name: &str) -> Result<Option<u64>, S3Error> {
    // S3 ignores a date it cannot parse, as for GET.
    Ok(header_str(h, name)?
        .and_then(|s| httpdate::parse_http_date(s.trim()).ok())
        .map(crate::clock::unix_secs))
}

/// `x-amz-copy-source-if-*`, shared by CopyObject and UploadPartCopy.
pub(super) fn source_conditions(h: &http::HeaderMap) -> Result<SourceConditions, S3Error> {
    Ok(SourceConditions {
        if_match: header_str(h, "x-amz-copy-source-if-match")?.map(str::to_string),
        if_none_match: header_str(h, "x-amz-copy-source-if-none-match")?.map(str::to_string),
        if_modified_since: http_date_secs(h, "x-amz-copy-source-if-modified-since")?,
        if_unmodified_since: http_date_secs(h, "x-amz-copy-source-if-unmodified-since")?,
    })
}

impl S3Api {
    pub(crate) async fn copy_object(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        key: &str,
        src: CopySource,
    ) -> Result<Response<ResBody>, S3Error> {
        let h = &ctx.parts.headers;
        if h.contains_key("x-amz-copy-source-range") {
            return Err(S3Error::invalid_argument(
                "The x-amz-copy-source-range header is only allowed with UploadPartCopy",
                "x-amz-copy-source-range",
                header_str(h, "x-amz-copy-source-range")?.unwrap_or_default(),
            ));
        }
        if let Some(VersionId::Id(v)) = &src.version_id {
            return Err(S3Error::from_code(S3ErrorCode::NoSuchVersion)
                .with_key(src.key.clone())
                .with_extra("VersionId", v.clone()));
        }
        let directive = header_str(h, "x-amz-metadata-directive")?;
        let metadata = match directive.map(str::trim) {
            None | Some("COPY") => MetadataDirective::Copy,
            Some("REPLACE") => MetadataDirective::Replace {
                content_type: header_str(h, "content-type")?.map(str::to_string),
                headers: headers::stored_headers(h)?,
                user_meta: headers::user_metadata(h)?,
            },
            Some(other) => {
                return Err(S3Error::invalid_argument(
                    "Unknown metadata directive.",
                    "x-amz-metadata-directive",
                    other,
                ));
            }
        };
        let sse = headers::sse_spec(h)?;
        let user_context =
            header_str(h, "x-amz-server-side-encryption-context")?.map(str::to_string);
        let storage_class_change = header_str(h, "x-amz-storage-class")?.is_some();
        let redirect = h.contains_key("x-amz-website-redirect-location");
        if src.bucket == bucket
            && src.key == key
            && matches!(metadata, MetadataDirective::Copy)
            && sse.is_none()
            && !storage_class_change
            && !redirect
        {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                MSG_COPY_TO_ITSELF,
            ));
        }
        let checksum_algorithm = match header_str(h, "x-amz-checksum-algorithm")? {
            None => None,
            Some(name) => Some(ChecksumAlgorithm::from_name(name.trim()).ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "Checksum algorithm provided is unsupported. Please try again with any of \
                     the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
                )
            })?),
        };
        let source_conditions = source_conditions(h)?;
        let conditions = WriteConditions {
            if_none_match_star: header_str(h, "if-none-match")?.is_some_and(|v| v.trim() == "*"),
            if_match: header_str(h, "if-match")?.map(str::to_string),
        };
        let input = CopyObjectInput {
            src_bucket: src.bucket.clone(),
            src_key: src.key.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            metadata,
            sse,
            source_customer: headers::customer_key(h, headers::SSE_C_COPY_SOURCE_PREFIX)?,
            checksum_algorithm,
            source_conditions,
            conditions,
            acl: self.write_acl(ctx, bucket)?,
        };
        let out = self.service.copy_object(input).await.map_err(|e| {
            // A missing key can only be the source's.
            let missing_key = matches!(e, ServiceError::NoSuchKey);
            let err = service_error(e);
            if missing_key {
                err.with_key(src.key.clone())
                    .with_resource(format!("/{}/{}", src.bucket, src.key))
            } else {
                err
            }
        })?;
        let rec = out.record;
        let mut doc = xml::CopyObjectResult {
            xmlns: Xmlns,
            etag: format!("\"{}\"", rec.etag),
            last_modified: Timestamp(rec.last_modified_ms),
            checksum_type: (!rec.checksums.is_empty()).then(|| "FULL_OBJECT".to_string()),
            checksums: Default::default(),
        };
        for (alg, value) in &rec.checksums {
            let v = Some(value.clone());
            match ChecksumAlgorithm::from_name(alg) {
                Some(ChecksumAlgorithm::Crc32) => doc.checksums.crc32 = v,
                Some(ChecksumAlgorithm::Crc32c) => doc.checksums.crc32c = v,
                Some(ChecksumAlgorithm::Crc64Nvme) => doc.checksums.crc64nvme = v,
                Some(ChecksumAlgorithm::Sha1) => doc.checksums.sha1 = v,
                Some(ChecksumAlgorithm::Sha256) => doc.checksums.sha256 = v,
                None => {}
            }
        }
        let mut r = Response::new(body::full(xml::to_xml("CopyObjectResult", &doc)?));
        *r.status_mut() = StatusCode::OK;
        let rh = r.headers_mut();
        insert(rh, "content-type", "application/xml");
        headers::sse_response_headers(rh, &rec);
        if let Some(c) = user_context {
            insert(rh, "x-amz-server-side-encryption-context", &c);
        }
        Ok(r)
    }
}
