//! Scenario 3, scale: generated sheets of 1k, 10k and 100k rows. `plan` (time, peak RSS) and
//! a full `run` with instant renders and small files (videos per second end to end, peak RSS),
//! journal durability on (`synchronous=FULL`, as always). The runner's limits are raised so
//! the API's limits are not what is measured: the engine's own overhead is.

use crate::harness::{self, mb, median, RunnerConfig, Workdir};
use crate::table::{verdict, Table};
use crate::Opts;

/// RSS target at 100k rows, bytes.
const RSS_TARGET: u64 = 150_000_000;

fn fast_config() -> RunnerConfig {
    RunnerConfig {
        requests_per_second: 100_000.0,
        burst: 1000,
        max_in_flight: 2000,
        download_concurrency: 32,
        poll_min: 0.05,
        poll_max: 0.25,
    }
}

pub async fn run(opts: Opts) {
    let plan_sizes = [1_000, 10_000, 100_000];
    let run_sizes: &[usize] = if opts.full {
        &[1_000, 10_000, 100_000]
    } else {
        &[1_000, 10_000]
    };

    let mut t = Table::new(
        "Scale: plan (median of runs)",
        &[
            "rows",
            "plan s",
            "rows/s",
            "peak RSS MB",
            "RSS / row",
            "target",
            "verdict",
        ],
    );
    let mut last_rss = None;
    for &n in &plan_sizes {
        let wd = Workdir::new("scale", &harness::sheet(n, |_| None), &fast_config());
        let mut walls = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..opts.repeat(3) {
            let fin = wd.plan().await;
            walls.push(fin.wall.as_secs_f64());
            rss.push(fin.peak_rss as f64);
        }
        let (wall, rss) = (median(walls), median(rss) as u64);
        let (growth, met) = memory(n, rss, &mut last_rss);
        t.row(vec![
            n.to_string(),
            format!("{wall:.2}"),
            format!("{:.0}", n as f64 / wall),
            format!("{:.1}", mb(rss)),
            growth,
            "≤ 150 MB at 100k, sublinear".into(),
            verdict(met),
        ]);
    }
    t.print();

    let mut t = Table::new(
        "Scale: run, instant renders, small files (60 kB per video)",
        &[
            "rows",
            "wall s",
            "videos/s",
            "peak RSS MB",
            "RSS / row",
            "API calls",
            "target",
            "verdict",
        ],
    );
    let mut last_rss = None;
    for &n in run_sizes {
        let mut walls = Vec::new();
        let mut rss = Vec::new();
        let mut calls = 0;
        for _ in 0..opts.repeat(1) {
            let sandbox = harness::sandbox(harness::options(1000.0, 0.001, None)).await;
            let wd = Workdir::new("scale", &harness::sheet(n, |_| None), &fast_config());
            let fin = wd.run(&sandbox).await;
            calls = harness::Counted::of(&sandbox.stats()).api;
            sandbox.shutdown().await;
            walls.push(fin.wall.as_secs_f64());
            rss.push(fin.peak_rss as f64);
        }
        let (wall, rss) = (median(walls), median(rss) as u64);
        let vps = n as f64 / wall;
        let (growth, rss_ok) = memory(n, rss, &mut last_rss);
        t.row(vec![
            n.to_string(),
            format!("{wall:.1}"),
            format!("{vps:.0}"),
            format!("{:.1}", mb(rss)),
            growth,
            calls.to_string(),
            "≥ 200 videos/s; RSS ≤ 150 MB at 100k, sublinear".into(),
            verdict(vps >= 200.0 && rss_ok),
        ]);
    }
    t.print();
    if !opts.full {
        println!("(the 100k-row run takes several minutes: `-- scale --full`)");
    }
}

/// The RSS-per-row cell (growth since the previous size) and whether the memory target
/// holds: growing slower than the rows, and under [`RSS_TARGET`] at 100k rows.
fn memory(n: usize, rss: u64, last: &mut Option<(usize, u64)>) -> (String, bool) {
    let growth = match *last {
        Some((m, r)) => format!(
            "{:.0} B/row from {m} ({:.1}× RSS for {}× rows)",
            (rss as f64 - r as f64) / (n - m) as f64,
            rss as f64 / r as f64,
            n / m
        ),
        None => "—".into(),
    };
    let sublinear = last.is_none_or(|(m, r)| (rss as f64 / r as f64) < (n as f64 / m as f64));
    *last = Some((n, rss));
    (growth, sublinear && (n < 100_000 || rss <= RSS_TARGET))
}
