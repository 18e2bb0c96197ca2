//! The job clock, persistence across restarts, and webhooks.

use std::io::Write;
use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use tokio::sync::mpsc;

use super::{faults, start, video, Api};

#[tokio::test]
async fn a_job_goes_through_every_state_in_order() {
    // 10 words: 4.5 s of video, 9 s of render (±20 %) on the job clock, 6 s real at 1.5×:
    // every phase lasts at least 0.7 s, far longer than the 25 ms between polls.
    let sb = start(|c| c.options.time_scale = 1.5).await;
    let api = Api::new(&sb);
    let text = "one two three four five six seven eight nine ten";
    let created = api.create(&video("clock", text)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let mut seen = vec![created["status"].as_str().unwrap().to_owned()];
    let mut progress = 0.0;
    let done = loop {
        let job = api.job(&id).await;
        let status = job["status"].as_str().unwrap().to_owned();
        let p = job["progress"].as_f64().unwrap();
        assert!(p >= progress, "progress went back from {progress} to {p}");
        progress = p;
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "done" {
            break job;
        }
        assert!(seen.len() < 5, "{seen:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(seen, ["pending", "in_queue", "running", "done"]);
    assert_eq!(done["progress"], 1.0);
    assert_eq!(done["duration"], 5);
    assert_eq!(done["credits_used"], 5);
    assert!(done["output"].as_str().unwrap().starts_with(&api.base));
    assert!(done["video_thumbnail"].is_string());
    assert_ne!(done["updated_at"], done["created_at"]);
}

#[tokio::test]
async fn a_restart_on_the_same_state_dir_finds_the_same_jobs_and_balance() {
    let dir = tempfile::tempdir().unwrap();
    let configure = |credits: f64| {
        let path = dir.path().to_owned();
        move |c: &mut creatify_batch::sandbox::SandboxConfig| {
            c.options.state_dir = Some(path);
            c.options.credits = credits;
            c.options.time_scale = 20.0;
        }
    };
    let sb = start(configure(100.0)).await;
    let api = Api::new(&sb);
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(api.create(&video(&format!("keep-{n}"), "Hello")).await["id"].clone());
    }
    // Acknowledged means on disk: the journal holds every job before its 201.
    let journal = dir.path().join("sandbox-journal.jsonl");
    let lines = std::fs::read_to_string(&journal).unwrap().lines().count();
    assert_eq!(lines, 4, "one account line and three jobs");
    sb.shutdown().await;

    // A crash mid-write leaves a torn line; it was never acknowledged, so it is dropped.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    f.write_all(br#"{"event":"job","job":{"id":"#).unwrap();
    drop(f);

    // --credits is ignored once the journal has the account's balance.
    let sb = start(configure(999.0)).await;
    let api = Api::new(&sb);
    let all: Vec<Value> = api.get("/api/lipsyncs_v2/").await.json().await.unwrap();
    let found: Vec<Value> = all.iter().map(|j| j["id"].clone()).collect();
    ids.reverse();
    assert_eq!(found, ids, "same jobs, newest first");
    let stats = sb.stats();
    assert_eq!(stats.credits_remaining, 85.0);
    assert_eq!(stats.jobs_created, 3);
    assert_eq!(stats.jobs_by_name["keep-1"], 1);
    for id in &ids {
        let job = api.wait_terminal(id.as_str().unwrap()).await;
        assert_eq!(job["status"], "done");
    }
    api.create(&video("after", "Hello")).await;
    sb.shutdown().await;
    let lines = std::fs::read_to_string(&journal).unwrap().lines().count();
    assert_eq!(lines, 5, "the torn line is gone and the new job appended");
}

/// A local webhook receiver: every POSTed body arrives on the returned channel.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("no webhook arrived")
        .unwrap()
}

#[tokio::test]
async fn a_finished_job_calls_its_webhook() {
    let (url, mut rx) = receiver().await;
    let sb = start(|_| {}).await;
    let api = Api::new(&sb);
    let mut body = video("hooked", "Hello");
    body["webhook_url"] = url.clone().into();
    let id = api.create(&body).await["id"].clone();
    let hook = next(&mut rx).await;
    assert_eq!(hook["id"], id);
    assert_eq!(hook["status"], "done");
    assert_eq!(hook["failed_reason"], Value::Null);
    assert!(hook["output"].as_str().unwrap().contains("/video.mp4"));
    let keys: Vec<&String> = hook.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "status", "failed_reason", "output"]);

    body["webhook_url"] = "http://example.com/hook".into();
    body["name"] = "not-loopback".into();
    api.create(&body).await;
    assert_eq!(
        sb.stats().webhooks_failed,
        1,
        "non-loopback hosts are skipped"
    );
}

#[tokio::test]
async fn the_duplicate_fault_delivers_a_webhook_twice() {
    let (url, mut rx) = receiver().await;
    let sb = start(|c| c.faults = faults("[webhooks]\nduplicate = 1.0\n[jobs]\nfail = 1.0")).await;
    let api = Api::new(&sb);
    let mut body = video("twice", "Hello");
    body["webhook_url"] = url.into();
    api.create(&body).await;
    let (first, second) = (next(&mut rx).await, next(&mut rx).await);
    assert_eq!(first, second);
    assert_eq!(first["status"], "failed");
    assert!(first["failed_reason"].is_string());
    assert_eq!(first["output"], Value::Null);
}
