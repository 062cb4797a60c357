//! Parsing of the SigV4 inputs: the `Authorization` header, the credential scope, the signed
//! header list and the presigned-URL query parameters. Pure and total: any byte string yields
//! a value or an error, never a panic.

use http::HeaderName;

use super::sigv4::{ALGORITHM, TERMINATOR};

/// The three components of an `AWS4-HMAC-SHA256 ...` Authorization header.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct AuthorizationV4<'a> {
    pub credential: &'a str,
    pub signed_headers: &'a str,
    pub signature: &'a str,
}

/// Why an Authorization header could not be parsed; the message completes
/// "The authorization header is malformed; ...".
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Malformed(pub String);

/// What kind of Authorization header a request carries.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Scheme {
    V4,
    /// SigV2 (`AWS AKID:sig`) or SigV4a: known AWS schemes that Coffer does not support.
    UnsupportedAws,
    Unknown,
}

pub(super) fn scheme(value: &[u8]) -> Scheme {
    let starts = |p: &[u8]| {
        value.starts_with(p) && value.get(p.len()).is_none_or(|b| b.is_ascii_whitespace())
    };
    if starts(ALGORITHM.as_bytes()) {
        Scheme::V4
    } else if starts(b"AWS") || starts(b"AWS4-ECDSA-P256-SHA256") {
        Scheme::UnsupportedAws
    } else {
        Scheme::Unknown
    }
}

/// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`. Components may
/// be separated by commas, whitespace or both, in any order; each must appear exactly once.
pub(super) fn authorization_v4(value: &str) -> Result<AuthorizationV4<'_>, Malformed> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| Malformed("the authorization header requires AWS4-HMAC-SHA256".into()))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|p| !p.is_empty())
    {
        let (key, val) = part
            .split_once('=')
            .ok_or_else(|| Malformed(format!("the component '{}' is not key=value", echo(part))))?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(Malformed(format!("unknown component '{}'", echo(key))));
            }
        };
        if slot.replace(val).is_some() {
            return Err(Malformed(format!("duplicate component '{key}'")));
        }
    }
    let missing = |name: &str| Malformed(format!("missing {name}"));
    Ok(AuthorizationV4 {
        credential: credential.ok_or_else(|| missing("Credential"))?,
        signed_headers: signed_headers.ok_or_else(|| missing("SignedHeaders"))?,
        signature: signature.ok_or_else(|| missing("Signature"))?,
    })
}

/// `AKID/YYYYMMDD/region/service/aws4_request`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Credential<'a> {
    pub access_key_id: &'a str,
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// Parses a credential and checks it against the server's region and service. The error
/// message completes "The authorization header is malformed; ..." (or the query variant).
pub(super) fn credential<'a>(
    s: &'a str,
    region: &str,
    service: &str,
) -> Result<Credential<'a>, Malformed> {
    let shape = || {
        Malformed(
            "the Credential is mal-formed; expecting \
             \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
                .into(),
        )
    };
    // The access key id is everything before the last four fields.
    let mut it = s.rsplitn(5, '/');
    let terminal = it.next().ok_or_else(shape)?;
    let cred_service = it.next().ok_or_else(shape)?;
    let cred_region = it.next().ok_or_else(shape)?;
    let date = it.next().ok_or_else(shape)?;
    let access_key_id = it.next().ok_or_else(shape)?;
    if access_key_id.is_empty() || cred_region.is_empty() || cred_service.is_empty() {
        return Err(shape());
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Malformed(format!(
            "invalid credential date \"{}\"",
            echo(date)
        )));
    }
    if terminal != TERMINATOR {
        return Err(Malformed(format!(
            "incorrect terminal \"{}\". This endpoint uses \"{TERMINATOR}\".",
            echo(terminal)
        )));
    }
    if cred_service != service {
        return Err(Malformed(format!(
            "incorrect service \"{}\". This endpoint belongs to \"{service}\".",
            echo(cred_service)
        )));
    }
    if cred_region != region {
        return Err(Malformed(format!(
            "the region '{}' is wrong; expecting '{region}'",
            echo(cred_region)
        )));
    }
    Ok(Credential {
        access_key_id,
        date,
        region: cred_region,
        service: cred_service,
    })
}

/// Parses `a;b;c` into header names; `host` must be among them.
pub(super) fn signed_headers(s: &str) -> Result<Vec<HeaderName>, Malformed> {
    let mut names = Vec::new();
    for name in s.split(';') {
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Malformed(format!("invalid signed header '{}'", echo(name))))?;
        names.push(parsed);
    }
    if !names.contains(&http::header::HOST) {
        return Err(Malformed("'Host' must be a signed header".into()));
    }
    Ok(names)
}

/// The presigned-URL parameters, percent-decoded. `None` for absent ones.
#[derive(Debug, Default)]
pub(super) struct PresignedParams {
    pub algorithm: Option<String>,
    pub credential: Option<String>,
    pub date: Option<String>,
    pub expires: Option<String>,
    pub signed_headers: Option<String>,
    pub signature: Option<String>,
    pub content_sha256: Option<String>,
    /// A SigV2 presigned parameter (`AWSAccessKeyId`, `Signature`) was present.
    pub v2: bool,
    /// A repeated or non-UTF-8 authentication parameter (message for
    /// AuthorizationQueryParametersError). Only reported if the query is used for
    /// authentication, so a header-signed request is not refused for an odd query.
    pub error: Option<String>,
}

impl PresignedParams {
    /// Whether the query asks for SigV4 query authentication at all.
    pub fn is_v4(&self) -> bool {
        self.algorithm.is_some() || self.credential.is_some() || self.signature.is_some()
    }
}

/// Collects the authentication parameters of a raw query.
pub(super) fn presigned_params(raw_query: Option<&str>) -> PresignedParams {
    let mut p = PresignedParams::default();
    let Some(raw) = raw_query else {
        return p;
    };
    for segment in raw.split('&').filter(|s| !s.is_empty()) {
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
        let slot = match name.as_ref() {
            "X-Amz-Algorithm" => &mut p.algorithm,
            "X-Amz-Credential" => &mut p.credential,
            "X-Amz-Date" => &mut p.date,
            "X-Amz-Expires" => &mut p.expires,
            "X-Amz-SignedHeaders" => &mut p.signed_headers,
            "X-Amz-Signature" => &mut p.signature,
            "X-Amz-Content-Sha256" => &mut p.content_sha256,
            "AWSAccessKeyId" | "Signature" => {
                p.v2 = true;
                continue;
            }
            _ => continue,
        };
        let Ok(value) = percent_encoding::percent_decode_str(value).decode_utf8() else {
            p.error
                .get_or_insert_with(|| format!("{name} is not valid UTF-8"));
            continue;
        };
        if slot.replace(value.into_owned()).is_some() {
            p.error
                .get_or_insert_with(|| format!("{name} must appear only once"));
        }
    }
    p
}

/// Client input echoed in an error message, shortened so a huge header cannot bloat the
/// response. (Escaping is the XML writer's job.)
pub(super) fn echo(s: &str) -> &str {
    const MAX_ECHO: usize = 64;
    match s.char_indices().nth(MAX_ECHO) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
