//! JSON text exactly as JavaScript writes it: `JSON.stringify` number formatting, binary
//! placeholders, and their reconstruction.

use bytes::Bytes;

use crate::value::Value;

pub(crate) mod de;
pub(crate) mod ser;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that equals `c`, give or take false positives above the
/// first (lowest) match, which is exact.
#[inline]
fn bytes_eq(x: u64, c: u8) -> u64 {
    let y = x ^ (LO * u64::from(c));
    y.wrapping_sub(LO) & !y & HI
}

/// The high bit of each byte of `x` below 0x20 (the first match is exact, as above).
#[inline]
fn bytes_control(x: u64) -> u64 {
    x.wrapping_sub(LO * 0x20) & !x & HI
}

/// The eight bytes at `b[i..i + 8]`, if there are eight.
#[inline]
fn word(b: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = b.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

// Two ways to look for the end of a plain run, each where it measures fewer instructions
// (callgrind, `examples/profile_codec.rs` on the 59-byte and the 2.9 KB events): inside a
// received text, whose strings are short and end well before the text does, a bounds-checked
// word per step (`word`); on a string being written, whose end is the end of the slice,
// `chunks_exact` and a table for the remainder (`escape_from`).

/// The index of the first quote or backslash in `b[i..]` (`b.len()` if none), eight bytes at a
/// time.
#[inline]
pub(crate) fn find_quote_or_backslash(b: &[u8], mut i: usize) -> usize {
    while let Some(x) = word(b, i) {
        let m = bytes_eq(x, b'"') | bytes_eq(x, b'\\');
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' {
            return i;
        }
        i += 1;
    }
    b.len()
}

/// The index of the first byte of `b[i..]` that a JSON string cannot hold as it is: `"`,
/// a backslash or a control character (`b.len()` if none), eight bytes at a time.
#[inline]
pub(crate) fn find_string_special(b: &[u8], mut i: usize) -> usize {
    while let Some(x) = word(b, i) {
        let m = bytes_eq(x, b'"') | bytes_eq(x, b'\\') | bytes_control(x);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return i;
        }
        i += 1;
    }
    b.len()
}

/// Bytes that a JSON string cannot hold as they are: `"`, a backslash, the control characters.
static SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        table[c] = true;
        c += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The index of the first byte of `b[i..]` to escape (`b.len()` if none), for a whole string.
#[inline]
fn escape_from(b: &[u8], i: usize) -> usize {
    let rest = b.get(i..).unwrap_or_default();
    let mut chunks = rest.chunks_exact(8);
    let mut at = i;
    for chunk in chunks.by_ref() {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let m = bytes_eq(x, b'"') | bytes_eq(x, b'\\') | bytes_control(x);
        if m != 0 {
            return at + (m.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    for &c in chunks.remainder() {
        if SPECIAL[usize::from(c)] {
            return at;
        }
        at += 1;
    }
    at
}

/// Writes `value` as JavaScript's `String(value)` would (what `JSON.stringify` writes), except
/// that NaN and infinities (which `JSON.stringify` turns into `null`) are written as `null`:
/// `1` not `1.0`, `1e+21`, `1.5e-7`, `0` for `-0`.
pub(crate) fn write_js_f64(out: &mut Vec<u8>, value: f64) {
    if !value.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let a = value.abs();
    if a < 1e15 && value.fract() == 0.0 {
        // An integer: its digits (`-0` is `0`).
        out.extend_from_slice(itoa::Buffer::new().format(value as i64).as_bytes());
        return;
    }
    if (1e-6..1e15).contains(&a) && write_short_decimal(out, value) {
        return;
    }
    let mut buf = ryu::Buffer::new();
    write_js_layout(out, buf.format_finite(value));
}

/// Writes `value` (finite, `1e-6 <= |value| < 1e15`) in decimal notation when it has at most 15
/// significant digits, the shortest that read back as `value`: what JavaScript writes. Returns
/// false (writing nothing) otherwise.
///
/// `m / 10^k` with `m < 10^15` and `10^k` exact is one correctly rounded division, so it equals
/// `value` exactly when the decimal `m·10^-k` reads as `value`. The first `k` that works is the
/// shortest, and the only candidate of that length: two decimals of at most 15 significant
/// digits are more than 4 ulps apart.
fn write_short_decimal(out: &mut Vec<u8>, value: f64) -> bool {
    const POW10: [u64; 16] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
        10_000_000_000,
        100_000_000_000,
        1_000_000_000_000,
        10_000_000_000_000,
        100_000_000_000_000,
        1_000_000_000_000_000,
    ];
    let a = value.abs();
    for (k, &p) in POW10.iter().enumerate().skip(1) {
        let scale = p as f64;
        let t = a * scale;
        if t >= 1e15 {
            return false;
        }
        let m = t.round();
        if m / scale == a {
            let m = m as u64;
            let (int, mut frac) = (m / p, m % p);
            let mut digits = k;
            while frac % 10 == 0 && digits > 0 {
                frac /= 10;
                digits -= 1;
            }
            if value < 0.0 {
                out.push(b'-');
            }
            out.extend_from_slice(itoa::Buffer::new().format(int).as_bytes());
            if digits > 0 {
                out.push(b'.');
                let mut buf = itoa::Buffer::new();
                let f = buf.format(frac).as_bytes();
                out.extend(std::iter::repeat_n(b'0', digits - f.len()));
                out.extend_from_slice(f);
            }
            return true;
        }
    }
    false
}

/// An `f32` is written with the shortest digits that read back as the same `f32` (`0.1`), not as
/// JavaScript would print the widened `f64` (`0.10000000149011612`); NaN and infinities as
/// `null`.
pub(crate) fn write_js_f32(out: &mut Vec<u8>, value: f32) {
    if !value.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let mut buf = ryu::Buffer::new();
    write_js_layout(out, buf.format_finite(value));
}

/// `String(value)` in JavaScript, for a finite `value` (`null` otherwise).
pub(crate) fn js_number_f64(value: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_js_f64(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

/// Re-lays the shortest round-trip digits printed by `ryu` the way ECMAScript's
/// Number::toString does (ECMA-262 §6.1.6.1.20).
fn write_js_layout(w: &mut Vec<u8>, ryu: &str) {
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
        w.push(b'0');
        return;
    }
    if negative {
        w.extend_from_slice(b"-");
    }
    let k = digits.len() as i32;
    if k <= n && n <= 21 {
        w.extend_from_slice(digits);
        for _ in 0..(n - k) {
            w.extend_from_slice(b"0");
        }
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        w.extend_from_slice(int);
        w.extend_from_slice(b".");
        w.extend_from_slice(frac);
    } else if -6 < n && n <= 0 {
        w.extend_from_slice(b"0.");
        for _ in 0..(-n) {
            w.extend_from_slice(b"0");
        }
        w.extend_from_slice(digits);
    } else {
        let e = n - 1;
        w.extend_from_slice(&digits[..1]);
        if k > 1 {
            w.extend_from_slice(b".");
            w.extend_from_slice(&digits[1..]);
        }
        w.extend_from_slice(if e >= 0 { b"e+" } else { b"e-" });
        let mut buf = itoa::Buffer::new();
        w.extend_from_slice(buf.format(e.unsigned_abs()).as_bytes());
    }
}

/// Writes a JSON string literal, escaped as `JSON.stringify` (and serde_json) escapes it:
/// `\"`, `\\`, `\b \t \n \f \r`, other control characters as lowercase `\u00xx`. The runs
/// between escapes are found eight bytes at a time and copied whole.
#[inline]
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let first = escape_from(bytes, 0);
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if first == bytes.len() {
        out.extend_from_slice(bytes);
    } else {
        write_escaped(out, bytes, first);
    }
    out.push(b'"');
}

/// The inside of a string literal whose first byte to escape is at `first`.
#[cold]
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8], first: usize) {
    let mut start = 0;
    let mut i = first;
    while let Some(&b) = bytes.get(i) {
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        write_escape(out, b);
        start = i + 1;
        i = escape_from(bytes, start);
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

/// The escape of `b` (a quote, a backslash or a control character).
fn write_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ]),
    }
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
pub(crate) fn write_number(out: &mut Vec<u8>, n: &crate::value::Number) {
    if let Some(u) = n.as_u64() {
        out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    } else if let Some(i) = n.as_i64() {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    } else {
        write_js_f64(out, n.as_f64().unwrap_or(f64::NAN));
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

pub(crate) fn placeholder_index(n: &crate::value::Number, count: usize) -> Option<usize> {
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

/// The JSON text, as `JSON.stringify` writes it (numbers included); binary is written as
/// `JSON.stringify` writes a Node.js `Buffer`: `{"type":"Buffer","data":[1,2]}`.
impl std::fmt::Display for crate::value::Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = Vec::new();
        write_value(&mut out, self, None);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(v: f64) -> String {
        js_number_f64(v)
    }

    /// The fast paths write what the general one (ryu's shortest digits, laid out as
    /// JavaScript does) writes.
    #[test]
    fn fast_number_paths_match_the_general_one() {
        let general = |v: f64| {
            let mut out = Vec::new();
            if v.is_finite() {
                write_js_layout(&mut out, ryu::Buffer::new().format_finite(v));
            }
            String::from_utf8(out).unwrap()
        };
        let mut values = vec![
            0.0,
            -0.0,
            1e15,
            1e15 - 1.0,
            999999999999999.9,
            1e-6,
            9.99e-7,
        ];
        for i in 0..20_000i64 {
            values.push(i as f64 / 100.0);
            values.push(-(i as f64) / 1000.0);
            values.push(i as f64 * 1.25);
            values.push((i as f64).sqrt());
            values.push(1.0 / (i as f64 + 1.0));
            values.push(i as f64 * 0.1 + 0.2);
        }
        // A deterministic spread of bit patterns.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            values.push(v);
            values.push(v.rem_euclid(1e6));
            values.push((v.rem_euclid(1e6) * 1000.0).round() / 1000.0);
        }
        for v in values.into_iter().filter(|v| v.is_finite()) {
            assert_eq!(js(v), general(v), "{v:e}");
        }
    }

    #[test]
    fn strings_like_json_stringify() {
        for s in [
            "",
            "plain",
            "exactly8",
            "a longer string of plain text, past eight bytes",
            "quote\" and back\\slash",
            "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}\u{7f} end",
            "é漢😀\u{2028}",
            "12345678\"",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    /// The word-at-a-time searches find what a byte-by-byte search finds, at every start and
    /// every position of the special byte within and across words.
    #[test]
    fn searches_match_a_byte_loop() {
        let special = |c: u8| c == b'"' || c == b'\\' || c < 0x20;
        for len in 0..27 {
            for at in 0..=len {
                for c in [b'"', b'\\', 0x00, 0x1f, b'a', 0x7f, 0x80, 0xff, b' '] {
                    let mut b = vec![b'x'; len];
                    if at < len {
                        b[at] = c;
                    }
                    for i in 0..=len {
                        let want = (i..len).find(|&j| special(b[j])).unwrap_or(len);
                        assert_eq!(find_string_special(&b, i), want, "{b:?} from {i}");
                        assert_eq!(escape_from(&b, i), want, "{b:?} from {i}");
                        let want = (i..len)
                            .find(|&j| b[j] == b'"' || b[j] == b'\\')
                            .unwrap_or(len);
                        assert_eq!(find_quote_or_backslash(&b, i), want, "{b:?} from {i}");
                    }
                }
            }
        }
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
