//! SigV4 authentication, shared by the S3 and KMS protocols.
//!
//! [`verify`] takes the method, URI and headers of a request (never the body), decides which
//! mechanism it uses (Authorization header, presigned query, none) and either proves it was
//! signed by the holder of a known secret key or says why not, as the [`AuthError`] AWS would
//! give. What remains to check about the body is handed back as a [`PayloadCheck`]: S3 signs a
//! *claimed* body hash (`x-amz-content-sha256`), so the caller must hash the body as it streams
//! in ([`PayloadHasher`]) before acting on it. KMS signs the real body hash; its caller hashes
//! the (small) body first and calls [`verify_with_body_hash`].
//!
//! Invariants: secrets and computed signatures never reach an error message or `Debug`
//! output; signatures are compared in constant time; no input makes this module panic.
//! The algorithm itself (canonical forms, key derivation) lives in [`sigv4`], the parsing of
//! headers and query parameters in `parse`.

pub mod chunked;
mod parse;
pub mod sigv4;

use std::time::SystemTime;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::secret::ct_eq;
use parse::{Malformed, Scheme};
use sigv4::{STREAMING_PREFIX, UNSIGNED_PAYLOAD};

/// Largest allowed difference between the request's date and the server clock (AWS: 15 min).
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;
/// Longest validity of a presigned URL (`X-Amz-Expires`), one week as AWS allows.
pub const MAX_PRESIGNED_EXPIRES_SECS: i64 = 604_800;

/// Looks up secret keys by access key id.
pub trait CredentialStore: Send + Sync {
    fn secret_for(&self, access_key_id: &str) -> Option<crate::secret::SecretString>;
}

/// What the request looks like, borrowed from the hyper request (no body).
pub struct AuthRequest<'a> {
    pub method: &'a http::Method,
    /// Raw path and raw query exactly as received.
    pub uri: &'a http::Uri,
    pub headers: &'a http::HeaderMap,
}

/// How the payload is to be verified after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadCheck {
    /// UNSIGNED-PAYLOAD (header auth or presigned URL): nothing to verify.
    Unsigned,
    /// x-amz-content-sha256 was a hex SHA-256 (or, for [`verify_with_body_hash`], the body
    /// hash the caller supplied): the body must hash to it (XAmzContentSHA256Mismatch
    /// otherwise).
    Sha256([u8; 32]),
    /// STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER,
    /// STREAMING-UNSIGNED-PAYLOAD-TRAILER and any other STREAMING-* value: returned so the
    /// caller can refuse it for now (aws-chunked support comes later).
    Streaming(String),
}

/// A request proven to be signed by the holder of `access_key_id`'s secret.
#[derive(Debug, Clone)]
pub struct Verified {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
    pub payload: PayloadCheck,
    pub presigned: bool,
    /// The request's signature (hex), the seed for aws-chunked chunk signatures later.
    pub seed_signature: String,
    /// Scope date YYYYMMDD and the x-amz-date timestamp (YYYYMMDD'T'HHMMSS'Z'), for chunk
    /// signing later. The signing key itself is not kept here: re-derive it with
    /// [`sigv4::signing_key`] (cached, so cheap).
    pub scope_date: String,
    pub amz_date: String,
}

/// The service a SigV4 request is signed for (the fourth field of its credential scope), from
/// the Authorization header or the presigned `X-Amz-Credential`; `None` for an unsigned or
/// unparseable request. Routing only: nothing is trusted until [`verify`] has checked it.
pub fn signing_service<'a>(headers: &'a HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    let scope = match headers.get(http::header::AUTHORIZATION) {
        Some(v) => {
            let v = v.to_str().ok()?;
            let rest = v.split_once("Credential=")?.1;
            rest.split([',', ' ']).next()?
        }
        None => {
            let q = uri.query()?;
            let v = q
                .split('&')
                .find_map(|kv| kv.strip_prefix("X-Amz-Credential="))?;
            // URL-encoded slashes: the fields are separated by %2F.
            return scope_service(v, "%2F").or_else(|| scope_service(v, "/"));
        }
    };
    scope_service(scope, "/")
}

fn scope_service<'a>(scope: &'a str, sep: &str) -> Option<&'a str> {
    let mut parts = scope.split(sep);
    let service = parts.nth(3)?;
    (parts.next()? == "aws4_request").then_some(service)
}

impl Verified {
    /// What an unsigned (anonymous) request carries: no key, nothing signed, an unchecked
    /// payload (a body's checksums are still verified).
    pub fn anonymous(region: &str, service: &str) -> Verified {
        Verified {
            access_key_id: String::new(),
            region: region.to_owned(),
            service: service.to_owned(),
            payload: PayloadCheck::Unsigned,
            presigned: false,
            seed_signature: String::new(),
            scope_date: String::new(),
            amz_date: String::new(),
        }
    }
}

/// Why a request is not authenticated. Display messages follow AWS's wording and never
/// contain a secret or a computed signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No Authorization header and no presigned query: anonymous. S3 code AccessDenied.
    #[error("Access Denied")]
    Anonymous,
    /// S3 InvalidAccessKeyId
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    InvalidAccessKeyId,
    /// S3 SignatureDoesNotMatch
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your key and signing method."
    )]
    SignatureDoesNotMatch,
    /// S3 RequestTimeTooSkewed (more than 15 minutes between x-amz-date/Date and now)
    #[error("The difference between the request time and the current time is too large.")]
    RequestTimeTooSkewed,
    /// presigned URL past X-Amz-Date + X-Amz-Expires: S3 AccessDenied "Request has expired"
    #[error("Request has expired")]
    Expired,
    /// S3 AuthorizationHeaderMalformed (bad Authorization header shape, bad credential scope,
    /// bad region, ...)
    #[error("{0}")]
    HeaderMalformed(String),
    /// S3 AuthorizationQueryParametersError (bad presigned query, X-Amz-Expires out of
    /// 1..=604800, ...)
    #[error("{0}")]
    QueryMalformed(String),
    /// S3 InvalidArgument / InvalidRequest for other bad auth input (e.g. unsupported
    /// algorithm such as SigV2)
    #[error("{0}")]
    InvalidArgument(String),
    /// S3 AccessDenied with a message (e.g. missing x-amz-date, missing x-amz-content-sha256
    /// for s3)
    #[error("{0}")]
    AccessDenied(String),
}

const MSG_V2_UNSUPPORTED: &str =
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.";
const MSG_UNSUPPORTED_TYPE: &str = "Unsupported Authorization Type";
const MSG_TWO_MECHANISMS: &str = "Only one auth mechanism allowed; only the X-Amz-Algorithm query \
     parameter, Signature query string parameter or the Authorization header should be specified";
const MSG_NO_DATE: &str = "AWS authentication requires a valid Date or x-amz-date header";
const MSG_NO_CONTENT_SHA256: &str =
    "Missing required header for this request: x-amz-content-sha256";
const MSG_BAD_CONTENT_SHA256: &str = "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, \
     STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, \
     STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.";
const MSG_QUERY_REQUIRED: &str = "Query-string authentication version 4 requires the \
     X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
     X-Amz-Expires parameters.";

/// Verify a request signed with AWS SigV4 (Authorization header or presigned query).
///
/// `service` is the expected service; `region` the server's region: requests scoped to another
/// region get [`AuthError::HeaderMalformed`] ("the region 'x' is wrong; expecting 'y'").
/// The payload hash comes from `x-amz-content-sha256` (required for header auth) or, for a
/// presigned URL, from `X-Amz-Content-Sha256` in the query or `UNSIGNED-PAYLOAD`: that is S3's
/// rule. Services that sign the real body hash (KMS) use [`verify_with_body_hash`].
pub fn verify(
    req: &AuthRequest<'_>,
    creds: &dyn CredentialStore,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<Verified, AuthError> {
    verify_inner(req, creds, region, service, now, None)
}

/// Like [`verify`], for services whose canonical request carries the SHA-256 of the body
/// (KMS): the caller hashes the body and passes the lowercase or uppercase hex digest, which
/// the canonical request uses whatever `x-amz-content-sha256` says. The returned payload check
/// is `Sha256(that digest)`, which the caller has already satisfied.
pub fn verify_with_body_hash(
    req: &AuthRequest<'_>,
    creds: &dyn CredentialStore,
    region: &str,
    service: &str,
    now: SystemTime,
    body_sha256_hex: &str,
) -> Result<Verified, AuthError> {
    let digest = parse_sha256_hex(body_sha256_hex).ok_or_else(|| {
        AuthError::InvalidArgument("the body hash must be 64 hexadecimal digits".into())
    })?;
    verify_inner(req, creds, region, service, now, Some(digest))
}

/// Incremental SHA-256 checker for [`PayloadCheck::Sha256`] bodies; compares in constant time.
pub struct PayloadHasher {
    expected: [u8; 32],
    hasher: Sha256,
}

impl PayloadHasher {
    pub fn new(expected: [u8; 32]) -> Self {
        PayloadHasher {
            expected,
            hasher: Sha256::new(),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// Whether the bytes seen hash to the expected digest.
    pub fn finish(self) -> bool {
        let got = self.hasher.finalize();
        ct_eq(got.as_slice(), &self.expected)
    }
}

fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Where the canonical request's payload hash comes from, after parsing.
struct Payload {
    /// The last line of the canonical request.
    hash_line: String,
    check: PayloadCheck,
}

fn payload_from_claim(value: &str) -> Result<Payload, AuthError> {
    let check = if value == UNSIGNED_PAYLOAD {
        PayloadCheck::Unsigned
    } else if value.starts_with(STREAMING_PREFIX) {
        PayloadCheck::Streaming(value.to_owned())
    } else if let Some(d) = parse_sha256_hex(value) {
        PayloadCheck::Sha256(d)
    } else {
        return Err(AuthError::InvalidArgument(MSG_BAD_CONTENT_SHA256.into()));
    };
    Ok(Payload {
        hash_line: value.to_owned(),
        check,
    })
}

fn payload_from_body(digest: [u8; 32]) -> Payload {
    Payload {
        hash_line: hex::encode(digest),
        check: PayloadCheck::Sha256(digest),
    }
}

/// Which side of the request carries the authentication, for error wording.
#[derive(Clone, Copy)]
enum Source {
    Header,
    Query,
}

impl Source {
    fn malformed(self, m: Malformed) -> AuthError {
        match self {
            Source::Header => AuthError::HeaderMalformed(format!(
                "The authorization header is malformed; {}",
                m.0
            )),
            Source::Query => AuthError::QueryMalformed(format!(
                "Error parsing the X-Amz-Credential parameter; {}",
                m.0
            )),
        }
    }
}

/// Everything needed to compute the expected signature, gathered by either mechanism.
struct Signed<'a> {
    access_key_id: &'a str,
    scope_date: &'a str,
    amz_date: String,
    signed_headers: &'a str,
    header_names: Vec<http::HeaderName>,
    signature: &'a str,
    payload: Payload,
    presigned: bool,
}

fn verify_inner(
    req: &AuthRequest<'_>,
    creds: &dyn CredentialStore,
    region: &str,
    service: &str,
    now: SystemTime,
    body_digest: Option<[u8; 32]>,
) -> Result<Verified, AuthError> {
    let now = unix_secs(now);
    let query = req.uri.query();
    let params = parse::presigned_params(query);
    let mut auth_values = req.headers.get_all(http::header::AUTHORIZATION).iter();
    let auth_header = auth_values.next();
    if auth_values.next().is_some() {
        return Err(AuthError::InvalidArgument(
            "Only one Authorization header is allowed".into(),
        ));
    }

    let signed = match auth_header {
        Some(value) => {
            if params.is_v4() || params.v2 {
                return Err(AuthError::InvalidArgument(MSG_TWO_MECHANISMS.into()));
            }
            from_header(req, value.as_bytes(), region, service, now, body_digest)?
        }
        None if params.is_v4() => from_query(&params, region, service, now, body_digest)?,
        None if params.v2 => return Err(AuthError::InvalidArgument(MSG_V2_UNSUPPORTED.into())),
        None => return Err(AuthError::Anonymous),
    };

    let secret = creds
        .secret_for(signed.access_key_id)
        .ok_or(AuthError::InvalidAccessKeyId)?;
    let creq = canonical_request(req, service, &signed)?;
    let scope = sigv4::credential_scope(signed.scope_date, region, service);
    let sts = sigv4::string_to_sign(&signed.amz_date, &scope, &creq);
    let key = sigv4::signing_key(
        signed.access_key_id,
        &secret,
        signed.scope_date,
        region,
        service,
    );
    let expected = key.sign(sts.as_bytes());
    let mut provided = [0u8; 32];
    if hex::decode_to_slice(signed.signature, &mut provided).is_err()
        || !ct_eq(&expected, &provided)
    {
        return Err(AuthError::SignatureDoesNotMatch);
    }

    Ok(Verified {
        access_key_id: signed.access_key_id.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        payload: signed.payload.check,
        presigned: signed.presigned,
        seed_signature: hex::encode(expected),
        scope_date: signed.scope_date.to_owned(),
        amz_date: signed.amz_date,
    })
}

fn from_header<'a>(
    req: &AuthRequest<'_>,
    value: &'a [u8],
    region: &str,
    service: &str,
    now: i64,
    body_digest: Option<[u8; 32]>,
) -> Result<Signed<'a>, AuthError> {
    match parse::scheme(value) {
        Scheme::V4 => {}
        Scheme::UnsupportedAws => {
            return Err(AuthError::InvalidArgument(MSG_V2_UNSUPPORTED.into()));
        }
        Scheme::Unknown => return Err(AuthError::InvalidArgument(MSG_UNSUPPORTED_TYPE.into())),
    }
    let src = Source::Header;
    let value = std::str::from_utf8(value)
        .map_err(|_| src.malformed(Malformed("the header is not valid UTF-8".into())))?;
    let auth = parse::authorization_v4(value).map_err(|m| src.malformed(m))?;
    let cred = parse::credential(auth.credential, region, service).map_err(|m| src.malformed(m))?;
    let header_names = parse::signed_headers(auth.signed_headers).map_err(|m| src.malformed(m))?;

    let (amz_date, unix) = request_date(req.headers)?;
    if !amz_date.starts_with(cred.date) {
        return Err(src.malformed(Malformed(format!(
            "Invalid credential date \"{}\". This date is not the same as X-Amz-Date: \"{}\".",
            cred.date,
            amz_date.get(..8).unwrap_or_default()
        ))));
    }
    if now.saturating_sub(unix).saturating_abs() > MAX_CLOCK_SKEW_SECS {
        return Err(AuthError::RequestTimeTooSkewed);
    }

    let payload = match body_digest {
        Some(d) => payload_from_body(d),
        None => {
            let claim = req
                .headers
                .get("x-amz-content-sha256")
                .ok_or_else(|| AuthError::AccessDenied(MSG_NO_CONTENT_SHA256.into()))?;
            let claim = claim
                .to_str()
                .map_err(|_| AuthError::InvalidArgument(MSG_BAD_CONTENT_SHA256.into()))?;
            payload_from_claim(claim)?
        }
    };

    Ok(Signed {
        access_key_id: cred.access_key_id,
        scope_date: cred.date,
        amz_date,
        signed_headers: auth.signed_headers,
        header_names,
        signature: auth.signature,
        payload,
        presigned: false,
    })
}

/// The request timestamp: `x-amz-date` if present, else `Date` (RFC 1123), as the
/// `YYYYMMDD'T'HHMMSS'Z'` string the string-to-sign uses and as Unix seconds.
fn request_date(headers: &HeaderMap) -> Result<(String, i64), AuthError> {
    let no_date = || AuthError::AccessDenied(MSG_NO_DATE.into());
    if let Some(v) = headers.get("x-amz-date") {
        let s = v.to_str().map_err(|_| no_date())?;
        let d = sigv4::parse_amz_date(s).ok_or_else(no_date)?;
        return Ok((s.to_owned(), d.unix));
    }
    let v = headers.get(http::header::DATE).ok_or_else(no_date)?;
    let s = v.to_str().map_err(|_| no_date())?;
    let t = httpdate::parse_http_date(s).map_err(|_| no_date())?;
    let unix = unix_secs(t);
    let formatted = sigv4::format_amz_date(unix).ok_or_else(no_date)?;
    Ok((formatted, unix))
}

fn from_query<'a>(
    p: &'a parse::PresignedParams,
    region: &str,
    service: &str,
    now: i64,
    body_digest: Option<[u8; 32]>,
) -> Result<Signed<'a>, AuthError> {
    let qm = |s: &str| AuthError::QueryMalformed(s.to_owned());
    if let Some(e) = &p.error {
        return Err(qm(e));
    }
    let required = || qm(MSG_QUERY_REQUIRED);
    let algorithm = p.algorithm.as_deref().ok_or_else(required)?;
    let credential = p.credential.as_deref().ok_or_else(required)?;
    let date = p.date.as_deref().ok_or_else(required)?;
    let expires = p.expires.as_deref().ok_or_else(required)?;
    let signed_headers = p.signed_headers.as_deref().ok_or_else(required)?;
    let signature = p.signature.as_deref().ok_or_else(required)?;

    if algorithm != sigv4::ALGORITHM {
        return Err(qm("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
    }
    let src = Source::Query;
    let cred = parse::credential(credential, region, service).map_err(|m| src.malformed(m))?;
    let parsed_date = sigv4::parse_amz_date(date).ok_or_else(|| {
        qm("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    if !date.starts_with(cred.date) {
        return Err(src.malformed(Malformed(format!(
            "Invalid credential date \"{}\". This date is not the same as X-Amz-Date: \"{}\".",
            cred.date,
            date.get(..8).unwrap_or_default()
        ))));
    }
    if expires.starts_with('-') {
        return Err(qm("X-Amz-Expires must be non-negative"));
    }
    let expires: i64 = expires
        .parse()
        .map_err(|_| qm("X-Amz-Expires should be a number"))?;
    if expires < 1 {
        return Err(qm("X-Amz-Expires must be a positive number of seconds"));
    }
    if expires > MAX_PRESIGNED_EXPIRES_SECS {
        return Err(qm(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    let header_names = parse::signed_headers(signed_headers).map_err(|m| {
        AuthError::QueryMalformed(format!(
            "Error parsing the X-Amz-SignedHeaders parameter; {}",
            m.0
        ))
    })?;
    if parsed_date.unix.saturating_sub(now) > MAX_CLOCK_SKEW_SECS {
        return Err(AuthError::AccessDenied("Request is not valid yet".into()));
    }
    if now > parsed_date.unix.saturating_add(expires) {
        return Err(AuthError::Expired);
    }

    let payload = match (body_digest, p.content_sha256.as_deref()) {
        (Some(d), _) => payload_from_body(d),
        (None, Some(claim)) => payload_from_claim(claim)?,
        (None, None) => payload_from_claim(UNSIGNED_PAYLOAD)?,
    };

    Ok(Signed {
        access_key_id: cred.access_key_id,
        scope_date: cred.date,
        amz_date: date.to_owned(),
        signed_headers,
        header_names,
        signature,
        payload,
        presigned: true,
    })
}

/// Builds the canonical request of `req` as `signed` describes it.
fn canonical_request(
    req: &AuthRequest<'_>,
    service: &str,
    signed: &Signed<'_>,
) -> Result<Vec<u8>, AuthError> {
    let mut headers = Vec::with_capacity(signed.header_names.len());
    for name in &signed.header_names {
        let mut value = Vec::new();
        let mut values = req.headers.get_all(name).iter().peekable();
        // HTTP/2 carries the host in `:authority`, which hyper puts in the URI.
        let authority = (name == http::header::HOST)
            .then(|| req.uri.authority())
            .flatten();
        if values.peek().is_some() {
            sigv4::push_canonical_header_value(values.map(|v| v.as_bytes()), &mut value);
        } else if let Some(authority) = authority {
            sigv4::push_canonical_header_value(
                std::iter::once(authority.as_str().as_bytes()),
                &mut value,
            );
        } else {
            // A signed header that is not there: the request is not the one that was signed.
            return Err(AuthError::SignatureDoesNotMatch);
        }
        headers.push((name.as_str().to_owned(), value));
    }
    Ok(sigv4::canonical_request(
        req.method.as_str(),
        &sigv4::canonical_uri(req.uri.path(), service),
        &sigv4::canonical_query(req.uri.query(), signed.presigned),
        &headers,
        signed.signed_headers,
        &signed.payload.hash_line,
    ))
}

/// Seconds since the Unix epoch, negative before it.
fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

#[cfg(test)]
mod tests;
