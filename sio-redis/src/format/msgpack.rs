//! msgpack as notepack.io 3.0.1 writes and reads it (the codec of `@socket.io/redis-adapter`
//! 8.3 and `@socket.io/redis-emitter` 5.1).
//!
//! # Writing ([`encode`])
//!
//! | [`Value`]                     | bytes, as notepack.io writes the JavaScript value |
//! |-------------------------------|---------------------------------------------------|
//! | `Null`                        | nil `c0` (notepack.io 3 also writes `undefined` so) |
//! | `Bool`                        | `c2` / `c3` |
//! | an integer `>= 0`             | positive fixint, uint 8/16/32/64: the smallest; never a signed int |
//! | a negative integer            | negative fixint, int 8/16/32/64: the smallest |
//! | a float with an integral value| as the integer (JavaScript cannot tell `2.0` from `2`; `-0` is `00`) |
//! | any other float               | float 64 `cb` (never float 32) |
//! | `String`                      | fixstr, str 8 (from 32 bytes), str 16, str 32 |
//! | `Binary`                      | bin 8 (even when empty), bin 16, bin 32 (a Node.js `Buffer`) |
//! | `Array`, `Object`             | fix, 16, 32; object keys in insertion order |
//!
//! One difference, on purpose: notepack.io computes the words of a 64-bit integer with
//! JavaScript's 32-bit shifts, which write a wrong integer for an integral float of magnitude
//! 2^63 or more (`1e20` becomes 0). Such floats are written here as float 64, which keeps their
//! value.
//!
//! # Reading ([`decode`])
//!
//! | bytes                                   | notepack.io gives           | [`Value`] |
//! |-----------------------------------------|-----------------------------|-----------|
//! | nil, bool, str                          | the same                    | the same (invalid UTF-8 becomes U+FFFD, as `Buffer#toString` does) |
//! | ints, float 32/64                       | a number                    | a number (64-bit ints exactly; NaN and ±Infinity become `Null`, as `JSON.stringify` writes them) |
//! | bin 8/16/32                             | a `Buffer`                  | `Binary` (a slice of the input, no copy) |
//! | ext 8/16/32 of type 0                   | an `ArrayBuffer`            | `Binary` |
//! | fixext 1 of type 0 (`d4 00 00`)         | `undefined`                 | the key is left out of an object (as `JSON.stringify` and notepack.io's encoder do); `Null` elsewhere |
//! | timestamp ext (type -1: fixext 4, fixext 8, ext 8 of 12 bytes), fixext 8 of type 0 (legacy) | a `Date` | the string `Date#toJSON` writes (`"2024-05-01T12:00:00.000Z"`), `Null` for an invalid date |
//! | any other ext of type `t`               | `[t, Buffer]`               | `[t, Binary]` |
//! | array, map                              | an array, an object         | the same; a repeated key keeps its first position and its last value |
//!
//! Errors (an [`Error`] of kind [`Decode`](crate::error::ErrorKind::Decode)) where notepack.io throws
//! (the reserved byte `c1`, a truncated value, trailing bytes), and, stricter: a map key that is not a string (notepack.io
//! turns any key into a string property; none of its writers produce one), a timestamp ext 8
//! whose length is not 12 (notepack.io reads 12 bytes whatever the length says), nesting deeper
//! than [`MAX_DEPTH`]. Declared lengths are checked against the remaining input before anything
//! is allocated, so a short input never reserves a large buffer.

use bytes::Bytes;
use sio_protocol::{Map, Number, Value};

use super::date::js_date_json;
use crate::error::Error;

/// How deeply arrays and maps may nest when reading (the outermost value is level 1).
pub const MAX_DEPTH: usize = 128;

/// 2^63 as a float: integral floats below it (and `>= 0`) are written as uint.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// notepack.io's legacy `undefined`: fixext 1 of type 0 with a zero byte. notepack.io 3 still
/// reads it (socket.io-msgpack-parser's notepack.io 2 writes it).
pub const LEGACY_UNDEFINED: [u8; 3] = [0xd4, 0x00, 0x00];

/// Encodes a value as notepack.io 3.0.1 encodes the JavaScript value it stands for.
///
/// Fails only for a string, binary, array or object longer than msgpack can say (4 GiB).
///
/// ```
/// use sio_protocol::Value;
/// use sio_redis::format::msgpack;
///
/// let value = Value::from(vec![Value::from("a"), Value::from(-1), Value::from(1.5)]);
/// assert_eq!(
///     msgpack::encode(&value).unwrap(),
///     [0x93, 0xa1, b'a', 0xff, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]
/// );
/// ```
pub fn encode(value: &Value) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(64);
    encode_into(&mut out, value)?;
    Ok(out)
}

/// Appends the encoding of `value` to `out` (see [`encode`]).
pub fn encode_into(out: &mut Vec<u8>, value: &Value) -> Result<(), Error> {
    match value {
        Value::Null => out.push(0xc0),
        Value::Bool(false) => out.push(0xc2),
        Value::Bool(true) => out.push(0xc3),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s)?,
        Value::Binary(b) => write_bin(out, b)?,
        Value::Array(items) => {
            write_array_len(out, items.len())?;
            for item in items {
                encode_into(out, item)?;
            }
        }
        Value::Object(map) => {
            write_map_len(out, map.len())?;
            for (key, item) in map {
                write_str(out, key)?;
                encode_into(out, item)?;
            }
        }
    }
    Ok(())
}

fn len32(len: usize) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| Error::too_large())
}

/// Writes an unsigned integer in its smallest encoding.
pub(crate) fn write_uint(out: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        out.push(n as u8);
    } else if let Ok(n) = u8::try_from(n) {
        out.extend_from_slice(&[0xcc, n]);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(0xcd);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = u32::try_from(n) {
        out.push(0xce);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes an integer: `>= 0` as [`write_uint`], a negative one in its smallest signed encoding.
fn write_int(out: &mut Vec<u8>, n: i64) {
    if let Ok(u) = u64::try_from(n) {
        write_uint(out, u);
    } else if n >= -0x20 {
        out.push(n as u8);
    } else if let Ok(n) = i8::try_from(n) {
        out.extend_from_slice(&[0xd0, n as u8]);
    } else if let Ok(n) = i16::try_from(n) {
        out.push(0xd1);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = i32::try_from(n) {
        out.push(0xd2);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes a float: an integral value in the 64-bit range as an integer, others as float 64.
fn write_f64(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() && f.fract() == 0.0 {
        // `-0.0 >= 0.0`: written as 0, as notepack.io does.
        if (0.0..TWO_POW_63).contains(&f) {
            write_uint(out, f as u64);
            return;
        }
        if (-TWO_POW_63..0.0).contains(&f) {
            write_int(out, f as i64);
            return;
        }
    }
    out.push(0xcb);
    out.extend_from_slice(&f.to_bits().to_be_bytes());
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        write_uint(out, u);
    } else if let Some(i) = n.as_i64() {
        write_int(out, i);
    } else if let Some(f) = n.as_f64() {
        write_f64(out, f);
    }
}

/// Writes a string.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    let len = len32(s.len())?;
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[0xd9, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xda);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn write_bin(out: &mut Vec<u8>, b: &[u8]) -> Result<(), Error> {
    let len = len32(b.len())?;
    if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[0xc4, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xc5);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(b);
    Ok(())
}

fn write_array_len(out: &mut Vec<u8>, len: usize) -> Result<(), Error> {
    let len = len32(len)?;
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xdc);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

fn write_map_len(out: &mut Vec<u8>, len: usize) -> Result<(), Error> {
    let len = len32(len)?;
    if len < 16 {
        out.push(0x80 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xde);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// Decodes one msgpack value that fills `buf` entirely, as notepack.io 3.0.1 reads it (see the
/// module docs for the mapping). Binary values are slices of `buf`.
///
/// ```
/// use bytes::Bytes;
/// use sio_protocol::Value;
/// use sio_redis::format::msgpack;
///
/// // {"a": <bin 01 02>, "u": undefined (legacy form)}: the undefined key is left out.
/// let buf = Bytes::from_static(&[0x82, 0xa1, b'a', 0xc4, 2, 1, 2, 0xa1, b'u', 0xd4, 0, 0]);
/// let value = msgpack::decode(&buf).unwrap();
/// assert_eq!(value["a"], Value::Binary(Bytes::from_static(&[1, 2])));
/// assert_eq!(value.as_object().unwrap().len(), 1);
///
/// assert!(msgpack::decode(&Bytes::from_static(&[0x92, 0x01])).is_err()); // truncated
/// assert!(msgpack::decode(&Bytes::from_static(&[0x01, 0x02])).is_err()); // trailing byte
/// ```
pub fn decode(buf: &Bytes) -> Result<Value, Error> {
    let mut reader = Reader { buf, pos: 0 };
    let value = reader.value(1)?.unwrap_or(Value::Null);
    if reader.pos != buf.len() {
        return Err(Error::msgpack("trailing bytes"));
    }
    Ok(value)
}

fn truncated() -> Error {
    Error::msgpack("truncated")
}

/// A cursor over one message.
struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, Error> {
        let b = *self.buf.get(self.pos).ok_or_else(truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<std::ops::Range<usize>, Error> {
        if n > self.remaining() {
            return Err(truncated());
        }
        let start = self.pos;
        self.pos += n;
        Ok(start..self.pos)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let range = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(&self.buf[range]);
        Ok(out)
    }

    fn u8_len(&mut self) -> Result<usize, Error> {
        Ok(usize::from(self.byte()?))
    }

    fn u16_len(&mut self) -> Result<usize, Error> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn u32_len(&mut self) -> Result<usize, Error> {
        usize::try_from(u32::from_be_bytes(self.array()?)).map_err(|_| truncated())
    }

    fn ext_type(&mut self) -> Result<i8, Error> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    /// Reads a value at nesting level `depth`; `None` is JavaScript's `undefined`.
    ///
    /// Only arrays and maps recurse; scalars are read by [`Reader::scalar`], out of line, so
    /// that each level of nesting costs a small stack frame.
    fn value(&mut self, depth: usize) -> Result<Option<Value>, Error> {
        let b = self.byte()?;
        let value = match b {
            0x80..=0x8f => self.entries(usize::from(b & 0x0f), depth)?,
            0x90..=0x9f => self.items(usize::from(b & 0x0f), depth)?,
            0xdc => {
                let len = self.u16_len()?;
                self.items(len, depth)?
            }
            0xdd => {
                let len = self.u32_len()?;
                self.items(len, depth)?
            }
            0xde => {
                let len = self.u16_len()?;
                self.entries(len, depth)?
            }
            0xdf => {
                let len = self.u32_len()?;
                self.entries(len, depth)?
            }
            _ => return self.scalar(b),
        };
        Ok(Some(value))
    }

    /// Reads a value that is not an array or a map, after its first byte `b`.
    #[inline(never)]
    fn scalar(&mut self, b: u8) -> Result<Option<Value>, Error> {
        let value = match b {
            0x00..=0x7f => Value::from(b),
            0x80..=0x9f | 0xdc..=0xdf => return Err(Error::msgpack("container")),
            0xa0..=0xbf => self.string(usize::from(b & 0x1f))?,
            0xe0..=0xff => Value::from(b as i8),
            0xc0 => Value::Null,
            0xc1 => return Err(Error::msgpack("reserved byte c1")),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let len = self.u8_len()?;
                self.binary(len)?
            }
            0xc5 => {
                let len = self.u16_len()?;
                self.binary(len)?
            }
            0xc6 => {
                let len = self.u32_len()?;
                self.binary(len)?
            }
            0xc7 => {
                let len = self.u8_len()?;
                let kind = self.ext_type()?;
                match kind {
                    0 => self.binary(len)?,
                    -1 if len == 12 => {
                        let ns = f64::from(u32::from_be_bytes(self.array()?));
                        let hi = f64::from(i32::from_be_bytes(self.array()?));
                        let lo = f64::from(u32::from_be_bytes(self.array()?));
                        date((hi * 4_294_967_296.0 + lo) * 1e3 + ns / 1e6)
                    }
                    -1 => return Err(Error::msgpack("timestamp 96 of a wrong length")),
                    _ => self.ext(kind, len)?,
                }
            }
            0xc8 => {
                let len = self.u16_len()?;
                self.sized_ext(len)?
            }
            0xc9 => {
                let len = self.u32_len()?;
                self.sized_ext(len)?
            }
            0xca => Value::from(f32::from_be_bytes(self.array()?)),
            0xcb => Value::from(f64::from_be_bytes(self.array()?)),
            0xcc => Value::from(self.byte()?),
            0xcd => Value::from(u16::from_be_bytes(self.array()?)),
            0xce => Value::from(u32::from_be_bytes(self.array()?)),
            0xcf => Value::from(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::from(i8::from_be_bytes(self.array()?)),
            0xd1 => Value::from(i16::from_be_bytes(self.array()?)),
            0xd2 => Value::from(i32::from_be_bytes(self.array()?)),
            0xd3 => Value::from(i64::from_be_bytes(self.array()?)),
            0xd4 => {
                let kind = self.ext_type()?;
                if kind == 0 {
                    self.take(1)?;
                    return Ok(None);
                }
                self.ext(kind, 1)?
            }
            0xd5 => {
                let kind = self.ext_type()?;
                self.ext(kind, 2)?
            }
            0xd6 => {
                let kind = self.ext_type()?;
                if kind == -1 {
                    let s = f64::from(u32::from_be_bytes(self.array()?));
                    date(s * 1e3)
                } else {
                    self.ext(kind, 4)?
                }
            }
            0xd7 => {
                let kind = self.ext_type()?;
                match kind {
                    0 => {
                        // The legacy date: signed milliseconds in 64 bits.
                        let hi = f64::from(i32::from_be_bytes(self.array()?));
                        let lo = f64::from(u32::from_be_bytes(self.array()?));
                        date(hi * 4_294_967_296.0 + lo)
                    }
                    -1 => {
                        let hi = u32::from_be_bytes(self.array()?);
                        let lo = f64::from(u32::from_be_bytes(self.array()?));
                        let s = f64::from(hi & 0x3) * 4_294_967_296.0 + lo;
                        date(s * 1e3 + f64::from(hi >> 2) / 1e6)
                    }
                    _ => self.ext(kind, 8)?,
                }
            }
            0xd8 => {
                let kind = self.ext_type()?;
                self.ext(kind, 16)?
            }
            0xd9 => {
                let len = self.u8_len()?;
                self.string(len)?
            }
            0xda => {
                let len = self.u16_len()?;
                self.string(len)?
            }
            0xdb => {
                let len = self.u32_len()?;
                self.string(len)?
            }
        };
        Ok(Some(value))
    }

    fn string(&mut self, len: usize) -> Result<Value, Error> {
        let range = self.take(len)?;
        Ok(Value::String(
            String::from_utf8_lossy(&self.buf[range]).into_owned(),
        ))
    }

    fn binary(&mut self, len: usize) -> Result<Value, Error> {
        let range = self.take(len)?;
        Ok(Value::Binary(self.buf.slice(range)))
    }

    /// An ext 16/32 after its length: type 0 is an `ArrayBuffer`; notepack.io reads no
    /// timestamp here.
    fn sized_ext(&mut self, len: usize) -> Result<Value, Error> {
        let kind = self.ext_type()?;
        if kind == 0 {
            self.binary(len)
        } else {
            self.ext(kind, len)
        }
    }

    /// notepack.io's `[type, Buffer]` for an ext it does not know.
    fn ext(&mut self, kind: i8, len: usize) -> Result<Value, Error> {
        let data = self.binary(len)?;
        Ok(Value::Array(vec![Value::from(kind), data]))
    }

    fn items(&mut self, len: usize, depth: usize) -> Result<Value, Error> {
        if depth >= MAX_DEPTH {
            return Err(Error::msgpack("nested too deeply"));
        }
        // Each item takes at least one byte: never reserve more than what remains.
        if len > self.remaining() {
            return Err(truncated());
        }
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(self.value(depth + 1)?.unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }

    fn entries(&mut self, len: usize, depth: usize) -> Result<Value, Error> {
        if depth >= MAX_DEPTH {
            return Err(Error::msgpack("nested too deeply"));
        }
        // Each entry takes at least two bytes.
        if len > self.remaining() / 2 {
            return Err(truncated());
        }
        let mut map = Map::with_capacity(len);
        for _ in 0..len {
            let key = match self.value(depth + 1)? {
                Some(Value::String(key)) => key,
                _ => return Err(Error::msgpack("a map key that is not a string")),
            };
            match self.value(depth + 1)? {
                Some(value) => {
                    // JavaScript keeps the first position of a repeated key, with its last value.
                    map.insert(key, value);
                }
                None => {
                    // `obj[key] = undefined`: JSON.stringify and notepack.io leave the key out.
                    map.shift_remove(&key);
                }
            }
        }
        Ok(Value::Object(map))
    }
}

/// A decoded `Date` (`ms` as `new Date(ms)` receives it), as `Date#toJSON` writes it.
fn date(ms: f64) -> Value {
    js_date_json(ms).map_or(Value::Null, Value::String)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: impl Into<Value>) -> Vec<u8> {
        encode(&v.into()).unwrap()
    }

    fn dec(b: &[u8]) -> Result<Value, Error> {
        decode(&Bytes::copy_from_slice(b))
    }

    #[test]
    fn numbers_like_notepack() {
        assert_eq!(enc(2.0), [0x02]);
        assert_eq!(enc(-0.0), [0x00]);
        assert_eq!(enc(-1), [0xff]);
        assert_eq!(enc(-33), [0xd0, 0xdf]);
        assert_eq!(enc(255), [0xcc, 0xff]);
        assert_eq!(enc(65536), [0xce, 0, 1, 0, 0]);
        assert_eq!(enc(-129), [0xd1, 0xff, 0x7f]);
        assert_eq!(enc(1.5), [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc(2f64.powi(40)), [0xcf, 0, 0, 0x01, 0, 0, 0, 0, 0]);
        assert_eq!(
            enc(-(2f64.powi(40))),
            [0xd3, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0]
        );
        // Beyond notepack.io's 64-bit range: float 64 (notepack.io would write garbage).
        assert_eq!(enc(1e20)[0], 0xcb);
        assert_eq!(
            enc(u64::MAX),
            [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn strings_and_binary_sizes() {
        assert_eq!(enc("")[0], 0xa0);
        assert_eq!(enc("x".repeat(31))[0], 0xbf);
        assert_eq!(enc("x".repeat(32))[..2], [0xd9, 32]);
        assert_eq!(enc("x".repeat(256))[..3], [0xda, 1, 0]);
        assert_eq!(enc(Bytes::new()), [0xc4, 0]);
        assert_eq!(enc(Bytes::from(vec![0; 256]))[..3], [0xc5, 1, 0]);
    }

    #[test]
    fn reads_undefined_dates_and_exts() {
        assert_eq!(dec(&LEGACY_UNDEFINED).unwrap(), Value::Null);
        assert_eq!(
            dec(&[0x92, 0xd4, 0, 0, 0x01]).unwrap(),
            Value::from(vec![Value::Null, Value::from(1)])
        );
        // timestamp 32: 1 s after the epoch.
        assert_eq!(
            dec(&[0xd6, 0xff, 0, 0, 0, 1]).unwrap(),
            Value::from("1970-01-01T00:00:01.000Z")
        );
        // legacy date: -1 ms.
        assert_eq!(
            dec(&[0xd7, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(),
            Value::from("1969-12-31T23:59:59.999Z")
        );
        // ext 8 of type 0: an ArrayBuffer.
        assert_eq!(
            dec(&[0xc7, 2, 0, 7, 8]).unwrap(),
            Value::Binary(Bytes::from_static(&[7, 8]))
        );
        // another ext: [type, Buffer].
        assert_eq!(
            dec(&[0xd5, 5, 7, 8]).unwrap(),
            Value::from(vec![
                Value::from(5),
                Value::Binary(Bytes::from_static(&[7, 8]))
            ])
        );
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            &[][..],
            &[0xc1],
            &[0x92, 0x01],
            &[0xdb, 0xff, 0xff, 0xff, 0xff],
            &[0xdd, 0xff, 0xff, 0xff, 0xff],
            &[0xdf, 0xff, 0xff, 0xff, 0xff, 0xa0],
            &[0x81, 0x01, 0x01],
            &[0xc7, 3, 0xff, 0, 0, 0],
            &[0x01, 0x01],
        ] {
            assert!(dec(bad).is_err(), "{bad:x?}");
        }
        let deep = vec![0x91; MAX_DEPTH + 1];
        assert_eq!(
            dec(&deep).unwrap_err().to_string(),
            "invalid msgpack: nested too deeply"
        );
    }
}

#[cfg(test)]
mod stack {
    #[test]
    fn max_depth_fits_a_small_stack() {
        // Nesting at the limit, on a thread with a quarter of the default stack size.
        let mut deep = vec![0x91; super::MAX_DEPTH - 1];
        deep.push(0xc0);
        let handle = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || super::decode(&bytes::Bytes::from(deep)).is_ok())
            .unwrap();
        assert!(handle.join().unwrap());
    }
}
