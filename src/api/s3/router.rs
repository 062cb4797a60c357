//! Routing: a pure function from method, URI and headers to an [`Endpoint`].
//!
//! [`route`] decides the addressing style, percent-decodes bucket and key from the raw path,
//! picks the operation from the method and the sub-resource query parameters, and parses that
//! operation's query parameters into typed fields (numbers, `encoding-type`, `versionId`,
//! `x-amz-copy-source`). It does not validate against state or policy: bucket names, key
//! lengths and whether a bucket exists are the handler's business. Bad syntax is an
//! [`S3Error`] here (`InvalidArgument`, `InvalidURI`, `MethodNotAllowed`).
//!
//! Addressing: when the Host (or the `:authority` of HTTP/2) is `<bucket>.<domain>` for one of
//! the configured virtual-host domains, the bucket comes from the host and the whole path is
//! the key; a Host equal to a domain, an IP literal, or anything else is path-style
//! (`/<bucket>/<key>`). In the path, `+` is a literal plus; in the query it is a space (form
//! encoding, as AWS reads it). Unknown query parameters (the SDKs add `x-id=...`) are ignored.
//!
//! Operations we recognize but do not serve route to [`Endpoint::NotImplemented`] with the AWS
//! operation name, so a client gets `501 NotImplemented` naming it rather than a silent
//! misroute (e.g. `PUT ?acl` must never overwrite the object).

use std::net::IpAddr;

use http::{HeaderMap, Method, Uri};
use percent_encoding::percent_decode;

use super::error::{S3Error, S3ErrorCode};

/// The largest page a listing returns, and the default when the client names none.
pub const MAX_LIST_KEYS: u32 = 1000;
/// The highest part number of a multipart upload (AWS: 1..=10000).
pub const MAX_PART_NUMBER: u32 = 10_000;

/// What the router needs from a request.
pub struct RouteInput<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    /// configured base domains for virtual-host addressing, e.g. ["localhost", "s3.localhost", "127.0.0.1.nip.io"]
    pub vhost_domains: &'a [String],
}

/// `encoding-type`: AWS accepts only `url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingType {
    Url,
}

/// A `versionId` as a request names it; `null` is the null version (the only version an
/// object has in a bucket that was never versioned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionId {
    Null,
    Id(String),
}

/// The `response-*` query parameters of GetObject / HeadObject, which override response headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseOverrides {
    pub content_type: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
}

impl ResponseOverrides {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A parsed `x-amz-copy-source` header: `[/]bucket/key[?versionId=id]`, URL-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<VersionId>,
}

/// One variant per S3 operation, carrying its parsed parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    ListBuckets,
    CreateBucket {
        bucket: String,
    },
    HeadBucket {
        bucket: String,
    },
    DeleteBucket {
        bucket: String,
    },
    GetBucketLocation {
        bucket: String,
    },
    GetBucketVersioning {
        bucket: String,
    },
    PutBucketEncryption {
        bucket: String,
    },
    GetBucketEncryption {
        bucket: String,
    },
    DeleteBucketEncryption {
        bucket: String,
    },
    /// ListObjects (v1).
    ListObjects {
        bucket: String,
        prefix: Option<String>,
        delimiter: Option<String>,
        marker: Option<String>,
        /// Clamped to [`MAX_LIST_KEYS`]; defaults to it.
        max_keys: u32,
        encoding_type: Option<EncodingType>,
    },
    ListObjectsV2 {
        bucket: String,
        prefix: Option<String>,
        delimiter: Option<String>,
        max_keys: u32,
        continuation_token: Option<String>,
        start_after: Option<String>,
        encoding_type: Option<EncodingType>,
        fetch_owner: bool,
    },
    ListObjectVersions {
        bucket: String,
        prefix: Option<String>,
        delimiter: Option<String>,
        key_marker: Option<String>,
        version_id_marker: Option<VersionId>,
        max_keys: u32,
        encoding_type: Option<EncodingType>,
    },
    /// POST /bucket?delete (DeleteObjects); the body is a `Delete` document.
    DeleteObjects {
        bucket: String,
    },
    PutObject {
        bucket: String,
        key: String,
    },
    CopyObject {
        bucket: String,
        key: String,
        copy_source: CopySource,
    },
    GetObject {
        bucket: String,
        key: String,
        /// 1..=[`MAX_PART_NUMBER`].
        part_number: Option<u32>,
        version_id: Option<VersionId>,
        overrides: ResponseOverrides,
    },
    HeadObject {
        bucket: String,
        key: String,
        part_number: Option<u32>,
        version_id: Option<VersionId>,
        overrides: ResponseOverrides,
    },
    DeleteObject {
        bucket: String,
        key: String,
        version_id: Option<VersionId>,
    },
    CreateMultipartUpload {
        bucket: String,
        key: String,
    },
    UploadPart {
        bucket: String,
        key: String,
        /// 1..=[`MAX_PART_NUMBER`].
        part_number: u32,
        upload_id: String,
    },
    UploadPartCopy {
        bucket: String,
        key: String,
        part_number: u32,
        upload_id: String,
        copy_source: CopySource,
    },
    CompleteMultipartUpload {
        bucket: String,
        key: String,
        upload_id: String,
    },
    AbortMultipartUpload {
        bucket: String,
        key: String,
        upload_id: String,
    },
    ListParts {
        bucket: String,
        key: String,
        upload_id: String,
        /// Clamped to [`MAX_LIST_KEYS`]; defaults to it.
        max_parts: u32,
        part_number_marker: Option<u32>,
    },
    ListMultipartUploads {
        bucket: String,
        prefix: Option<String>,
        delimiter: Option<String>,
        key_marker: Option<String>,
        upload_id_marker: Option<String>,
        /// Clamped to [`MAX_LIST_KEYS`]; defaults to it.
        max_uploads: u32,
        encoding_type: Option<EncodingType>,
    },
    /// A bucket's access configuration: policy, public access block, ownership controls, ACL.
    BucketConfig {
        bucket: String,
        op: BucketOp,
    },
    /// GetObjectAcl (`put: false`) or PutObjectAcl.
    ObjectAcl {
        bucket: String,
        key: String,
        put: bool,
        version_id: Option<VersionId>,
    },
    /// An operation AWS has and we do not serve; `operation` is its AWS name.
    NotImplemented {
        operation: &'static str,
    },
}

/// The bucket access-configuration operations ([`Endpoint::BucketConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketOp {
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    GetPublicAccessBlock,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    GetBucketOwnershipControls,
    PutBucketOwnershipControls,
    DeleteBucketOwnershipControls,
    GetBucketAcl,
    PutBucketAcl,
}

impl BucketOp {
    const ALL: [BucketOp; 12] = [
        BucketOp::GetBucketPolicy,
        BucketOp::PutBucketPolicy,
        BucketOp::DeleteBucketPolicy,
        BucketOp::GetBucketPolicyStatus,
        BucketOp::GetPublicAccessBlock,
        BucketOp::PutPublicAccessBlock,
        BucketOp::DeletePublicAccessBlock,
        BucketOp::GetBucketOwnershipControls,
        BucketOp::PutBucketOwnershipControls,
        BucketOp::DeleteBucketOwnershipControls,
        BucketOp::GetBucketAcl,
        BucketOp::PutBucketAcl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BucketOp::GetBucketPolicy => "GetBucketPolicy",
            BucketOp::PutBucketPolicy => "PutBucketPolicy",
            BucketOp::DeleteBucketPolicy => "DeleteBucketPolicy",
            BucketOp::GetBucketPolicyStatus => "GetBucketPolicyStatus",
            BucketOp::GetPublicAccessBlock => "GetPublicAccessBlock",
            BucketOp::PutPublicAccessBlock => "PutPublicAccessBlock",
            BucketOp::DeletePublicAccessBlock => "DeletePublicAccessBlock",
            BucketOp::GetBucketOwnershipControls => "GetBucketOwnershipControls",
            BucketOp::PutBucketOwnershipControls => "PutBucketOwnershipControls",
            BucketOp::DeleteBucketOwnershipControls => "DeleteBucketOwnershipControls",
            BucketOp::GetBucketAcl => "GetBucketAcl",
            BucketOp::PutBucketAcl => "PutBucketAcl",
        }
    }

    fn from_name(name: &str) -> Option<BucketOp> {
        BucketOp::ALL.into_iter().find(|o| o.name() == name)
    }
}

impl Endpoint {
    /// The AWS operation name, for logs and metrics.
    pub fn operation(&self) -> &'static str {
        match self {
            Endpoint::ListBuckets => "ListBuckets",
            Endpoint::CreateBucket { .. } => "CreateBucket",
            Endpoint::HeadBucket { .. } => "HeadBucket",
            Endpoint::DeleteBucket { .. } => "DeleteBucket",
            Endpoint::GetBucketLocation { .. } => "GetBucketLocation",
            Endpoint::GetBucketVersioning { .. } => "GetBucketVersioning",
            Endpoint::PutBucketEncryption { .. } => "PutBucketEncryption",
            Endpoint::GetBucketEncryption { .. } => "GetBucketEncryption",
            Endpoint::DeleteBucketEncryption { .. } => "DeleteBucketEncryption",
            Endpoint::ListObjects { .. } => "ListObjects",
            Endpoint::ListObjectsV2 { .. } => "ListObjectsV2",
            Endpoint::ListObjectVersions { .. } => "ListObjectVersions",
            Endpoint::DeleteObjects { .. } => "DeleteObjects",
            Endpoint::PutObject { .. } => "PutObject",
            Endpoint::CopyObject { .. } => "CopyObject",
            Endpoint::GetObject { .. } => "GetObject",
            Endpoint::HeadObject { .. } => "HeadObject",
            Endpoint::DeleteObject { .. } => "DeleteObject",
            Endpoint::CreateMultipartUpload { .. } => "CreateMultipartUpload",
            Endpoint::UploadPart { .. } => "UploadPart",
            Endpoint::UploadPartCopy { .. } => "UploadPartCopy",
            Endpoint::CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            Endpoint::AbortMultipartUpload { .. } => "AbortMultipartUpload",
            Endpoint::ListParts { .. } => "ListParts",
            Endpoint::ListMultipartUploads { .. } => "ListMultipartUploads",
            Endpoint::BucketConfig { op, .. } => op.name(),
            Endpoint::ObjectAcl { put: false, .. } => "GetObjectAcl",
            Endpoint::ObjectAcl { put: true, .. } => "PutObjectAcl",
            Endpoint::NotImplemented { operation } => operation,
        }
    }

    /// The bucket the request addresses, if any.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Endpoint::ListBuckets | Endpoint::NotImplemented { .. } => None,
            Endpoint::CreateBucket { bucket }
            | Endpoint::HeadBucket { bucket }
            | Endpoint::DeleteBucket { bucket }
            | Endpoint::GetBucketLocation { bucket }
            | Endpoint::GetBucketVersioning { bucket }
            | Endpoint::PutBucketEncryption { bucket }
            | Endpoint::GetBucketEncryption { bucket }
            | Endpoint::DeleteBucketEncryption { bucket }
            | Endpoint::ListObjects { bucket, .. }
            | Endpoint::ListObjectsV2 { bucket, .. }
            | Endpoint::ListObjectVersions { bucket, .. }
            | Endpoint::DeleteObjects { bucket }
            | Endpoint::PutObject { bucket, .. }
            | Endpoint::CopyObject { bucket, .. }
            | Endpoint::GetObject { bucket, .. }
            | Endpoint::HeadObject { bucket, .. }
            | Endpoint::DeleteObject { bucket, .. }
            | Endpoint::CreateMultipartUpload { bucket, .. }
            | Endpoint::UploadPart { bucket, .. }
            | Endpoint::UploadPartCopy { bucket, .. }
            | Endpoint::CompleteMultipartUpload { bucket, .. }
            | Endpoint::AbortMultipartUpload { bucket, .. }
            | Endpoint::ListParts { bucket, .. }
            | Endpoint::ListMultipartUploads { bucket, .. }
            | Endpoint::BucketConfig { bucket, .. }
            | Endpoint::ObjectAcl { bucket, .. } => Some(bucket),
        }
    }

    /// The object key the request addresses, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            Endpoint::PutObject { key, .. }
            | Endpoint::CopyObject { key, .. }
            | Endpoint::GetObject { key, .. }
            | Endpoint::HeadObject { key, .. }
            | Endpoint::DeleteObject { key, .. }
            | Endpoint::CreateMultipartUpload { key, .. }
            | Endpoint::UploadPart { key, .. }
            | Endpoint::UploadPartCopy { key, .. }
            | Endpoint::CompleteMultipartUpload { key, .. }
            | Endpoint::AbortMultipartUpload { key, .. }
            | Endpoint::ListParts { key, .. }
            | Endpoint::ObjectAcl { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Routes a request. Pure: no I/O, no state.
pub fn route(input: &RouteInput<'_>) -> Result<Endpoint, S3Error> {
    let query = Query::parse(input.uri.query().unwrap_or(""))?;
    let raw_path = input.uri.path();
    let raw_path = raw_path.strip_prefix('/').unwrap_or(raw_path);

    let (bucket, key) = match vhost_bucket(input)? {
        Some(bucket) => (Some(bucket), decode_path(raw_path)?),
        None => {
            let (b, k) = raw_path.split_once('/').unwrap_or((raw_path, ""));
            if b.is_empty() {
                if !k.is_empty() {
                    // "//key": an empty bucket segment.
                    return Err(S3Error::new(
                        S3ErrorCode::InvalidBucketName,
                        "The specified bucket is not valid.",
                    )
                    .with_bucket(""));
                }
                (None, String::new())
            } else {
                (Some(decode_path(b)?), decode_path(k)?)
            }
        }
    };

    let method = input.method;
    match bucket {
        None => route_service(method),
        Some(bucket) if key.is_empty() => route_bucket(method, &query, bucket),
        Some(bucket) => route_object(method, &query, input.headers, bucket, key),
    }
}

fn route_service(method: &Method) -> Result<Endpoint, S3Error> {
    if method == Method::GET {
        Ok(Endpoint::ListBuckets)
    } else {
        Err(method_not_allowed(method))
    }
}

fn method_not_allowed(method: &Method) -> S3Error {
    S3Error::from_code(S3ErrorCode::MethodNotAllowed)
        .with_extra("Method", method.as_str())
        .with_extra("ResourceType", "SERVICE")
}

/// Bucket sub-resources we do not serve: (query parameter, GET op, PUT op, DELETE op).
/// An empty name means AWS has no such operation (-> MethodNotAllowed).
const BUCKET_UNIMPLEMENTED: &[(&str, &str, &str, &str)] = &[
    (
        "accelerate",
        "GetBucketAccelerateConfiguration",
        "PutBucketAccelerateConfiguration",
        "",
    ),
    ("acl", "GetBucketAcl", "PutBucketAcl", ""),
    (
        "analytics",
        "GetBucketAnalyticsConfiguration",
        "PutBucketAnalyticsConfiguration",
        "DeleteBucketAnalyticsConfiguration",
    ),
    ("cors", "GetBucketCors", "PutBucketCors", "DeleteBucketCors"),
    (
        "intelligent-tiering",
        "GetBucketIntelligentTieringConfiguration",
        "PutBucketIntelligentTieringConfiguration",
        "DeleteBucketIntelligentTieringConfiguration",
    ),
    (
        "inventory",
        "GetBucketInventoryConfiguration",
        "PutBucketInventoryConfiguration",
        "DeleteBucketInventoryConfiguration",
    ),
    (
        "lifecycle",
        "GetBucketLifecycleConfiguration",
        "PutBucketLifecycleConfiguration",
        "DeleteBucketLifecycle",
    ),
    ("logging", "GetBucketLogging", "PutBucketLogging", ""),
    (
        "metadataTable",
        "GetBucketMetadataTableConfiguration",
        "CreateBucketMetadataTableConfiguration",
        "DeleteBucketMetadataTableConfiguration",
    ),
    (
        "metrics",
        "GetBucketMetricsConfiguration",
        "PutBucketMetricsConfiguration",
        "DeleteBucketMetricsConfiguration",
    ),
    (
        "notification",
        "GetBucketNotificationConfiguration",
        "PutBucketNotificationConfiguration",
        "",
    ),
    (
        "object-lock",
        "GetObjectLockConfiguration",
        "PutObjectLockConfiguration",
        "",
    ),
    (
        "ownershipControls",
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls",
    ),
    (
        "policy",
        "GetBucketPolicy",
        "PutBucketPolicy",
        "DeleteBucketPolicy",
    ),
    ("policyStatus", "GetBucketPolicyStatus", "", ""),
    (
        "publicAccessBlock",
        "GetPublicAccessBlock",
        "PutPublicAccessBlock",
        "DeletePublicAccessBlock",
    ),
    (
        "replication",
        "GetBucketReplication",
        "PutBucketReplication",
        "DeleteBucketReplication",
    ),
    (
        "requestPayment",
        "GetBucketRequestPayment",
        "PutBucketRequestPayment",
        "",
    ),
    ("session", "CreateSession", "", ""),
    (
        "tagging",
        "GetBucketTagging",
        "PutBucketTagging",
        "DeleteBucketTagging",
    ),
    ("versioning", "", "PutBucketVersioning", ""),
    (
        "website",
        "GetBucketWebsite",
        "PutBucketWebsite",
        "DeleteBucketWebsite",
    ),
];

/// Object sub-resources we do not serve: (query parameter, GET op, PUT op, DELETE op, POST op).
const OBJECT_UNIMPLEMENTED: &[(&str, &str, &str, &str, &str)] = &[
    ("acl", "GetObjectAcl", "PutObjectAcl", "", ""),
    ("attributes", "GetObjectAttributes", "", "", ""),
    (
        "legal-hold",
        "GetObjectLegalHold",
        "PutObjectLegalHold",
        "",
        "",
    ),
    ("restore", "", "", "", "RestoreObject"),
    (
        "retention",
        "GetObjectRetention",
        "PutObjectRetention",
        "",
        "",
    ),
    ("select", "", "", "", "SelectObjectContent"),
    (
        "tagging",
        "GetObjectTagging",
        "PutObjectTagging",
        "DeleteObjectTagging",
        "",
    ),
    ("torrent", "GetObjectTorrent", "", "", ""),
];

/// `NotImplemented` naming `op`, or `not_allowed` when AWS has no such operation ("").
fn unimplemented(op: &'static str, not_allowed: S3Error) -> Result<Endpoint, S3Error> {
    if op.is_empty() {
        Err(not_allowed)
    } else {
        Ok(Endpoint::NotImplemented { operation: op })
    }
}

fn route_bucket(method: &Method, q: &Query, bucket: String) -> Result<Endpoint, S3Error> {
    let bucket_not_allowed = |method: &Method| {
        S3Error::from_code(S3ErrorCode::MethodNotAllowed)
            .with_extra("Method", method.as_str().to_owned())
            .with_extra("ResourceType", "BUCKET")
    };
    // Implemented sub-resources first, then the ones we refuse, then the plain operation.
    match *method {
        Method::GET => {
            if q.has("location") {
                return Ok(Endpoint::GetBucketLocation { bucket });
            }
            if q.has("versioning") {
                return Ok(Endpoint::GetBucketVersioning { bucket });
            }
            if q.has("encryption") {
                return Ok(Endpoint::GetBucketEncryption { bucket });
            }
            if q.has("versions") {
                return Ok(Endpoint::ListObjectVersions {
                    bucket,
                    prefix: q.string("prefix"),
                    delimiter: q.string("delimiter"),
                    key_marker: q.string("key-marker"),
                    version_id_marker: q.version_id("version-id-marker")?,
                    max_keys: q.max_count("max-keys")?,
                    encoding_type: q.encoding_type()?,
                });
            }
            if q.has("uploads") {
                return Ok(Endpoint::ListMultipartUploads {
                    bucket,
                    prefix: q.string("prefix"),
                    delimiter: q.string("delimiter"),
                    key_marker: q.string("key-marker"),
                    upload_id_marker: q.string("upload-id-marker"),
                    max_uploads: q.max_count("max-uploads")?,
                    encoding_type: q.encoding_type()?,
                });
            }
            if let Some(op) = bucket_unimplemented(q, |e| e.1) {
                if let Some(op) = BucketOp::from_name(op) {
                    return Ok(Endpoint::BucketConfig { bucket, op });
                }
                return unimplemented(op, bucket_not_allowed(method));
            }
            match q.get("list-type") {
                Some("2") => Ok(Endpoint::ListObjectsV2 {
                    bucket,
                    prefix: q.string("prefix"),
                    delimiter: q.string("delimiter"),
                    max_keys: q.max_count("max-keys")?,
                    continuation_token: q.string("continuation-token"),
                    start_after: q.string("start-after"),
                    encoding_type: q.encoding_type()?,
                    fetch_owner: q.bool("fetch-owner")?.unwrap_or(false),
                }),
                Some(other) => Err(S3Error::invalid_argument(
                    "Invalid List Type specified",
                    "list-type",
                    other,
                )),
                None => Ok(Endpoint::ListObjects {
                    bucket,
                    prefix: q.string("prefix"),
                    delimiter: q.string("delimiter"),
                    marker: q.string("marker"),
                    max_keys: q.max_count("max-keys")?,
                    encoding_type: q.encoding_type()?,
                }),
            }
        }
        Method::HEAD => Ok(Endpoint::HeadBucket { bucket }),
        Method::PUT => {
            if q.has("encryption") {
                return Ok(Endpoint::PutBucketEncryption { bucket });
            }
            if let Some(op) = bucket_unimplemented(q, |e| e.2) {
                if let Some(op) = BucketOp::from_name(op) {
                    return Ok(Endpoint::BucketConfig { bucket, op });
                }
                return unimplemented(op, bucket_not_allowed(method));
            }
            Ok(Endpoint::CreateBucket { bucket })
        }
        Method::DELETE => {
            if q.has("encryption") {
                return Ok(Endpoint::DeleteBucketEncryption { bucket });
            }
            if let Some(op) = bucket_unimplemented(q, |e| e.3) {
                if let Some(op) = BucketOp::from_name(op) {
                    return Ok(Endpoint::BucketConfig { bucket, op });
                }
                return unimplemented(op, bucket_not_allowed(method));
            }
            Ok(Endpoint::DeleteBucket { bucket })
        }
        Method::POST => {
            if q.has("delete") {
                return Ok(Endpoint::DeleteObjects { bucket });
            }
            // A POST to the bucket itself is a browser form upload.
            Ok(Endpoint::NotImplemented {
                operation: "PostObject",
            })
        }
        Method::OPTIONS => Ok(Endpoint::NotImplemented {
            operation: "OptionsObject",
        }),
        _ => Err(bucket_not_allowed(method)),
    }
}

/// The first bucket sub-resource in the table that the query names, with the operation the
/// selector picks for the method ("" if none).
fn bucket_unimplemented(
    q: &Query,
    pick: impl Fn(&(&str, &'static str, &'static str, &'static str)) -> &'static str,
) -> Option<&'static str> {
    BUCKET_UNIMPLEMENTED.iter().find(|e| q.has(e.0)).map(pick)
}

fn route_object(
    method: &Method,
    q: &Query,
    headers: &HeaderMap,
    bucket: String,
    key: String,
) -> Result<Endpoint, S3Error> {
    let sub = OBJECT_UNIMPLEMENTED.iter().find(|e| q.has(e.0));
    let object_not_allowed = |method: &Method| {
        S3Error::from_code(S3ErrorCode::MethodNotAllowed)
            .with_extra("Method", method.as_str().to_owned())
            .with_extra("ResourceType", "OBJECT")
    };
    let refuse = |op: &'static str| -> Result<Endpoint, S3Error> {
        unimplemented(op, object_not_allowed(method))
    };
    match *method {
        Method::GET | Method::HEAD => {
            if method == Method::GET {
                if let Some(upload_id) = q.get("uploadId") {
                    return Ok(Endpoint::ListParts {
                        bucket,
                        key,
                        upload_id: upload_id.to_owned(),
                        max_parts: q.max_count("max-parts")?,
                        part_number_marker: q.u32("part-number-marker")?,
                    });
                }
                if let Some(e) = sub {
                    if e.0 == "acl" {
                        return Ok(Endpoint::ObjectAcl {
                            bucket,
                            key,
                            put: false,
                            version_id: q.version_id("versionId")?,
                        });
                    }
                    return refuse(e.1);
                }
            }
            let part_number = match q.get("partNumber") {
                Some(v) => Some(parse_part_number(v)?),
                None => None,
            };
            let version_id = q.version_id("versionId")?;
            let overrides = ResponseOverrides {
                content_type: q.string("response-content-type"),
                content_language: q.string("response-content-language"),
                expires: q.string("response-expires"),
                cache_control: q.string("response-cache-control"),
                content_disposition: q.string("response-content-disposition"),
                content_encoding: q.string("response-content-encoding"),
            };
            if method == Method::GET {
                Ok(Endpoint::GetObject {
                    bucket,
                    key,
                    part_number,
                    version_id,
                    overrides,
                })
            } else {
                Ok(Endpoint::HeadObject {
                    bucket,
                    key,
                    part_number,
                    version_id,
                    overrides,
                })
            }
        }
        Method::PUT => {
            let copy_source = copy_source(headers)?;
            match (q.get("partNumber"), q.get("uploadId")) {
                (Some(part), Some(upload_id)) => {
                    let part_number = parse_part_number(part)?;
                    let upload_id = upload_id.to_owned();
                    return Ok(match copy_source {
                        Some(copy_source) => Endpoint::UploadPartCopy {
                            bucket,
                            key,
                            part_number,
                            upload_id,
                            copy_source,
                        },
                        None => Endpoint::UploadPart {
                            bucket,
                            key,
                            part_number,
                            upload_id,
                        },
                    });
                }
                (None, Some(upload_id)) => {
                    return Err(S3Error::invalid_argument(
                        "Part number must be an integer between 1 and 10000, inclusive",
                        "partNumber",
                        "",
                    )
                    .with_extra("UploadId", upload_id.to_owned()));
                }
                (Some(part), None) => {
                    return Err(S3Error::invalid_argument(
                        "This operation does not accept partNumber without uploadId",
                        "partNumber",
                        part.to_owned(),
                    ));
                }
                (None, None) => {}
            }
            if let Some(e) = sub {
                if e.0 == "acl" {
                    return Ok(Endpoint::ObjectAcl {
                        bucket,
                        key,
                        put: true,
                        version_id: q.version_id("versionId")?,
                    });
                }
                return refuse(e.2);
            }
            Ok(match copy_source {
                Some(copy_source) => Endpoint::CopyObject {
                    bucket,
                    key,
                    copy_source,
                },
                None => Endpoint::PutObject { bucket, key },
            })
        }
        Method::POST => {
            if q.has("uploads") {
                return Ok(Endpoint::CreateMultipartUpload { bucket, key });
            }
            if let Some(upload_id) = q.get("uploadId") {
                return Ok(Endpoint::CompleteMultipartUpload {
                    bucket,
                    key,
                    upload_id: upload_id.to_owned(),
                });
            }
            match sub {
                Some(e) => refuse(e.4),
                None => Err(object_not_allowed(method)),
            }
        }
        Method::DELETE => {
            if let Some(upload_id) = q.get("uploadId") {
                return Ok(Endpoint::AbortMultipartUpload {
                    bucket,
                    key,
                    upload_id: upload_id.to_owned(),
                });
            }
            if let Some(e) = sub {
                return refuse(e.3);
            }
            Ok(Endpoint::DeleteObject {
                bucket,
                key,
                version_id: q.version_id("versionId")?,
            })
        }
        Method::OPTIONS => Ok(Endpoint::NotImplemented {
            operation: "OptionsObject",
        }),
        _ => Err(object_not_allowed(method)),
    }
}

fn parse_part_number(v: &str) -> Result<u32, S3Error> {
    match v.parse::<u32>() {
        Ok(n) if (1..=MAX_PART_NUMBER).contains(&n) => Ok(n),
        _ => Err(S3Error::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            v,
        )),
    }
}

/// Parses `x-amz-copy-source`, if present.
fn copy_source(headers: &HeaderMap) -> Result<Option<CopySource>, S3Error> {
    let Some(value) = headers.get("x-amz-copy-source") else {
        return Ok(None);
    };
    let bad = |value: &str| {
        S3Error::invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            "x-amz-copy-source",
            value,
        )
    };
    let Ok(raw) = value.to_str() else {
        return Err(bad(&String::from_utf8_lossy(value.as_bytes())));
    };
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    let decoded = percent_decode(path.as_bytes())
        .decode_utf8()
        .map_err(|_| bad(raw))?;
    let Some((bucket, key)) = decoded.split_once('/') else {
        return Err(bad(raw));
    };
    if bucket.is_empty() || key.is_empty() {
        return Err(bad(raw));
    }
    let version_id = match query {
        None => None,
        Some(q) => {
            let q = Query::parse(q)?;
            match q.get("versionId") {
                Some(v) => Some(parse_version_id(v, "x-amz-copy-source")?),
                None => return Err(bad(raw)),
            }
        }
    };
    Ok(Some(CopySource {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id,
    }))
}

fn parse_version_id(v: &str, argument: &str) -> Result<VersionId, S3Error> {
    match v {
        "" => Err(S3Error::invalid_argument(
            "Version id cannot be the empty string",
            argument,
            "",
        )),
        "null" => Ok(VersionId::Null),
        id => Ok(VersionId::Id(id.to_owned())),
    }
}

/// The bucket named by a virtual-host-style Host, or `None` for path-style.
fn vhost_bucket(input: &RouteInput<'_>) -> Result<Option<String>, S3Error> {
    // HTTP/2 carries the authority in the URI; HTTP/1.1 in Host.
    let host = match input.uri.authority() {
        Some(a) => a.host().to_owned(),
        None => match input.headers.get(http::header::HOST) {
            Some(h) => match h.to_str() {
                Ok(h) => strip_port(h).to_owned(),
                Err(_) => return Ok(None),
            },
            None => return Ok(None),
        },
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    if unbracketed.parse::<IpAddr>().is_ok() {
        return Ok(None);
    }
    // The longest matching domain wins: "b.s3.localhost" is bucket "b" under "s3.localhost".
    let mut best: Option<&str> = None;
    for domain in input.vhost_domains {
        let domain = domain.trim_end_matches('.');
        if domain.is_empty() {
            continue;
        }
        let Some(head) = host.strip_suffix(&domain.to_ascii_lowercase()) else {
            continue;
        };
        if head.is_empty() {
            // The host is the domain itself: path-style, whatever shorter domain also matches.
            return Ok(None);
        }
        if let Some(bucket) = head.strip_suffix('.')
            && !bucket.is_empty()
            && best.is_none_or(|b| bucket.len() < b.len())
        {
            best = Some(bucket);
        }
    }
    Ok(best.map(str::to_owned))
}

/// "host:port" -> "host"; "[::1]:9000" -> "[::1]".
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        }
    } else {
        host.split(':').next().unwrap_or(host)
    }
}

/// Percent-decodes a path segment; `+` stays a plus.
fn decode_path(raw: &str) -> Result<String, S3Error> {
    percent_decode(raw.as_bytes())
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| S3Error::from_code(S3ErrorCode::InvalidURI))
}

/// The decoded query string. The first occurrence of a parameter wins.
struct Query {
    params: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: &str) -> Result<Self, S3Error> {
        let mut params = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((decode_query(k)?, decode_query(v)?));
        }
        Ok(Query { params })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    fn u32(&self, name: &str) -> Result<Option<u32>, S3Error> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse::<u32>().map(Some).map_err(|_| {
                S3Error::invalid_argument(
                    format!("Provided {name} not an integer or within integer range"),
                    name,
                    v,
                )
            }),
        }
    }

    /// A page size: a non-negative integer, clamped to [`MAX_LIST_KEYS`], defaulting to it.
    fn max_count(&self, name: &str) -> Result<u32, S3Error> {
        match self.get(name) {
            None => Ok(MAX_LIST_KEYS),
            Some(v) => match v.parse::<i32>() {
                Ok(n) if n >= 0 => Ok((n as u32).min(MAX_LIST_KEYS)),
                Ok(_) => Err(S3Error::invalid_argument(
                    format!("Argument {name} must be an integer between 0 and 2147483647"),
                    name,
                    v,
                )),
                Err(_) => Err(S3Error::invalid_argument(
                    format!("Provided {name} not an integer or within integer range"),
                    name,
                    v,
                )),
            },
        }
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, S3Error> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(S3Error::invalid_argument(
                format!("Invalid value for {name}: must be true or false"),
                name,
                v,
            )),
        }
    }

    fn encoding_type(&self) -> Result<Option<EncodingType>, S3Error> {
        match self.get("encoding-type") {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("url") => Ok(Some(EncodingType::Url)),
            Some(v) => Err(S3Error::invalid_argument(
                "Invalid Encoding Method specified in Request",
                "encoding-type",
                v,
            )),
        }
    }

    fn version_id(&self, name: &str) -> Result<Option<VersionId>, S3Error> {
        self.get(name)
            .map(|v| parse_version_id(v, name))
            .transpose()
    }
}

/// Query components are form-encoded: `+` is a space, then percent-decoding.
fn decode_query(raw: &str) -> Result<String, S3Error> {
    let plus_decoded = raw.replace('+', " ");
    percent_decode(plus_decoded.as_bytes())
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| S3Error::from_code(S3ErrorCode::InvalidURI))
}

#[cfg(test)]
mod tests;
