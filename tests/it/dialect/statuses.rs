//! Status vocabularies: `DONE` in upper case, `completed`/`error`, `SUCCEEDED`/`FAILURE`, and
//! a status no vocabulary knows. Finished jobs must be downloaded, failed ones must reach
//! `failed.csv`, and an unknown status that persists must be told to the user, loudly and
//! in the run's summary, not polled silently to the deadline.

use std::time::Duration;

use creatify_batch::sandbox::dialect::{Dialect, StatusCase};
use creatify_batch::sandbox::Faults;

use super::rig::*;
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(90);

fn vocabulary(case: StatusCase, done: &str, failed: &str) -> Dialect {
    Dialect {
        status_case: case,
        status_done: done.into(),
        status_failed: failed.into(),
        ..Dialect::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn other_status_vocabularies_still_download_finished_jobs_and_fail_failed_ones() {
    let cases = [
        (
            "DONE, FAILED (upper case)",
            vocabulary(StatusCase::Upper, "done", "failed"),
        ),
        (
            "completed / error",
            vocabulary(StatusCase::Lower, "completed", "error"),
        ),
        (
            "SUCCEEDED / FAILURE",
            vocabulary(StatusCase::Upper, "succeeded", "failure"),
        ),
    ];
    let runs = cases.map(|(case, dialect)| async move {
        let mut faults = Faults::default();
        faults.jobs.fail = 0.4;
        let h = speaking(dialect, faults, |c| c.options.seed = 3).await;
        // Today's runner would poll such jobs until this deadline, then exit 4.
        write_config(&h, &[("poll", "job_deadline_secs", "20")]);
        let sheet = sample_sheet(&h);
        let out = run_bounded(&h, &sheet, LIMIT)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let states = states(&h.batch_dir("batch"));
        let (downloaded, failed) = (count(&states, "downloaded"), count(&states, "failed"));
        assert!(
            downloaded > 0 && failed > 0,
            "{case}: the seed must give both outcomes: {states:?}\n{}",
            text(&out)
        );
        assert_eq!(
            downloaded + failed,
            SAMPLE_ROWS,
            "{case}: {states:?}\n{}",
            text(&out)
        );
        assert_eq!(code(&out), 1, "{case}: {}", text(&out));
        let csv = std::fs::read_to_string(h.batch_dir("batch").join("failed.csv"))
            .unwrap_or_else(|e| panic!("{case}: failed.csv: {e}"));
        // Rows may span several lines (one per scene): compare the keys.
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let in_csv: std::collections::BTreeSet<String> = reader
            .records()
            .filter_map(|r| r.ok()?.get(0).map(str::to_owned))
            .collect();
        let want: std::collections::BTreeSet<String> = states
            .iter()
            .filter(|(_, s)| *s == "failed")
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(in_csv, want, "{case}: {csv}");
        for r in manifest_rows(&h.batch_dir("batch")) {
            if r["status"] == "failed" {
                let reason = r["failure_reason"].as_str().unwrap_or_default();
                assert!(reason.starts_with("Rendering failed"), "{case}: {r}");
            }
        }
        assert_exactly_once(&h, SAMPLE_ROWS, case);
    });
    let [a, b, c] = runs;
    tokio::join!(a, b, c);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_status_that_persists_is_warned_about_and_reported_at_the_end() {
    let dialect = Dialect {
        status_done: "finalised".into(),
        ..Dialect::default()
    };
    let h = speaking(dialect, Faults::default(), |_| {}).await;
    write_config(&h, &[("poll", "job_deadline_secs", "4")]);
    let n = 3;
    let sheet = h.sheet("odd.csv", &sheet_of(n));
    let out = run_bounded(&h, &sheet, LIMIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The jobs never read as finished: the deadline ends the run, rerun to resume.
    assert_eq!(code(&out), 4, "{}", text(&out));
    let err = stderr(&out);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("unknown status") && l.contains("finalised"))
        .collect();
    // At first sight, and again while it persists, with how long it has lasted.
    assert!(warnings.len() >= 2, "{}", text(&out));
    assert!(
        warnings.iter().skip(1).any(|l| l.contains(" for ")),
        "{warnings:#?}"
    );
    assert!(
        stdout(&out).contains(&format!("{n} jobs in an unknown status 'finalised'")),
        "{}",
        text(&out)
    );
    assert_eq!(h.stats().jobs_created, n as u64);
}
