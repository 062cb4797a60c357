//! Every KMS JSON API failure, and its wire form (`{"__type": ..., "message": ...}` with AWS's
//! HTTP status) decided in one place with exhaustive matches, so an unmapped error does not
//! compile. [`KmsError`] names its own AWS exception ([`KmsError::exception_name`]); what is
//! added here are the protocol's own failures (authentication, framing, JSON).

use http::StatusCode;

use crate::api::auth::AuthError;
use crate::kms::KmsError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum KmsApiError {
    #[error("{0}")]
    Kms(#[from] KmsError),
    /// Unknown `X-Amz-Target`.
    #[error("{0}")]
    UnknownOperation(String),
    /// The body is not the JSON the operation takes.
    #[error("{0}")]
    Serialization(String),
    /// A field is missing or out of range (AWS's "1 validation error detected" messages).
    #[error("{0}")]
    Validation(String),
    /// A body larger than [`super::MAX_BODY_LEN`].
    #[error("{0}")]
    TooLarge(String),
    /// The body could not be read (stalled or broken connection).
    #[error("{0}")]
    BodyRead(String),
    #[error("{0}")]
    Auth(AuthError),
    /// `DryRun` was set and the request would have succeeded.
    #[error("{0}")]
    DryRun(String),
}

impl KmsApiError {
    /// `__type`.
    pub fn exception_name(&self) -> &'static str {
        match self {
            KmsApiError::Kms(e) => e.exception_name(),
            KmsApiError::UnknownOperation(_) => "UnknownOperationException",
            KmsApiError::Serialization(_) => "SerializationException",
            KmsApiError::Validation(_) | KmsApiError::TooLarge(_) => "ValidationException",
            KmsApiError::BodyRead(_) => "RequestTimeoutException",
            KmsApiError::DryRun(_) => "DryRunOperationException",
            KmsApiError::Auth(a) => match a {
                AuthError::Anonymous => "MissingAuthenticationTokenException",
                AuthError::InvalidAccessKeyId => "UnrecognizedClientException",
                AuthError::SignatureDoesNotMatch
                | AuthError::RequestTimeTooSkewed
                | AuthError::Expired => "InvalidSignatureException",
                AuthError::HeaderMalformed(_)
                | AuthError::QueryMalformed(_)
                | AuthError::InvalidArgument(_) => "IncompleteSignatureException",
                AuthError::AccessDenied(_) => "AccessDeniedException",
            },
        }
    }

    /// AWS's HTTP status: KMS answers client errors with 400 and its own faults with 500.
    pub fn status(&self) -> StatusCode {
        match self {
            KmsApiError::Kms(e) => match e {
                KmsError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                KmsError::DependencyTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
                KmsError::NotFound(_)
                | KmsError::Disabled(_)
                | KmsError::InvalidState(_)
                | KmsError::InvalidCiphertext
                | KmsError::IncorrectKey
                | KmsError::InvalidArgument(_)
                | KmsError::AlreadyExists(_)
                | KmsError::InvalidAliasName(_)
                | KmsError::Tag(_)
                | KmsError::Unsupported(_)
                | KmsError::AccessDenied(_)
                | KmsError::InvalidMarker
                | KmsError::InvalidImportToken(_)
                | KmsError::ExpiredImportToken(_)
                | KmsError::IncorrectKeyMaterial(_)
                | KmsError::MalformedPolicy(_)
                | KmsError::LimitExceeded(_) => StatusCode::BAD_REQUEST,
            },
            KmsApiError::UnknownOperation(_)
            | KmsApiError::Serialization(_)
            | KmsApiError::Validation(_) => StatusCode::BAD_REQUEST,
            KmsApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            KmsApiError::BodyRead(_) => StatusCode::REQUEST_TIMEOUT,
            KmsApiError::DryRun(_) => StatusCode::PRECONDITION_FAILED,
            KmsApiError::Auth(a) => match a {
                AuthError::Anonymous => StatusCode::FORBIDDEN,
                AuthError::InvalidAccessKeyId
                | AuthError::SignatureDoesNotMatch
                | AuthError::RequestTimeTooSkewed
                | AuthError::Expired
                | AuthError::HeaderMalformed(_)
                | AuthError::QueryMalformed(_)
                | AuthError::InvalidArgument(_)
                | AuthError::AccessDenied(_) => StatusCode::BAD_REQUEST,
            },
        }
    }

    /// The message a client sees; internal details stay in the server log.
    pub fn message(&self) -> String {
        match self {
            KmsApiError::Kms(KmsError::Internal(_)) => {
                "An internal error occurred. Please try again.".into()
            }
            KmsApiError::Kms(KmsError::DependencyTimeout(_)) => {
                "The system timed out while trying to fulfill the request. Please try again.".into()
            }
            KmsApiError::Auth(AuthError::RequestTimeTooSkewed) => {
                "Signature expired: the request time is too far from the server's time.".into()
            }
            other => other.to_string(),
        }
    }

    /// The JSON error body.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "__type": self.exception_name(),
            "message": self.message(),
        })
        .to_string()
    }
}

/// "1 validation error detected: Value null at 'keyId' ..." for a missing required member.
pub fn missing(member: &str) -> KmsApiError {
    KmsApiError::Validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member \
         must not be null",
        lower_first(member)
    ))
}

/// A member outside its allowed range or set.
pub fn invalid(member: &str, constraint: &str) -> KmsApiError {
    KmsApiError::Validation(format!(
        "1 validation error detected: Value at '{}' failed to satisfy constraint: {constraint}",
        lower_first(member)
    ))
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}
