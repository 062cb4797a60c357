//! Known-answer tests from AWS's documentation and SigV4 test suite, byte for byte, then the
//! policy around them (errors, clocks, mechanisms) and a property test that garbage never
//! panics.
// Test-only: compiled under #[cfg(test)], as the parent module declares it.
#![cfg(test)]

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Method, Uri};
use proptest::prelude::*;

use super::*;
use crate::secret::SecretString;

// ---------------------------------------------------------------------------------------------
// Helpers

struct Keys(Vec<(&'static str, &'static str)>);

impl CredentialStore for Keys {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretString> {
        self.0
            .iter()
            .find(|(ak, _)| *ak == access_key_id)
            .map(|(_, s)| SecretString::new((*s).to_owned()))
    }
}

struct Req {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl Req {
    fn new(method: &str, uri: &str, headers: &[(&str, &str)]) -> Self {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Req {
            method: method.parse().unwrap(),
            uri: uri.parse().unwrap(),
            headers: map,
        }
    }

    fn auth(&self) -> AuthRequest<'_> {
        AuthRequest {
            method: &self.method,
            uri: &self.uri,
            headers: &self.headers,
        }
    }

    fn set(&mut self, name: &str, value: &str) {
        self.headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
}

/// `YYYYMMDD'T'HHMMSS'Z'` as a SystemTime.
fn at(amz: &str) -> SystemTime {
    let unix = sigv4::parse_amz_date(amz).unwrap().unix;
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap())
}

/// The canonical request Coffer builds for `r`, as text.
fn creq(r: &Req, service: &str, signed_headers: &str, payload: &str, presigned: bool) -> String {
    let signed = Signed {
        access_key_id: "",
        scope_date: "",
        amz_date: String::new(),
        signed_headers,
        header_names: parse::signed_headers(signed_headers).unwrap(),
        signature: "",
        payload: Payload {
            hash_line: payload.to_owned(),
            check: PayloadCheck::Unsigned,
        },
        presigned,
    };
    String::from_utf8(canonical_request(&r.auth(), service, &signed).unwrap()).unwrap()
}

/// Signs `r` with an Authorization header the way a client would (for policy tests; the
/// algorithm itself is proven by the known-answer tests).
#[allow(clippy::too_many_arguments)]
fn sign(
    r: &mut Req,
    ak: &str,
    secret: &str,
    amz_date: &str,
    region: &str,
    service: &str,
    signed_headers: &str,
    payload: &str,
) -> String {
    let c = creq(r, service, signed_headers, payload, false);
    let scope = sigv4::credential_scope(&amz_date[..8], region, service);
    let sts = sigv4::string_to_sign(amz_date, &scope, c.as_bytes());
    let key = sigv4::SigningKey::derive(
        &SecretString::new(secret.into()),
        &amz_date[..8],
        region,
        service,
    );
    let sig = hex::encode(key.sign(sts.as_bytes()));
    r.set(
        "authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed_headers}, \
             Signature={sig}"
        ),
    );
    sig
}

// ---------------------------------------------------------------------------------------------
// AWS S3 documentation: "Signature Calculations for the Authorization Header: Transferring
// Payload in a Single Chunk", examples section; and "Authenticating Requests: Using Query
// Parameters". Credentials and date are the documentation's.

const S3_AK: &str = "AKIAIOSFODNN7EXAMPLE";
const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const S3_DATE: &str = "20130524T000000Z";
const S3_HOST: &str = "examplebucket.s3.amazonaws.com";
const S3_SCOPE: &str = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";

fn s3_keys() -> Keys {
    Keys(vec![(S3_AK, S3_SECRET)])
}

fn s3_verify(r: &Req, now: SystemTime) -> Result<Verified, AuthError> {
    verify(&r.auth(), &s3_keys(), "us-east-1", "s3", now)
}

fn s3_get_object() -> Req {
    Req::new(
        "GET",
        "/test.txt",
        &[
            ("host", S3_HOST),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", sigv4::EMPTY_SHA256),
            ("x-amz-date", S3_DATE),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            ),
        ],
    )
}

#[test]
fn s3_doc_get_object_canonical_request_and_string_to_sign() {
    let r = s3_get_object();
    let c = creq(
        &r,
        "s3",
        "host;range;x-amz-content-sha256;x-amz-date",
        sigv4::EMPTY_SHA256,
        false,
    );
    assert_eq!(
        c,
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
         x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
         x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let sts = sigv4::string_to_sign(
        S3_DATE,
        &sigv4::credential_scope("20130524", "us-east-1", "s3"),
        c.as_bytes(),
    );
    assert_eq!(
        sts,
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    );
}

#[test]
fn s3_doc_get_object_verifies() {
    let v = s3_verify(&s3_get_object(), at(S3_DATE)).unwrap();
    assert_eq!(v.access_key_id, S3_AK);
    assert_eq!(v.region, "us-east-1");
    assert_eq!(v.service, "s3");
    assert!(!v.presigned);
    assert_eq!(
        v.seed_signature,
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
    assert_eq!(v.scope_date, "20130524");
    assert_eq!(v.amz_date, S3_DATE);
    let mut empty = [0u8; 32];
    hex::decode_to_slice(sigv4::EMPTY_SHA256, &mut empty).unwrap();
    assert_eq!(v.payload, PayloadCheck::Sha256(empty));
}

fn s3_put_object() -> Req {
    Req::new(
        "PUT",
        "/test$file.text",
        &[
            ("host", S3_HOST),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", S3_DATE),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "x-amz-content-sha256",
                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            ),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            ),
        ],
    )
}

#[test]
fn s3_doc_put_object() {
    let r = s3_put_object();
    let c = creq(
        &r,
        "s3",
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        false,
    );
    assert_eq!(
        c,
        "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n\
         host:examplebucket.s3.amazonaws.com\n\
         x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n\
         x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n\
         date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n\
         44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    );
    assert_eq!(
        sigv4::sha256_hex(c.as_bytes()),
        "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"
    );
    let v = s3_verify(&r, at(S3_DATE)).unwrap();
    assert_eq!(
        v.seed_signature,
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    );

    // The body of the example, "Welcome to Amazon S3.", hashes to the claimed value.
    let PayloadCheck::Sha256(expected) = v.payload else {
        panic!("expected a signed payload, got {:?}", v.payload);
    };
    let mut h = PayloadHasher::new(expected);
    h.update(b"Welcome to ");
    h.update(b"Amazon S3.");
    assert!(h.finish());
    let mut h = PayloadHasher::new(expected);
    h.update(b"Welcome to Amazon S3!");
    assert!(!h.finish());

    // The same path, already percent-encoded by the client, has the same canonical URI.
    let mut encoded = s3_put_object();
    encoded.uri = "/test%24file.text".parse().unwrap();
    assert!(s3_verify(&encoded, at(S3_DATE)).is_ok());
}

#[test]
fn s3_doc_get_bucket_lifecycle() {
    let r = Req::new(
        "GET",
        "/?lifecycle",
        &[
            ("host", S3_HOST),
            ("x-amz-date", S3_DATE),
            ("x-amz-content-sha256", sigv4::EMPTY_SHA256),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
            ),
        ],
    );
    let c = creq(
        &r,
        "s3",
        "host;x-amz-content-sha256;x-amz-date",
        sigv4::EMPTY_SHA256,
        false,
    );
    assert_eq!(
        sigv4::sha256_hex(c.as_bytes()),
        "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca"
    );
    assert!(c.starts_with("GET\n/\nlifecycle=\nhost:"));
    let v = s3_verify(&r, at(S3_DATE)).unwrap();
    assert_eq!(
        v.seed_signature,
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
    );
}

#[test]
fn s3_doc_list_objects() {
    let r = Req::new(
        "GET",
        "/?max-keys=2&prefix=J",
        &[
            ("host", S3_HOST),
            ("x-amz-date", S3_DATE),
            ("x-amz-content-sha256", sigv4::EMPTY_SHA256),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
            ),
        ],
    );
    let c = creq(
        &r,
        "s3",
        "host;x-amz-content-sha256;x-amz-date",
        sigv4::EMPTY_SHA256,
        false,
    );
    assert_eq!(
        sigv4::sha256_hex(c.as_bytes()),
        "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7"
    );
    let v = s3_verify(&r, at(S3_DATE)).unwrap();
    assert_eq!(
        v.seed_signature,
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    );
}

const S3_PRESIGNED: &str = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

fn s3_presigned() -> Req {
    Req::new("GET", S3_PRESIGNED, &[("host", S3_HOST)])
}

#[test]
fn s3_doc_presigned_url() {
    let r = s3_presigned();
    assert_eq!(
        creq(&r, "s3", "host", UNSIGNED_PAYLOAD, true),
        "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
    );
    let v = s3_verify(&r, at(S3_DATE)).unwrap();
    assert!(v.presigned);
    assert_eq!(v.payload, PayloadCheck::Unsigned);
    assert_eq!(
        v.seed_signature,
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
    // Valid until the last second of X-Amz-Expires, inclusive.
    assert!(s3_verify(&r, at(S3_DATE) + Duration::from_secs(86_400)).is_ok());
}

// ---------------------------------------------------------------------------------------------
// AWS SigV4 test suite (as shipped in aws-sigv4's `aws-signing-test-suite/v4`): service
// "service", region us-east-1, 2015-08-30T12:36:00Z. These services sign the body hash, so
// they go through `verify_with_body_hash`.

const SUITE_AK: &str = "AKIDEXAMPLE";
const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_DATE: &str = "20150830T123600Z";
const SUITE_HOST: &str = "example.amazonaws.com";
const FORM_SHA256: &str = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e";

fn suite_verify(r: &Req, body_hash: &str) -> Result<Verified, AuthError> {
    verify_with_body_hash(
        &r.auth(),
        &Keys(vec![(SUITE_AK, SUITE_SECRET)]),
        "us-east-1",
        "service",
        at(SUITE_DATE),
        body_hash,
    )
}

struct SuiteCase {
    name: &'static str,
    method: &'static str,
    /// Path and query of the request, without authentication parameters.
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    /// The signed headers of the header-signed variant (query variants drop x-amz-date and
    /// x-amz-content-sha256, which they do not send).
    signed_headers: &'static str,
    body_hash: &'static str,
    header_signature: &'static str,
    query_signature: &'static str,
}

const SUITE: &[SuiteCase] = &[
    SuiteCase {
        name: "get-vanilla",
        method: "GET",
        path: "/",
        headers: &[],
        signed_headers: "host;x-amz-date",
        body_hash: sigv4::EMPTY_SHA256,
        header_signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        query_signature: "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d",
    },
    SuiteCase {
        name: "get-vanilla-query-order-key-case",
        method: "GET",
        path: "/?Param2=value2&Param1=value1",
        headers: &[],
        signed_headers: "host;x-amz-date",
        body_hash: sigv4::EMPTY_SHA256,
        header_signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        query_signature: "86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5",
    },
    SuiteCase {
        name: "get-vanilla-query-order-encoded",
        method: "GET",
        path: "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
        headers: &[],
        signed_headers: "host;x-amz-date",
        body_hash: sigv4::EMPTY_SHA256,
        header_signature: "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
        query_signature: "c5f1848ceec943ac2ca68ee720460c23aaae30a2300586597ada94c4a65e4787",
    },
    SuiteCase {
        name: "get-vanilla-query-unreserved",
        method: "GET",
        path: "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        headers: &[],
        signed_headers: "host;x-amz-date",
        body_hash: sigv4::EMPTY_SHA256,
        header_signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        query_signature: "8e76a88a7433637b12778d5592799b29ad21ecd6cf6325051c21d86f0acda2bf",
    },
    SuiteCase {
        name: "get-vanilla-empty-query-key",
        method: "GET",
        path: "/?Param1=value1",
        headers: &[],
        signed_headers: "host;x-amz-date",
        body_hash: sigv4::EMPTY_SHA256,
        header_signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
        query_signature: "49096700cbbaa5753443850f40df10f904fc2fdb544dc9512203cc77c471a9de",
    },
    SuiteCase {
        name: "get-header-value-trim",
        method: "GET",
        path: "/",
        headers: &[("my-header1", "value1"), ("my-header2", "\"a   b   c\"")],
        signed_headers: "host;my-header1;my-header2;x-amz-date",
        body_hash: sigv4::EMPTY_SHA256,
        header_signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        query_signature: "e7bb0fd515e125e1aec2ecc4c0c17484fb06f6846b927c35e46005dd3df3acd4",
    },
    SuiteCase {
        name: "get-header-value-order",
        method: "GET",
        path: "/",
        headers: &[
            ("my-header1", "value4"),
            ("my-header1", "value1"),
            ("my-header1", "value3"),
            ("my-header1", "value2"),
        ],
        signed_headers: "host;my-header1;x-amz-date",
        body_hash: sigv4::EMPTY_SHA256,
        header_signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
        query_signature: "313720e71ca6202fdcfa9b20f88de01a4eb0638a83c833b1c184359a4eda864e",
    },
    SuiteCase {
        name: "get-header-key-duplicate",
        method: "GET",
        path: "/",
        headers: &[
            ("my-header1", "value2"),
            ("my-header1", "value2"),
            ("my-header1", "value1"),
        ],
        signed_headers: "host;my-header1;x-amz-date",
        body_hash: sigv4::EMPTY_SHA256,
        header_signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        query_signature: "3349ee0b81b4b589da0ff28a395c3591e04de515651dd74f298fa992d1507a97",
    },
    SuiteCase {
        name: "get-slashes-unnormalized",
        method: "GET",
        path: "//example//",
        headers: &[],
        signed_headers: "host;x-amz-date",
        body_hash: sigv4::EMPTY_SHA256,
        header_signature: "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5",
        query_signature: "822a5a9ba28072c5ab2bb4a6307d0c88276d40e49fec6b724c03fb4d4ba60fc2",
    },
    SuiteCase {
        name: "post-vanilla",
        method: "POST",
        path: "/",
        headers: &[],
        signed_headers: "host;x-amz-date",
        body_hash: sigv4::EMPTY_SHA256,
        header_signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        query_signature: "2ce6e6d2e0cf2f9d1b55fafec88cd20574c31dc2e7631979f71ba2310083e95b",
    },
    SuiteCase {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        path: "/",
        headers: &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-length", "13"),
        ],
        signed_headers: "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
        body_hash: FORM_SHA256,
        header_signature: "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        query_signature: "89a40deed0f26f9461242825a082d2222717248abc7ab41f552ad84a94ad46e9",
    },
];

fn suite_header_request(case: &SuiteCase) -> Req {
    let mut headers: Vec<(&str, &str)> = vec![("host", SUITE_HOST), ("x-amz-date", SUITE_DATE)];
    headers.extend_from_slice(case.headers);
    if case.signed_headers.contains("x-amz-content-sha256") {
        headers.push(("x-amz-content-sha256", case.body_hash));
    }
    let mut r = Req::new(case.method, case.path, &headers);
    r.set(
        "authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders={}, Signature={}",
            case.signed_headers, case.header_signature
        ),
    );
    r
}

fn suite_query_request(case: &SuiteCase) -> Req {
    let signed: Vec<&str> = case
        .signed_headers
        .split(';')
        .filter(|h| *h != "x-amz-date" && *h != "x-amz-content-sha256")
        .collect();
    let sep = if case.path.contains('?') { '&' } else { '?' };
    let uri = format!(
        "{}{sep}X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders={}&X-Amz-Expires=3600&X-Amz-Signature={}",
        case.path,
        signed.join("%3B"),
        case.query_signature
    );
    let mut headers: Vec<(&str, &str)> = vec![("host", SUITE_HOST)];
    headers.extend_from_slice(case.headers);
    Req::new(case.method, &uri, &headers)
}

#[test]
fn aws_test_suite_header_signatures() {
    for case in SUITE {
        let r = suite_header_request(case);
        let v = suite_verify(&r, case.body_hash).unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
        assert_eq!(v.seed_signature, case.header_signature, "{}", case.name);
        assert!(!v.presigned);
    }
}

#[test]
fn aws_test_suite_query_signatures() {
    for case in SUITE {
        let r = suite_query_request(case);
        let v = suite_verify(&r, case.body_hash).unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
        assert_eq!(v.seed_signature, case.query_signature, "{}", case.name);
        assert!(v.presigned);
    }
}

#[test]
fn aws_test_suite_get_vanilla_intermediates() {
    let r = suite_header_request(&SUITE[0]);
    let c = creq(&r, "service", "host;x-amz-date", sigv4::EMPTY_SHA256, false);
    assert_eq!(
        c,
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let sts = sigv4::string_to_sign(
        SUITE_DATE,
        &sigv4::credential_scope("20150830", "us-east-1", "service"),
        c.as_bytes(),
    );
    assert_eq!(
        sts,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
         bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    );
}

#[test]
fn aws_test_suite_session_token_is_signed_like_any_header_or_parameter() {
    const TOKEN: &str = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    let mut r = Req::new(
        "GET",
        "/",
        &[
            ("host", SUITE_HOST),
            ("x-amz-date", SUITE_DATE),
            ("x-amz-security-token", TOKEN),
        ],
    );
    r.set(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-security-token, \
         Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
    );
    suite_verify(&r, sigv4::EMPTY_SHA256).unwrap();

    let q = Req::new(
        "GET",
        &format!(
            "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Security-Token={TOKEN}&X-Amz-Signature=7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c"
        ),
        &[("host", SUITE_HOST)],
    );
    suite_verify(&q, sigv4::EMPTY_SHA256).unwrap();
}

#[test]
fn aws_test_suite_form_post_via_claimed_header_hash() {
    // post-x-www-form-urlencoded signs x-amz-content-sha256, so plain `verify` accepts it too.
    let case = SUITE
        .iter()
        .find(|c| c.name == "post-x-www-form-urlencoded")
        .unwrap();
    let r = suite_header_request(case);
    let v = verify(
        &r.auth(),
        &Keys(vec![(SUITE_AK, SUITE_SECRET)]),
        "us-east-1",
        "service",
        at(SUITE_DATE),
    )
    .unwrap();
    let mut d = [0u8; 32];
    hex::decode_to_slice(FORM_SHA256, &mut d).unwrap();
    assert_eq!(v.payload, PayloadCheck::Sha256(d));
    // And the body hash the caller computes is what the signature covers.
    assert_eq!(sigv4::sha256_hex(b"Param1=value1"), FORM_SHA256);
    assert_eq!(
        suite_verify(&r, sigv4::EMPTY_SHA256).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
}

#[test]
fn canonical_uri_rules() {
    // S3: decode once, encode once; keep '/', '//' and '..'.
    assert_eq!(
        sigv4::canonical_uri("/test$file.text", "s3"),
        "/test%24file.text"
    );
    assert_eq!(
        sigv4::canonical_uri("/test%24file.text", "s3"),
        "/test%24file.text"
    );
    assert_eq!(sigv4::canonical_uri("/a//b/../c", "s3"), "/a//b/../c");
    assert_eq!(sigv4::canonical_uri("/a%20b+c%2Fd", "s3"), "/a%20b%2Bc/d");
    assert_eq!(sigv4::canonical_uri("/%E1%88%B4", "s3"), "/%E1%88%B4");
    assert_eq!(sigv4::canonical_uri("", "s3"), "/");
    // Other services: the path as received, encoded again (suite: double-encode-path).
    assert_eq!(
        sigv4::canonical_uri("/test/@connections/JBDvjfGEIAMCERw%3D", "execute-api"),
        "/test/%40connections/JBDvjfGEIAMCERw%253D"
    );
    assert_eq!(sigv4::canonical_uri("/", "kms"), "/");
}

#[test]
fn canonical_query_rules() {
    assert_eq!(sigv4::canonical_query(None, false), "");
    assert_eq!(sigv4::canonical_query(Some(""), false), "");
    // Bare names get an empty value; sorted by name then value; '+' is a literal plus.
    assert_eq!(
        sigv4::canonical_query(Some("uploads&b=2&a=2&a=1&c=x+y&d=%2f"), false),
        "a=1&a=2&b=2&c=x%2By&d=%2F&uploads="
    );
    // X-Amz-Signature is dropped only for presigned requests.
    assert_eq!(
        sigv4::canonical_query(Some("X-Amz-Signature=abc&a=1"), true),
        "a=1"
    );
    assert_eq!(
        sigv4::canonical_query(Some("X-Amz-Signature=abc&a=1"), false),
        "X-Amz-Signature=abc&a=1"
    );
}

// ---------------------------------------------------------------------------------------------
// Negative and policy tests

#[test]
fn wrong_secret_is_signature_mismatch() {
    let keys = Keys(vec![(S3_AK, "not-the-secret")]);
    let r = s3_get_object();
    assert_eq!(
        verify(&r.auth(), &keys, "us-east-1", "s3", at(S3_DATE)).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
    let p = s3_presigned();
    assert_eq!(
        verify(&p.auth(), &keys, "us-east-1", "s3", at(S3_DATE)).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
}

#[test]
fn unknown_access_key() {
    let keys = Keys(vec![("SOMEONEELSE", S3_SECRET)]);
    for r in [s3_get_object(), s3_presigned()] {
        assert_eq!(
            verify(&r.auth(), &keys, "us-east-1", "s3", at(S3_DATE)).unwrap_err(),
            AuthError::InvalidAccessKeyId
        );
    }
}

#[test]
fn rotated_secret_does_not_hit_the_signing_key_cache() {
    let r = s3_get_object();
    s3_verify(&r, at(S3_DATE)).unwrap(); // caches the key for the right secret
    let rotated = Keys(vec![(S3_AK, "rotated")]);
    assert_eq!(
        verify(&r.auth(), &rotated, "us-east-1", "s3", at(S3_DATE)).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
    s3_verify(&r, at(S3_DATE)).unwrap();
}

#[test]
fn signing_key_cache_is_bounded() {
    let secret = SecretString::new("s".into());
    for i in 0..(sigv4::MAX_CACHED_SIGNING_KEYS + 10) {
        sigv4::signing_key(&format!("AK{i}"), &secret, "20130524", "r", "s3");
        assert!(sigv4::cache_len() <= sigv4::MAX_CACHED_SIGNING_KEYS);
    }
    // Cached and fresh derivations agree.
    let a = sigv4::signing_key("AKX", &secret, "20130524", "r", "s3");
    let b = sigv4::SigningKey::derive(&secret, "20130524", "r", "s3");
    assert_eq!(a.sign(b"x"), b.sign(b"x"));
}

#[test]
fn clock_skew_limit() {
    let r = s3_get_object();
    let date = at(S3_DATE);
    let limit = Duration::from_secs(u64::try_from(MAX_CLOCK_SKEW_SECS).unwrap());
    assert!(s3_verify(&r, date + limit).is_ok());
    assert!(s3_verify(&r, date - limit).is_ok());
    for now in [
        date + limit + Duration::from_secs(1),
        date - limit - Duration::from_secs(1),
        SystemTime::UNIX_EPOCH,
    ] {
        assert_eq!(
            s3_verify(&r, now).unwrap_err(),
            AuthError::RequestTimeTooSkewed
        );
    }
}

#[test]
fn presigned_expiry_and_not_yet_valid() {
    let r = s3_presigned();
    let date = at(S3_DATE);
    assert_eq!(
        s3_verify(&r, date + Duration::from_secs(86_401)).unwrap_err(),
        AuthError::Expired
    );
    assert_eq!(AuthError::Expired.to_string(), "Request has expired");
    // Up to 15 minutes in the future is clock skew; beyond is "not valid yet".
    assert!(s3_verify(&r, date - Duration::from_secs(900)).is_ok());
    assert!(matches!(
        s3_verify(&r, date - Duration::from_secs(901)).unwrap_err(),
        AuthError::AccessDenied(m) if m.contains("not valid yet")
    ));
}

#[test]
fn presigned_expires_bounds() {
    for (expires, ok) in [
        ("0", false),
        ("1", true),
        ("604800", true),
        ("604801", false),
        ("-1", false),
        ("abc", false),
        ("", false),
        ("99999999999999999999999", false),
    ] {
        let uri = S3_PRESIGNED.replace("X-Amz-Expires=86400", &format!("X-Amz-Expires={expires}"));
        let r = Req::new("GET", &uri, &[("host", S3_HOST)]);
        let res = s3_verify(&r, at(S3_DATE));
        if ok {
            // The signature covers X-Amz-Expires, so a changed value passes the bound check and
            // then fails the signature.
            assert_eq!(
                res.unwrap_err(),
                AuthError::SignatureDoesNotMatch,
                "{expires}"
            );
        } else {
            assert!(
                matches!(res, Err(AuthError::QueryMalformed(_))),
                "{expires}: {res:?}"
            );
        }
    }
}

#[test]
fn presigned_query_errors() {
    // Missing parameter.
    let uri = S3_PRESIGNED.replace("&X-Amz-SignedHeaders=host", "");
    let r = Req::new("GET", &uri, &[("host", S3_HOST)]);
    assert!(matches!(
        s3_verify(&r, at(S3_DATE)),
        Err(AuthError::QueryMalformed(_))
    ));
    // Wrong algorithm.
    let uri = S3_PRESIGNED.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512");
    let r = Req::new("GET", &uri, &[("host", S3_HOST)]);
    assert!(matches!(
        s3_verify(&r, at(S3_DATE)),
        Err(AuthError::QueryMalformed(_))
    ));
    // Repeated parameter.
    let r = Req::new(
        "GET",
        &format!("{S3_PRESIGNED}&X-Amz-Expires=10"),
        &[("host", S3_HOST)],
    );
    assert!(matches!(
        s3_verify(&r, at(S3_DATE)),
        Err(AuthError::QueryMalformed(_))
    ));
    // A repeated or non-UTF-8 parameter in the query of a header-signed request is not an
    // authentication matter (the signature still covers it).
    let mut r = s3_get_object();
    r.uri = "/test.txt?X-Amz-Date=%FF&X-Amz-Date=1".parse().unwrap();
    assert_eq!(
        s3_verify(&r, at(S3_DATE)).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
    // Bad date.
    let uri = S3_PRESIGNED.replace("X-Amz-Date=20130524T000000Z", "X-Amz-Date=2013-05-24");
    let r = Req::new("GET", &uri, &[("host", S3_HOST)]);
    assert!(matches!(
        s3_verify(&r, at(S3_DATE)),
        Err(AuthError::QueryMalformed(_))
    ));
    // Region mismatch.
    let r = s3_presigned();
    let e = verify(&r.auth(), &s3_keys(), "eu-west-1", "s3", at(S3_DATE)).unwrap_err();
    assert_eq!(
        e,
        AuthError::QueryMalformed(
            "Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; \
             expecting 'eu-west-1'"
                .into()
        )
    );
    // Host not signed.
    let uri = S3_PRESIGNED.replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=range");
    let r = Req::new("GET", &uri, &[("host", S3_HOST), ("range", "bytes=0-1")]);
    assert!(matches!(
        s3_verify(&r, at(S3_DATE)),
        Err(AuthError::QueryMalformed(_))
    ));
}

#[test]
fn tampering_breaks_the_signature() {
    let tamper: [fn(&mut Req); 5] = [
        |r| r.set("range", "bytes=0-99"),
        |r| r.set("host", "otherbucket.s3.amazonaws.com"),
        |r| r.uri = "/test.txt?x=1".parse().unwrap(),
        |r| r.uri = "/Test.txt".parse().unwrap(),
        |r| r.method = Method::HEAD,
    ];
    for (i, t) in tamper.iter().enumerate() {
        let mut r = s3_get_object();
        t(&mut r);
        assert_eq!(
            s3_verify(&r, at(S3_DATE)).unwrap_err(),
            AuthError::SignatureDoesNotMatch,
            "tamper #{i}"
        );
    }
    // A signed header that was removed.
    let mut r = s3_get_object();
    r.headers.remove("range");
    assert_eq!(
        s3_verify(&r, at(S3_DATE)).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
    // A presigned URL whose path or query was changed.
    let r = Req::new(
        "GET",
        &S3_PRESIGNED.replace("/test.txt", "/test2.txt"),
        &[("host", S3_HOST)],
    );
    assert_eq!(
        s3_verify(&r, at(S3_DATE)).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
    let r = Req::new(
        "GET",
        &format!("{S3_PRESIGNED}&versionId=1"),
        &[("host", S3_HOST)],
    );
    assert_eq!(
        s3_verify(&r, at(S3_DATE)).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
    // A signature that is not even hex.
    let mut r = s3_get_object();
    let auth = r.headers["authorization"]
        .to_str()
        .unwrap()
        .replace("f0e8bdb8", "zzzzzzzz");
    r.set("authorization", &auth);
    assert_eq!(
        s3_verify(&r, at(S3_DATE)).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
}

#[test]
fn authorization_header_spacing_variants() {
    let sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    let sh = "host;range;x-amz-content-sha256;x-amz-date";
    for value in [
        format!("AWS4-HMAC-SHA256 Credential={S3_SCOPE}, SignedHeaders={sh}, Signature={sig}"),
        format!("AWS4-HMAC-SHA256 Credential={S3_SCOPE},SignedHeaders={sh},Signature={sig}"),
        format!("AWS4-HMAC-SHA256   Credential={S3_SCOPE} ,  SignedHeaders={sh},\tSignature={sig}"),
        format!("AWS4-HMAC-SHA256 Signature={sig}, Credential={S3_SCOPE}, SignedHeaders={sh}"),
    ] {
        let mut r = s3_get_object();
        r.set("authorization", &value);
        s3_verify(&r, at(S3_DATE)).unwrap_or_else(|e| panic!("{value}: {e:?}"));
    }
}

#[test]
fn malformed_authorization_headers() {
    let sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    let cases = [
        format!("AWS4-HMAC-SHA256 Credential={S3_SCOPE}, SignedHeaders=host"),
        format!("AWS4-HMAC-SHA256 Credential={S3_SCOPE}, Signature={sig}"),
        format!("AWS4-HMAC-SHA256 SignedHeaders=host, Signature={sig}"),
        format!(
            "AWS4-HMAC-SHA256 Credential={S3_SCOPE}, Credential={S3_SCOPE}, SignedHeaders=host, Signature={sig}"
        ),
        format!(
            "AWS4-HMAC-SHA256 Credential={S3_SCOPE}, SignedHeaders=host, Signature={sig}, Extra=1"
        ),
        format!("AWS4-HMAC-SHA256 Credential={S3_SCOPE} SignedHeaders"),
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3, SignedHeaders=host, Signature={sig}"
        ),
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2013524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={sig}"
        ),
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_reques, SignedHeaders=host, Signature={sig}"
        ),
        format!(
            "AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={sig}"
        ),
        // Scope date differs from x-amz-date.
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130525/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature={sig}"
        ),
        // host not signed; an empty or invalid signed header name.
        format!(
            "AWS4-HMAC-SHA256 Credential={S3_SCOPE}, SignedHeaders=range;x-amz-date, Signature={sig}"
        ),
        format!(
            "AWS4-HMAC-SHA256 Credential={S3_SCOPE}, SignedHeaders=host;;range, Signature={sig}"
        ),
        format!("AWS4-HMAC-SHA256 Credential={S3_SCOPE}, SignedHeaders=host;(x), Signature={sig}"),
        "AWS4-HMAC-SHA256".to_string(),
    ];
    for value in cases {
        let mut r = s3_get_object();
        r.set("authorization", &value);
        let e = s3_verify(&r, at(S3_DATE)).unwrap_err();
        assert!(matches!(e, AuthError::HeaderMalformed(_)), "{value}: {e:?}");
    }
}

#[test]
fn wrong_region_and_service() {
    let r = s3_get_object();
    assert_eq!(
        verify(&r.auth(), &s3_keys(), "us-west-2", "s3", at(S3_DATE)).unwrap_err(),
        AuthError::HeaderMalformed(
            "The authorization header is malformed; the region 'us-east-1' is wrong; \
             expecting 'us-west-2'"
                .into()
        )
    );
    let e = verify(&r.auth(), &s3_keys(), "us-east-1", "kms", at(S3_DATE)).unwrap_err();
    assert!(
        matches!(&e, AuthError::HeaderMalformed(m) if m.contains("incorrect service \"s3\"")),
        "{e:?}"
    );
}

#[test]
fn other_mechanisms_and_anonymous() {
    let anon = Req::new("GET", "/test.txt", &[("host", S3_HOST)]);
    assert_eq!(
        s3_verify(&anon, at(S3_DATE)).unwrap_err(),
        AuthError::Anonymous
    );

    for (value, msg) in [
        (
            "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
            MSG_V2_UNSUPPORTED,
        ),
        ("AWS4-ECDSA-P256-SHA256 Credential=x", MSG_V2_UNSUPPORTED),
        ("Bearer abc", MSG_UNSUPPORTED_TYPE),
        ("", MSG_UNSUPPORTED_TYPE),
        ("AWS4-HMAC-SHA256x Credential=x", MSG_UNSUPPORTED_TYPE),
    ] {
        let mut r = s3_get_object();
        r.set("authorization", value);
        assert_eq!(
            s3_verify(&r, at(S3_DATE)).unwrap_err(),
            AuthError::InvalidArgument(msg.into()),
            "{value}"
        );
    }

    // SigV2 presigned URL.
    let r = Req::new(
        "GET",
        "/test.txt?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1141889120&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D",
        &[("host", S3_HOST)],
    );
    assert_eq!(
        s3_verify(&r, at(S3_DATE)).unwrap_err(),
        AuthError::InvalidArgument(MSG_V2_UNSUPPORTED.into())
    );

    // Header and query at once.
    let mut r = s3_presigned();
    r.set(
        "authorization",
        s3_get_object().headers["authorization"].to_str().unwrap(),
    );
    assert_eq!(
        s3_verify(&r, at(S3_DATE)).unwrap_err(),
        AuthError::InvalidArgument(MSG_TWO_MECHANISMS.into())
    );

    // Two Authorization headers.
    let mut r = s3_get_object();
    let v = r.headers["authorization"].clone();
    r.headers.append("authorization", v);
    assert!(matches!(
        s3_verify(&r, at(S3_DATE)),
        Err(AuthError::InvalidArgument(_))
    ));
}

#[test]
fn missing_or_bad_dates() {
    let mut r = s3_get_object();
    r.headers.remove("x-amz-date");
    assert_eq!(
        s3_verify(&r, at(S3_DATE)).unwrap_err(),
        AuthError::AccessDenied(MSG_NO_DATE.into())
    );
    for bad in [
        "20130524",
        "20130524T000000",
        "20131324T000000Z",
        "2013052aT000000Z",
        "+0130524T000000Z",
    ] {
        let mut r = s3_get_object();
        r.set("x-amz-date", bad);
        assert_eq!(
            s3_verify(&r, at(S3_DATE)).unwrap_err(),
            AuthError::AccessDenied(MSG_NO_DATE.into()),
            "{bad}"
        );
    }
}

#[test]
fn date_header_is_used_without_x_amz_date() {
    let mut r = Req::new(
        "GET",
        "/photos/a%20b.jpg?acl",
        &[
            ("host", S3_HOST),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
        ],
    );
    sign(
        &mut r,
        S3_AK,
        S3_SECRET,
        S3_DATE,
        "us-east-1",
        "s3",
        "date;host;x-amz-content-sha256",
        UNSIGNED_PAYLOAD,
    );
    let v = s3_verify(&r, at(S3_DATE)).unwrap();
    assert_eq!(v.amz_date, S3_DATE);
    assert_eq!(v.payload, PayloadCheck::Unsigned);
}

#[test]
fn content_sha256_header_rules() {
    // Missing for s3 header auth.
    let mut r = s3_get_object();
    r.headers.remove("x-amz-content-sha256");
    assert_eq!(
        s3_verify(&r, at(S3_DATE)).unwrap_err(),
        AuthError::AccessDenied(MSG_NO_CONTENT_SHA256.into())
    );
    // Neither a hash nor a known keyword.
    let mut r = s3_get_object();
    r.set("x-amz-content-sha256", "abc");
    assert_eq!(
        s3_verify(&r, at(S3_DATE)).unwrap_err(),
        AuthError::InvalidArgument(MSG_BAD_CONTENT_SHA256.into())
    );
    // Streaming values are handed back for the caller to refuse (or, later, decode).
    for value in [
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    ] {
        let mut r = Req::new(
            "PUT",
            "/k",
            &[
                ("host", S3_HOST),
                ("x-amz-date", S3_DATE),
                ("x-amz-content-sha256", value),
            ],
        );
        let sig = sign(
            &mut r,
            S3_AK,
            S3_SECRET,
            S3_DATE,
            "us-east-1",
            "s3",
            "host;x-amz-content-sha256;x-amz-date",
            value,
        );
        let v = s3_verify(&r, at(S3_DATE)).unwrap();
        assert_eq!(v.payload, PayloadCheck::Streaming(value.into()));
        assert_eq!(v.seed_signature, sig);
    }
}

#[test]
fn presigned_with_content_sha256_parameter() {
    let hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256={hash}&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
    );
    let unsigned = Req::new("PUT", &format!("/k?{query}"), &[("host", S3_HOST)]);
    let c = creq(&unsigned, "s3", "host", hash, true);
    let sts = sigv4::string_to_sign(
        S3_DATE,
        &sigv4::credential_scope("20130524", "us-east-1", "s3"),
        c.as_bytes(),
    );
    let key = sigv4::SigningKey::derive(
        &SecretString::new(S3_SECRET.into()),
        "20130524",
        "us-east-1",
        "s3",
    );
    let sig = hex::encode(key.sign(sts.as_bytes()));
    let r = Req::new(
        "PUT",
        &format!("/k?{query}&X-Amz-Signature={sig}"),
        &[("host", S3_HOST)],
    );
    let v = s3_verify(&r, at(S3_DATE)).unwrap();
    let mut d = [0u8; 32];
    hex::decode_to_slice(hash, &mut d).unwrap();
    assert_eq!(v.payload, PayloadCheck::Sha256(d));
}

#[test]
fn http2_host_comes_from_the_authority() {
    let mut r = s3_get_object();
    r.headers.remove("host");
    r.uri = format!("https://{S3_HOST}/test.txt").parse().unwrap();
    s3_verify(&r, at(S3_DATE)).unwrap();
    // Without an authority either, the signed host is missing.
    r.uri = "/test.txt".parse().unwrap();
    assert_eq!(
        s3_verify(&r, at(S3_DATE)).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
}

#[test]
fn kms_style_body_hash() {
    // A KMS-like request: service "kms", JSON body, no x-amz-content-sha256 header.
    let body = br#"{"KeyId":"alias/x"}"#;
    let body_hash = sigv4::sha256_hex(body);
    let mut r = Req::new(
        "POST",
        "/",
        &[
            ("host", "localhost:9000"),
            ("x-amz-date", S3_DATE),
            ("x-amz-target", "TrentService.DescribeKey"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
    );
    sign(
        &mut r,
        S3_AK,
        S3_SECRET,
        S3_DATE,
        "us-east-1",
        "kms",
        "content-type;host;x-amz-date;x-amz-target",
        &body_hash,
    );
    let check = |hash: &str| {
        verify_with_body_hash(&r.auth(), &s3_keys(), "us-east-1", "kms", at(S3_DATE), hash)
    };
    let v = check(&body_hash).unwrap();
    assert_eq!(v.service, "kms");
    assert!(matches!(v.payload, PayloadCheck::Sha256(_)));
    assert_eq!(
        check(&sigv4::sha256_hex(b"{}")).unwrap_err(),
        AuthError::SignatureDoesNotMatch
    );
    assert!(matches!(
        check("nothex"),
        Err(AuthError::InvalidArgument(_))
    ));
    // Plain `verify` wants the s3-style header, which KMS clients do not send.
    assert_eq!(
        verify(&r.auth(), &s3_keys(), "us-east-1", "kms", at(S3_DATE)).unwrap_err(),
        AuthError::AccessDenied(MSG_NO_CONTENT_SHA256.into())
    );
}

#[test]
fn nothing_secret_in_errors_or_debug() {
    let errors = [
        AuthError::Anonymous,
        AuthError::InvalidAccessKeyId,
        AuthError::SignatureDoesNotMatch,
        AuthError::RequestTimeTooSkewed,
        AuthError::Expired,
        verify(
            &s3_get_object().auth(),
            &Keys(vec![(S3_AK, "other")]),
            "us-east-1",
            "s3",
            at(S3_DATE),
        )
        .unwrap_err(),
    ];
    // The signature the server computed for the "other" secret.
    let other = {
        let r = s3_get_object();
        let c = creq(
            &r,
            "s3",
            "host;range;x-amz-content-sha256;x-amz-date",
            sigv4::EMPTY_SHA256,
            false,
        );
        let sts = sigv4::string_to_sign(
            S3_DATE,
            &sigv4::credential_scope("20130524", "us-east-1", "s3"),
            c.as_bytes(),
        );
        let k = sigv4::SigningKey::derive(
            &SecretString::new("other".into()),
            "20130524",
            "us-east-1",
            "s3",
        );
        hex::encode(k.sign(sts.as_bytes()))
    };
    for e in &errors {
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains(S3_SECRET) && !text.contains(&other),
            "{text}"
        );
    }
    let key = sigv4::SigningKey::derive(&SecretString::new(S3_SECRET.into()), "d", "r", "s");
    assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
}

#[test]
fn amz_date_round_trip() {
    let d = sigv4::parse_amz_date("20150830T123600Z").unwrap();
    assert_eq!(d.unix, 1_440_938_160);
    assert_eq!(sigv4::format_amz_date(d.unix).unwrap(), "20150830T123600Z");
    assert!(sigv4::parse_amz_date("20150230T123600Z").is_none());
    assert!(sigv4::parse_amz_date("20150830T246000Z").is_none());
    assert!(sigv4::parse_amz_date("２0150830T12360Z").is_none());
}

// ---------------------------------------------------------------------------------------------
// Property tests: no input panics, and garbage never authenticates.

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("AWS4-HMAC-SHA256 ".to_string()),
        Just("AWS4-HMAC-SHA256".to_string()),
        Just("Credential=".to_string()),
        Just(S3_SCOPE.to_string()),
        Just("SignedHeaders=".to_string()),
        Just("host;range;x-amz-content-sha256;x-amz-date".to_string()),
        Just("Signature=".to_string()),
        Just("f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41".to_string()),
        Just(",".to_string()),
        Just(", ".to_string()),
        Just(";".to_string()),
        Just("/".to_string()),
        Just("=".to_string()),
        Just(" ".to_string()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ]
}

proptest! {
    #[test]
    fn random_authorization_values_never_panic(parts in prop::collection::vec(fragment(), 0..12)) {
        let value = parts.concat();
        let Ok(hv) = HeaderValue::from_str(&value) else { return Ok(()); };
        let mut r = s3_get_object();
        r.headers.insert("authorization", hv);
        let res = s3_verify(&r, at(S3_DATE));
        // Only the exact documented header verifies; anything else is an error, not a panic.
        if let Ok(v) = res {
            prop_assert_eq!(v.seed_signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
        }
    }

    #[test]
    fn random_bytes_in_authorization_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let Ok(hv) = HeaderValue::from_bytes(&bytes) else { return Ok(()); };
        let mut r = s3_get_object();
        r.headers.insert("authorization", hv);
        prop_assert!(s3_verify(&r, at(S3_DATE)).is_err());
    }

    #[test]
    fn random_queries_and_paths_never_panic(path in "/[ -~]{0,40}", query in "[ -~]{0,80}") {
        let Ok(uri) = format!("{path}?{query}").parse::<Uri>() else { return Ok(()); };
        for mut r in [s3_get_object(), s3_presigned(), Req::new("GET", "/", &[("host", S3_HOST)])] {
            r.uri = uri.clone();
            let _ = s3_verify(&r, at(S3_DATE));
            let _ = verify_with_body_hash(&r.auth(), &s3_keys(), "us-east-1", "kms", at(S3_DATE), sigv4::EMPTY_SHA256);
        }
        let _ = sigv4::canonical_uri(&path, "s3");
        let _ = sigv4::canonical_query(Some(&query), true);
    }

    #[test]
    fn random_presigned_values_never_panic(
        date in "[0-9TZ+-]{0,18}",
        expires in "[0-9+-]{0,22}",
        cred in "[A-Za-z0-9/%_-]{0,60}",
        now_secs in any::<u32>(),
    ) {
        let uri = format!(
            "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
        );
        let Ok(uri) = uri.parse::<Uri>() else { return Ok(()); };
        let mut r = s3_presigned();
        r.uri = uri;
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(now_secs) * 4);
        prop_assert!(s3_verify(&r, now).is_err());
    }
}
