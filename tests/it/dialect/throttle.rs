//! Rate limits in other dialects: `Retry-After` missing or an HTTP date, `Retry-After: 86400`
//! on every creation, and Ctrl-C while creations wait for their slot behind 429s.

use std::time::{Duration, Instant};

use creatify_batch::sandbox::dialect::{Dialect, RetryAfterForm};
use creatify_batch::sandbox::Faults;

use super::rig::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_missing_or_a_date_backs_off_and_the_sample_finishes() {
    // The account allows one call every 4 s (after a burst of 6): a flat 1 s wait after each
    // 429 is too short, and cutting the pace after each refusal ends at 1 call per 20 s.
    let cases = [
        ("Retry-After missing", RetryAfterForm::Missing),
        ("Retry-After as an HTTP date", RetryAfterForm::HttpDate),
    ];
    let runs = cases.map(|(case, form)| async move {
        let dialect = Dialect {
            retry_after: form,
            ..Dialect::default()
        };
        let h = speaking(dialect, Faults::default(), |c| {
            c.options.rate_limit = Some(0.25);
            c.options.burst = 6;
        })
        .await;
        write_config(
            &h,
            &[
                ("limits", "requests_per_second", "5"),
                ("limits", "burst", "2"),
                ("retry", "max_retry_after_secs", "30"),
                ("poll", "min_interval_secs", "3"),
                ("poll", "max_interval_secs", "10"),
                ("poll", "job_deadline_secs", "300"),
            ],
        );
        let sheet = sample_sheet(&h);
        let out = run_bounded(&h, &sheet, Duration::from_secs(240))
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(code(&out), 0, "{case}: {}", text(&out));
        let stats = h.stats();
        assert!(stats.throttled > 0, "{case}: the limit never bit");
        let requests: u64 = stats.requests.values().flat_map(|m| m.values()).sum();
        // Bounded refusals: a runner that backs off, and slows to what a row of them
        // proved, meets a few (7 and 6 were measured for 13 rows), not a wave per pause.
        assert!(
            stats.throttled <= 2 * SAMPLE_ROWS as u64,
            "{case}: {} refusals of {requests} calls: {:?}",
            stats.throttled,
            stats.requests
        );
        assert_eq!(
            count(&states(&h.batch_dir("batch")), "downloaded"),
            SAMPLE_ROWS
        );
        assert_exactly_once(&h, SAMPLE_ROWS, case);
        eprintln!("{case}: {} throttled of {requests} calls", stats.throttled);
    });
    let [a, b] = runs;
    tokio::join!(a, b);
}

fn throttled_for_a_day() -> Dialect {
    Dialect {
        throttle_creations: true,
        retry_after_seconds: Some(86_400.0),
        ..Dialect::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn creations_throttled_past_max_throttled_secs_stop_with_exit_7() {
    // Retry-After: 86400 is longer than the limit: stop at once. Without a Retry-After the
    // runner backs off and retries until the limit has passed, then stops.
    let silent = Dialect {
        retry_after: RetryAfterForm::Missing,
        ..throttled_for_a_day()
    };
    let cases = [
        ("Retry-After: 86400", throttled_for_a_day()),
        ("no Retry-After", silent),
    ];
    let runs = cases.map(|(case, dialect)| async move {
        let h = speaking(dialect, Faults::default(), |_| {}).await;
        write_config(
            &h,
            &[
                ("retry", "max_throttled_secs", "3"),
                ("retry", "max_retry_after_secs", "1"),
            ],
        );
        let n = 4;
        let sheet = h.sheet("day.csv", &sheet_of(n));
        let out = run_bounded(&h, &sheet, Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(code(&out), 7, "{case}: {}", text(&out));
        let said = stdout(&out);
        assert!(
            said.contains("stopped submitting")
                && said.contains("max_throttled_secs")
                && said.contains("nothing is lost")
                && said.contains("rerun later"),
            "{case}: {}",
            text(&out)
        );
        let states = states(&h.batch_dir("day"));
        assert_eq!(count(&states, "planned"), n, "{case}: {states:?}");
        assert_eq!(h.stats().jobs_created, 0, "{case}");
        assert!(h.stats().throttled > 0, "{case}");
    });
    let [a, b] = runs;
    tokio::join!(a, b);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_under_a_day_long_retry_after_exits_at_once() {
    let h = speaking(throttled_for_a_day(), Faults::default(), |_| {}).await;
    // One creation at a time: after the first 429 the others wait in the schedule for the
    // end of its pause, capped at 60 s.
    write_config(
        &h,
        &[
            ("retry", "max_retry_after_secs", "60"),
            // Never reached here: this test is about the signal alone.
            ("retry", "max_throttled_secs", "1000000"),
            ("limits", "requests_per_second", "2"),
            ("limits", "burst", "1"),
        ],
    );
    let sheet = h.sheet("int.csv", &sheet_of(8));
    let child = h.run_command(&sheet, &[]).spawn().expect("starts");
    let until = Instant::now() + Duration::from_secs(30);
    while h.stats().throttled == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(h.stats().throttled > 0, "never throttled");
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    // Creations waiting out a 60 s pause are withdrawn; nothing holds the exit.
    let out = wait_bounded(child, Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 130, "{}", text(&out));
    assert_eq!(count(&states(&h.batch_dir("int")), "planned"), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_ctrl_c_no_creation_leaves_even_from_calls_waiting_behind_429s() {
    // The account allows 2 calls a second; the runner is told 20, so creations queue up
    // in its schedule behind 429 pauses when the signal comes.
    let h = Harness::start(Faults::default(), |c| {
        c.options.rate_limit = Some(2.0);
        c.options.burst = 2;
        c.options.time_scale = 20.0;
    })
    .await;
    write_config(
        &h,
        &[
            ("limits", "requests_per_second", "20"),
            ("limits", "burst", "5"),
            ("retry", "max_retry_after_secs", "5"),
            ("poll", "min_interval_secs", "0.5"),
        ],
    );
    let n = 30;
    let sheet = h.sheet("sig.csv", &sheet_of(n));
    let child = h.run_command(&sheet, &[]).spawn().expect("starts");
    let until = Instant::now() + Duration::from_secs(30);
    while !(h.stats().throttled >= 3 && h.stats().jobs_created >= 2) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let at_signal = h.stats();
    assert!(
        at_signal.throttled >= 3,
        "the limit never bit: {at_signal:?}"
    );
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = wait_bounded(child, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 130, "{}", text(&out));
    let at_end = h.stats();
    // Only a POST already on its way when the signal came may arrive after it; at this
    // pace (the runner cut to the account's 2/s after the first 429s) that is one or two.
    let late = at_end.creations_arrived - at_signal.creations_arrived;
    assert!(
        late <= 2,
        "{late} creations reached the API after Ctrl-C ({} created before, {} after)\n{}",
        at_signal.jobs_created,
        at_end.jobs_created,
        text(&out)
    );
    let rerun = wait_bounded(
        h.run_command(&sheet, &[]).spawn().expect("starts"),
        Duration::from_secs(120),
    )
    .await
    .unwrap_or_else(|e| panic!("rerun: {e}"));
    assert_eq!(code(&rerun), 0, "{}", text(&rerun));
    assert_exactly_once(&h, n, "rerun after Ctrl-C");
}
