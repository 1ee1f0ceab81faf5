//! Reading JSON text that `scan.rs` has validated: into any `T: Deserialize` ([`JsonDe`] is a
//! serde deserializer), or straight into a [`Value`] ([`JsonDe::parse_value`]).
//!
//! It reads what serde_json reads, the way serde_json offers it to visitors (integers as
//! `u64`/`i64`, `-0` and integers beyond 64 bits as `f64`, numeric map keys, enums as a string
//! or a one-entry object, tuples that must use every array item, the same nesting limit), but
//! it does less work: the text is known to be valid JSON, so it checks only what the target
//! type asks for, borrows strings without escapes from the text, decodes numbers with a fast
//! exact path, and builds `Value` objects and arrays with their final size. Invalid text still
//! gets an error, never a panic (it is simply not the intended input).
//!
//! A number literal beyond the range of an `f64` is an error here, as in serde_json; arguments
//! that hold one are read by `lenient.rs` instead.

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Error as _, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::find_quote_or_backslash;
use crate::value::Value;
use crate::value::{Map, Number};

type Error = serde_json::Error;
type Result<T> = std::result::Result<T, Error>;

/// serde_json's nesting limit: an array or object nested 128 deep is refused.
const MAX_DEPTH: u8 = 128;

/// The name under which `serde_json::value::RawValue` asks for its text.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Powers of ten that an `f64` holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Where a string read as bytes is.
enum RefBytes {
    /// `text[start..end]`.
    Borrowed(usize, usize),
    /// In `scratch`.
    Copied,
}

/// Appends code point `cp` in UTF-8, or for a lone surrogate in the generalized UTF-8 that
/// serde_json writes for one (WTF-8).
fn push_wtf8(out: &mut Vec<u8>, cp: u32) {
    let b = |x: u32| (x & 0xff) as u8;
    if cp < 0x80 {
        out.push(b(cp));
    } else if cp < 0x800 {
        out.extend_from_slice(&[b(0xC0 | (cp >> 6)), b(0x80 | (cp & 0x3F))]);
    } else if cp < 0x10000 {
        out.extend_from_slice(&[
            b(0xE0 | (cp >> 12)),
            b(0x80 | ((cp >> 6) & 0x3F)),
            b(0x80 | (cp & 0x3F)),
        ]);
    } else {
        out.extend_from_slice(&[
            b(0xF0 | (cp >> 18)),
            b(0x80 | ((cp >> 12) & 0x3F)),
            b(0x80 | ((cp >> 6) & 0x3F)),
            b(0x80 | (cp & 0x3F)),
        ]);
    }
}

/// A number as serde_json reads it.
#[derive(Clone, Copy)]
enum Num {
    U(u64),
    I(i64),
    F(f64),
}

/// A string read from the text: borrowed when it has no escape, else decoded into the scratch
/// buffer.
enum Ref<'de, 's> {
    Borrowed(&'de str),
    Copied(&'s str),
}

impl Ref<'_, '_> {
    fn as_str(&self) -> &str {
        match self {
            Ref::Borrowed(s) => s,
            Ref::Copied(s) => s,
        }
    }
}

fn err(msg: &str) -> Error {
    Error::custom(msg)
}

/// The deserializer. `text` should be valid JSON (checked by `scan.rs`).
pub(crate) struct JsonDe<'de> {
    text: &'de str,
    i: usize,
    remaining_depth: u8,
    scratch: Vec<u8>,
    /// Items of the arrays and entries of the objects being built by `parse_value`, so that
    /// each container is allocated once, at its final size.
    items: Vec<Value>,
    entries: Vec<(String, Value)>,
}

impl<'de> JsonDe<'de> {
    pub(crate) fn new(text: &'de str) -> Self {
        JsonDe {
            text,
            i: 0,
            remaining_depth: MAX_DEPTH,
            scratch: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Checks that only whitespace is left.
    pub(crate) fn end(&mut self) -> Result<()> {
        match self.peek_ws() {
            None => Ok(()),
            Some(_) => Err(err("trailing characters")),
        }
    }

    #[inline]
    fn bytes(&self) -> &'de [u8] {
        self.text.as_bytes()
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    /// Skips whitespace and returns the next byte.
    #[inline]
    fn peek_ws(&mut self) -> Option<u8> {
        let b = self.bytes();
        while let Some(&c) = b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    #[inline]
    fn expect_ws(&mut self, c: u8, what: &str) -> Result<()> {
        if self.peek_ws() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(err(what))
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        if self.bytes().get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(err("expected value"))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.remaining_depth -= 1;
        if self.remaining_depth == 0 {
            return Err(err("recursion limit exceeded"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.remaining_depth += 1;
    }

    /// A string, after its opening quote.
    #[inline]
    fn string<'s>(&'s mut self) -> Result<Ref<'de, 's>> {
        match self.string_bytes(false)? {
            RefBytes::Borrowed(start, end) => self
                .text
                .get(start..end)
                .map(Ref::Borrowed)
                .ok_or_else(|| err("invalid string")),
            RefBytes::Copied => std::str::from_utf8(&self.scratch)
                .map(Ref::Copied)
                .map_err(|_| err("invalid unicode code point")),
        }
    }

    /// A string, after its opening quote: the range of its text when it has no escape, else
    /// decoded into `scratch`. With `raw` (a string read as bytes), lone surrogates are
    /// written as WTF-8, as serde_json does.
    #[inline(always)]
    fn string_bytes(&mut self, raw: bool) -> Result<RefBytes> {
        let b = self.bytes();
        let start = self.i;
        let j = find_quote_or_backslash(b, start);
        match b.get(j) {
            Some(b'"') => {
                self.i = j + 1;
                Ok(RefBytes::Borrowed(start, j))
            }
            Some(_) => {
                self.i = j;
                self.scratch.clear();
                self.scratch
                    .extend_from_slice(b.get(start..j).unwrap_or_default());
                self.unescape(raw)?;
                Ok(RefBytes::Copied)
            }
            None => Err(err("EOF while parsing a string")),
        }
    }

    /// The rest of a string that has escapes, from a backslash, into `scratch`.
    fn unescape(&mut self, raw: bool) -> Result<()> {
        let b = self.bytes();
        loop {
            match b.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let c = b.get(self.i + 1).copied();
                    self.i += 2;
                    let byte = match c {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'/') => b'/',
                        Some(b'b') => 0x08,
                        Some(b'f') => 0x0c,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(b'u') => {
                            self.unicode_escape(raw)?;
                            continue;
                        }
                        _ => return Err(err("invalid escape")),
                    };
                    self.scratch.push(byte);
                }
                Some(_) => {
                    let j = find_quote_or_backslash(b, self.i);
                    self.scratch
                        .extend_from_slice(b.get(self.i..j).unwrap_or_default());
                    self.i = j;
                }
                None => return Err(err("EOF while parsing a string")),
            }
        }
    }

    /// The code point of a `\u` escape (after the `u`), a surrogate pair included.
    fn unicode_escape(&mut self, raw: bool) -> Result<()> {
        let b = self.bytes();
        let mut n = self.hex4()?;
        if !raw && (0xDC00..=0xDFFF).contains(&n) {
            return Err(err("lone leading surrogate in hex escape"));
        }
        loop {
            if !(0xD800..=0xDBFF).contains(&n) {
                push_wtf8(&mut self.scratch, u32::from(n));
                return Ok(());
            }
            let lead = n;
            if b.get(self.i..self.i + 2) != Some(b"\\u") {
                if !raw {
                    return Err(err("unexpected end of hex escape"));
                }
                // Whatever follows is read by the caller.
                push_wtf8(&mut self.scratch, u32::from(lead));
                return Ok(());
            }
            self.i += 2;
            let trail = self.hex4()?;
            if !(0xDC00..=0xDFFF).contains(&trail) {
                if !raw {
                    return Err(err("lone leading surrogate in hex escape"));
                }
                push_wtf8(&mut self.scratch, u32::from(lead));
                n = trail;
                continue;
            }
            let cp = 0x10000 + ((u32::from(lead) - 0xD800) << 10) + (u32::from(trail) - 0xDC00);
            push_wtf8(&mut self.scratch, cp);
            return Ok(());
        }
    }

    fn hex4(&mut self) -> Result<u16> {
        let hex = self
            .bytes()
            .get(self.i..self.i + 4)
            .ok_or_else(|| err("EOF while parsing a string"))?;
        let mut n: u16 = 0;
        for &c in hex {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(err("invalid escape")),
            };
            n = (n << 4) | u16::from(d);
        }
        self.i += 4;
        Ok(n)
    }

    /// A number literal, at its first character. With `single`, a float is read as an `f32`
    /// (then returned widened), as serde_json does for an `f32` target.
    fn number(&mut self) -> Result<Num> {
        let b = self.bytes();
        let start = self.i;
        let negative = b.get(self.i) == Some(&b'-');
        if negative {
            self.i += 1;
        }
        let int_start = self.i;
        let mut m: u64 = 0;
        while let Some(&c @ b'0'..=b'9') = b.get(self.i) {
            m = m.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            self.i += 1;
        }
        let int_digits = self.i - int_start;
        if int_digits == 0 {
            return Err(err("invalid number"));
        }
        let mut frac_digits = 0usize;
        let mut float = false;
        if b.get(self.i) == Some(&b'.') {
            float = true;
            self.i += 1;
            while let Some(&c @ b'0'..=b'9') = b.get(self.i) {
                m = m.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                self.i += 1;
                frac_digits += 1;
            }
            if frac_digits == 0 {
                return Err(err("invalid number"));
            }
        }
        let mut exp: i64 = 0;
        if let Some(b'e' | b'E') = b.get(self.i) {
            float = true;
            self.i += 1;
            let exp_negative = match b.get(self.i) {
                Some(b'-') => {
                    self.i += 1;
                    true
                }
                Some(b'+') => {
                    self.i += 1;
                    false
                }
                _ => false,
            };
            let exp_start = self.i;
            while let Some(&c @ b'0'..=b'9') = b.get(self.i) {
                exp = (exp * 10 + i64::from(c - b'0')).min(1 << 40);
                self.i += 1;
            }
            if self.i == exp_start {
                return Err(err("invalid number"));
            }
            if exp_negative {
                exp = -exp;
            }
        }
        let digits = int_digits + frac_digits;
        if !float && digits <= 19 {
            return Ok(if !negative {
                Num::U(m)
            } else if m == 0 {
                // serde_json reads `-0` as a float.
                Num::F(-0.0)
            } else if m <= 1 << 63 {
                Num::I((m as i64).wrapping_neg())
            } else {
                Num::F(-(m as f64))
            });
        }
        if float && digits <= 19 && m <= 1 << 53 {
            // Both operands exact: one correctly rounded operation, as a parse would give.
            let e10 = exp - frac_digits as i64;
            let f = if (0..=22).contains(&e10) {
                Some(m as f64 * POW10[e10 as usize])
            } else if (-22..0).contains(&e10) {
                Some(m as f64 / POW10[(-e10) as usize])
            } else {
                None
            };
            if let Some(f) = f.filter(|f| f.is_finite()) {
                return Ok(Num::F(if negative { -f } else { f }));
            }
        }
        let literal = self.text.get(start..self.i).unwrap_or_default();
        if !float {
            // An integer of 20 digits or more: u64 / i64 if it fits, as serde_json reads it.
            if let Ok(u) = literal.parse::<u64>() {
                return Ok(Num::U(u));
            }
            if let Ok(i) = literal.parse::<i64>() {
                return Ok(Num::I(i));
            }
        }
        match literal.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Num::F(f)),
            _ => Err(err("number out of range")),
        }
    }

    fn literal_from(&self, start: usize) -> &'de str {
        self.text.get(start..self.i).unwrap_or_default()
    }

    /// Skips one value (validated text: brackets balance, strings end).
    fn skip_value(&mut self) -> Result<()> {
        let mut depth = 0usize;
        loop {
            match self.peek_ws() {
                Some(b'[' | b'{') => {
                    self.i += 1;
                    depth += 1;
                    continue;
                }
                Some(b']' | b'}') if depth > 0 => {
                    self.i += 1;
                    depth -= 1;
                }
                Some(b'"') => {
                    self.i += 1;
                    self.skip_string()?;
                }
                Some(b',' | b':') if depth > 0 => {
                    self.i += 1;
                    continue;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                _ => return Err(err("expected value")),
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }

    fn skip_string(&mut self) -> Result<()> {
        let b = self.bytes();
        loop {
            let j = find_quote_or_backslash(b, self.i);
            match b.get(j) {
                Some(b'"') => {
                    self.i = j + 1;
                    return Ok(());
                }
                Some(_) => self.i = j + 2,
                None => return Err(err("EOF while parsing a string")),
            }
        }
    }

    /// Reads one value into a [`Value`].
    pub(crate) fn parse_value(&mut self) -> Result<Value> {
        match self.peek_ws() {
            Some(b'"') => {
                self.i += 1;
                Ok(Value::String(self.string()?.as_str().to_owned()))
            }
            Some(b'-' | b'0'..=b'9') => Ok(match self.number()? {
                Num::U(u) => Value::Number(Number::from(u)),
                Num::I(i) => Value::Number(Number::from(i)),
                Num::F(f) => Value::from(f),
            }),
            Some(b'{') => {
                self.i += 1;
                self.enter()?;
                let mark = self.entries.len();
                if self.peek_ws() == Some(b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.expect_ws(b'"', "expected string")?;
                        let key = self.string()?.as_str().to_owned();
                        self.expect_ws(b':', "expected `:`")?;
                        let value = self.parse_value()?;
                        self.entries.push((key, value));
                        match self.peek_ws() {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(err("expected `,` or `}`")),
                        }
                    }
                }
                self.leave();
                let mut map = Map::with_capacity(self.entries.len() - mark);
                map.extend(self.entries.drain(mark..));
                Ok(Value::Object(map))
            }
            Some(b'[') => {
                self.i += 1;
                self.enter()?;
                let mark = self.items.len();
                if self.peek_ws() == Some(b']') {
                    self.i += 1;
                } else {
                    loop {
                        let value = self.parse_value()?;
                        self.items.push(value);
                        match self.peek_ws() {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(err("expected `,` or `]`")),
                        }
                    }
                }
                self.leave();
                let mut items = Vec::with_capacity(self.items.len() - mark);
                items.extend(self.items.drain(mark..));
                Ok(Value::Array(items))
            }
            Some(b't') => {
                self.literal(b"true")?;
                Ok(Value::Bool(true))
            }
            Some(b'f') => {
                self.literal(b"false")?;
                Ok(Value::Bool(false))
            }
            Some(b'n') => {
                self.literal(b"null")?;
                Ok(Value::Null)
            }
            _ => Err(err("expected value")),
        }
    }

    /// `[`...`]` or `{`...`}` around `visit`: the nesting limit, and the closing bracket (the
    /// visitor must have read every item, like serde_json requires).
    fn container<V>(&mut self, close: u8, visit: impl FnOnce(&mut Self) -> Result<V>) -> Result<V> {
        self.i += 1;
        self.enter()?;
        let value = visit(self)?;
        self.leave();
        match self.peek_ws() {
            Some(c) if c == close => {
                self.i += 1;
                Ok(value)
            }
            _ => Err(err("trailing characters")),
        }
    }

    fn visit_number<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        match self.number()? {
            Num::U(u) => visitor.visit_u64(u),
            Num::I(i) => visitor.visit_i64(i),
            Num::F(f) => visitor.visit_f64(f),
        }
    }
}

impl<'de> Deserializer<'de> for &mut JsonDe<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'"') => {
                self.i += 1;
                match self.string()? {
                    Ref::Borrowed(s) => visitor.visit_borrowed_str(s),
                    Ref::Copied(s) => visitor.visit_str(s),
                }
            }
            Some(b'-' | b'0'..=b'9') => self.visit_number(visitor),
            Some(b'{') => self.container(b'}', |de| visitor.visit_map(Entries { de, first: true })),
            Some(b'[') => self.container(b']', |de| visitor.visit_seq(Items { de, first: true })),
            Some(b't') => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            Some(b'n') => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            _ => Err(err("expected value")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek_ws() == Some(b'n') {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // serde_json (float_roundtrip) reads a float literal straight as an `f32`.
        match self.peek_ws() {
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                match self.number()? {
                    Num::U(u) => visitor.visit_u64(u),
                    Num::I(i) => visitor.visit_i64(i),
                    Num::F(_) => match self.literal_from(start).parse::<f32>() {
                        Ok(f) if f.is_finite() => visitor.visit_f32(f),
                        _ => Err(err("number out of range")),
                    },
                }
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                let n = self.number()?;
                match (n, self.literal_from(start).parse::<i128>()) {
                    (_, Ok(i)) => visitor.visit_i128(i),
                    (Num::F(f), _) => visitor.visit_f64(f),
                    (Num::U(u), _) => visitor.visit_u64(u),
                    (Num::I(i), _) => visitor.visit_i64(i),
                }
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                let n = self.number()?;
                match (n, self.literal_from(start).parse::<u128>()) {
                    (_, Ok(u)) => visitor.visit_u128(u),
                    (Num::F(f), _) => visitor.visit_f64(f),
                    (Num::U(u), _) => visitor.visit_u64(u),
                    (Num::I(i), _) => visitor.visit_i64(i),
                }
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'"') => {
                self.i += 1;
                match self.string_bytes(true)? {
                    RefBytes::Borrowed(start, end) => visitor
                        .visit_borrowed_bytes(self.bytes().get(start..end).unwrap_or_default()),
                    RefBytes::Copied => visitor.visit_bytes(&self.scratch),
                }
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == RAW_VALUE_TOKEN {
            // The value's own text, handed to serde_json which knows the protocol.
            self.peek_ws();
            let start = self.i;
            self.skip_value()?;
            let raw = self.literal_from(start);
            let mut de = serde_json::Deserializer::from_str(raw);
            return (&mut de).deserialize_newtype_struct(name, visitor);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.peek_ws() {
            Some(b'"') => {
                self.i += 1;
                match self.string()? {
                    Ref::Borrowed(s) => {
                        visitor.visit_enum(de::value::BorrowedStrDeserializer::<Error>::new(s))
                    }
                    Ref::Copied(s) => {
                        visitor.visit_enum(de::value::StrDeserializer::<Error>::new(s))
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                self.enter()?;
                let value = visitor.visit_enum(VariantDe { de: self })?;
                self.leave();
                self.expect_ws(b'}', "expected `}`")?;
                Ok(value)
            }
            _ => Err(err("expected value")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_value()?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 f64 char str string unit unit_struct seq tuple
        tuple_struct map struct identifier
    }
}

/// The items of an array.
struct Items<'a, 'de> {
    de: &'a mut JsonDe<'de>,
    first: bool,
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.de.peek_ws() {
            Some(b']') => return Ok(None),
            Some(b',') if !self.first => self.de.i += 1,
            Some(_) if self.first => {}
            _ => return Err(err("expected `,` or `]`")),
        }
        self.first = false;
        seed.deserialize(&mut *self.de).map(Some)
    }
}

/// The entries of an object.
struct Entries<'a, 'de> {
    de: &'a mut JsonDe<'de>,
    first: bool,
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.de.peek_ws() {
            Some(b'}') => return Ok(None),
            Some(b',') if !self.first => {
                self.de.i += 1;
                self.de.peek_ws();
            }
            Some(_) if self.first => {}
            _ => return Err(err("expected `,` or `}`")),
        }
        self.first = false;
        if self.de.peek() != Some(b'"') {
            return Err(err("key must be a string"));
        }
        seed.deserialize(KeyDe { de: &mut *self.de }).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.de.expect_ws(b':', "expected `:`")?;
        seed.deserialize(&mut *self.de)
    }
}

/// A `{"variant": content}` enum.
struct VariantDe<'a, 'de> {
    de: &'a mut JsonDe<'de>,
}

impl<'de> EnumAccess<'de> for VariantDe<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        if self.de.peek_ws() != Some(b'"') {
            return Err(err("key must be a string"));
        }
        let variant = seed.deserialize(KeyDe { de: &mut *self.de })?;
        self.de.expect_ws(b':', "expected `:`")?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for VariantDe<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        de::Deserialize::deserialize(self.de)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.de.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.de.deserialize_any(visitor)
    }
}

/// An object key, at its opening quote: a string, or for a numeric or boolean target type the
/// number or boolean written inside the quotes (`{"1":..}` for a `HashMap<u32, _>`).
struct KeyDe<'a, 'de> {
    de: &'a mut JsonDe<'de>,
}

macro_rules! numeric_key {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.de.i += 1;
            if !matches!(self.de.peek(), Some(b'-' | b'0'..=b'9')) {
                return Err(err("invalid value: expected numeric key"));
            }
            let value = self.de.$method(visitor)?;
            if self.de.peek() != Some(b'"') {
                return Err(err("expected `\"`"));
            }
            self.de.i += 1;
            Ok(value)
        }
    )*};
}

impl<'de> Deserializer<'de> for KeyDe<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.de.i += 1;
        match self.de.string()? {
            Ref::Borrowed(s) => visitor.visit_borrowed_str(s),
            Ref::Copied(s) => visitor.visit_str(s),
        }
    }

    numeric_key! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let rest = self.de.bytes().get(self.de.i..).unwrap_or_default();
        if rest.starts_with(b"\"true\"") {
            self.de.i += 6;
            visitor.visit_bool(true)
        } else if rest.starts_with(b"\"false\"") {
            self.de.i += 7;
            visitor.visit_bool(false)
        } else {
            self.de.i += 1;
            let s = self.de.string()?;
            Err(Error::invalid_type(
                de::Unexpected::Str(s.as_str()),
                &visitor,
            ))
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == RAW_VALUE_TOKEN {
            return self.de.deserialize_newtype_struct(name, visitor);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.de.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.de.deserialize_bytes(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.de.deserialize_bytes(visitor)
    }

    serde::forward_to_deserialize_any! {
        char str string unit unit_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

/// Reads `text` (one valid JSON value) as `T`.
#[cfg(test)]
fn from_str<'de, T: de::Deserialize<'de>>(text: &'de str) -> Result<T> {
    let mut de = JsonDe::new(text);
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Deserialize;

    use super::*;

    /// What serde_json reads, we read; what it refuses, we refuse.
    fn same<T>(json: &str)
    where
        T: for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        let ours = from_str::<T>(json);
        let theirs = serde_json::from_str::<T>(json);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{json}"),
            (Err(_), Err(_)) => {}
            _ => panic!("{json}: ours {ours:?}, serde_json {theirs:?}"),
        }
    }

    #[test]
    fn numbers_as_serde_json_reads_them() {
        for json in [
            "0",
            "-0",
            "1",
            "-1",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "1.5",
            "-1.5e3",
            "1e-7",
            "0.1",
            "123456789012345678901234567890",
            "1e308",
            "1e-400",
            "2.2250738585072014e-308",
            "9007199254740993",
            "0.30000000000000004",
            "1E+2",
            "4.9e-324",
            "1.7976931348623157e308",
            "12345678901234567.5",
            "0.000001",
            "1e22",
            "1e23",
            "9007199254740992.0",
        ] {
            same::<serde_json::Value>(json);
            same::<f64>(json);
            same::<f32>(json);
            same::<u64>(json);
            same::<i64>(json);
            same::<u8>(json);
            same::<i128>(json);
            same::<u128>(json);
            same::<Value>(json);
            let ours = JsonDe::new(json).parse_value().ok();
            let theirs = serde_json::from_str::<Value>(json).ok();
            assert_eq!(ours, theirs, "{json}");
            if let (Some(Value::Number(a)), Some(Value::Number(b))) = (&ours, &theirs) {
                // Same kind (u64, i64, f64), not just the same value.
                assert_eq!((a.is_u64(), a.is_i64()), (b.is_u64(), b.is_i64()), "{json}");
                assert_eq!(
                    a.as_f64().map(f64::to_bits),
                    b.as_f64().map(f64::to_bits),
                    "{json}"
                );
            }
        }
        assert!(from_str::<f64>("1e309").is_err());
        assert!(JsonDe::new("[-1e400]").parse_value().is_err());
    }

    #[test]
    fn strings_and_escapes() {
        for json in [
            r#""""#,
            r#""plain""#,
            r#""a\"b\\c\/d\b\f\n\r\t""#,
            r#""\u00e9\u4e2d\uD83D\ude00 and more text after the escapes""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\ud800\u0041""#,
            "\"é漢😀\"",
            r#""a long string without escapes, longer than sixteen bytes""#,
        ] {
            same::<String>(json);
            same::<Value>(json);
            same::<char>(json);
            same::<serde_bytes::ByteBuf>(json);
        }
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Item {
        id: u32,
        name: String,
        price: f64,
        tags: Vec<String>,
        active: bool,
        note: Option<String>,
        #[serde(default)]
        extra: Option<Box<Item>>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    enum E {
        A,
        B(i32),
        C { x: Option<i32> },
        D(u8, u8),
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(untagged)]
    enum Untagged {
        N(u64),
        S(String),
        L(Vec<Untagged>),
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Flat {
        a: u8,
        #[serde(flatten)]
        rest: BTreeMap<String, serde_json::Value>,
    }

    #[test]
    fn types_as_serde_json_reads_them() {
        let item = r#" { "id" : 1, "name": "a\nb", "price": 2.5, "tags": ["x", "y"],
            "active": true, "note": null, "unknown": [1, {"deep": [true]}] } "#;
        same::<Item>(item);
        same::<Vec<Item>>(&format!("[{item},{item}]"));
        same::<Item>(r#"[1,"n",1.5,[],false,"note"]"#);
        same::<Item>(r#"{"id":1}"#);
        same::<Item>(r#"{"id":-1,"name":"","price":0,"tags":[],"active":true,"note":null}"#);
        for e in [
            r#""A""#,
            r#"{"B":1}"#,
            r#"{"C":{"x":null}}"#,
            r#"{"C":{"x":2}}"#,
            r#"{"D":[1,2]}"#,
            r#""E""#,
            r#"{"A":null}"#,
            r#"{"B":1,"C":2}"#,
            r#"{"D":[1,2,3]}"#,
            "1",
        ] {
            same::<E>(e);
        }
        for u in [r#"1"#, r#""s""#, r#"[1,"a",[2]]"#, r#"{"a":1}"#] {
            same::<Untagged>(u);
        }
        same::<Flat>(r#"{"a":1,"b":[1,2],"c":{"d":null}}"#);
        same::<HashMap<u32, String>>(r#"{"1":"a","22":"b"}"#);
        same::<HashMap<i8, String>>(r#"{"-1":"a"}"#);
        same::<HashMap<u32, String>>(r#"{"x":"a"}"#);
        same::<HashMap<u32, String>>(r#"{"1 ":"a"}"#);
        same::<HashMap<bool, u8>>(r#"{"true":1,"false":0}"#);
        same::<HashMap<i64, u8>>(r#"{"1.5":1}"#);
        same::<BTreeMap<String, Value>>(r#"{"a":{"b":[1,"2",null]},"a\"":true}"#);
        same::<(u8, String)>(r#"[1,"a"]"#);
        same::<(u8, String)>(r#"[1,"a",2]"#);
        same::<(u8, String)>(r#"[1]"#);
        same::<[u8; 3]>(r#"[1,2,3]"#);
        same::<Option<u8>>("null");
        same::<Option<u8>>("3");
        same::<()>("null");
        same::<()>("[]");
        same::<bool>("1");
        same::<String>("1");
        same::<u8>("\"1\"");
        same::<u8>("256");
        same::<u8>("-1");
        same::<i8>("-129");
        same::<u32>("1.0");
        same::<Vec<u8>>(r#""abc""#);
        same::<serde_bytes::ByteBuf>(r#"[1,2,3]"#);
        same::<serde_json::Value>(r#"{"a":[1,-2,3.5,"x",null,true,{}]}"#);
    }

    #[test]
    fn raw_values() {
        let raw: Box<serde_json::value::RawValue> = from_str(r#"{"a": [1, 2]}"#).unwrap();
        assert_eq!(raw.get(), r#"{"a": [1, 2]}"#);
        let (a, raw): (u8, Box<serde_json::value::RawValue>) =
            from_str(r#"[1, [true, "x"] ]"#).unwrap();
        assert_eq!((a, raw.get()), (1, r#"[true, "x"]"#));
    }

    #[test]
    fn nesting_limit_as_serde_json() {
        for depth in [126, 127, 128, 129, 1000] {
            let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            assert_eq!(
                from_str::<serde_json::Value>(&json).is_ok(),
                serde_json::from_str::<serde_json::Value>(&json).is_ok(),
                "{depth}"
            );
            assert_eq!(
                JsonDe::new(&json).parse_value().is_ok(),
                serde_json::from_str::<serde_json::Value>(&json).is_ok(),
                "{depth}"
            );
            // Ignored values have no limit.
            assert!(from_str::<de::IgnoredAny>(&json).is_ok());
            let obj = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
            assert_eq!(
                JsonDe::new(&obj).parse_value().is_ok(),
                serde_json::from_str::<serde_json::Value>(&obj).is_ok(),
                "{depth}"
            );
        }
    }

    #[test]
    fn objects_keep_order_and_last_duplicate() {
        let v = JsonDe::new(r#"{"b":1,"a":2,"b":3}"#).parse_value().unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(v["b"], Value::from(3));
    }

    #[test]
    fn invalid_text_is_an_error_not_a_panic() {
        for bad in [
            "",
            "[",
            "{",
            "{\"a\"",
            "{\"a\":",
            "[1,",
            "\"abc",
            "\"\\u12",
            "\"\\",
            "tru",
            "-",
            "[1 2]",
            "{\"a\" 1}",
            "{1:2}",
            "]",
            "}",
            ",",
            "[}",
            "{]",
            "1.",
            "-x",
            "\"\\x\"",
        ] {
            assert!(from_str::<serde_json::Value>(bad).is_err(), "{bad:?}");
            assert!(JsonDe::new(bad).parse_value().is_err(), "{bad:?}");
            let _ = from_str::<Item>(bad);
            let _ = from_str::<E>(bad);
            let _ = from_str::<()>(bad);
        }
    }
}
