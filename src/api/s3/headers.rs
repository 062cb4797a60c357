//! Request headers parsed into typed values, and object headers rendered for responses.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::error::{S3Error, S3ErrorCode};
use crate::kms::EncryptionContext;
use crate::secret::Key32;
use crate::service::digest::{BodyChecks, ChecksumAlgorithm};
use crate::sse::{CustomerKey, SseSpec};
use crate::storage::records::{ObjectRecord, SseMode, SseRecord};

/// User metadata names Coffer reserves for the envelope it shows; incoming ones are ignored.
pub const META_ENCRYPTED_DATA_KEY: &str = "coffer-encrypted-data-key";
pub const META_KMS_KEY_ID: &str = "coffer-kms-key-id";
/// DSSE-KMS: the second (outer layer's) wrapped data key.
pub const META_ENCRYPTED_OUTER_DATA_KEY: &str = "coffer-encrypted-outer-data-key";

/// Standard headers stored with an object and returned on GET/HEAD.
pub const STORED_HEADERS: [&str; 5] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// Largest value accepted for `x-amz-server-side-encryption-context` (base64 text).
pub const MAX_SSE_CONTEXT_HEADER: usize = 8 * 1024;

pub fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, S3Error> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("Header {name} contains characters that are not allowed"),
            )
        }),
    }
}

/// `x-amz-meta-*` pairs in request order (names lower-case, prefix stripped), reserved names
/// dropped. Values keep their bytes as given when they are valid UTF-8.
pub fn user_metadata(h: &HeaderMap) -> Result<Vec<(String, String)>, S3Error> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in h {
        let Some(n) = name.as_str().strip_prefix("x-amz-meta-") else {
            continue;
        };
        if n == META_ENCRYPTED_DATA_KEY
            || n == META_KMS_KEY_ID
            || n == META_ENCRYPTED_OUTER_DATA_KEY
        {
            continue;
        }
        let v = std::str::from_utf8(value.as_bytes()).map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "User metadata values must be valid UTF-8",
            )
        })?;
        if let Some(existing) = out.iter_mut().find(|(k, _)| k == n) {
            existing.1.push(',');
            existing.1.push_str(v);
        } else {
            out.push((n.to_string(), v.to_string()));
        }
    }
    Ok(out)
}

pub fn stored_headers(h: &HeaderMap) -> Result<BTreeMap<String, String>, S3Error> {
    let mut out = BTreeMap::new();
    for name in STORED_HEADERS {
        if let Some(v) = header_str(h, name)? {
            // aws-chunked is a transfer detail, never part of the object's encoding.
            let v: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
                .collect();
            if !v.is_empty() {
                out.insert(name.to_string(), v.join(", "));
            }
        }
    }
    Ok(out)
}

/// The SSE a write request asks for (`None`: no SSE headers, the bucket default applies).
pub fn sse_spec(h: &HeaderMap) -> Result<Option<SseSpec>, S3Error> {
    let alg = header_str(h, "x-amz-server-side-encryption")?;
    let key_id = header_str(h, "x-amz-server-side-encryption-aws-kms-key-id")?;
    let ctx = header_str(h, "x-amz-server-side-encryption-context")?;
    let bucket_key = header_str(h, "x-amz-server-side-encryption-bucket-key-enabled")?;
    if let Some(ck) = customer_key(h, SSE_C_PREFIX)? {
        if alg.is_some() {
            return Err(S3Error::invalid_argument(
                "Server Side Encryption with Customer provided key is incompatible with the \
                 encryption method specified",
                "x-amz-server-side-encryption",
                alg.unwrap_or_default(),
            ));
        }
        if key_id.is_some() || ctx.is_some() || bucket_key.is_some() {
            return Err(S3Error::invalid_argument(
                "Server Side Encryption with Customer provided key is incompatible with the \
                 encryption method specified",
                "x-amz-server-side-encryption-aws-kms-key-id",
                key_id.unwrap_or_default(),
            ));
        }
        return Ok(Some(SseSpec::Customer(ck)));
    }
    let bucket_key = match bucket_key.map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(S3Error::invalid_argument(
                "x-amz-server-side-encryption-bucket-key-enabled must be true or false",
                "x-amz-server-side-encryption-bucket-key-enabled",
                "",
            ));
        }
    };
    match alg {
        None => {
            if key_id.is_some() || ctx.is_some() || bucket_key.is_some() {
                return Err(S3Error::invalid_argument(
                    "Server Side Encryption with AWS KMS managed key requires HTTP header \
                     x-amz-server-side-encryption : aws:kms",
                    "x-amz-server-side-encryption",
                    "null",
                ));
            }
            Ok(None)
        }
        Some("AES256") => {
            if key_id.is_some() || ctx.is_some() {
                return Err(S3Error::invalid_argument(
                    "Server Side Encryption with AWS KMS managed key requires HTTP header \
                     x-amz-server-side-encryption : aws:kms",
                    "x-amz-server-side-encryption",
                    "AES256",
                ));
            }
            Ok(Some(SseSpec::S3))
        }
        Some(alg @ ("aws:kms" | "aws:kms:dsse")) => {
            let key_id = match key_id {
                Some(k) if k.trim().is_empty() => {
                    return Err(S3Error::invalid_argument(
                        "KMS key id must not be empty",
                        "x-amz-server-side-encryption-aws-kms-key-id",
                        "",
                    ));
                }
                k => k.map(|k| k.trim().to_string()),
            };
            let context = ctx.map(parse_sse_context).transpose()?;
            if alg == "aws:kms" {
                return Ok(Some(SseSpec::Kms {
                    key_id,
                    context,
                    bucket_key: bucket_key.unwrap_or(false),
                }));
            }
            // AWS: S3 Bucket Keys are not supported for DSSE-KMS.
            if bucket_key == Some(true) {
                return Err(S3Error::invalid_argument(
                    "Bucket Key is not supported for DSSE-KMS (aws:kms:dsse)",
                    "x-amz-server-side-encryption-bucket-key-enabled",
                    "true",
                ));
            }
            Ok(Some(SseSpec::Dsse { key_id, context }))
        }
        Some(other) => Err(S3Error::invalid_argument(
            "The encryption method specified is not supported",
            "x-amz-server-side-encryption",
            other,
        )),
    }
}

/// Header prefix of the SSE-C key of the object a request writes or reads.
pub const SSE_C_PREFIX: &str = "x-amz-server-side-encryption-customer-";
/// Header prefix of the SSE-C key of a copy source.
pub const SSE_C_COPY_SOURCE_PREFIX: &str = "x-amz-copy-source-server-side-encryption-customer-";

/// Does the request carry any SSE-C header (object or copy source)?
pub fn has_sse_c_headers(h: &HeaderMap) -> bool {
    h.keys().any(|n| {
        n.as_str().starts_with(SSE_C_PREFIX) || n.as_str().starts_with(SSE_C_COPY_SOURCE_PREFIX)
    })
}

/// The SSE-C key under `prefix` (`…algorithm`, `…key`, `…key-MD5`), checked as AWS checks it:
/// all three or none, AES256 only, 32 bytes of base64, the MD5 matching.
pub fn customer_key(h: &HeaderMap, prefix: &str) -> Result<Option<CustomerKey>, S3Error> {
    let alg_name = format!("{prefix}algorithm");
    let key_name = format!("{prefix}key");
    let md5_name = format!("{prefix}key-md5");
    let alg = header_str(h, &alg_name)?;
    let key = header_str(h, &key_name)?;
    let md5 = header_str(h, &md5_name)?;
    if alg.is_none() && key.is_none() && md5.is_none() {
        return Ok(None);
    }
    let Some(alg) = alg else {
        return Err(S3Error::invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide \
             a valid encryption algorithm.",
            &alg_name,
            "null",
        ));
    };
    if alg != "AES256" {
        return Err(S3Error::invalid_argument(
            "The encryption algorithm specified is not supported.",
            &alg_name,
            alg,
        ));
    }
    let Some(key) = key else {
        return Err(S3Error::invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide \
             an appropriate secret key.",
            &key_name,
            "null",
        ));
    };
    let Some(md5) = md5 else {
        return Err(S3Error::invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide \
             the client calculated MD5 of the secret key.",
            &md5_name,
            "null",
        ));
    };
    let raw = zeroize::Zeroizing::new(B64.decode(key.trim()).unwrap_or_default());
    let Some(key) = Key32::from_slice(&raw) else {
        // The value is the key: never echoed.
        return Err(S3Error::invalid_argument(
            "The secret key was invalid for the specified algorithm.",
            &key_name,
            "",
        ));
    };
    let want = B64.decode(md5.trim()).ok();
    let got = {
        use md5::Digest;
        md5::Md5::digest(key.expose()).to_vec()
    };
    if want.as_deref() != Some(&got[..]) {
        return Err(S3Error::invalid_argument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            &md5_name,
            "",
        ));
    }
    Ok(Some(CustomerKey {
        key,
        md5_b64: B64.encode(&got),
    }))
}

/// `x-amz-server-side-encryption-context`: base64 of a JSON object of string values.
pub fn parse_sse_context(b64: &str) -> Result<EncryptionContext, S3Error> {
    let bad = || {
        S3Error::invalid_argument(
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 \
             string holding JSON which represents a string-string map",
            "x-amz-server-side-encryption-context",
            "",
        )
    };
    if b64.len() > MAX_SSE_CONTEXT_HEADER {
        return Err(bad());
    }
    let raw = B64.decode(b64.trim()).map_err(|_| bad())?;
    let map: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&raw).map_err(|_| bad())?;
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            _ => Err(bad()),
        })
        .collect()
}

/// Content-Length, Content-MD5, the SigV4 payload hash and the flexible checksum headers.
pub fn body_checks(h: &HeaderMap, payload_sha256: Option<[u8; 32]>) -> Result<BodyChecks, S3Error> {
    // An aws-chunked body's real length is x-amz-decoded-content-length.
    let length_header = if h.contains_key("x-amz-decoded-content-length") {
        "x-amz-decoded-content-length"
    } else {
        "content-length"
    };
    let content_length =
        match header_str(h, length_header)? {
            Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
                S3Error::invalid_argument("Invalid Content-Length", length_header, v)
            })?),
            None => None,
        };
    let content_md5 = match header_str(h, "content-md5")? {
        Some(v) => Some(
            B64.decode(v.trim())
                .ok()
                .and_then(|d| <[u8; 16]>::try_from(d).ok())
                .ok_or_else(|| S3Error::from_code(S3ErrorCode::InvalidDigest))?,
        ),
        None => None,
    };
    let mut checksum: Option<(ChecksumAlgorithm, Option<String>)> = None;
    for alg in ChecksumAlgorithm::ALL {
        if let Some(v) = header_str(h, alg.header())? {
            if checksum.is_some() {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                ));
            }
            let ok = B64
                .decode(v.trim())
                .is_ok_and(|d| d.len() == alg.digest_len());
            if !ok {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!("Value for {} header is invalid.", alg.header()),
                ));
            }
            checksum = Some((alg, Some(v.trim().to_string())));
        }
    }
    // A checksum announced as a trailer: computed now, its value checked after the body.
    if let Some(t) = header_str(h, "x-amz-trailer")? {
        for name in t.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let alg = ChecksumAlgorithm::ALL
                .into_iter()
                .find(|a| a.header().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    S3Error::new(
                        S3ErrorCode::InvalidRequest,
                        format!("The value specified in the x-amz-trailer header is not supported: {name}"),
                    )
                })?;
            if checksum.is_some() {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                ));
            }
            checksum = Some((alg, None));
        }
    }
    let declared = match header_str(h, "x-amz-sdk-checksum-algorithm")? {
        Some(v) => Some(v),
        None => header_str(h, "x-amz-checksum-algorithm")?,
    };
    if let Some(name) = declared {
        let alg = ChecksumAlgorithm::from_name(name).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Checksum algorithm provided is unsupported. Please try again with any of the \
                 valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
            )
        })?;
        match &checksum {
            Some((a, _)) if *a != alg => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "Value for x-amz-sdk-checksum-algorithm header is invalid: expected {}",
                        a.name()
                    ),
                ));
            }
            Some(_) => {}
            // Declared but not sent: compute and store it anyway.
            None => checksum = Some((alg, None)),
        }
    }
    Ok(BodyChecks {
        content_length,
        payload_sha256,
        content_md5,
        checksum,
    })
}

pub fn insert(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

/// The SSE response headers AWS returns for an object (PUT, GET, HEAD, Copy).
pub fn sse_response_headers(h: &mut HeaderMap, rec: &ObjectRecord) {
    sse_record_headers(h, &rec.sse);
}

/// The SSE response headers for an envelope (objects and multipart uploads).
pub fn sse_record_headers(h: &mut HeaderMap, sse: &SseRecord) {
    match sse.mode {
        SseMode::S3 => insert(h, "x-amz-server-side-encryption", "AES256"),
        SseMode::Kms => {
            insert(h, "x-amz-server-side-encryption", "aws:kms");
            if let Some(arn) = &sse.kms_key_arn {
                insert(h, "x-amz-server-side-encryption-aws-kms-key-id", arn);
            }
            if sse.bucket_key {
                insert(h, "x-amz-server-side-encryption-bucket-key-enabled", "true");
            }
        }
        SseMode::Dsse => {
            insert(h, "x-amz-server-side-encryption", "aws:kms:dsse");
            if let Some(arn) = &sse.kms_key_arn {
                insert(h, "x-amz-server-side-encryption-aws-kms-key-id", arn);
            }
        }
        SseMode::Customer => {
            insert(
                h,
                "x-amz-server-side-encryption-customer-algorithm",
                "AES256",
            );
            if let Some(md5) = &sse.customer_key_md5 {
                insert(h, "x-amz-server-side-encryption-customer-key-md5", md5);
            }
        }
    }
}

/// Everything GET and HEAD return about an object besides length and range.
/// `COMPOSITE` for a multipart checksum (`base64-N`: base64 has no '-'), else `FULL_OBJECT`.
pub fn checksum_type_of(value: &str) -> &'static str {
    if value.contains('-') {
        "COMPOSITE"
    } else {
        "FULL_OBJECT"
    }
}

/// `checksums`: the flexible checksums to show (`x-amz-checksum-mode: ENABLED`), the object's
/// or one part's (see the GET handler); their type is always the object's.
pub fn object_headers(
    h: &mut HeaderMap,
    rec: &ObjectRecord,
    checksums: Option<&std::collections::BTreeMap<String, String>>,
) {
    insert(h, "etag", &format!("\"{}\"", rec.etag));
    insert(
        h,
        "last-modified",
        &super::xml::format_http_date(rec.last_modified_ms),
    );
    insert(h, "accept-ranges", "bytes");
    insert(
        h,
        "content-type",
        rec.content_type.as_deref().unwrap_or("binary/octet-stream"),
    );
    for (name, value) in &rec.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    }
    for (name, value) in &rec.user_meta {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            h.append(n, v);
        }
    }
    sse_response_headers(h, rec);
    // The envelope, made visible: the wrapped data key and the key that wraps it.
    if let Some(blob) = &rec.sse.wrapped_key {
        insert(h, "x-amz-meta-coffer-encrypted-data-key", &B64.encode(blob));
    }
    if let Some(blob) = &rec.sse.outer_wrapped_key {
        insert(
            h,
            "x-amz-meta-coffer-encrypted-outer-data-key",
            &B64.encode(blob),
        );
    }
    if let Some(arn) = &rec.sse.kms_key_arn {
        insert(h, "x-amz-meta-coffer-kms-key-id", arn);
    }
    if let Some(shown) = checksums.filter(|c| !c.is_empty()) {
        for (alg, value) in shown {
            if let Some(a) = ChecksumAlgorithm::from_name(alg) {
                insert(h, a.header(), value);
            }
        }
        if let Some(v) = rec.checksums.values().next() {
            insert(h, "x-amz-checksum-type", checksum_type_of(v));
        }
    }
    if rec.parts.len() > 1 || rec.parts.first().is_some_and(|p| p.part_number > 0) {
        insert(h, "x-amz-mp-parts-count", &rec.parts.len().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn sse_c_key_headers() {
        use md5::Digest;
        let key = [5u8; 32];
        let kb = B64.encode(key);
        let md5 = B64.encode(md5::Md5::digest(key));
        let p = "x-amz-server-side-encryption-customer-";
        let ok = hm(&[
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-server-side-encryption-customer-key", &kb),
            ("x-amz-server-side-encryption-customer-key-md5", &md5),
        ]);
        let ck = customer_key(&ok, p).unwrap().unwrap();
        assert!(ck.key.ct_eq(&Key32::from_bytes(key)));
        assert_eq!(ck.md5_b64, md5);
        assert!(matches!(sse_spec(&ok).unwrap(), Some(SseSpec::Customer(_))));
        assert_eq!(customer_key(&hm(&[]), p).unwrap(), None);
        let bad_md5 = B64.encode([0u8; 16]);
        let short = B64.encode([5u8; 31]);
        for (alg, k, m) in [
            ("AES256", kb.as_str(), bad_md5.as_str()),
            ("AES256", short.as_str(), md5.as_str()),
            ("AES256", "!!!", md5.as_str()),
            ("aws:kms", kb.as_str(), md5.as_str()),
        ] {
            let h = hm(&[
                ("x-amz-server-side-encryption-customer-algorithm", alg),
                ("x-amz-server-side-encryption-customer-key", k),
                ("x-amz-server-side-encryption-customer-key-md5", m),
            ]);
            let e = customer_key(&h, p).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidArgument);
            // The key is never echoed in an error.
            assert!(!format!("{e:?}").contains(&kb));
        }
        let mut both = ok.clone();
        both.insert(
            "x-amz-server-side-encryption",
            HeaderValue::from_static("AES256"),
        );
        assert!(sse_spec(&both).is_err());
        assert!(has_sse_c_headers(&ok));
        assert!(has_sse_c_headers(&hm(&[(
            "x-amz-copy-source-server-side-encryption-customer-key",
            "x"
        )])));
    }

    #[test]
    fn dsse_header_rules() {
        let ctx = B64.encode(br#"{"a":"b"}"#);
        let s = sse_spec(&hm(&[
            ("x-amz-server-side-encryption", "aws:kms:dsse"),
            ("x-amz-server-side-encryption-aws-kms-key-id", " alias/k "),
            ("x-amz-server-side-encryption-context", &ctx),
        ]))
        .unwrap();
        assert!(
            matches!(s, Some(SseSpec::Dsse { key_id: Some(k), context: Some(c) }) if k == "alias/k" && c["a"] == "b")
        );
        let e = sse_spec(&hm(&[
            ("x-amz-server-side-encryption", "aws:kms:dsse"),
            ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
        ]))
        .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::InvalidArgument);
        assert!(
            sse_spec(&hm(&[
                ("x-amz-server-side-encryption", "aws:kms:dsse"),
                ("x-amz-server-side-encryption-aws-kms-key-id", " ")
            ]))
            .is_err()
        );
        let mut h = HeaderMap::new();
        let rec = SseRecord {
            mode: SseMode::Dsse,
            kms_key_arn: Some("arn:k".into()),
            wrapped_key: Some(vec![1]),
            context: Default::default(),
            bucket_key: false,
            customer_key_md5: None,
            customer_key_mac: None,
            bucket_key_salt: None,
            outer_wrapped_key: Some(vec![2]),
        };
        sse_record_headers(&mut h, &rec);
        assert_eq!(h["x-amz-server-side-encryption"], "aws:kms:dsse");
        assert_eq!(h["x-amz-server-side-encryption-aws-kms-key-id"], "arn:k");
        assert!(
            user_metadata(&hm(&[(
                "x-amz-meta-coffer-encrypted-outer-data-key",
                "forged"
            )]))
            .unwrap()
            .is_empty()
        );
    }

    #[test]
    fn sse_header_rules() {
        assert_eq!(sse_spec(&hm(&[])).unwrap(), None);
        assert_eq!(
            sse_spec(&hm(&[("x-amz-server-side-encryption", "AES256")])).unwrap(),
            Some(SseSpec::S3)
        );
        assert!(sse_spec(&hm(&[("x-amz-server-side-encryption", "AES128")])).is_err());
        assert!(sse_spec(&hm(&[("x-amz-server-side-encryption-aws-kms-key-id", "k")])).is_err());
        assert!(
            sse_spec(&hm(&[
                ("x-amz-server-side-encryption", "AES256"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "k")
            ]))
            .is_err()
        );
        let ctx = B64.encode(br#"{"a":"b"}"#);
        let s = sse_spec(&hm(&[
            ("x-amz-server-side-encryption", "aws:kms"),
            ("x-amz-server-side-encryption-context", &ctx),
        ]))
        .unwrap();
        assert!(
            matches!(s, Some(SseSpec::Kms { key_id: None, context: Some(c), .. }) if c["a"] == "b")
        );
        for bad in ["!!!", &B64.encode(b"[1]"), &B64.encode(br#"{"a":1}"#)] {
            assert!(parse_sse_context(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserved_metadata_is_dropped() {
        let m = user_metadata(&hm(&[
            ("x-amz-meta-color", "blue"),
            ("x-amz-meta-coffer-kms-key-id", "forged"),
            ("x-amz-meta-coffer-encrypted-data-key", "forged"),
        ]))
        .unwrap();
        assert_eq!(m, vec![("color".to_string(), "blue".to_string())]);
    }

    #[test]
    fn checksum_headers() {
        let c = body_checks(&hm(&[("x-amz-checksum-crc32", "i9aeUg==")]), None).unwrap();
        assert_eq!(
            c.checksum,
            Some((ChecksumAlgorithm::Crc32, Some("i9aeUg==".into())))
        );
        assert!(body_checks(&hm(&[("x-amz-checksum-crc32", "xx")]), None).is_err());
        assert!(
            body_checks(
                &hm(&[
                    ("x-amz-checksum-crc32", "i9aeUg=="),
                    ("x-amz-checksum-crc32c", "crUfeA==")
                ]),
                None
            )
            .is_err()
        );
        assert!(body_checks(&hm(&[("content-md5", "nope")]), None).is_err());
    }
}

#[cfg(test)]
mod props;
