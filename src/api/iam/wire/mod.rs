//! The wire codec of the IAM query API (version 2010-05-08) and STS GetCallerIdentity
//! (version 2011-06-15), served on the S3 endpoint: form parameters in, typed requests out;
//! typed responses and errors in, AWS's exact XML out.
//!
//! Pure by design: no I/O, no storage, no HTTP types, no logging. The handler reads and
//! authenticates the request, calls [`parse_form`] on the body (or query string), picks the API
//! ([`Service::detect`], or better the SigV4 scope's service), calls [`parse_iam`] or
//! [`parse_sts`], runs the typed request against the store, and answers with [`render`] /
//! [`render_sts`], or [`WireError::render`] and [`WireError::status`] on failure, with
//! [`CONTENT_TYPE`].
//!
//! Invariants: a parsed request satisfies every constraint of the IAM service model for its
//! members (lengths, patterns, enums, ranges: the `*_LEN`, `*_PATTERN` and `*_VALUES` constants), and a rejected one fails
//! with the code and message AWS gives (`ValidationError` with "N validation error(s)
//! detected: ..."). Every rendered document is well-formed XML with AWS's element names and
//! order. Only [`AccessKey`] ever carries a secret, and its `Debug` hides it.

mod constraints;
mod error;
mod form;
mod request;
mod response;
mod xml;

#[cfg(test)]
mod tests;

pub use constraints::*;
pub use error::{ErrorCode, Fault, WireError, render_error};
pub use form::{MAX_FORM_LEN, MAX_PARAMS, Params, parse_form};
pub use request::*;
pub use response::*;
pub use xml::{MAX_TIMESTAMP, MIN_TIMESTAMP, Timestamp, url_encode_policy};

/// The IAM API version.
pub const IAM_VERSION: &str = "2010-05-08";
/// The STS API version.
pub const STS_VERSION: &str = "2011-06-15";
/// The namespace of every IAM response and error document.
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// The namespace of every STS response and error document.
pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The `Content-Type` of every response and error, as IAM and STS send it.
pub const CONTENT_TYPE: &str = "text/xml";

/// Which query API a request (or an error document) is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Iam,
    Sts,
}

impl Service {
    /// The namespace of its documents.
    pub const fn xmlns(self) -> &'static str {
        match self {
            Service::Iam => IAM_XMLNS,
            Service::Sts => STS_XMLNS,
        }
    }

    /// Its API version.
    pub const fn version(self) -> &'static str {
        match self {
            Service::Iam => IAM_VERSION,
            Service::Sts => STS_VERSION,
        }
    }

    /// The SigV4 service name clients sign with (`iam`, `sts`).
    pub const fn signing_name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }

    /// Which API a request on the shared endpoint is for, from its parameters alone: the
    /// `Version` when it names one of the two, else STS for an STS action name, else IAM
    /// (whose parser then reports what is wrong). The credential scope of the request's
    /// signature (`.../iam/aws4_request` or `.../sts/aws4_request`) says the same more
    /// directly; prefer it where the handler has it.
    pub fn detect(params: &Params) -> Service {
        match params.get("Version") {
            Some(IAM_VERSION) => Service::Iam,
            Some(STS_VERSION) => Service::Sts,
            _ => match params.get("Action").and_then(StsAction::from_name) {
                Some(_) => Service::Sts,
                None => Service::Iam,
            },
        }
    }
}
