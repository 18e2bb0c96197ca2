//! Scenario 1, rate fidelity: the sandbox allows L requests/s; the runner is configured to L
//! (it should sit just under the limit with no 429) and to 3·L (the user does not know the
//! limit: few 429s, most of L used, `Retry-After` honoured).
//!
//! The achieved rate is the sandbox's count of served API requests (429s excluded) between
//! the first sample that saw an API request and the first that saw the last one (counters
//! sampled every 50 ms); renders are instant and files small, so that window is
//! request-bound.

use std::time::Duration;

use crate::harness::{self, median, Counted, RunnerConfig, Sampler, Workdir};
use crate::table::{verdict, Table};
use crate::Opts;

/// The sandbox's limit, requests per second.
const L: f64 = 20.0;
/// The sandbox's burst (its default) and the runner's (the config's default).
const BURST: u32 = 10;

struct Outcome {
    achieved: f64,
    throttled_share: f64,
    api: u64,
    throttled: u64,
    window: f64,
    wall: f64,
}

pub async fn run(opts: Opts) {
    // ~25 s of requests at L: one POST per video plus a few batched polls.
    let videos = if opts.full { 1200 } else { 500 };
    let mut t = Table::new(
        &format!("Rate fidelity: sandbox limit L = {L} req/s (burst {BURST}), {videos} videos"),
        &[
            "runner rps",
            "API requests",
            "429s",
            "429 share",
            "window s",
            "achieved req/s",
            "achieved / L",
            "target",
            "verdict",
        ],
    );
    for factor in [1.0, 3.0] {
        let outcomes: Vec<Outcome> = {
            let mut v = Vec::new();
            for _ in 0..opts.repeat(1) {
                v.push(once(L * factor, videos).await);
            }
            v
        };
        let achieved = median(outcomes.iter().map(|o| o.achieved).collect());
        let share = median(outcomes.iter().map(|o| o.throttled_share).collect());
        let o = &outcomes[0];
        let ratio = achieved / L;
        let (target, met) = if factor == 1.0 {
            ("≥ 0.95·L, 0 × 429", ratio >= 0.95 && share == 0.0)
        } else {
            ("≥ 0.85·L, 429s ≤ 5 %", ratio >= 0.85 && share <= 0.05)
        };
        t.row(vec![
            format!("{} (= {factor}·L)", L * factor),
            o.api.to_string(),
            o.throttled.to_string(),
            format!("{:.1} %", share * 100.0),
            format!("{:.1} (wall {:.1})", o.window, o.wall),
            format!("{achieved:.2}"),
            format!("{ratio:.3}"),
            target.to_owned(),
            verdict(met),
        ]);
    }
    t.print();
}

async fn once(rps: f64, videos: usize) -> Outcome {
    let mut options = harness::options(100.0, 0.05, Some(L));
    options.burst = BURST;
    let sandbox = harness::sandbox(options).await;
    let config = RunnerConfig {
        requests_per_second: rps,
        burst: BURST,
        max_in_flight: 1000,
        download_concurrency: 8,
        poll_min: 0.5,
        poll_max: 2.0,
    };
    let wd = Workdir::new("rate", &harness::sheet(videos, |_| None), &config);
    let sampler = Sampler::start(&sandbox, Duration::from_millis(50));
    let fin = wd.run(&sandbox).await;
    let window = sampler.stop();
    let c = Counted::of(&sandbox.stats());
    sandbox.shutdown().await;
    let window = window.expect("the sandbox saw requests");
    Outcome {
        achieved: window.served_rate(),
        throttled_share: c.throttled as f64 / c.api as f64,
        api: c.api,
        throttled: c.throttled,
        window: window.secs(),
        wall: fin.wall.as_secs_f64(),
    }
}
