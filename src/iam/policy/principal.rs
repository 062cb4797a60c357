//! `Principal` and `NotPrincipal` ("AWS JSON policy elements: Principal" / "NotPrincipal").
//!
//! Entries are normalized at parse time: `"*"` and `{"AWS": "*"}` are one [`Everyone`]
//! (the Principal page calls them equivalent), and `"123456789012"` and
//! `arn:aws:iam::123456789012:root` are one [`Account`] ("The account ARN and the shortened
//! account ID behave the same way"). Matching reports *how* a principal matched, because an
//! account entry delegates to the account instead of granting its users anything
//! ([`Match::Account`]); Coffer's principals are roots, IAM users and anonymous callers, so role,
//! session, service, federated and canonical-user entries parse (they are valid AWS) and never
//! match. Wildcards inside a principal ARN are refused: "You cannot use a wildcard to match part
//! of a principal name or ARN".
//!
//! [`Everyone`]: PrincipalEntry::Everyone
//! [`Account`]: PrincipalEntry::Account

use super::document::Effect;
use super::eval::{Match, Principal, PrincipalKind};
use super::json::Json;
use super::{PolicyError, excerpt};

/// One compiled principal value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: every principal, anonymous ones included.
    Everyone,
    /// A 12-digit account id, written bare or as `arn:PARTITION:iam::ACCOUNT:root`.
    Account(String),
    /// `arn:PARTITION:iam::ACCOUNT:user/PATH/NAME`; compared exactly (the user name part is
    /// case-sensitive, as the Principal page notes).
    User { arn: String, account: String },
    /// An IAM user's unique id (`AIDA...`), which is what AWS shows in a policy after the
    /// named user was deleted; matches the principal's `user_id`.
    UserId(String),
    /// `arn:PARTITION:iam::ACCOUNT:role/...`.
    Role { arn: String, account: String },
    /// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    AssumedRole { arn: String, account: String },
    /// `arn:PARTITION:sts::ACCOUNT:federated-user/NAME`.
    FederatedUser { arn: String, account: String },
    /// `{"Service": "logging.s3.amazonaws.com"}`.
    Service(String),
    /// `{"Federated": "cognito-identity.amazonaws.com"}` or a SAML provider ARN.
    Federated(String),
    /// `{"CanonicalUser": "<64 hex digits>"}`.
    CanonicalUser(String),
}

/// A statement's `Principal` or `NotPrincipal`.
#[derive(Debug, Clone)]
pub struct Principals {
    negated: bool,
    entries: Vec<PrincipalEntry>,
}

impl Principals {
    /// True for `NotPrincipal`.
    pub fn is_not_principal(&self) -> bool {
        self.negated
    }

    pub fn entries(&self) -> &[PrincipalEntry] {
        &self.entries
    }

    /// Whether [`PrincipalEntry::Everyone`] is among the entries.
    pub fn names_everyone(&self) -> bool {
        self.entries.contains(&PrincipalEntry::Everyone)
    }

    pub(super) fn compile(value: Json, negated: bool) -> Result<Principals, PolicyError> {
        let mut entries = Vec::new();
        match value {
            Json::String(s) if s == "*" => entries.push(PrincipalEntry::Everyone),
            Json::Object(members) if !members.is_empty() => {
                for (kind, v) in members {
                    for s in principal_values(v)? {
                        entries.push(compile_entry(&kind, &s)?);
                    }
                }
            }
            _ => return Err(invalid("")),
        }
        Ok(Principals { negated, entries })
    }

    /// How `p` is matched, or `None` if the statement does not apply to it.
    ///
    /// `NotPrincipal` matches every principal it does not exclude, as [`Match::Direct`] (like
    /// `"*"`). Which entries exclude an IAM user is the documented subtlety: AWS "might
    /// validate the account first and then the user", so a `NotPrincipal` naming only the user
    /// "might deny access to the entire account". We take the reading that fails closed for
    /// each effect: under Deny a user escapes only if both its ARN and its account are listed;
    /// under Allow either one keeps the grant from reaching it.
    pub(super) fn matches(&self, p: &Principal<'_>, effect: Effect) -> Option<Match> {
        if self.negated {
            return (!self.excludes(p, effect)).then_some(Match::Direct);
        }
        let mut best: Option<Match> = None;
        for e in &self.entries {
            match entry_match(e, p) {
                Some(Match::Direct) => return Some(Match::Direct),
                Some(Match::Account) => best = Some(Match::Account),
                None => {}
            }
        }
        best
    }

    fn excludes(&self, p: &Principal<'_>, effect: Effect) -> bool {
        if self.names_everyone() {
            return true;
        }
        let account_listed = || {
            p.kind != PrincipalKind::Anonymous
                && self
                    .entries
                    .iter()
                    .any(|e| matches!(e, PrincipalEntry::Account(a) if a == p.account))
        };
        let user_listed = || {
            p.kind == PrincipalKind::User
                && self
                    .entries
                    .iter()
                    .any(|e| entry_match(e, p) == Some(Match::Direct))
        };
        match (p.kind, effect) {
            (PrincipalKind::Anonymous, _) => false,
            (PrincipalKind::Root, _) => account_listed(),
            (PrincipalKind::User, Effect::Deny) => account_listed() && user_listed(),
            (PrincipalKind::User, Effect::Allow) => account_listed() || user_listed(),
        }
    }
}

/// How one entry matches `p`.
fn entry_match(e: &PrincipalEntry, p: &Principal<'_>) -> Option<Match> {
    match (e, p.kind) {
        (PrincipalEntry::Everyone, _) => Some(Match::Direct),
        (_, PrincipalKind::Anonymous) => None,
        (PrincipalEntry::Account(a), PrincipalKind::Root) if a == p.account => Some(Match::Direct),
        (PrincipalEntry::Account(a), PrincipalKind::User) if a == p.account => Some(Match::Account),
        (PrincipalEntry::User { arn, .. }, PrincipalKind::User) if arn == p.arn => {
            Some(Match::Direct)
        }
        (PrincipalEntry::UserId(id), PrincipalKind::User) if id == p.user_id => Some(Match::Direct),
        _ => None,
    }
}

fn invalid(value: &str) -> PolicyError {
    if value.is_empty() {
        PolicyError::malformed("Invalid principal in policy")
    } else {
        PolicyError::malformed(format!("Invalid principal in policy: {}", excerpt(value)))
    }
}

/// A principal map value: a string or a non-empty array of strings.
fn principal_values(v: Json) -> Result<Vec<String>, PolicyError> {
    match v {
        Json::String(s) => Ok(vec![s]),
        Json::Array(items) if !items.is_empty() => items
            .into_iter()
            .map(|i| match i {
                Json::String(s) => Ok(s),
                _ => Err(invalid("")),
            })
            .collect(),
        _ => Err(invalid("")),
    }
}

pub(super) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn compile_entry(kind: &str, s: &str) -> Result<PrincipalEntry, PolicyError> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_graphic() && c != '*' && c != '?')
    };
    match kind {
        "AWS" => compile_aws(s),
        "Service" if plain(s) => Ok(PrincipalEntry::Service(s.to_owned())),
        "Federated" if plain(s) => Ok(PrincipalEntry::Federated(s.to_owned())),
        "CanonicalUser" if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(PrincipalEntry::CanonicalUser(s.to_ascii_lowercase()))
        }
        _ => Err(invalid(s)),
    }
}

/// An `AWS` principal value.
fn compile_aws(s: &str) -> Result<PrincipalEntry, PolicyError> {
    if s == "*" {
        return Ok(PrincipalEntry::Everyone);
    }
    if is_account_id(s) {
        return Ok(PrincipalEntry::Account(s.to_owned()));
    }
    if s.len() >= 16
        && s.starts_with("AIDA")
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Ok(PrincipalEntry::UserId(s.to_owned()));
    }
    if s.contains(['*', '?']) || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(s));
    }
    let mut f = s.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(""), Some(account), Some(resource)) =
        (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
    else {
        return Err(invalid(s));
    };
    let partition_ok = !partition.is_empty()
        && partition
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !partition_ok || !is_account_id(account) {
        return Err(invalid(s));
    }
    // A path-qualified name: `user/NAME` or `user/PATH/NAME`, every part non-empty.
    let named = |prefix: &str, min_parts: usize| {
        resource.strip_prefix(prefix).is_some_and(|rest| {
            let parts: Vec<&str> = rest.split('/').collect();
            parts.len() >= min_parts && parts.iter().all(|p| !p.is_empty())
        })
    };
    let arn = s.to_owned();
    let account = account.to_owned();
    match service {
        "iam" if resource == "root" => Ok(PrincipalEntry::Account(account)),
        "iam" if named("user/", 1) => Ok(PrincipalEntry::User { arn, account }),
        "iam" if named("role/", 1) => Ok(PrincipalEntry::Role { arn, account }),
        "sts" if named("assumed-role/", 2) => Ok(PrincipalEntry::AssumedRole { arn, account }),
        "sts" if named("federated-user/", 1) => Ok(PrincipalEntry::FederatedUser { arn, account }),
        _ => Err(invalid(s)),
    }
}
