//! The AWS KMS JSON 1.1 protocol: `POST /` with `X-Amz-Target: TrentService.<Op>`, a JSON
//! body, SigV4 with service `kms` over the real body hash, base64 blobs, epoch-second
//! timestamps, errors as `{"__type", "message"}`.
//!
//! Shape of a request: [`KmsApi::handle`] reads the (small) body whole up to
//! [`MAX_BODY_LEN`], verifies SigV4 before anything looks at the body, parses the target into
//! an [`Op`], and runs it against [`Kms`]. Each operation is one function ([`ops`],
//! [`grants`]) from its typed request to its typed response ([`wire`], AWS's member names,
//! which nothing in `kms/` knows); every failure is a [`KmsApiError`], rendered in one place ([`error`]). Each
//! authenticated operation appends one audit line (`kms::audit`).
//!
//! Secrets: plaintexts and data keys exist here only while the response is encoded; they are
//! never logged and never part of an audit line or error message.

mod authz;
pub mod error;
mod grants;
mod ops;
#[cfg(test)]
mod tests;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use crate::api::auth::{self, AuthRequest, CredentialStore};
use crate::clock::SharedClock;
use crate::kms::audit::{self, Source};
use crate::kms::{Kms, KmsError};
use crate::transport::body::{self, ResBody};
pub use error::KmsApiError;

/// Largest request body accepted: a 32 KiB key policy, JSON-escaped, fits; so does the
/// largest `Encrypt` (4096 bytes, base64).
pub const MAX_BODY_LEN: usize = 128 * 1024;
/// The content type of every KMS response.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "TrentService.";

/// The KMS front end: shared by every connection.
pub struct KmsApi {
    pub kms: Arc<Kms>,
    /// Key policies and identity policies, for every operation.
    pub guard: Arc<crate::iam::keys::KeyGuard>,
    pub creds: Arc<dyn CredentialStore>,
    pub region: String,
    pub clock: SharedClock,
    /// Longest stall allowed between two pieces of a request body.
    pub body_read_timeout: Duration,
}

/// What the request log line says about a KMS request.
#[derive(Debug, Default)]
pub struct KmsRequestInfo {
    pub operation: &'static str,
    pub access_key: Option<String>,
    pub bytes_in: u64,
    pub error: Option<&'static str>,
}

macro_rules! ops {
    ($($name:ident),* $(,)?) => {
        /// Every operation served, one variant per `X-Amz-Target`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Op { $($name),* }

        impl Op {
            pub fn parse(target: &str) -> Option<Op> {
                match target.strip_prefix(TARGET_PREFIX)? {
                    $(stringify!($name) => Some(Op::$name),)*
                    _ => None,
                }
            }
            pub fn name(self) -> &'static str {
                match self { $(Op::$name => stringify!($name)),* }
            }
        }
    };
}

ops!(
    CreateKey,
    DescribeKey,
    ListKeys,
    UpdateKeyDescription,
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    CreateAlias,
    UpdateAlias,
    DeleteAlias,
    ListAliases,
    Encrypt,
    Decrypt,
    ReEncrypt,
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    GenerateRandom,
    EnableKeyRotation,
    DisableKeyRotation,
    GetKeyRotationStatus,
    RotateKeyOnDemand,
    ListKeyRotations,
    TagResource,
    UntagResource,
    ListResourceTags,
    GetKeyPolicy,
    PutKeyPolicy,
    ListKeyPolicies,
    GetParametersForImport,
    ImportKeyMaterial,
    DeleteImportedKeyMaterial,
    CreateGrant,
    ListGrants,
    ListRetirableGrants,
    RetireGrant,
    RevokeGrant,
);

impl KmsApi {
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        request_id: &str,
    ) -> (Response<ResBody>, KmsRequestInfo) {
        let mut info = KmsRequestInfo {
            operation: "Unknown",
            ..Default::default()
        };
        let result = self.handle_inner(req, &mut info).await;
        let mut resp = match result {
            Ok(body) => Response::new(body::full(body)),
            Err(e) => {
                info.error = Some(e.exception_name());
                if let KmsApiError::Kms(KmsError::Internal(m)) = &e {
                    tracing::error!(request_id, error = %m, "KMS internal error");
                }
                let mut r = Response::new(body::full(e.to_json()));
                *r.status_mut() = e.status();
                r
            }
        };
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE),
        );
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amzn-requestid", v);
        }
        h.insert(http::header::SERVER, HeaderValue::from_static("Coffer"));
        (resp, info)
    }

    async fn handle_inner(
        &self,
        req: Request<Incoming>,
        info: &mut KmsRequestInfo,
    ) -> Result<Vec<u8>, KmsApiError> {
        let (parts, incoming) = req.into_parts();
        let bytes = read_body(incoming, self.body_read_timeout, &mut info.bytes_in).await?;
        let digest = hex::encode(Sha256::digest(&bytes));
        let verified = auth::verify_with_body_hash(
            &AuthRequest {
                method: &parts.method,
                uri: &parts.uri,
                headers: &parts.headers,
            },
            self.creds.as_ref(),
            &self.region,
            "kms",
            self.clock.now(),
            &digest,
        )
        .map_err(KmsApiError::Auth)?;
        info.access_key = Some(verified.access_key_id.clone());
        audit::set_access_key(&verified.access_key_id);
        let (_, principal) = self
            .guard
            .iam
            .authenticate(&verified.access_key_id)
            .ok_or(KmsApiError::Auth(auth::AuthError::InvalidAccessKeyId))?;
        audit::set_principal(principal.clone());
        let mut base = crate::iam::policy::Context::new();
        let secure = parts
            .extensions
            .get::<crate::transport::OverTls>()
            .is_some();
        base.insert("aws:SecureTransport", if secure { "true" } else { "false" });
        if let Some(peer) = parts.extensions.get::<crate::transport::PeerAddr>() {
            base.insert("aws:SourceIp", peer.0.ip().to_string());
        }
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let op = Op::parse(target).ok_or_else(|| {
            KmsApiError::UnknownOperation(format!(
                "Unknown operation {}",
                target.chars().take(128).collect::<String>()
            ))
        })?;
        info.operation = op.name();
        // Off the reactor: sled reads and writes, and RSA key generation for
        // GetParametersForImport (up to a second for RSA_4096), block.
        let kms = self.kms.clone();
        let guard = self.guard.clone();
        let (r, trail) = tokio::task::spawn_blocking(move || {
            let mut trail = ops::Trail::default();
            let r = authz::authorize(&guard, &principal, op, &bytes, &base)
                .and_then(|()| grants::check_grant_tokens(&bytes))
                .and_then(|()| match op {
                    Op::CreateGrant
                    | Op::ListGrants
                    | Op::ListRetirableGrants
                    | Op::RetireGrant
                    | Op::RevokeGrant => grants::run(&kms, &principal, op, &bytes, &mut trail),
                    _ => ops::run(&kms, op, &bytes, &mut trail),
                });
            (r, trail)
        })
        .await
        .map_err(|e| KmsError::Internal(format!("KMS operation task failed: {e}")))?;
        let outcome = match &r {
            Ok(_) => "success",
            Err(e) => e.exception_name(),
        };
        self.kms.audit_outcome(
            Source::Api,
            op.name(),
            trail.key_arn.as_deref(),
            trail.context.as_ref(),
            outcome,
        );
        if r.is_ok() && trail.changed {
            // A key change is acknowledged only once it is durable.
            self.kms.flush().await?;
        }
        r
    }
}

/// Reads the whole body, refusing more than [`MAX_BODY_LEN`] bytes or a stall longer than
/// `timeout` between pieces.
async fn read_body(
    mut incoming: Incoming,
    timeout: Duration,
    count: &mut u64,
) -> Result<Vec<u8>, KmsApiError> {
    let mut out = Vec::new();
    loop {
        let frame = match tokio::time::timeout(timeout, incoming.frame()).await {
            Err(_) => {
                return Err(KmsApiError::BodyRead(
                    "timed out waiting for the request body".into(),
                ));
            }
            Ok(None) => return Ok(out),
            // Cut short or garbled framing: not a timeout (which SDKs retry).
            Ok(Some(Err(e))) => {
                return Err(KmsApiError::Serialization(format!(
                    "The request body could not be read: {e}"
                )));
            }
            Ok(Some(Ok(f))) => f,
        };
        if let Ok(data) = frame.into_data() {
            *count += data.len() as u64;
            if out.len() + data.len() > MAX_BODY_LEN {
                return Err(KmsApiError::TooLarge(format!(
                    "The request body is larger than the maximum of {MAX_BODY_LEN} bytes."
                )));
            }
            out.extend_from_slice(&data);
        }
    }
}
