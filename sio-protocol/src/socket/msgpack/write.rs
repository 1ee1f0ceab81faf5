//! Writing values as notepack.io 2.2.0 (the encoder of socket.io-msgpack-parser) writes them.
//!
//! - Integers take the smallest encoding of their sign: positive fixint, uint 8/16/32/64 for
//!   values `>= 0`; negative fixint, int 8/16/32/64 for negative ones. notepack.io never writes a
//!   positive number as a signed int.
//! - A float with an integral value is an integer (JavaScript cannot tell `2.0` from `2`), `-0`
//!   included (written `0x00`). Other floats are float 64, never float 32.
//! - Strings: fixstr, str 8 (from 32 bytes on), str 16, str 32. Binary: bin 8 (even when empty),
//!   bin 16, bin 32. Arrays and maps: fix, 16, 32.
//!
//! One difference, on purpose: notepack.io computes the high word of a 64-bit integer with
//! JavaScript's 32-bit `>>`, which writes garbage for an integral float of 2^64 or more (or below
//! -2^63). Such floats are written here as float 64, which keeps their value.

use rmp::Marker;

use crate::error::{ArgsRepr, Error};
use crate::value::{Number, Value};

/// notepack.io's `undefined`: fixext 1 of type 0 with a zero byte.
pub(super) const UNDEFINED: [u8; 3] = [0xd4, 0x00, 0x00];

/// 2^64 as a float: integral floats below it (and `>= 0`) are written as uint.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
/// -2^63 as a float: integral floats from it (and `< 0`) are written as int.
const MINUS_TWO_POW_63: f64 = -9_223_372_036_854_775_808.0;

fn marker(out: &mut Vec<u8>, m: Marker) {
    out.push(m.to_u8());
}

fn len32(len: usize) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| Error::args(ArgsRepr::TooLarge))
}

/// Writes an unsigned integer in its smallest encoding.
pub(super) fn write_uint(out: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        out.push(n as u8);
    } else if let Ok(n) = u8::try_from(n) {
        marker(out, Marker::U8);
        out.push(n);
    } else if let Ok(n) = u16::try_from(n) {
        marker(out, Marker::U16);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = u32::try_from(n) {
        marker(out, Marker::U32);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        marker(out, Marker::U64);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes an integer: `>= 0` as [`write_uint`], negative in the smallest signed encoding.
fn write_int(out: &mut Vec<u8>, n: i64) {
    if let Ok(u) = u64::try_from(n) {
        write_uint(out, u);
    } else if n >= -0x20 {
        // Negative fixint: the two's complement byte.
        out.push(n as u8);
    } else if let Ok(n) = i8::try_from(n) {
        marker(out, Marker::I8);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = i16::try_from(n) {
        marker(out, Marker::I16);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = i32::try_from(n) {
        marker(out, Marker::I32);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        marker(out, Marker::I64);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes a float: integral values in the 64-bit range as integers, the others as float 64.
pub(super) fn write_f64(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() && f.fract() == 0.0 {
        // `-0.0 >= 0.0`: written as 0, as notepack.io does.
        if (0.0..TWO_POW_64).contains(&f) {
            write_uint(out, f as u64);
            return;
        }
        if (MINUS_TWO_POW_63..0.0).contains(&f) {
            write_int(out, f as i64);
            return;
        }
    }
    marker(out, Marker::F64);
    out.extend_from_slice(&f.to_bits().to_be_bytes());
}

/// Writes a JSON number.
pub(super) fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        write_uint(out, u);
    } else if let Some(i) = n.as_i64() {
        write_int(out, i);
    } else if let Some(f) = n.as_f64() {
        write_f64(out, f);
    }
}

/// Writes a string.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    let len = len32(s.len())?;
    if len < 32 {
        out.push(Marker::FixStr(len as u8).to_u8());
    } else if let Ok(len) = u8::try_from(len) {
        marker(out, Marker::Str8);
        out.push(len);
    } else if let Ok(len) = u16::try_from(len) {
        marker(out, Marker::Str16);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        marker(out, Marker::Str32);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn write_bin(out: &mut Vec<u8>, b: &[u8]) -> Result<(), Error> {
    let len = len32(b.len())?;
    if let Ok(len) = u8::try_from(len) {
        marker(out, Marker::Bin8);
        out.push(len);
    } else if let Ok(len) = u16::try_from(len) {
        marker(out, Marker::Bin16);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        marker(out, Marker::Bin32);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(b);
    Ok(())
}

/// Writes an array header for `len` items.
pub(super) fn write_array_len(out: &mut Vec<u8>, len: usize) -> Result<(), Error> {
    let len = len32(len)?;
    if len < 16 {
        out.push(Marker::FixArray(len as u8).to_u8());
    } else if let Ok(len) = u16::try_from(len) {
        marker(out, Marker::Array16);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        marker(out, Marker::Array32);
        out.extend_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// Writes a map header for `len` entries.
pub(super) fn write_map_len(out: &mut Vec<u8>, len: usize) -> Result<(), Error> {
    let len = len32(len)?;
    if len < 16 {
        out.push(Marker::FixMap(len as u8).to_u8());
    } else if let Ok(len) = u16::try_from(len) {
        marker(out, Marker::Map16);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        marker(out, Marker::Map32);
        out.extend_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// Writes a value. Binary becomes msgpack bin (what notepack.io writes for a Node.js `Buffer`).
///
/// Recursion follows the depth of `value`, which the caller built (decoded values are at most
/// 128 levels deep).
pub(super) fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), Error> {
    match value {
        Value::Null => marker(out, Marker::Null),
        Value::Bool(true) => marker(out, Marker::True),
        Value::Bool(false) => marker(out, Marker::False),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s)?,
        Value::Binary(b) => write_bin(out, b)?,
        Value::Array(items) => {
            write_array_len(out, items.len())?;
            for item in items {
                write_value(out, item)?;
            }
        }
        Value::Object(map) => {
            write_map_len(out, map.len())?;
            for (key, item) in map {
                write_str(out, key)?;
                write_value(out, item)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(f: f64) -> Vec<u8> {
        let mut out = Vec::new();
        write_f64(&mut out, f);
        out
    }

    #[test]
    fn floats_like_notepack() {
        assert_eq!(num(2.0), [0x02]);
        assert_eq!(num(-0.0), [0x00]);
        assert_eq!(num(-1.0), [0xff]);
        assert_eq!(num(-33.0), [0xd0, 0xdf]);
        assert_eq!(num(255.0), [0xcc, 0xff]);
        assert_eq!(num(1.5), [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(num(2f64.powi(63)), [0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(num(-(2f64.powi(63))), [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        // Out of the 64-bit range: float 64 (notepack.io would write a wrong integer).
        assert_eq!(num(1e20)[0], 0xcb);
        assert_eq!(num(-1e19)[0], 0xcb);
    }
}
