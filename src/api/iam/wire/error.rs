//! Every error the IAM and STS query endpoints answer with, and its wire form.
//!
//! A failure is a [`WireError`]: an [`ErrorCode`] and a message. The code alone decides the
//! HTTP status and the `Type` (`Sender`/`Receiver`) through exhaustive matches in
//! [`ErrorCode::status`] and [`ErrorCode::fault`], so a code added without its mapping does not
//! compile. Statuses are AWS's: the IAM API Reference for the IAM codes (as its service model
//! declares them), "Common Errors" for the rest. The rendered document is AWS's query-protocol
//! `<ErrorResponse>`, namespaced by [`Service`].
//!
//! The helper constructors carry the wording IAM uses for the failures the store raises, so the
//! handler does not invent its own; aws-cli prints the message verbatim.

use std::fmt;

use super::Service;
use super::xml::XmlWriter;

/// Who is at fault, AWS's `<Type>` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The request is wrong (4xx).
    Sender,
    /// The service failed (5xx).
    Receiver,
}

impl Fault {
    pub const fn as_str(self) -> &'static str {
        match self {
            Fault::Sender => "Sender",
            Fault::Receiver => "Receiver",
        }
    }
}

/// An AWS error code of the IAM or STS query API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // IAM's own (IAM API Reference, each action's "Errors").
    /// The named user, key, policy or attachment does not exist.
    NoSuchEntity,
    /// A user or policy of that name already exists.
    EntityAlreadyExists,
    /// The entity still has subordinate entities (keys, policies, attachments).
    DeleteConflict,
    /// A quota would be exceeded (keys per user, policy size, ...).
    LimitExceeded,
    /// The policy document is not a valid policy.
    MalformedPolicyDocument,
    /// A parameter is syntactically valid but not acceptable (a bad ARN, duplicate tag keys).
    InvalidInput,
    /// Two requests raced on the same entity.
    ConcurrentModification,
    /// The policy cannot be attached (an AWS-managed policy that is not attachable).
    PolicyNotAttachable,
    /// The entity cannot be changed (service-linked).
    UnmodifiableEntity,
    /// The entity is being changed and cannot be changed again yet.
    EntityTemporarilyUnmodifiable,
    /// IAM failed; the request may be retried.
    ServiceFailure,
    // Common to all query APIs ("Common Errors").
    /// The caller lacks permission.
    AccessDenied,
    /// The signature is incomplete or malformed.
    IncompleteSignature,
    /// An unknown failure inside the service.
    InternalFailure,
    /// The action is unknown, or unknown for the given version.
    InvalidAction,
    /// The access key ID is unknown.
    InvalidClientTokenId,
    /// Parameters that must not be used together were used together.
    InvalidParameterCombination,
    /// A parameter value is invalid or out of range (also: not a number or boolean).
    InvalidParameterValue,
    /// The query string or form body does not follow AWS's conventions.
    InvalidQueryParameter,
    /// The query string or form body has a syntax error.
    MalformedQueryString,
    /// The request has no `Action`.
    MissingAction,
    /// The request is not signed.
    MissingAuthenticationToken,
    /// A required parameter is missing.
    MissingParameter,
    /// The account is not subscribed to the service.
    OptInRequired,
    /// The request's date is too far from the server's clock, or a presigned URL expired.
    RequestExpired,
    /// The signature does not match.
    SignatureDoesNotMatch,
    /// The session token has expired.
    ExpiredToken,
    /// The service is temporarily unavailable.
    ServiceUnavailable,
    /// Too many requests.
    Throttling,
    /// A parameter fails its model constraint ("1 validation error detected: ...").
    ValidationError,
}

impl ErrorCode {
    /// Every code, for tests and exhaustive tables.
    pub const ALL: [ErrorCode; 30] = [
        ErrorCode::NoSuchEntity,
        ErrorCode::EntityAlreadyExists,
        ErrorCode::DeleteConflict,
        ErrorCode::LimitExceeded,
        ErrorCode::MalformedPolicyDocument,
        ErrorCode::InvalidInput,
        ErrorCode::ConcurrentModification,
        ErrorCode::PolicyNotAttachable,
        ErrorCode::UnmodifiableEntity,
        ErrorCode::EntityTemporarilyUnmodifiable,
        ErrorCode::ServiceFailure,
        ErrorCode::AccessDenied,
        ErrorCode::IncompleteSignature,
        ErrorCode::InternalFailure,
        ErrorCode::InvalidAction,
        ErrorCode::InvalidClientTokenId,
        ErrorCode::InvalidParameterCombination,
        ErrorCode::InvalidParameterValue,
        ErrorCode::InvalidQueryParameter,
        ErrorCode::MalformedQueryString,
        ErrorCode::MissingAction,
        ErrorCode::MissingAuthenticationToken,
        ErrorCode::MissingParameter,
        ErrorCode::OptInRequired,
        ErrorCode::RequestExpired,
        ErrorCode::SignatureDoesNotMatch,
        ErrorCode::ExpiredToken,
        ErrorCode::ServiceUnavailable,
        ErrorCode::Throttling,
        ErrorCode::ValidationError,
    ];

    /// The `<Code>` element.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NoSuchEntity => "NoSuchEntity",
            ErrorCode::EntityAlreadyExists => "EntityAlreadyExists",
            ErrorCode::DeleteConflict => "DeleteConflict",
            ErrorCode::LimitExceeded => "LimitExceeded",
            ErrorCode::MalformedPolicyDocument => "MalformedPolicyDocument",
            ErrorCode::InvalidInput => "InvalidInput",
            ErrorCode::ConcurrentModification => "ConcurrentModification",
            ErrorCode::PolicyNotAttachable => "PolicyNotAttachable",
            ErrorCode::UnmodifiableEntity => "UnmodifiableEntity",
            ErrorCode::EntityTemporarilyUnmodifiable => "EntityTemporarilyUnmodifiable",
            ErrorCode::ServiceFailure => "ServiceFailure",
            ErrorCode::AccessDenied => "AccessDenied",
            ErrorCode::IncompleteSignature => "IncompleteSignature",
            ErrorCode::InternalFailure => "InternalFailure",
            ErrorCode::InvalidAction => "InvalidAction",
            ErrorCode::InvalidClientTokenId => "InvalidClientTokenId",
            ErrorCode::InvalidParameterCombination => "InvalidParameterCombination",
            ErrorCode::InvalidParameterValue => "InvalidParameterValue",
            ErrorCode::InvalidQueryParameter => "InvalidQueryParameter",
            ErrorCode::MalformedQueryString => "MalformedQueryString",
            ErrorCode::MissingAction => "MissingAction",
            ErrorCode::MissingAuthenticationToken => "MissingAuthenticationToken",
            ErrorCode::MissingParameter => "MissingParameter",
            ErrorCode::OptInRequired => "OptInRequired",
            ErrorCode::RequestExpired => "RequestExpired",
            ErrorCode::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            ErrorCode::ExpiredToken => "ExpiredToken",
            ErrorCode::ServiceUnavailable => "ServiceUnavailable",
            ErrorCode::Throttling => "Throttling",
            ErrorCode::ValidationError => "ValidationError",
        }
    }

    /// AWS's HTTP status for the code.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::NoSuchEntity => 404,
            ErrorCode::EntityAlreadyExists
            | ErrorCode::DeleteConflict
            | ErrorCode::LimitExceeded
            | ErrorCode::ConcurrentModification
            | ErrorCode::EntityTemporarilyUnmodifiable => 409,
            ErrorCode::MalformedPolicyDocument
            | ErrorCode::InvalidInput
            | ErrorCode::PolicyNotAttachable
            | ErrorCode::UnmodifiableEntity
            | ErrorCode::IncompleteSignature
            | ErrorCode::InvalidAction
            | ErrorCode::InvalidParameterCombination
            | ErrorCode::InvalidParameterValue
            | ErrorCode::InvalidQueryParameter
            | ErrorCode::MissingAction
            | ErrorCode::MissingParameter
            | ErrorCode::RequestExpired
            | ErrorCode::Throttling
            | ErrorCode::ValidationError => 400,
            // "Common Errors" gives MalformedQueryString 404, oddly but explicitly.
            ErrorCode::MalformedQueryString => 404,
            ErrorCode::AccessDenied
            | ErrorCode::InvalidClientTokenId
            | ErrorCode::MissingAuthenticationToken
            | ErrorCode::OptInRequired
            | ErrorCode::SignatureDoesNotMatch
            | ErrorCode::ExpiredToken => 403,
            ErrorCode::ServiceFailure | ErrorCode::InternalFailure => 500,
            ErrorCode::ServiceUnavailable => 503,
        }
    }

    /// `Sender` for the client's mistakes, `Receiver` for the service's own failures.
    pub const fn fault(self) -> Fault {
        match self {
            ErrorCode::ServiceFailure
            | ErrorCode::InternalFailure
            | ErrorCode::ServiceUnavailable => Fault::Receiver,
            ErrorCode::NoSuchEntity
            | ErrorCode::EntityAlreadyExists
            | ErrorCode::DeleteConflict
            | ErrorCode::LimitExceeded
            | ErrorCode::MalformedPolicyDocument
            | ErrorCode::InvalidInput
            | ErrorCode::ConcurrentModification
            | ErrorCode::PolicyNotAttachable
            | ErrorCode::UnmodifiableEntity
            | ErrorCode::EntityTemporarilyUnmodifiable
            | ErrorCode::AccessDenied
            | ErrorCode::IncompleteSignature
            | ErrorCode::InvalidAction
            | ErrorCode::InvalidClientTokenId
            | ErrorCode::InvalidParameterCombination
            | ErrorCode::InvalidParameterValue
            | ErrorCode::InvalidQueryParameter
            | ErrorCode::MalformedQueryString
            | ErrorCode::MissingAction
            | ErrorCode::MissingAuthenticationToken
            | ErrorCode::MissingParameter
            | ErrorCode::OptInRequired
            | ErrorCode::RequestExpired
            | ErrorCode::SignatureDoesNotMatch
            | ErrorCode::ExpiredToken
            | ErrorCode::Throttling
            | ErrorCode::ValidationError => Fault::Sender,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure to answer with: AWS's code and the message the client prints.
///
/// Messages may quote request values (as AWS's validation messages do); they never hold
/// secrets, since no secret is ever an input of this codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WireError {
    code: ErrorCode,
    message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The `<ErrorResponse>` document for this error.
    pub fn render(&self, request_id: &str, service: Service) -> String {
        render_error(self.code, &self.message, request_id, service)
    }

    // Wording IAM uses for the failures the store and handler raise.

    /// `NoSuchEntity` for a user name (GetUser, DeleteUser, and every `UserName` lookup).
    pub fn no_such_user(user_name: &str) -> Self {
        Self::new(
            ErrorCode::NoSuchEntity,
            format!("The user with name {user_name} cannot be found."),
        )
    }

    /// `EntityAlreadyExists` from CreateUser.
    pub fn user_already_exists(user_name: &str) -> Self {
        Self::new(
            ErrorCode::EntityAlreadyExists,
            format!("User with name {user_name} already exists."),
        )
    }

    /// `NoSuchEntity` for an access key ID (UpdateAccessKey, DeleteAccessKey).
    pub fn no_such_access_key(access_key_id: &str) -> Self {
        Self::new(
            ErrorCode::NoSuchEntity,
            format!("The Access Key with id {access_key_id} cannot be found."),
        )
    }

    /// `NoSuchEntity` for an inline policy (GetUserPolicy, DeleteUserPolicy).
    pub fn no_such_user_policy(policy_name: &str) -> Self {
        Self::new(
            ErrorCode::NoSuchEntity,
            format!("The user policy with name {policy_name} cannot be found."),
        )
    }

    /// `NoSuchEntity` for a managed policy ARN (GetPolicy, DeletePolicy, DetachUserPolicy).
    pub fn no_such_policy(policy_arn: &str) -> Self {
        Self::new(
            ErrorCode::NoSuchEntity,
            format!("Policy {policy_arn} was not found."),
        )
    }

    /// `NoSuchEntity` for a policy version (GetPolicyVersion).
    pub fn no_such_policy_version(policy_arn: &str, version_id: &str) -> Self {
        Self::new(
            ErrorCode::NoSuchEntity,
            format!(
                "Policy {policy_arn} version {version_id} does not exist or is not attachable."
            ),
        )
    }

    /// `NoSuchEntity` from AttachUserPolicy for an unknown policy.
    pub fn policy_not_attachable(policy_arn: &str) -> Self {
        Self::new(
            ErrorCode::NoSuchEntity,
            format!("Policy {policy_arn} does not exist or is not attachable."),
        )
    }

    /// `EntityAlreadyExists` from CreatePolicy.
    pub fn policy_already_exists(policy_name: &str) -> Self {
        Self::new(
            ErrorCode::EntityAlreadyExists,
            format!(
                "A policy called {policy_name} already exists. Duplicate names are not allowed."
            ),
        )
    }

    /// `DeleteConflict` from DeleteUser while the user has access keys.
    pub fn user_has_access_keys() -> Self {
        Self::new(
            ErrorCode::DeleteConflict,
            "Cannot delete entity, must delete access keys first.",
        )
    }

    /// `DeleteConflict` from DeleteUser while the user has inline policies.
    pub fn user_has_inline_policies() -> Self {
        Self::new(
            ErrorCode::DeleteConflict,
            "Cannot delete entity, must delete policies first.",
        )
    }

    /// `DeleteConflict` from DeleteUser while managed policies are attached.
    pub fn user_has_attached_policies() -> Self {
        Self::new(
            ErrorCode::DeleteConflict,
            "Cannot delete entity, must detach all policies first.",
        )
    }

    /// `DeleteConflict` from DeletePolicy while the policy is attached.
    pub fn policy_attached() -> Self {
        Self::new(
            ErrorCode::DeleteConflict,
            "Cannot delete a policy attached to entities.",
        )
    }

    /// `LimitExceeded` from CreateAccessKey (`quota` is AWS's 2).
    pub fn access_keys_quota(quota: usize) -> Self {
        Self::new(
            ErrorCode::LimitExceeded,
            format!("Cannot exceed quota for AccessKeysPerUser: {quota}"),
        )
    }

    /// `LimitExceeded` from PutUserPolicy when the user's inline policies together exceed
    /// `max_bytes` (AWS: 2,048 non-whitespace characters).
    pub fn inline_policy_size(user_name: &str, max_bytes: usize) -> Self {
        Self::new(
            ErrorCode::LimitExceeded,
            format!("Maximum policy size of {max_bytes} bytes exceeded for user {user_name}"),
        )
    }

    /// `LimitExceeded` from CreatePolicy for a managed policy over `max` (AWS: 6,144).
    pub fn managed_policy_size(max: usize) -> Self {
        Self::new(
            ErrorCode::LimitExceeded,
            format!("Cannot exceed quota for PolicySize: {max}"),
        )
    }

    /// `AccessDenied` in IAM's wording. `action` is e.g. `iam:CreateUser`.
    pub fn access_denied(principal_arn: &str, action: &str, resource: &str) -> Self {
        Self::new(
            ErrorCode::AccessDenied,
            format!(
                "User: {principal_arn} is not authorized to perform: {action} on resource: \
                 {resource} because no identity-based policy allows the {action} action"
            ),
        )
    }

    /// `InvalidClientTokenId`: the access key ID is unknown.
    pub fn invalid_client_token_id() -> Self {
        Self::new(
            ErrorCode::InvalidClientTokenId,
            "The security token included in the request is invalid.",
        )
    }

    /// `SignatureDoesNotMatch`.
    pub fn signature_does_not_match() -> Self {
        Self::new(
            ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details.",
        )
    }

    /// `MissingAuthenticationToken`: an unsigned request.
    pub fn missing_authentication_token() -> Self {
        Self::new(
            ErrorCode::MissingAuthenticationToken,
            "Request is missing Authentication Token",
        )
    }

    /// `ServiceFailure`: the store failed.
    pub fn service_failure() -> Self {
        Self::new(
            ErrorCode::ServiceFailure,
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }
}

/// AWS's query-protocol error document:
/// `<ErrorResponse xmlns="..."><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
pub fn render_error(code: ErrorCode, message: &str, request_id: &str, service: Service) -> String {
    let mut w = XmlWriter::with_capacity(256 + message.len());
    w.open_ns("ErrorResponse", service.xmlns());
    w.open("Error");
    w.text("Type", code.fault().as_str());
    w.text("Code", code.as_str());
    w.text("Message", message);
    w.close("Error");
    w.text("RequestId", request_id);
    w.close("ErrorResponse");
    w.finish()
}
