//! Faults that are not one endpoint at one rate: outages that heal mid-run, faults that
//! combine, credits, credentials, the account's render cap and 429 storms.

use std::time::{Duration, Instant};

use creatify_batch::sandbox::{Faults, SandboxConfig};

use super::*;

/// Waits until `done` holds, for at most `limit`; whether it did.
async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// A harness whose sandbox keeps its account in a state directory, so restarts keep it.
async fn persistent(
    faults: Faults,
    tweak: impl FnOnce(&mut SandboxConfig),
) -> (Harness, tempfile::TempDir) {
    let state = tempfile::tempdir().expect("state dir");
    let path = state.path().to_owned();
    let h = Harness::start(faults, |c| {
        c.options.state_dir = Some(path);
        tweak(c);
    })
    .await;
    (h, state)
}

fn assert_exactly_once(h: &Harness, n: usize, case: &str) {
    let per_row = creations_by_key(&h.stats());
    assert_eq!(per_row.len(), n, "{case}: {per_row:?}");
    for (row, count) in per_row {
        assert_eq!(count, 1, "{case}: row {row} was created {count} times");
    }
}

fn assert_all(h: &Harness, batch: &str, state: &str, case: &str) {
    for (key, got) in states(&h.batch_dir(batch)) {
        assert_eq!(got, state, "{case}: row {key}");
    }
}

fn assert_files(h: &Harness, batch: &str, case: &str) {
    let dir = h.batch_dir(batch);
    let problems = file_problems(&dir);
    assert!(problems.is_empty(), "{case}: {problems:?}");
    let left = partials(&dir);
    assert!(left.is_empty(), "{case}: partials left behind: {left:?}");
}

fn all_poll_errors() -> EndpointFaults {
    EndpointFaults {
        reset: 0.2,
        status_500: 0.2,
        status_502: 0.2,
        status_503: 0.2,
        html: 0.2,
        ..EndpointFaults::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_outage_that_heals_mid_run_fails_no_job_and_the_run_finishes() {
    let case = "poll outage, then healthy";
    let faults = Faults {
        poll: all_poll_errors(),
        ..Faults::default()
    };
    let (h, _state) = persistent(faults, |_| {}).await;
    write_config(&h, &[]);
    let n = 4;
    let sheet = h.sheet("outage.csv", &sheet_of(n));
    let run = tokio::spawn(run_command_bounded(h.run_command(&sheet, &[])));
    // Every job is created and long finished on the server, while a dozen polls (four
    // rounds of three attempts) fail with resets, 5xx and HTML.
    let started = Instant::now();
    let outage = wait_until(Duration::from_secs(20), || {
        let s = h.stats();
        s.jobs_created == n as u64 && s.faults.values().sum::<u64>() >= 12
    })
    .await;
    assert!(outage, "{case}: the outage never happened: {:?}", h.stats());
    let lasted = started.elapsed();
    let h = h.restart(Faults::default()).await;
    let out = run
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(code(&out), 0, "{case}: {}", text(&out));
    assert!(
        stderr(&out).contains("status poll failed; jobs keep their state"),
        "{case}: {}",
        text(&out)
    );
    assert!(
        lasted >= Duration::from_secs(1),
        "{case}: outage of {lasted:?}"
    );
    assert_all(&h, "outage", "downloaded", case);
    assert_exactly_once(&h, n, case);
    assert_files(&h, "outage", case);
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_creations_while_the_job_list_fails_are_unknown_at_the_deadline_then_adopted() {
    // Every 201 is lost and the job list (reconciliation) fails too: the runner cannot know
    // whether its jobs exist, so it must neither send them again nor wait forever: at the
    // deadline they are `unknown` (exit 8), and the next run looks for them first.
    let case = "create.lost@1 + poll errors@1";
    let mut faults = Faults::default();
    faults.create.lost = 1.0;
    faults.poll = all_poll_errors();
    let (h, _state) = persistent(faults, |_| {}).await;
    write_config(&h, &[("job_deadline_secs", "2")]);
    let n = 3;
    let sheet = h.sheet("blind.csv", &sheet_of(n));
    let out = run_bounded(&h, &sheet, &[])
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(code(&out), 8, "{case}: {}", text(&out));
    assert_all(&h, "blind", "unknown", case);
    assert_exactly_once(&h, n, case);

    let h = h.restart(Faults::default()).await;
    let out = run_bounded(&h, &sheet, &[])
        .await
        .unwrap_or_else(|e| panic!("{case}, healed: {e}"));
    assert_eq!(code(&out), 0, "{case}, healed: {}", text(&out));
    assert_all(&h, "blind", "downloaded", case);
    assert_exactly_once(&h, n, case);
    assert_files(&h, "blind", case);
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_output_urls_are_refreshed_from_the_job() {
    // First run: every download fails, so the journal keeps each job's signed URLs. They
    // expire within two seconds; the rerun meets 403 on every one and fetches the job again.
    let case = "download url_ttl_seconds=1, every journaled URL expired";
    let mut faults = Faults::default();
    faults.download.reset = 1.0;
    faults.download.url_ttl_seconds = Some(1.0);
    let (h, _state) = persistent(faults, |_| {}).await;
    write_config(&h, &[]);
    let n = 3;
    let sheet = h.sheet("ttl.csv", &sheet_of(n));
    let out = run_bounded(&h, &sheet, &[])
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(code(&out), 1, "{case}: {}", text(&out));
    assert_all(&h, "ttl", "done", case);
    // `expires` is rounded up to a whole second: a 1 s TTL lasts up to 2 s.
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let mut ttl_only = Faults::default();
    ttl_only.download.url_ttl_seconds = Some(1.0);
    let h = h.restart(ttl_only).await;
    let out = run_bounded(&h, &sheet, &[])
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(code(&out), 0, "{case}: {}", text(&out));
    let expired = h.stats().faults.get("url_expired").copied().unwrap_or(0);
    assert!(expired >= n as u64, "{case}: only {expired} URLs expired");
    assert_all(&h, "ttl", "downloaded", case);
    assert_exactly_once(&h, n, case);
    assert_files(&h, "ttl", case);
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_credits_mid_run_stops_submitting_and_a_top_up_finishes_the_batch() {
    // Credits for two of five videos (5 credits each), and the balance endpoint failing, so
    // the up-front check cannot refuse the run: the API's 402 must stop it.
    let case = "402 mid-run";
    let mut faults = Faults::default();
    faults.account.status_503 = 1.0;
    let (h, _state) = persistent(faults, |c| c.options.credits = 12.0).await;
    write_config(&h, &[]);
    let n = 5;
    let sheet = h.sheet("credits.csv", &sheet_of(n));
    let out = run_bounded(&h, &sheet, &[])
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(code(&out), 3, "{case}: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("stopped submitting: HTTP 402"),
        "{case}: {}",
        text(&out)
    );
    let stats = h.stats();
    assert_eq!(stats.jobs_created, 2, "{case}: {stats:?}");
    let states = states(&h.batch_dir("credits"));
    let by_state = |s: &str| states.values().filter(|v| *v == s).count();
    // The two jobs in flight were finished and downloaded; the others were never sent.
    assert_eq!(by_state("downloaded"), 2, "{case}: {states:?}");
    assert_eq!(by_state("planned"), 3, "{case}: {states:?}");
    assert!(duplicates(&stats).is_empty(), "{case}: {stats:?}");
    assert_files(&h, "credits", case);

    // Top up, restart (the top-up is in the sandbox's journal), rerun.
    h.sandbox.add_credits(15.0).await.expect("top-up");
    let h = h.restart(Faults::default()).await;
    assert_eq!(h.stats().credits_remaining, 17.0, "{case}: top-up not kept");
    let out = run_bounded(&h, &sheet, &[])
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(code(&out), 0, "{case}, topped up: {}", text(&out));
    assert_all(&h, "credits", "downloaded", case);
    assert_exactly_once(&h, n, case);
    assert_files(&h, "credits", case);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_exit_5_whenever_the_api_refuses_them() {
    let n = 3;
    // 1. The credit check cannot run (account endpoint down): the first POSTs meet the 401.
    let case = "401 on create";
    let mut faults = Faults::default();
    faults.account.reset = 1.0;
    faults.poll.status_503 = 1.0;
    let (h, _state) = persistent(faults, |_| {}).await;
    write_config(&h, &[("job_deadline_secs", "2")]);
    let sheet = h.sheet("auth.csv", &sheet_of(n));
    let mut cmd = h.run_command(&sheet, &[]);
    cmd.env("CREATIFY_API_KEY", "revoked-key");
    let out = run_command_bounded(cmd)
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(code(&out), 5, "{case}: {}", text(&out));
    assert_eq!(h.stats().jobs_created, 0, "{case}");
    assert_all(&h, "auth", "planned", case);

    // 2. Jobs rendering, then the key is revoked: polls meet the 401. Exit 5 at once (not
    // at the deadline), and the jobs stay `submitted`, never failed.
    let case = "401 on poll";
    let out = run_bounded(&h, &sheet, &[])
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(code(&out), 4, "{case}, setup: {}", text(&out));
    assert_all(&h, "auth", "submitted", case);
    let h = h.restart(Faults::default()).await;
    write_config(&h, &[("job_deadline_secs", "30")]);
    let mut cmd = h.run_command(&sheet, &[]);
    cmd.env("CREATIFY_API_KEY", "revoked-key");
    let started = Instant::now();
    let out = run_command_bounded(cmd)
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(code(&out), 5, "{case}: {}", text(&out));
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{case}: waited for the deadline"
    );
    assert_all(&h, "auth", "submitted", case);
    assert!(
        !text(&out).contains("revoked-key"),
        "{case}: the key leaked"
    );

    // 3. The right key again: the same jobs are picked up.
    let out = run_bounded(&h, &sheet, &[])
        .await
        .unwrap_or_else(|e| panic!("{case}, fixed: {e}"));
    assert_eq!(code(&out), 0, "{case}, fixed: {}", text(&out));
    assert_exactly_once(&h, n, case);
    assert_files(&h, "auth", case);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_accounts_render_cap_lowers_the_runners_and_everything_completes_once() {
    // The account renders two jobs at once; the runner would start 50.
    let case = "max_rendering 2, max_in_flight 50";
    let h = Harness::start(Faults::default(), |c| c.options.max_rendering = Some(2)).await;
    write_config(&h, &[("max_in_flight", "50")]);
    let n = 12;
    let sheet = h.sheet("cap.csv", &sheet_of(n));
    let out = run_bounded(&h, &sheet, &[])
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(code(&out), 0, "{case}: {}", text(&out));
    let stats = h.stats();
    eprintln!("{case}: {} refusals for {n} creations", stats.throttled);
    // While the cap is unknown creations go one at a time, so the 429 that names the
    // cap is met once; the runner then holds it (tests/it/rendercap.rs asserts how few
    // refusals that leaves). A runner that kept its own cap would resend every waiting row
    // on each wave: (n - 2) + (n - 4) + … = 30 refusals for 12 rows.
    let bound = (n - 2) + n;
    assert!(
        stats.throttled > 0,
        "{case}: the cap never refused anything"
    );
    assert!(
        stats.throttled <= bound as u64,
        "{case}: {} refusals for {n} creations (at most {bound})",
        stats.throttled
    );
    assert_all(&h, "cap", "downloaded", case);
    assert_exactly_once(&h, n, case);
    assert_files(&h, "cap", case);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_storms_honour_retry_after_and_stay_bounded() {
    // The runner is told 200 requests a second; the API allows far less.
    let storms = [
        ("mild: 10 rps, burst 4", 10.0, 4),
        ("heavy: 2 rps, burst 1", 2.0, 1),
    ];
    let runs = storms.map(|(case, rps, burst)| async move {
        let h = Harness::start(Faults::default(), |c| {
            c.options.rate_limit = Some(rps);
            c.options.burst = burst;
        })
        .await;
        write_config(&h, &[]);
        let n = 5;
        let sheet = h.sheet("storm.csv", &sheet_of(n));
        let started = Instant::now();
        let out = run_bounded(&h, &sheet, &[])
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let took = started.elapsed();
        assert_eq!(code(&out), 0, "{case}: {}", text(&out));
        let stats = h.stats();
        assert!(stats.throttled > 0, "{case}: the storm never happened");
        // Every 429 says Retry-After: 1 or more, and the gate holds every task for it.
        assert!(
            took >= Duration::from_secs(1),
            "{case}: finished in {took:?} despite 429s"
        );
        let requests: u64 = stats.requests.values().flat_map(|m| m.values()).sum();
        assert!(
            stats.throttled * 2 <= requests,
            "{case}: {} of {requests} requests throttled: the runner kept hammering",
            stats.throttled
        );
        // The first wave of creations goes out before any 429 is known; after it, the pace
        // slows to what the server allows. Waves of every queued row released together at
        // the end of each pause would meet about n²/2 refusals.
        assert!(
            stats.throttled <= 2 * n as u64,
            "{case}: {} refusals for {n} creations: {:?}",
            stats.throttled,
            stats.requests
        );
        assert_all(&h, "storm", "downloaded", case);
        assert_exactly_once(&h, n, case);
        eprintln!(
            "{case}: {} throttled of {requests} in {took:?}",
            stats.throttled
        );
    });
    let [a, b] = runs;
    tokio::join!(a, b);
}
