//! S3 XML bodies: the request documents we parse and the response documents we write.
//!
//! Every type mirrors an AWS shape (S3 API reference, element names as AWS spells them) and
//! goes through quick-xml's serde support: responses with [`to_xml`], requests with
//! [`parse_xml`]. Responses carry the S3 namespace on the root as the `@xmlns` attribute
//! ([`Xmlns`]); optional elements are left out when `None`, as AWS leaves them out.
//! Timestamps are [`Timestamp`]s (unix milliseconds) rendered the way AWS renders them.
//!
//! Request bodies are untrusted. [`parse_xml`] turns every failure into `MalformedXML`,
//! refuses any document with a DOCTYPE (quick-xml would not expand its entities anyway, but
//! there is no legitimate use for one and refusing it closes the whole class), and expects the
//! handler to have enforced [`MAX_XML_BODY`] before it is called.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};

use super::error::{S3Error, S3ErrorCode};

/// The S3 namespace, on the root element of every response document.
pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The largest XML request body the handlers read (DeleteObjects with its maximum of 1000
/// keys of up to 1024 bytes each fits with room for escaping). The handler, which owns the
/// body stream, enforces it and refuses a bigger body without parsing it.
pub const MAX_XML_BODY: usize = 4 * 1024 * 1024;

/// The most keys one DeleteObjects request may name (AWS: 1000).
pub const MAX_DELETE_OBJECTS: usize = 1000;

/// The `xmlns` attribute of a response root; serializes as [`S3_XMLNS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Xmlns;

impl Serialize for Xmlns {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(S3_XMLNS)
    }
}

/// A point in time as unix milliseconds, rendered as AWS does in XML
/// (`2009-10-12T17:50:30.000Z`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_timestamp(self.0))
    }
}

/// The last instant both formats can show: 9999-12-31T23:59:59.999Z. Later times are
/// clamped to it rather than failing (or, in httpdate, panicking).
const MAX_UNIX_MILLIS: u64 = 253_402_300_799_999;

/// ISO 8601 with milliseconds in UTC, as S3 writes `LastModified` and friends in XML.
pub fn format_timestamp(unix_millis: u64) -> String {
    let millis = unix_millis.min(MAX_UNIX_MILLIS);
    let secs = (millis / 1000) as i64;
    // Within 0..=MAX_UNIX_MILLIS the conversion cannot fail; the fallback keeps the
    // function total without a panic path.
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
        return "1970-01-01T00:00:00.000Z".to_owned();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        millis % 1000
    )
}

/// RFC 7231 HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`), as S3 writes `Last-Modified`.
pub fn format_http_date(unix_millis: u64) -> String {
    let millis = unix_millis.min(MAX_UNIX_MILLIS);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis))
}

/// Serializes a response document under `root`, with the XML declaration AWS sends.
pub fn to_xml<T: Serialize>(root: &str, value: &T) -> Result<String, S3Error> {
    let body = quick_xml::se::to_string_with_root(root, value).map_err(|e| {
        S3Error::new(
            S3ErrorCode::InternalError,
            format!("XML serialization failed: {e}"),
        )
    })?;
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        escape_controls(body)
    ))
}

/// quick-xml escapes markup characters and `\r`, but passes other control characters through,
/// and a key may hold them. Write them as character references, as S3 does (clients that
/// cannot read those ask for `encoding-type=url`). Our own markup has no control characters,
/// so only text content is touched.
fn escape_controls(xml: String) -> String {
    let needs = |c: char| (c < ' ' && c != '\t' && c != '\n') || c == '\u{7f}';
    if !xml.contains(needs) {
        return xml;
    }
    let mut out = String::with_capacity(xml.len() + 16);
    for c in xml.chars() {
        if needs(c) {
            out.push_str(&format!("&#x{:X};", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses a request document. Any failure, including a DOCTYPE or invalid UTF-8, is
/// `MalformedXML`. The caller has already bounded the body by [`MAX_XML_BODY`].
pub fn parse_xml<T: DeserializeOwned>(body: &[u8]) -> Result<T, S3Error> {
    let malformed = || S3Error::from_code(S3ErrorCode::MalformedXML);
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    reject_doctype(text).ok_or_else(malformed)?;
    quick_xml::de::from_str(text).map_err(|_| malformed())
}

/// `Some(())` when the document is well-formed at the token level and has no DOCTYPE.
fn reject_doctype(text: &str) -> Option<()> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return Some(()),
            Ok(Event::DocType(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

// ---------------------------------------------------------------------------------------
// Shared pieces

/// `Owner` and `Initiator`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Owner {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "DisplayName", skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommonPrefix {
    #[serde(rename = "Prefix")]
    pub prefix: String,
}

/// The `x-amz-checksum-*` values an object or part carries, as XML elements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    #[serde(
        rename = "ChecksumCRC32",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub crc32: Option<String>,
    #[serde(
        rename = "ChecksumCRC32C",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub crc32c: Option<String>,
    #[serde(
        rename = "ChecksumCRC64NVME",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub crc64nvme: Option<String>,
    #[serde(
        rename = "ChecksumSHA1",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sha1: Option<String>,
    #[serde(
        rename = "ChecksumSHA256",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sha256: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Buckets

/// ListBuckets response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListAllMyBucketsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "Owner")]
    pub owner: Owner,
    #[serde(rename = "Buckets")]
    pub buckets: Buckets,
    #[serde(rename = "ContinuationToken", skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    #[serde(rename = "Prefix", skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Buckets {
    #[serde(rename = "Bucket")]
    pub bucket: Vec<Bucket>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Bucket {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "CreationDate")]
    pub creation_date: Timestamp,
    #[serde(rename = "BucketRegion", skip_serializing_if = "Option::is_none")]
    pub bucket_region: Option<String>,
}

/// CreateBucket request body (optional; absent or without a constraint means us-east-1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CreateBucketConfiguration {
    #[serde(rename = "LocationConstraint", default)]
    pub location_constraint: Option<String>,
}

/// GetBucketLocation response: `<LocationConstraint xmlns="..."/>` for us-east-1, else the
/// region as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LocationConstraint {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "$text", skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// GetBucketVersioning response; both `None` for a bucket that was never versioned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VersioningConfiguration {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(rename = "MfaDelete", skip_serializing_if = "Option::is_none")]
    pub mfa_delete: Option<String>,
}

/// PutBucketEncryption request and GetBucketEncryption response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSideEncryptionConfiguration {
    #[serde(rename = "@xmlns", skip_deserializing)]
    pub xmlns: Xmlns,
    #[serde(rename = "Rule", default)]
    pub rules: Vec<ServerSideEncryptionRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSideEncryptionRule {
    #[serde(
        rename = "ApplyServerSideEncryptionByDefault",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub apply_server_side_encryption_by_default: Option<ServerSideEncryptionByDefault>,
    #[serde(
        rename = "BucketKeyEnabled",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bucket_key_enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSideEncryptionByDefault {
    /// `AES256` or `aws:kms` (validated by the handler).
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: String,
    #[serde(
        rename = "KMSMasterKeyID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kms_master_key_id: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Listing objects

/// One `Contents` entry of ListObjects / ListObjectsV2.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Object {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "LastModified")]
    pub last_modified: Timestamp,
    /// Quoted, as in the `ETag` header.
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumAlgorithm", skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "StorageClass")]
    pub storage_class: String,
    #[serde(rename = "Owner", skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

/// ListObjects (v1) response, root `ListBucketResult`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListBucketResultV1 {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Prefix")]
    pub prefix: String,
    #[serde(rename = "Marker")]
    pub marker: String,
    #[serde(rename = "NextMarker", skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    #[serde(rename = "MaxKeys")]
    pub max_keys: u32,
    #[serde(rename = "Delimiter", skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "EncodingType", skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    #[serde(rename = "Contents")]
    pub contents: Vec<Object>,
    #[serde(rename = "CommonPrefixes")]
    pub common_prefixes: Vec<CommonPrefix>,
}

/// ListObjectsV2 response, root `ListBucketResult`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListBucketResultV2 {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Prefix")]
    pub prefix: String,
    #[serde(rename = "KeyCount")]
    pub key_count: u32,
    #[serde(rename = "MaxKeys")]
    pub max_keys: u32,
    #[serde(rename = "Delimiter", skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "EncodingType", skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    #[serde(rename = "ContinuationToken", skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    #[serde(
        rename = "NextContinuationToken",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_continuation_token: Option<String>,
    #[serde(rename = "StartAfter", skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    #[serde(rename = "Contents")]
    pub contents: Vec<Object>,
    #[serde(rename = "CommonPrefixes")]
    pub common_prefixes: Vec<CommonPrefix>,
}

/// ListObjectVersions response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListVersionsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Prefix")]
    pub prefix: String,
    #[serde(rename = "KeyMarker")]
    pub key_marker: String,
    #[serde(rename = "VersionIdMarker")]
    pub version_id_marker: String,
    #[serde(rename = "NextKeyMarker", skip_serializing_if = "Option::is_none")]
    pub next_key_marker: Option<String>,
    #[serde(
        rename = "NextVersionIdMarker",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_version_id_marker: Option<String>,
    #[serde(rename = "MaxKeys")]
    pub max_keys: u32,
    #[serde(rename = "Delimiter", skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "EncodingType", skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    /// Versions and delete markers in listing order (by key, newest first), interleaved as
    /// AWS interleaves them.
    #[serde(rename = "$value")]
    pub entries: Vec<VersionEntry>,
    #[serde(rename = "CommonPrefixes")]
    pub common_prefixes: Vec<CommonPrefix>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum VersionEntry {
    Version(ObjectVersion),
    DeleteMarker(DeleteMarkerEntry),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ObjectVersion {
    #[serde(rename = "Key")]
    pub key: String,
    /// `null` for the null version.
    #[serde(rename = "VersionId")]
    pub version_id: String,
    #[serde(rename = "IsLatest")]
    pub is_latest: bool,
    #[serde(rename = "LastModified")]
    pub last_modified: Timestamp,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumAlgorithm", skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "StorageClass")]
    pub storage_class: String,
    #[serde(rename = "Owner", skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeleteMarkerEntry {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "VersionId")]
    pub version_id: String,
    #[serde(rename = "IsLatest")]
    pub is_latest: bool,
    #[serde(rename = "LastModified")]
    pub last_modified: Timestamp,
    #[serde(rename = "Owner", skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

// ---------------------------------------------------------------------------------------
// DeleteObjects

/// DeleteObjects request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Delete {
    #[serde(rename = "Object", default)]
    pub objects: Vec<ObjectIdentifier>,
    #[serde(rename = "Quiet", default)]
    pub quiet: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ObjectIdentifier {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "VersionId", default)]
    pub version_id: Option<String>,
}

/// DeleteObjects response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeleteResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "Deleted")]
    pub deleted: Vec<DeletedObject>,
    #[serde(rename = "Error")]
    pub errors: Vec<DeleteError>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeletedObject {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "VersionId", skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(rename = "DeleteMarker", skip_serializing_if = "is_false")]
    pub delete_marker: bool,
    #[serde(
        rename = "DeleteMarkerVersionId",
        skip_serializing_if = "Option::is_none"
    )]
    pub delete_marker_version_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeleteError {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "VersionId", skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Message")]
    pub message: String,
}

impl DeleteError {
    /// The entry for a key that failed with `err`.
    pub fn from_error(key: impl Into<String>, version_id: Option<String>, err: &S3Error) -> Self {
        DeleteError {
            key: key.into(),
            version_id,
            code: err.code.as_str().to_owned(),
            message: err.message.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Copy and multipart

/// CopyObject response (also UploadPartCopy's `CopyPartResult` with a different root).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CopyObjectResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "LastModified")]
    pub last_modified: Timestamp,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    #[serde(flatten)]
    pub checksums: Checksums,
}

/// CreateMultipartUpload response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InitiateMultipartUploadResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "UploadId")]
    pub upload_id: String,
}

/// CompleteMultipartUpload request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    pub parts: Vec<CompletedPart>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumCRC32", default)]
    pub checksum_crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", default)]
    pub checksum_crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", default)]
    pub checksum_crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", default)]
    pub checksum_sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", default)]
    pub checksum_sha256: Option<String>,
}

/// CompleteMultipartUpload response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CompleteMultipartUploadResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "Location")]
    pub location: String,
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    #[serde(flatten)]
    pub checksums: Checksums,
}

/// ListParts response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListPartsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "UploadId")]
    pub upload_id: String,
    #[serde(rename = "Initiator")]
    pub initiator: Owner,
    #[serde(rename = "Owner")]
    pub owner: Owner,
    #[serde(rename = "StorageClass")]
    pub storage_class: String,
    #[serde(rename = "PartNumberMarker")]
    pub part_number_marker: u32,
    #[serde(
        rename = "NextPartNumberMarker",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_part_number_marker: Option<u32>,
    #[serde(rename = "MaxParts")]
    pub max_parts: u32,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "ChecksumAlgorithm", skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    #[serde(rename = "Part")]
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Part {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "LastModified")]
    pub last_modified: Timestamp,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(flatten)]
    pub checksums: Checksums,
}

/// ListMultipartUploads response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListMultipartUploadsResult {
    #[serde(rename = "@xmlns")]
    pub xmlns: Xmlns,
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "KeyMarker")]
    pub key_marker: String,
    #[serde(rename = "UploadIdMarker")]
    pub upload_id_marker: String,
    #[serde(rename = "NextKeyMarker", skip_serializing_if = "Option::is_none")]
    pub next_key_marker: Option<String>,
    #[serde(rename = "NextUploadIdMarker", skip_serializing_if = "Option::is_none")]
    pub next_upload_id_marker: Option<String>,
    #[serde(rename = "Prefix", skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(rename = "Delimiter", skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(rename = "MaxUploads")]
    pub max_uploads: u32,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "EncodingType", skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    #[serde(rename = "Upload")]
    pub uploads: Vec<MultipartUpload>,
    #[serde(rename = "CommonPrefixes")]
    pub common_prefixes: Vec<CommonPrefix>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MultipartUpload {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "UploadId")]
    pub upload_id: String,
    #[serde(rename = "Initiator")]
    pub initiator: Owner,
    #[serde(rename = "Owner")]
    pub owner: Owner,
    #[serde(rename = "StorageClass")]
    pub storage_class: String,
    #[serde(rename = "Initiated")]
    pub initiated: Timestamp,
    #[serde(rename = "ChecksumAlgorithm", skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
}

#[cfg(test)]
mod tests;
