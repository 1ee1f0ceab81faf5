//! The chat example (`sio-server/examples/chat`, what `scripts/demo.sh` runs) in headless
//! Chromium: the test builds and starts the example on a free port, and
//! `tests/js/browser-chat.js` opens pages on it. alice and bob pick nicknames and join the
//! room "lobby", carol joins "elsewhere"; bob types (alice's page shows the typing notice),
//! sends a message and an image (a binary attachment). The test checks what each page shows.
//!
//! `SIO_CHAT_EXAMPLE=<path>` runs that binary instead of building the example.

mod browser_support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use browser_support::{build_chat, client_bundle, require_chromium, run_driver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_example_in_two_browser_pages() {
    require_chromium();
    let bundle = client_bundle();
    let chat = build_chat().await;

    // PORT=0: the example prints the address it got.
    let mut server = Command::new(&chat)
        .env("PORT", "0")
        .env("SIO_CLIENT_BUNDLE", &bundle)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chat.display()));
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("open ") {
                return url.trim().to_owned();
            }
        }
        panic!("the chat example exited before listening");
    })
    .await
    .expect("the chat example listens within 30 s");
    // Keeps reading its output (who left) so that it never blocks on a full pipe.
    let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let report = run_driver(
        "browser-chat.js",
        &[url, "45000".to_owned()],
        Duration::from_secs(55),
    )
    .await;
    let _ = server.kill().await;
    drain.abort();

    let lines = |who: &str| -> Vec<String> {
        report[who]["log"]
            .as_array()
            .unwrap_or_else(|| panic!("no log of {who}: {report:#}"))
            .iter()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect()
    };
    let (alice, bob, carol) = (lines("alice"), lines("bob"), lines("carol"));

    assert_eq!(
        alice,
        [
            "joined lobby as alice; here: alice",
            "bob joined",
            "bob: hello alice",
            "bob: pixels.png",
        ],
        "{report:#}"
    );
    assert_eq!(
        bob,
        [
            "joined lobby as bob; here: alice, bob",
            "bob: hello alice (sent)",
            "bob: pixels.png",
        ],
        "{report:#}"
    );
    // Another room: nothing of lobby's.
    assert_eq!(
        carol,
        ["joined elsewhere as carol; here: carol", "dave joined"],
        "{report:#}"
    );
    assert_eq!(report["typing"], "bob is typing…", "{report:#}");
    // The image reached alice byte for byte, and her browser decoded it.
    let png = &report["png"];
    assert_eq!(
        report["alice"]["images"],
        json!([{"alt": "bob: pixels.png", "width": 2, "height": 1, "bytes": png}]),
        "{report:#}"
    );
    assert_eq!(report["carol"]["images"], json!([]), "{report:#}");
}
