//! The S3 error type and its wire form.
//!
//! Every failure that reaches an S3 client is an [`S3Error`]: a code from the closed set
//! [`S3ErrorCode`], a message, an optional resource and extra elements (`BucketName`, `Key`,
//! `ArgumentName`, ...). The code decides the HTTP status in exactly one place,
//! [`S3ErrorCode::status`], whose exhaustive `match` makes an unmapped code fail to compile.
//! Codes, statuses and default messages are AWS's (S3 API reference, "Error responses").
//! [`S3Error::to_xml`] renders AWS's error document, escaping every value so that a key or
//! argument taken from a request can never break out of its element.

use http::StatusCode;

/// Every S3 error code Coffer can answer with.
///
/// `as_str` gives the wire code, `status` the HTTP status; both are exhaustive matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum S3ErrorCode {
    AccessDenied,
    AccessControlListNotSupported,
    InvalidBucketAclWithObjectOwnership,
    MalformedACLError,
    UnresolvableGrantByEmailAddress,
    MalformedPolicy,
    NoSuchBucketPolicy,
    NoSuchPublicAccessBlockConfiguration,
    OwnershipControlsNotFoundError,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    BadDigest,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooLarge,
    EntityTooSmall,
    IllegalLocationConstraintException,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidBucketState,
    InvalidDigest,
    InvalidEncryptionAlgorithmError,
    InvalidLocationConstraint,
    InvalidObjectState,
    InvalidPart,
    InvalidPartOrder,
    InvalidRange,
    InvalidRequest,
    InvalidStorageClass,
    InvalidURI,
    KeyTooLongError,
    MalformedXML,
    MetadataTooLarge,
    MethodNotAllowed,
    MissingContentLength,
    MissingRequestBodyError,
    MissingSecurityHeader,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NoSuchVersion,
    NotImplemented,
    NotModified,
    PreconditionFailed,
    RequestTimeTooSkewed,
    RequestTimeout,
    ServerSideEncryptionConfigurationNotFoundError,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    SlowDown,
    TooManyBuckets,
    UnexpectedContent,
    XAmzContentSHA256Mismatch,
    /// `KMS.DisabledException`: the object's KMS key is disabled.
    KmsDisabled,
    /// `KMS.NotFoundException`: the KMS key does not exist.
    KmsNotFound,
    /// `KMS.KMSInvalidStateException`: e.g. the key is pending deletion.
    KmsInvalidState,
    /// `KMS.InvalidCiphertextException`: the wrapped data key does not unwrap.
    KmsInvalidCiphertext,
}

impl S3ErrorCode {
    /// Every code, for tests and docs. A new variant must be added here by hand: the
    /// exhaustive matches below catch a missing mapping, not a missing entry here.
    pub const ALL: &'static [S3ErrorCode] = &[
        Self::AccessDenied,
        Self::AccessControlListNotSupported,
        Self::InvalidBucketAclWithObjectOwnership,
        Self::MalformedACLError,
        Self::UnresolvableGrantByEmailAddress,
        Self::MalformedPolicy,
        Self::NoSuchBucketPolicy,
        Self::NoSuchPublicAccessBlockConfiguration,
        Self::OwnershipControlsNotFoundError,
        Self::AuthorizationHeaderMalformed,
        Self::AuthorizationQueryParametersError,
        Self::BadDigest,
        Self::BucketAlreadyExists,
        Self::BucketAlreadyOwnedByYou,
        Self::BucketNotEmpty,
        Self::EntityTooLarge,
        Self::EntityTooSmall,
        Self::IllegalLocationConstraintException,
        Self::IncompleteBody,
        Self::InternalError,
        Self::InvalidAccessKeyId,
        Self::InvalidArgument,
        Self::InvalidBucketName,
        Self::InvalidBucketState,
        Self::InvalidDigest,
        Self::InvalidEncryptionAlgorithmError,
        Self::InvalidLocationConstraint,
        Self::InvalidObjectState,
        Self::InvalidPart,
        Self::InvalidPartOrder,
        Self::InvalidRange,
        Self::InvalidRequest,
        Self::InvalidStorageClass,
        Self::InvalidURI,
        Self::KeyTooLongError,
        Self::MalformedXML,
        Self::MetadataTooLarge,
        Self::MethodNotAllowed,
        Self::MissingContentLength,
        Self::MissingRequestBodyError,
        Self::MissingSecurityHeader,
        Self::NoSuchBucket,
        Self::NoSuchKey,
        Self::NoSuchUpload,
        Self::NoSuchVersion,
        Self::NotImplemented,
        Self::NotModified,
        Self::PreconditionFailed,
        Self::RequestTimeTooSkewed,
        Self::RequestTimeout,
        Self::ServerSideEncryptionConfigurationNotFoundError,
        Self::ServiceUnavailable,
        Self::SignatureDoesNotMatch,
        Self::SlowDown,
        Self::TooManyBuckets,
        Self::UnexpectedContent,
        Self::XAmzContentSHA256Mismatch,
        Self::KmsDisabled,
        Self::KmsNotFound,
        Self::KmsInvalidState,
        Self::KmsInvalidCiphertext,
    ];

    /// The code as it appears in `<Code>`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AccessDenied => "AccessDenied",
            Self::AccessControlListNotSupported => "AccessControlListNotSupported",
            Self::InvalidBucketAclWithObjectOwnership => "InvalidBucketAclWithObjectOwnership",
            Self::MalformedACLError => "MalformedACLError",
            Self::UnresolvableGrantByEmailAddress => "UnresolvableGrantByEmailAddress",
            Self::MalformedPolicy => "MalformedPolicy",
            Self::NoSuchBucketPolicy => "NoSuchBucketPolicy",
            Self::NoSuchPublicAccessBlockConfiguration => "NoSuchPublicAccessBlockConfiguration",
            Self::OwnershipControlsNotFoundError => "OwnershipControlsNotFoundError",
            Self::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            Self::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            Self::BadDigest => "BadDigest",
            Self::BucketAlreadyExists => "BucketAlreadyExists",
            Self::BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            Self::BucketNotEmpty => "BucketNotEmpty",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::EntityTooSmall => "EntityTooSmall",
            Self::IllegalLocationConstraintException => "IllegalLocationConstraintException",
            Self::IncompleteBody => "IncompleteBody",
            Self::InternalError => "InternalError",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::InvalidArgument => "InvalidArgument",
            Self::InvalidBucketName => "InvalidBucketName",
            Self::InvalidBucketState => "InvalidBucketState",
            Self::InvalidDigest => "InvalidDigest",
            Self::InvalidEncryptionAlgorithmError => "InvalidEncryptionAlgorithmError",
            Self::InvalidLocationConstraint => "InvalidLocationConstraint",
            Self::InvalidObjectState => "InvalidObjectState",
            Self::InvalidPart => "InvalidPart",
            Self::InvalidPartOrder => "InvalidPartOrder",
            Self::InvalidRange => "InvalidRange",
            Self::InvalidRequest => "InvalidRequest",
            Self::InvalidStorageClass => "InvalidStorageClass",
            Self::InvalidURI => "InvalidURI",
            Self::KeyTooLongError => "KeyTooLongError",
            Self::MalformedXML => "MalformedXML",
            Self::MetadataTooLarge => "MetadataTooLarge",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::MissingContentLength => "MissingContentLength",
            Self::MissingRequestBodyError => "MissingRequestBodyError",
            Self::MissingSecurityHeader => "MissingSecurityHeader",
            Self::NoSuchBucket => "NoSuchBucket",
            Self::NoSuchKey => "NoSuchKey",
            Self::NoSuchUpload => "NoSuchUpload",
            Self::NoSuchVersion => "NoSuchVersion",
            Self::NotImplemented => "NotImplemented",
            Self::NotModified => "NotModified",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Self::RequestTimeout => "RequestTimeout",
            Self::ServerSideEncryptionConfigurationNotFoundError => {
                "ServerSideEncryptionConfigurationNotFoundError"
            }
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::SlowDown => "SlowDown",
            Self::TooManyBuckets => "TooManyBuckets",
            Self::UnexpectedContent => "UnexpectedContent",
            Self::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
            Self::KmsDisabled => "KMS.DisabledException",
            Self::KmsNotFound => "KMS.NotFoundException",
            Self::KmsInvalidState => "KMS.KMSInvalidStateException",
            Self::KmsInvalidCiphertext => "KMS.InvalidCiphertextException",
        }
    }

    /// The HTTP status AWS answers this code with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotModified => StatusCode::NOT_MODIFIED,

            Self::AuthorizationHeaderMalformed
            | Self::AuthorizationQueryParametersError
            | Self::BadDigest
            | Self::EntityTooLarge
            | Self::EntityTooSmall
            | Self::IllegalLocationConstraintException
            | Self::IncompleteBody
            | Self::InvalidArgument
            | Self::InvalidBucketName
            | Self::InvalidDigest
            | Self::InvalidEncryptionAlgorithmError
            | Self::InvalidLocationConstraint
            | Self::InvalidPart
            | Self::InvalidPartOrder
            | Self::InvalidRequest
            | Self::InvalidStorageClass
            | Self::InvalidURI
            | Self::KeyTooLongError
            | Self::MalformedXML
            | Self::MetadataTooLarge
            | Self::MissingRequestBodyError
            | Self::MissingSecurityHeader
            | Self::RequestTimeout
            | Self::TooManyBuckets
            | Self::UnexpectedContent
            | Self::XAmzContentSHA256Mismatch
            | Self::KmsDisabled
            | Self::KmsNotFound
            | Self::KmsInvalidState
            | Self::KmsInvalidCiphertext => StatusCode::BAD_REQUEST,

            Self::AccessDenied
            | Self::InvalidAccessKeyId
            | Self::InvalidObjectState
            | Self::RequestTimeTooSkewed
            | Self::SignatureDoesNotMatch => StatusCode::FORBIDDEN,

            Self::NoSuchBucket
            | Self::NoSuchKey
            | Self::NoSuchUpload
            | Self::NoSuchVersion
            | Self::ServerSideEncryptionConfigurationNotFoundError => StatusCode::NOT_FOUND,

            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::AccessControlListNotSupported => StatusCode::BAD_REQUEST,
            Self::InvalidBucketAclWithObjectOwnership => StatusCode::BAD_REQUEST,
            Self::MalformedACLError => StatusCode::BAD_REQUEST,
            Self::UnresolvableGrantByEmailAddress => StatusCode::BAD_REQUEST,
            Self::MalformedPolicy => StatusCode::BAD_REQUEST,
            Self::NoSuchBucketPolicy => StatusCode::NOT_FOUND,
            Self::NoSuchPublicAccessBlockConfiguration => StatusCode::NOT_FOUND,
            Self::OwnershipControlsNotFoundError => StatusCode::NOT_FOUND,

            Self::BucketAlreadyExists
            | Self::BucketAlreadyOwnedByYou
            | Self::BucketNotEmpty
            | Self::InvalidBucketState => StatusCode::CONFLICT,

            Self::MissingContentLength => StatusCode::LENGTH_REQUIRED,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::InvalidRange => StatusCode::RANGE_NOT_SATISFIABLE,

            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Self::ServiceUnavailable | Self::SlowDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// AWS's generic message for this code, used when the caller has nothing more specific.
    pub fn default_message(&self) -> &'static str {
        match self {
            Self::AccessDenied => "Access Denied",
            Self::AccessControlListNotSupported => "The bucket does not allow ACLs",
            Self::InvalidBucketAclWithObjectOwnership => {
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            }
            Self::UnresolvableGrantByEmailAddress => {
                "The email address you provided does not match any account on record."
            }
            Self::MalformedACLError => {
                "The XML you provided was not well-formed or did not validate against our published schema."
            }
            Self::MalformedPolicy => "Policies must be valid JSON and the first byte must be '{'",
            Self::NoSuchBucketPolicy => "The bucket policy does not exist",
            Self::NoSuchPublicAccessBlockConfiguration => {
                "The public access block configuration was not found"
            }
            Self::OwnershipControlsNotFoundError => "The bucket ownership controls were not found",
            Self::AuthorizationHeaderMalformed => "The authorization header is malformed.",
            Self::AuthorizationQueryParametersError => {
                "The authorization query parameters are malformed."
            }
            Self::BadDigest => "The Content-MD5 you specified did not match what we received.",
            Self::BucketAlreadyExists => {
                "The requested bucket name is not available. The bucket namespace is shared by \
                 all users of the system. Please select a different name and try again."
            }
            Self::BucketAlreadyOwnedByYou => {
                "Your previous request to create the named bucket succeeded and you already own it."
            }
            Self::BucketNotEmpty => "The bucket you tried to delete is not empty",
            Self::EntityTooLarge => "Your proposed upload exceeds the maximum allowed size",
            Self::EntityTooSmall => {
                "Your proposed upload is smaller than the minimum allowed object size."
            }
            Self::IllegalLocationConstraintException => {
                "The specified location-constraint is not valid for this endpoint."
            }
            Self::IncompleteBody => {
                "You did not provide the number of bytes specified by the Content-Length HTTP header"
            }
            Self::InternalError => "We encountered an internal error. Please try again.",
            Self::InvalidAccessKeyId => {
                "The AWS Access Key Id you provided does not exist in our records."
            }
            Self::InvalidArgument => "Invalid Argument",
            Self::InvalidBucketName => "The specified bucket is not valid.",
            Self::InvalidBucketState => {
                "The request is not valid with the current state of the bucket."
            }
            Self::InvalidDigest => "The Content-MD5 you specified is not valid.",
            Self::InvalidEncryptionAlgorithmError => {
                "The encryption request you specified is not valid. The valid value is AES256."
            }
            Self::InvalidLocationConstraint => "The specified location constraint is not valid.",
            Self::InvalidObjectState => "The operation is not valid for the object's storage class",
            Self::InvalidPart => {
                "One or more of the specified parts could not be found.  The part may not have \
                 been uploaded, or the specified entity tag may not match the part's entity tag."
            }
            Self::InvalidPartOrder => {
                "The list of parts was not in ascending order. The parts list must be specified \
                 in order by part number."
            }
            Self::InvalidRange => "The requested range is not satisfiable",
            Self::InvalidRequest => "Invalid Request",
            Self::InvalidStorageClass => "The storage class you specified is not valid",
            Self::InvalidURI => "Couldn't parse the specified URI.",
            Self::KeyTooLongError => "Your key is too long",
            Self::MalformedXML => {
                "The XML you provided was not well-formed or did not validate against our \
                 published schema"
            }
            Self::MetadataTooLarge => {
                "Your metadata headers exceed the maximum allowed metadata size."
            }
            Self::MethodNotAllowed => "The specified method is not allowed against this resource.",
            Self::MissingContentLength => "You must provide the Content-Length HTTP header.",
            Self::MissingRequestBodyError => "Request Body is empty",
            Self::MissingSecurityHeader => "Your request is missing a required header.",
            Self::NoSuchBucket => "The specified bucket does not exist",
            Self::NoSuchKey => "The specified key does not exist.",
            Self::NoSuchUpload => {
                "The specified upload does not exist. The upload ID may be invalid, or the \
                 upload may have been aborted or completed."
            }
            Self::NoSuchVersion => "The specified version does not exist.",
            Self::NotImplemented => {
                "A header you provided implies functionality that is not implemented"
            }
            Self::NotModified => "Not Modified",
            Self::PreconditionFailed => {
                "At least one of the pre-conditions you specified did not hold"
            }
            Self::RequestTimeTooSkewed => {
                "The difference between the request time and the current time is too large."
            }
            Self::RequestTimeout => {
                "Your socket connection to the server was not read from or written to within \
                 the timeout period. Idle connections will be closed."
            }
            Self::ServerSideEncryptionConfigurationNotFoundError => {
                "The server side encryption configuration was not found"
            }
            Self::ServiceUnavailable => "Please reduce your request rate.",
            Self::SignatureDoesNotMatch => {
                "The request signature we calculated does not match the signature you provided. \
                 Check your key and signing method."
            }
            Self::SlowDown => "Please reduce your request rate.",
            Self::TooManyBuckets => "You have attempted to create more buckets than allowed",
            Self::UnexpectedContent => "This request does not support content",
            Self::XAmzContentSHA256Mismatch => {
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            }
            Self::KmsDisabled => "The KMS key is disabled.",
            Self::KmsNotFound => "The KMS key does not exist.",
            Self::KmsInvalidState => "The KMS key is not in a valid state for this operation.",
            Self::KmsInvalidCiphertext => {
                "The ciphertext refers to a KMS key that does not exist, \
                 does not exist in this region, or it is not allowed to access."
            }
        }
    }
}

impl std::fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An S3 error on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: String,
    /// `<Resource>`: the bucket or object the request named, when AWS reports it.
    pub resource: Option<String>,
    /// Further elements, in order, between `<Message>` and `<Resource>`: `BucketName`, `Key`,
    /// `ArgumentName`/`ArgumentValue`, `RequestTime`/`ServerTime`/`MaxAllowedSkewMilliseconds`...
    /// Names are chosen by code, never by input; values are escaped.
    pub extra: Vec<(&'static str, String)>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode, message: impl Into<String>) -> Self {
        S3Error {
            code,
            message: message.into(),
            resource: None,
            extra: Vec::new(),
        }
    }

    /// An error with AWS's generic message for `code`.
    pub fn from_code(code: S3ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }

    /// `InvalidArgument` naming the offending argument, as AWS reports it.
    pub fn invalid_argument(
        message: impl Into<String>,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        Self::new(S3ErrorCode::InvalidArgument, message).with_argument(name, value)
    }

    /// `NotImplemented` naming the operation (the router's answer for operations we know of
    /// but do not serve).
    pub fn not_implemented(operation: &str) -> Self {
        Self::new(
            S3ErrorCode::NotImplemented,
            format!("The {operation} operation is not implemented by this server."),
        )
    }

    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    pub fn with_extra(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn with_bucket(self, bucket: impl Into<String>) -> Self {
        self.with_extra("BucketName", bucket)
    }

    pub fn with_key(self, key: impl Into<String>) -> Self {
        self.with_extra("Key", key)
    }

    pub fn with_argument(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.with_extra("ArgumentName", name)
            .with_extra("ArgumentValue", value)
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// AWS's error document:
    /// `<?xml ...?><Error><Code/><Message/>[extra...][<Resource/>]<RequestId/><HostId/></Error>`.
    pub fn to_xml(&self, request_id: &str, host_id: &str) -> String {
        let mut out = String::with_capacity(256 + self.message.len());
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        push_element(&mut out, "Code", self.code.as_str());
        push_element(&mut out, "Message", &self.message);
        for (name, value) in &self.extra {
            push_element(&mut out, name, value);
        }
        if let Some(resource) = &self.resource {
            push_element(&mut out, "Resource", resource);
        }
        push_element(&mut out, "RequestId", request_id);
        push_element(&mut out, "HostId", host_id);
        out.push_str("</Error>");
        out
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        Self::from_code(code)
    }
}

fn push_element(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Escapes text for XML element content or attribute values.
///
/// Besides the five markup characters, control characters (which keys may contain) become
/// numeric references, as AWS writes them, so no raw control byte reaches the document.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("&#x{:X};", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// [`escape_into`] returning a new string.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn all_is_complete_and_codes_unique() {
        // The exhaustive matches guarantee every variant has a code and a status; this checks
        // ALL lists no variant twice, and the count reminds whoever adds one to list it.
        let codes: HashSet<&str> = S3ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes.len(), S3ErrorCode::ALL.len());
        assert_eq!(S3ErrorCode::ALL.len(), 61);
    }

    #[test]
    fn every_code_has_an_error_status_and_a_message() {
        for code in S3ErrorCode::ALL {
            let status = code.status();
            assert!(
                status.is_client_error()
                    || status.is_server_error()
                    || status == StatusCode::NOT_MODIFIED,
                "{code}: {status}"
            );
            assert!(!code.default_message().is_empty(), "{code}");
        }
    }

    #[test]
    fn statuses_match_aws() {
        use S3ErrorCode::*;
        let expect = [
            (AccessDenied, 403),
            (BucketAlreadyExists, 409),
            (BucketAlreadyOwnedByYou, 409),
            (BucketNotEmpty, 409),
            (EntityTooLarge, 400),
            (InternalError, 500),
            (InvalidAccessKeyId, 403),
            (InvalidRange, 416),
            (MalformedXML, 400),
            (MethodNotAllowed, 405),
            (MissingContentLength, 411),
            (NoSuchBucket, 404),
            (NoSuchKey, 404),
            (NoSuchUpload, 404),
            (NoSuchVersion, 404),
            (NotImplemented, 501),
            (NotModified, 304),
            (PreconditionFailed, 412),
            (RequestTimeTooSkewed, 403),
            (RequestTimeout, 400),
            (ServerSideEncryptionConfigurationNotFoundError, 404),
            (SignatureDoesNotMatch, 403),
            (SlowDown, 503),
            (KmsDisabled, 400),
            (KmsNotFound, 400),
            (KmsInvalidState, 400),
            (KmsInvalidCiphertext, 400),
        ];
        for (code, status) in expect {
            assert_eq!(code.status().as_u16(), status, "{code}");
        }
    }

    #[test]
    fn kms_codes_are_dotted() {
        assert_eq!(S3ErrorCode::KmsDisabled.as_str(), "KMS.DisabledException");
        assert_eq!(S3ErrorCode::KmsNotFound.as_str(), "KMS.NotFoundException");
        assert_eq!(
            S3ErrorCode::KmsInvalidState.as_str(),
            "KMS.KMSInvalidStateException"
        );
        assert_eq!(
            S3ErrorCode::KmsInvalidCiphertext.as_str(),
            "KMS.InvalidCiphertextException"
        );
    }

    #[test]
    fn sample_no_such_key_xml() {
        let err = S3Error::from_code(S3ErrorCode::NoSuchKey)
            .with_key("photos/2006/February/sample.jpg")
            .with_resource("/mybucket/photos/2006/February/sample.jpg");
        assert_eq!(
            err.to_xml("4442587FB7D0A2F9", "host-id"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message>\
             <Key>photos/2006/February/sample.jpg</Key>\
             <Resource>/mybucket/photos/2006/February/sample.jpg</Resource>\
             <RequestId>4442587FB7D0A2F9</RequestId><HostId>host-id</HostId></Error>"
        );
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn xml_values_are_escaped() {
        let err =
            S3Error::invalid_argument("bad <arg> & \"quote\" 'x'", "max-keys", "</Error>\u{1}")
                .with_resource("a&b");
        let xml = err.to_xml("r<1>", "h&2");
        assert!(
            xml.contains(
                "<Message>bad &lt;arg&gt; &amp; &quot;quote&quot; &apos;x&apos;</Message>"
            )
        );
        assert!(xml.contains("<ArgumentName>max-keys</ArgumentName>"));
        assert!(xml.contains("<ArgumentValue>&lt;/Error&gt;&#x1;</ArgumentValue>"));
        assert!(xml.contains("<Resource>a&amp;b</Resource>"));
        assert!(xml.contains("<RequestId>r&lt;1&gt;</RequestId><HostId>h&amp;2</HostId>"));
        assert_eq!(xml.matches("</Error>").count(), 1);
        // The document parses back as well-formed XML.
        let mut reader = quick_xml::Reader::from_str(&xml);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}"),
            }
        }
    }

    #[test]
    fn display_names_code_and_message() {
        let err = S3Error::from(S3ErrorCode::NoSuchBucket);
        assert_eq!(
            err.to_string(),
            "NoSuchBucket: The specified bucket does not exist"
        );
    }
}
