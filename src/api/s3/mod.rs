//! The S3 protocol: authenticate, route, translate to [`Service`] calls and back.
//!
//! Shape of a request here: [`S3Api::handle`] verifies SigV4 (before anything else looks at the
//! request), routes with the pure [`router::route`], and hands the typed [`router::Endpoint`]
//! to a handler. Handlers translate headers and XML into service inputs and service results
//! into headers and XML. Every failure is an [`S3Error`], rendered in one place as S3's error
//! XML with the request id.

mod access;
mod acl;
pub(crate) mod authz;
mod copy;
mod encryption;
pub mod error;
mod handlers;
mod headers;
mod multipart;
pub mod router;
pub mod xml;

pub use access::MAX_BUCKET_POLICY_LEN;
pub use acl::MAX_ACL_POLICY_LEN;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::api::auth::{
    self, AuthError, AuthRequest, CredentialStore, PayloadCheck, Verified, chunked,
};
use crate::clock::SharedClock;
use crate::kms::KmsError;
use crate::service::digest::ChecksumAlgorithm;
use crate::service::multipart::PartTarget;
use crate::service::objects::BodySource;
use crate::service::{Service, ServiceError};
use crate::transport::body::{self, ResBody};
use error::{S3Error, S3ErrorCode};
use router::{Endpoint, RouteInput};

/// The S3 front end: shared by every connection.
pub struct S3Api {
    pub service: Service,
    pub creds: Arc<dyn CredentialStore>,
    /// Principals and their identity policies.
    pub iam: Arc<crate::iam::Iam>,
    /// Compiled bucket policies.
    pub bucket_policies: crate::iam::PolicyCache,
    /// ACLs in their resource-policy form (see `acl`).
    pub acl_policies: crate::iam::PolicyCache,
    /// For its audit log (denials are audited).
    pub kms: Arc<crate::kms::Kms>,
    pub region: String,
    pub vhost_domains: Vec<String>,
    pub clock: SharedClock,
    /// Longest stall allowed between two pieces of a request body.
    pub body_read_timeout: Duration,
    /// Accept SSE-C over plain HTTP (local testing only; AWS refuses it).
    pub allow_sse_c_over_http: bool,
}

/// What the request log line says about a request.
#[derive(Debug, Default)]
pub struct RequestInfo {
    pub operation: &'static str,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub access_key: Option<String>,
    pub bytes_in: u64,
    pub error: Option<&'static str>,
}

/// A verified request on its way to a handler.
pub(crate) struct Ctx<'a> {
    pub parts: &'a Parts,
    pub verified: Verified,
    pub access: authz::Access,
}

pub use crate::transport::PeerAddr;

impl S3Api {
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        request_id: &str,
    ) -> (Response<ResBody>, RequestInfo) {
        let (parts, incoming) = req.into_parts();
        let mut info = RequestInfo {
            operation: "Unknown",
            ..Default::default()
        };
        let result = self.handle_parts(&parts, incoming, &mut info).await;
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => {
                info.error = Some(e.code.as_str());
                if e.code == S3ErrorCode::AccessDenied {
                    self.audit_denial(&info, &e);
                }
                error_response(&e, request_id, parts.method == Method::HEAD)
            }
        };
        let close = answered_without_continue(&parts, resp.status());
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amz-request-id", v.clone());
            h.insert("x-amz-id-2", v);
        }
        h.insert(http::header::SERVER, HeaderValue::from_static("Coffer"));
        if close {
            h.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        (resp, info)
    }

    /// An audit line for a refused S3 request.
    fn audit_denial(&self, info: &RequestInfo, e: &S3Error) {
        let Some(log) = self.kms.audit_log() else {
            return;
        };
        let mut rp = serde_json::Map::new();
        if let Some(b) = &info.bucket {
            rp.insert("bucketName".into(), b.clone().into());
        }
        if let Some(k) = &info.key {
            rp.insert("key".into(), k.clone().into());
        }
        let arn = match (&info.bucket, &info.key) {
            (Some(b), Some(k)) => Some(format!("arn:aws:s3:::{b}/{k}")),
            (Some(b), None) => Some(format!("arn:aws:s3:::{b}")),
            _ => None,
        };
        let resources = arn
            .as_deref()
            .map(|arn| crate::kms::audit::AuditResource {
                arn,
                kind: if info.key.is_some() {
                    "AWS::S3::Object"
                } else {
                    "AWS::S3::Bucket"
                },
            })
            .into_iter()
            .collect();
        log.record(
            self.clock.now(),
            &self.region,
            &crate::kms::audit::Event {
                event_source: "s3.amazonaws.com",
                event_name: info.operation,
                invoked_by: None,
                resources,
                request_parameters: crate::kms::audit::Params::Json(serde_json::Value::Object(rp)),
                error_code: Some(e.code.as_str()),
                error_message: Some(&e.message),
                recipient_account_id: None,
                service_event: false,
            },
        );
    }

    async fn handle_parts(
        &self,
        parts: &Parts,
        incoming: Incoming,
        info: &mut RequestInfo,
    ) -> Result<Response<ResBody>, S3Error> {
        let verified = auth::verify(
            &AuthRequest {
                method: &parts.method,
                uri: &parts.uri,
                headers: &parts.headers,
            },
            self.creds.as_ref(),
            &self.region,
            "s3",
            self.clock.now(),
        );
        let (verified, principal) = match verified {
            Ok(v) => {
                let (_, principal) = self
                    .iam
                    .authenticate(&v.access_key_id)
                    .ok_or_else(|| S3Error::from_code(S3ErrorCode::InvalidAccessKeyId))?;
                info.access_key = Some(v.access_key_id.clone());
                crate::kms::audit::set_access_key(&v.access_key_id);
                (v, principal)
            }
            // Anonymous requests are served where a bucket policy grants them.
            Err(AuthError::Anonymous) => (
                Verified::anonymous(&self.region, "s3"),
                Arc::new(crate::iam::Principal::anonymous()),
            ),
            Err(e) => return Err(auth_error(e)),
        };
        crate::kms::audit::set_principal(principal.clone());
        let endpoint = router::route(&RouteInput {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            vhost_domains: &self.vhost_domains,
        })?;
        info.operation = endpoint.operation();
        let access = self.access_for(parts, &verified, principal);
        self.authorize_endpoint(&access, &endpoint, &parts.headers)?;
        if headers::has_sse_c_headers(&parts.headers)
            && parts
                .extensions
                .get::<crate::transport::OverTls>()
                .is_none()
            && !self.allow_sse_c_over_http
        {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Requests specifying Server Side Encryption with Customer provided keys must be \
                 made over a secure connection.",
            ));
        }
        info.bucket = endpoint.bucket().map(str::to_string);
        info.key = endpoint.key().map(str::to_string);
        let decoder = self.streaming_decoder(&verified, parts)?;
        let mut body = RequestBody {
            incoming,
            timeout: self.body_read_timeout,
            bytes: 0,
            decoder,
            pending: Bytes::new(),
            failure: None,
        };
        let ctx = Ctx {
            parts,
            verified,
            access,
        };
        let r = self.dispatch(&ctx, endpoint, &mut body).await;
        if r.is_err() {
            // An error before the body was read: read (and drop) a bounded rest of it, so a
            // client still writing gets the error response instead of a broken pipe.
            body.drain(MAX_DRAIN_ON_ERROR).await;
        }
        info.bytes_in = body.bytes;
        // A body that failed its framing or signatures says so, whatever the handler made of
        // the read error.
        match (r, body.failure.take()) {
            (Err(_), Some(e)) => Err(e),
            (r, _) => r,
        }
    }

    /// The aws-chunked decoder a request needs (`None` for a plain body). Signed forms chain
    /// chunk signatures from the request's own signature, under the same signing key.
    fn streaming_decoder(
        &self,
        v: &Verified,
        parts: &Parts,
    ) -> Result<Option<Box<chunked::Decoder>>, S3Error> {
        let h = &parts.headers;
        let PayloadCheck::Streaming(claim) = &v.payload else {
            if h.contains_key("x-amz-trailer") {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "x-amz-trailer requires an aws-chunked body (x-amz-content-sha256 \
                     STREAMING-UNSIGNED-PAYLOAD-TRAILER or \
                     STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER)",
                ));
            }
            if is_aws_chunked(h) {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "Content-Encoding aws-chunked requires x-amz-content-sha256 to be one of \
                     the STREAMING-* values",
                )
                .with_extra("Header", "x-amz-content-sha256"));
            }
            return Ok(None);
        };
        let mode = chunked::StreamingMode::from_claim(claim).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::NotImplemented,
                "This streaming payload signing algorithm is not supported",
            )
            .with_extra("Header", "x-amz-content-sha256")
        })?;
        let decoded_len = match headers::header_str(h, "x-amz-decoded-content-length")? {
            None => return Err(S3Error::from_code(S3ErrorCode::MissingContentLength)),
            Some(v) => v.trim().parse::<u64>().map_err(|_| {
                S3Error::invalid_argument(
                    "Invalid x-amz-decoded-content-length",
                    "x-amz-decoded-content-length",
                    v,
                )
            })?,
        };
        let signer = if mode == chunked::StreamingMode::UnsignedTrailer {
            None
        } else {
            let secret = self
                .creds
                .secret_for(&v.access_key_id)
                .ok_or_else(|| S3Error::from_code(S3ErrorCode::InvalidAccessKeyId))?;
            let key = auth::sigv4::signing_key(
                &v.access_key_id,
                &secret,
                &v.scope_date,
                &v.region,
                &v.service,
            );
            let mut seed = [0u8; 32];
            hex::decode_to_slice(&v.seed_signature, &mut seed)
                .map_err(|_| S3Error::from_code(S3ErrorCode::SignatureDoesNotMatch))?;
            let scope = auth::sigv4::credential_scope(&v.scope_date, &v.region, &v.service);
            Some(chunked::ChunkSigner::new(key, &v.amz_date, scope, seed))
        };
        let declared = headers::header_str(h, "x-amz-trailer")?.unwrap_or("");
        chunked::Decoder::new(mode, signer, declared, decoded_len)
            .map(|d| Some(Box::new(d)))
            .map_err(chunked_error)
    }

    async fn dispatch(
        &self,
        ctx: &Ctx<'_>,
        endpoint: Endpoint,
        body: &mut RequestBody,
    ) -> Result<Response<ResBody>, S3Error> {
        use Endpoint as E;
        match endpoint {
            E::ListBuckets => self.list_buckets(&ctx.access.principal.account),
            E::CreateBucket { bucket } => {
                let init = self.create_bucket_init(ctx)?;
                self.create_bucket(&bucket, init, body).await
            }
            E::BucketConfig { bucket, op } => self.bucket_config(ctx, &bucket, op, body).await,
            E::ObjectAcl {
                bucket, key, put, ..
            } => self.object_acl(ctx, &bucket, &key, put, body).await,
            E::HeadBucket { bucket } => self.head_bucket(&bucket),
            E::DeleteBucket { bucket } => self.delete_bucket(&bucket).await,
            E::GetBucketLocation { bucket } => self.get_bucket_location(&bucket),
            E::GetBucketVersioning { bucket } => self.get_bucket_versioning(&bucket),
            E::ListObjects {
                bucket,
                prefix,
                delimiter,
                marker,
                max_keys,
                encoding_type,
            } => self.list_objects_v1(&bucket, prefix, delimiter, marker, max_keys, encoding_type),
            E::ListObjectsV2 {
                bucket,
                prefix,
                delimiter,
                max_keys,
                continuation_token,
                start_after,
                encoding_type,
                fetch_owner,
            } => self.list_objects_v2(
                &bucket,
                handlers::ListV2Query {
                    prefix,
                    delimiter,
                    max_keys,
                    continuation_token,
                    start_after,
                    encoding_type,
                    fetch_owner,
                },
            ),
            E::ListObjectVersions {
                bucket,
                prefix,
                delimiter,
                key_marker,
                version_id_marker: _,
                max_keys,
                encoding_type,
            } => self.list_object_versions(
                &bucket,
                prefix,
                delimiter,
                key_marker,
                max_keys,
                encoding_type,
            ),
            E::DeleteObjects { bucket } => self.delete_objects(ctx, &bucket, body).await,
            E::PutObject { bucket, key } => self.put_object(ctx, &bucket, &key, body).await,
            E::CopyObject {
                bucket,
                key,
                copy_source,
            } => self.copy_object(ctx, &bucket, &key, copy_source).await,
            ref e @ (E::GetObject {
                ref bucket,
                ref key,
                part_number,
                ref version_id,
                ref overrides,
            }
            | E::HeadObject {
                ref bucket,
                ref key,
                part_number,
                ref version_id,
                ref overrides,
            }) => {
                let head = matches!(e, E::HeadObject { .. });
                self.get_object(
                    ctx,
                    bucket,
                    key,
                    part_number,
                    version_id.clone(),
                    Some(overrides.clone()),
                    head,
                )
                .await
            }
            E::DeleteObject {
                bucket,
                key,
                version_id,
            } => self.delete_object(&bucket, &key, version_id).await,
            E::PutBucketEncryption { bucket } => {
                self.put_bucket_encryption(ctx, &bucket, body).await
            }
            E::GetBucketEncryption { bucket } => self.get_bucket_encryption(&bucket),
            E::DeleteBucketEncryption { bucket } => self.delete_bucket_encryption(&bucket).await,
            E::CreateMultipartUpload { bucket, key } => {
                self.create_multipart_upload(ctx, &bucket, &key)
            }
            E::UploadPart {
                bucket,
                key,
                part_number,
                upload_id,
            } => {
                let target = PartTarget {
                    bucket,
                    key,
                    upload_id,
                    part_number,
                    customer: headers::customer_key(&ctx.parts.headers, headers::SSE_C_PREFIX)?,
                };
                self.upload_part(ctx, target, body).await
            }
            E::UploadPartCopy {
                bucket,
                key,
                part_number,
                upload_id,
                copy_source,
            } => {
                let target = PartTarget {
                    bucket,
                    key,
                    upload_id,
                    part_number,
                    customer: headers::customer_key(&ctx.parts.headers, headers::SSE_C_PREFIX)?,
                };
                self.upload_part_copy(ctx, target, copy_source).await
            }
            E::CompleteMultipartUpload {
                bucket,
                key,
                upload_id,
            } => {
                self.complete_multipart_upload(ctx, &bucket, &key, &upload_id, body)
                    .await
            }
            E::AbortMultipartUpload {
                bucket,
                key,
                upload_id,
            } => self.abort_multipart_upload(&bucket, &key, &upload_id).await,
            E::ListParts {
                bucket,
                key,
                upload_id,
                max_parts,
                part_number_marker,
            } => self.list_parts(&bucket, &key, &upload_id, max_parts, part_number_marker),
            E::ListMultipartUploads {
                bucket,
                prefix,
                delimiter,
                key_marker,
                upload_id_marker,
                max_uploads,
                encoding_type,
            } => self.list_multipart_uploads(
                &bucket,
                prefix,
                delimiter,
                key_marker,
                upload_id_marker,
                max_uploads,
                encoding_type,
            ),
            other => Err(S3Error::not_implemented(other.operation())),
        }
    }
}

/// Was this an `Expect: 100-continue` request that may have been answered without a
/// `100 Continue` (hyper sends none for an empty body, nor when an error comes before the body
/// is read)? botocore (aws-cli v1, boto3) keeps that early answer's status on the connection and
/// misreads the next response on it (a `KeyError: 'ETag'` in `aws s3 sync` after a 0-byte
/// file), so such connections are closed after the response.
fn answered_without_continue(parts: &Parts, status: http::StatusCode) -> bool {
    let expects = parts
        .headers
        .get(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    let empty = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    expects && (empty || !status.is_success())
}

fn is_aws_chunked(h: &http::HeaderMap) -> bool {
    h.get_all(http::header::CONTENT_ENCODING).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.to_ascii_lowercase().contains("aws-chunked"))
    })
}

/// aws-chunked failures as S3 reports them.
fn chunked_error(e: chunked::ChunkedError) -> S3Error {
    use chunked::ChunkedError as E;
    match e {
        E::SignatureDoesNotMatch => S3Error::from_code(S3ErrorCode::SignatureDoesNotMatch),
        E::Incomplete(m) => S3Error::new(S3ErrorCode::IncompleteBody, m),
        E::Malformed(m) => S3Error::new(S3ErrorCode::InvalidRequest, m),
    }
}

/// A body the HTTP layer could not read: cut short (the client closed before the declared
/// length, or mid-chunk) is S3's `IncompleteBody`; garbled `Transfer-Encoding: chunked` framing
/// is a malformed request. Neither is `RequestTimeout`, which SDKs retry.
fn framing_error(e: &hyper::Error) -> S3Error {
    // hyper reports a body that ended early as an `UnexpectedEof` I/O error beneath its own.
    let eof = std::iter::successors(std::error::Error::source(e), |s| s.source()).any(|s| {
        s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
    });
    if eof || e.is_incomplete_message() {
        S3Error::from_code(S3ErrorCode::IncompleteBody)
    } else {
        S3Error::new(
            S3ErrorCode::InvalidRequest,
            "The request body's HTTP framing is malformed.",
        )
    }
}

/// The request body: read with a stall timeout, counted for the request log.
pub(crate) struct RequestBody {
    incoming: Incoming,
    timeout: Duration,
    /// Bytes received on the wire.
    bytes: u64,
    /// De-chunks and verifies an aws-chunked body.
    decoder: Option<Box<chunked::Decoder>>,
    /// Received bytes the decoder has not consumed yet.
    pending: Bytes,
    /// Why the body was refused, as S3 reports it (the service only sees a read error).
    failure: Option<S3Error>,
}

/// Most unread request body read and discarded before an error response; past it the
/// connection is closed instead.
pub const MAX_DRAIN_ON_ERROR: u64 = 16 << 20;

impl RequestBody {
    /// Reads and drops up to `limit` more body bytes (stopping at the end, an error or a stall).
    pub async fn drain(&mut self, limit: u64) {
        let start = self.bytes;
        while self.bytes - start < limit {
            match self.next().await {
                Some(Ok(_)) => {}
                _ => break,
            }
        }
    }

    /// Reads a small body (XML) whole, refusing more than `limit` bytes.
    pub async fn read_limited(&mut self, limit: usize) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        while let Some(piece) = self.next().await {
            let piece = piece.map_err(service_error)?;
            if out.len() + piece.len() > limit {
                return Err(S3Error::new(
                    S3ErrorCode::MalformedXML,
                    format!(
                        "The XML you provided was larger than the maximum of {limit} bytes allowed."
                    ),
                ));
            }
            out.extend_from_slice(&piece);
        }
        Ok(out)
    }
}

impl RequestBody {
    /// Records why the body is refused and hands the service a read error.
    fn fail(&mut self, e: chunked::ChunkedError) -> ServiceError {
        let msg = e.to_string();
        self.failure = Some(chunked_error(e));
        ServiceError::BodyRead(msg)
    }

    /// The next piece as received on the wire. A stall or broken framing ends the body for
    /// good: the error is recorded in `failure`, and later reads (the drain before an error
    /// response) fail at once instead of waiting out the timeout a second time.
    async fn next_raw(&mut self) -> Option<Result<Bytes, ServiceError>> {
        loop {
            let frame = match tokio::time::timeout(self.timeout, self.incoming.frame()).await {
                Err(_) => {
                    self.failure = Some(S3Error::from_code(S3ErrorCode::RequestTimeout));
                    return Some(Err(ServiceError::BodyRead(
                        "timed out waiting for the request body".into(),
                    )));
                }
                Ok(None) => return None,
                Ok(Some(Err(e))) => {
                    self.failure = Some(framing_error(&e));
                    return Some(Err(ServiceError::BodyRead(e.to_string())));
                }
                Ok(Some(Ok(f))) => f,
            };
            if let Ok(data) = frame.into_data() {
                self.bytes += data.len() as u64;
                return Some(Ok(data));
            }
            // HTTP trailers (not aws-chunked ones) carry nothing we use.
        }
    }
}

impl BodySource for RequestBody {
    async fn next(&mut self) -> Option<Result<Bytes, ServiceError>> {
        if self.failure.is_some() {
            return Some(Err(ServiceError::BodyRead("the body was refused".into())));
        }
        if self.decoder.is_none() {
            return self.next_raw().await;
        }
        loop {
            while !self.pending.is_empty() {
                let dec = self.decoder.as_mut()?;
                match dec.decode(&mut self.pending) {
                    Ok(Some(data)) => return Some(Ok(data)),
                    Ok(None) => {}
                    Err(e) => return Some(Err(self.fail(e))),
                }
            }
            match self.next_raw().await {
                Some(Ok(data)) => self.pending = data,
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    let dec = self.decoder.as_mut()?;
                    return match dec.finish() {
                        Ok(()) => None,
                        Err(e) => Some(Err(self.fail(e))),
                    };
                }
            }
        }
    }

    fn trailing_checksum(&self) -> Option<(ChecksumAlgorithm, String)> {
        let dec = self.decoder.as_ref()?;
        dec.trailers().iter().find_map(|(name, value)| {
            ChecksumAlgorithm::ALL
                .into_iter()
                .find(|a| a.header() == name)
                .map(|a| (a, value.clone()))
        })
    }
}

fn error_response(e: &S3Error, request_id: &str, head: bool) -> Response<ResBody> {
    let status = e.status();
    let mut resp = if head || status == http::StatusCode::NOT_MODIFIED {
        Response::new(body::empty())
    } else {
        let mut r = Response::new(body::full(e.to_xml(request_id, request_id)));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        r
    };
    *resp.status_mut() = status;
    resp
}

/// SigV4 failures as S3 reports them.
pub fn auth_error(e: AuthError) -> S3Error {
    use S3ErrorCode as C;
    match e {
        AuthError::Anonymous => S3Error::new(C::AccessDenied, "Access Denied"),
        AuthError::InvalidAccessKeyId => S3Error::from_code(C::InvalidAccessKeyId),
        AuthError::SignatureDoesNotMatch => S3Error::from_code(C::SignatureDoesNotMatch),
        AuthError::RequestTimeTooSkewed => S3Error::from_code(C::RequestTimeTooSkewed),
        AuthError::Expired => S3Error::new(C::AccessDenied, "Request has expired"),
        AuthError::HeaderMalformed(m) => S3Error::new(C::AuthorizationHeaderMalformed, m),
        AuthError::QueryMalformed(m) => S3Error::new(C::AuthorizationQueryParametersError, m),
        AuthError::InvalidArgument(m) => S3Error::new(C::InvalidArgument, m),
        AuthError::AccessDenied(m) => S3Error::new(C::AccessDenied, m),
    }
}

/// Service failures as S3 reports them.
pub fn service_error(e: ServiceError) -> S3Error {
    use S3ErrorCode as C;
    let msg = e.to_string();
    match e {
        ServiceError::NoSuchBucket => S3Error::from_code(C::NoSuchBucket),
        ServiceError::NoSuchKey => S3Error::from_code(C::NoSuchKey),
        ServiceError::BucketAlreadyOwnedByYou => S3Error::from_code(C::BucketAlreadyOwnedByYou),
        ServiceError::BucketAlreadyExists => S3Error::from_code(C::BucketAlreadyExists),
        ServiceError::BucketNotEmpty => S3Error::from_code(C::BucketNotEmpty),
        ServiceError::InvalidBucketName(_) => S3Error::new(C::InvalidBucketName, msg),
        ServiceError::InvalidArgument(_) => S3Error::new(C::InvalidArgument, msg),
        ServiceError::KeyTooLong => S3Error::from_code(C::KeyTooLongError),
        ServiceError::MetadataTooLarge => S3Error::from_code(C::MetadataTooLarge),
        ServiceError::InvalidRange { size } => {
            S3Error::from_code(C::InvalidRange).with_extra("ActualObjectSize", size.to_string())
        }
        ServiceError::PreconditionFailed => S3Error::from_code(C::PreconditionFailed),
        ServiceError::BadDigest(_) => S3Error::new(C::BadDigest, msg),
        ServiceError::PayloadHashMismatch => S3Error::new(C::XAmzContentSHA256Mismatch, msg),
        ServiceError::IncompleteBody => S3Error::new(C::IncompleteBody, msg),
        ServiceError::EntityTooLarge => S3Error::from_code(C::EntityTooLarge),
        ServiceError::BodyRead(_) => S3Error::new(C::RequestTimeout, msg),
        ServiceError::Kms(k) => kms_error(k),
        ServiceError::Integrity(m) => {
            tracing::error!(error = %m, "integrity check failed");
            S3Error::new(
                C::InternalError,
                "We encountered an internal error. Please try again.",
            )
        }
        ServiceError::ObjectChanged => {
            // Retryable: the SDKs retry a 500.
            S3Error::new(
                C::InternalError,
                "We encountered an internal error. Please try again.",
            )
        }
        ServiceError::Unavailable(m) => unavailable(&m),
        ServiceError::Internal(m) => {
            tracing::error!(error = %m, "internal error");
            S3Error::new(
                C::InternalError,
                "We encountered an internal error. Please try again.",
            )
        }
        ServiceError::Multipart(m) => multipart::multipart_error(m),
        ServiceError::CustomerKeyRequired | ServiceError::CustomerKeyNotApplicable => {
            S3Error::new(C::InvalidRequest, msg)
        }
        ServiceError::AccessDenied => S3Error::new(C::AccessDenied, msg),
    }
}

/// A storage backend that is down or slow: S3's retryable 503 `ServiceUnavailable` (the SDKs
/// retry it with backoff); the cause goes to the server log only.
fn unavailable(cause: &str) -> S3Error {
    tracing::warn!(error = %cause, "storage backend unavailable");
    S3Error::new(
        S3ErrorCode::ServiceUnavailable,
        "Service is unable to handle request.",
    )
}

/// KMS failures surfaced through S3, with the `KMS.*` codes S3 uses.
pub fn kms_error(e: KmsError) -> S3Error {
    use S3ErrorCode as C;
    let msg = e.to_string();
    match e {
        KmsError::NotFound(_) => S3Error::new(C::KmsNotFound, msg),
        KmsError::Disabled(_) => S3Error::new(C::KmsDisabled, msg),
        KmsError::InvalidState(_) => S3Error::new(C::KmsInvalidState, msg),
        KmsError::InvalidCiphertext | KmsError::IncorrectKey => {
            S3Error::new(C::KmsInvalidCiphertext, msg)
        }
        KmsError::InvalidArgument(_)
        | KmsError::AlreadyExists(_)
        | KmsError::InvalidAliasName(_)
        | KmsError::Tag(_)
        | KmsError::Unsupported(_)
        | KmsError::InvalidMarker
        | KmsError::InvalidImportToken(_)
        | KmsError::ExpiredImportToken(_)
        | KmsError::IncorrectKeyMaterial(_)
        | KmsError::MalformedPolicy(_)
        | KmsError::LimitExceeded(_) => S3Error::new(C::InvalidArgument, msg),
        KmsError::AccessDenied(_) => S3Error::new(C::AccessDenied, msg),
        KmsError::Internal(m) => {
            tracing::error!(error = %m, "KMS internal error");
            S3Error::new(
                C::InternalError,
                "We encountered an internal error. Please try again.",
            )
        }
        KmsError::DependencyTimeout(m) => unavailable(&m),
    }
}
