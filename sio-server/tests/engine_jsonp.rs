//! JSONP polling (`j=<index>`), as engine.io's `polling-jsonp.js`: script responses and
//! form-encoded POSTs, Engine.IO v4 and v3.

use sio_test_support::engine as support;

use sio_server::EngineConfig;
use support::*;

fn unwrap_script(text: &str, index: &str) -> String {
    let head = format!("___eio[{index}](");
    let json = text
        .strip_prefix(&head)
        .and_then(|t| t.strip_suffix(");"))
        .unwrap_or_else(|| panic!("not a JSONP script: {text}"));
    serde_json::from_str::<String>(json).unwrap()
}

fn form(payload: &str) -> Vec<u8> {
    // What engine.io-client's JSONP transport sends: newlines escaped, then form-encoded.
    let escaped = payload.replace("\\n", "\\\\n").replace('\n', "\\n");
    let mut out = b"d=".to_vec();
    for b in escaped.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.*".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

async fn post_form(addr: std::net::SocketAddr, query: &str, payload: &str) -> Resp {
    request(
        addr,
        "POST",
        &format!("/engine.io/?{query}"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(payload),
    )
    .await
}

#[tokio::test]
async fn jsonp_v4() {
    let server = echo_server(EngineConfig::default()).await;
    let resp = get(server.addr, "EIO=4&transport=polling&j=1x2").await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    let open = unwrap_script(&resp.text(), "12");
    let json: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    let sid = json["sid"].as_str().unwrap();
    // The index is read once, at the handshake.
    let q = format!("EIO=4&transport=polling&sid={sid}");
    let resp = post_form(server.addr, &q, "4a\nb\x1e4c\\nd\x1ebAQID\x1e4\u{2028}").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "ok");
    let resp = get(server.addr, &q).await;
    let script = resp.text();
    assert!(script.contains("\\u2028"), "{script}");
    assert_eq!(
        unwrap_script(&script, "12"),
        "4a\nb\x1e4c\\nd\x1ebAQID\x1e4\u{2028}"
    );
    // A body without a `d` field is ignored.
    let resp = request(
        server.addr,
        "POST",
        &format!("/engine.io/?{q}"),
        &[],
        b"x=4nothing",
    )
    .await;
    assert_eq!(resp.text(), "ok");
}

#[tokio::test]
async fn jsonp_v3_uses_base64_binary() {
    let server = echo_server(EngineConfig::default().allow_eio3(true)).await;
    let resp = get(server.addr, "EIO=3&transport=polling&j=0").await;
    let open = unwrap_script(&resp.text(), "0");
    let (_, open) = open.split_once(':').unwrap();
    let json: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    let sid = json["sid"].as_str().unwrap();
    let q = format!("EIO=3&transport=polling&sid={sid}");
    assert_eq!(
        post_form(server.addr, &q, "6:4hello6:b4AQID").await.status,
        200
    );
    let resp = get(server.addr, &q).await;
    assert_eq!(unwrap_script(&resp.text(), "0"), "6:4hello6:b4AQID");
}
