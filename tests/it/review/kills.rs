//! SIGKILLs at seeded instants during previews and during render requests: every row ends
//! with exactly one preview job, and every approved job is rendered exactly once, on the
//! sandbox's own counters (a second render of a rendered job would be answered 400).

use std::time::Duration;

use creatify_batch::sandbox::Faults;

use super::*;
use crate::support::*;

/// Seeded delays in `lo..hi` ms.
struct Delays(u64);

impl Delays {
    fn next(&mut self, lo: u64, hi: u64) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Duration::from_millis(lo + (self.0 >> 33) % (hi - lo))
    }
}

/// Starts `run` with `extra` and kills it (SIGKILL) after a seeded delay, `kills` times
/// (a run that ended by itself first ends the loop); returns how many landed and the row
/// states each kill left in the journal.
async fn kill_runs(
    h: &Harness,
    sheet: &std::path::Path,
    extra: &[&str],
    kills: usize,
    d: &mut Delays,
) -> (usize, std::collections::BTreeSet<String>) {
    let dir = h.batch_dir(
        sheet
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default(),
    );
    let (mut landed, mut seen) = (0, std::collections::BTreeSet::new());
    while landed < kills {
        let mut child = h.run_command(sheet, extra).spawn().expect("runner starts");
        tokio::time::sleep(d.next(300, 1500)).await;
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        landed += 1;
        if dir.join("journal.sqlite").is_file() {
            seen.extend(journal_rows(&dir).into_values().map(|(s, _)| s));
        }
    }
    (landed, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkills_during_previews_and_renders_pay_each_step_once() {
    const ROWS: usize = 8;
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    // Five calls a second: previews and renders wait for their slot after their journal
    // entry, so the kills land between the entry and the POST, and around the POSTs.
    let config = std::fs::read_to_string(h.dir.path().join("pipeline.toml")).unwrap();
    let config = config.replace(
        "requests_per_second = 200\nburst = 50",
        "requests_per_second = 5\nburst = 1",
    );
    assert!(config.contains("requests_per_second = 5"));
    std::fs::write(h.dir.path().join("pipeline.toml"), config).unwrap();
    let sheet = h.sheet("kill.csv", &sheet_of(ROWS));
    let dir = h.batch_dir("kill");
    let mut delays = Delays(0x5eed_0014);

    let (landed, seen) = kill_runs(&h, &sheet, &["--preview"], 4, &mut delays).await;
    assert!(
        seen.contains("submitting") || seen.contains("previewing"),
        "no kill landed while previews were being made: {seen:?}"
    );
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "after {landed} kills: {}", text(&out));
    let s = h.stats();
    let per_row = creations_by_key(&s);
    assert_eq!(per_row.len(), ROWS, "{per_row:?}");
    assert!(
        per_row.values().all(|n| *n == 1),
        "a row previewed twice: {per_row:?}"
    );
    assert_eq!(reached(&s, CREATE), 0);

    let keys: Vec<String> = (1..=ROWS).map(|i| format!("v{i:03}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let ok = verdict(&h, "approve", &dir, &keys);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));

    let (landed, seen) = kill_runs(&h, &sheet, &["--render-approved"], 4, &mut delays).await;
    assert!(
        seen.contains("render_requested"),
        "no kill landed while a render was asked for: {seen:?}"
    );
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(code(&out), 0, "after {landed} kills: {}", text(&out));
    let s = h.stats();
    assert_eq!(answered(&s, RENDER, "200"), ROWS as u64, "{:?}", s.requests);
    assert_eq!(s.renders_by_job.len(), ROWS, "{:?}", s.renders_by_job);
    assert!(
        s.render_requests_by_job.values().all(|n| *n == 1),
        "a job was asked to render twice: {:?}",
        s.render_requests_by_job
    );
    // No render was ever sent to a job already rendering (the sandbox answers those 400).
    assert_eq!(answered(&s, RENDER, "400"), 0, "{:?}", s.requests);
    assert_eq!(s.credits_spent, (ROWS * 5) as f64);
    assert!(
        states(&dir).values().all(|s| s == "downloaded"),
        "{:?}",
        states(&dir)
    );
}
