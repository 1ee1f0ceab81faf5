//! [`Value`]: the dynamic value of Socket.IO payloads, JSON plus binary.

use bytes::Bytes;

pub(crate) mod de;
pub(crate) mod ser;

/// A JSON number (an unsigned or signed 64-bit integer, or a finite `f64`).
pub type Number = serde_json::Number;

/// A JSON object. Insertion order is kept, like the order of a JavaScript object's
/// (non-integer) keys.
pub type Map = indexmap::IndexMap<String, Value>;

/// A dynamic Socket.IO value: anything `JSON.stringify` can write, plus binary.
///
/// Binary (a Node.js `Buffer`, an `ArrayBuffer` or a typed array on the JavaScript side) travels
/// as an attachment of a BINARY_EVENT or BINARY_ACK; in a `Value` it is [`Value::Binary`],
/// wherever it sits in the tree.
///
/// `Value` implements [`serde::Serialize`] and [`serde::Deserialize`], and `Value` and `&Value`
/// are [`serde::Deserializer`]s, so any typed data converts to and from it:
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use sio_protocol::Value;
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Upload {
///     name: String,
///     data: bytes::Bytes, // binary: becomes Value::Binary
/// }
///
/// let upload = Upload { name: "a.png".into(), data: bytes::Bytes::from_static(b"\x89PNG") };
/// let value = Value::from_serialize(&upload).unwrap();
/// assert_eq!(value["name"], Value::from("a.png"));
/// assert!(value.has_binary());
/// assert_eq!(value.deserialize_into::<Upload>().unwrap(), upload);
/// ```
///
/// Numbers compare by numeric value (`Value::from(2) == Value::from(2.0)`), as in JavaScript.
///
/// A `Value` holds what JSON can carry: a received number beyond the range of an `f64`
/// (`1e309`, `Infinity` once JavaScript has read it) is [`Value::Null`], which is what
/// `JSON.stringify` writes for it; a typed read of the arguments sees the infinity (see
/// [`Args`](crate::socket::Args#numbers-beyond-the-range-of-an-f64)).
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `null` (JavaScript `null`; `undefined` array items are sent as `null` too).
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// Binary data, sent as an attachment.
    Binary(Bytes),
    /// An array.
    Array(Vec<Value>),
    /// An object.
    Object(Map),
}

static NULL: Value = Value::Null;

impl Value {
    /// Reads a typed value out of this one. [`Value::Binary`] is offered to the target type as
    /// bytes, so `bytes::Bytes`, `serde_bytes::ByteBuf` and `#[serde(with = "serde_bytes")]`
    /// fields (and plain `Vec<u8>`) accept it.
    ///
    /// The error is of kind [`Args`](crate::ErrorKind::Args), with the deserializer's error as
    /// its source.
    pub fn deserialize_into<'a, T: serde::Deserialize<'a>>(
        &'a self,
    ) -> Result<T, crate::error::Error> {
        T::deserialize(self).map_err(crate::error::Error::deserialize)
    }

    /// Whether binary data sits anywhere in this value.
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(items) => items.iter().any(Value::has_binary),
            Value::Object(map) => map.values().any(Value::has_binary),
            _ => false,
        }
    }

    /// How many binary values sit in this value.
    pub(crate) fn count_binary(&self) -> usize {
        match self {
            Value::Binary(_) => 1,
            Value::Array(items) => items.iter().map(Value::count_binary).sum(),
            Value::Object(map) => map.values().map(Value::count_binary).sum(),
            _ => 0,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as a `u64`, if this is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(Number::as_u64)
    }

    /// The number as an `i64`, if this is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// The number as an `f64`, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().and_then(Number::as_f64)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The binary data, if this is binary.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The items, mutably, if this is an array.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The map, if this is an object.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The map, mutably, if this is an object.
    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// An object's field, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(key))
    }
}

/// `value["key"]`: an object's field, or `Null` when absent or not an object.
impl std::ops::Index<&str> for Value {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value[i]`: an array's item, or `Null` when out of range or not an array.
impl std::ops::Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

/// Numbers compare by value, like JavaScript's `===` on numbers (`1` equals `1.0`).
pub(crate) fn number_eq(a: &Number, b: &Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => number_eq(a, b),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Binary(a), Value::Binary(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => a == b,
            _ => false,
        }
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Number(Number::from(n))
            }
        }
    )*};
}
from_integer!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl From<f64> for Value {
    /// A finite float becomes a number; NaN and infinities become `null`, as
    /// `JSON.stringify` writes them.
    fn from(n: f64) -> Self {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

impl From<f32> for Value {
    /// See `From<f64>`.
    fn from(n: f32) -> Self {
        Value::from(f64::from(n))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<crate::str::Str> for Value {
    fn from(s: crate::str::Str) -> Self {
        Value::String(s.into())
    }
}

impl From<Bytes> for Value {
    /// Binary data.
    fn from(b: Bytes) -> Self {
        Value::Binary(b)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Object(m)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    /// An array. Note that a `Vec<u8>` becomes an array of numbers: for binary, convert a
    /// [`Bytes`].
    fn from(items: Vec<T>) -> Self {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` becomes `null`.
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<()> for Value {
    fn from((): ()) -> Self {
        Value::Null
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(m) => {
                Value::Object(m.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Value {
    /// An object.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Value::Object(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl FromIterator<Value> for Value {
    /// An array.
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        Value::Array(iter.into_iter().collect())
    }
}
