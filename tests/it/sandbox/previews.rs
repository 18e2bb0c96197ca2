//! Previews and renders: both preview modes, the preview page and its clip, the create
//! faults on `[preview]` and `[render]` (a render taken with its answer lost), a second
//! render refused unpaid, and the per-job render counters tests use for "exactly once".

use std::time::Duration;

use clap::Parser;
use creatify_batch::sandbox::{PreviewMode, SandboxOptions, Stats};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{faults, start, video, Api};

const PREVIEW: &str = "/api/lipsyncs_v2/preview/";

fn render_path(id: &str) -> String {
    format!("/api/lipsyncs_v2/{id}/render/")
}

fn id_of(job: &Value) -> String {
    job["id"].as_str().expect("a job id").to_owned()
}

/// Polls until `preview` is set (or 20 s pass).
async fn wait_preview(api: &Api, id: &str) -> Value {
    for _ in 0..800 {
        let job = api.job(id).await;
        if job["preview"].is_string() {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the preview of {id} was never made");
}

/// Polls the stats until `done` says so (or 20 s pass).
async fn wait_stats(api: &Api, done: impl Fn(&Stats) -> bool) -> Stats {
    for _ in 0..800 {
        let stats = api.stats().await;
        if done(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "the sandbox's counters never got there: {:?}",
        api.stats().await
    );
}

#[test]
fn the_preview_mode_is_a_flag_of_the_sandbox_command() {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        options: SandboxOptions,
    }
    let default = Cli::try_parse_from(["sandbox"]).unwrap().options;
    assert_eq!(default, SandboxOptions::default());
    assert_eq!(default.preview_mode, PreviewMode::Async);
    let sync = Cli::try_parse_from(["sandbox", "--preview-mode", "sync"]).unwrap();
    assert_eq!(sync.options.preview_mode, PreviewMode::Sync);
    let bad = Cli::try_parse_from(["sandbox", "--preview-mode", "later"]);
    assert!(bad.is_err(), "an unknown mode is refused");
}

#[tokio::test]
async fn an_async_preview_answers_201_and_its_link_is_set_once_made() {
    // Real time and a slow render: the preview takes minutes, so it is surely not made yet.
    let slow = start(|c| {
        c.options.time_scale = 1.0;
        c.options.render_seconds = 600.0;
    })
    .await;
    let api = Api::new(&slow);
    let resp = api.post(PREVIEW, &video("early", "Hello there")).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let job: Value = resp.json().await.unwrap();
    assert_eq!(
        (job["preview"].clone(), job["output"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(job["credits_used"], 1);
    let id = id_of(&job);
    let page = api.get(&format!("/preview/{id}/")).await;
    assert_eq!(
        page.status(),
        StatusCode::NOT_FOUND,
        "no page before it is made"
    );
    let render = api.post(&render_path(&id), &json!({})).await;
    assert_eq!(
        render.status(),
        StatusCode::BAD_REQUEST,
        "not made, not renderable"
    );
    let stats = slow.stats();
    assert_eq!(stats.credits_spent, 1.0, "the refused render cost nothing");
    assert!(stats.renders_by_job.is_empty());
    assert_eq!(stats.render_requests_by_job[&id], 1);

    let sb = start(|_| {}).await;
    let api = Api::new(&sb);
    let resp = api.post(PREVIEW, &video("made", "Hello there")).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = id_of(&resp.json().await.unwrap());
    let made = wait_preview(&api, &id).await;
    assert_eq!(made["output"], Value::Null, "a preview is not a video");
    assert_eq!(made["status"], "done");
    let link = made["preview"].as_str().unwrap();
    assert_eq!(link, format!("{}/preview/{id}/", api.base));
}

#[tokio::test]
async fn a_sync_preview_answers_200_with_the_finished_preview() {
    let sb = start(|c| {
        c.options.preview_mode = PreviewMode::Sync;
        c.options.credits = 20.0;
    })
    .await;
    let api = Api::new(&sb);
    let resp = api.post(PREVIEW, &video("sync-row", "Hello there")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let job: Value = resp.json().await.unwrap();
    assert!(job["preview"].is_string(), "{job}");
    assert_eq!(job["output"], Value::Null);
    assert_eq!(job["status"], "done");
    assert_eq!(job["credits_used"], 1);
    let id = id_of(&job);
    // Creations are not previews: they still answer 201 at once.
    let created = api.create(&video("video-row", "Hello there")).await;
    assert_eq!(created["preview"], Value::Null);

    let resp = api.post(&render_path(&id), &json!({})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let rendered = api.wait_terminal(&id).await;
    assert!(rendered["output"].is_string());
    assert_eq!(rendered["credits_used"], 5, "preview 1 + render 4");
    let stats = sb.stats();
    assert_eq!(stats.renders_by_job[&id], 1);
    assert_eq!(stats.credits_spent, 10.0);
    assert_eq!(stats.requests["POST /api/lipsyncs_v2/preview/"]["200"], 1);
}

#[tokio::test]
async fn the_preview_page_plays_a_low_resolution_clip_without_credentials() {
    let sb = start(|c| c.options.preview_mode = PreviewMode::Sync).await;
    let api = Api::new(&sb);
    let job: Value = api
        .post(PREVIEW, &video("page", "Hello"))
        .await
        .json()
        .await
        .unwrap();
    let link = job["preview"].as_str().unwrap().to_owned();
    // No credentials, as an iframe in a report would ask for it.
    let page = api.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let content_type = page.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(page.headers().get("x-frame-options").is_none(), "framable");
    let html = page.text().await.unwrap();
    let id = id_of(&job);
    let clip = format!("/media/previews/{id}/preview.mp4");
    assert!(html.contains(&format!("src=\"{clip}\"")), "{html}");
    assert!(html.contains("<video"), "{html}");

    let resp = api
        .http
        .get(format!("{}{clip}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&bytes[4..8], b"ftyp", "an MP4");
    let full = std::fs::read("samples/media/sandbox.mp4").unwrap();
    assert!(
        bytes.len() * 2 < full.len(),
        "{} bytes is not a small clip",
        bytes.len()
    );
    let ranged = api
        .http
        .get(format!("{}{clip}", api.base))
        .header("Range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ranged.status(),
        StatusCode::PARTIAL_CONTENT,
        "seekable in a player"
    );

    // A video job has no preview page, and an unknown id neither.
    let created = api.create(&video("not-a-preview", "Hello")).await;
    let finished = api.wait_terminal(&id_of(&created)).await;
    assert_eq!(finished["preview"], Value::Null);
    let page = api.get(&format!("/preview/{}/", id_of(&created))).await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let clip = api
        .get(&format!("/media/previews/{}/preview.mp4", id_of(&created)))
        .await;
    assert_eq!(clip.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        api.get("/preview/nope/").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_render_taken_with_its_answer_lost_is_charged_once_and_a_second_refused_unpaid() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_owned();
    let sb = start(|c| {
        c.options.preview_mode = PreviewMode::Sync;
        c.options.state_dir = Some(state.clone());
        c.faults = faults("[render]\nlost = 1.0");
    })
    .await;
    let api = Api::new(&sb);
    // [render] alone: the preview call is untouched.
    let job: Value = api
        .post(PREVIEW, &video("lost-render", "Hello there"))
        .await
        .json()
        .await
        .unwrap();
    let id = id_of(&job);
    let err = api
        .try_post(&render_path(&id), &json!({}))
        .await
        .unwrap_err();
    assert!(!err.is_timeout(), "the connection closed: {err}");
    // The job shows the render under way, then done: what a client reconciles by.
    // The render started before the connection dropped, so the job reads as rendering
    // until the video is done.
    let rendered = api.wait_terminal(&id).await;
    assert!(rendered["output"].is_string(), "{rendered}");
    assert_eq!(rendered["credits_used"], 5);
    let stats = sb.stats();
    assert_eq!(stats.renders_by_job[&id], 1);
    assert_eq!(stats.credits_spent, 5.0);
    assert_eq!(stats.faults["lost"], 1);
    assert_eq!(
        stats.requests["POST /api/lipsyncs_v2/{id}/render/"]["dropped"],
        1
    );
    sb.shutdown().await;

    // Restarted without faults: the render is remembered, and a second one is a 400 that
    // charges nothing.
    let sb = start(|c| c.options.state_dir = Some(state.clone())).await;
    let api = Api::new(&sb);
    assert_eq!(sb.stats().renders_by_job[&id], 1, "kept across a restart");
    let again = api.post(&render_path(&id), &json!({})).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let detail = again.json::<Value>().await.unwrap()["detail"].clone();
    assert_eq!(detail, "This job has already been rendered.");
    let stats = sb.stats();
    assert_eq!(stats.renders_by_job[&id], 1);
    assert_eq!(stats.render_requests_by_job[&id], 1, "this process saw one");
    assert_eq!(stats.credits_spent, 5.0);
}

#[tokio::test]
async fn resets_and_server_errors_on_previews_and_renders_process_nothing() {
    let sb = start(|c| {
        c.options.preview_mode = PreviewMode::Sync;
        c.faults = faults("[preview]\nreset = 0.5\nstatus_503 = 0.5\n[render]\nstatus_502 = 1.0");
    })
    .await;
    let api = Api::new(&sb);
    let mut answers = Vec::new();
    for n in 0..8 {
        match api
            .try_post(PREVIEW, &video(&format!("p{n}"), "Hello"))
            .await
        {
            Ok(resp) => answers.push(resp.status().as_u16().to_string()),
            Err(e) => {
                assert!(!e.is_timeout(), "{e}");
                answers.push("reset".into());
            }
        }
    }
    assert!(
        answers.iter().all(|a| a == "reset" || a == "503"),
        "{answers:?}"
    );
    let stats = sb.stats();
    assert_eq!(stats.jobs_created, 0, "{answers:?}");
    assert_eq!(stats.credits_spent, 0.0);
    let hits = |kind: &str| stats.faults.get(kind).copied().unwrap_or(0);
    assert_eq!(hits("reset") + hits("status_503"), 8);
    assert_eq!(stats.creations_arrived, 8);
    // [preview] and [render] leave creations alone.
    let created = api.create(&video("plain", "Hello")).await;
    let id = id_of(&created);
    api.wait_terminal(&id).await;
    let resp = api.post(&render_path(&id), &json!({})).await;
    assert_eq!(resp.status().as_u16(), 502);
    let stats = sb.stats();
    assert!(stats.renders_by_job.is_empty());
    assert!(
        stats.render_requests_by_job.is_empty(),
        "never reached the handler"
    );
    assert_eq!(stats.credits_spent, 5.0);
}

#[tokio::test]
async fn without_tables_of_their_own_previews_and_renders_meet_the_create_faults() {
    let sb = start(|c| c.faults = faults("[create]\nstatus_500 = 1.0")).await;
    let api = Api::new(&sb);
    let resp = api.post(PREVIEW, &video("p", "Hello")).await;
    assert_eq!(resp.status().as_u16(), 500);
    let resp = api.post(&render_path("any-id"), &json!({})).await;
    assert_eq!(resp.status().as_u16(), 500);
    assert_eq!(sb.stats().faults["status_500"], 2);
    assert_eq!(sb.stats().jobs_created, 0);
}

#[tokio::test]
async fn stalled_previews_and_renders_are_processed_after_the_client_gave_up() {
    let sb = start(|c| {
        c.faults = faults(
            "[preview]\nstall = 1.0\nslow_seconds = 1.5\n[render]\nstall = 1.0\nslow_seconds = 1.5",
        )
    })
    .await;
    let impatient = Api::with_timeout(&sb, Duration::from_millis(300));
    let api = Api::new(&sb);
    let err = impatient
        .try_post(PREVIEW, &video("stalled", "Hello"))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // Nothing yet, then the held request goes through: a client must reconcile, not resend.
    let stats = wait_stats(&api, |s| s.jobs_by_name.get("stalled") == Some(&1)).await;
    assert_eq!(stats.credits_spent, 1.0);
    let all: Vec<Value> = api.get("/api/lipsyncs_v2/").await.json().await.unwrap();
    let id = id_of(&all[0]);
    wait_preview(&api, &id).await;
    let err = impatient
        .try_post(&render_path(&id), &json!({}))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let stats = wait_stats(&api, |s| s.renders_by_job.get(&id) == Some(&1)).await;
    assert_eq!(stats.credits_spent, 5.0);
    assert_eq!(stats.faults["stall"], 2);
}

#[tokio::test]
async fn a_slow_preview_answer_comes_after_the_preview_was_made_and_billed() {
    let sb = start(|c| c.faults = faults("[preview]\nslow = 1.0\nslow_seconds = 2")).await;
    let impatient = Api::with_timeout(&sb, Duration::from_millis(300));
    let err = impatient
        .try_post(PREVIEW, &video("slow-preview", "Hello"))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // Processed before the wait: the job is there while the answer is still held.
    let stats = sb.stats();
    assert_eq!(stats.jobs_by_name["slow-preview"], 1);
    assert_eq!(stats.credits_spent, 1.0);
}
