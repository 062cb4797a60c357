//! aws-chunked bodies: the three `STREAMING-*` payload forms, decoded and verified.
//!
//! Wire format (AWS "Signature Calculations ... Transferring Payload in Multiple Chunks" and
//! "... Including Trailing Headers"):
//!
//! ```text
//! signed:            hex-size;chunk-signature=<64 hex>\r\n <data> \r\n ...
//!                    0;chunk-signature=<64 hex>\r\n \r\n
//! signed + trailer:  ... 0;chunk-signature=<64 hex>\r\n
//!                    x-amz-checksum-crc32c:<base64>\r\n
//!                    x-amz-trailer-signature:<64 hex>\r\n \r\n
//! unsigned trailer:  hex-size\r\n <data> \r\n ... 0\r\n x-amz-checksum-crc32:<base64>\r\n \r\n
//! ```
//!
//! Chunk `n` is signed over `AWS4-HMAC-SHA256-PAYLOAD \n date \n scope \n sig(n-1) \n
//! sha256("") \n sha256(data)`, chained from the request's seed signature, so chunks cannot be
//! dropped, reordered or altered; the trailer over `AWS4-HMAC-SHA256-TRAILER \n date \n scope \n
//! sig(final chunk) \n sha256(canonical trailer lines)`.
//!
//! [`Decoder`] is sans-IO: it is fed whatever pieces the transport delivers (any split points)
//! and hands back payload bytes without copying them. A chunk's bytes are handed on before its
//! signature can be checked (the signature covers the whole chunk); that is safe because the
//! object service commits only after the body's end, and the body only ends after every
//! signature, the trailer and the decoded length have been checked ([`Decoder::finish`]).
//! Every line it buffers is bounded ([`MAX_CHUNK_HEADER_LEN`], [`MAX_TRAILER_LEN`]); no input
//! makes it panic.

use sha2::{Digest, Sha256};

use super::sigv4::{self, EMPTY_SHA256, SigningKey};
use crate::secret::ct_eq;
use bytes::Bytes;

/// Longest chunk header line (`hex-size;chunk-signature=...` with its CRLF). A real one is at
/// most 16 + 17 + 64 + 2 = 99 bytes; the slack allows other chunk extensions.
pub const MAX_CHUNK_HEADER_LEN: usize = 4096;
/// Longest trailer section (every trailer line together, CRLFs included). A checksum trailer
/// plus its signature is under 200 bytes.
pub const MAX_TRAILER_LEN: usize = 16 * 1024;
/// Hex digits allowed in a chunk size (a u64).
const MAX_SIZE_DIGITS: usize = 16;

/// `x-amz-content-sha256` values of aws-chunked bodies.
pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
pub const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// Which aws-chunked form a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamingMode {
    /// Every chunk signed, no trailer.
    Signed,
    /// Every chunk signed, then a signed trailer.
    SignedTrailer,
    /// Chunks not signed, then an unsigned trailer (used over HTTPS).
    UnsignedTrailer,
}

impl StreamingMode {
    /// The mode of an `x-amz-content-sha256` value; `None` for other `STREAMING-*` values
    /// (SigV4a's ECDSA forms), which Coffer does not implement.
    pub fn from_claim(claim: &str) -> Option<Self> {
        match claim {
            STREAMING_SIGNED => Some(StreamingMode::Signed),
            STREAMING_SIGNED_TRAILER => Some(StreamingMode::SignedTrailer),
            STREAMING_UNSIGNED_TRAILER => Some(StreamingMode::UnsignedTrailer),
            _ => None,
        }
    }

    fn signed(self) -> bool {
        !matches!(self, StreamingMode::UnsignedTrailer)
    }

    fn has_trailer(self) -> bool {
        !matches!(self, StreamingMode::Signed)
    }
}

/// Why an aws-chunked body was refused. Messages never contain a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    /// A chunk or trailer signature is wrong or missing: S3 SignatureDoesNotMatch.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your key and signing method."
    )]
    SignatureDoesNotMatch,
    /// The body ended early, or its decoded length differs from
    /// `x-amz-decoded-content-length`: S3 IncompleteBody.
    #[error("{0}")]
    Incomplete(&'static str),
    /// Bad framing, an oversized line, a bad trailer: S3 InvalidRequest.
    #[error("{0}")]
    Malformed(String),
}

/// The chunk signature chain of one request.
pub struct ChunkSigner {
    key: SigningKey,
    amz_date: String,
    scope: String,
    /// The previous signature (the seed signature before the first chunk).
    prev: [u8; 32],
}

impl ChunkSigner {
    pub fn new(key: SigningKey, amz_date: &str, scope: String, seed: [u8; 32]) -> Self {
        ChunkSigner {
            key,
            amz_date: amz_date.to_owned(),
            scope,
            prev: seed,
        }
    }

    /// The signature of the next chunk, whose data hashes to `data_sha256`.
    pub fn chunk_signature(&self, data_sha256: &[u8; 32]) -> [u8; 32] {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            self.amz_date,
            self.scope,
            hex::encode(self.prev),
            hex::encode(data_sha256)
        );
        self.key.sign(sts.as_bytes())
    }

    /// The signature of a trailer whose canonical form (`name:value\n` lines) is `canonical`.
    pub fn trailer_signature(&self, canonical: &[u8]) -> [u8; 32] {
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            hex::encode(self.prev),
            sigv4::sha256_hex(canonical)
        );
        self.key.sign(sts.as_bytes())
    }

    /// The client side: signs the next chunk's `data` and advances the chain.
    pub fn sign_next_chunk(&mut self, data: &[u8]) -> [u8; 32] {
        let sig = self.chunk_signature(&Sha256::digest(data).into());
        self.prev = sig;
        sig
    }

    /// The client side: signs the trailer (`canonical`: its `name:value\n` lines) and
    /// advances the chain.
    pub fn sign_trailer(&mut self, canonical: &[u8]) -> [u8; 32] {
        let sig = self.trailer_signature(canonical);
        self.prev = sig;
        sig
    }

    /// Checks `provided` (hex) against `expected` in constant time and advances the chain.
    fn accept(&mut self, expected: [u8; 32], provided: &str) -> Result<(), ChunkedError> {
        let mut got = [0u8; 32];
        if hex::decode_to_slice(provided, &mut got).is_err() || !ct_eq(&expected, &got) {
            return Err(ChunkedError::SignatureDoesNotMatch);
        }
        self.prev = expected;
        Ok(())
    }
}

impl std::fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkSigner(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk header line.
    Header,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// After a chunk's data: the CRLF, this many of its bytes seen.
    DataEnd(u8),
    /// After the signed final chunk (no trailer): the closing empty line.
    FinalLine,
    /// Reading trailer lines.
    Trailer,
    /// The body is complete; nothing more may follow.
    Done,
}

/// An incremental aws-chunked decoder (see the module docs).
#[derive(Debug)]
pub struct Decoder {
    mode: StreamingMode,
    signer: Option<ChunkSigner>,
    /// Trailer names the request declared in `x-amz-trailer`, lower-case.
    declared: Vec<String>,
    decoded_len: u64,
    decoded: u64,
    state: State,
    /// A partial line (chunk header or trailer line).
    line: Vec<u8>,
    /// The signature the current chunk's header announced.
    chunk_sig: String,
    chunk_hash: Sha256,
    /// Bytes of trailer section seen so far.
    trailer_bytes: usize,
    trailers: Vec<(String, String)>,
    trailer_sig: Option<String>,
}

impl Decoder {
    /// `signer` is required for the signed modes; `declared` is `x-amz-trailer`;
    /// `decoded_len` is `x-amz-decoded-content-length`.
    pub fn new(
        mode: StreamingMode,
        signer: Option<ChunkSigner>,
        declared: &str,
        decoded_len: u64,
    ) -> Result<Self, ChunkedError> {
        if mode.signed() && signer.is_none() {
            return Err(ChunkedError::Malformed(
                "a signed aws-chunked body needs a signed request".into(),
            ));
        }
        let declared: Vec<String> = declared
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if !mode.has_trailer() && !declared.is_empty() {
            return Err(ChunkedError::Malformed(format!(
                "x-amz-trailer requires x-amz-content-sha256 {STREAMING_SIGNED_TRAILER} or \
                 {STREAMING_UNSIGNED_TRAILER}"
            )));
        }
        Ok(Decoder {
            mode,
            signer,
            declared,
            decoded_len,
            decoded: 0,
            state: State::Header,
            line: Vec::new(),
            chunk_sig: String::new(),
            chunk_hash: Sha256::new(),
            trailer_bytes: 0,
            trailers: Vec::new(),
            trailer_sig: None,
        })
    }

    /// The trailers received (lower-case names, signature excluded), complete once
    /// [`Decoder::finish`] succeeded.
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// Consumes bytes of `input` and returns the next piece of payload, or `None` once `input`
    /// is used up without yielding payload. Call until `input` is empty.
    pub fn decode(&mut self, input: &mut Bytes) -> Result<Option<Bytes>, ChunkedError> {
        while !input.is_empty() {
            match self.state {
                State::Header => {
                    if let Some((line, _)) = self.take_line(input, MAX_CHUNK_HEADER_LEN)? {
                        self.chunk_header(&line)?;
                    }
                }
                State::Data(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    let piece = input.split_to(n);
                    // Only a signed chunk needs its hash (SHA-256 is the costliest step here).
                    if self.mode.signed() {
                        self.chunk_hash.update(&piece);
                    }
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd(0)
                    } else {
                        State::Data(left)
                    };
                    return Ok(Some(piece));
                }
                State::DataEnd(seen) => {
                    let want = if seen == 0 { b'\r' } else { b'\n' };
                    if input[0] != want {
                        return Err(malformed("chunk data is not followed by CRLF"));
                    }
                    let _ = input.split_to(1);
                    if seen == 0 {
                        self.state = State::DataEnd(1);
                    } else {
                        self.end_of_chunk_data()?;
                    }
                }
                State::FinalLine => {
                    if let Some((line, _)) = self.take_line(input, MAX_CHUNK_HEADER_LEN)? {
                        if !line.is_empty() {
                            return Err(malformed("unexpected data after the final chunk"));
                        }
                        self.state = State::Done;
                    }
                }
                State::Trailer => {
                    // The limit covers the whole section: each line gets what is left.
                    let budget = MAX_TRAILER_LEN.saturating_sub(self.trailer_bytes);
                    let taken = self.take_line(input, budget);
                    if let Some((line, raw_len)) = taken.map_err(|_| trailer_too_long())? {
                        self.trailer_bytes += raw_len;
                        self.trailer_line(&line)?;
                    }
                }
                State::Done => return Err(malformed("unexpected data after the trailer")),
            }
        }
        Ok(None)
    }

    /// The transport says the body ended: succeed only if it ended where it should.
    pub fn finish(&mut self) -> Result<(), ChunkedError> {
        match self.state {
            State::Done => {}
            // Tolerate a sender that omits the closing empty line after complete trailers:
            // every trailer line is whole, and signed trailers are checked below anyway.
            State::Trailer if self.line.is_empty() && !self.trailers.is_empty() => {
                self.end_of_trailer()?;
            }
            _ => {
                return Err(ChunkedError::Incomplete(
                    "The aws-chunked body ended before its final chunk and trailer.",
                ));
            }
        }
        if self.decoded != self.decoded_len {
            return Err(ChunkedError::Incomplete(
                "The decoded body length does not match x-amz-decoded-content-length.",
            ));
        }
        Ok(())
    }

    /// Takes bytes up to and including the next `\n`; returns the line without its line end
    /// once complete, with its length on the wire. Refuses lines longer than `limit` (line end
    /// included).
    fn take_line(
        &mut self,
        input: &mut Bytes,
        limit: usize,
    ) -> Result<Option<(Vec<u8>, usize)>, ChunkedError> {
        let (n, complete) = match input.iter().position(|&b| b == b'\n') {
            Some(p) => (p + 1, true),
            None => (input.len(), false),
        };
        if self.line.len() + n > limit {
            return Err(malformed(&format!(
                "an aws-chunked header or trailer line is longer than {limit} bytes"
            )));
        }
        self.line.extend_from_slice(&input.split_to(n));
        if !complete {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        let raw_len = line.len();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some((line, raw_len)))
    }

    fn chunk_header(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        let line = std::str::from_utf8(line).map_err(|_| malformed("chunk header is not text"))?;
        let (size, ext) = match line.split_once(';') {
            Some((s, e)) => (s, Some(e)),
            None => (line, None),
        };
        let size = size.trim();
        if size.is_empty()
            || size.len() > MAX_SIZE_DIGITS
            || !size.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(malformed("chunk size is not a hexadecimal number"));
        }
        let size = u64::from_str_radix(size, 16).map_err(|_| malformed("chunk size too large"))?;
        if self.mode.signed() {
            let sig = ext
                .and_then(|e| {
                    e.split(';')
                        .find_map(|kv| kv.trim().strip_prefix("chunk-signature="))
                })
                .ok_or_else(|| malformed("chunk header has no chunk-signature"))?;
            self.chunk_sig = sig.trim().to_owned();
        }
        if self.decoded.saturating_add(size) > self.decoded_len {
            return Err(ChunkedError::Incomplete(
                "The aws-chunked body is longer than x-amz-decoded-content-length.",
            ));
        }
        self.decoded += size;
        self.chunk_hash = Sha256::new();
        if size > 0 {
            self.state = State::Data(size);
            return Ok(());
        }
        // The final, empty chunk.
        self.verify_chunk()?;
        self.state = if self.mode.has_trailer() {
            State::Trailer
        } else {
            State::FinalLine
        };
        Ok(())
    }

    fn end_of_chunk_data(&mut self) -> Result<(), ChunkedError> {
        self.verify_chunk()?;
        self.state = State::Header;
        Ok(())
    }

    fn verify_chunk(&mut self) -> Result<(), ChunkedError> {
        let hash: [u8; 32] = std::mem::replace(&mut self.chunk_hash, Sha256::new())
            .finalize()
            .into();
        if let Some(signer) = &mut self.signer
            && self.mode.signed()
        {
            let expected = signer.chunk_signature(&hash);
            signer.accept(expected, &self.chunk_sig)?;
        }
        Ok(())
    }

    fn trailer_line(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        if line.is_empty() {
            // Some senders put the final chunk's CRLF before the trailer lines too.
            if self.trailers.is_empty() && self.trailer_sig.is_none() && !self.declared.is_empty() {
                return Ok(());
            }
            return self.end_of_trailer();
        }
        let line = std::str::from_utf8(line).map_err(|_| bad_trailer("not text"))?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad_trailer("a trailer line has no ':'"))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_owned();
        if name == TRAILER_SIGNATURE {
            if !self.mode.signed() || self.trailer_sig.is_some() {
                return Err(bad_trailer("unexpected x-amz-trailer-signature"));
            }
            self.trailer_sig = Some(value);
            return Ok(());
        }
        if !self.declared.contains(&name) {
            return Err(bad_trailer(&format!(
                "trailer {name} was not declared in x-amz-trailer"
            )));
        }
        if self.trailers.iter().any(|(n, _)| *n == name) {
            return Err(bad_trailer(&format!("trailer {name} appears twice")));
        }
        self.trailers.push((name, value));
        Ok(())
    }

    fn end_of_trailer(&mut self) -> Result<(), ChunkedError> {
        for d in &self.declared {
            if !self.trailers.iter().any(|(n, _)| n == d) {
                return Err(bad_trailer(&format!(
                    "trailer {d} was declared in x-amz-trailer but not sent"
                )));
            }
        }
        if self.mode.signed() {
            let provided = self
                .trailer_sig
                .take()
                .ok_or(ChunkedError::SignatureDoesNotMatch)?;
            let mut canonical = Vec::new();
            for (n, v) in &self.trailers {
                canonical.extend_from_slice(n.as_bytes());
                canonical.push(b':');
                canonical.extend_from_slice(v.as_bytes());
                canonical.push(b'\n');
            }
            if let Some(signer) = &mut self.signer {
                let expected = signer.trailer_signature(&canonical);
                signer.accept(expected, &provided)?;
            }
        }
        self.state = State::Done;
        Ok(())
    }
}

fn malformed(msg: &str) -> ChunkedError {
    ChunkedError::Malformed(format!("Malformed aws-chunked body: {msg}"))
}

fn bad_trailer(msg: &str) -> ChunkedError {
    ChunkedError::Malformed(format!(
        "The request contained trailing data that was not well-formed: {msg}"
    ))
}

fn trailer_too_long() -> ChunkedError {
    bad_trailer(&format!(
        "the trailer section is longer than {MAX_TRAILER_LEN} bytes"
    ))
}

#[cfg(test)]
mod tests;
