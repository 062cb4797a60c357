//! The text-level pieces of the response documents: a minimal XML writer, escaping,
//! timestamps and the RFC 3986 encoding IAM applies to policy documents.
//!
//! Documents are written by hand rather than through serde: the query protocol's shapes are
//! flat, AWS's element order is fixed per shape, and a writer that only ever emits escaped text
//! between static element names cannot produce malformed XML. Every piece of text goes through
//! [`escape_into`]; element names are `&'static str` and never come from input.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What RFC 3986 calls unreserved stays as is; everything else, including every non-ASCII
/// byte of the UTF-8 encoding, becomes `%XX`. Space is `%20`, never `+`: botocore decodes
/// with `urllib.parse.unquote`, which leaves `+` alone.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A policy document as IAM returns it in `GetUserPolicy` and `GetPolicyVersion`.
pub fn url_encode_policy(document: &str) -> String {
    utf8_percent_encode(document, RFC3986).to_string()
}

/// Escapes text for element content (and the one attribute, `xmlns`).
///
/// `&`, `<` and `>` become entities, `"` too so the same text is safe in an attribute, and
/// `\r` a character reference so it survives XML's line-end normalisation. XML 1.0 cannot
/// carry the other C0 controls, U+FFFE or U+FFFF at all, not even as references (expat, which
/// botocore parses with, rejects `&#x1;`), so they become U+FFFD: the document stays readable
/// by every client, at the price of those characters. Only free text can hold them (a policy
/// description, a value quoted in an error message); names, paths and tags cannot.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push(char::REPLACEMENT_CHARACTER);
            }
            c => out.push(c),
        }
    }
}

/// Appends elements to a string. Callers keep open/close balanced; the renderers are the only
/// callers and each is covered by a golden test.
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    pub fn with_capacity(n: usize) -> Self {
        XmlWriter {
            out: String::with_capacity(n),
        }
    }

    /// `<name xmlns="ns">`.
    pub fn open_ns(&mut self, name: &str, ns: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        escape_into(&mut self.out, ns);
        self.out.push_str("\">");
    }

    /// `<name>`.
    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `</name>`.
    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name/>`: how AWS writes an empty list.
    pub fn empty(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str("/>");
    }

    /// `<name>escaped text</name>`.
    pub fn text(&mut self, name: &str, value: &str) {
        self.open(name);
        escape_into(&mut self.out, value);
        self.close(name);
    }

    pub fn bool(&mut self, name: &str, value: bool) {
        self.text(name, if value { "true" } else { "false" });
    }

    pub fn u64(&mut self, name: &str, value: u64) {
        self.text(name, &value.to_string());
    }

    pub fn date(&mut self, name: &str, value: Timestamp) {
        self.text(name, &value.to_iso8601());
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A point in time, as unix seconds, written the way IAM writes dates
/// (`2013-10-02T17:01:44Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// The first instant a four-digit ISO 8601 year can show: 0000-01-01T00:00:00Z.
pub const MIN_TIMESTAMP: i64 = -62_167_219_200;
/// The last instant a four-digit ISO 8601 year can show: 9999-12-31T23:59:59Z.
pub const MAX_TIMESTAMP: i64 = 253_402_300_799;

impl Timestamp {
    pub fn from_unix(secs: i64) -> Self {
        Timestamp(secs)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` in UTC. Instants outside the years 0000..=9999 are clamped to
    /// them rather than failing: a date is never a reason not to answer.
    pub fn to_iso8601(self) -> String {
        let secs = self.0.clamp(MIN_TIMESTAMP, MAX_TIMESTAMP);
        // Within the clamp the conversion cannot fail; the fallback keeps this total.
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
            return "1970-01-01T00:00:00Z".to_owned();
        };
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl From<time::OffsetDateTime> for Timestamp {
    /// Whole seconds; IAM's dates carry no fraction.
    fn from(t: time::OffsetDateTime) -> Self {
        Timestamp(t.unix_timestamp())
    }
}
