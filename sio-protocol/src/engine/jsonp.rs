//! JSONP polling (`j=<index>` on the handshake), as engine.io's `polling-jsonp.js`: responses
//! are a script `___eio[<index>]("<payload>");`, POST bodies are a form with the payload in
//! `d`. For browsers without XHR (engine.io-client 3 with `forceJSONP`). Sans-IO: the server
//! reads the `j` query parameter and the body, and sends what [`wrap`] returns with the
//! content type `text/javascript; charset=UTF-8`.
//!
//! ```
//! use sio_protocol::engine::jsonp;
//!
//! let index = jsonp::index("3");
//! assert_eq!(&jsonp::wrap(&index, b"4hi")[..], b"___eio[3](\"4hi\");");
//! assert_eq!(jsonp::unwrap(b"d=4hello").as_deref(), Some("4hello"));
//! ```

use bytes::Bytes;

/// The callback index of a `j` query value: its digits only, as engine.io keeps them.
pub fn index(j: &str) -> String {
    j.chars().filter(char::is_ascii_digit).collect()
}

/// The script that hands `payload` (a text payload) to callback `index`:
/// `___eio[<index>](<JSON string>);`, with U+2028 and U+2029 escaped too (JSON allows them in
/// strings, JavaScript did not).
pub fn wrap(index: &str, payload: &[u8]) -> Bytes {
    let payload = String::from_utf8_lossy(payload);
    let mut out = String::with_capacity(payload.len() + index.len() + 16);
    out.push_str("___eio[");
    out.push_str(index);
    out.push_str("](\"");
    for c in payload.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push_str("\");");
    Bytes::from(out)
}

/// The payload of a JSONP POST body (`d=<payload>`, form-encoded): `None` when there is no
/// single `d` field (engine.io then ignores the body). The client escapes newlines as `\n`
/// and `\n` sequences as `\\n`; this undoes it.
pub fn unwrap(body: &[u8]) -> Option<String> {
    let mut fields = form_urlencoded::parse(body).filter(|(key, _)| key == "d");
    let (_, data) = fields.next()?;
    if fields.next().is_some() {
        return None;
    }
    // `data.replace(/(\\)?\\n/g, (m, slashes) => slashes ? m : "\n")`, then
    // `.replace(/\\\\n/g, "\\n")`.
    let mut out = String::with_capacity(data.len());
    let mut rest = &*data;
    while let Some(at) = rest.find("\\n") {
        let escaped = at > 0 && rest.as_bytes()[at - 1] == b'\\';
        if escaped {
            // `\\n`: becomes `\n` (a backslash and an n).
            out.push_str(&rest[..at - 1]);
            out.push_str("\\n");
        } else {
            out.push_str(&rest[..at]);
            out.push('\n');
        }
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_like_json_stringify() {
        assert_eq!(index("12abc3"), "123");
        assert_eq!(
            &wrap("0", "4a\"b\\c\nd\u{1}\u{2028}é".as_bytes())[..],
            "___eio[0](\"4a\\\"b\\\\c\\nd\\u0001\\u2028é\");".as_bytes()
        );
    }

    #[test]
    fn unwrap_form_and_newlines() {
        assert_eq!(unwrap(b"d=4hello").as_deref(), Some("4hello"));
        assert_eq!(unwrap(b"d=6%3A4h%20i").as_deref(), Some("6:4h i"));
        // `\n` → newline, `\\n` → `\n`.
        assert_eq!(unwrap(br"d=4a\nb\\nc").as_deref(), Some("4a\nb\\nc"));
        assert_eq!(unwrap(b"x=1"), None);
        assert_eq!(unwrap(b"d=1&d=2"), None);
    }
}
