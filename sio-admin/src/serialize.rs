//! What the admin namespace sends, in the JSON shapes of `@socket.io/admin-ui`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::ser::{Serialize, SerializeTuple, Serializer};
use sio_protocol::{Map, Value};
use sio_server::Handshake;

/// The key under which the instrumentation keeps a socket's client id and transport in its
/// `data`, as JavaScript does (so that other servers' `fetchSockets` carry them).
pub(crate) const ADMIN_KEY: &str = "_admin";

/// Arguments spread into several (serialized as a tuple: see `sio_protocol::socket::Args`).
pub(crate) struct Spread(pub(crate) Vec<Value>);

impl Serialize for Spread {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for value in &self.0 {
            tuple.serialize_element(value)?;
        }
        tuple.end()
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `ms` as JavaScript's `JSON.stringify(new Date(ms))`: `2026-11-25T18:52:13.042Z`.
pub(crate) fn iso_date(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Days to a civil date (proleptic Gregorian), after H. Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// The current time as a JSON date.
pub(crate) fn now_value() -> Value {
    Value::from(iso_date(now_ms()))
}

/// `data` without the instrumentation's `_admin` entry.
pub(crate) fn user_data(data: &Value) -> Value {
    match data {
        Value::Object(map) if map.contains_key(ADMIN_KEY) => {
            let mut map = map.clone();
            map.shift_remove(ADMIN_KEY);
            Value::Object(map)
        }
        other => other.clone(),
    }
}

/// A socket as the UI lists it: `{id, clientId, transport, nsp, data, handshake, rooms}`.
/// `clientId` and `transport` come from `data._admin`, as in JavaScript (a socket of another
/// server carries them there).
pub(crate) fn socket_value(
    id: &str,
    nsp: &str,
    handshake: &Handshake,
    rooms: &[sio_protocol::Str],
    data: &Value,
) -> Value {
    let mut out = Map::new();
    out.insert("id".to_owned(), Value::from(id));
    let admin = data.get(ADMIN_KEY);
    for key in ["clientId", "transport"] {
        if let Some(value) = admin.and_then(|a| a.get(key)) {
            out.insert(key.to_owned(), value.clone());
        }
    }
    out.insert("nsp".to_owned(), Value::from(nsp));
    out.insert("data".to_owned(), user_data(data));
    out.insert("handshake".to_owned(), handshake_value(handshake));
    out.insert(
        "rooms".to_owned(),
        Value::Array(rooms.iter().map(|r| Value::from(r.as_str())).collect()),
    );
    Value::Object(out)
}

/// The handshake without `auth` (it may hold credentials), with the address a proxy reports
/// (`cf-connecting-ip`, then `x-forwarded-for`) first, as JavaScript does.
fn handshake_value(handshake: &Handshake) -> Value {
    let mut value = handshake.to_value();
    if let Value::Object(map) = &mut value {
        map.shift_remove("auth");
        let proxied = ["cf-connecting-ip", "x-forwarded-for"]
            .iter()
            .find_map(|name| handshake.headers.get(*name)?.to_str().ok());
        if let Some(address) = proxied {
            map.insert("address".to_owned(), Value::from(address));
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_match_javascript() {
        // new Date(0).toJSON(), new Date(951782400000).toJSON() (a leap day),
        // new Date(1795632733042).toJSON()
        assert_eq!(iso_date(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_date(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_date(1_795_632_733_042), "2026-11-25T18:52:13.042Z");
        assert_eq!(iso_date(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn user_data_hides_the_admin_entry() {
        let data = Value::from_serialize(&serde_json::json!({"_admin": {"clientId": "x"}, "a": 1}))
            .unwrap();
        assert_eq!(
            user_data(&data),
            Value::from_serialize(&serde_json::json!({"a": 1})).unwrap()
        );
        assert_eq!(user_data(&Value::from("s")), Value::from("s"));
    }
}
