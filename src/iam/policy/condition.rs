//! The `Condition` element: operators, compiled values and their evaluation ("IAM JSON policy
//! elements: Condition operators", "Creating a condition with multiple keys or values").
//!
//! Values are typed when the policy is parsed: a non-number under `Numeric*`, a bad date,
//! CIDR, boolean or base64 value is a Malformed policy, never a silent non-match. Only the
//! string, ARN and `Bool` operators take policy variables (the operators page says so for each
//! family); elsewhere `${` is plain text and fails the type check.
//!
//! Evaluation rules, each from the docs:
//! * several keys under one operator, and several operators, AND together; several values for
//!   one key OR together, and for a negated operator (`StringNotEquals`, `NotIpAddress`, ...)
//!   the key must match none of them ("the effective permissions work like a logical AND");
//! * a key missing from the request makes a positive operator false and a negated one true
//!   ("If the policy condition requires that the key is not matched ... and the right key is
//!   not present, the condition is true"); `...IfExists` makes it true; `Null` tests presence;
//! * `ForAllValues:` is true when every request value matches, and also when the key is
//!   missing or has no values; `ForAnyValue:` needs at least one matching request value and is
//!   false for a missing key; under a qualifier a negated operator is applied per request
//!   value (`ForAnyValue:StringNotEquals`: some request value equals none of the policy's);
//! * without a qualifier a multivalued request key matches a positive operator when any of its
//!   values does, and a negated operator when none does (the negation of the positive test);
//! * a request key with an empty value list is "a null data set": treated as missing.
//!
//! A request value that cannot be read as the operator's type (a non-number under `Numeric*`)
//! matches no policy value; negated operators therefore count it as "not equal".

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::eval::Env;
use super::json::Json;
use super::pattern::{Tok, arn_match, glob_str};
use super::vars::{Template, VarSource};
use super::{PolicyError, excerpt};

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

/// The operator families; negation and `IfExists` are carried beside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// Every documented operator: (name, family, negated).
const OPERATORS: &[(&str, Family, bool)] = &[
    ("StringEquals", Family::StringEquals, false),
    ("StringNotEquals", Family::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Family::StringLike, false),
    ("StringNotLike", Family::StringLike, true),
    ("NumericEquals", Family::Numeric(Cmp::Eq), false),
    ("NumericNotEquals", Family::Numeric(Cmp::Eq), true),
    ("NumericLessThan", Family::Numeric(Cmp::Lt), false),
    ("NumericLessThanEquals", Family::Numeric(Cmp::Le), false),
    ("NumericGreaterThan", Family::Numeric(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Family::Numeric(Cmp::Ge), false),
    ("DateEquals", Family::Date(Cmp::Eq), false),
    ("DateNotEquals", Family::Date(Cmp::Eq), true),
    ("DateLessThan", Family::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Family::Date(Cmp::Le), false),
    ("DateGreaterThan", Family::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Family::Date(Cmp::Ge), false),
    ("Bool", Family::Bool, false),
    ("BinaryEquals", Family::Binary, false),
    ("IpAddress", Family::Ip, false),
    ("NotIpAddress", Family::Ip, true),
    // "The ArnEquals and ArnLike condition operators behave identically."
    ("ArnEquals", Family::Arn, false),
    ("ArnLike", Family::Arn, false),
    ("ArnNotEquals", Family::Arn, true),
    ("ArnNotLike", Family::Arn, true),
    ("Null", Family::Null, false),
];

/// A `Bool` value: fixed, or a variable resolved per request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BoolValue {
    Fixed(bool),
    Var(Template),
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            // "If you specify an IP address without the associated routing prefix, IAM uses
            // the default prefix value of /32" (and a whole address for IPv6).
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|n| *n <= max)?
            }
            Some(_) => return None,
        };
        Some(Cidr { net, prefix })
    }

    fn contains(&self, addr: IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket is the IPv4 address.
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(
                u128::from(u32::from(n)),
                u128::from(u32::from(a)),
                32,
                self.prefix,
            ),
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                prefix_eq(u128::from(n), u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the top `prefix` of `width` bits agree.
fn prefix_eq(a: u128, b: u128, width: u32, prefix: u8) -> bool {
    let prefix = u32::from(prefix).min(width);
    if prefix == 0 {
        return true;
    }
    let shift = width - prefix;
    a.checked_shr(shift) == b.checked_shr(shift)
}

/// Compiled values, one variant per family.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// String and ARN families.
    Text(Vec<Template>),
    Number(Vec<f64>),
    /// Unix time in nanoseconds.
    Date(Vec<i128>),
    Bool(Vec<BoolValue>),
    Binary(Vec<Vec<u8>>),
    Ip(Vec<Cidr>),
    /// `true`: the key must be absent.
    Null(Vec<bool>),
}

/// One operator-key pair of a `Condition` block, e.g. `"StringLike": {"s3:prefix": [...]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    operator: String,
    family: Family,
    negated: bool,
    if_exists: bool,
    qualifier: Option<SetQualifier>,
    key: String,
    key_lower: String,
    values: Values,
}

impl Condition {
    /// The operator as written, qualifier and `IfExists` included.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// The condition key as written (compare it case-insensitively).
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn qualifier(&self) -> Option<SetQualifier> {
        self.qualifier
    }

    pub fn if_exists(&self) -> bool {
        self.if_exists
    }

    /// Whether the operator is a negated one (`StringNotEquals`, `NotIpAddress`, ...).
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// Whether the request satisfies this condition.
    pub(super) fn holds(&self, env: &Env<'_>) -> bool {
        let present = env.values(&self.key_lower).filter(|v| !v.is_empty());
        if let Values::Null(expected) = &self.values {
            let absent = present.is_none();
            return expected.contains(&absent);
        }
        let Some(request) = present else {
            if self.if_exists {
                return true;
            }
            return match self.qualifier {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => self.negated,
            };
        };
        let policy = Prepared::new(self.family, &self.values, env);
        let per_value = |v: &str| policy.matches(v) != self.negated;
        match self.qualifier {
            None => request.iter().any(|v| policy.matches(v)) != self.negated,
            Some(SetQualifier::ForAnyValue) => request.iter().any(per_value),
            Some(SetQualifier::ForAllValues) => request.iter().all(per_value),
        }
    }
}

/// Policy values ready for one evaluation: variables substituted, case folded. Values whose
/// variable has no value are dropped: they equal nothing.
enum Prepared<'a> {
    Exact(Vec<String>),
    Folded(Vec<String>),
    Like(Vec<std::borrow::Cow<'a, [Tok]>>),
    Arn(Vec<std::borrow::Cow<'a, [Tok]>>),
    Number(Cmp, &'a [f64]),
    Date(Cmp, &'a [i128]),
    Bool(Vec<bool>),
    Binary(&'a [Vec<u8>]),
    Ip(&'a [Cidr]),
    Nothing,
}

impl<'a> Prepared<'a> {
    fn new(family: Family, values: &'a Values, src: &dyn VarSource) -> Prepared<'a> {
        match (family, values) {
            (Family::StringEquals, Values::Text(t)) => {
                Prepared::Exact(t.iter().filter_map(|t| t.text(src)).collect())
            }
            (Family::StringEqualsIgnoreCase, Values::Text(t)) => Prepared::Folded(
                t.iter()
                    .filter_map(|t| t.text(src))
                    .map(|s| s.to_lowercase())
                    .collect(),
            ),
            (Family::StringLike, Values::Text(t)) => {
                Prepared::Like(t.iter().filter_map(|t| t.tokens(src)).collect())
            }
            (Family::Arn, Values::Text(t)) => {
                Prepared::Arn(t.iter().filter_map(|t| t.tokens(src)).collect())
            }
            (Family::Numeric(c), Values::Number(n)) => Prepared::Number(c, n),
            (Family::Date(c), Values::Date(d)) => Prepared::Date(c, d),
            (Family::Bool, Values::Bool(b)) => Prepared::Bool(
                b.iter()
                    .filter_map(|b| match b {
                        BoolValue::Fixed(v) => Some(*v),
                        BoolValue::Var(t) => t.text(src).as_deref().and_then(parse_bool),
                    })
                    .collect(),
            ),
            (Family::Binary, Values::Binary(b)) => Prepared::Binary(b),
            (Family::Ip, Values::Ip(c)) => Prepared::Ip(c),
            // The parser pairs families and values; any other pairing matches nothing.
            _ => Prepared::Nothing,
        }
    }

    /// Whether request value `v` matches at least one policy value.
    fn matches(&self, v: &str) -> bool {
        match self {
            Prepared::Exact(p) => p.iter().any(|p| p == v),
            Prepared::Folded(p) => {
                let v = v.to_lowercase();
                p.contains(&v)
            }
            Prepared::Like(p) => p.iter().any(|p| glob_str(p, v)),
            // `"*"` alone is a whole-value wildcard, as it is for `Resource`.
            Prepared::Arn(p) => p
                .iter()
                .any(|p| matches!(p.as_ref(), [Tok::Star]) || arn_match(p, v)),
            Prepared::Number(c, p) => {
                parse_number(v).is_some_and(|v| p.iter().any(|p| c.holds(v, *p)))
            }
            Prepared::Date(c, p) => parse_date(v).is_some_and(|v| p.iter().any(|p| c.holds(v, *p))),
            Prepared::Bool(p) => parse_bool(v).is_some_and(|v| p.contains(&v)),
            Prepared::Binary(p) => BASE64.decode(v).is_ok_and(|v| p.contains(&v)),
            Prepared::Ip(p) => v
                .parse::<IpAddr>()
                .is_ok_and(|a| p.iter().any(|c| c.contains(a))),
            Prepared::Nothing => false,
        }
    }
}

/// Compiles a `Condition` element.
pub(super) fn compile_block(block: Json, vars: bool) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(ops) = block else {
        return Err(PolicyError::malformed(format!(
            "Condition must be an object, not {}",
            block.type_name()
        )));
    };
    let mut out = Vec::new();
    for (op, keys) in ops {
        let (family, negated, if_exists, qualifier) = parse_operator(&op)?;
        let Json::Object(keys) = keys else {
            return Err(PolicyError::malformed(format!(
                "Condition operator {} must map condition keys to values",
                excerpt(&op)
            )));
        };
        if keys.is_empty() {
            return Err(PolicyError::malformed(format!(
                "Condition operator {} has no condition keys",
                excerpt(&op)
            )));
        }
        for (key, value) in keys {
            check_key(&key)?;
            let raw = condition_strings(value, &key)?;
            let values = compile_values(family, &raw, vars).map_err(|m| {
                PolicyError::malformed(format!("{m} for condition key {}", excerpt(&key)))
            })?;
            out.push(Condition {
                operator: op.clone(),
                family,
                negated,
                if_exists,
                qualifier,
                key_lower: key.to_lowercase(),
                key,
                values,
            });
        }
    }
    Ok(out)
}

/// Splits `ForAnyValue:StringLikeIfExists` into its parts.
fn parse_operator(op: &str) -> Result<(Family, bool, bool, Option<SetQualifier>), PolicyError> {
    let invalid = || PolicyError::malformed(format!("Invalid Condition type : {}", excerpt(op)));
    let (qualifier, rest) = if let Some(r) = op.strip_prefix("ForAnyValue:") {
        (Some(SetQualifier::ForAnyValue), r)
    } else if let Some(r) = op.strip_prefix("ForAllValues:") {
        (Some(SetQualifier::ForAllValues), r)
    } else {
        (None, op)
    };
    let (name, if_exists) = match rest.strip_suffix("IfExists") {
        Some(n) => (n, true),
        None => (rest, false),
    };
    let &(_, family, negated) = OPERATORS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(invalid)?;
    // `Null` already tests existence: AWS refuses `NullIfExists`, and a set qualifier on it
    // has no meaning.
    if family == Family::Null && (if_exists || qualifier.is_some()) {
        return Err(invalid());
    }
    Ok((family, negated, if_exists, qualifier))
}

/// Condition keys are `prefix:name` ("Global condition keys have the aws: prefix.
/// Service-specific condition keys have the service's prefix").
fn check_key(key: &str) -> Result<(), PolicyError> {
    let ok = key.split_once(':').is_some_and(|(prefix, name)| {
        !prefix.is_empty()
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !name.is_empty()
            && !name.chars().any(char::is_control)
    });
    if ok {
        Ok(())
    } else {
        Err(PolicyError::malformed(format!(
            "Invalid condition key format: {}",
            excerpt(key)
        )))
    }
}

/// A condition value list: a string, number or boolean, or a non-empty array of them (the
/// grammar's `condition_value` is "the string version" of each, so `10` and `"10"` agree).
fn condition_strings(value: Json, key: &str) -> Result<Vec<String>, PolicyError> {
    fn scalar(v: Json, key: &str) -> Result<String, PolicyError> {
        match v {
            Json::String(s) | Json::Number(s) => Ok(s),
            Json::Bool(b) => Ok(b.to_string()),
            other => Err(PolicyError::malformed(format!(
                "Condition value for {} must be a string, number or boolean, not {}",
                excerpt(key),
                other.type_name()
            ))),
        }
    }
    match value {
        Json::Array(items) if items.is_empty() => Err(PolicyError::malformed(format!(
            "Condition key {} has an empty value list",
            excerpt(key)
        ))),
        Json::Array(items) => items.into_iter().map(|v| scalar(v, key)).collect(),
        v => Ok(vec![scalar(v, key)?]),
    }
}

fn compile_values(family: Family, raw: &[String], vars: bool) -> Result<Values, String> {
    fn each<T>(
        raw: &[String],
        what: &str,
        f: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, String> {
        raw.iter()
            .map(|s| f(s).ok_or_else(|| format!("Invalid {what} value {}", excerpt(s))))
            .collect()
    }
    Ok(match family {
        Family::StringEquals | Family::StringEqualsIgnoreCase | Family::StringLike => Values::Text(
            raw.iter()
                .map(|s| Template::compile(s, vars))
                .collect::<Result<_, _>>()?,
        ),
        Family::Arn => {
            let mut out = Vec::new();
            for s in raw {
                let t = Template::compile(s, vars)?;
                // An ARN value must have the six fields (variables may supply some of them);
                // `*` alone is accepted as "any ARN".
                let shaped = t.is_text("*")
                    || t.has_vars()
                    || super::pattern::split_arn(s).is_some_and(|f| f[0] == "arn" || f[0] == "*");
                if !shaped {
                    return Err(format!("Invalid ARN value {}", excerpt(s)));
                }
                out.push(t);
            }
            Values::Text(out)
        }
        Family::Numeric(_) => Values::Number(each(raw, "numeric", parse_number)?),
        Family::Date(_) => Values::Date(each(raw, "date", parse_date)?),
        Family::Bool => {
            let mut out = Vec::new();
            for s in raw {
                let t = Template::compile(s, vars)?;
                out.push(if t.has_vars() {
                    BoolValue::Var(t)
                } else {
                    BoolValue::Fixed(
                        parse_bool(s)
                            .ok_or_else(|| format!("Invalid boolean value {}", excerpt(s)))?,
                    )
                });
            }
            Values::Bool(out)
        }
        Family::Binary => Values::Binary(each(raw, "base64", |s| BASE64.decode(s).ok())?),
        Family::Ip => Values::Ip(each(raw, "IP address", Cidr::parse)?),
        Family::Null => Values::Null(each(raw, "Null", parse_bool)?),
    })
}

/// `true` / `false`, any case.
fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// An integer or decimal (`10`, `-3`, `2.5`, `.5`): the forms the operators page names.
/// Exponents, `inf` and `NaN` (which Rust's parser would take) are refused.
pub(super) fn parse_number(s: &str) -> Option<f64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let ok = all_digits(int)
        && frac.is_none_or(all_digits)
        && !(int.is_empty() && frac.is_none_or(str::is_empty));
    if !ok {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A date as the Date operators take it: epoch seconds (all digits; AWS allows epoch time
/// there, and a bare `2024` reads as seconds, not as a year), or one of the W3C ISO 8601
/// profiles: `YYYY-MM-DD`, `YYYY-MM-DDThh:mmTZD`, `YYYY-MM-DDThh:mm:ss[.s]TZD`, plus
/// `YYYY-MM` and a time without zone, read as UTC. Returns Unix time in nanoseconds.
pub(super) fn parse_date(s: &str) -> Option<i128> {
    if !s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = s.parse().ok()?;
        return OffsetDateTime::from_unix_timestamp(secs)
            .ok()
            .map(OffsetDateTime::unix_timestamp_nanos);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    parse_w3c(s).map(OffsetDateTime::unix_timestamp_nanos)
}

/// The W3C profiles that RFC 3339 does not cover.
fn parse_w3c(s: &str) -> Option<OffsetDateTime> {
    let (date, time) = match s.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let num = |p: &str, len: usize| -> Option<u32> {
        (p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let mut dp = date.split('-');
    let year = i32::try_from(num(dp.next()?, 4)?).ok()?;
    let month = dp.next().map(|m| num(m, 2)).unwrap_or(Some(1))?;
    let day = dp.next().map(|d| num(d, 2)).unwrap_or(Some(1))?;
    if dp.next().is_some() || (time.is_some() && date.len() != 10) {
        return None;
    }
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    let Some(time) = time else {
        return Some(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc());
    };
    // Zone designator: `Z`, `+hh:mm`, `-hh:mm`, or none (UTC).
    let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, UtcOffset::UTC)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let (c, z) = (time.get(..at)?, time.get(at..)?);
        let sign: i8 = if z.starts_with('-') { -1 } else { 1 };
        let z = z.get(1..)?;
        let (h, m) = z.split_once(':')?;
        let h = i8::try_from(num(h, 2)?).ok()?;
        let m = i8::try_from(num(m, 2)?).ok()?;
        (c, UtcOffset::from_hms(sign * h, sign * m, 0).ok()?)
    } else {
        (time, UtcOffset::UTC)
    };
    let mut cp = clock.split(':');
    let hour = u8::try_from(num(cp.next()?, 2)?).ok()?;
    let minute = u8::try_from(num(cp.next()?, 2)?).ok()?;
    let (second, nanos) = match cp.next() {
        None => (0, 0),
        Some(sec) => {
            let (whole, frac) = match sec.split_once('.') {
                Some((w, f)) => (w, Some(f)),
                None => (sec, None),
            };
            let second = u8::try_from(num(whole, 2)?).ok()?;
            let nanos = match frac {
                None => 0,
                Some(f)
                    if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    let scale = 10u32.checked_pow(9 - u32::try_from(f.len()).ok()?)?;
                    f.parse::<u32>().ok()?.checked_mul(scale)?
                }
                Some(_) => return None,
            };
            (second, nanos)
        }
    };
    if cp.next().is_some() {
        return None;
    }
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}
