//! Arguments that hold numbers out of the range of an `f64`.
//!
//! `JSON.parse` reads `1e309` as `Infinity` (and `-1e309` as `-Infinity`), which no JSON
//! number, hence neither `serde_json::Number` nor [`Value::Number`], can hold. No encoder writes
//! such literals (`JSON.stringify(Infinity)` is `null`), so the arguments that hold them take a
//! slow path: [`JsValue`], a [`Value`] that can also be ±Infinity. It offers an infinity to the
//! target type as an `f64` infinity (`f64`, `f32` and `Option<f64>` receive it; `Value` and
//! `serde_json::Value` turn it into `null`, as they do any non-finite float), and converted to a
//! [`Value`] or written as JSON an infinity is `null`, as `JSON.stringify` writes it.

use bytes::Bytes;
use serde::de::{Deserializer, Error as _, IntoDeserializer, Unexpected, Visitor};
use serde::forward_to_deserialize_any;

use super::json::{InvalidPlaceholder, placeholder_index};
use crate::value::Value;
use crate::value::de::{ByteSeq, Enum, visit_map_exact, visit_seq_exact};
use crate::value::{Map, Number};

type Error = serde_json::Error;

/// The deepest nesting read: serde_json's limit, so that a typed read fails on the same inputs
/// whichever path it takes.
const MAX_DEPTH: usize = 128;

/// What `JSON.parse` gives (plus binary): a [`Value`] whose numbers may be infinite.
#[derive(Debug, Clone)]
pub(crate) enum JsValue {
    Null,
    Bool(bool),
    /// A finite number.
    Number(Number),
    /// `Infinity` or `-Infinity`: a number literal beyond the range of an `f64`.
    Infinity {
        negative: bool,
    },
    String(String),
    Binary(Bytes),
    Array(Vec<JsValue>),
    Object(indexmap::IndexMap<String, JsValue>),
}

impl JsValue {
    /// Parses one JSON value (whitespace around it allowed), reading number literals beyond
    /// the range of an `f64` as infinities. Strings and finite numbers are read by serde_json, so
    /// they are what the fast path reads; nesting deeper than serde_json's limit fails.
    pub(crate) fn parse(json: &str) -> Result<JsValue, Error> {
        let mut p = Parser { s: json, i: 0 };
        let value = p.value(0)?;
        p.ws();
        if p.i == json.len() {
            Ok(value)
        } else {
            Err(Error::custom("trailing characters"))
        }
    }

    /// The value as a [`Value`]: infinities become `Null`, as `JSON.stringify` writes them.
    pub(crate) fn into_value(self) -> Value {
        match self {
            JsValue::Null | JsValue::Infinity { .. } => Value::Null,
            JsValue::Bool(b) => Value::Bool(b),
            JsValue::Number(n) => Value::Number(n),
            JsValue::String(s) => Value::String(s),
            JsValue::Binary(b) => Value::Binary(b),
            JsValue::Array(items) => {
                Value::Array(items.into_iter().map(Self::into_value).collect())
            }
            JsValue::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect::<Map>(),
            ),
        }
    }

    /// Whether an infinity sits anywhere in the value.
    pub(crate) fn has_infinity(&self) -> bool {
        match self {
            JsValue::Infinity { .. } => true,
            JsValue::Array(items) => items.iter().any(Self::has_infinity),
            JsValue::Object(map) => map.values().any(Self::has_infinity),
            _ => false,
        }
    }

    /// Whether binary sits anywhere in the value.
    pub(crate) fn has_binary(&self) -> bool {
        self.count_binary() > 0
    }

    /// How many binary values sit in the value.
    pub(crate) fn count_binary(&self) -> usize {
        match self {
            JsValue::Binary(_) => 1,
            JsValue::Array(items) => items.iter().map(Self::count_binary).sum(),
            JsValue::Object(map) => map.values().map(Self::count_binary).sum(),
            _ => 0,
        }
    }

    /// Replaces each placeholder with its attachment, as `json::reconstruct` does for a
    /// [`Value`] (an infinite `num` is out of range, as in JavaScript).
    pub(crate) fn reconstruct(&mut self, attachments: &[Bytes]) -> Result<(), InvalidPlaceholder> {
        match self {
            JsValue::Object(map) => {
                if matches!(map.get("_placeholder"), Some(JsValue::Bool(true))) {
                    let index = match map.get("num") {
                        Some(JsValue::Number(n)) => placeholder_index(n, attachments.len()),
                        _ => None,
                    };
                    let bytes = index
                        .and_then(|i| attachments.get(i))
                        .ok_or(InvalidPlaceholder)?;
                    *self = JsValue::Binary(bytes.clone());
                    return Ok(());
                }
                map.values_mut()
                    .try_for_each(|v| v.reconstruct(attachments))
            }
            JsValue::Array(items) => items
                .iter_mut()
                .try_for_each(|v| v.reconstruct(attachments)),
            _ => Ok(()),
        }
    }

    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            JsValue::Null => Unexpected::Unit,
            JsValue::Bool(b) => Unexpected::Bool(*b),
            JsValue::Number(_) => Unexpected::Other("number"),
            JsValue::Infinity { negative } => Unexpected::Float(infinity(*negative)),
            JsValue::String(s) => Unexpected::Str(s),
            JsValue::Binary(b) => Unexpected::Bytes(b),
            JsValue::Array(_) => Unexpected::Seq,
            JsValue::Object(_) => Unexpected::Map,
        }
    }
}

fn infinity(negative: bool) -> f64 {
    if negative {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    }
}

/// A recursive-descent reader of JSON text (run on text the scanner has already checked, so
/// its errors are a backstop).
struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), Error> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Error::custom(format_args!("expected `{}`", char::from(c))))
        }
    }

    fn literal(&mut self, word: &str, value: JsValue) -> Result<JsValue, Error> {
        if self.s.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(value)
        } else {
            Err(Error::custom("expected a value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<JsValue, Error> {
        self.ws();
        match self.peek() {
            Some(b'n') => self.literal("null", JsValue::Null),
            Some(b't') => self.literal("true", JsValue::Bool(true)),
            Some(b'f') => self.literal("false", JsValue::Bool(false)),
            Some(b'"') => self.string().map(JsValue::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[') => {
                let depth = nested(depth)?;
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(JsValue::Array(items));
                }
                loop {
                    items.push(self.value(depth)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(JsValue::Array(items));
                        }
                        _ => return Err(Error::custom("expected `,` or `]`")),
                    }
                }
            }
            Some(b'{') => {
                let depth = nested(depth)?;
                self.i += 1;
                let mut map = indexmap::IndexMap::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(JsValue::Object(map));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.expect(b':')?;
                    let value = self.value(depth)?;
                    // A repeated key keeps its first place and takes the last value, as in
                    // JavaScript (and in `Value`).
                    map.insert(key, value);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(JsValue::Object(map));
                        }
                        _ => return Err(Error::custom("expected `,` or `}`")),
                    }
                }
            }
            _ => Err(Error::custom("expected a value")),
        }
    }

    /// A string literal, at its opening quote.
    fn string(&mut self) -> Result<String, Error> {
        let start = self.i;
        if self.peek() != Some(b'"') {
            return Err(Error::custom("expected a string"));
        }
        self.i += 1;
        let mut plain = true;
        loop {
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => {
                    plain = false;
                    self.i += 2;
                }
                Some(c) => {
                    plain &= c >= 0x20;
                    self.i += 1;
                }
                None => return Err(Error::custom("unterminated string")),
            }
        }
        self.i += 1;
        let literal = self
            .s
            .get(start..self.i)
            .ok_or_else(|| Error::custom("invalid string"))?;
        if plain {
            Ok(literal[1..literal.len() - 1].to_owned())
        } else {
            serde_json::from_str(literal)
        }
    }

    fn number(&mut self) -> Result<JsValue, Error> {
        let start = self.i;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        let literal = self.s.get(start..self.i).unwrap_or_default();
        match serde_json::from_str::<Number>(literal) {
            Ok(n) => Ok(JsValue::Number(n)),
            // serde_json refuses a literal beyond the range of an f64; JavaScript reads it
            // as an infinity.
            Err(e) => match literal.parse::<f64>() {
                Ok(f) if f.is_infinite() => Ok(JsValue::Infinity { negative: f < 0.0 }),
                _ => Err(e),
            },
        }
    }
}

/// The depth inside one more container, or an error past the limit.
fn nested(depth: usize) -> Result<usize, Error> {
    if depth + 1 >= MAX_DEPTH {
        Err(Error::custom("recursion limit exceeded"))
    } else {
        Ok(depth + 1)
    }
}

impl<'de> IntoDeserializer<'de, Error> for JsValue {
    type Deserializer = JsValue;
    fn into_deserializer(self) -> JsValue {
        self
    }
}

/// As `Value`'s own `Deserializer`, with infinities offered as `f64`.
impl<'de> Deserializer<'de> for JsValue {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            JsValue::Null => visitor.visit_unit(),
            JsValue::Bool(b) => visitor.visit_bool(b),
            JsValue::Number(n) => n.deserialize_any(visitor),
            JsValue::Infinity { negative } => visitor.visit_f64(infinity(negative)),
            JsValue::String(s) => visitor.visit_string(s),
            JsValue::Binary(b) => visitor.visit_byte_buf(Vec::from(b)),
            JsValue::Array(items) => visit_seq_exact(visitor, items.into_iter()),
            JsValue::Object(map) => visit_map_exact(visitor, map.into_iter()),
        }
    }

    /// Binary is also offered as a sequence of numbers, for a plain `Vec<u8>`.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            JsValue::Binary(b) => visitor.visit_seq(ByteSeq(b.iter())),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            JsValue::String(s) => visitor.visit_enum(Enum::<_, JsValue> {
                variant: JsValue::String(s),
                content: None,
            }),
            JsValue::Object(map) if map.len() == 1 => {
                let Some((k, v)) = map.into_iter().next() else {
                    return Err(Error::custom("empty enum map"));
                };
                visitor.visit_enum(Enum {
                    variant: JsValue::String(k),
                    content: Some(v),
                })
            }
            other => Err(Error::invalid_type(
                other.unexpected(),
                &"string or map with a single key",
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            JsValue::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct map struct identifier tuple_struct
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> JsValue {
        JsValue::parse(s).expect("valid")
    }

    #[test]
    fn infinities_for_typed_targets_null_in_values() {
        let v = parse(r#"[1e309, -1e400, {"a": [1E+999]}, 1e-400, 2, "x"]"#);
        assert!(v.has_infinity());
        let typed: (f64, f64, serde_json::Value, f64, u8, String) =
            serde::Deserialize::deserialize(v.clone()).expect("typed");
        assert_eq!(typed.0, f64::INFINITY);
        assert_eq!(typed.1, f64::NEG_INFINITY);
        assert_eq!(typed.2, serde_json::json!({"a": [null]}));
        assert_eq!(typed.3.to_bits(), 0f64.to_bits());
        assert_eq!((typed.4, typed.5.as_str()), (2, "x"));
        let opt: Vec<Option<f32>> =
            serde::Deserialize::deserialize(parse("[1e309, null]")).expect("options");
        assert_eq!(opt, [Some(f32::INFINITY), None]);
        let value = v.into_value();
        assert_eq!(value[0], Value::Null);
        assert_eq!(value[2]["a"][0], Value::Null);
        assert_eq!(value.to_string(), r#"[null,null,{"a":[null]},0,2,"x"]"#);
        // An integer target refuses an infinity, as it refuses any float.
        assert!(<u64 as serde::Deserialize>::deserialize(parse("1e309")).is_err());
    }

    #[test]
    fn reads_like_serde_json() {
        for json in [
            r#"{"a":1,"b":[true,false,null],"c":"\u00e9\"\\","a":2}"#,
            "-0",
            "123456789012345678901234567890",
            "[ 1.5 , -2 ,\n\t18446744073709551615 ]",
            "\"😀\"",
        ] {
            let ours = parse(json).into_value();
            let theirs: Value = serde_json::from_str(json).expect("valid");
            assert_eq!(ours, theirs, "{json}");
            assert_eq!(ours.to_string(), theirs.to_string(), "{json}");
        }
        for bad in ["", "[1,]", "\"\\ud800\"", "1 2", "[", "{\"a\" 1}", "nul"] {
            assert!(JsValue::parse(bad).is_err(), "{bad:?}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(JsValue::parse(&deep).is_err());
    }
}
