//! Scenario 2, API economy: 2,000 videos whose renders take 30 s to 10 min of sandbox time,
//! all rendering at once. Non-download API calls per video, next to what a client polling each
//! job by id every `[poll]` interval would need for the same jobs.
//!
//! The run is fast-forwarded: the sandbox's clock runs `S` times faster, and every time in the
//! runner's config is divided by `S` (poll intervals) or multiplied by it (rate), so the run
//! makes the calls a real-time run would, in 1/S of the time. The per-id poller's calls are
//! computed from each job's actual render time (`updated_at - created_at` of its saved job
//! object, × S): one creation plus one GET per interval until it sees the job done.

use crate::harness::{self, median, Counted, RunnerConfig, Workdir};
use crate::table::{verdict, Table};
use crate::Opts;

/// Requests per second of the account, in real time (the config's default).
const RPS: f64 = 5.0;
/// `[poll]` bounds of the config's defaults, in real time.
const POLL_MIN: f64 = 2.0;
const POLL_MAX: f64 = 30.0;

pub async fn run(opts: Opts) {
    let videos = 2000;
    let scale = if opts.full { 1.0 } else { 10.0 };
    // render_seconds 30: a video of d seconds renders in d seconds (±20 %), so durations of
    // 37.5..500 s give renders of 30 s..10 min. Golden-ratio steps spread them evenly but
    // not in sheet order.
    let duration = |i: usize| Some(37.5 + 462.5 * ((i as f64 * 0.618_033_988_75) % 1.0));
    let sandbox = harness::sandbox(harness::options(scale, 30.0, None)).await;
    let config = RunnerConfig {
        requests_per_second: RPS * scale,
        burst: 10,
        max_in_flight: videos,
        download_concurrency: 8,
        poll_min: POLL_MIN / scale,
        poll_max: POLL_MAX / scale,
    };
    let wd = Workdir::new("economy", &harness::sheet(videos, duration), &config);
    let fin = wd.run(&sandbox).await;
    let c = Counted::of(&sandbox.stats());
    sandbox.shutdown().await;

    let batch_dir = wd.batch_dir();
    let jobs = harness::job_objects(&batch_dir);
    let renders: Vec<f64> = jobs
        .iter()
        .filter_map(|(_, j)| harness::render_secs(j))
        .map(|s| s * scale)
        .collect();
    let naive = |interval: f64| -> f64 {
        renders
            .iter()
            .map(|r| 1.0 + (r / interval).ceil().max(1.0))
            .sum::<f64>()
            / renders.len() as f64
    };
    // How late the runner learnt that each job was done (sandbox seconds): its journal's
    // `done` event against the job's own `updated_at`.
    let done_at: std::collections::HashMap<String, f64> = harness::journal_events(&batch_dir)
        .into_iter()
        .filter(|(_, state, _)| state == "done")
        .map(|(k, _, at)| (k, at))
        .collect();
    let lags: Vec<f64> = jobs
        .iter()
        .filter_map(|(key, j)| {
            Some((done_at.get(key)? - harness::unix_secs(j, "updated_at")?) * scale)
        })
        .collect();
    let max_lag = lags.iter().copied().fold(0.0, f64::max);
    let p90_lag = {
        let mut l = lags.clone();
        l.sort_by(f64::total_cmp);
        l.get(l.len() * 9 / 10).copied().unwrap_or(f64::NAN)
    };

    let per_video = c.api as f64 / videos as f64;
    let mut t = Table::new(
        &format!(
            "API economy: {videos} videos, renders {:.0}–{:.0} s (sandbox time), clock ×{scale}",
            renders.iter().copied().fold(f64::INFINITY, f64::min),
            renders.iter().copied().fold(0.0, f64::max),
        ),
        &[
            "client",
            "creations",
            "status calls",
            "calls / video",
            "vs runner",
            "target",
            "verdict",
        ],
    );
    t.row(vec![
        "creatify-batch".into(),
        c.creates.to_string(),
        c.polls.to_string(),
        format!("{per_video:.3}"),
        "1.00×".into(),
        "≤ 1.3".into(),
        verdict(per_video <= 1.3),
    ]);
    for interval in [POLL_MIN, POLL_MAX] {
        let n = naive(interval);
        t.row(vec![
            format!("per-id poller every {interval} s (computed)"),
            videos.to_string(),
            format!("{:.0}", (n - 1.0) * videos as f64),
            format!("{n:.1}"),
            format!("{:.1}×", n / per_video),
            String::new(),
            String::new(),
        ]);
    }
    t.print();
    println!(
        "runner: {} API calls in all ({} throttled), wall {:.1} s real ({:.0} s sandbox time); \
         done seen after the job ended: median {:.1} s, p90 {:.1} s, max {:.1} s (sandbox time)",
        c.api,
        c.throttled,
        fin.wall.as_secs_f64(),
        fin.wall.as_secs_f64() * scale,
        median(lags),
        p90_lag,
        max_lag
    );
}
