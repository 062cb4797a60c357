//! The request side: who asks ([`Principal`]), for what ([`Request`], [`Context`]), one
//! policy's verdict ([`Policy::evaluate`]) and AWS's evaluation logic across policies
//! ([`decide`]).
//!
//! Evaluation is total: every request gets an [`Outcome`], nothing here can fail, because all
//! checking happened at parse time. The principal-describing global keys (`aws:username`,
//! `aws:userid`, `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`) are derived
//! from the [`Principal`] and take precedence over the same keys in the [`Context`]: they
//! describe the authenticated caller, and no request header may restate them. Their values
//! follow the IAM User Guide's table ("Request information that you can use for policy
//! variables"): root has no `aws:username` and its `aws:userid` is the account id; anonymous
//! callers have `aws:userid` and `aws:PrincipalAccount` `anonymous`, `aws:PrincipalType`
//! `Anonymous`, and no `aws:PrincipalArn`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::document::{Effect, Policy};
use super::principal::is_account_id;
use super::vars::VarSource;

/// What kind of caller a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// An account's root user.
    Root,
    /// An IAM user.
    User,
    /// An unsigned request.
    Anonymous,
}

/// The caller, borrowed from the authenticator's own record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    pub kind: PrincipalKind,
    /// 12 digits; empty for anonymous.
    pub account: &'a str,
    /// `arn:aws:iam::ACCOUNT:root`, `arn:aws:iam::ACCOUNT:user/PATH/NAME`, or `*` (anonymous).
    pub arn: &'a str,
    /// `AIDA...` for a user, the account id for root.
    pub user_id: &'a str,
    /// The user's friendly name; `None` for root and anonymous.
    pub username: Option<&'a str>,
}

/// One authorization question.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal<'a>,
    /// `service:Action`, e.g. `s3:GetObject` (matched case-insensitively).
    pub action: &'a str,
    /// The resource's ARN (matched case-sensitively).
    pub resource: &'a str,
    pub context: &'a Context,
}

/// The request context: condition keys and their values. Keys are case-insensitive, as AWS
/// documents for condition key names (tag keys inside `aws:RequestTag/...` included); values
/// are kept as given. A key with an empty value list is a null data set, treated as missing
/// by the operators (and as present by nothing). Values of keys tested with `BinaryEquals` are
/// base64 text; with the Date operators, ISO 8601 or epoch seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: BTreeMap<String, Vec<String>>,
    /// Keys this context does not set are looked up here: a request's keys are filled once
    /// and shared by each permission it needs, without copying them.
    base: Option<Arc<Context>>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty context over `base`: what it sets hides `base`'s value of the same key.
    pub fn over(base: Arc<Context>) -> Self {
        Context {
            entries: BTreeMap::new(),
            base: Some(base),
        }
    }

    /// Sets `key` to the single `value`, replacing what it had.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.entries.insert(lower(key), vec![value.into()]);
    }

    /// Sets the multivalued `key` (such as `aws:TagKeys`), replacing what it had.
    pub fn insert_many(&mut self, key: &str, values: Vec<String>) {
        self.entries.insert(lower(key), values);
    }

    /// The values of `key`, any case.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.get_lower(&lower(key))
    }

    /// Moves every key of `other` (its base's included) in, replacing keys both have.
    pub fn extend(&mut self, other: Context) {
        if other.base.is_none() {
            self.entries.extend(other.entries);
            return;
        }
        for (k, v) in other.iter() {
            self.entries.insert(k.to_string(), v.to_vec());
        }
    }

    /// The keys (lowercased) and their values, in key order, the base's included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        let mut all: BTreeMap<&str, &[String]> = BTreeMap::new();
        let mut layer = Some(self);
        while let Some(c) = layer {
            for (k, v) in &c.entries {
                all.entry(k.as_str()).or_insert(v.as_slice());
            }
            layer = c.base.as_deref();
        }
        all.into_iter()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.base.as_ref().is_none_or(|b| b.is_empty())
    }

    fn get_lower(&self, key: &str) -> Option<&[String]> {
        match self.entries.get(key) {
            Some(v) => Some(v.as_slice()),
            None => self.base.as_ref()?.get_lower(key),
        }
    }
}

/// A condition key's lookup form: keys are case-insensitive.
fn lower(key: &str) -> String {
    if key.is_ascii() {
        key.to_ascii_lowercase()
    } else {
        key.to_lowercase()
    }
}

/// How a policy's Allow reached the principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Match {
    /// Named exactly (user ARN or id), by `"*"` / `{"AWS": "*"}` or `NotPrincipal`, the root
    /// by its own account, or any statement of an identity policy.
    Direct,
    /// The principal's account was named (`"123456789012"` or `arn:aws:iam::...:root`) and
    /// the principal is one of its users: AWS reads this as delegation to the account, which
    /// must still grant the user through an identity policy.
    Account,
}

/// One policy's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A Deny statement applies (naming an account denies all of its principals).
    Deny,
    /// An Allow statement applies and no Deny does; `via` is the strongest match found.
    Allow { via: Match },
    /// No statement applies.
    NotApplicable,
}

/// Whose rules [`decide`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    S3,
    Kms,
    Iam,
}

/// Which policy produced an explicit deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// The identity policy at this index of `decide`'s `identity` slice.
    Identity(usize),
    /// The resource (bucket or key) policy.
    Resource,
}

/// Why [`decide`] answered as it did; for logs and tests, safe to show the caller's admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A Deny statement applied.
    ExplicitDeny(PolicySource),
    /// The root user of the resource's own account.
    AccountRoot,
    /// Same account: an identity policy allowed.
    IdentityPolicy,
    /// Same account or anonymous: the resource policy allowed the principal directly.
    ResourcePolicy,
    /// Cross account: the resource policy allowed the caller or its account, and the caller's
    /// side (root implicitly, a user by identity policy) allowed too.
    CrossAccount,
    /// KMS: the key policy allowed the principal directly.
    KeyPolicy,
    /// KMS: the key policy delegated to the principal's account ("Enable IAM policies") and
    /// the caller is its root or an identity policy allowed.
    KeyPolicyDelegation,
    /// KMS: the key has no policy, so nothing is allowed.
    NoKeyPolicy,
    /// The resource or key policy allowed, but the caller's identity policies did not (a
    /// user of a delegated or other account).
    IdentityAllowMissing,
    /// An identity policy allowed, but the resource or key policy, which must allow here
    /// (cross account, or any KMS use), did not.
    ResourceAllowMissing,
    /// The service accepts signed requests only (KMS, IAM).
    AnonymousNotAccepted,
    /// A root or user principal without a 12-digit account id.
    InvalidPrincipal,
    /// Nothing allowed: the default, implicit deny.
    ImplicitDeny,
}

/// The answer of [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    pub allowed: bool,
    /// Set when a Deny statement applied (as opposed to nothing allowing).
    pub explicit_deny: bool,
    pub reason: Reason,
}

impl Decision {
    fn allow(reason: Reason) -> Decision {
        Decision {
            allowed: true,
            explicit_deny: false,
            reason,
        }
    }

    fn deny(reason: Reason) -> Decision {
        Decision {
            allowed: false,
            explicit_deny: matches!(reason, Reason::ExplicitDeny(_)),
            reason,
        }
    }
}

/// A request's values for condition keys and policy variables.
pub(super) struct Env<'a> {
    principal: &'a Principal<'a>,
    context: &'a Context,
}

/// The values of one key.
#[derive(Debug, Clone, Copy)]
pub(super) enum Vals<'a> {
    One(&'a str),
    Many(&'a [String]),
}

impl<'a> Vals<'a> {
    pub(super) fn is_empty(self) -> bool {
        matches!(self, Vals::Many([]))
    }

    pub(super) fn iter(self) -> impl Iterator<Item = &'a str> {
        let (one, many): (Option<&'a str>, &'a [String]) = match self {
            Vals::One(s) => (Some(s), &[]),
            Vals::Many(v) => (None, v),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }
}

impl<'a> Env<'a> {
    pub(super) fn new(principal: &'a Principal<'a>, context: &'a Context) -> Env<'a> {
        Env { principal, context }
    }

    /// The values of `key` (lowercase): derived from the principal for the keys that
    /// describe it, else from the context.
    pub(super) fn values(&self, key: &str) -> Option<Vals<'a>> {
        let p = self.principal;
        let derived = |root: Option<&'a str>, user: Option<&'a str>, anonymous: Option<&'a str>| {
            match p.kind {
                PrincipalKind::Root => root,
                PrincipalKind::User => user,
                PrincipalKind::Anonymous => anonymous,
            }
            .map(Vals::One)
        };
        match key {
            "aws:username" => derived(None, p.username, None),
            "aws:userid" => derived(Some(p.user_id), Some(p.user_id), Some("anonymous")),
            "aws:principalaccount" => derived(Some(p.account), Some(p.account), Some("anonymous")),
            "aws:principalarn" => derived(Some(p.arn), Some(p.arn), None),
            "aws:principaltype" => derived(Some("Account"), Some("User"), Some("Anonymous")),
            _ => self.context.get_lower(key).map(Vals::Many),
        }
    }
}

impl VarSource for Env<'_> {
    fn single(&self, key: &str) -> Option<&str> {
        let mut it = self.values(key)?.iter();
        let first = it.next()?;
        it.next().is_none().then_some(first)
    }
}

impl Policy {
    /// This policy's verdict on `req`: Deny if any Deny statement applies, else Allow (with
    /// the strongest principal match among the applicable Allow statements), else
    /// NotApplicable. A statement applies when its principal element (resource policies),
    /// action, resource and every condition match.
    pub fn evaluate(&self, req: &Request<'_>) -> Outcome {
        self.evaluate_lower(req, &req.action.to_lowercase())
    }

    /// [`Policy::evaluate`] with the action already lowercased (once for all policies).
    fn evaluate_lower(&self, req: &Request<'_>, action: &str) -> Outcome {
        let env = Env::new(req.principal, req.context);
        let mut allowed: Option<Match> = None;
        for st in self.statements() {
            let via = match &st.principals {
                Some(p) => match p.matches(req.principal, st.effect) {
                    Some(m) => m,
                    None => continue,
                },
                None => Match::Direct,
            };
            if !st.actions.covers(action)
                || !st.resources.covers(req.resource, &env)
                || !st.conditions.iter().all(|c| c.holds(&env))
            {
                continue;
            }
            match st.effect {
                Effect::Deny => return Outcome::Deny,
                Effect::Allow => {
                    if allowed != Some(Match::Direct) {
                        allowed = Some(via);
                    }
                }
            }
        }
        allowed.map_or(Outcome::NotApplicable, |via| Outcome::Allow { via })
    }
}

/// AWS's evaluation logic for one request, in the order the IAM User Guide gives it ("Policy
/// evaluation logic", "Cross-account policy evaluation logic") and with the KMS rules from
/// the KMS Developer Guide ("Default key policy"):
///
/// 1. A Deny in any policy denies (`explicit_deny`).
/// 2. Anonymous callers are allowed only by a resource policy allowing everyone
///    ([`Match::Direct`] via `"*"`); KMS and IAM accept signed requests only.
/// 3. The caller's own side allows when it is a root user (a root has every permission in its
///    own account, so its identity side is implicit) or when an identity policy allows.
/// 4. S3 and IAM, same account: the caller's side, or a resource policy naming the principal
///    directly. A resource Allow via [`Match::Account`] delegates to the account: it allows
///    that account's root (already allowed by 3) and nobody else by itself.
/// 5. KMS, any account: the key policy is the gate (no key policy, no access). It allows a
///    same-account principal it names directly; a principal it reaches through its account
///    ("Enable IAM policies"), or any principal of another account, also needs the caller's
///    side. Identity policies alone never allow a key's use.
/// 6. S3 and IAM, cross account: the resource policy must allow (directly or via the caller's
///    account) and the caller's side must allow.
/// 7. Otherwise, implicit deny.
pub fn decide(
    req: &Request<'_>,
    identity: &[&Policy],
    resource: Option<&Policy>,
    resource_account: &str,
    service: Service,
) -> Decision {
    let action = req.action.to_lowercase();
    let mut identity_allows = false;
    for (i, p) in identity.iter().enumerate() {
        match p.evaluate_lower(req, &action) {
            Outcome::Deny => {
                return Decision::deny(Reason::ExplicitDeny(PolicySource::Identity(i)));
            }
            Outcome::Allow { .. } => identity_allows = true,
            Outcome::NotApplicable => {}
        }
    }
    let resource_allow = match resource.map(|p| p.evaluate_lower(req, &action)) {
        Some(Outcome::Deny) => return Decision::deny(Reason::ExplicitDeny(PolicySource::Resource)),
        Some(Outcome::Allow { via }) => Some(via),
        Some(Outcome::NotApplicable) | None => None,
    };
    let p = req.principal;
    match p.kind {
        PrincipalKind::Anonymous if service != Service::S3 => {
            return Decision::deny(Reason::AnonymousNotAccepted);
        }
        PrincipalKind::Anonymous => {
            return if resource_allow == Some(Match::Direct) {
                Decision::allow(Reason::ResourcePolicy)
            } else {
                Decision::deny(Reason::ImplicitDeny)
            };
        }
        PrincipalKind::Root | PrincipalKind::User if !is_account_id(p.account) => {
            return Decision::deny(Reason::InvalidPrincipal);
        }
        PrincipalKind::Root | PrincipalKind::User => {}
    }
    let root = p.kind == PrincipalKind::Root;
    let caller_side = root || identity_allows;
    let same_account = p.account == resource_account;
    let missing = |resource_side: bool| {
        if resource_side {
            Reason::IdentityAllowMissing
        } else if identity_allows {
            Reason::ResourceAllowMissing
        } else {
            Reason::ImplicitDeny
        }
    };
    match service {
        Service::S3 | Service::Iam if same_account => {
            if root {
                Decision::allow(Reason::AccountRoot)
            } else if identity_allows {
                Decision::allow(Reason::IdentityPolicy)
            } else if resource_allow == Some(Match::Direct) {
                Decision::allow(Reason::ResourcePolicy)
            } else {
                Decision::deny(missing(resource_allow.is_some()))
            }
        }
        Service::S3 | Service::Iam => {
            if resource_allow.is_some() && caller_side {
                Decision::allow(Reason::CrossAccount)
            } else {
                Decision::deny(missing(resource_allow.is_some()))
            }
        }
        Service::Kms => {
            if resource.is_none() {
                return Decision::deny(Reason::NoKeyPolicy);
            }
            match resource_allow {
                Some(Match::Direct) if same_account => Decision::allow(Reason::KeyPolicy),
                Some(Match::Account) if caller_side => Decision::allow(Reason::KeyPolicyDelegation),
                Some(Match::Direct) if caller_side => Decision::allow(Reason::CrossAccount),
                Some(_) => Decision::deny(Reason::IdentityAllowMissing),
                None => Decision::deny(missing(false)),
            }
        }
    }
}
