//! Wildcard matching and ARN fields, shared by `Action`, `Resource` and the `String*Like` /
//! `Arn*` operators.
//!
//! A pattern is a token list, not a string: a `*` that came from a policy variable's value or
//! from the `${*}` escape is a literal character, and only the token type can say so after
//! substitution. Matching is the classic iterative two-pointer algorithm with one backtrack
//! point (worst case `O(pattern × value)`, no recursion, no allocation), on `char`s so that `?`
//! is one character, as AWS documents it, not one byte.

/// One pattern element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tok {
    /// Exactly this character.
    Lit(char),
    /// `*`: any run of characters, empty included.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Appends `s` with `*` and `?` read as wildcards.
pub(super) fn push_wild(s: &str, out: &mut Vec<Tok>) {
    out.extend(s.chars().map(|c| match c {
        '*' => Tok::Star,
        '?' => Tok::One,
        c => Tok::Lit(c),
    }));
}

/// Appends `s` with every character literal.
pub(super) fn push_literal(s: &str, out: &mut Vec<Tok>) {
    out.extend(s.chars().map(Tok::Lit));
}

/// `s` read as wildcards.
pub(super) fn wild(s: &str) -> Vec<Tok> {
    let mut out = Vec::with_capacity(s.len());
    push_wild(s, &mut out);
    out
}

/// Whether the whole of `value` matches the whole of `pattern`. The value is walked by byte
/// offsets of character boundaries, so nothing is copied (this runs for every pattern of every
/// statement a request is checked against); an ASCII value, nearly every ARN and action, is
/// walked a byte at a time.
pub(super) fn glob_str(pattern: &[Tok], value: &str) -> bool {
    if value.is_ascii() {
        let bytes = value.as_bytes();
        glob_by(pattern, |v| bytes.get(v).map(|&b| (char::from(b), 1)))
    } else {
        glob_by(pattern, |v| {
            let c = value.get(v..)?.chars().next()?;
            Some((c, c.len_utf8()))
        })
    }
}

/// The matcher over a value given as `next(offset) -> (character, its length)`.
#[inline(always)]
fn glob_by(pattern: &[Tok], next: impl Fn(usize) -> Option<(char, usize)>) -> bool {
    let (mut p, mut v) = (0usize, 0usize);
    // The last `*` seen and the value offset it currently stands for.
    let mut backtrack: Option<(usize, usize)> = None;
    while let Some((c, len)) = next(v) {
        match pattern.get(p) {
            Some(Tok::Star) => {
                backtrack = Some((p, v));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                v += len;
            }
            Some(Tok::Lit(l)) if *l == c => {
                p += 1;
                v += len;
            }
            _ => match backtrack {
                Some((star, at)) => {
                    // Let that `*` swallow the character at `at` and retry after it.
                    let step = next(at).map_or(1, |(_, n)| n);
                    p = star + 1;
                    v = at + step;
                    backtrack = Some((star, at + step));
                }
                None => return false,
            },
        }
    }
    pattern.iter().skip(p).all(|t| *t == Tok::Star)
}

/// Number of colon-delimited fields in an ARN: `arn:partition:service:region:account:resource`.
pub(super) const ARN_FIELDS: usize = 6;

/// The six fields of an ARN, the last one keeping any further colons (resource ids such as
/// `key/...` or S3 object keys may contain them). `None` if `s` has fewer than five colons.
/// The `arn` prefix itself is not checked here: a pattern's first field may be a wildcard.
pub(super) fn split_arn(s: &str) -> Option<[&str; ARN_FIELDS]> {
    let mut it = s.splitn(ARN_FIELDS, ':');
    Some([
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ])
}

/// [`split_arn`] for a token list: only literal colons separate fields.
pub(super) fn split_arn_tokens(toks: &[Tok]) -> Option<[&[Tok]; ARN_FIELDS]> {
    let mut fields: [&[Tok]; ARN_FIELDS] = [&[]; ARN_FIELDS];
    let mut rest = toks;
    for field in fields.iter_mut().take(ARN_FIELDS - 1) {
        let at = rest.iter().position(|t| *t == Tok::Lit(':'))?;
        let (head, tail) = rest.split_at(at);
        *field = head;
        rest = tail.get(1..).unwrap_or(&[]);
    }
    if let Some(last) = fields.last_mut() {
        *last = rest;
    }
    Some(fields)
}

/// Field-by-field ARN matching, as `ArnLike` and `Resource` do it: a `*` in the region field
/// matches only within that field ("IAM JSON policy elements: Condition operators", ARN
/// operators: "Each of the six colon-delimited components of the ARN is checked separately").
pub(super) fn arn_match(pattern: &[Tok], value: &str) -> bool {
    let (Some(pf), Some(vf)) = (split_arn_tokens(pattern), split_arn(value)) else {
        return false;
    };
    pf.iter().zip(vf.iter()).all(|(p, v)| glob_str(p, v))
}
