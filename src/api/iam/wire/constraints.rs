//! The model constraints of every request member (IAM API Reference / the IAM service model),
//! and the checker that applies them with AWS's messages.
//!
//! AWS validates a request in two stages, and so does [`Checker`]: a value that cannot be read
//! as its type at all (`MaxItems=abc`) fails at once; otherwise every member is checked and
//! every violation is collected into one `ValidationError` ("2 validation errors detected:
//! ...; ..."), in the order of the shape's members. A failure that depends on the checked
//! values together (duplicate tag keys, `InvalidInput`) is reported only when each value passed.
//!
//! Patterns are AWS's regular expressions, matched in full (as Java's `matches` does), written
//! out by hand: each is a character class or a small sequence of them, and hand-written
//! matchers keep this module free of a regex engine. The `*_PATTERN` strings are what the
//! messages quote, exactly as the model spells them. Lengths count characters (code points).

use super::error::{ErrorCode, WireError};
use super::form::Params;

/// The shortest value of most string members (names, paths, markers, documents, tag keys).
pub const MIN_STRING_LEN: usize = 1;
/// The longest user name CreateUser, AttachUserPolicy, DetachUserPolicy and
/// ListAttachedUserPolicies accept (`userNameType`).
pub const USER_NAME_MAX_LEN: usize = 64;
/// The longest user name the operations on an existing user accept (`existingUserNameType`:
/// GetUser, DeleteUser, the access key and inline policy operations).
pub const EXISTING_USER_NAME_MAX_LEN: usize = 128;
/// The longest policy name (`policyNameType`).
pub const POLICY_NAME_MAX_LEN: usize = 128;
/// The longest path or path prefix (`pathType`, `pathPrefixType`, `policyPathType`).
pub const PATH_MAX_LEN: usize = 512;
/// The shortest ARN (`arnType`).
pub const ARN_MIN_LEN: usize = 20;
/// The longest ARN (`arnType`).
pub const ARN_MAX_LEN: usize = 2048;
/// The shortest access key ID (`accessKeyIdType`).
pub const ACCESS_KEY_ID_MIN_LEN: usize = 16;
/// The longest access key ID (`accessKeyIdType`).
pub const ACCESS_KEY_ID_MAX_LEN: usize = 128;
/// The longest pagination marker (`markerType`).
pub const MARKER_MAX_LEN: usize = 320;
/// The smallest `MaxItems` (`maxItemsType`).
pub const MAX_ITEMS_MIN: i32 = 1;
/// The largest `MaxItems` (`maxItemsType`).
pub const MAX_ITEMS_MAX: i32 = 1000;
/// `MaxItems` when the request has none (AWS: 100).
pub const MAX_ITEMS_DEFAULT: u16 = 100;
/// The longest policy document at the wire, in characters (`policyDocumentType`). The tighter
/// content quotas (2,048 for a user's inline policies together, 6,144 for a managed policy)
/// are the store's to enforce.
pub const POLICY_DOCUMENT_MAX_LEN: usize = 131_072;
/// The longest managed policy description (`policyDescriptionType`; it may be empty).
pub const DESCRIPTION_MAX_LEN: usize = 1000;
/// The most tags one CreateUser or CreatePolicy may carry (`tagListType`).
pub const MAX_TAGS: usize = 50;
/// The longest tag key (`tagKeyType`).
pub const TAG_KEY_MAX_LEN: usize = 128;
/// The longest tag value (`tagValueType`; it may be empty).
pub const TAG_VALUE_MAX_LEN: usize = 256;

/// User and policy names (`userNameType`, `existingUserNameType`, `policyNameType`).
/// `\w` is ASCII here, as in Java without `UNICODE_CHARACTER_CLASS`.
pub const NAME_PATTERN: &str = r"[\w+=,.@-]+";
/// A user's path (`pathType`): `/`, or `/.../` of printable ASCII.
pub const PATH_PATTERN: &str = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)";
/// ListUsers' `PathPrefix` (`pathPrefixType`).
pub const PATH_PREFIX_PATTERN: &str = r"\u002F[\u0021-\u007F]*";
/// A managed policy's path, and the policy listings' `PathPrefix` (`policyPathType`).
pub const POLICY_PATH_PATTERN: &str = r"((/[A-Za-z0-9\.,\+@=_-]+)*)/";
/// An access key ID (`accessKeyIdType`).
pub const ACCESS_KEY_ID_PATTERN: &str = r"[\w]+";
/// A pagination marker (`markerType`).
pub const MARKER_PATTERN: &str = r"[\u0020-\u00FF]+";
/// A policy document (`policyDocumentType`): tab, newline, carriage return and Latin-1.
pub const POLICY_DOCUMENT_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u00FF]+";
/// A policy version ID (`policyVersionIdType`), e.g. `v1`.
pub const POLICY_VERSION_ID_PATTERN: &str = r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?";
/// A tag key (`tagKeyType`).
pub const TAG_KEY_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";
/// A tag value (`tagValueType`).
pub const TAG_VALUE_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";

/// The values of `statusType`, in the model's order (the message quotes them).
pub const STATUS_VALUES: [&str; 3] = ["Active", "Inactive", "Expired"];
/// The values of `policyScopeType`.
pub const SCOPE_VALUES: [&str; 3] = ["All", "AWS", "Local"];
/// The values of `PolicyUsageType`.
pub const POLICY_USAGE_VALUES: [&str; 2] = ["PermissionsPolicy", "PermissionsBoundary"];

/// One of the model's patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pattern {
    Name,
    Path,
    PathPrefix,
    PolicyPath,
    AccessKeyId,
    Marker,
    PolicyDocument,
    PolicyVersionId,
    TagKey,
    TagValue,
}

impl Pattern {
    pub(super) fn source(self) -> &'static str {
        match self {
            Pattern::Name => NAME_PATTERN,
            Pattern::Path => PATH_PATTERN,
            Pattern::PathPrefix => PATH_PREFIX_PATTERN,
            Pattern::PolicyPath => POLICY_PATH_PATTERN,
            Pattern::AccessKeyId => ACCESS_KEY_ID_PATTERN,
            Pattern::Marker => MARKER_PATTERN,
            Pattern::PolicyDocument => POLICY_DOCUMENT_PATTERN,
            Pattern::PolicyVersionId => POLICY_VERSION_ID_PATTERN,
            Pattern::TagKey => TAG_KEY_PATTERN,
            Pattern::TagValue => TAG_VALUE_PATTERN,
        }
    }

    /// Whether the whole of `s` matches.
    pub(super) fn matches(self, s: &str) -> bool {
        match self {
            Pattern::Name => !s.is_empty() && s.chars().all(is_name_char),
            Pattern::Path => {
                s == "/"
                    || (s.len() >= 3
                        && s.starts_with('/')
                        && s.ends_with('/')
                        && s.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)))
            }
            Pattern::PathPrefix => {
                s.starts_with('/') && s.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c))
            }
            Pattern::PolicyPath => match s.strip_suffix('/') {
                Some("") => true,
                Some(body) => body.strip_prefix('/').is_some_and(|segments| {
                    segments
                        .split('/')
                        .all(|seg| !seg.is_empty() && seg.chars().all(is_policy_path_char))
                }),
                None => false,
            },
            Pattern::AccessKeyId => !s.is_empty() && s.chars().all(is_word_char),
            Pattern::Marker => {
                !s.is_empty() && s.chars().all(|c| ('\u{20}'..='\u{ff}').contains(&c))
            }
            Pattern::PolicyDocument => {
                !s.is_empty()
                    && s.chars().all(|c| {
                        matches!(c, '\t' | '\n' | '\r') || ('\u{20}'..='\u{ff}').contains(&c)
                    })
            }
            Pattern::PolicyVersionId => is_policy_version_id(s),
            Pattern::TagKey => !s.is_empty() && s.chars().all(is_tag_char),
            Pattern::TagValue => s.chars().all(is_tag_char),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_name_char(c: char) -> bool {
    is_word_char(c) || matches!(c, '+' | '=' | ',' | '.' | '@' | '-')
}

fn is_policy_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ',' | '+' | '@' | '=' | '_' | '-')
}

/// `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`
fn is_policy_version_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let (number, suffix) = match rest.split_once('.') {
        Some((n, sfx)) => (n, Some(sfx)),
        None => (rest, None),
    };
    let mut digits = number.chars();
    let leading_ok = digits.next().is_some_and(|c| ('1'..='9').contains(&c));
    leading_ok
        && digits.all(|c| c.is_ascii_digit())
        && suffix.is_none_or(|sfx| sfx.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`. `\p{L}` is approximated by Unicode `Alphabetic`, a superset
/// (it adds letter-like marks and symbols) that std exposes; `\p{N}` is exactly
/// `char::is_numeric`; `\p{Z}` is listed in full.
fn is_tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || is_separator(c)
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// Unicode general category Z (Zs, Zl, Zp).
fn is_separator(c: char) -> bool {
    matches!(
        c,
        '\u{20}' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// A string member's constraint.
#[derive(Debug, Clone, Copy)]
pub(super) struct StrRule {
    pub min: usize,
    pub max: usize,
    pub pattern: Option<Pattern>,
}

pub(super) const USER_NAME_RULE: StrRule = StrRule {
    min: MIN_STRING_LEN,
    max: USER_NAME_MAX_LEN,
    pattern: Some(Pattern::Name),
};
pub(super) const EXISTING_USER_NAME_RULE: StrRule = StrRule {
    min: MIN_STRING_LEN,
    max: EXISTING_USER_NAME_MAX_LEN,
    pattern: Some(Pattern::Name),
};
pub(super) const POLICY_NAME_RULE: StrRule = StrRule {
    min: MIN_STRING_LEN,
    max: POLICY_NAME_MAX_LEN,
    pattern: Some(Pattern::Name),
};
pub(super) const PATH_RULE: StrRule = StrRule {
    min: MIN_STRING_LEN,
    max: PATH_MAX_LEN,
    pattern: Some(Pattern::Path),
};
pub(super) const PATH_PREFIX_RULE: StrRule = StrRule {
    min: MIN_STRING_LEN,
    max: PATH_MAX_LEN,
    pattern: Some(Pattern::PathPrefix),
};
pub(super) const POLICY_PATH_RULE: StrRule = StrRule {
    min: MIN_STRING_LEN,
    max: PATH_MAX_LEN,
    pattern: Some(Pattern::PolicyPath),
};
pub(super) const ARN_RULE: StrRule = StrRule {
    min: ARN_MIN_LEN,
    max: ARN_MAX_LEN,
    pattern: None,
};
pub(super) const ACCESS_KEY_ID_RULE: StrRule = StrRule {
    min: ACCESS_KEY_ID_MIN_LEN,
    max: ACCESS_KEY_ID_MAX_LEN,
    pattern: Some(Pattern::AccessKeyId),
};
pub(super) const MARKER_RULE: StrRule = StrRule {
    min: MIN_STRING_LEN,
    max: MARKER_MAX_LEN,
    pattern: Some(Pattern::Marker),
};
pub(super) const POLICY_DOCUMENT_RULE: StrRule = StrRule {
    min: MIN_STRING_LEN,
    max: POLICY_DOCUMENT_MAX_LEN,
    pattern: Some(Pattern::PolicyDocument),
};
pub(super) const DESCRIPTION_RULE: StrRule = StrRule {
    min: 0,
    max: DESCRIPTION_MAX_LEN,
    pattern: None,
};
pub(super) const POLICY_VERSION_ID_RULE: StrRule = StrRule {
    min: 0,
    max: usize::MAX,
    pattern: Some(Pattern::PolicyVersionId),
};
pub(super) const TAG_KEY_RULE: StrRule = StrRule {
    min: MIN_STRING_LEN,
    max: TAG_KEY_MAX_LEN,
    pattern: Some(Pattern::TagKey),
};
pub(super) const TAG_VALUE_RULE: StrRule = StrRule {
    min: 0,
    max: TAG_VALUE_MAX_LEN,
    pattern: Some(Pattern::TagValue),
};

/// The constraint texts `value` violates, in AWS's order (pattern, then length). An empty
/// value below the minimum reports the length alone, as AWS does.
pub(super) fn violated(value: &str, rule: &StrRule) -> Vec<String> {
    let mut out = Vec::new();
    let len = value.chars().count();
    if len < rule.min {
        out.push(format!(
            "Member must have length greater than or equal to {}",
            rule.min
        ));
        if value.is_empty() {
            return out;
        }
    }
    if let Some(p) = rule.pattern
        && !p.matches(value)
    {
        out.insert(
            0,
            format!(
                "Member must satisfy regular expression pattern: {}",
                p.source()
            ),
        );
    }
    if len > rule.max {
        out.push(format!(
            "Member must have length less than or equal to {}",
            rule.max
        ));
    }
    out
}

/// How a violation shows the offending value.
#[derive(Debug, Clone, Copy)]
pub(super) enum Shown<'a> {
    Value(&'a str),
    Null,
    /// A list: its elements are not quoted.
    Omitted,
}

pub(super) fn violation(value: Shown<'_>, member: &str, constraint: &str) -> String {
    match value {
        Shown::Value(v) => {
            format!("Value '{v}' at '{member}' failed to satisfy constraint: {constraint}")
        }
        Shown::Null => {
            format!("Value null at '{member}' failed to satisfy constraint: {constraint}")
        }
        Shown::Omitted => format!("Value at '{member}' failed to satisfy constraint: {constraint}"),
    }
}

/// AWS's `ValidationError` for a list of violations.
pub(super) fn validation_error(violations: &[String]) -> WireError {
    let n = violations.len();
    let noun = if n == 1 { "error" } else { "errors" };
    WireError::new(
        ErrorCode::ValidationError,
        format!("{n} validation {noun} detected: {}", violations.join("; ")),
    )
}

/// Checks one value against a rule, for the newtypes' own `parse`.
pub(super) fn check_one(member: &str, value: &str, rule: &StrRule) -> Result<(), WireError> {
    let v: Vec<String> = violated(value, rule)
        .iter()
        .map(|c| violation(Shown::Value(value), member, c))
        .collect();
    if v.is_empty() {
        Ok(())
    } else {
        Err(validation_error(&v))
    }
}

/// Reads and checks the members of one request.
pub(super) struct Checker<'p> {
    params: &'p Params,
    violations: Vec<String>,
    /// A value unreadable as its type: reported before any violation.
    fatal: Option<WireError>,
    /// A failure over values that each passed: reported only when nothing else failed.
    deferred: Option<WireError>,
}

impl<'p> Checker<'p> {
    pub(super) fn new(params: &'p Params) -> Self {
        Checker {
            params,
            violations: Vec::new(),
            fatal: None,
            deferred: None,
        }
    }

    pub(super) fn params(&self) -> &'p Params {
        self.params
    }

    /// Records a violation of `constraint` by the member at `member`.
    pub(super) fn violate(&mut self, value: Shown<'_>, member: &str, constraint: &str) {
        self.violations.push(violation(value, member, constraint));
    }

    pub(super) fn fail(&mut self, e: WireError) {
        if self.fatal.is_none() {
            self.fatal = Some(e);
        }
    }

    pub(super) fn defer(&mut self, e: WireError) {
        if self.deferred.is_none() {
            self.deferred = Some(e);
        }
    }

    /// Checks `value` for the member at `member`; true when it passed.
    pub(super) fn check_value(&mut self, member: &str, value: &str, rule: &StrRule) -> bool {
        let broken = violated(value, rule);
        for c in &broken {
            self.violate(Shown::Value(value), member, c);
        }
        broken.is_empty()
    }

    /// A string parameter: its value when present and valid. A missing required parameter is
    /// a "must not be null" violation.
    pub(super) fn string(
        &mut self,
        param: &str,
        member: &str,
        rule: &StrRule,
        required: bool,
    ) -> Option<&'p str> {
        match self.params.get(param) {
            Some(v) => self.check_value(member, v, rule).then_some(v),
            None => {
                if required {
                    self.violate(Shown::Null, member, "Member must not be null");
                }
                None
            }
        }
    }

    /// An enum parameter: the position of its value in `values`.
    pub(super) fn enumeration(
        &mut self,
        param: &str,
        member: &str,
        values: &[&str],
        required: bool,
    ) -> Option<usize> {
        match self.params.get(param) {
            Some(v) => {
                let found = values.iter().position(|x| *x == v);
                if found.is_none() {
                    let set = format!(
                        "Member must satisfy enum value set: [{}]",
                        values.join(", ")
                    );
                    self.violate(Shown::Value(v), member, &set);
                }
                found
            }
            None => {
                if required {
                    self.violate(Shown::Null, member, "Member must not be null");
                }
                None
            }
        }
    }

    /// A boolean parameter (`true`/`false`, any case).
    pub(super) fn boolean(&mut self, param: &str) -> Option<bool> {
        let v = self.params.get(param)?;
        if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            self.fail(WireError::new(
                ErrorCode::InvalidParameterValue,
                format!("Value '{v}' for parameter {param} is invalid. It must be true or false."),
            ));
            None
        }
    }

    /// An integer parameter within `min..=max` (a 32-bit integer, as the model's `integer`).
    pub(super) fn integer(&mut self, param: &str, member: &str, min: i32, max: i32) -> Option<i32> {
        let v = self.params.get(param)?;
        let Ok(n) = v.parse::<i32>() else {
            self.fail(WireError::new(
                ErrorCode::InvalidParameterValue,
                format!("Value '{v}' for parameter {param} is invalid. It must be an integer."),
            ));
            return None;
        };
        let shown = n.to_string();
        if n < min {
            let c = format!("Member must have value greater than or equal to {min}");
            self.violate(Shown::Value(&shown), member, &c);
            None
        } else if n > max {
            let c = format!("Member must have value less than or equal to {max}");
            self.violate(Shown::Value(&shown), member, &c);
            None
        } else {
            Some(n)
        }
    }

    /// `Ok` when every member passed; otherwise the first unreadable value, else every
    /// violation, else the deferred failure.
    pub(super) fn finish(self) -> Result<(), WireError> {
        if let Some(e) = self.fatal {
            return Err(e);
        }
        if !self.violations.is_empty() {
            return Err(validation_error(&self.violations));
        }
        match self.deferred {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
