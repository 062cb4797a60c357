//! One method per S3 operation: headers and XML in, service call, headers and XML out.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::sync::mpsc;

use super::error::{S3Error, S3ErrorCode};
use super::headers::{self, header_str, insert};
use super::router::{EncodingType, ResponseOverrides, VersionId};
use super::xml::{self, Timestamp, Xmlns};
use super::{Ctx, RequestBody, S3Api, service_error};
use crate::api::auth::PayloadCheck;
use crate::service::ServiceError;
use crate::service::digest::Digests;
use crate::service::list::{ListPage, ListParams};
use crate::service::objects::{PutObjectInput, RangeSpec, WriteConditions, etag_matches};
use crate::storage::records::ObjectRecord;
use crate::transport::body::{self, ChannelBody, ResBody};

/// Pieces of plaintext decrypted ahead of the one being sent.
const GET_READ_AHEAD: usize = 4;

/// Characters S3 leaves alone in `encoding-type=url` listings: unreserved and '/'.
const URL_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

pub(crate) struct ListV2Query {
    pub prefix: Option<String>,
    pub delimiter: Option<String>,
    pub max_keys: u32,
    pub continuation_token: Option<String>,
    pub start_after: Option<String>,
    pub encoding_type: Option<EncodingType>,
    pub fetch_owner: bool,
}

pub(super) fn xml_response(body: String) -> Response<ResBody> {
    let mut r = Response::new(body::full(body));
    insert(r.headers_mut(), "content-type", "application/xml");
    r
}

pub(super) fn empty_response(status: StatusCode) -> Response<ResBody> {
    let mut r = Response::new(body::empty());
    *r.status_mut() = status;
    r
}

/// Who owns the objects and uploads of one bucket, for listings' `Owner` elements: the owner
/// an object's ACL names while ACLs are enabled, else the bucket owner.
pub(super) struct Owners {
    bucket_owner: String,
    acls: bool,
}

impl Owners {
    pub(super) fn of(&self, acl: Option<&crate::storage::records::Acl>) -> xml::Owner {
        let account = match acl {
            Some(a) if self.acls => &a.owner,
            _ => &self.bucket_owner,
        };
        super::access::owner_of(account)
    }
}

impl S3Api {
    pub(super) fn owners(&self, bucket: &str) -> Result<Owners, S3Error> {
        let rec = self
            .service
            .head_bucket(bucket)
            .map_err(with_bucket(bucket))?;
        Ok(Owners {
            bucket_owner: self.service.bucket_owner(&rec).to_string(),
            acls: rec.ownership.acls_enabled(),
        })
    }
}

pub(super) fn encode_if(url: bool, s: &str) -> String {
    if url {
        utf8_percent_encode(s, URL_ENCODE_SET).to_string()
    } else {
        s.to_string()
    }
}

pub(super) fn with_bucket(bucket: &str) -> impl Fn(ServiceError) -> S3Error + '_ {
    move |e| {
        let no_bucket = matches!(e, ServiceError::NoSuchBucket);
        let err = service_error(e);
        if no_bucket {
            err.with_bucket(bucket).with_resource(format!("/{bucket}"))
        } else {
            err
        }
    }
}

pub(super) fn with_key<'a>(bucket: &'a str, key: &'a str) -> impl Fn(ServiceError) -> S3Error + 'a {
    move |e| match e {
        ServiceError::NoSuchKey => service_error(e)
            .with_key(key)
            .with_resource(format!("/{bucket}/{key}")),
        e => with_bucket(bucket)(e),
    }
}

fn object_entry(
    key: String,
    rec: &ObjectRecord,
    url: bool,
    owners: Option<&Owners>,
) -> xml::Object {
    xml::Object {
        key: encode_if(url, &key),
        last_modified: Timestamp(rec.last_modified_ms),
        etag: format!("\"{}\"", rec.etag),
        checksum_algorithm: rec.checksums.keys().next().cloned(),
        checksum_type: rec
            .checksums
            .values()
            .next()
            .map(|v| headers::checksum_type_of(v).to_string()),
        size: rec.size,
        storage_class: "STANDARD".into(),
        owner: owners.map(|o| o.of(rec.acl.as_ref())),
    }
}

fn common_prefixes(page: &ListPage, url: bool) -> Vec<xml::CommonPrefix> {
    page.common_prefixes
        .iter()
        .map(|p| xml::CommonPrefix {
            prefix: encode_if(url, p),
        })
        .collect()
}

fn http_date_secs(s: &str) -> Option<u64> {
    httpdate::parse_http_date(s.trim())
        .ok()
        .map(crate::clock::unix_secs)
}

/// GET/HEAD conditionals, in the order and with the precedence S3 applies.
fn check_read_conditions(h: &HeaderMap, rec: &ObjectRecord) -> Result<(), S3Error> {
    let modified = rec.last_modified_ms / 1000;
    if let Some(m) = header_str(h, "if-match")? {
        if !etag_matches(m, &rec.etag) {
            return Err(S3Error::from_code(S3ErrorCode::PreconditionFailed)
                .with_extra("Condition", "If-Match"));
        }
    } else if let Some(since) = header_str(h, "if-unmodified-since")?.and_then(http_date_secs)
        && modified > since
    {
        return Err(S3Error::from_code(S3ErrorCode::PreconditionFailed)
            .with_extra("Condition", "If-Unmodified-Since"));
    }
    if let Some(m) = header_str(h, "if-none-match")? {
        if etag_matches(m, &rec.etag) {
            return Err(S3Error::from_code(S3ErrorCode::NotModified));
        }
    } else if let Some(since) = header_str(h, "if-modified-since")?.and_then(http_date_secs)
        && modified <= since
    {
        return Err(S3Error::from_code(S3ErrorCode::NotModified));
    }
    Ok(())
}

fn apply_overrides(h: &mut HeaderMap, o: &ResponseOverrides) {
    let pairs = [
        ("content-type", &o.content_type),
        ("content-language", &o.content_language),
        ("expires", &o.expires),
        ("cache-control", &o.cache_control),
        ("content-disposition", &o.content_disposition),
        ("content-encoding", &o.content_encoding),
    ];
    for (name, value) in pairs {
        if let Some(v) = value {
            insert(h, name, v);
        }
    }
}

impl S3Api {
    // ---- buckets ----

    /// The buckets `account` owns (AWS: ListBuckets shows the caller's account's buckets).
    pub(crate) fn list_buckets(&self, account: &str) -> Result<Response<ResBody>, S3Error> {
        let buckets = self.service.list_buckets().map_err(service_error)?;
        let doc = xml::ListAllMyBucketsResult {
            xmlns: Xmlns,
            owner: super::access::owner_of(account),
            buckets: xml::Buckets {
                bucket: buckets
                    .into_iter()
                    .filter(|(_, rec)| self.service.bucket_owner(rec) == account)
                    .map(|(name, rec)| xml::Bucket {
                        name,
                        creation_date: Timestamp(rec.created_ms),
                        bucket_region: Some(rec.region),
                    })
                    .collect(),
            },
            continuation_token: None,
            prefix: None,
        };
        Ok(xml_response(xml::to_xml("ListAllMyBucketsResult", &doc)?))
    }

    pub(crate) async fn create_bucket(
        &self,
        bucket: &str,
        init: crate::service::buckets::BucketInit,
        body: &mut RequestBody,
    ) -> Result<Response<ResBody>, S3Error> {
        let raw = body.read_limited(xml::MAX_XML_BODY).await?;
        let location = if raw.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            xml::parse_xml::<xml::CreateBucketConfiguration>(&raw)?.location_constraint
        };
        self.service
            .create_bucket_durable(bucket, location.as_deref(), init)
            .await
            .map_err(|e| match e {
                ServiceError::InvalidArgument(m) => {
                    S3Error::new(S3ErrorCode::InvalidLocationConstraint, m)
                }
                e => with_bucket(bucket)(e),
            })?;
        let mut r = empty_response(StatusCode::OK);
        insert(r.headers_mut(), "location", &format!("/{bucket}"));
        Ok(r)
    }

    pub(crate) fn head_bucket(&self, bucket: &str) -> Result<Response<ResBody>, S3Error> {
        let rec = self
            .service
            .head_bucket(bucket)
            .map_err(with_bucket(bucket))?;
        let mut r = empty_response(StatusCode::OK);
        insert(r.headers_mut(), "x-amz-bucket-region", &rec.region);
        Ok(r)
    }

    pub(crate) async fn delete_bucket(&self, bucket: &str) -> Result<Response<ResBody>, S3Error> {
        self.service
            .delete_bucket(bucket)
            .await
            .map_err(with_bucket(bucket))?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    }

    pub(crate) fn get_bucket_location(&self, bucket: &str) -> Result<Response<ResBody>, S3Error> {
        let rec = self
            .service
            .head_bucket(bucket)
            .map_err(with_bucket(bucket))?;
        let doc = xml::LocationConstraint {
            xmlns: Xmlns,
            region: (rec.region != "us-east-1").then_some(rec.region),
        };
        Ok(xml_response(xml::to_xml("LocationConstraint", &doc)?))
    }

    pub(crate) fn get_bucket_versioning(&self, bucket: &str) -> Result<Response<ResBody>, S3Error> {
        self.service
            .head_bucket(bucket)
            .map_err(with_bucket(bucket))?;
        let doc = xml::VersioningConfiguration {
            xmlns: Xmlns,
            status: None,
            mfa_delete: None,
        };
        Ok(xml_response(xml::to_xml("VersioningConfiguration", &doc)?))
    }

    // ---- listing ----

    fn list_page(
        &self,
        bucket: &str,
        prefix: &Option<String>,
        delimiter: &Option<String>,
        after: Option<String>,
        max_keys: u32,
    ) -> Result<ListPage, S3Error> {
        self.service
            .list_objects(
                bucket,
                &ListParams {
                    prefix: prefix.clone().unwrap_or_default(),
                    delimiter: delimiter.clone(),
                    after,
                    max_keys: max_keys as usize,
                },
            )
            .map_err(with_bucket(bucket))
    }

    pub(crate) fn list_objects_v1(
        &self,
        bucket: &str,
        prefix: Option<String>,
        delimiter: Option<String>,
        marker: Option<String>,
        max_keys: u32,
        encoding: Option<EncodingType>,
    ) -> Result<Response<ResBody>, S3Error> {
        let url = encoding.is_some();
        let page = self.list_page(bucket, &prefix, &delimiter, marker.clone(), max_keys)?;
        let owners = self.owners(bucket)?;
        let doc = xml::ListBucketResultV1 {
            xmlns: Xmlns,
            name: bucket.to_string(),
            prefix: encode_if(url, prefix.as_deref().unwrap_or("")),
            marker: encode_if(url, marker.as_deref().unwrap_or("")),
            // S3 returns NextMarker only with a delimiter; clients use the last key otherwise.
            next_marker: (page.truncated && delimiter.is_some())
                .then(|| page.last.as_deref().map(|l| encode_if(url, l)))
                .flatten(),
            max_keys,
            delimiter: delimiter.as_deref().map(|d| encode_if(url, d)),
            is_truncated: page.truncated,
            encoding_type: url.then(|| "url".to_string()),
            common_prefixes: common_prefixes(&page, url),
            contents: page
                .objects
                .into_iter()
                .map(|(k, r)| object_entry(k, &r, url, Some(&owners)))
                .collect(),
        };
        Ok(xml_response(xml::to_xml("ListBucketResult", &doc)?))
    }

    pub(crate) fn list_objects_v2(
        &self,
        bucket: &str,
        q: ListV2Query,
    ) -> Result<Response<ResBody>, S3Error> {
        let url = q.encoding_type.is_some();
        let after = match &q.continuation_token {
            Some(t) => Some(
                B64URL
                    .decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        S3Error::invalid_argument(
                            "The continuation token provided is incorrect",
                            "continuation-token",
                            t.as_str(),
                        )
                    })?,
            ),
            None => q.start_after.clone(),
        };
        let page = self.list_page(bucket, &q.prefix, &q.delimiter, after, q.max_keys)?;
        let owners = if q.fetch_owner {
            Some(self.owners(bucket)?)
        } else {
            None
        };
        let key_count = (page.objects.len() + page.common_prefixes.len()) as u32;
        let doc = xml::ListBucketResultV2 {
            xmlns: Xmlns,
            name: bucket.to_string(),
            prefix: encode_if(url, q.prefix.as_deref().unwrap_or("")),
            key_count,
            max_keys: q.max_keys,
            delimiter: q.delimiter.as_deref().map(|d| encode_if(url, d)),
            is_truncated: page.truncated,
            encoding_type: url.then(|| "url".to_string()),
            continuation_token: q.continuation_token.clone(),
            next_continuation_token: if page.truncated {
                page.last.as_deref().map(|l| B64URL.encode(l))
            } else {
                None
            },
            start_after: q.start_after.as_deref().map(|s| encode_if(url, s)),
            common_prefixes: common_prefixes(&page, url),
            contents: page
                .objects
                .into_iter()
                .map(|(k, r)| object_entry(k, &r, url, owners.as_ref()))
                .collect(),
        };
        Ok(xml_response(xml::to_xml("ListBucketResult", &doc)?))
    }

    /// Buckets here have never had versioning: every object is its own `null` version.
    pub(crate) fn list_object_versions(
        &self,
        bucket: &str,
        prefix: Option<String>,
        delimiter: Option<String>,
        key_marker: Option<String>,
        max_keys: u32,
        encoding: Option<EncodingType>,
    ) -> Result<Response<ResBody>, S3Error> {
        let url = encoding.is_some();
        let page = self.list_page(bucket, &prefix, &delimiter, key_marker.clone(), max_keys)?;
        let owners = self.owners(bucket)?;
        let doc = xml::ListVersionsResult {
            xmlns: Xmlns,
            name: bucket.to_string(),
            prefix: encode_if(url, prefix.as_deref().unwrap_or("")),
            key_marker: encode_if(url, key_marker.as_deref().unwrap_or("")),
            version_id_marker: String::new(),
            next_key_marker: if page.truncated {
                page.last.as_deref().map(|l| encode_if(url, l))
            } else {
                None
            },
            next_version_id_marker: page.truncated.then(|| "null".to_string()),
            max_keys,
            delimiter: delimiter.as_deref().map(|d| encode_if(url, d)),
            is_truncated: page.truncated,
            encoding_type: url.then(|| "url".to_string()),
            common_prefixes: common_prefixes(&page, url),
            entries: page
                .objects
                .into_iter()
                .map(|(k, r)| {
                    xml::VersionEntry::Version(xml::ObjectVersion {
                        key: encode_if(url, &k),
                        version_id: "null".into(),
                        is_latest: true,
                        last_modified: Timestamp(r.last_modified_ms),
                        etag: format!("\"{}\"", r.etag),
                        checksum_algorithm: r.checksums.keys().next().cloned(),
                        checksum_type: r
                            .checksums
                            .values()
                            .next()
                            .map(|v| headers::checksum_type_of(v).to_string()),
                        size: r.size,
                        storage_class: "STANDARD".into(),
                        owner: Some(owners.of(r.acl.as_ref())),
                    })
                })
                .collect(),
        };
        Ok(xml_response(xml::to_xml("ListVersionsResult", &doc)?))
    }

    // ---- objects ----

    pub(crate) async fn put_object(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        key: &str,
        body: &mut RequestBody,
    ) -> Result<Response<ResBody>, S3Error> {
        let h = &ctx.parts.headers;
        let payload = match &ctx.verified.payload {
            PayloadCheck::Sha256(d) => Some(*d),
            _ => None,
        };
        let checks = headers::body_checks(h, payload)?;
        if checks.content_length.is_none() && !h.contains_key(http::header::TRANSFER_ENCODING) {
            return Err(S3Error::from_code(S3ErrorCode::MissingContentLength));
        }
        let sse = headers::sse_spec(h)?;
        let user_context =
            header_str(h, "x-amz-server-side-encryption-context")?.map(str::to_string);
        let conditions = WriteConditions {
            if_none_match_star: match header_str(h, "if-none-match")? {
                Some(v) if v.trim() == "*" => true,
                Some(_) => {
                    return Err(S3Error::new(
                        S3ErrorCode::NotImplemented,
                        "A header you provided implies functionality that is not implemented",
                    )
                    .with_extra("Header", "If-None-Match"));
                }
                None => false,
            },
            if_match: header_str(h, "if-match")?.map(str::to_string),
        };
        let input = PutObjectInput {
            bucket: bucket.to_string(),
            key: key.to_string(),
            content_type: header_str(h, "content-type")?.map(str::to_string),
            headers: headers::stored_headers(h)?,
            user_meta: headers::user_metadata(h)?,
            sse,
            checks,
            conditions,
            acl: self.write_acl(ctx, bucket)?,
        };
        let rec = self
            .service
            .put_object(input, body)
            .await
            .map_err(with_key(bucket, key))?;
        let mut r = empty_response(StatusCode::OK);
        let rh = r.headers_mut();
        insert(rh, "etag", &format!("\"{}\"", rec.etag));
        headers::sse_response_headers(rh, &rec);
        if let Some(c) = user_context {
            insert(rh, "x-amz-server-side-encryption-context", &c);
        }
        for (alg, value) in &rec.checksums {
            if let Some(a) = crate::service::digest::ChecksumAlgorithm::from_name(alg) {
                insert(rh, a.header(), value);
                insert(rh, "x-amz-checksum-type", "FULL_OBJECT");
            }
        }
        Ok(r)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn get_object(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        key: &str,
        part_number: Option<u32>,
        version_id: Option<VersionId>,
        overrides: Option<ResponseOverrides>,
        head: bool,
    ) -> Result<Response<ResBody>, S3Error> {
        // An overwrite or delete between reading the record and opening its data: read the
        // record again (the new version, or NoSuchKey), a bounded number of times.
        let mut result = Err(service_error(ServiceError::ObjectChanged));
        for _ in 0..GET_ATTEMPTS {
            let mut changed = false;
            result = self
                .get_object_once(
                    ctx,
                    bucket,
                    key,
                    part_number,
                    version_id.clone(),
                    overrides.clone(),
                    head,
                    &mut changed,
                )
                .await;
            if !changed {
                break;
            }
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn get_object_once(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        key: &str,
        part_number: Option<u32>,
        version_id: Option<VersionId>,
        overrides: Option<ResponseOverrides>,
        head: bool,
        changed: &mut bool,
    ) -> Result<Response<ResBody>, S3Error> {
        let h = &ctx.parts.headers;
        if let Some(VersionId::Id(v)) = &version_id {
            return Err(S3Error::from_code(S3ErrorCode::NoSuchVersion)
                .with_key(key)
                .with_extra("VersionId", v.clone()));
        }
        // As AWS: SSE-S3/SSE-KMS are properties of the object; a read may not name them.
        for name in [
            "x-amz-server-side-encryption",
            "x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-server-side-encryption-context",
        ] {
            if h.contains_key(name) {
                return Err(S3Error::invalid_argument(
                    format!("{name} header is not supported for this operation."),
                    name,
                    header_str(h, name)?.unwrap_or_default(),
                ));
            }
        }
        let customer = headers::customer_key(h, headers::SSE_C_PREFIX)?;
        let rec = self
            .service
            .head_object(bucket, key)
            .map_err(with_key(bucket, key))?;
        // The key is checked (MAC, constant time) before anything else is revealed.
        self.service
            .check_customer_key(&rec.sse, customer.as_ref())
            .map_err(with_key(bucket, key))?;
        if let Err(e) = check_read_conditions(h, &rec) {
            if e.code != S3ErrorCode::NotModified {
                return Err(e);
            }
            // 304 carries the validators, as AWS (and RFC 9110) send them, and no body.
            let mut r = empty_response(StatusCode::NOT_MODIFIED);
            let rh = r.headers_mut();
            insert(rh, "etag", &format!("\"{}\"", rec.etag));
            insert(
                rh,
                "last-modified",
                &xml::format_http_date(rec.last_modified_ms),
            );
            return Ok(r);
        }
        let range_header = header_str(h, "range")?;
        if range_header.is_some() && part_number.is_some() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter",
            ));
        }
        let range = match part_number {
            Some(n) => Some(part_range(&rec, n)?),
            None => match range_header {
                Some(r) => match RangeSpec::parse(r).map_err(service_error)? {
                    Some(spec) => Some(spec.resolve(rec.size).map_err(service_error)?),
                    None => None,
                },
                None => None,
            },
        };
        let checksum_mode = header_str(h, "x-amz-checksum-mode")?
            .is_some_and(|v| v.eq_ignore_ascii_case("ENABLED"));
        let checksums = match (checksum_mode, range_header) {
            (false, _) | (true, Some(_)) => None,
            (true, None) => shown_checksums(&rec, part_number),
        };
        let len = range.map_or(rec.size, |(s, e)| e - s + 1);

        let mut resp_headers = HeaderMap::new();
        headers::object_headers(&mut resp_headers, &rec, checksums);
        if let Some(o) = &overrides {
            apply_overrides(&mut resp_headers, o);
        }
        insert(&mut resp_headers, "content-length", &len.to_string());
        let status =
            if let Some((s, e)) = range.filter(|_| range_header.is_some() || rec.parts.len() > 1) {
                insert(
                    &mut resp_headers,
                    "content-range",
                    &format!("bytes {s}-{e}/{}", rec.size),
                );
                StatusCode::PARTIAL_CONTENT
            } else {
                StatusCode::OK
            };

        let body = if head {
            body::empty()
        } else {
            let mut reader = match self.service.open_object(&rec, range, customer.as_ref()) {
                Ok(r) => r,
                Err(e) => {
                    *changed = matches!(e, ServiceError::ObjectChanged);
                    return Err(with_key(bucket, key)(e));
                }
            };
            if len == 0 {
                reader.verify_empty().map_err(service_error)?;
                body::empty()
            } else {
                // Decrypt the first piece before answering, so that a key-state or integrity
                // failure on a small object is a clean error response.
                let first = reader.next_chunk().map_err(service_error)?.ok_or_else(|| {
                    service_error(ServiceError::Integrity("empty first chunk".into()))
                })?;
                stream_body(first, reader, len)
            }
        };
        let mut r = Response::new(body);
        *r.status_mut() = status;
        *r.headers_mut() = resp_headers;
        Ok(r)
    }

    pub(crate) async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<VersionId>,
    ) -> Result<Response<ResBody>, S3Error> {
        if let Some(VersionId::Id(_)) = version_id {
            // No versions other than `null` exist: deleting one that does not exist succeeds.
            self.service
                .head_bucket(bucket)
                .map_err(with_bucket(bucket))?;
            return Ok(empty_response(StatusCode::NO_CONTENT));
        }
        self.service
            .delete_object(bucket, key)
            .await
            .map_err(with_key(bucket, key))?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    }

    pub(crate) async fn delete_objects(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        body: &mut RequestBody,
    ) -> Result<Response<ResBody>, S3Error> {
        let req: xml::Delete = xml::parse_xml(&read_xml_body(ctx, body).await?)?;
        if req.objects.len() > xml::MAX_DELETE_OBJECTS {
            return Err(S3Error::new(
                S3ErrorCode::MalformedXML,
                format!(
                    "The request must contain no more than {} keys",
                    xml::MAX_DELETE_OBJECTS
                ),
            ));
        }
        let quiet = req.quiet.unwrap_or(false);
        // Each key is authorized on its own (s3:DeleteObject), as AWS does; denied keys are
        // reported as AccessDenied errors and never reach the service.
        let allowed: Vec<Result<(), S3Error>> = req
            .objects
            .iter()
            .map(|o| {
                let version = o.version_id.as_ref().map(|v| {
                    if v == "null" {
                        super::router::VersionId::Null
                    } else {
                        super::router::VersionId::Id(v.clone())
                    }
                });
                let endpoint = super::router::Endpoint::DeleteObject {
                    bucket: bucket.to_string(),
                    key: o.key.clone(),
                    version_id: version,
                };
                super::authz::needs(&endpoint, &ctx.parts.headers)
                    .iter()
                    .try_for_each(|n| self.authorize(&ctx.access, n))
            })
            .collect();
        let keys: Vec<String> = req
            .objects
            .iter()
            .zip(&allowed)
            .filter(|(_, a)| a.is_ok())
            .map(|(o, _)| o.key.clone())
            .collect();
        let mut done = self
            .service
            .delete_objects(bucket, &keys)
            .await
            .map_err(with_bucket(bucket))?
            .into_iter();
        let results: Vec<Result<(), Result<crate::service::ServiceError, S3Error>>> = allowed
            .into_iter()
            .map(|a| match a {
                Ok(()) => match done.next() {
                    Some(Ok(())) => Ok(()),
                    Some(Err(e)) => Err(Ok(e)),
                    None => Err(Err(S3Error::from_code(S3ErrorCode::InternalError))),
                },
                Err(e) => Err(Err(e)),
            })
            .collect();
        let mut doc = xml::DeleteResult {
            xmlns: Xmlns,
            deleted: Vec::new(),
            errors: Vec::new(),
        };
        for (obj, res) in req.objects.into_iter().zip(results) {
            match res {
                Ok(()) if quiet => {}
                Ok(()) => doc.deleted.push(xml::DeletedObject {
                    key: obj.key,
                    version_id: obj.version_id,
                    delete_marker: false,
                    delete_marker_version_id: None,
                }),
                Err(e) => {
                    let e = match e {
                        Ok(service) => service_error(service),
                        Err(denied) => denied,
                    };
                    doc.errors
                        .push(xml::DeleteError::from_error(obj.key, obj.version_id, &e));
                }
            }
        }
        Ok(xml_response(xml::to_xml("DeleteResult", &doc)?))
    }
}

/// How many times a GET re-reads a record that changed under it before giving up.
const GET_ATTEMPTS: usize = 4;

/// Reads a small XML request body whole, verified like any body: SigV4 payload hash,
/// Content-MD5 and flexible checksums (header or trailer).
pub(crate) async fn read_xml_body(
    ctx: &Ctx<'_>,
    body: &mut RequestBody,
) -> Result<Vec<u8>, S3Error> {
    let payload = match &ctx.verified.payload {
        PayloadCheck::Sha256(d) => Some(*d),
        _ => None,
    };
    let checks = headers::body_checks(&ctx.parts.headers, payload)?;
    let raw = body.read_limited(xml::MAX_XML_BODY).await?;
    let mut digests = Digests::new(checks, false);
    digests.update(&raw);
    if let Some((alg, value)) = crate::service::objects::BodySource::trailing_checksum(body) {
        digests
            .expect_trailing_checksum(alg, value)
            .map_err(service_error)?;
    }
    digests.finish().map_err(service_error)?;
    Ok(raw)
}

/// The plaintext range of part `n` (1-based); a single-PUT object is its own part 1.
/// The checksums `x-amz-checksum-mode: ENABLED` shows for the whole object (`part: None`) or
/// one part of it, as AWS: a part of a COMPOSITE multipart object has its own checksum (the
/// one UploadPart returned, without the `-N`); a FULL_OBJECT checksum covers only the whole
/// object, so it is shown for a part only when that part is the whole object. (A Range shows
/// none: the caller does not ask.)
fn shown_checksums(
    rec: &ObjectRecord,
    part: Option<u32>,
) -> Option<&std::collections::BTreeMap<String, String>> {
    let Some(n) = part else {
        return Some(&rec.checksums);
    };
    let composite = rec
        .checksums
        .values()
        .any(|v| headers::checksum_type_of(v) == "COMPOSITE");
    if composite {
        // Records written before parts kept their checksum have none to show.
        let index = usize::try_from(n).ok()?.checked_sub(1)?;
        rec.parts.get(index).map(|p| &p.checksums)
    } else if rec.parts.len() == 1 {
        Some(&rec.checksums)
    } else {
        None
    }
}

fn part_range(rec: &ObjectRecord, n: u32) -> Result<(u64, u64), S3Error> {
    let not_satisfiable = || {
        S3Error::new(
            S3ErrorCode::InvalidRange,
            "The requested partnumber is not satisfiable",
        )
    };
    if n == 0 || n as usize > rec.parts.len() {
        return Err(not_satisfiable());
    }
    let start: u64 = rec.parts[..n as usize - 1].iter().map(|p| p.size).sum();
    let size = rec.parts[n as usize - 1].size;
    if size == 0 {
        return Err(not_satisfiable());
    }
    Ok((start, start + size - 1))
}

/// Streams the rest of an object from a producer task that decrypts ahead of the sender.
fn stream_body(
    first: Bytes,
    mut reader: crate::service::objects::ObjectReader,
    len: u64,
) -> ResBody {
    use http_body_util::BodyExt;
    let (tx, rx) = mpsc::channel(GET_READ_AHEAD);
    tokio::spawn(async move {
        if tx.send(Ok(first)).await.is_err() {
            return;
        }
        loop {
            match reader.next_chunk() {
                Ok(Some(b)) => {
                    if tx.send(Ok(b)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, "aborting a response: the object failed to decrypt");
                    let _ = tx.send(Err(e.to_string().into())).await;
                    return;
                }
            }
        }
    });
    ChannelBody::new(rx, len).boxed_unsync()
}

#[allow(dead_code)]
fn b64(b: &[u8]) -> String {
    B64.encode(b)
}
