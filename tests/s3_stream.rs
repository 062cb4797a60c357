//! Streaming uploads (aws-chunked, signed and unsigned, with trailers) and flexible checksums:
//! aws-sdk-s3 with its default checksum behaviour, and hand-built bodies on a raw socket for
//! the forms and corruptions the SDK never sends.

use std::time::SystemTime;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffer::api::auth::chunked::ChunkSigner;
use coffer::api::auth::sigv4;
use coffer::secret::SecretString;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Checksums computed here, independently of the server.

fn crc(alg: crc_fast::CrcAlgorithm, data: &[u8]) -> Vec<u8> {
    let mut d = crc_fast::Digest::new(alg);
    d.update(data);
    let v = d.finalize();
    if matches!(alg, crc_fast::CrcAlgorithm::Crc64Nvme) {
        v.to_be_bytes().to_vec()
    } else {
        (v as u32).to_be_bytes().to_vec()
    }
}

pub fn checksum_b64(alg: &str, data: &[u8]) -> String {
    use crc_fast::CrcAlgorithm::*;
    B64.encode(match alg {
        "CRC32" => crc(Crc32IsoHdlc, data),
        "CRC32C" => crc(Crc32Iscsi, data),
        "CRC64NVME" => crc(Crc64Nvme, data),
        "SHA1" => sha1::Sha1::digest(data).to_vec(),
        "SHA256" => sha2::Sha256::digest(data).to_vec(),
        other => panic!("unknown algorithm {other}"),
    })
}

const ALGS: [(ChecksumAlgorithm, &str); 5] = [
    (ChecksumAlgorithm::Crc32, "CRC32"),
    (ChecksumAlgorithm::Crc32C, "CRC32C"),
    (ChecksumAlgorithm::Crc64Nvme, "CRC64NVME"),
    (ChecksumAlgorithm::Sha1, "SHA1"),
    (ChecksumAlgorithm::Sha256, "SHA256"),
];

async fn head_checksum(s3: &aws_sdk_s3::Client, b: &str, k: &str, alg: &str) -> Option<String> {
    let h = s3
        .head_object()
        .bucket(b)
        .key(k)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    match alg {
        "CRC32" => h.checksum_crc32,
        "CRC32C" => h.checksum_crc32_c,
        "CRC64NVME" => h.checksum_crc64_nvme,
        "SHA1" => h.checksum_sha1,
        "SHA256" => h.checksum_sha256,
        _ => None,
    }
}

async fn get(s3: &aws_sdk_s3::Client, b: &str, k: &str) -> Vec<u8> {
    read_all(
        s3.get_object()
            .bucket(b)
            .key(k)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn head_status(s3: &aws_sdk_s3::Client, b: &str, k: &str) -> Result<(), String> {
    s3.head_object()
        .bucket(b)
        .key(k)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

// ---------------------------------------------------------------------------------------------
// aws-sdk-s3, default checksum behaviour

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn sdk_default_uploads_in_memory_and_streaming_0_to_50_mib() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("upl").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, size) in [0, 1, 8191, 65_536, 65_537, MIB + 7, 5 * MIB + 3, 50 * MIB]
        .into_iter()
        .enumerate()
    {
        let data = pattern(size, i as u64 + 1);
        let crc32 = checksum_b64("CRC32", &data);

        let key = format!("mem-{size}");
        s3.put_object()
            .bucket("upl")
            .key(&key)
            .body(data.clone().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("in-memory {size}: {e:?}"));
        assert!(get(&s3, "upl", &key).await == data, "in-memory {size}");
        assert_eq!(
            head_checksum(&s3, "upl", &key, "CRC32").await,
            Some(crc32.clone())
        );

        let path = dir.path().join(format!("f{size}"));
        std::fs::write(&path, &data).unwrap();
        let key = format!("file-{size}");
        s3.put_object()
            .bucket("upl")
            .key(&key)
            .body(ByteStream::from_path(&path).await.unwrap())
            .send()
            .await
            .unwrap_or_else(|e| panic!("streaming {size}: {e:?}"));
        assert!(get(&s3, "upl", &key).await == data, "streaming {size}");
        assert_eq!(head_checksum(&s3, "upl", &key, "CRC32").await, Some(crc32));
    }
}

#[tokio::test]
async fn sdk_each_checksum_algorithm_is_verified_stored_and_returned() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("alg").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = pattern(300_001, 9);
    let path = dir.path().join("body");
    std::fs::write(&path, &data).unwrap();
    for (alg, name) in ALGS {
        let want = checksum_b64(name, &data);
        for streaming in [false, true] {
            let key = format!("{name}-{streaming}");
            let body = if streaming {
                ByteStream::from_path(&path).await.unwrap()
            } else {
                data.clone().into()
            };
            s3.put_object()
                .bucket("alg")
                .key(&key)
                .checksum_algorithm(alg.clone())
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{key}: {e:?}"));
            assert_eq!(
                head_checksum(&s3, "alg", &key, name).await,
                Some(want.clone()),
                "{key}"
            );
            assert!(get(&s3, "alg", &key).await == data, "{key}");
        }
    }
}

#[tokio::test]
async fn sdk_wrong_header_checksum_is_bad_digest_and_nothing_is_stored() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("bad").send().await.unwrap();
    // Small and large: a 1 MiB body's digests run on their own thread (DigestPipe).
    for len in [1000, 1 << 20] {
        let data = pattern(len, 3);
        let wrong = checksum_b64("SHA256", b"something else");
        let err = s3
            .put_object()
            .bucket("bad")
            .key("k")
            .checksum_sha256(wrong)
            .body(data.into())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "BadDigest", "{len} bytes");
        assert_eq!(head_status(&s3, "bad", "k").await, Err("NotFound".into()));
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-built aws-chunked requests on a raw socket

/// A response read off a raw HTTP/1.1 connection.
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends `head` (ending in the blank line) and `body`, reads the whole response
/// (`Connection: close` must be in `head`).
pub async fn raw_exchange(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> RawResponse {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and close) before reading all of a refused body.
    let _ = s.write_all(body).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    parse_response(&out)
}

pub fn parse_response(out: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    RawResponse {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// What a streaming PUT looks like before its body is encoded.
struct Streaming {
    claim: &'static str,
    trailer: Option<&'static str>,
    decoded_len: usize,
    wire_len: usize,
}

/// Signs a streaming PUT with aws-sigv4 (the SDK's own signer); returns the request head and
/// the chunk signer seeded with the request's signature.
fn signed_head(addr: std::net::SocketAddr, path: &str, s: &Streaming) -> (String, ChunkSigner) {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let host = addr.to_string();
    let decoded = s.decoded_len.to_string();
    let wire = s.wire_len.to_string();
    let mut headers: Vec<(&str, &str)> = vec![
        ("host", &host),
        ("content-encoding", "aws-chunked"),
        ("content-length", &wire),
        ("x-amz-content-sha256", s.claim),
        ("x-amz-decoded-content-length", &decoded),
    ];
    if let Some(t) = s.trailer {
        headers.push(("x-amz-trailer", t));
    }
    let identity =
        aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "t").into();
    let now = SystemTime::now();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("s3")
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let url = format!("http://{host}{path}");
    let req = SignableRequest::new(
        "PUT",
        url,
        headers.iter().copied(),
        SignableBody::Precomputed(s.claim.to_string()),
    )
    .unwrap();
    let (instructions, seed) = sign(req, &params).unwrap().into_parts();
    let mut head = format!("PUT {path} HTTP/1.1\r\n");
    for (k, v) in headers.iter().copied().chain(instructions.headers()) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    let amz_date = instructions
        .headers()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-date"))
        .map(|(_, v)| v.to_string())
        .unwrap();
    let day = &amz_date[..8];
    let key = sigv4::signing_key(
        ACCESS_KEY,
        &SecretString::new(SECRET_KEY.to_string()),
        day,
        REGION,
        "s3",
    );
    let mut seed_bytes = [0u8; 32];
    hex::decode_to_slice(&seed, &mut seed_bytes).unwrap();
    let scope = sigv4::credential_scope(day, REGION, "s3");
    (head, ChunkSigner::new(key, &amz_date, scope, seed_bytes))
}

/// What to break in an encoded body.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Corrupt {
    Nothing,
    DataByte,
    ChunkSignature,
    TrailerValue,
    TrailerSignature,
    Truncate,
}

/// Encodes `data` as aws-chunked in `chunk`-sized pieces; signed when `signer` is given.
fn encode(
    data: &[u8],
    chunk: usize,
    mut signer: Option<&mut ChunkSigner>,
    trailer: Option<(&str, String)>,
    corrupt: Corrupt,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    pieces.push(&[]);
    for (i, p) in pieces.iter().enumerate() {
        match signer.as_deref_mut() {
            Some(s) => {
                let mut sig = s.sign_next_chunk(p);
                if corrupt == Corrupt::ChunkSignature && i == 1 {
                    sig[0] ^= 1;
                }
                out.extend_from_slice(
                    format!("{:x};chunk-signature={}\r\n", p.len(), hex::encode(sig)).as_bytes(),
                );
            }
            None => out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes()),
        }
        if !p.is_empty() {
            let start = out.len();
            out.extend_from_slice(p);
            if corrupt == Corrupt::DataByte && i == 1 {
                out[start + 5] ^= 0x40;
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    match trailer {
        None => out.extend_from_slice(b"\r\n"),
        Some((name, value)) => {
            let sent = if corrupt == Corrupt::TrailerValue {
                B64.encode(vec![0u8; B64.decode(&value).unwrap().len()])
            } else {
                value
            };
            out.extend_from_slice(format!("{name}:{sent}\r\n").as_bytes());
            if let Some(s) = signer {
                let mut sig = s.sign_trailer(format!("{name}:{sent}\n").as_bytes());
                if corrupt == Corrupt::TrailerSignature {
                    sig[31] ^= 0x80;
                }
                out.extend_from_slice(
                    format!("x-amz-trailer-signature:{}\r\n", hex::encode(sig)).as_bytes(),
                );
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    if corrupt == Corrupt::Truncate {
        out.truncate(out.len() / 2);
    }
    out
}

/// Uploads `data` with a hand-built aws-chunked body; returns the response.
async fn put_chunked(
    srv: &TestServer,
    path: &str,
    claim: &'static str,
    data: &[u8],
    trailer_alg: Option<&str>,
    corrupt: Corrupt,
) -> RawResponse {
    let trailer_name = trailer_alg.map(|a| match a {
        "CRC32" => "x-amz-checksum-crc32",
        "CRC32C" => "x-amz-checksum-crc32c",
        "CRC64NVME" => "x-amz-checksum-crc64nvme",
        "SHA1" => "x-amz-checksum-sha1",
        _ => "x-amz-checksum-sha256",
    });
    let trailer = trailer_alg.map(|a| (trailer_name.unwrap_or_default(), checksum_b64(a, data)));
    let signed = claim != "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    // The wire length depends only on sizes, so encode once with a throwaway signer to learn
    // it, then sign for real.
    let mut s = Streaming {
        claim,
        trailer: trailer_name,
        decoded_len: data.len(),
        wire_len: 0,
    };
    let (_, mut probe) = signed_head(srv.addr, path, &s);
    s.wire_len = encode(
        data,
        65_536,
        signed.then_some(&mut probe),
        trailer.clone(),
        corrupt,
    )
    .len();
    let (head, mut signer) = signed_head(srv.addr, path, &s);
    let body = encode(
        data,
        65_536,
        signed.then_some(&mut signer),
        trailer,
        corrupt,
    );
    raw_exchange(srv.addr, &head, &body).await
}

const SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

#[tokio::test]
async fn every_streaming_form_stores_the_decoded_body() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("raw").send().await.unwrap();
    let data = pattern(200_000, 4);
    let cases = [
        (SIGNED, None),
        (SIGNED_TRAILER, Some("CRC32C")),
        (UNSIGNED_TRAILER, Some("CRC64NVME")),
        (UNSIGNED_TRAILER, Some("SHA1")),
        (SIGNED_TRAILER, Some("SHA256")),
    ];
    for (i, (claim, alg)) in cases.into_iter().enumerate() {
        let key = format!("k{i}");
        let r = put_chunked(
            &srv,
            &format!("/raw/{key}"),
            claim,
            &data,
            alg,
            Corrupt::Nothing,
        )
        .await;
        assert_eq!(r.status, 200, "{claim} {alg:?}: {}", r.body);
        assert!(get(&s3, "raw", &key).await == data, "{claim}");
        if let Some(a) = alg {
            assert_eq!(
                head_checksum(&s3, "raw", &key, a).await,
                Some(checksum_b64(a, &data))
            );
        }
    }
    // Zero bytes, signed.
    let r = put_chunked(&srv, "/raw/empty", SIGNED, b"", None, Corrupt::Nothing).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(get(&s3, "raw", "empty").await.is_empty());
}

#[tokio::test]
async fn corrupted_chunks_signatures_and_trailers_store_nothing() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("bad").send().await.unwrap();
    let data = pattern(150_000, 5);
    let cases = [
        (
            SIGNED,
            None,
            Corrupt::DataByte,
            403,
            "SignatureDoesNotMatch",
        ),
        (
            SIGNED,
            None,
            Corrupt::ChunkSignature,
            403,
            "SignatureDoesNotMatch",
        ),
        (SIGNED, None, Corrupt::Truncate, 400, "IncompleteBody"),
        (
            SIGNED_TRAILER,
            Some("CRC32"),
            Corrupt::DataByte,
            403,
            "SignatureDoesNotMatch",
        ),
        (
            SIGNED_TRAILER,
            Some("CRC32"),
            Corrupt::TrailerSignature,
            403,
            "SignatureDoesNotMatch",
        ),
        (
            SIGNED_TRAILER,
            Some("CRC32"),
            Corrupt::TrailerValue,
            400,
            "BadDigest",
        ),
        (
            UNSIGNED_TRAILER,
            Some("CRC32C"),
            Corrupt::DataByte,
            400,
            "BadDigest",
        ),
        (
            UNSIGNED_TRAILER,
            Some("SHA256"),
            Corrupt::TrailerValue,
            400,
            "BadDigest",
        ),
        (
            UNSIGNED_TRAILER,
            Some("CRC32"),
            Corrupt::Truncate,
            400,
            "IncompleteBody",
        ),
    ];
    for (i, (claim, alg, corrupt, status, code)) in cases.into_iter().enumerate() {
        let key = format!("k{i}");
        let r = put_chunked(&srv, &format!("/bad/{key}"), claim, &data, alg, corrupt).await;
        assert_eq!(r.status, status, "{claim} {corrupt:?}: {}", r.body);
        assert!(
            r.body.contains(&format!("<Code>{code}</Code>")),
            "{claim} {corrupt:?}: {}",
            r.body
        );
        assert_eq!(
            head_status(&s3, "bad", &key).await,
            Err("NotFound".into()),
            "{claim} {corrupt:?}"
        );
    }
    // A corrupted upload over an existing object leaves the old one in place.
    s3.put_object()
        .bucket("bad")
        .key("keep")
        .body(b"old".to_vec().into())
        .send()
        .await
        .unwrap();
    let r = put_chunked(&srv, "/bad/keep", SIGNED, &data, None, Corrupt::DataByte).await;
    assert_eq!(r.status, 403);
    assert_eq!(get(&s3, "bad", "keep").await, b"old");
}

#[tokio::test]
async fn decoded_length_header_is_required_and_checked() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("len").send().await.unwrap();
    let data = pattern(1000, 6);
    let body = encode(
        &data,
        65_536,
        None,
        Some(("x-amz-checksum-crc32", checksum_b64("CRC32", &data))),
        Corrupt::Nothing,
    );
    for (decoded, status, code) in [
        (999usize, 400, "IncompleteBody"),
        (1001, 400, "IncompleteBody"),
    ] {
        let s = Streaming {
            claim: UNSIGNED_TRAILER,
            trailer: Some("x-amz-checksum-crc32"),
            decoded_len: decoded,
            wire_len: body.len(),
        };
        let (head, _) = signed_head(srv.addr, "/len/k", &s);
        let r = raw_exchange(srv.addr, &head, &body).await;
        assert_eq!(r.status, status, "{decoded}: {}", r.body);
        assert!(r.body.contains(code), "{}", r.body);
    }
    // Without x-amz-decoded-content-length: 411 MissingContentLength.
    let s = Streaming {
        claim: UNSIGNED_TRAILER,
        trailer: Some("x-amz-checksum-crc32"),
        decoded_len: 1000,
        wire_len: body.len(),
    };
    let (head, _) = signed_head(srv.addr, "/len/k", &s);
    let head = head.replace("x-amz-decoded-content-length: 1000\r\n", "");
    let r = raw_exchange(srv.addr, &head, &body).await;
    // The header was signed, so removing it breaks the signature first unless unsigned: either
    // way the request is refused and nothing is stored.
    assert!(r.status == 411 || r.status == 403, "{}", r.head);
    assert_eq!(head_status(&s3, "len", "k").await, Err("NotFound".into()));
}

/// hyper answers `Expect: 100-continue` when the handler starts reading the body.
#[tokio::test]
async fn expect_100_continue() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("exp").send().await.unwrap();
    let data = pattern(5000, 7);
    let s = Streaming {
        claim: SIGNED,
        trailer: None,
        decoded_len: data.len(),
        wire_len: 0,
    };
    let (_, mut probe) = signed_head(srv.addr, "/exp/k", &s);
    let wire_len = encode(&data, 65_536, Some(&mut probe), None, Corrupt::Nothing).len();
    let s = Streaming { wire_len, ..s };
    let (head, mut signer) = signed_head(srv.addr, "/exp/k", &s);
    let head = head.replace(
        "connection: close\r\n",
        "connection: close\r\nexpect: 100-continue\r\n",
    );
    let body = encode(&data, 65_536, Some(&mut signer), None, Corrupt::Nothing);

    let mut sock = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut first = [0u8; 25];
    sock.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    sock.write_all(&body).await.unwrap();
    let mut out = Vec::new();
    sock.read_to_end(&mut out).await.unwrap();
    let r = parse_response(&out);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(get(&s3, "exp", "k").await == data);
}

#[tokio::test]
async fn sdk_wrong_content_md5_is_bad_digest() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("md5").send().await.unwrap();
    let good = B64.encode(md5::Md5::digest(b"hello"));
    s3.put_object()
        .bucket("md5")
        .key("ok")
        .content_md5(&good)
        .body(b"hello".to_vec().into())
        .send()
        .await
        .unwrap();
    let err = s3
        .put_object()
        .bucket("md5")
        .key("bad")
        .content_md5(&good)
        .body(b"hellO".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BadDigest");
    assert_eq!(head_status(&s3, "md5", "bad").await, Err("NotFound".into()));
}

/// The named limits, hit over the wire: an oversized chunk header or trailer is refused
/// (InvalidRequest) and nothing is stored.
#[tokio::test]
async fn chunk_header_and_trailer_limits_over_the_wire() {
    use coffer::api::auth::chunked::{MAX_CHUNK_HEADER_LEN, MAX_TRAILER_LEN};
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("lim").send().await.unwrap();
    let crc = checksum_b64("CRC32", b"abc");
    let long_ext = format!(
        "3;{}\r\nabc\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n",
        "x".repeat(MAX_CHUNK_HEADER_LEN)
    );
    let long_trailer = format!(
        "3\r\nabc\r\n0\r\nx-amz-checksum-crc32:{crc}{}\r\n\r\n",
        " ".repeat(MAX_TRAILER_LEN)
    );
    for (i, body) in [long_ext, long_trailer].into_iter().enumerate() {
        let s = Streaming {
            claim: UNSIGNED_TRAILER,
            trailer: Some("x-amz-checksum-crc32"),
            decoded_len: 3,
            wire_len: body.len(),
        };
        let key = format!("k{i}");
        let (head, _) = signed_head(srv.addr, &format!("/lim/{key}"), &s);
        let r = raw_exchange(srv.addr, &head, body.as_bytes()).await;
        assert_eq!(r.status, 400, "{i}: {}", r.body);
        assert!(
            r.body.contains("InvalidRequest") && r.body.contains("longer than"),
            "{}",
            r.body
        );
        assert_eq!(head_status(&s3, "lim", &key).await, Err("NotFound".into()));
    }
}

/// Hostile but valid: 10 000 one-byte chunks, every chunk signature verified, the body stored
/// exactly; and the same as unsigned chunks with a trailer.
#[tokio::test]
async fn ten_thousand_tiny_chunks() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("tiny").send().await.unwrap();
    let data = pattern(10_000, 77);
    for (key, claim, trailer) in [
        ("signed", SIGNED, None),
        ("unsigned", UNSIGNED_TRAILER, Some("CRC32")),
    ] {
        let trailer_kv = trailer.map(|a| ("x-amz-checksum-crc32", checksum_b64(a, &data)));
        let signed = claim != UNSIGNED_TRAILER;
        let mut s = Streaming {
            claim,
            trailer: trailer.map(|_| "x-amz-checksum-crc32"),
            decoded_len: data.len(),
            wire_len: 0,
        };
        let path = format!("/tiny/{key}");
        let (_, mut probe) = signed_head(srv.addr, &path, &s);
        s.wire_len = encode(
            &data,
            1,
            signed.then_some(&mut probe),
            trailer_kv.clone(),
            Corrupt::Nothing,
        )
        .len();
        let (head, mut signer) = signed_head(srv.addr, &path, &s);
        let body = encode(
            &data,
            1,
            signed.then_some(&mut signer),
            trailer_kv,
            Corrupt::Nothing,
        );
        let r = raw_exchange(srv.addr, &head, &body).await;
        assert_eq!(r.status, 200, "{key}: {}", r.body);
        assert_eq!(get(&s3, "tiny", key).await, data, "{key}");
    }
}

/// A chunk header that never ends (no CRLF, megabytes of it) is refused once it passes the
/// named limit: the server neither buffers it nor waits for the rest.
#[tokio::test]
async fn endless_chunk_header_is_cut_off_at_the_limit() {
    use coffer::api::auth::chunked::MAX_CHUNK_HEADER_LEN;
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("endless").send().await.unwrap();
    let declared = 16 << 20;
    let s = Streaming {
        claim: UNSIGNED_TRAILER,
        trailer: Some("x-amz-checksum-crc32"),
        decoded_len: 3,
        wire_len: declared,
    };
    let (head, _) = signed_head(srv.addr, "/endless/k", &s);
    let mut conn = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    let (mut rd, mut wr) = conn.into_split();
    // Keep sending header bytes; the server must answer long before the declared length.
    let writer = tokio::spawn(async move {
        let junk = vec![b'f'; 64 * 1024];
        let mut sent = 0usize;
        while sent < declared {
            if wr.write_all(&junk).await.is_err() {
                break;
            }
            sent += junk.len();
        }
        sent
    });
    let mut out = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(30), rd.read_to_end(&mut out)).await;
    let r = parse_response(&out);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("longer than"), "{}", r.body);
    let sent = writer.await.unwrap();
    assert!(
        sent < declared,
        "the server read the whole endless header ({sent} bytes)"
    );
    assert!(MAX_CHUNK_HEADER_LEN < declared);
    assert_eq!(
        head_status(&s3, "endless", "k").await,
        Err("NotFound".into())
    );
}
