//! Reading msgpack into [`Value`]s as notepack.io 2.2.0 (the decoder of socket.io-msgpack-parser)
//! reads it.
//!
//! | msgpack                          | notepack.io gives      | [`Value`]                         |
//! |----------------------------------|------------------------|-----------------------------------|
//! | nil, bool, str                   | the same               | the same (invalid UTF-8 replaced by U+FFFD, as Node.js does) |
//! | ints, float 32/64                | a number               | a number (64-bit ints exactly; NaN and ±Infinity become `Null`, as `JSON.stringify` writes them) |
//! | bin                              | a `Buffer`             | [`Value::Binary`] (no copy)        |
//! | ext 8/16/32 of type 0            | an `ArrayBuffer`       | [`Value::Binary`]                 |
//! | fixext 1 of type 0               | `undefined`            | `Null`                            |
//! | fixext 8 of type 0               | a `Date`               | its milliseconds since 1970 as a number (`Null` for an invalid date) |
//! | any other ext of type `t`        | `[t, Buffer]`          | `[t, Binary]`                     |
//! | array, map                       | an array, an object    | the same                          |
//! | 0xc1                             | error                  | error                             |
//!
//! Stricter than notepack.io: map keys must be strings (JavaScript turns any key into a string),
//! and nesting is limited to [`MAX_DEPTH`] levels. A duplicated key keeps its first position and
//! its last value, as in JavaScript. Lengths are checked against the bytes that remain before
//! anything is allocated.

use bytes::Bytes;
use rmp::Marker;

use crate::socket::codec::DecodeReason;
use crate::str::Str;
use crate::value::Map;
use crate::value::{Number, Value};

/// How deeply arrays and maps may nest (the top-level packet map is level 1).
pub(super) const MAX_DEPTH: usize = 128;

/// JavaScript's largest time value (`new Date(x)` is invalid beyond it), in milliseconds.
const MAX_TIME_MS: i64 = 8_640_000_000_000_000;

/// Any malformed msgpack is an invalid payload.
const MALFORMED: DecodeReason = DecodeReason::InvalidPayload;

/// A cursor over one binary message.
pub(super) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Whether every byte was read (notepack.io rejects trailing bytes).
    pub(super) fn is_done(&self) -> bool {
        self.pos == self.buf.len()
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, DecodeReason> {
        let b = *self.buf.get(self.pos).ok_or(MALFORMED)?;
        self.pos += 1;
        Ok(b)
    }

    /// The next `n` bytes, as a range of `buf`.
    fn take(&mut self, n: usize) -> Result<std::ops::Range<usize>, DecodeReason> {
        if n > self.remaining() {
            return Err(MALFORMED);
        }
        let start = self.pos;
        self.pos += n;
        Ok(start..self.pos)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeReason> {
        let range = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(&self.buf[range]);
        Ok(out)
    }

    fn u16(&mut self) -> Result<usize, DecodeReason> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn u32(&mut self) -> Result<usize, DecodeReason> {
        usize::try_from(u32::from_be_bytes(self.array()?)).map_err(|_| MALFORMED)
    }

    fn ext_type(&mut self) -> Result<i8, DecodeReason> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    /// Reads a map header at the top level; `None` if the next value is not a map (which is
    /// then left unread).
    pub(super) fn map_header(&mut self) -> Result<Option<usize>, DecodeReason> {
        let Some(&b) = self.buf.get(self.pos) else {
            return Err(MALFORMED);
        };
        let len = match Marker::from_u8(b) {
            Marker::FixMap(n) => {
                self.pos += 1;
                usize::from(n)
            }
            Marker::Map16 => {
                self.pos += 1;
                self.u16()?
            }
            Marker::Map32 => {
                self.pos += 1;
                self.u32()?
            }
            _ => return Ok(None),
        };
        // Each entry takes at least two bytes.
        if len > self.remaining() / 2 {
            return Err(MALFORMED);
        }
        Ok(Some(len))
    }

    /// The raw bytes of a string value, or `None` if the next value is not a string (then left
    /// unread).
    fn str_bytes(&mut self) -> Result<Option<Bytes>, DecodeReason> {
        let Some(&b) = self.buf.get(self.pos) else {
            return Err(MALFORMED);
        };
        let len = match Marker::from_u8(b) {
            Marker::FixStr(n) => {
                self.pos += 1;
                usize::from(n)
            }
            Marker::Str8 => {
                self.pos += 1;
                usize::from(self.byte()?)
            }
            Marker::Str16 => {
                self.pos += 1;
                self.u16()?
            }
            Marker::Str32 => {
                self.pos += 1;
                self.u32()?
            }
            _ => return Ok(None),
        };
        let range = self.take(len)?;
        Ok(Some(self.buf.slice(range)))
    }

    /// Reads a map key, which must be a string.
    pub(super) fn key(&mut self) -> Result<String, DecodeReason> {
        match self.str_bytes()? {
            Some(bytes) => Ok(lossy(&bytes)),
            None => Err(MALFORMED),
        }
    }

    /// Reads a string value as a [`Str`] (without copying when it is valid UTF-8); `None` if
    /// the next value is not a string (then left unread).
    pub(super) fn shared_str(&mut self) -> Result<Option<Str>, DecodeReason> {
        Ok(self
            .str_bytes()?
            .map(|bytes| match Str::from_utf8(bytes.clone()) {
                Ok(s) => s,
                Err(_) => Str::from(lossy(&bytes)),
            }))
    }

    /// Reads a value at the top level of the packet map: `None` for notepack.io's `undefined`.
    pub(super) fn field(&mut self) -> Result<Option<Value>, DecodeReason> {
        if self.buf.get(self.pos..self.pos + 2) == Some(&[0xd4, 0x00][..]) {
            self.take(3)?;
            return Ok(None);
        }
        self.value(2).map(Some)
    }

    /// Skips a value (reading it, so that it must be well formed).
    pub(super) fn skip(&mut self) -> Result<(), DecodeReason> {
        self.value(2).map(drop)
    }

    /// Reads a value at nesting level `depth` (1 is the top level).
    pub(super) fn value(&mut self, depth: usize) -> Result<Value, DecodeReason> {
        let value = match Marker::from_u8(self.byte()?) {
            Marker::FixPos(n) => Value::from(n),
            Marker::FixNeg(n) => Value::from(n),
            Marker::Null => Value::Null,
            Marker::True => Value::Bool(true),
            Marker::False => Value::Bool(false),
            Marker::U8 => Value::from(self.byte()?),
            Marker::U16 => Value::from(u16::from_be_bytes(self.array()?)),
            Marker::U32 => Value::from(u32::from_be_bytes(self.array()?)),
            Marker::U64 => Value::from(u64::from_be_bytes(self.array()?)),
            Marker::I8 => Value::from(i8::from_be_bytes(self.array()?)),
            Marker::I16 => Value::from(i16::from_be_bytes(self.array()?)),
            Marker::I32 => Value::from(i32::from_be_bytes(self.array()?)),
            Marker::I64 => Value::from(i64::from_be_bytes(self.array()?)),
            Marker::F32 => Value::from(f32::from_be_bytes(self.array()?)),
            Marker::F64 => Value::from(f64::from_be_bytes(self.array()?)),
            Marker::FixStr(n) => self.string(usize::from(n))?,
            Marker::Str8 => {
                let len = usize::from(self.byte()?);
                self.string(len)?
            }
            Marker::Str16 => {
                let len = self.u16()?;
                self.string(len)?
            }
            Marker::Str32 => {
                let len = self.u32()?;
                self.string(len)?
            }
            Marker::Bin8 => {
                let len = usize::from(self.byte()?);
                self.binary(len)?
            }
            Marker::Bin16 => {
                let len = self.u16()?;
                self.binary(len)?
            }
            Marker::Bin32 => {
                let len = self.u32()?;
                self.binary(len)?
            }
            Marker::FixArray(n) => self.items(usize::from(n), depth)?,
            Marker::Array16 => {
                let len = self.u16()?;
                self.items(len, depth)?
            }
            Marker::Array32 => {
                let len = self.u32()?;
                self.items(len, depth)?
            }
            Marker::FixMap(n) => self.entries(usize::from(n), depth)?,
            Marker::Map16 => {
                let len = self.u16()?;
                self.entries(len, depth)?
            }
            Marker::Map32 => {
                let len = self.u32()?;
                self.entries(len, depth)?
            }
            Marker::FixExt1 => {
                let kind = self.ext_type()?;
                if kind == 0 {
                    self.take(1)?;
                    Value::Null
                } else {
                    self.ext(kind, 1)?
                }
            }
            Marker::FixExt2 => {
                let kind = self.ext_type()?;
                self.ext(kind, 2)?
            }
            Marker::FixExt4 => {
                let kind = self.ext_type()?;
                self.ext(kind, 4)?
            }
            Marker::FixExt8 => {
                let kind = self.ext_type()?;
                if kind == 0 {
                    let hi = i64::from(i32::from_be_bytes(self.array()?));
                    let lo = i64::from(u32::from_be_bytes(self.array()?));
                    let ms = (hi << 32) | lo;
                    if (-MAX_TIME_MS..=MAX_TIME_MS).contains(&ms) {
                        Value::from(ms)
                    } else {
                        Value::Null
                    }
                } else {
                    self.ext(kind, 8)?
                }
            }
            Marker::FixExt16 => {
                let kind = self.ext_type()?;
                self.ext(kind, 16)?
            }
            Marker::Ext8 => {
                let len = usize::from(self.byte()?);
                self.sized_ext(len)?
            }
            Marker::Ext16 => {
                let len = self.u16()?;
                self.sized_ext(len)?
            }
            Marker::Ext32 => {
                let len = self.u32()?;
                self.sized_ext(len)?
            }
            Marker::Reserved => return Err(MALFORMED),
        };
        Ok(value)
    }

    fn string(&mut self, len: usize) -> Result<Value, DecodeReason> {
        let range = self.take(len)?;
        Ok(Value::String(lossy(&self.buf[range])))
    }

    fn binary(&mut self, len: usize) -> Result<Value, DecodeReason> {
        let range = self.take(len)?;
        Ok(Value::Binary(self.buf.slice(range)))
    }

    /// An ext of `len` bytes, after its length: type 0 is an `ArrayBuffer`.
    fn sized_ext(&mut self, len: usize) -> Result<Value, DecodeReason> {
        let kind = self.ext_type()?;
        if kind == 0 {
            self.binary(len)
        } else {
            self.ext(kind, len)
        }
    }

    /// notepack.io's `[type, Buffer]` for an ext it does not know.
    fn ext(&mut self, kind: i8, len: usize) -> Result<Value, DecodeReason> {
        let data = self.binary(len)?;
        Ok(Value::Array(vec![Value::from(kind), data]))
    }

    fn items(&mut self, len: usize, depth: usize) -> Result<Value, DecodeReason> {
        if depth >= MAX_DEPTH {
            return Err(MALFORMED);
        }
        // Each item takes at least one byte: never reserve more than what remains.
        let mut items = Vec::with_capacity(len.min(self.remaining()));
        for _ in 0..len {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn entries(&mut self, len: usize, depth: usize) -> Result<Value, DecodeReason> {
        if depth >= MAX_DEPTH {
            return Err(MALFORMED);
        }
        // Each entry takes at least two bytes.
        let mut map = Map::with_capacity(len.min(self.remaining() / 2));
        for _ in 0..len {
            let key = self.key()?;
            let value = self.value(depth + 1)?;
            // A duplicated key keeps its first position and takes the last value.
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A number as notepack.io's integer checks see it: `Some` for an integral value.
pub(super) fn integral(n: &Number) -> Option<f64> {
    let f = n.as_f64()?;
    (f.fract() == 0.0).then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &'static [u8]) -> Result<Value, DecodeReason> {
        let buf = Bytes::from_static(bytes);
        let mut r = Reader::new(&buf);
        let v = r.value(1)?;
        if r.is_done() { Ok(v) } else { Err(MALFORMED) }
    }

    #[test]
    fn huge_declared_lengths_fail_fast() {
        assert!(read(b"\xdd\xff\xff\xff\xff\x01").is_err());
        assert!(read(b"\xdf\xff\xff\xff\xff\xa1a\x01").is_err());
        assert!(read(b"\xc6\xff\xff\xff\xff").is_err());
        assert!(read(b"\xc9\xff\xff\xff\xff\x00").is_err());
    }

    #[test]
    fn ext_mapping() {
        assert_eq!(read(b"\xd4\x00\x00").unwrap(), Value::Null);
        assert_eq!(
            read(b"\xd4\x05\x07").unwrap(),
            Value::Array(vec![
                Value::from(5),
                Value::Binary(Bytes::from_static(b"\x07"))
            ])
        );
        assert_eq!(
            read(b"\xc7\x02\x00\x01\x02").unwrap(),
            Value::Binary(Bytes::from_static(b"\x01\x02"))
        );
        assert_eq!(
            read(b"\xd7\x00\x00\x00\x00\x01\x00\x00\x00\x02").unwrap(),
            Value::from(4_294_967_298_i64)
        );
        assert_eq!(
            read(b"\xd7\x00\x7f\xff\xff\xff\xff\xff\xff\xff").unwrap(),
            Value::Null
        );
    }

    #[test]
    fn depth_is_limited() {
        let mut deep = vec![0x91; MAX_DEPTH - 1];
        deep.push(0xc0);
        let buf = Bytes::from(deep.clone());
        assert!(Reader::new(&buf).value(1).is_ok());
        deep.insert(0, 0x91);
        let buf = Bytes::from(deep);
        assert!(Reader::new(&buf).value(1).is_err());
    }
}
