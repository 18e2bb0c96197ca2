//! Scenario 5, time to done: 200 videos with realistic render times (40 s to 2 min for 20 to
//! 60 s of video, ±20 %), the runner configured to the sandbox's rate limit. The wall time of
//! the whole run against the ideal: the limit-bound submission time, plus the slowest render,
//! plus one download (the definition). Next to it, a tighter ideal: each video's own
//! limit-bound submission slot (in sheet order) plus its own render, the latest of them, plus
//! one download: what a runner with no overhead at all would take with these render times.
//!
//! By default the run is fast-forwarded ×2 (sandbox clock ×2, rate ×2, poll intervals ÷2);
//! `--full` runs it in real time.

use crate::harness::{self, median, RunnerConfig, Workdir};
use crate::table::{verdict, Table};
use crate::Opts;

/// Videos in the batch.
const VIDEOS: usize = 200;
/// The account's limit (requests per second, real time) and burst; the runner is set to it.
const L: f64 = 10.0;
const BURST: u32 = 10;

pub async fn run(opts: Opts) {
    let scale = if opts.full { 1.0 } else { 2.0 };
    let mut t = Table::new(
        &format!("Time to done: {VIDEOS} videos, limit {L} req/s, clock ×{scale}"),
        &[
            "run",
            "wall s",
            "submission s",
            "slowest render s",
            "download s",
            "ideal s",
            "wall / ideal",
            "tight ideal s",
            "wall / tight",
            "target",
            "verdict",
        ],
    );
    for i in 0..opts.repeat(1) {
        let (wall, submission, slowest, download, tight) = once(scale).await;
        let ideal = submission + slowest + download;
        let ratio = wall / ideal;
        let tight = tight + download;
        t.row(vec![
            (i + 1).to_string(),
            format!("{wall:.1}"),
            format!("{submission:.1}"),
            format!("{slowest:.1}"),
            format!("{download:.2}"),
            format!("{ideal:.1}"),
            format!("{ratio:.3}"),
            format!("{tight:.1}"),
            format!("{:.3}", wall / tight),
            "≤ 1.10".into(),
            verdict(ratio <= 1.10 && wall / tight <= 1.10),
        ]);
    }
    t.print();
    println!("(real seconds; ×{scale} for what a real-time run takes)");
}

/// (wall, ideal submission time, slowest render, median download, tight ideal without the
/// download) in real seconds.
async fn once(scale: f64) -> (f64, f64, f64, f64, f64) {
    let rate = L * scale;
    let mut options = harness::options(scale, 60.0, Some(rate));
    options.burst = BURST;
    let sandbox = harness::sandbox(options).await;
    let config = RunnerConfig {
        requests_per_second: rate,
        burst: BURST,
        max_in_flight: 1000,
        download_concurrency: 4,
        poll_min: 2.0 / scale,
        poll_max: 30.0 / scale,
    };
    let duration = |i: usize| Some(20.0 + 40.0 * ((i as f64 * 0.618_033_988_75) % 1.0));
    let wd = Workdir::new("done", &harness::sheet(VIDEOS, duration), &config);
    let fin = wd.run(&sandbox).await;
    sandbox.shutdown().await;
    let batch_dir = wd.batch_dir();
    let jobs = harness::job_objects(&batch_dir);
    let slowest = jobs
        .iter()
        .filter_map(|(_, j)| harness::render_secs(j))
        .fold(0.0, f64::max);
    // Keys are `v000000`, `v000001`, … in sheet order: the row's index gives its slot.
    let slot = |i: usize| (i as f64 - f64::from(BURST) + 1.0).max(0.0) / rate;
    let tight = jobs
        .iter()
        .filter_map(|(key, j)| {
            let i: usize = key.strip_prefix('v')?.parse().ok()?;
            Some(slot(i) + harness::render_secs(j)?)
        })
        .fold(0.0, f64::max);
    let events = harness::journal_events(&batch_dir);
    let mut done_at = std::collections::HashMap::new();
    let mut downloads = Vec::new();
    for (key, state, at) in events {
        match state.as_str() {
            "done" => {
                done_at.insert(key, at);
            }
            "downloaded" => {
                if let Some(d) = done_at.get(&key) {
                    downloads.push(at - d);
                }
            }
            _ => {}
        }
    }
    // Every POST is one request; the first BURST go at once.
    let submission = (VIDEOS as f64 - f64::from(BURST)).max(0.0) / rate;
    (
        fin.wall.as_secs_f64(),
        submission,
        slowest,
        median(downloads),
        tight,
    )
}
