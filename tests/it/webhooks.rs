//! Webhooks (`[poll] webhook_listen`): a job's webhook frees its render slot at once and
//! polls only confirm, so a capped batch costs far fewer status calls; a webhook that lies,
//! or none arriving, costs at most one refusal and the batch still ends whole. Asserted on
//! the sandbox's counters and the journal, never on time.

use creatify_batch::sandbox::Faults;

use crate::rendercap::{capped_at_real_time, run_batch, sent_on_predictions, CAP, ROWS};
use crate::support::*;

/// A sandbox at real time whose jobs render in about 3 s, at most [`CAP`] at once, the cap
/// configured, rounds at most every second and at least every 5 s; `poll` lines are added
/// to the runner's `[poll]`.
async fn capped(faults: Faults, poll: &str) -> Harness {
    capped_at_real_time(faults, &format!("max_interval_secs = 5\n{poll}")).await
}

const LISTEN: &str = "webhook_listen = \"127.0.0.1:0\"";

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_refill_slots_at_once_and_polls_only_confirm() {
    // Half the webhooks come twice: a duplicate is the same hint.
    let mut faults = Faults::default();
    faults.webhooks.duplicate = 0.5;
    let h = capped(faults, LISTEN).await;
    let (refused, _) = run_batch(&h, "webhooks").await;
    assert_eq!(refused, 0, "a webhook freed a slot that was not free");
    let stats = h.stats();
    assert!(stats.webhooks_sent >= ROWS as u64, "{stats:?}");
    // Six waves of 3 s renders: polling alone looks at them about every second (a third
    // of a render, to predict each end), some 20 rounds; with webhooks, every 5 s and at
    // the end.
    let calls = status_calls(&h);
    assert!(
        calls < ROWS as u64,
        "{calls} status calls for {ROWS} videos: webhooks did not replace the polls"
    );
    // The webhook path is the listener's secret: no job.json keeps it.
    let jobs: Vec<_> = files_below(&h.batch_dir("cap"))
        .into_iter()
        .filter(|p| p.ends_with("job.json"))
        .collect();
    assert_eq!(jobs.len(), ROWS);
    for p in jobs {
        let job: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&p).expect("job.json")).expect("JSON");
        let url = job["webhook_url"].as_str().unwrap_or_default();
        assert!(url.ends_with("/…"), "{}: {url}", p.display());
    }
    // Confirmed lazily: nearly every slot was refilled before its job was recorded done.
    let early = sent_on_predictions(&h.batch_dir("cap"));
    assert!(
        early >= ROWS - CAP - 2,
        "{early} of {} creations went before a poll saw a slot free",
        ROWS - CAP
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_that_lies_costs_at_most_one_refusal_and_nothing_is_recorded_early() {
    // Every webhook comes as its render starts, saying `done`.
    let mut faults = Faults::default();
    faults.webhooks.early = 1.0;
    let h = capped(faults, LISTEN).await;
    let sheet = h.sheet("cap.csv", &sheet_of(ROWS));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("webhooks are not believed"),
        "{}",
        text(&out)
    );
    let stats = h.stats();
    assert!(stats.throttled <= 1, "{} refusals", stats.throttled);
    assert!(creations_by_key(&stats).values().all(|n| *n == 1));
    // A row recorded done was done: its video was downloaded whole, from the job's output.
    let states = states(&h.batch_dir("cap"));
    assert_eq!(states.len(), ROWS);
    assert!(states.values().all(|s| s == "downloaded"), "{states:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_that_never_arrive_fall_back_to_polling() {
    // The sandbox calls loopback only: an address it cannot reach, as a wrong
    // webhook_url or a firewall would be. A third of the webhooks would be lost anyway.
    let mut faults = Faults::default();
    faults.webhooks.lost = 0.3;
    let h = capped(
        faults,
        &format!("{LISTEN}\nwebhook_url = \"http://192.0.2.1/hooks\""),
    )
    .await;
    let sheet = h.sheet("cap.csv", &sheet_of(ROWS));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("no webhook arrived"), "{}", text(&out));
    assert_eq!(h.stats().webhooks_sent, 0);
    let states = states(&h.batch_dir("cap"));
    assert!(states.values().all(|s| s == "downloaded"), "{states:?}");
    // Once given up, slots go on predictions again: the run is not held to the 5 s net.
    assert!(sent_on_predictions(&h.batch_dir("cap")) >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_port_in_use_is_refused_before_anything_is_sent() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("its address").port();
    let h = capped(
        Faults::default(),
        &format!("webhook_listen = \"127.0.0.1:{port}\""),
    )
    .await;
    let sheet = h.sheet("cap.csv", &sheet_of(2));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen for webhooks") && err.contains("webhook_listen"),
        "{err}"
    );
    assert_eq!(h.stats().jobs_created, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn once_no_row_waits_hints_are_confirmed_a_download_round_at_a_time() {
    // No cap: every row renders at once, and renders of 0.6 to 11.4 s end about a second
    // apart, each with its webhook. Confirming each soon after its hint (as this runner
    // once did) is a status call per job; a round for as many as the downloads take at
    // once, and the last at once, is a few. The safety net (30 s) never comes.
    let h = Harness::start(Faults::default(), |c| {
        c.options.time_scale = 1.0;
        c.options.render_seconds = 60.0;
        c.options.render_spread = 0.9;
    })
    .await;
    let config = FAST_CONFIG
        .replace("min_interval_secs = 0.1", "min_interval_secs = 1")
        .replace(
            "max_interval_secs = 0.5",
            &format!("max_interval_secs = 30\n{LISTEN}"),
        );
    std::fs::write(h.dir.path().join("pipeline.toml"), config).expect("config written");
    let (refused, _) = run_batch(&h, "no cap, webhooks").await;
    assert_eq!(refused, 0);
    assert!(h.stats().webhooks_sent >= ROWS as u64);
    let calls = status_calls(&h);
    // download_concurrency = 4: three rounds of four, and one more for timing's sake.
    assert!(
        calls <= (ROWS / 4 + 1) as u64,
        "{calls} status calls for {ROWS} jobs that each said when they ended"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_that_come_late_are_not_taken_for_lost() {
    // Every webhook comes 4 s after its job ends (3 s renders, a look every 5 s): the first
    // jobs are seen ended by a poll before any webhook is heard. That is a delivery queue,
    // not an address the API cannot reach: webhooks stay on.
    let mut faults = Faults::default();
    faults.webhooks.late_seconds = 4.0;
    let h = capped(faults, LISTEN).await;
    let out = h.run(&h.sheet("cap.csv", &sheet_of(ROWS)), &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!text(&out).contains("no webhook arrived"), "{}", text(&out));
    let stats = h.stats();
    assert_eq!(
        stats.throttled, 0,
        "a late webhook freed a slot that was not free"
    );
    assert!(creations_by_key(&stats).values().all(|n| *n == 1));
    let states = states(&h.batch_dir("cap"));
    assert!(states.values().all(|s| s == "downloaded"), "{states:?}");
}
