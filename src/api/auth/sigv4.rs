//! The SigV4 algorithm itself: canonical request, string to sign, signing key and signature.
//!
//! Everything here is a pure function of its inputs (plus a bounded cache of derived signing
//! keys, which only saves work). Policy, meaning which AWS error a request gets and what the
//! clock says, lives in the parent module. The functions are public so the aws-chunked decoder
//! can reuse the signing key and HMAC for chunk signatures later.
//!
//! Canonical forms follow AWS's documentation and test suite:
//! - S3 canonical URI: the raw path is percent-decoded and re-encoded once; `//` and `..` are
//!   kept as they are (S3 object keys may contain them).
//! - Other services (KMS): the path *as received* is encoded again, which is what the SDKs'
//!   "double encoding" produces on the server side (see `double-encode-path` in the suite).
//!   Dot segments are not normalized: KMS only uses `/`.
//! - Canonical query: names and values decoded (`+` stays a literal `+`), re-encoded with the
//!   same unreserved set (`/` encoded too), sorted by name then value.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::secret::{SecretString, ct_eq};

/// The only signing algorithm Coffer accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The last element of every credential scope.
pub const TERMINATOR: &str = "aws4_request";
/// Payload hash of requests whose body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Prefix of the aws-chunked payload hash values.
pub const STREAMING_PREFIX: &str = "STREAMING-";
/// SHA-256 of the empty string, hex.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Derived signing keys kept in the cache before it is cleared (one per access key, day,
/// region and service, so a handful in practice).
pub const MAX_CACHED_SIGNING_KEYS: usize = 1024;

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length (long keys are hashed, short ones padded), so
    // `new_from_slice` cannot fail for `Hmac<Sha256>`; were it ever to, an all-zero MAC fails
    // closed: no signature computed from it verifies.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return [0u8; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Whether `b` is in RFC 3986's unreserved set, which SigV4 never percent-encodes.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// AWS's `UriEncode`: every byte except the unreserved set (and `/` when `keep_slash`) becomes
/// `%XX` with uppercase hex.
pub fn uri_encode(input: &[u8], keep_slash: bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

/// The canonical URI of a raw request path (see the module docs for the S3/other difference).
pub fn canonical_uri(raw_path: &str, service: &str) -> String {
    let raw = if raw_path.is_empty() { "/" } else { raw_path };
    let mut out = String::with_capacity(raw.len() + 16);
    if service == "s3" {
        uri_encode(&percent_decode(raw), true, &mut out);
    } else {
        uri_encode(raw.as_bytes(), true, &mut out);
    }
    out
}

/// The canonical query string of a raw query (`None` or empty gives the empty string).
/// `exclude_signature` drops `X-Amz-Signature`, as presigned URLs require.
pub fn canonical_query(raw_query: Option<&str>, exclude_signature: bool) -> String {
    let Some(raw) = raw_query else {
        return String::new();
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for segment in raw.split('&').filter(|s| !s.is_empty()) {
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        let name = percent_decode(name);
        if exclude_signature && name == b"X-Amz-Signature" {
            continue;
        }
        let mut n = String::with_capacity(name.len());
        uri_encode(&name, false, &mut n);
        let mut v = String::new();
        uri_encode(&percent_decode(value), false, &mut v);
        pairs.push((n, v));
    }
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw.len() + 16);
    for (i, (n, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(n);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Appends one canonical header value: the values of a header, each trimmed with inner runs of
/// whitespace collapsed to one space, joined by `,`.
pub fn push_canonical_header_value<'v>(values: impl Iterator<Item = &'v [u8]>, out: &mut Vec<u8>) {
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut pending_space = false;
        let mut wrote = false;
        for &b in value {
            if b.is_ascii_whitespace() {
                pending_space = wrote;
            } else {
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                out.push(b);
                wrote = true;
            }
        }
    }
}

/// The canonical request. `canonical_headers` holds one `(lowercase name, canonical value)`
/// pair per signed header, in signed-headers order.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &[(String, Vec<u8>)],
    signed_headers: &str,
    payload_hash: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query.as_bytes());
    out.push(b'\n');
    for (name, value) in canonical_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// `date/region/service/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/{TERMINATOR}")
}

/// The string to sign for a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request)
    )
}

/// A derived SigV4 signing key (valid for one access key, day, region and service).
/// Zeroized on drop, redacted in `Debug`, no `PartialEq`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    pub fn derive(secret: &SecretString, date: &str, region: &str, service: &str) -> Self {
        let mut k_secret = Zeroizing::new(Vec::with_capacity(4 + secret.expose().len()));
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret.expose().as_bytes());
        let k_date = Zeroizing::new(hmac_sha256(&k_secret, date.as_bytes()));
        let k_region = Zeroizing::new(hmac_sha256(&*k_date, region.as_bytes()));
        let k_service = Zeroizing::new(hmac_sha256(&*k_region, service.as_bytes()));
        SigningKey(hmac_sha256(&*k_service, TERMINATOR.as_bytes()))
    }

    /// The raw signature of `string_to_sign`.
    pub fn sign(&self, string_to_sign: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.0, string_to_sign)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

struct CacheEntry {
    /// The secret the key was derived from: a rotated secret must not hit an old entry.
    secret: SecretString,
    key: SigningKey,
}

type CacheKey = (String, String, String, String);

fn cache() -> &'static Mutex<HashMap<CacheKey, CacheEntry>> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, CacheEntry>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// [`SigningKey::derive`] through a small process-wide cache. The cache is only an
/// optimisation: it is cleared whole when it reaches [`MAX_CACHED_SIGNING_KEYS`].
pub fn signing_key(
    access_key_id: &str,
    secret: &SecretString,
    date: &str,
    region: &str,
    service: &str,
) -> SigningKey {
    let key: CacheKey = (
        access_key_id.to_owned(),
        date.to_owned(),
        region.to_owned(),
        service.to_owned(),
    );
    // A poisoned lock only means another thread panicked mid-insert; the map is still valid.
    let mut map = cache().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = map.get(&key)
        && ct_eq(entry.secret.expose().as_bytes(), secret.expose().as_bytes())
    {
        return entry.key.clone();
    }
    let derived = SigningKey::derive(secret, date, region, service);
    if map.len() >= MAX_CACHED_SIGNING_KEYS {
        map.clear();
    }
    map.insert(
        key,
        CacheEntry {
            secret: secret.clone(),
            key: derived.clone(),
        },
    );
    derived
}

#[cfg(test)]
pub(crate) fn cache_len() -> usize {
    cache().lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// A parsed `YYYYMMDD'T'HHMMSS'Z'` timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmzDate {
    /// Seconds since the Unix epoch.
    pub unix: i64,
}

/// Parses an ISO 8601 basic timestamp (`20130524T000000Z`), strictly.
pub fn parse_amz_date(s: &str) -> Option<AmzDate> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let year = i32::try_from(digits(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?;
    let day = u8::try_from(digits(6..8)?).ok()?;
    let hour = u8::try_from(digits(9..11)?).ok()?;
    let minute = u8::try_from(digits(11..13)?).ok()?;
    let second = u8::try_from(digits(13..15)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(hour, minute, second).ok()?;
    Some(AmzDate {
        unix: date.with_time(t).assume_utc().unix_timestamp(),
    })
}

/// Formats Unix seconds as `YYYYMMDD'T'HHMMSS'Z'` (used when only a `Date` header is present).
pub fn format_amz_date(unix: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).ok()?;
    Some(format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}
