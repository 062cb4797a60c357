//! A small S3 client, used by the bench and by the S3 chunk backend
//! (`storage::chunks::S3Chunks`): a minimal HTTP/1.1 keep-alive connection over a tokio
//! `TcpStream` and a SigV4 header signer built on [`crate::api::auth::sigv4`] (the server's
//! own canonical forms, so the bench never disagrees with the verifier about what a signature
//! covers).
//!
//! Why not hyper's client: a load generator that shares the cores with the server it measures,
//! and a gateway that forwards every chunk, should cost as little as possible per request: this
//! one writes one request head, reads one response head and discards the body in place (or
//! keeps it when asked), with no per-request allocation beyond the head.
//! It speaks only what S3 servers answer with: `Content-Length` or `chunked` bodies, and
//! `Connection: close`. Every size it reads is bounded ([`MAX_RESPONSE_HEAD`],
//! [`MAX_KEPT_BODY`]); a malformed response is an error, never a panic.

use std::net::SocketAddr;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::api::auth::sigv4;
use crate::secret::SecretString;

/// Largest response head (status line and headers) accepted.
pub const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// Largest response body kept in memory when the caller asks for it (error documents and
/// listings); larger bodies are an error rather than an allocation the server controls.
pub const MAX_KEPT_BODY: usize = 16 << 20;
/// Read buffer per connection.
const READ_BUF: usize = 64 * 1024;
/// Bodies up to this size are sent in the same write as the head (one segment on loopback).
const COALESCE_BODY: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    #[error("connection closed by the server")]
    Closed,
}

/// A response, with the body discarded unless it was asked for.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Body bytes received (after de-chunking).
    pub body_len: u64,
    /// The body, when kept: one allocation of exactly the body's size when the length was
    /// announced, so a caller can split it into pieces without copying.
    pub body: Option<BytesMut>,
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// False once the server said `Connection: close` or an error left the stream unusable.
    reusable: bool,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Conn, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: vec![0u8; READ_BUF],
            start: 0,
            end: 0,
            reusable: true,
        })
    }

    pub fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// Sends one request (`head` ends with the blank line) and reads its response.
    /// `no_body`: the request was a HEAD, so the response has no body whatever it says.
    pub async fn round_trip(
        &mut self,
        head: &[u8],
        body: &[u8],
        no_body: bool,
        keep_body: bool,
    ) -> Result<Response, ClientError> {
        self.reusable = false;
        if body.len() <= COALESCE_BODY {
            let mut one = Vec::with_capacity(head.len() + body.len());
            one.extend_from_slice(head);
            one.extend_from_slice(body);
            self.stream.write_all(&one).await?;
        } else {
            self.stream.write_all(head).await?;
            self.stream.write_all(body).await?;
        }
        let parsed = self.read_head().await?;
        // Error documents are always kept: they say what went wrong.
        let mut kept = (keep_body || parsed.status >= 300).then(BytesMut::new);
        let body_len = if no_body || parsed.status == 204 || parsed.status == 304 {
            0
        } else if parsed.chunked {
            self.read_chunked(kept.as_mut()).await?
        } else if let Some(n) = parsed.content_length {
            self.read_counted(n, kept.as_mut()).await?;
            n
        } else {
            // No length: the body runs to the end of the connection.
            self.read_to_close(kept.as_mut()).await?
        };
        self.reusable =
            !parsed.close && (parsed.chunked || parsed.content_length.is_some() || no_body);
        Ok(Response {
            status: parsed.status,
            body_len,
            body: kept,
        })
    }

    /// Makes sure at least one unread byte is buffered (compacting first).
    async fn fill(&mut self) -> Result<(), ClientError> {
        if self.start < self.end {
            return Ok(());
        }
        self.start = 0;
        self.end = 0;
        let n = self.stream.read(&mut self.buf).await?;
        if n == 0 {
            return Err(ClientError::Closed);
        }
        self.end = n;
        Ok(())
    }

    async fn read_head(&mut self) -> Result<ParsedHead, ClientError> {
        loop {
            let avail = &self.buf[self.start..self.end];
            if let Some(pos) = find(avail, b"\r\n\r\n") {
                let head = parse_head(&avail[..pos])?;
                self.start += pos + 4;
                return Ok(head);
            }
            if avail.len() >= MAX_RESPONSE_HEAD {
                return Err(ClientError::Malformed("response head too large"));
            }
            // Make room: move the partial head to the front, grow up to the limit.
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                self.buf
                    .resize((self.buf.len() * 2).min(MAX_RESPONSE_HEAD + 4), 0);
            }
            let n = self.stream.read(&mut self.buf[self.end..]).await?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            self.end += n;
        }
    }

    /// Reads `remaining` body bytes, keeping them in `kept` if given: what the read buffer
    /// already holds is copied, the rest is read from the socket straight into `kept`.
    async fn read_counted(
        &mut self,
        mut remaining: u64,
        mut kept: Option<&mut BytesMut>,
    ) -> Result<(), ClientError> {
        if let Some(k) = kept.as_deref_mut() {
            let total = usize::try_from(remaining)
                .ok()
                .and_then(|n| n.checked_add(k.len()))
                .filter(|&n| n <= MAX_KEPT_BODY)
                .ok_or(ClientError::Malformed("response body too large to keep"))?;
            k.reserve(total - k.len());
        }
        while remaining > 0 {
            match kept.as_deref_mut() {
                // Nothing buffered: let the socket fill the kept body itself.
                Some(k) if self.start == self.end => {
                    // `remaining` fits in usize: it was bounded by MAX_KEPT_BODY above.
                    let mut room = (&mut *k).limit(remaining as usize);
                    let n = self.stream.read_buf(&mut room).await?;
                    if n == 0 {
                        return Err(ClientError::Closed);
                    }
                    remaining -= n as u64;
                }
                kept => {
                    self.fill().await?;
                    let avail = (self.end - self.start) as u64;
                    let take = avail.min(remaining) as usize;
                    if let Some(k) = kept {
                        k.extend_from_slice(&self.buf[self.start..self.start + take]);
                    }
                    self.start += take;
                    remaining -= take as u64;
                }
            }
        }
        Ok(())
    }

    async fn read_to_close(&mut self, mut kept: Option<&mut BytesMut>) -> Result<u64, ClientError> {
        let mut total = 0u64;
        loop {
            match self.fill().await {
                Ok(()) => {}
                Err(ClientError::Closed) => return Ok(total),
                Err(e) => return Err(e),
            }
            let take = self.end - self.start;
            if let Some(k) = kept.as_deref_mut() {
                if k.len() + take > MAX_KEPT_BODY {
                    return Err(ClientError::Malformed("response body too large to keep"));
                }
                k.extend_from_slice(&self.buf[self.start..self.end]);
            }
            total += take as u64;
            self.start = self.end;
        }
    }

    /// Reads one CRLF-terminated line (without the CRLF), bounded.
    async fn read_line(&mut self) -> Result<Vec<u8>, ClientError> {
        let mut line = Vec::new();
        loop {
            self.fill().await?;
            let avail = &self.buf[self.start..self.end];
            if let Some(pos) = avail.iter().position(|&b| b == b'\n') {
                line.extend_from_slice(&avail[..pos]);
                self.start += pos + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            line.extend_from_slice(avail);
            self.start = self.end;
            if line.len() > 4096 {
                return Err(ClientError::Malformed("chunk header line too long"));
            }
        }
    }

    async fn read_chunked(&mut self, mut kept: Option<&mut BytesMut>) -> Result<u64, ClientError> {
        let mut total = 0u64;
        loop {
            let line = self.read_line().await?;
            let size_part = line.split(|&b| b == b';').next().unwrap_or(&[]);
            let text = std::str::from_utf8(size_part)
                .map_err(|_| ClientError::Malformed("chunk size"))?
                .trim();
            let size =
                u64::from_str_radix(text, 16).map_err(|_| ClientError::Malformed("chunk size"))?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    if self.read_line().await?.is_empty() {
                        return Ok(total);
                    }
                }
            }
            self.read_counted(size, kept.as_deref_mut()).await?;
            total += size;
            if !self.read_line().await?.is_empty() {
                return Err(ClientError::Malformed("chunk not followed by CRLF"));
            }
        }
    }
}

struct ParsedHead {
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
    close: bool,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &[u8]) -> Result<ParsedHead, ClientError> {
    let text = std::str::from_utf8(head).map_err(|_| ClientError::Malformed("non-UTF-8 head"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines
        .next()
        .ok_or(ClientError::Malformed("no status line"))?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(ClientError::Malformed("not an HTTP/1.x response"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(ClientError::Malformed("bad status code"))?;
    let mut out = ParsedHead {
        status,
        content_length: None,
        chunked: false,
        close: version == "HTTP/1.0",
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(ClientError::Malformed("header line without a colon"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            out.content_length = Some(
                value
                    .parse()
                    .map_err(|_| ClientError::Malformed("bad content-length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            out.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            out.close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok(out)
}

/// How the request body is declared in `x-amz-content-sha256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadMode {
    /// The body's hex SHA-256 (the client hashes each distinct body once; the server hashes
    /// every request's body to check it).
    Sha256,
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
}

/// Signs S3 requests with SigV4 (Authorization header).
pub struct Signer {
    pub access_key_id: String,
    pub secret: SecretString,
    pub region: String,
    /// The `Host` header value, `host:port`.
    pub host: String,
}

/// One request to sign and send.
pub struct RequestSpec<'a> {
    pub method: &'a str,
    /// The path, already percent-encoded as it goes on the wire.
    pub path: &'a str,
    /// The raw query (without `?`), empty for none.
    pub query: &'a str,
    /// `x-amz-content-sha256` value.
    pub payload_hash: &'a str,
    pub content_length: Option<usize>,
    /// Extra `x-amz-*` headers to sign, names in lowercase.
    pub amz_headers: &'a [(&'a str, &'a str)],
}

impl Signer {
    /// The request head (request line, headers, blank line) signed for `now`.
    pub fn head(&self, req: &RequestSpec<'_>, now: std::time::SystemTime) -> Vec<u8> {
        let unix = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let amz_date = sigv4::format_amz_date(unix).unwrap_or_else(|| "19700101T000000Z".into());
        let date = &amz_date[..8];
        let mut headers: Vec<(String, Vec<u8>)> = vec![
            ("host".into(), self.host.as_bytes().to_vec()),
            (
                "x-amz-content-sha256".into(),
                req.payload_hash.as_bytes().to_vec(),
            ),
            ("x-amz-date".into(), amz_date.as_bytes().to_vec()),
        ];
        for (n, v) in req.amz_headers {
            headers.push((n.to_string(), v.as_bytes().to_vec()));
        }
        headers.sort_by(|a, b| a.0.cmp(&b.0));
        let signed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        let signed = signed.join(";");
        let canonical = sigv4::canonical_request(
            req.method,
            &sigv4::canonical_uri(req.path, "s3"),
            &sigv4::canonical_query((!req.query.is_empty()).then_some(req.query), false),
            &headers,
            &signed,
            req.payload_hash,
        );
        let scope = sigv4::credential_scope(date, &self.region, "s3");
        let sts = sigv4::string_to_sign(&amz_date, &scope, &canonical);
        let key = sigv4::signing_key(&self.access_key_id, &self.secret, date, &self.region, "s3");
        let signature = hex::encode(key.sign(sts.as_bytes()));

        let mut out = String::with_capacity(512);
        out.push_str(req.method);
        out.push(' ');
        out.push_str(req.path);
        if !req.query.is_empty() {
            out.push('?');
            out.push_str(req.query);
        }
        out.push_str(" HTTP/1.1\r\n");
        for (n, v) in &headers {
            out.push_str(n);
            out.push_str(": ");
            out.push_str(&String::from_utf8_lossy(v));
            out.push_str("\r\n");
        }
        if let Some(len) = req.content_length {
            out.push_str(&format!("content-length: {len}\r\n"));
        }
        out.push_str(&format!(
            "authorization: {} Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}\r\n\r\n",
            sigv4::ALGORITHM,
            self.access_key_id
        ));
        out.into_bytes()
    }
}

/// Percent-encodes an object key for the path (keeping `/`), as the SDKs do.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    sigv4::uri_encode(key.as_bytes(), true, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads() {
        let h =
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\nConnection: keep-alive").unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.content_length, Some(12));
        assert!(!h.close);
        let h = parse_head(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nconnection: close",
        )
        .unwrap();
        assert!(h.chunked && h.close);
        assert!(parse_head(b"SSH-2.0").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: x").is_err());
        assert!(parse_head(b"HTTP/1.1 abc").is_err());
    }
}
