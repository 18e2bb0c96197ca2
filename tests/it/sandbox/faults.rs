//! Each fault mode at rate 1.0, and the seed making every decision reproducible.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::{faults, start, video, Api};

#[tokio::test]
async fn a_reset_closes_the_connection_and_creates_nothing() {
    let sb = start(|c| c.faults = faults("[create]\nreset = 1.0")).await;
    let api = Api::new(&sb);
    let err = api
        .try_post("/api/lipsyncs_v2/", &video("r", "Hello"))
        .await
        .unwrap_err();
    assert!(!err.is_timeout(), "{err}");
    let stats = sb.stats();
    assert_eq!(stats.jobs_created, 0);
    assert_eq!(stats.requests["POST /api/lipsyncs_v2/"]["reset"], 1);
    assert_eq!(stats.faults["reset"], 1);
}

#[tokio::test]
async fn a_lost_answer_still_creates_and_bills_the_job() {
    let sb = start(|c| c.faults = faults("[create]\nlost = 1.0")).await;
    let api = Api::new(&sb);
    let err = api
        .try_post("/api/lipsyncs_v2/", &video("lost-row", "Hello"))
        .await
        .unwrap_err();
    assert!(!err.is_timeout(), "{err}");
    // The client never saw an id, but the account has the job: reconcile by name.
    let all: Vec<Value> = api.get("/api/lipsyncs_v2/").await.json().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["name"], "lost-row");
    let stats = sb.stats();
    assert_eq!(stats.jobs_by_name["lost-row"], 1);
    assert_eq!(stats.credits_spent, 5.0);
    assert_eq!(stats.requests["POST /api/lipsyncs_v2/"]["dropped"], 1);
}

#[tokio::test]
async fn server_errors_answer_html_and_create_nothing() {
    for code in [500u16, 502, 503] {
        let text = format!("[create]\nstatus_{code} = 1.0");
        let sb = start(|c| c.faults = faults(&text)).await;
        let api = Api::new(&sb);
        let resp = api.post("/api/lipsyncs_v2/", &video("e", "Hello")).await;
        assert_eq!(resp.status().as_u16(), code);
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        assert_eq!(sb.stats().jobs_created, 0);
    }
}

#[tokio::test]
async fn a_slow_answer_outlasts_the_client_timeout_after_creating_the_job() {
    let sb = start(|c| c.faults = faults("[create]\nslow = 1.0\nslow_seconds = 3")).await;
    let api = Api::with_timeout(&sb, Duration::from_millis(500));
    let err = api
        .try_post("/api/lipsyncs_v2/", &video("slow-row", "Hello"))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(sb.stats().jobs_by_name["slow-row"], 1);
    // Not shut down gracefully: that would wait for the sleeping answer.
    drop(sb);
}

#[tokio::test]
async fn a_stalled_request_is_processed_after_the_client_gave_up() {
    let sb = start(|c| c.faults = faults("[create]\nstall = 1.0\nslow_seconds = 1")).await;
    let api = Api::with_timeout(&sb, Duration::from_millis(300));
    let err = api
        .try_post("/api/lipsyncs_v2/", &video("stalled-row", "Hello"))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // Not created yet when the client gives up: looking for it now would not find it.
    assert_eq!(sb.stats().jobs_created, 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats = sb.stats();
    assert_eq!(stats.jobs_by_name["stalled-row"], 1);
    assert_eq!(stats.faults["stall"], 1);
}

#[tokio::test]
async fn a_top_up_adds_credits_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let sb = start(|c| {
        c.options.credits = 3.0;
        c.options.state_dir = Some(path);
    })
    .await;
    let api = Api::new(&sb);
    let refused = api.post("/api/lipsyncs_v2/", &video("poor", "Hello")).await;
    assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);
    sb.add_credits(10.0).await.unwrap();
    assert!(sb.add_credits(-1.0).await.is_err());
    let created = api.post("/api/lipsyncs_v2/", &video("rich", "Hello")).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let left = sb.stats().credits_remaining;
    sb.shutdown().await;
    let path = dir.path().to_owned();
    let again = start(|c| c.options.state_dir = Some(path)).await;
    assert_eq!(again.stats().credits_remaining, left);
    assert!(left > 0.0 && left < 13.0, "{left}");
}

#[tokio::test]
async fn an_html_page_can_come_back_with_a_200() {
    let sb = start(|c| c.faults = faults("[poll]\nhtml = 1.0")).await;
    let api = Api::new(&sb);
    let resp = api.get("/api/lipsyncs_v2/").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(resp.json::<Value>().await.is_err());
}

#[tokio::test]
async fn account_endpoints_fail_too() {
    let sb = start(|c| c.faults = faults("[account]\nstatus_503 = 1.0")).await;
    let api = Api::new(&sb);
    assert_eq!(
        api.get("/api/personas/").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // The sandbox's own stats page is never faulted.
    assert_eq!(sb.stats().faults["status_503"], 1);
    api.stats().await;
}

#[tokio::test]
async fn jobs_fail_or_are_rejected_with_a_reason() {
    for (kind, status) in [("fail", "failed"), ("reject", "rejected")] {
        let sb = start(|c| c.faults = faults(&format!("[jobs]\n{kind} = 1.0"))).await;
        let api = Api::new(&sb);
        let id = api.create(&video("doomed", "Hello")).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let job = api.wait_terminal(&id).await;
        assert_eq!(job["status"], status);
        assert!(!job["failed_reason"].as_str().unwrap().is_empty());
        assert_eq!(job["output"], Value::Null);
    }
}

#[tokio::test]
async fn a_moderated_job_reports_an_undocumented_status_while_queued() {
    // About 18 s of render (±20 %): pending for ~1.8 s, then ~2.7 s "moderating".
    let sb = start(|c| {
        c.options.time_scale = 1.0;
        c.options.render_seconds = 600.0;
        c.faults = faults("[jobs]\nmoderating = 1.0");
    })
    .await;
    let api = Api::new(&sb);
    let id = api.create(&video("m", "Hello")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut status = String::from("pending");
    for _ in 0..400 {
        status = api.job(&id).await["status"].as_str().unwrap().to_owned();
        if status != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status, "moderating");
    let parsed: creatify_batch::api::Job = serde_json::from_value(api.job(&id).await).unwrap();
    assert!(!parsed.status.is_terminal());
    drop(sb);
}

#[tokio::test]
async fn the_same_seed_makes_the_same_decisions() {
    let text = "[poll]\nstatus_500 = 0.5\n[jobs]\nfail = 0.3\nreject = 0.3";
    let run = |seed: u64| async move {
        let sb = start(|c| {
            c.options.seed = seed;
            c.options.time_scale = 1000.0;
            c.faults = faults(text);
        })
        .await;
        let api = Api::new(&sb);
        let mut polls = Vec::new();
        for _ in 0..24 {
            polls.push(api.get("/api/lipsyncs_v2/").await.status().as_u16());
        }
        for n in 0..12 {
            api.create(&video(&format!("row-{n}"), "Hello")).await;
        }
        let mut outcomes = Vec::new();
        let all: Vec<Value> = loop {
            // Poll faults may answer 500: retry until a list comes back.
            let resp = api.get("/api/lipsyncs_v2/").await;
            if resp.status() != StatusCode::OK {
                continue;
            }
            let all: Vec<Value> = resp.json().await.unwrap();
            if all
                .iter()
                .all(|j| ["done", "failed", "rejected"].contains(&j["status"].as_str().unwrap()))
            {
                break all;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        for job in all {
            outcomes.push(format!("{}={}", job["name"], job["status"]));
        }
        outcomes.sort();
        (polls, outcomes)
    };
    let (polls_a, outcomes_a) = run(42).await;
    let (polls_b, outcomes_b) = run(42).await;
    let (polls_c, outcomes_c) = run(43).await;
    assert_eq!(polls_a, polls_b);
    assert_eq!(outcomes_a, outcomes_b);
    assert!(polls_a.contains(&500) && polls_a.contains(&200));
    assert_ne!((polls_a, outcomes_a), (polls_c, outcomes_c));
}
