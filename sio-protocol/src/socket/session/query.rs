//! Protocol 4 (Socket.IO 2.x) sends the auth of a CONNECT as a query string in the namespace
//! (`/admin?token=abc`): the namespace and that query as an object of strings.

use crate::str::Str;
use crate::value::{Map, Value};

/// Splits `/admin?token=abc` into `/admin` and `{"token": "abc"}` (socket.io's
/// `_parseNamespace` for protocol 3 connections). A namespace without `?` has no query
/// (`None`); an empty path is `/`.
pub(super) fn split_v4_namespace(nsp: &Str) -> (Str, Option<Value>) {
    let Some((path, query)) = nsp.split_once('?') else {
        return (nsp.clone(), None);
    };
    let mut auth = Map::new();
    for (key, value) in form_urlencoded(query) {
        // A repeated key keeps its last value, as `Object.fromEntries` does.
        auth.insert(key, Value::from(value));
    }
    let path = if path.is_empty() {
        Str::from_static("/")
    } else {
        nsp.slice_ref(path)
    };
    (path, Some(Value::Object(auth)))
}

/// The pairs of an `application/x-www-form-urlencoded` string, as `URLSearchParams` reads
/// them: `&`-separated, empty pieces skipped, split at the first `=`, `+` is a space, `%XX`
/// is a byte (a `%` not followed by two hex digits stays as it is), bytes read as UTF-8 with
/// invalid sequences replaced.
fn form_urlencoded(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            (decode(key), decode(value))
        })
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: Option<&u8>) -> Option<u8> {
    match *b? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_with_and_without_query() {
        let (nsp, auth) =
            split_v4_namespace(&Str::from("/admin?token=a%20b+c&x&=v&token2=%zz&&k=1=2"));
        assert_eq!(nsp, "/admin");
        let auth = auth.unwrap();
        assert_eq!(auth.get("token").and_then(Value::as_str), Some("a b c"));
        assert_eq!(auth.get("x").and_then(Value::as_str), Some(""));
        assert_eq!(auth.get("").and_then(Value::as_str), Some("v"));
        assert_eq!(auth.get("token2").and_then(Value::as_str), Some("%zz"));
        assert_eq!(auth.get("k").and_then(Value::as_str), Some("1=2"));
        assert_eq!(auth.as_object().map(Map::len), Some(5));

        let (nsp, auth) = split_v4_namespace(&Str::from("?a=1&a=2"));
        assert_eq!(nsp, "/");
        assert_eq!(auth.unwrap().get("a").and_then(Value::as_str), Some("2"));

        let (nsp, auth) = split_v4_namespace(&Str::from("/chat"));
        assert_eq!((nsp.as_str(), auth), ("/chat", None));

        // Invalid UTF-8 after decoding is replaced, not an error.
        let (_, auth) = split_v4_namespace(&Str::from("/?q=%ff%41"));
        assert_eq!(
            auth.unwrap().get("q").and_then(Value::as_str),
            Some("\u{fffd}A")
        );
    }
}
