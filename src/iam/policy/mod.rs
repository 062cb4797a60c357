//! The AWS IAM policy language: documents parsed into compiled [`Policy`] values, one policy's
//! verdict on a request ([`Policy::evaluate`]), and AWS's evaluation logic across identity and
//! resource policies ([`decide`]). Pure library code: no I/O, no clock, no global state.
//!
//! Invariants. A [`Policy`] exists only if its whole document parsed: every action, resource,
//! principal, operator and condition value was checked and compiled then (numbers, dates, CIDRs,
//! base64 decoded; wildcards and `${...}` variables split into tokens), so evaluation never
//! re-reads JSON and never fails: bad input always ends as a [`PolicyError`] at parse time.
//! Nothing in this module panics on input (no `unwrap`, no slicing at unchecked offsets) and
//! nothing recurses on input depth: JSON nesting is bounded by [`MAX_JSON_DEPTH`], wildcard
//! matching is iterative. A compiled policy is an `Arc` inside, cheap to clone and
//! `Send + Sync`, because callers parse once and cache.
//!
//! Shape. [`json`] reads the document strictly (duplicate keys rejected: two readers of
//! `{"Effect":"Allow","Effect":"Deny"}` must not disagree); [`parse`] turns that tree into the
//! compiled types of [`document`], [`condition`] and [`principal`]; [`vars`] and [`pattern`]
//! hold the string machinery (policy variables, `*`/`?` wildcards, ARN fields) shared by
//! resources and conditions; [`eval`] holds the request side and [`decide`]; [`keys`] lists the
//! documented condition keys. Semantics follow the IAM User Guide ("Policy evaluation logic",
//! "Cross-account policy evaluation logic", "IAM JSON policy elements: Condition operators",
//! "IAM policy elements: Variables and tags", "AWS JSON policy elements: Principal") and the
//! KMS Developer Guide ("Default key policy"); where AWS leaves a case open the choice is named
//! in a comment where it is made.

mod condition;
mod document;
mod eval;
mod json;
mod keys;
mod parse;
mod pattern;
mod principal;
mod vars;

#[cfg(test)]
mod tests;

pub use condition::{Condition, SetQualifier};
pub use document::{
    ActionPattern, Actions, Effect, Policy, ResourcePattern, Resources, Statement, Version,
};
pub use eval::{
    Context, Decision, Match, Outcome, PolicySource, Principal, PrincipalKind, Reason, Request,
    Service, decide,
};
pub use keys::is_known_key;
pub use principal::{PrincipalEntry, Principals};

/// Deepest JSON nesting accepted. A valid policy needs six levels (document, `Statement`
/// array, statement, `Condition`, operator, value array); anything deeper is malformed anyway,
/// and the bound keeps hostile `[[[[...` documents from costing stack.
pub const MAX_JSON_DEPTH: usize = 16;

/// Largest document parsed at all, in bytes, whatever [`ParseOptions::max_len`] says: a
/// backstop against a caller that passes `usize::MAX`. AWS's largest policy quota (the IAM
/// wire limit, 131,072 characters) fits with room to spare.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Longest excerpt of user input quoted back in an error message.
pub const MAX_ERROR_EXCERPT_CHARS: usize = 64;

/// Which kind of document is being parsed; it decides the rules for `Principal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to an IAM identity: `Principal`/`NotPrincipal` forbidden (the principal is the
    /// identity), `Sid` restricted to `[A-Za-z0-9]` and unique, characters limited to IAM's
    /// set (tab, LF, CR, U+0020..=U+00FF), as the IAM quotas page documents.
    Identity,
    /// A bucket policy or a KMS key policy: every statement names `Principal` or
    /// `NotPrincipal`; `Sid` is free text (S3's own examples use spaces and periods).
    Resource,
}

/// How [`Policy::parse`] reads a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    pub kind: PolicyKind,
    /// Longest document accepted, in characters (Unicode scalar values), whitespace included.
    /// Quotas that AWS counts differently (IAM's managed-policy quota ignores whitespace; S3
    /// and KMS count bytes) are the caller's to check; [`non_whitespace_len`] helps.
    pub max_len: usize,
}

/// What went wrong, for callers to map onto their service's error codes (IAM
/// `MalformedPolicyDocument` / `LimitExceeded`, S3 `MalformedPolicy`, KMS
/// `MalformedPolicyDocumentException`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyErrorKind {
    Malformed,
    TooLarge,
}

/// A document that cannot become a [`Policy`]. `message` is safe to return to the client: it
/// quotes at most [`MAX_ERROR_EXCERPT_CHARS`] of the input and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    pub kind: PolicyErrorKind,
    pub message: String,
}

impl PolicyError {
    fn malformed(message: impl Into<String>) -> Self {
        PolicyError {
            kind: PolicyErrorKind::Malformed,
            message: message.into(),
        }
    }

    fn too_large(message: impl Into<String>) -> Self {
        PolicyError {
            kind: PolicyErrorKind::TooLarge,
            message: message.into(),
        }
    }
}

/// Characters of `doc` that are not JSON whitespace (space, tab, LF, CR): the measure of
/// IAM's policy-size quotas, which "do not count white space".
pub fn non_whitespace_len(doc: &str) -> usize {
    doc.chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\r'))
        .count()
}

/// `s` cut to [`MAX_ERROR_EXCERPT_CHARS`] for quoting in a message.
fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(MAX_ERROR_EXCERPT_CHARS).collect();
    if s.chars().nth(MAX_ERROR_EXCERPT_CHARS).is_some() {
        out.push_str("...");
    }
    out
}
