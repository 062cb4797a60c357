//! Strict reading of a policy document into a small JSON tree.
//!
//! serde_json's own `Value` keeps the last of two equal keys, so `{"Effect":"Allow",
//! "Effect":"Deny"}` would silently mean Deny here while another reader (a person, an audit
//! tool, AWS) may take the first. Policies are security documents: two readers must not
//! disagree, so a duplicate key anywhere is an error. The tree also keeps object members in
//! document order, so statements and error messages follow the text. Nesting is counted by the
//! seed and refused past [`MAX_JSON_DEPTH`] (serde_json's own limit of 128 would also hold, but
//! nothing valid is deeper than six levels). Numbers keep their text form: condition values are
//! strings to the policy language, and `10` and `"10"` must compile alike.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{MAX_JSON_DEPTH, excerpt};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json {
    Null,
    Bool(bool),
    /// The number's text as Rust formats it (`10`, `1.5`, `-3`).
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in document order; keys are unique.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The JSON type's name, for messages.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Parses `doc` as one JSON value with nothing after it but whitespace.
pub(super) fn parse(doc: &str) -> Result<Json, String> {
    let mut de = serde_json::Deserializer::from_str(doc);
    let value = Seed { depth: 0 }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Carries the depth of the value about to be read.
struct Seed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Json;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor { depth: self.depth })
    }
}

struct JsonVisitor {
    depth: usize,
}

impl JsonVisitor {
    /// The depth of this container's members, or an error past the limit.
    fn nested<E: de::Error>(&self) -> Result<usize, E> {
        let depth = self.depth + 1;
        if depth > MAX_JSON_DEPTH {
            Err(E::custom(format!(
                "JSON nested deeper than {MAX_JSON_DEPTH} levels"
            )))
        } else {
            Ok(depth)
        }
    }
}

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        if v.is_finite() {
            Ok(Json::Number(v.to_string()))
        } else {
            Err(E::custom("number out of range"))
        }
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let depth = self.nested::<A::Error>()?;
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed { depth })? {
            items.push(v);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let depth = self.nested::<A::Error>()?;
        let mut members: Vec<(String, Json)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "duplicate key \"{}\"",
                    excerpt(&key)
                )));
            }
            let value = map.next_value_seed(Seed { depth })?;
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}
