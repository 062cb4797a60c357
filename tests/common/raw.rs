//! Raw HTTP/1.1 requests, signed with the AWS SDK's own SigV4 signer (aws-sigv4) or not at
//! all, for what an SDK will not send: hostile input, virtual-host addressing, odd headers.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The `<Code>` of an S3 error body.
    pub fn code(&self) -> String {
        let t = self.text();
        t.split("<Code>")
            .nth(1)
            .and_then(|r| r.split("</Code>").next())
            .unwrap_or("")
            .to_string()
    }
}

pub struct RawRequest<'a> {
    pub method: &'a str,
    /// Path and query, already percent-encoded as they go on the wire.
    pub target: &'a str,
    pub host: String,
    pub headers: Vec<(&'a str, String)>,
    pub body: Vec<u8>,
    /// Sign with these credentials (None: anonymous).
    pub creds: Option<(&'a str, &'a str)>,
    /// Signing time (default now).
    pub time: Option<SystemTime>,
    /// Presign (query auth) with this expiry instead of header auth.
    pub presign_secs: Option<u64>,
}

impl<'a> RawRequest<'a> {
    pub fn new(method: &'a str, target: &'a str, addr: std::net::SocketAddr) -> Self {
        RawRequest {
            method,
            target,
            host: addr.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            creds: Some((super::ACCESS_KEY, super::SECRET_KEY)),
            time: None,
            presign_secs: None,
        }
    }
    pub fn header(mut self, k: &'a str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }
    pub fn anonymous(mut self) -> Self {
        self.creds = None;
        self
    }

    /// The request line target after signing (presigned query appended).
    fn signed(&self) -> (String, Vec<(String, String)>) {
        let mut headers: Vec<(String, String)> = vec![("host".to_string(), self.host.clone())];
        headers.extend(self.headers.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let Some((ak, sk)) = self.creds else {
            return (self.target.to_string(), headers);
        };
        let identity = Credentials::new(ak, sk, None, None, "raw").into();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        if let Some(secs) = self.presign_secs {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(std::time::Duration::from_secs(secs));
        } else {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(super::REGION)
            .name("s3")
            .time(self.time.unwrap_or_else(SystemTime::now))
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let uri = format!("http://{}{}", self.host, self.target);
        let body = if self.presign_secs.is_some() {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(&self.body)
        };
        let signable = SignableRequest::new(
            self.method,
            uri.clone(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            body,
        )
        .expect("signable");
        let (instructions, _sig) = sign(signable, &params).expect("sign").into_parts();
        let mut req = http::Request::builder()
            .method(self.method)
            .uri(&uri)
            .body(())
            .expect("request");
        for (k, v) in &headers {
            req.headers_mut().append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                http::HeaderValue::from_str(v).expect("value"),
            );
        }
        instructions.apply_to_request_http1x(&mut req);
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        (target, headers)
    }

    /// The signed request target and headers, for hand-built wire bytes.
    pub fn signed_head(&self) -> (String, Vec<(String, String)>) {
        self.signed()
    }

    pub async fn send(self, addr: std::net::SocketAddr) -> RawResponse {
        let body = self.body.clone();
        self.send_body(addr, body).await
    }

    /// Signs over `self.body` but sends `wire_body`: a body tampered with in transit.
    pub async fn send_body(self, addr: std::net::SocketAddr, wire_body: Vec<u8>) -> RawResponse {
        let (target, headers) = self.signed();
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, target);
        for (k, v) in &headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        {
            head.push_str(&format!("content-length: {}\r\n", wire_body.len()));
        }
        head.push_str("connection: close\r\n\r\n");
        let mut wire = head.into_bytes();
        wire.extend_from_slice(&wire_body);
        send_bytes(addr, &wire).await
    }
}

/// Writes raw bytes to the server and parses the response (reads to EOF).
pub async fn send_bytes(addr: std::net::SocketAddr, wire: &[u8]) -> RawResponse {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(wire).await.expect("write");
    // Half-close: a server waiting for more body sees the end at once.
    let _ = s.shutdown().await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), s.read_to_end(&mut buf)).await;
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> RawResponse {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let raw_body = buf.get(split + 4..).unwrap_or(&[]).to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(&raw_body)
    } else {
        raw_body
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&b[..pos])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 || b.len() < pos + 2 + size {
            break;
        }
        out.extend_from_slice(&b[pos + 2..pos + 2 + size]);
        b = &b[(pos + 4 + size).min(b.len())..];
    }
    out
}
