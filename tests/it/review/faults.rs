//! The review against the sandbox's other preview mode and its faults: synchronous previews
//! (200 with the finished preview), previews and renders taken with their answers lost, and
//! renders that keep failing with a 503 (never sent more than once more a run).

use creatify_batch::sandbox::faults::EndpointFaults;
use creatify_batch::sandbox::{Faults, PreviewMode};

use super::*;
use crate::support::*;

fn keys(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("v{i:03}")).collect()
}

/// A sheet of `n` rows named `name`, previewed, every row approved; returns the sheet.
async fn previewed_and_approved(h: &Harness, name: &str, n: usize) -> std::path::PathBuf {
    let sheet = h.sheet(&format!("{name}.csv"), &sheet_of(n));
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let keys = keys(n);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let ok = verdict(h, "approve", &h.batch_dir(name), &keys);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    sheet
}

/// Previews, approves every row, renders; returns the render run's output.
async fn preview_approve_render(h: &Harness, name: &str, n: usize) -> std::process::Output {
    let sheet = previewed_and_approved(h, name, n).await;
    h.run(&sheet, &["--render-approved"]).await
}

/// Every render answered 503, unprocessed.
fn renders_fail() -> Faults {
    Faults {
        render: Some(EndpointFaults {
            status_503: 1.0,
            ..EndpointFaults::default()
        }),
        ..Faults::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn synchronous_previews_work_like_asynchronous_ones() {
    let h = Harness::start(Faults::default(), |c| {
        c.options.preview_mode = PreviewMode::Sync
    })
    .await;
    review_config(&h);
    let out = preview_approve_render(&h, "sync", 3).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let s = h.stats();
    assert_eq!(answered(&s, PREVIEW, "200"), 3, "{:?}", s.requests);
    assert!(s.renders_by_job.values().all(|n| *n == 1) && s.renders_by_job.len() == 3);
    assert!(states(&h.batch_dir("sync"))
        .values()
        .all(|s| s == "downloaded"));
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_lost_after_the_preview_or_the_render_was_taken_pay_nothing_twice() {
    let lost = EndpointFaults {
        lost: 1.0,
        ..EndpointFaults::default()
    };
    let faults = Faults {
        preview: Some(lost.clone()),
        render: Some(lost),
        ..Faults::default()
    };
    let h = Harness::start(faults, |_| {}).await;
    review_config(&h);
    let out = preview_approve_render(&h, "lost", 3).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let s = h.stats();
    // Every preview found by its reference in the job list, none made twice.
    assert!(
        creations_by_key(&s).values().all(|n| *n == 1),
        "{:?}",
        s.jobs_by_name
    );
    // Every render read back from its job, none asked for twice.
    assert_eq!(s.renders_by_job.len(), 3, "{:?}", s.renders_by_job);
    assert!(
        s.render_requests_by_job.values().all(|n| *n == 1),
        "{:?}",
        s.render_requests_by_job
    );
    assert!(states(&h.batch_dir("lost"))
        .values()
        .all(|s| s == "downloaded"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_render_that_keeps_failing_is_asked_once_more_then_waits() {
    let h = Harness::start(renders_fail(), |_| {}).await;
    review_config(&h);
    let out = preview_approve_render(&h, "unsure", 1).await;
    // Not proven either way after the second try: the row waits (exit 8), never a third.
    assert_eq!(code(&out), 8, "{}", text(&out));
    assert_eq!(reached(&h.stats(), RENDER), 2, "{:?}", h.stats().requests);
    assert_eq!(
        journal_rows(&h.batch_dir("unsure"))["v001"].0,
        "render_requested"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preview_rendered_elsewhere_is_followed_not_rendered_again() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    let sheet = h.sheet("else.csv", &sheet_of(1));
    let dir = h.batch_dir("else");
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let ok = verdict(&h, "approve", &dir, &["v001"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    // Someone renders it in the web app meanwhile.
    let job = creatify_batch::journal::Journal::open_read_only(&dir)
        .unwrap()
        .unwrap()
        .rows[0]
        .job_id
        .clone()
        .unwrap();
    let url = format!(
        "{}/api/lipsyncs_v2/{job}/render/",
        h.sandbox.base_url().trim_end_matches('/')
    );
    let answer = reqwest::Client::new()
        .post(url)
        .header("x-api-id", &h.id)
        .header("x-api-key", &h.key)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    // The run's render is refused (400), the job read shows it rendering: followed, done.
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let s = h.stats();
    assert_eq!(answered(&s, RENDER, "400"), 1, "{:?}", s.requests);
    assert_eq!(s.renders_by_job.get(&job), Some(&1));
    assert_eq!(states(&dir)["v001"], "downloaded");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_a_render_is_unsure_stops_at_once_and_sends_nothing_more() {
    let h = Harness::start(renders_fail(), |_| {}).await;
    review_config(&h);
    let sheet = previewed_and_approved(&h, "int", 1).await;
    let dir = h.batch_dir("int");
    let child = h
        .run_command(&sheet, &["--render-approved"])
        .spawn()
        .expect("runner starts");
    // The render was answered 503: the run waits out the window before reading the job
    // again. Ctrl-C then.
    let mut waited = 0;
    while reached(&h.stats(), RENDER) == 0 && waited < 400 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(
        reached(&h.stats(), RENDER),
        1,
        "the render was never asked for"
    );
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = wait_bounded(child, std::time::Duration::from_secs(30))
        .await
        .expect("the run ends");
    assert_eq!(code(&out), 130, "{}", text(&out));
    assert_eq!(
        reached(&h.stats(), RENDER),
        1,
        "a render was sent after Ctrl-C"
    );
    assert_eq!(journal_rows(&dir)["v001"].0, "render_requested");
}
