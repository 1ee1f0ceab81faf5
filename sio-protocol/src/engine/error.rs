//! Engine.IO error codes and the reasons of decode errors.

use std::fmt;

/// The error codes of an Engine.IO server's HTTP error responses (`Server.errors` in
/// engine.io).
///
/// A server answers a refused request with [`http_status`](Self::http_status) and the JSON body
/// [`json_body`](Self::json_body), e.g. `400 {"code":1,"message":"Session ID unknown"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: `Transport unknown`: the `transport` query parameter is missing or not enabled.
    UnknownTransport = 0,
    /// 1: `Session ID unknown`: the `sid` query parameter names no session.
    UnknownSid = 1,
    /// 2: `Bad handshake method`: a handshake (no `sid`) with a method other than `GET`.
    BadHandshakeMethod = 2,
    /// 3: `Bad request`: a transport mismatch, a WebSocket request without `Upgrade`, ...
    BadRequest = 3,
    /// 4: `Forbidden`: refused by the application (`allowRequest`); the only 403.
    Forbidden = 4,
    /// 5: `Unsupported protocol version`: `EIO` missing, unknown, or v3 when not allowed.
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    /// The numeric code, as sent in the `code` field.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The default message, as sent in the `message` field.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status of the error response: 403 for [`Forbidden`](Self::Forbidden), 400
    /// otherwise.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::Forbidden => 403,
            _ => 400,
        }
    }

    /// The code for a numeric value, `None` when it is not one of the six codes.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => ErrorCode::UnknownTransport,
            1 => ErrorCode::UnknownSid,
            2 => ErrorCode::BadHandshakeMethod,
            3 => ErrorCode::BadRequest,
            4 => ErrorCode::Forbidden,
            5 => ErrorCode::UnsupportedProtocolVersion,
            _ => return None,
        })
    }

    /// The JSON body of the error response, byte-identical to engine.io's:
    /// `{"code":4,"message":"Forbidden"}`.
    ///
    /// `message_override` replaces the default message (engine.io does this for the message an
    /// `allowRequest` hook refuses with); it is JSON-escaped.
    ///
    /// ```
    /// use sio_protocol::engine::ErrorCode;
    /// assert_eq!(
    ///     ErrorCode::UnknownSid.json_body(None),
    ///     r#"{"code":1,"message":"Session ID unknown"}"#
    /// );
    /// assert_eq!(
    ///     ErrorCode::Forbidden.json_body(Some("no \"guests\"")),
    ///     r#"{"code":4,"message":"no \"guests\""}"#
    /// );
    /// ```
    pub fn json_body(&self, message_override: Option<&str>) -> String {
        let message = message_override.unwrap_or(self.message());
        let mut out = String::with_capacity(26 + message.len());
        out.push_str("{\"code\":");
        out.push(char::from(b'0' + self.code()));
        out.push_str(",\"message\":");
        write_json_str(&mut out, message);
        out.push('}');
        out
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Appends `s` as a JSON string literal, escaped exactly like JavaScript's `JSON.stringify`
/// (short escapes for `\b \t \n \f \r`, `\u00xx` with lowercase hex for other control
/// characters; everything else, U+2028 and U+2029 included, is written as is).
pub(crate) fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is the index of an ASCII byte, hence a char boundary.
        out.push_str(s.get(start..i).unwrap_or_default());
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

pub use crate::reason::engine::DecodeReason;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..=5u8 {
            let e = ErrorCode::from_code(code);
            assert_eq!(e.map(ErrorCode::code), Some(code));
        }
        assert_eq!(ErrorCode::from_code(6), None);
        assert_eq!(ErrorCode::from_code(255), None);
    }

    #[test]
    fn bodies_match_engine_io() {
        let cases = [
            (
                ErrorCode::UnknownTransport,
                400,
                r#"{"code":0,"message":"Transport unknown"}"#,
            ),
            (
                ErrorCode::UnknownSid,
                400,
                r#"{"code":1,"message":"Session ID unknown"}"#,
            ),
            (
                ErrorCode::BadHandshakeMethod,
                400,
                r#"{"code":2,"message":"Bad handshake method"}"#,
            ),
            (
                ErrorCode::BadRequest,
                400,
                r#"{"code":3,"message":"Bad request"}"#,
            ),
            (
                ErrorCode::Forbidden,
                403,
                r#"{"code":4,"message":"Forbidden"}"#,
            ),
            (
                ErrorCode::UnsupportedProtocolVersion,
                400,
                r#"{"code":5,"message":"Unsupported protocol version"}"#,
            ),
        ];
        for (code, status, body) in cases {
            assert_eq!(code.http_status(), status);
            assert_eq!(code.json_body(None), body);
            assert_eq!(code.to_string(), code.message());
        }
    }

    #[test]
    fn override_is_escaped_like_json_stringify() {
        let body = ErrorCode::Forbidden.json_body(Some("a\"b\\c\n\u{1}\u{1f}\u{7f}é\u{2028}"));
        assert_eq!(
            body,
            "{\"code\":4,\"message\":\"a\\\"b\\\\c\\n\\u0001\\u001f\u{7f}é\u{2028}\"}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&body).expect("valid json");
        assert_eq!(parsed["message"], "a\"b\\c\n\u{1}\u{1f}\u{7f}é\u{2028}");
        let mut out = String::new();
        write_json_str(&mut out, "\u{8}\u{c}\t\r");
        assert_eq!(out, r#""\b\f\t\r""#);
    }

    #[test]
    fn display_is_lowercase_without_period() {
        let all = [
            DecodeReason::Empty,
            DecodeReason::UnknownPacketType(b'x'),
            DecodeReason::BinaryNotMessage(2),
            DecodeReason::InvalidBase64,
            DecodeReason::InvalidUtf8,
            DecodeReason::InvalidOpen,
            DecodeReason::PayloadTooLarge { limit: 10 },
            DecodeReason::InvalidLength,
            DecodeReason::Truncated,
        ];
        for e in all {
            let s = e.to_string();
            assert!(!s.ends_with('.'), "{s}");
            assert_eq!(
                s.chars().next().map(|c| c.is_lowercase()),
                Some(true),
                "{s}"
            );
        }
        assert_eq!(
            DecodeReason::PayloadTooLarge { limit: 10 }.to_string(),
            "payload too large (limit 10 bytes)"
        );
    }
}
