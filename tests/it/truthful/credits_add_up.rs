//! The batch's credits are every job's, failed and retried ones included, and `status`, the
//! summary, the manifest and the report agree with what the account was charged.

use creatify_batch::sandbox::Faults;

use crate::support::*;

use super::{remaining_credits, status_json};

/// The `N` in the summary's "credits: ... N used by the batch's jobs".
fn summary_used(out: &std::process::Output) -> f64 {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("credits:"))
        .unwrap_or_else(|| panic!("no credits line: {stdout}"));
    let before = line.split(" used").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().expect(line)
}

#[tokio::test(flavor = "multi_thread")]
async fn credits_of_failed_and_retried_jobs_are_counted_everywhere() {
    let state = tempfile::tempdir().unwrap();
    let mut faults = Faults::default();
    faults.jobs.fail = 1.0;
    let h = Harness::start(faults, |c| {
        c.options.state_dir = Some(state.path().to_owned());
    })
    .await;
    let before = remaining_credits(&h).await;
    let sheet = h.sheet("spend.csv", &sheet_of(3));
    let failing = h.run(&sheet, &[]).await;
    assert_eq!(code(&failing), 1, "{}", text(&failing));

    let h = h.restart(Faults::default()).await;
    let retry = h.run(&sheet, &["--retry-failed"]).await;
    assert_eq!(code(&retry), 0, "{}", text(&retry));
    let spent = before - remaining_credits(&h).await;
    assert_eq!(h.stats().jobs_created, 6);
    assert!(spent > 15.0, "the failed jobs were charged too: {spent}");

    let dir = h.batch_dir("spend");
    let st = status_json(&h, &dir);
    assert_eq!(st["credits_used"].as_f64(), Some(spent), "{st}");
    assert_eq!(summary_used(&retry), spent, "{}", text(&retry));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(doc["credits_used"].as_f64(), Some(spent), "{doc}");
    let per_row: f64 = manifest_rows(&dir)
        .iter()
        .map(|r| r["credits_used"].as_f64().unwrap_or(0.0))
        .sum();
    assert_eq!(per_row, spent);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains(&format!("<strong>{spent} credits</strong> spent")),
        "{html}"
    );

    // The journal keeps every job a row ever had.
    let db = rusqlite::Connection::open(dir.join("journal.sqlite")).unwrap();
    let (jobs, sum): (i64, f64) = db
        .query_row("SELECT COUNT(*), SUM(credits_used) FROM jobs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((jobs, sum), (6, spent));
    assert!(
        String::from_utf8_lossy(&failing.stdout).contains("3 videos failed"),
        "{}",
        text(&failing)
    );
}
