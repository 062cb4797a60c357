//! Hostile-input property tests for the request header parsers and the Range parser: any
//! bytes a client can put in a header end as a value or an error, never a panic, and a parsed
//! range always resolves inside the object.

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

use super::*;
use crate::service::objects::RangeSpec;

/// Header names the parsers read, plus a few they do not.
const NAMES: &[&str] = &[
    "content-length",
    "content-md5",
    "content-type",
    "cache-control",
    "expires",
    "range",
    "x-amz-meta-a",
    "x-amz-meta-coffer-kms-key-id",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
    "x-amz-checksum-crc32",
    "x-amz-checksum-sha256",
    "x-amz-checksum-algorithm",
    "x-amz-sdk-checksum-algorithm",
];

fn header_map(pairs: &[(usize, Vec<u8>)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (i, v) in pairs {
        let name = HeaderName::from_static(NAMES[i % NAMES.len()]);
        if let Ok(v) = HeaderValue::from_bytes(v) {
            h.append(name, v);
        }
    }
    h
}

/// Values that look almost right: base64, digits, JSON, algorithm names, and junk.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        "[A-Za-z0-9+/=]{0,64}".prop_map(String::into_bytes),
        "[0-9 -]{0,24}".prop_map(String::into_bytes),
        "(AES256|aws:kms|aws:kms:dsse|CRC32|SHA256|true|false|bytes=)[ -~]{0,16}"
            .prop_map(String::into_bytes),
        "\\{[ -~]{0,40}\\}".prop_map(|s| B64.encode(s).into_bytes()),
    ]
}

proptest! {
    #[test]
    fn header_parsers_never_panic(pairs in prop::collection::vec((any::<usize>(), value()), 0..8),
                                  sha in any::<Option<[u8; 32]>>()) {
        let h = header_map(&pairs);
        let _ = user_metadata(&h);
        let _ = stored_headers(&h);
        let _ = sse_spec(&h);
        let _ = body_checks(&h, sha);
        for (_, v) in &pairs {
            if let Ok(s) = std::str::from_utf8(v) {
                let _ = parse_sse_context(s);
            }
        }
    }

    #[test]
    fn sse_context_over_the_limit_is_refused(n in MAX_SSE_CONTEXT_HEADER + 1..MAX_SSE_CONTEXT_HEADER + 64) {
        let ctx = B64.encode(format!("{{\"k\":\"{}\"}}", "v".repeat(n)));
        prop_assert!(parse_sse_context(&ctx).is_err());
    }

    #[test]
    fn range_parser_never_panics_and_stays_in_bounds(header in "[ -~]{0,40}", size in any::<u64>()) {
        if let Ok(Some(spec)) = RangeSpec::parse(&header)
            && let Ok((start, end)) = spec.resolve(size)
        {
            prop_assert!(start <= end && end < size);
        }
    }

    #[test]
    fn well_formed_ranges_resolve_in_bounds(a in any::<u64>(), b in any::<u64>(), suffix in any::<bool>(),
                                            size in 0u64..(1 << 40)) {
        let header = if suffix { format!("bytes=-{a}") } else { format!("bytes={}-{}", a.min(b), a.max(b)) };
        let spec = RangeSpec::parse(&header);
        prop_assert!(matches!(spec, Ok(Some(_))));
        if let Ok(Some(spec)) = spec
            && let Ok((start, end)) = spec.resolve(size)
        {
            prop_assert!(start <= end && end < size);
        }
    }
}
