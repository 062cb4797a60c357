//! Policy variables: `${aws:username}`, `${key, 'default'}` and the escapes `${*}`, `${?}`,
//! `${$}` ("IAM policy elements: Variables and tags").
//!
//! A string from a `2012-10-17` policy compiles to a [`Template`] of segments; older or
//! versionless documents get one literal segment, because AWS reads variables there "as
//! literal strings". Substitution happens once per evaluation and is never re-scanned (a value
//! containing `${...}` or `*` stays literal text), which is also AWS's one-round rule. A
//! variable resolves only when its key has exactly one value in the request: AWS documents
//! that multivalued keys cannot be variables, and a missing key has no value; either way the
//! default applies if one is written, else the element holding the template matches nothing.
//!
//! Syntax choices where AWS only documents the happy path: an unterminated `${`, an empty or
//! space-containing key, and a default not in single quotes are parse errors (IAM Access
//! Analyzer lists each as an error), so a typo cannot silently disable a statement. Spaces
//! around the comma and the quoted default are accepted (AWS writes `, ` between them); inside
//! the quotes `''` is one quote.

use super::pattern::{Tok, push_literal, push_wild};

/// Where variable values come from at evaluation time.
pub(super) trait VarSource {
    /// The key's value if it has exactly one; `key` is lowercase.
    fn single(&self, key: &str) -> Option<&str>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// Policy text: `*` and `?` are wildcards where the operator has wildcards.
    Text(String),
    /// An escape (`${*}`, `${?}`, `${$}`): always this literal character.
    Char(char),
    /// A variable; `key` is lowercase (key names are case-insensitive).
    Var {
        key: String,
        default: Option<String>,
    },
}

/// The source of a template with no variables.
struct NoVars;

impl VarSource for NoVars {
    fn single(&self, _key: &str) -> Option<&str> {
        None
    }
}

/// A compiled policy string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template {
    segs: Vec<Seg>,
    /// The tokens, compiled once, of a template with no variables (most of them).
    fixed: Option<Vec<Tok>>,
}

impl Template {
    /// `s` with no variable syntax (2008-10-17 and versionless documents).
    pub(super) fn literal(s: &str) -> Template {
        Template::new(vec![Seg::Text(s.to_owned())])
    }

    /// `s` with variables when `vars` holds, else [`Template::literal`].
    pub(super) fn compile(s: &str, vars: bool) -> Result<Template, String> {
        if vars {
            Template::parse(s)
        } else {
            Ok(Template::literal(s))
        }
    }

    /// Parses `${...}` references in `s`.
    pub(super) fn parse(s: &str) -> Result<Template, String> {
        let mut segs = Vec::new();
        let mut text = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '$' || chars.peek() != Some(&'{') {
                text.push(c);
                continue;
            }
            chars.next();
            // The body runs to the first `}` outside a quoted default.
            let mut body = String::new();
            let mut quoted = false;
            let mut closed = false;
            while let Some(b) = chars.next() {
                if quoted {
                    body.push(b);
                    if b == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                            body.push('\'');
                        } else {
                            quoted = false;
                        }
                    }
                    continue;
                }
                match b {
                    '}' => {
                        closed = true;
                        break;
                    }
                    '\'' => {
                        quoted = true;
                        body.push(b);
                    }
                    _ => body.push(b),
                }
            }
            if !closed {
                return Err("Policy variable is missing its closing brace".to_owned());
            }
            if !text.is_empty() {
                segs.push(Seg::Text(std::mem::take(&mut text)));
            }
            segs.push(parse_body(&body)?);
        }
        if !text.is_empty() || segs.is_empty() {
            segs.push(Seg::Text(text));
        }
        Ok(Template::new(segs))
    }

    fn new(segs: Vec<Seg>) -> Template {
        let mut t = Template { segs, fixed: None };
        if !t.has_vars() {
            t.fixed = t.substitute(&NoVars);
        }
        t
    }

    /// Whether any segment needs the request.
    pub(super) fn has_vars(&self) -> bool {
        self.segs.iter().any(|s| matches!(s, Seg::Var { .. }))
    }

    /// The characters every match starts with: the text before the first wildcard or
    /// variable (wildcards read as in [`Template::tokens`]).
    pub(super) fn literal_prefix(&self) -> String {
        let mut out = String::new();
        for seg in &self.segs {
            match seg {
                Seg::Text(t) => match t.find(['*', '?']) {
                    Some(at) => {
                        out.push_str(&t[..at]);
                        break;
                    }
                    None => out.push_str(t),
                },
                Seg::Char(c) => out.push(*c),
                Seg::Var { .. } => break,
            }
        }
        out
    }

    /// Whether the template is exactly the policy text `s` with no variables or escapes.
    pub(super) fn is_text(&self, s: &str) -> bool {
        matches!(self.segs.as_slice(), [Seg::Text(t)] if t == s)
    }

    /// Tokens after substitution, wildcards live in policy text only; `None` if a variable
    /// has no value and no default.
    pub(super) fn tokens(&self, src: &dyn VarSource) -> Option<std::borrow::Cow<'_, [Tok]>> {
        match &self.fixed {
            Some(t) => Some(std::borrow::Cow::Borrowed(t.as_slice())),
            None => self.substitute(src).map(std::borrow::Cow::Owned),
        }
    }

    fn substitute(&self, src: &dyn VarSource) -> Option<Vec<Tok>> {
        let mut out = Vec::new();
        for seg in &self.segs {
            match seg {
                Seg::Text(t) => push_wild(t, &mut out),
                Seg::Char(c) => out.push(Tok::Lit(*c)),
                Seg::Var { key, default } => push_literal(resolve(key, default, src)?, &mut out),
            }
        }
        Some(out)
    }

    /// Text after substitution, for operators without wildcards; `None` as for
    /// [`Template::tokens`].
    pub(super) fn text(&self, src: &dyn VarSource) -> Option<String> {
        let mut out = String::new();
        for seg in &self.segs {
            match seg {
                Seg::Text(t) => out.push_str(t),
                Seg::Char(c) => out.push(*c),
                Seg::Var { key, default } => out.push_str(resolve(key, default, src)?),
            }
        }
        Some(out)
    }
}

fn resolve<'a>(key: &str, default: &'a Option<String>, src: &'a dyn VarSource) -> Option<&'a str> {
    src.single(key).or(default.as_deref())
}

/// The inside of `${...}`.
fn parse_body(body: &str) -> Result<Seg, String> {
    let (key, default) = match body.split_once(',') {
        Some((k, d)) => (k.trim(), Some(parse_default(d.trim())?)),
        None => (body.trim(), None),
    };
    if key.is_empty() {
        return Err("Policy variable has an empty name".to_owned());
    }
    if key
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '$' | '{' | '\''))
        && key != "$"
    {
        return Err(format!(
            "Policy variable name has an unsupported character: {}",
            super::excerpt(key)
        ));
    }
    match (key, &default) {
        ("*", None) => Ok(Seg::Char('*')),
        ("?", None) => Ok(Seg::Char('?')),
        ("$", None) => Ok(Seg::Char('$')),
        ("*" | "?" | "$", Some(_)) => Err("Escape variables take no default value".to_owned()),
        _ => Ok(Seg::Var {
            key: key.to_lowercase(),
            default,
        }),
    }
}

/// A quoted default, `''` standing for one quote.
fn parse_default(d: &str) -> Result<String, String> {
    let bad = || "Policy variable default must be one single-quoted string".to_owned();
    let inner = d
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .ok_or_else(bad)?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\'' && chars.next() != Some('\'') {
            return Err(bad());
        }
        out.push(c);
    }
    Ok(out)
}
