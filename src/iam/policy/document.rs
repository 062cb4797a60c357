//! The compiled policy: [`Policy`], its [`Statement`]s and their `Action` and `Resource`
//! elements.
//!
//! Every type here is built only by the parser and is immutable afterwards; fields that would
//! let a caller construct an unchecked value stay private, and read access goes through methods
//! that expose what service-specific validation needs (the raw action and resource strings, the
//! condition keys, whether a statement is public). A `Policy` is an `Arc` around the parsed
//! document so that caches hand out clones for the cost of a reference count.

use std::sync::Arc;

use super::condition::Condition;
use super::pattern::{Tok, arn_match, glob_str, split_arn, wild};
use super::principal::Principals;
use super::vars::{Template, VarSource};
use super::{ParseOptions, PolicyError, PolicyKind, excerpt};

/// A statement's `Effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

/// The policy language version (`Version`). A document without one is read by the rules of
/// `2008-10-17` (policy variables are literal text), as the IAM User Guide documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2008_10_17 => "2008-10-17",
            Version::V2012_10_17 => "2012-10-17",
        }
    }
}

/// A parsed, checked policy document. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(super) inner: Arc<PolicyInner>,
}

#[derive(Debug)]
pub(super) struct PolicyInner {
    pub(super) kind: PolicyKind,
    pub(super) version: Option<Version>,
    pub(super) id: Option<String>,
    pub(super) statements: Vec<Statement>,
}

impl Policy {
    /// Parses and compiles `doc`; every problem is an error, none is deferred to evaluation.
    pub fn parse(doc: &str, opts: &ParseOptions) -> Result<Policy, PolicyError> {
        super::parse::parse(doc, opts).map(|inner| Policy {
            inner: Arc::new(inner),
        })
    }

    /// The statements in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.inner.statements
    }

    /// The kind it was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.inner.kind
    }

    /// `Version` as written; `None` if absent.
    pub fn version(&self) -> Option<Version> {
        self.inner.version
    }

    /// `Id` as written.
    pub fn id(&self) -> Option<&str> {
        self.inner.id.as_deref()
    }

    /// Checks every condition key against the caller's list (for example
    /// `|k| is_known_key(Service::S3, k)`); the first unknown key is a Malformed error.
    pub fn validate_condition_keys(&self, known: &dyn Fn(&str) -> bool) -> Result<(), PolicyError> {
        for st in self.statements() {
            for c in &st.conditions {
                if !known(c.key()) {
                    return Err(PolicyError::malformed(format!(
                        "Policy has an invalid condition key: {}",
                        excerpt(c.key())
                    )));
                }
            }
        }
        Ok(())
    }
}

/// One compiled statement.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Actions,
    pub resources: Resources,
    /// `Principal` or `NotPrincipal`; always present in a resource policy, never in an
    /// identity policy.
    pub principals: Option<Principals>,
    /// All must hold for the statement to apply.
    pub conditions: Vec<Condition>,
}

impl Statement {
    /// Whether the statement names everyone: `Principal` `"*"` or `{"AWS": "*"}` among its
    /// principals, or a `NotPrincipal` (which applies to every principal it does not list,
    /// anonymous ones included: the NotPrincipal page warns exactly of that).
    pub fn grants_everyone(&self) -> bool {
        self.principals
            .as_ref()
            .is_some_and(|p| p.is_not_principal() || p.names_everyone())
    }

    /// The condition keys as written, in order, repeats kept.
    pub fn condition_keys(&self) -> Vec<&str> {
        self.conditions.iter().map(Condition::key).collect()
    }

    /// Whether `f` holds for every `Action` / `NotAction` string as written.
    pub fn actions_all_match(&self, f: impl Fn(&str) -> bool) -> bool {
        self.actions.patterns().iter().all(|a| f(a.as_str()))
    }

    /// Whether `f` holds for every `Resource` / `NotResource` string as written.
    pub fn resources_all_match(&self, f: impl Fn(&str) -> bool) -> bool {
        self.resources.patterns().iter().all(|r| f(r.as_str()))
    }
}

/// `Action` or `NotAction`.
#[derive(Debug, Clone)]
pub struct Actions {
    pub(super) negated: bool,
    pub(super) patterns: Vec<ActionPattern>,
}

impl Actions {
    /// True for `NotAction`.
    pub fn is_not_action(&self) -> bool {
        self.negated
    }

    pub fn patterns(&self) -> &[ActionPattern] {
        &self.patterns
    }

    /// Whether the element covers `action`, given lowercased.
    pub(super) fn covers(&self, action: &str) -> bool {
        self.patterns.iter().any(|p| glob_str(&p.tokens, action)) != self.negated
    }
}

/// One action string: `*` or `service:Name` with `*`/`?` wildcards, matched without regard
/// to case (action names are case-insensitive in AWS).
#[derive(Debug, Clone)]
pub struct ActionPattern {
    raw: String,
    /// Of the lowercased text.
    tokens: Vec<Tok>,
}

impl ActionPattern {
    pub(super) fn compile(s: &str) -> Result<ActionPattern, PolicyError> {
        if s != "*" {
            let prefix_error = || {
                PolicyError::malformed(format!(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.: {}",
                    excerpt(s)
                ))
            };
            let (service, name) = s.split_once(':').ok_or_else(prefix_error)?;
            if service.is_empty()
                || !service
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(prefix_error());
            }
            if name.is_empty() || name.chars().any(|c| c == ':' || c.is_whitespace()) {
                return Err(PolicyError::malformed(format!(
                    "Action has an invalid name: {}",
                    excerpt(s)
                )));
            }
        }
        Ok(ActionPattern {
            raw: s.to_owned(),
            tokens: wild(&s.to_lowercase()),
        })
    }

    /// The string as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The service prefix (`s3`), `None` for `*`.
    pub fn service(&self) -> Option<&str> {
        self.raw.split_once(':').map(|(s, _)| s)
    }

    /// Whether this pattern covers `action` (case-insensitive).
    pub fn matches(&self, action: &str) -> bool {
        glob_str(&self.tokens, &action.to_lowercase())
    }
}

/// `Resource` or `NotResource`.
#[derive(Debug, Clone)]
pub struct Resources {
    pub(super) negated: bool,
    pub(super) patterns: Vec<ResourcePattern>,
}

impl Resources {
    /// True for `NotResource`.
    pub fn is_not_resource(&self) -> bool {
        self.negated
    }

    pub fn patterns(&self) -> &[ResourcePattern] {
        &self.patterns
    }

    /// Whether the element covers `resource`. A pattern whose variable has no value matches
    /// nothing, so under `NotResource` it excludes nothing ("Policy variables with no value").
    pub(super) fn covers(&self, resource: &str, src: &dyn VarSource) -> bool {
        self.patterns.iter().any(|p| p.matches(resource, src)) != self.negated
    }
}

/// One resource string: `*`, or an ARN with wildcards in any field but the service, and
/// policy variables in the resource field (after the fifth colon) only.
#[derive(Debug, Clone)]
pub struct ResourcePattern {
    raw: String,
    /// `None` for `*`.
    arn: Option<Template>,
    /// What every matching ARN starts with ([`Template::literal_prefix`]): most patterns of
    /// most statements are told apart from a request's resource by this alone.
    prefix: String,
}

impl ResourcePattern {
    pub(super) fn compile(s: &str, vars: bool) -> Result<ResourcePattern, PolicyError> {
        if s == "*" {
            return Ok(ResourcePattern {
                raw: s.to_owned(),
                arn: None,
                prefix: String::new(),
            });
        }
        let fields = split_arn(s).filter(|f| f[0] == "arn").ok_or_else(|| {
            PolicyError::malformed(format!(
                "Resource {} must be in ARN format or \"*\".",
                excerpt(s)
            ))
        })?;
        let service = fields[2];
        if service.is_empty() || service.contains(['*', '?', '$']) {
            return Err(PolicyError::malformed(format!(
                "Resource vendor must be fully qualified and cannot contain regexes: {}",
                excerpt(s)
            )));
        }
        // "You can use a policy variable in the Resource element, but only in the resource
        // portion of the ARN" (IAM User Guide, Variables: Resource element).
        if vars && fields[..5].iter().any(|f| f.contains("${")) {
            return Err(PolicyError::malformed(format!(
                "Policy variables are allowed only in the resource part of an ARN: {}",
                excerpt(s)
            )));
        }
        let arn = Template::compile(s, vars)
            .map_err(|m| PolicyError::malformed(format!("{m} in resource {}", excerpt(s))))?;
        Ok(ResourcePattern {
            raw: s.to_owned(),
            prefix: arn.literal_prefix(),
            arn: Some(arn),
        })
    }

    /// The string as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// True for `*`.
    pub fn is_any(&self) -> bool {
        self.arn.is_none()
    }

    /// The ARN's service field (`s3`); `None` for `*`.
    pub fn service(&self) -> Option<&str> {
        self.arn.as_ref()?;
        split_arn(&self.raw).map(|f| f[2])
    }

    /// Whether the string holds policy variables.
    pub fn has_variables(&self) -> bool {
        self.arn.as_ref().is_some_and(Template::has_vars)
    }

    pub(super) fn matches(&self, resource: &str, src: &dyn VarSource) -> bool {
        match &self.arn {
            None => true,
            Some(_) if !resource.starts_with(self.prefix.as_str()) => false,
            Some(t) => t.tokens(src).is_some_and(|toks| arn_match(&toks, resource)),
            // (`tokens` borrows the compiled tokens of a template without variables.)
        }
    }
}
