//! From document text to the compiled types, following the policy grammar ("Grammar of the
//! IAM JSON policy language") strictly: unknown elements, wrong JSON types, empty lists and
//! contradictory pairs (`Action` with `NotAction`) are errors, not ignored, because a policy
//! that means something other than what its author wrote is worse than one refused.
//!
//! Order of checks, cheapest first: size (before any parsing, so a huge document costs one
//! pass), the IAM character set for identity policies, JSON syntax, then the elements.
//! Messages borrow AWS's wording where AWS has a known one ("Invalid principal in policy",
//! "Invalid Condition type : X", "Policy document should not specify a principal.").

use super::condition::compile_block;
use super::document::{
    ActionPattern, Actions, Effect, PolicyInner, ResourcePattern, Resources, Statement, Version,
};
use super::json::{self, Json};
use super::principal::Principals;
use super::{MAX_DOCUMENT_BYTES, ParseOptions, PolicyError, PolicyKind, excerpt};

pub(super) fn parse(doc: &str, opts: &ParseOptions) -> Result<PolicyInner, PolicyError> {
    check_size(doc, opts.max_len)?;
    if opts.kind == PolicyKind::Identity {
        check_iam_charset(doc)?;
    }
    let tree = json::parse(doc)
        .map_err(|e| PolicyError::malformed(format!("Syntax errors in policy: {e}")))?;
    let Json::Object(members) = tree else {
        return Err(PolicyError::malformed(
            "Policy document must be a JSON object",
        ));
    };
    let mut version = None;
    let mut id = None;
    let mut statement = None;
    for (name, value) in members {
        match name.as_str() {
            "Version" => version = Some(parse_version(value)?),
            "Id" => id = Some(string(value, "Id")?),
            "Statement" => statement = Some(value),
            other => return Err(unknown_field(other)),
        }
    }
    let vars = version == Some(Version::V2012_10_17);
    let list = match statement {
        None => return Err(PolicyError::malformed("Missing required field Statement")),
        Some(s @ Json::Object(_)) => vec![s],
        Some(Json::Array(items)) if !items.is_empty() => items,
        Some(Json::Array(_)) => {
            return Err(PolicyError::malformed(
                "Statement must hold at least one statement",
            ));
        }
        Some(other) => {
            return Err(PolicyError::malformed(format!(
                "Statement must be an object or an array of objects, not {}",
                other.type_name()
            )));
        }
    };
    let mut statements = Vec::with_capacity(list.len());
    for item in list {
        statements.push(parse_statement(item, opts.kind, vars)?);
    }
    if opts.kind == PolicyKind::Identity {
        // "In IAM, the Sid value must be unique within a JSON policy."
        let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
        sids.sort_unstable();
        if let Some(pair) = sids.windows(2).find(|w| w.first() == w.get(1)) {
            return Err(PolicyError::malformed(format!(
                "Statement IDs (SID) in a single policy must be unique: {}",
                excerpt(pair.first().copied().unwrap_or_default())
            )));
        }
    }
    Ok(PolicyInner {
        kind: opts.kind,
        version,
        id,
        statements,
    })
}

/// `max_len` in characters, whitespace included; [`MAX_DOCUMENT_BYTES`] whatever it says.
fn check_size(doc: &str, max_len: usize) -> Result<(), PolicyError> {
    if doc.len() > MAX_DOCUMENT_BYTES {
        return Err(PolicyError::too_large(format!(
            "Policy document exceeds the maximum of {MAX_DOCUMENT_BYTES} bytes"
        )));
    }
    // Byte length bounds character count from above: count only when it could matter.
    if doc.len() > max_len && doc.chars().count() > max_len {
        return Err(PolicyError::too_large(format!(
            "Policy document exceeds the maximum length of {max_len} characters"
        )));
    }
    Ok(())
}

/// "Policy documents can contain only the following Unicode characters: horizontal tab
/// (U+0009), linefeed (U+000A), carriage return (U+000D), and characters in the range U+0020
/// to U+00FF" (IAM User Guide, "IAM and AWS STS quotas").
fn check_iam_charset(doc: &str) -> Result<(), PolicyError> {
    match doc
        .chars()
        .find(|&c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        Some(c) => Err(PolicyError::malformed(format!(
            "Policy document contains a character IAM does not allow: U+{:04X}",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

fn unknown_field(name: &str) -> PolicyError {
    PolicyError::malformed(format!("Unknown field {}", excerpt(name)))
}

fn parse_version(v: Json) -> Result<Version, PolicyError> {
    match v {
        Json::String(s) if s == "2012-10-17" => Ok(Version::V2012_10_17),
        Json::String(s) if s == "2008-10-17" => Ok(Version::V2008_10_17),
        Json::String(s) => Err(PolicyError::malformed(format!(
            "The policy failed legacy parsing: unsupported Version {}",
            excerpt(&s)
        ))),
        other => Err(PolicyError::malformed(format!(
            "Version must be a string, not {}",
            other.type_name()
        ))),
    }
}

fn string(v: Json, what: &str) -> Result<String, PolicyError> {
    match v {
        Json::String(s) => Ok(s),
        other => Err(PolicyError::malformed(format!(
            "{what} must be a string, not {}",
            other.type_name()
        ))),
    }
}

/// A string or a non-empty array of strings ("Arrays can take one or more values").
fn string_list(v: Json, what: &str) -> Result<Vec<String>, PolicyError> {
    let bad = |found: &str| {
        PolicyError::malformed(format!(
            "{what} must be a string or a non-empty array of strings, not {found}"
        ))
    };
    match v {
        Json::String(s) => Ok(vec![s]),
        Json::Array(items) if items.is_empty() => Err(bad("an empty array")),
        Json::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Json::String(s) => Ok(s),
                other => Err(bad(&format!("an array holding {}", other.type_name()))),
            })
            .collect(),
        other => Err(bad(other.type_name())),
    }
}

/// Sets `slot` to `(negated, value)` unless its positive or negative twin already did.
fn set_once(
    slot: &mut Option<(bool, Json)>,
    negated: bool,
    value: Json,
    pair: &str,
) -> Result<(), PolicyError> {
    if slot.is_some() {
        return Err(PolicyError::malformed(format!(
            "Statement cannot have both {pair} and Not{pair}"
        )));
    }
    *slot = Some((negated, value));
    Ok(())
}

fn parse_statement(item: Json, kind: PolicyKind, vars: bool) -> Result<Statement, PolicyError> {
    let Json::Object(members) = item else {
        return Err(PolicyError::malformed(format!(
            "Each statement must be an object, not {}",
            item.type_name()
        )));
    };
    let mut sid = None;
    let mut effect = None;
    let mut action = None;
    let mut resource = None;
    let mut principal = None;
    let mut condition = None;
    for (name, value) in members {
        match name.as_str() {
            "Sid" => sid = Some(parse_sid(value, kind)?),
            "Effect" => effect = Some(parse_effect(value)?),
            "Action" => set_once(&mut action, false, value, "Action")?,
            "NotAction" => set_once(&mut action, true, value, "Action")?,
            "Resource" => set_once(&mut resource, false, value, "Resource")?,
            "NotResource" => set_once(&mut resource, true, value, "Resource")?,
            "Principal" => set_once(&mut principal, false, value, "Principal")?,
            "NotPrincipal" => set_once(&mut principal, true, value, "Principal")?,
            "Condition" => condition = Some(value),
            other => return Err(unknown_field(other)),
        }
    }
    let effect = effect.ok_or_else(|| PolicyError::malformed("Missing required field Effect"))?;
    let (negated, value) =
        action.ok_or_else(|| PolicyError::malformed("Missing required field Action"))?;
    let actions = Actions {
        negated,
        patterns: string_list(value, "Action")?
            .iter()
            .map(|s| ActionPattern::compile(s))
            .collect::<Result<_, _>>()?,
    };
    let (negated, value) =
        resource.ok_or_else(|| PolicyError::malformed("Missing required field Resource"))?;
    let resources = Resources {
        negated,
        patterns: string_list(value, "Resource")?
            .iter()
            .map(|s| ResourcePattern::compile(s, vars))
            .collect::<Result<_, _>>()?,
    };
    let principals = match (kind, principal) {
        (PolicyKind::Identity, None) => None,
        (PolicyKind::Identity, Some(_)) => {
            return Err(PolicyError::malformed(
                "Policy document should not specify a principal.",
            ));
        }
        (PolicyKind::Resource, None) => {
            return Err(PolicyError::malformed("Missing required field Principal"));
        }
        (PolicyKind::Resource, Some((negated, value))) => {
            Some(Principals::compile(value, negated)?)
        }
    };
    let conditions = match condition {
        None => Vec::new(),
        Some(c) => compile_block(c, vars)?,
    };
    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        principals,
        conditions,
    })
}

/// IAM allows only `[A-Za-z0-9]` ("Sid" element); resource policies allow more (S3's own
/// examples use spaces and periods), so there any string is kept.
fn parse_sid(v: Json, kind: PolicyKind) -> Result<String, PolicyError> {
    let sid = string(v, "Sid")?;
    if kind == PolicyKind::Identity && !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(PolicyError::malformed(format!(
            "Statement IDs (SID) must be alpha-numeric: {}",
            excerpt(&sid)
        )));
    }
    Ok(sid)
}

fn parse_effect(v: Json) -> Result<Effect, PolicyError> {
    match v {
        Json::String(s) if s == "Allow" => Ok(Effect::Allow),
        Json::String(s) if s == "Deny" => Ok(Effect::Deny),
        Json::String(s) => Err(PolicyError::malformed(format!(
            "Invalid effect: {}",
            excerpt(&s)
        ))),
        other => Err(PolicyError::malformed(format!(
            "Effect must be a string, not {}",
            other.type_name()
        ))),
    }
}
