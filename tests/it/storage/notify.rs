//! `--notify` and `--ping-url` against a local listener: the Slack and plain JSON shapes,
//! the healthchecks.io pings with the exit code and a log excerpt, and an endpoint that is
//! down (a warning, the same exit code, no secret printed).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{Method, Uri};
use creatify_batch::sandbox::Faults;

use crate::support::*;

/// What the listener heard: method, path, body.
type Heard = Arc<Mutex<Vec<(String, String, String)>>>;

/// A listener on 127.0.0.1 that answers 200 to everything and records it.
async fn listener() -> (String, Heard) {
    let heard: Heard = Arc::default();
    let h = heard.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
        let h = h.clone();
        async move {
            h.lock().unwrap().push((
                method.to_string(),
                uri.path().to_owned(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
            "ok"
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (base, heard)
}

fn bodies(heard: &Heard, path: &str) -> Vec<String> {
    heard
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, p, _)| m == "POST" && p == path)
        .map(|(_, _, b)| b.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_is_posted_as_slack_or_json_and_pings_carry_the_exit_code() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let (base, heard) = listener().await;
    let sheet = h.sheet("nightly.csv", &sheet_of(2));
    let slack = format!("{base}/services/T0/B0/hook-secret");
    let ping = format!("{base}/ping/check-1");
    let out = h
        .run(
            &sheet,
            &[
                "--notify",
                &slack,
                "--notify-format",
                "slack",
                "--ping-url",
                &ping,
            ],
        )
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(bodies(&heard, "/ping/check-1/start").len(), 1);
    let end = bodies(&heard, "/ping/check-1/0");
    assert_eq!(end.len(), 1, "{:?}", heard.lock().unwrap());
    assert!(end[0].contains("2 downloaded"), "{}", end[0]);
    let posted = bodies(&heard, "/services/T0/B0/hook-secret");
    assert_eq!(posted.len(), 1);
    let msg: serde_json::Value = serde_json::from_str(&posted[0]).unwrap();
    assert!(
        msg["text"].as_str().unwrap().contains("nightly: exit 0"),
        "{msg}"
    );
    assert_eq!(msg["blocks"][0]["type"], "section");
    assert!(
        msg["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("2 downloaded"),
        "{msg}"
    );
    // The start ping went before the first creation, the rest after the summary.
    let order: Vec<String> = heard
        .lock()
        .unwrap()
        .iter()
        .map(|(_, p, _)| p.clone())
        .collect();
    assert_eq!(
        order.first().map(String::as_str),
        Some("/ping/check-1/start")
    );

    // Plain JSON (guessed from a host that is not Slack's or Microsoft's), on a run that
    // fails its input: exit 2 is pinged as such, with the error as the excerpt.
    let json = format!("{base}/hooks/json");
    let bad = h.sheet("bad.csv", "key,script\nk1,\n");
    let out = h.run(&bad, &["--notify", &json, "--ping-url", &ping]).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    let end = bodies(&heard, "/ping/check-1/2");
    assert_eq!(end.len(), 1, "{:?}", heard.lock().unwrap());
    assert!(end[0].contains("error"), "{}", end[0]);
    let posted = bodies(&heard, "/hooks/json");
    let msg: serde_json::Value = serde_json::from_str(&posted[0]).unwrap();
    assert_eq!(msg["exit_code"], 2, "{msg}");
    assert_eq!(msg["batch"], "bad", "{msg}");

    let out = h.run(&sheet, &["--notify", &json]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let posted = bodies(&heard, "/hooks/json");
    let msg: serde_json::Value = serde_json::from_str(&posted[1]).unwrap();
    assert_eq!(msg["event"], "summary");
    assert_eq!(msg["exit_code"], 0);
    assert_eq!(msg["counts"]["downloaded"], 2, "{msg}");
    // A Teams workflow gets an Adaptive Card in a message envelope.
    let teams = format!("{base}/workflows/teams");
    let out = h
        .run(&sheet, &["--notify", &teams, "--notify-format", "teams"])
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let posted = bodies(&heard, "/workflows/teams");
    let msg: serde_json::Value = serde_json::from_str(&posted[0]).unwrap();
    assert_eq!(msg["type"], "message", "{msg}");
    let card = &msg["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert!(
        card["content"]["body"][0]["text"]
            .as_str()
            .unwrap()
            .contains("nightly: exit 0"),
        "{msg}"
    );
    for (_, _, body) in heard.lock().unwrap().iter() {
        assert!(
            !body.contains(&h.key) && !body.contains(&h.id),
            "a secret was posted: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notify_endpoint_that_is_down_is_a_warning_and_the_exit_code_stays() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sheet = h.sheet("down.csv", &sheet_of(1));
    let hook = format!("http://127.0.0.1:{closed}/services/secret-path-77");
    let ping = format!("http://127.0.0.1:{closed}/ping/secret-uuid-88");
    let out = h
        .run(&sheet, &["--notify", &hook, "--ping-url", &ping])
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("the notification could not be sent"), "{all}");
    assert!(all.contains("the end ping could not be sent"), "{all}");
    assert!(all.contains(&format!("127.0.0.1:{closed}")), "{all}");
    for secret in ["secret-path-77", "secret-uuid-88", &h.key, &h.id] {
        assert!(!all.contains(secret), "{secret} printed: {all}");
    }
}
