//! `application/x-www-form-urlencoded` decoding into [`Params`], for a POST body or a GET
//! query string alike (the query protocol accepts both).
//!
//! Strict where leniency would hide a mistake: a `%` not followed by two hex digits, a name or
//! value that is not UTF-8 once decoded, an empty name and a repeated name are all errors, never
//! guessed at. A repeated name in particular has no single right reading (the first? the
//! last?), and a request that names `UserName` twice is better refused than half-obeyed.
//! Work is bounded by [`MAX_FORM_LEN`] and [`MAX_PARAMS`] before anything is allocated per
//! parameter.

use std::collections::BTreeMap;
use std::fmt;

use super::error::{ErrorCode, WireError};

/// The most parameters one request may carry. The largest legitimate request, CreateUser or
/// CreatePolicy with 50 tags, has about 110 (two per tag plus Action, Version and the other
/// members), and a presigned GET adds about eight `X-Amz-*` parameters.
pub const MAX_PARAMS: usize = 256;

/// The longest form body or query string decoded. A 131,072-character policy document of
/// Latin-1 characters percent-encodes to at most 786,432 bytes, 50 tags to at most about 230
/// KiB; 2 MiB leaves room for both. The handler, which owns the body stream, should stop
/// reading at this length; [`parse_form`] refuses a longer input as well.
pub const MAX_FORM_LEN: usize = 2 * 1024 * 1024;

/// The decoded parameters of one request, by exact (case-sensitive) name.
///
/// `Debug` lists the names only: a query string may carry `X-Amz-Security-Token` or
/// `X-Amz-Signature`, which must not reach a log through a debug print.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    pub fn new() -> Self {
        Params::default()
    }

    /// The value of `name`, if present (possibly empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Name/value pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Names starting with `prefix`, in name order.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.map
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Adds one parameter; a name already present or a full set is an error.
    pub fn insert(&mut self, name: String, value: String) -> Result<(), WireError> {
        if self.map.len() >= MAX_PARAMS {
            return Err(too_many());
        }
        if name.is_empty() {
            return Err(WireError::new(
                ErrorCode::MalformedQueryString,
                "A parameter name must not be empty.",
            ));
        }
        if self.map.contains_key(&name) {
            return Err(WireError::new(
                ErrorCode::InvalidQueryParameter,
                format!("The parameter {name} appears more than once."),
            ));
        }
        self.map.insert(name, value);
        Ok(())
    }

    /// Adds the parameters of another form (a GET's query string next to a POST body); a name
    /// in both is an error, as within one form.
    pub fn extend_from_form(&mut self, form: &[u8]) -> Result<(), WireError> {
        if form.len() > MAX_FORM_LEN {
            return Err(WireError::new(
                ErrorCode::InvalidQueryParameter,
                format!(
                    "The request parameters exceed the maximum length of {MAX_FORM_LEN} bytes."
                ),
            ));
        }
        for pair in form.split(|&b| b == b'&') {
            if pair.is_empty() {
                continue;
            }
            let mut halves = pair.splitn(2, |&b| b == b'=');
            let name = halves.next().unwrap_or_default();
            let value = halves.next().unwrap_or_default();
            // Refuse before decoding: the bound holds however the pairs are shaped.
            if self.map.len() >= MAX_PARAMS {
                return Err(too_many());
            }
            let name = decode(name)?;
            let value = decode(value)?;
            self.insert(name, value)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}

/// Decodes a form body or query string.
pub fn parse_form(body: &[u8]) -> Result<Params, WireError> {
    let mut params = Params::new();
    params.extend_from_form(body)?;
    Ok(params)
}

fn too_many() -> WireError {
    WireError::new(
        ErrorCode::InvalidQueryParameter,
        format!("The request has more than {MAX_PARAMS} parameters."),
    )
}

/// `+` is a space, `%XX` a byte; the bytes must then be UTF-8.
fn decode(raw: &[u8]) -> Result<String, WireError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = raw.get(i + 1).and_then(|&h| hex(h));
                let lo = raw.get(i + 2).and_then(|&l| hex(l));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(WireError::new(
                        ErrorCode::MalformedQueryString,
                        "Invalid percent-encoding in the request parameters.",
                    ));
                };
                out.push((hi << 4) | lo);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| {
        WireError::new(
            ErrorCode::MalformedQueryString,
            "The request parameters are not valid UTF-8.",
        )
    })
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
