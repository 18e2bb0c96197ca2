//! The account's render cap (issue 17): learned once and held, or configured and never met.
//! Asserted on the sandbox's counters, never on time: a run of 12 rows against a cap of 2
//! is six waves, and a runner that probed the cap after every finished job (as it once did)
//! would meet about one refusal per job; one that keeps the cap meets one refusal in all
//! (at most one more per minute of run, its probes for a raised cap).

use std::time::Instant;

use creatify_batch::sandbox::Faults;

use crate::support::*;

const ROWS: usize = 12;
const CAP: usize = 2;

/// A harness whose sandbox renders at most [`CAP`] jobs at once, fast (×20).
async fn capped() -> Harness {
    Harness::start(Faults::default(), |c| {
        c.options.max_rendering = Some(CAP);
        c.options.time_scale = 20.0;
    })
    .await
}

/// Runs the batch to its end; (refused creations, minutes the run took, rounded up).
async fn run_batch(h: &Harness, case: &str) -> (u64, u64) {
    let sheet = h.sheet("cap.csv", &sheet_of(ROWS));
    let started = Instant::now();
    let out = wait_bounded(
        h.run_command(&sheet, &[]).spawn().expect("binary starts"),
        std::time::Duration::from_secs(120),
    )
    .await
    .unwrap_or_else(|e| panic!("{case}: {e}"));
    let minutes = started.elapsed().as_secs().div_ceil(60).max(1);
    assert_eq!(code(&out), 0, "{case}: {}", text(&out));
    let stats = h.stats();
    let created = creations_by_key(&stats);
    assert_eq!(created.len(), ROWS, "{case}: every row created");
    assert!(
        created.values().all(|n| *n == 1),
        "{case}: a row created twice: {created:?}"
    );
    let states = states(&h.batch_dir("cap"));
    assert!(
        states.values().all(|s| s == "downloaded"),
        "{case}: {states:?}"
    );
    (stats.throttled, minutes)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_learned_render_cap_is_held_not_probed_after_every_job() {
    let h = capped().await;
    let (refused, minutes) = run_batch(&h, "cap unknown").await;
    assert!(refused >= 1, "the cap was never met, so never learned");
    assert!(
        refused <= 1 + minutes,
        "{refused} refused creations for {ROWS} rows in {minutes} min: the cap was probed, not held"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_render_cap_is_never_refused() {
    let h = capped().await;
    let config = FAST_CONFIG.replace(
        "max_in_flight = 50\n",
        &format!("max_in_flight = 50\nmax_rendering = {CAP}\n"),
    );
    assert_ne!(config, FAST_CONFIG, "the config has a max_in_flight line");
    std::fs::write(h.dir.path().join("pipeline.toml"), config).expect("config written");
    let (refused, _) = run_batch(&h, "max_rendering set").await;
    assert_eq!(refused, 0, "refusals with the cap configured");
}
