//! JSON text exactly as JavaScript writes it: `JSON.stringify` number formatting, binary
//! placeholders, and their reconstruction.

use std::io::{self, Write};

use bytes::Bytes;
use serde_json::ser::Formatter;

use crate::Value;

/// A `serde_json` formatter that writes floats as JavaScript's `Number.prototype.toString`
/// does (what `JSON.stringify` uses): `1` not `1.0`, `1e+21`, `1.5e-7`, `0` for `-0`.
/// Everything else (integers, string escapes) is already what JavaScript writes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JsFormatter;

impl Formatter for JsFormatter {
    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        write_js_f64(w, value)
    }

    /// An `f32` is written with the shortest digits that read back as the same `f32` (`0.1`),
    /// not as JavaScript would print the widened `f64` (`0.10000000149011612`).
    fn write_f32<W: ?Sized + Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        if !value.is_finite() {
            return w.write_all(b"null");
        }
        let mut buf = ryu::Buffer::new();
        write_js_layout(w, buf.format_finite(value))
    }
}

/// Writes `value` as JavaScript's `String(value)` would, except that NaN and infinities (which
/// `JSON.stringify` turns into `null`) are written as `null`.
pub(crate) fn write_js_f64<W: ?Sized + Write>(w: &mut W, value: f64) -> io::Result<()> {
    if !value.is_finite() {
        return w.write_all(b"null");
    }
    let mut buf = ryu::Buffer::new();
    write_js_layout(w, buf.format_finite(value))
}

/// `String(value)` in JavaScript, for a finite `value` (`null` otherwise).
pub(crate) fn js_number_f64(value: f64) -> String {
    let mut out = Vec::with_capacity(24);
    // Writing into a Vec cannot fail.
    let _ = write_js_f64(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

/// Re-lays the shortest round-trip digits printed by `ryu` the way ECMAScript's
/// Number::toString does (ECMA-262 §6.1.6.1.20).
fn write_js_layout<W: ?Sized + Write>(w: &mut W, ryu: &str) -> io::Result<()> {
    let (negative, rest) = match ryu.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, ryu),
    };
    let (mantissa, exp) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (rest, 0),
    };
    let mut digits = [0u8; 48];
    let mut len = 0usize;
    let mut point = None;
    for &c in mantissa.as_bytes() {
        if c == b'.' {
            point = Some(len);
        } else if len < digits.len() {
            digits[len] = c;
            len += 1;
        }
    }
    // The decimal point sits after `n` digits: value = 0.d1d2... * 10^n.
    let mut n = point.unwrap_or(len) as i32 + exp;
    let mut start = 0;
    while start < len && digits[start] == b'0' {
        start += 1;
        n -= 1;
    }
    while len > start && digits[len - 1] == b'0' {
        len -= 1;
    }
    let digits = &digits[start..len];
    if digits.is_empty() {
        // Zero, including -0.
        return w.write_all(b"0");
    }
    if negative {
        w.write_all(b"-")?;
    }
    let k = digits.len() as i32;
    if k <= n && n <= 21 {
        w.write_all(digits)?;
        for _ in 0..(n - k) {
            w.write_all(b"0")?;
        }
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        w.write_all(int)?;
        w.write_all(b".")?;
        w.write_all(frac)?;
    } else if -6 < n && n <= 0 {
        w.write_all(b"0.")?;
        for _ in 0..(-n) {
            w.write_all(b"0")?;
        }
        w.write_all(digits)?;
    } else {
        let e = n - 1;
        w.write_all(&digits[..1])?;
        if k > 1 {
            w.write_all(b".")?;
            w.write_all(&digits[1..])?;
        }
        w.write_all(if e >= 0 { b"e+" } else { b"e-" })?;
        let mut buf = itoa::Buffer::new();
        w.write_all(buf.format(e.unsigned_abs()).as_bytes())?;
    }
    Ok(())
}

/// Writes a JSON string literal, escaped as `JSON.stringify` (and serde_json) escapes it:
/// `\"`, `\\`, `\b \t \n \f \r`, other control characters as lowercase `\u00xx`.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes the `{"_placeholder":true,"num":N}` that stands for attachment `num`.
pub(crate) fn write_placeholder(out: &mut Vec<u8>, num: usize) {
    out.extend_from_slice(b"{\"_placeholder\":true,\"num\":");
    out.extend_from_slice(itoa::Buffer::new().format(num).as_bytes());
    out.push(b'}');
}

/// Writes `value` as JSON, replacing each binary with a placeholder and appending the bytes to
/// `attachments` (depth first, as socket.io-parser's `deconstructPacket` numbers them). Without
/// `attachments` (CONNECT and CONNECT_ERROR payloads, which socket.io-parser never splits),
/// binary is written as `JSON.stringify` writes a Node.js Buffer: `{"type":"Buffer","data":[..]}`.
pub(crate) fn write_value(
    out: &mut Vec<u8>,
    value: &Value,
    mut attachments: Option<&mut Vec<Bytes>>,
) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Binary(b) => match attachments {
            Some(attachments) => {
                write_placeholder(out, attachments.len());
                attachments.push(b.clone());
            }
            None => {
                out.extend_from_slice(b"{\"type\":\"Buffer\",\"data\":[");
                for (i, byte) in b.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(itoa::Buffer::new().format(*byte).as_bytes());
                }
                out.extend_from_slice(b"]}");
            }
        },
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, attachments.as_deref_mut());
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_value(out, v, attachments.as_deref_mut());
            }
            out.push(b'}');
        }
    }
}

/// Writes a number as JavaScript does.
pub(crate) fn write_number(out: &mut Vec<u8>, n: &crate::Number) {
    if let Some(u) = n.as_u64() {
        out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    } else if let Some(i) = n.as_i64() {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    } else {
        // Writing into a Vec cannot fail.
        let _ = write_js_f64(out, n.as_f64().unwrap_or(f64::NAN));
    }
}

/// The placeholder at `value` is invalid.
#[derive(Debug)]
pub(crate) struct InvalidPlaceholder;

/// Replaces every `{"_placeholder":true,"num":N}` in `value` with attachment `N`, checking
/// `N` as socket.io-parser's `reconstructPacket` does: a number with `0 <= N < attachments`.
/// Unlike JavaScript (which lets `1.5` through and yields `undefined`), a non-integer `N` is
/// rejected; an integral float such as `0.0` is accepted like JavaScript.
pub(crate) fn reconstruct(
    value: &mut Value,
    attachments: &[Bytes],
) -> Result<(), InvalidPlaceholder> {
    match value {
        Value::Object(map) => {
            if matches!(map.get("_placeholder"), Some(Value::Bool(true))) {
                let index = match map.get("num") {
                    Some(Value::Number(n)) => placeholder_index(n, attachments.len()),
                    _ => None,
                };
                let bytes = index
                    .and_then(|i| attachments.get(i))
                    .ok_or(InvalidPlaceholder)?;
                *value = Value::Binary(bytes.clone());
                return Ok(());
            }
            for v in map.values_mut() {
                reconstruct(v, attachments)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for v in items {
                reconstruct(v, attachments)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

pub(crate) fn placeholder_index(n: &crate::Number, count: usize) -> Option<usize> {
    if let Some(u) = n.as_u64() {
        return usize::try_from(u).ok().filter(|&i| i < count);
    }
    if n.is_i64() {
        return None; // negative
    }
    let f = n.as_f64()?;
    // `-0.0 >= 0.0` holds, like in JavaScript.
    if f.fract() == 0.0 && f >= 0.0 && f < count as f64 {
        Some(f as usize)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(v: f64) -> String {
        js_number_f64(v)
    }

    #[test]
    fn numbers_like_javascript() {
        assert_eq!(js(1e21), "1e+21");
        assert_eq!(js(1e20), "100000000000000000000");
        assert_eq!(js(123456789012345680000.0), "123456789012345680000");
        assert_eq!(js(1e-7), "1e-7");
        assert_eq!(js(1.5e-7), "1.5e-7");
        assert_eq!(js(1e-6), "0.000001");
        assert_eq!(js(0.1), "0.1");
        assert_eq!(js(5e-324), "5e-324");
        assert_eq!(js(-0.0), "0");
        assert_eq!(js(1.5), "1.5");
        assert_eq!(js(2.0), "2");
        assert_eq!(js(-2.5), "-2.5");
        assert_eq!(js(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(js(123.456), "123.456");
        assert_eq!(js(f64::NAN), "null");
        assert_eq!(js(-1e21), "-1e+21");
        assert_eq!(js(1.2345e25), "1.2345e+25");
    }
}
