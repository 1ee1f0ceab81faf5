//! A validating scanner for the JSON array of a received text EVENT or ACK.
//!
//! socket.io-parser runs `JSON.parse` on the whole payload, so a packet with invalid JSON
//! anywhere is rejected when it is decoded. We must reject the same packets, but we do not want
//! to build anything yet: the arguments stay as text until a handler asks for a type. This
//! scanner checks the grammar of RFC 8259 (what `JSON.parse` accepts) in one pass without
//! allocating or recursing, and records the byte range of each top-level item.
//!
//! A number literal beyond the range of an `f64` (`1e309`) is valid JSON, which `JSON.parse`
//! reads as `Infinity`: it is accepted and reported, so that the arguments that hold one take
//! the slow path of `lenient.rs`. Lone surrogate escapes (`"\ud800"`) are accepted, as in
//! JavaScript; reading such a string into a Rust `String` fails later, at `Args::deserialize`.

use super::json::find_string_special;

/// The JSON was not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

/// What [`scan_array`] found.
#[derive(Debug)]
pub(crate) struct Items {
    /// The range in the text of the first item, when asked for (the event name).
    pub(crate) name: Option<(usize, usize)>,
    /// The ranges of the other items.
    pub(crate) ranges: Ranges,
    /// Whether one of the other items holds a number beyond the range of an `f64`.
    pub(crate) infinite: bool,
}

/// Checks that `text[start..]` is one JSON array (whitespace around it allowed) and returns the
/// range in `text` of its first item when `with_name` (the event name), and the ranges of the
/// other items.
pub(crate) fn scan_array(text: &[u8], start: usize, with_name: bool) -> Result<Items, Invalid> {
    let mut s = Scanner {
        b: text,
        i: start,
        infinite: false,
    };
    let mut infinite = false;
    let mut name = None;
    let mut ranges = Ranges::new();
    s.ws();
    s.expect(b'[')?;
    s.ws();
    if s.peek() == Some(b']') {
        s.i += 1;
    } else {
        loop {
            s.ws();
            let item_start = s.i;
            s.value()?;
            let range = (item_start, s.i);
            if with_name && name.is_none() {
                name = Some(range);
            } else {
                infinite |= s.infinite;
                let start = u32::try_from(range.0).map_err(|_| Invalid)?;
                let end = u32::try_from(range.1).map_err(|_| Invalid)?;
                ranges.push_range((start, end));
            }
            s.ws();
            match s.next() {
                Some(b',') => {}
                Some(b']') => break,
                _ => return Err(Invalid),
            }
        }
    }
    s.ws();
    if s.i != text.len() {
        return Err(Invalid);
    }
    Ok(Items {
        name,
        ranges,
        infinite,
    })
}

/// Checks that `text` is exactly one JSON value (whitespace around it allowed).
pub(crate) fn validate(text: &[u8]) -> Result<(), Invalid> {
    let mut s = Scanner {
        b: text,
        i: 0,
        infinite: false,
    };
    s.ws();
    s.value()?;
    s.ws();
    if s.i == text.len() {
        Ok(())
    } else {
        Err(Invalid)
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    /// Whether the last value scanned holds a number beyond the range of an `f64`.
    infinite: bool,
}

/// Whether the number literal `literal` (valid JSON) is beyond the range of an `f64`, which
/// `JSON.parse` reads as an infinity. (A literal too small for an `f64` reads as 0, in
/// JavaScript as in Rust.)
pub(crate) fn overflows(literal: &[u8]) -> bool {
    // Only a long literal or one with an exponent can overflow an f64 (the longest finite
    // integer literal has 309 digits).
    (literal.len() > 300 || literal.iter().any(|&c| c == b'e' || c == b'E'))
        && std::str::from_utf8(literal)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(f64::is_infinite)
}

/// Appends the JSON text `json` (valid) to `out` with every number literal beyond the range of
/// an `f64` written as `null`: what `JSON.stringify` writes for the `Infinity` that
/// `JSON.parse` reads from it. Everything else is copied as it is.
pub(crate) fn write_finite(out: &mut Vec<u8>, json: &[u8]) {
    let mut copied = 0;
    let mut i = 0;
    while let Some(&c) = json.get(i) {
        match c {
            b'"' => {
                // Skip the string, escapes included.
                i += 1;
                while let Some(&c) = json.get(i) {
                    i += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = json.get(i) {
                    i += 1;
                }
                let literal = json.get(start..i).unwrap_or_default();
                if overflows(literal) {
                    out.extend_from_slice(json.get(copied..start).unwrap_or_default());
                    out.extend_from_slice(b"null");
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    out.extend_from_slice(json.get(copied..).unwrap_or_default());
}

/// Containers open around the current position: one bit per level (1 = object) for the first
/// 128 levels, then a vector. Deep nesting costs no recursion.
struct Stack {
    bits: u128,
    depth: usize,
    deep: Vec<bool>,
}

impl Stack {
    fn push(&mut self, object: bool) {
        if self.depth < 128 {
            let bit = 1u128 << self.depth;
            if object {
                self.bits |= bit;
            } else {
                self.bits &= !bit;
            }
        } else {
            self.deep.push(object);
        }
        self.depth += 1;
    }

    fn pop(&mut self) {
        self.depth -= 1;
        if self.depth >= 128 {
            self.deep.pop();
        }
    }

    /// Whether the innermost open container is an object.
    fn top_is_object(&self) -> bool {
        let top = self.depth - 1;
        if top < 128 {
            self.bits & (1u128 << top) != 0
        } else {
            self.deep.last().copied().unwrap_or(false)
        }
    }
}

impl Scanner<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }

    #[inline]
    fn expect(&mut self, c: u8) -> Result<(), Invalid> {
        if self.next() == Some(c) {
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// One value, containers included.
    fn value(&mut self) -> Result<(), Invalid> {
        self.infinite = false;
        let mut stack = Stack {
            bits: 0,
            depth: 0,
            deep: Vec::new(),
        };
        loop {
            // A value starts here.
            self.ws();
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                    } else {
                        stack.push(true);
                        self.key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                    } else {
                        stack.push(false);
                        continue;
                    }
                }
                Some(b'"') => {
                    self.i += 1;
                    self.string()?;
                }
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                _ => return Err(Invalid),
            }
            // A value ended: close containers, or move to the next item.
            loop {
                if stack.depth == 0 {
                    return Ok(());
                }
                self.ws();
                let object = stack.top_is_object();
                match (self.next(), object) {
                    (Some(b','), false) => break,
                    (Some(b','), true) => {
                        self.ws();
                        self.key()?;
                        break;
                    }
                    (Some(b']'), false) | (Some(b'}'), true) => stack.pop(),
                    _ => return Err(Invalid),
                }
            }
        }
    }

    /// `"key"` then `:`, at the current position.
    fn key(&mut self) -> Result<(), Invalid> {
        self.expect(b'"')?;
        self.string()?;
        self.ws();
        self.expect(b':')
    }

    /// The rest of a string, after its opening quote.
    fn string(&mut self) -> Result<(), Invalid> {
        loop {
            // Skip the bytes that need no attention: all but a quote, a backslash and the
            // control characters.
            self.i = find_string_special(self.b, self.i);
            match self.next() {
                Some(b'"') => return Ok(()),
                Some(b'\\') => match self.next() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    Some(b'u') => {
                        let hex = self.b.get(self.i..self.i + 4).ok_or(Invalid)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(Invalid);
                        }
                        self.i += 4;
                    }
                    _ => return Err(Invalid),
                },
                _ => return Err(Invalid),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; notes a literal beyond the range of an
    /// `f64`.
    fn number(&mut self) -> Result<(), Invalid> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Invalid),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(Invalid);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(Invalid);
            }
        }
        if overflows(self.b.get(start..self.i).unwrap_or_default()) {
            self.infinite = true;
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Invalid> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }
}

const INLINE: usize = 3;

/// The byte ranges of the arguments in their JSON text; up to three without allocating.
#[derive(Clone, Debug)]
pub(crate) enum Ranges {
    Inline(u8, [(u32, u32); INLINE]),
    Heap(Vec<(u32, u32)>),
}

impl Ranges {
    pub(crate) const fn new() -> Self {
        Ranges::Inline(0, [(0, 0); INLINE])
    }

    pub(crate) fn as_slice(&self) -> &[(u32, u32)] {
        match self {
            Ranges::Inline(len, items) => &items[..*len as usize],
            Ranges::Heap(v) => v,
        }
    }

    pub(crate) fn push_range(&mut self, range: (u32, u32)) {
        match self {
            Ranges::Inline(len, items) if (*len as usize) < INLINE => {
                items[*len as usize] = range;
                *len += 1;
            }
            Ranges::Inline(_, items) => {
                let mut v = Vec::with_capacity(INLINE * 2 + 2);
                v.extend_from_slice(items);
                v.push(range);
                *self = Ranges::Heap(v);
            }
            Ranges::Heap(v) => v.push(range),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_json_parse_accepts() {
        for ok in [
            "0",
            "-0",
            "1.5",
            "-1.5e+10",
            "1E-7",
            "123456789012345678901234567890",
            "true",
            "false",
            "null",
            "\"\"",
            "\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\ude00\"",
            "\"\\ud800\"",
            "[]",
            "{}",
            " [ 1 , { \"a\" : [ ] } ] ",
            "{\"a\":{\"b\":{\"c\":[1,[2]]}}}",
            "\"é漢😀\u{7f}\"",
            "1e308",
            "1e-400",
            "1e400",
            "-1e400",
        ] {
            assert_eq!(validate(ok.as_bytes()), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_what_json_parse_rejects() {
        for bad in [
            "",
            " ",
            "01",
            "-",
            "1.",
            ".5",
            "+1",
            "1e",
            "1e+",
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "'a'",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
            "\"a\u{1}\"",
            "\"\t\"",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{\"a\"}",
            "{\"a\":}",
            "{a:1}",
            "{\"a\":1,}",
            "[1]]",
            "[[1]",
            "{]",
            "[}",
            "1 1",
            "[1]x",
            "\u{a0}1",
            "1e",
            "-e5",
        ] {
            assert_eq!(validate(bad.as_bytes()), Err(Invalid), "{bad:?}");
        }
    }

    #[test]
    fn numbers_beyond_f64_are_valid_and_reported() {
        let big = "9".repeat(400);
        for (json, infinite) in [
            ("[1e400]", true),
            ("[-1e400]", true),
            ("[{\"a\":[1E+999]}]", true),
            (&format!("[{big}]"), true),
            ("[1e308]", false),
            ("[1e-400]", false),
            ("[\"1e400\"]", false),
            ("[1, 2.5e10]", false),
        ] {
            let items = scan_array(json.as_bytes(), 0, false).expect("valid");
            assert_eq!(items.infinite, infinite, "{json}");
        }
        // Only the arguments count, not the event name.
        let items = scan_array(b"[1e400,1]", 0, true).expect("valid");
        assert!(!items.infinite);
        let items = scan_array(b"[\"a\",1,-1e400]", 0, true).expect("valid");
        assert!(items.infinite);
    }

    #[test]
    fn write_finite_writes_null_for_infinities() {
        let write = |json: &str| {
            let mut out = Vec::new();
            write_finite(&mut out, json.as_bytes());
            String::from_utf8(out).expect("UTF-8")
        };
        assert_eq!(
            write(r#"1e309, {"a":[-1E+400,1e-400, "1e999\"1e999"]} ,2e5"#),
            r#"null, {"a":[null,1e-400, "1e999\"1e999"]} ,2e5"#
        );
        assert_eq!(write(&"9".repeat(400)), "null");
        assert_eq!(write("[1.5,\"é\",-0]"), "[1.5,\"é\",-0]");
    }

    #[test]
    fn deep_nesting_without_recursion() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(validate(deep.as_bytes()), Ok(()));
        let mixed = format!("{}1{}", "{\"a\":[".repeat(300), "]}".repeat(300));
        assert_eq!(validate(mixed.as_bytes()), Ok(()));
        let unbalanced = format!("{}{}", "[".repeat(300), "]".repeat(299));
        assert_eq!(validate(unbalanced.as_bytes()), Err(Invalid));
    }

    #[test]
    fn ranges_of_items() {
        let text = b"2[\"ev\", 1 ,{\"a\":[2]}, \"x\"]";
        let Items { name, ranges, .. } = scan_array(text, 1, true).expect("valid");
        let s = |r: (usize, usize)| &text[r.0..r.1];
        assert_eq!(name.map(s), Some(&b"\"ev\""[..]));
        let items: Vec<&[u8]> = ranges
            .as_slice()
            .iter()
            .map(|&(a, b)| &text[a as usize..b as usize])
            .collect();
        assert_eq!(items, [&b"1"[..], b"{\"a\":[2]}", b"\"x\""]);
        assert_eq!(scan_array(b"[]", 0, true).map(|i| i.name), Ok(None));
        assert!(scan_array(b"{}", 0, false).is_err());
    }
}
