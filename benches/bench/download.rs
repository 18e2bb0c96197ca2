//! Scenario 4, downloads: one video whose output file is 1 GiB (`video_bytes`). The runner's
//! download time is read from its journal (the `done` event to the `downloaded` event: both
//! files streamed, hashed, fsynced, renamed); curl then fetches the same signed URL in the
//! same run. RSS growth is the runner's peak RSS minus that of the same run with the small
//! sample video.

use std::process::Command;
use std::time::Instant;

use crate::harness::{self, mb, median, RunnerConfig, Workdir};
use crate::table::{verdict, Table};
use crate::Opts;

const CURL: &str = "/usr/bin/curl";
const GIB: u64 = 1 << 30;

struct Outcome {
    runner_secs: f64,
    curl_secs: f64,
    curl_fsync_secs: f64,
    peak_rss: u64,
    baseline_rss: u64,
}

fn config() -> RunnerConfig {
    RunnerConfig {
        requests_per_second: 50.0,
        burst: 10,
        max_in_flight: 10,
        download_concurrency: 4,
        poll_min: 0.1,
        poll_max: 0.5,
    }
}

pub async fn run(opts: Opts) {
    let mut outcomes = Vec::new();
    for _ in 0..opts.repeat(3) {
        outcomes.push(once().await);
    }
    let runner = median(outcomes.iter().map(|o| o.runner_secs).collect());
    let curl = median(outcomes.iter().map(|o| o.curl_secs).collect());
    let curl_fsync = median(outcomes.iter().map(|o| o.curl_fsync_secs).collect());
    let peak = median(outcomes.iter().map(|o| o.peak_rss as f64).collect()) as u64;
    let base = median(outcomes.iter().map(|o| o.baseline_rss as f64).collect()) as u64;
    let growth = peak.saturating_sub(base);
    let mibps = |s: f64| GIB as f64 / s / (1 << 20) as f64;
    let mut t = Table::new(
        &format!("Downloads: one 1 GiB video, median of {}", outcomes.len()),
        &[
            "client",
            "seconds",
            "MiB/s",
            "runner / client",
            "target",
            "verdict",
        ],
    );
    t.row(vec![
        "creatify-batch (stream, SHA-256, fsync, rename)".into(),
        format!("{runner:.2}"),
        format!("{:.0}", mibps(runner)),
        "1.00".into(),
        String::new(),
        String::new(),
    ]);
    t.row(vec![
        "curl -o".into(),
        format!("{curl:.2}"),
        format!("{:.0}", mibps(curl)),
        format!("{:.2}", curl / runner),
        "≥ 0.85".into(),
        verdict(curl / runner >= 0.85),
    ]);
    t.row(vec![
        "curl -o, then fsync".into(),
        format!("{curl_fsync:.2}"),
        format!("{:.0}", mibps(curl_fsync)),
        format!("{:.2}", curl_fsync / runner),
        String::new(),
        String::new(),
    ]);
    t.print();
    let mut t = Table::new(
        "Downloads: runner memory",
        &["run", "peak RSS MB", "growth MB", "target", "verdict"],
    );
    t.row(vec![
        "1 video, 60 kB file".into(),
        format!("{:.1}", mb(base)),
        "—".into(),
        String::new(),
        String::new(),
    ]);
    t.row(vec![
        "1 video, 1 GiB file".into(),
        format!("{:.1}", mb(peak)),
        format!("{:.1}", mb(growth)),
        "≤ 32 MB".into(),
        verdict(growth <= 32_000_000),
    ]);
    t.print();
}

async fn once() -> Outcome {
    // The big file.
    let mut options = harness::options(100.0, 0.05, None);
    options.video_bytes = Some(GIB);
    let sandbox = harness::sandbox(options).await;
    let wd = Workdir::new("download", &harness::sheet(1, |_| None), &config());
    let fin = wd.run(&sandbox).await;
    let batch_dir = wd.batch_dir();
    let events = harness::journal_events(&batch_dir);
    let at = |state: &str| {
        events
            .iter()
            .find(|(_, s, _)| s == state)
            .map(|e| e.2)
            .expect("journal event")
    };
    let runner_secs = at("downloaded") - at("done");
    let (_, job) = harness::job_objects(&batch_dir)
        .pop()
        .expect("a job object");
    let url = job["output"].as_str().expect("an output URL").to_owned();
    // Free the disk before curl writes its copy.
    let _ = std::fs::remove_dir_all(&batch_dir);

    let target = wd.dir.path().join("curl.mp4");
    let (curl_secs, curl_fsync_secs) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let status = Command::new(CURL)
            .args(["-s", "-f", "-o"])
            .arg(&target)
            .arg(&url)
            .status()
            .expect("curl runs");
        assert!(status.success(), "curl failed: {status}");
        let curl = started.elapsed().as_secs_f64();
        std::fs::File::open(&target)
            .and_then(|f| f.sync_all())
            .expect("fsync");
        let with_fsync = started.elapsed().as_secs_f64();
        assert_eq!(std::fs::metadata(&target).map(|m| m.len()).ok(), Some(GIB));
        let _ = std::fs::remove_file(&target);
        (curl, with_fsync)
    })
    .await
    .expect("join");
    sandbox.shutdown().await;

    // The same run with the small sample video: the baseline for RSS growth.
    let sandbox = harness::sandbox(harness::options(100.0, 0.05, None)).await;
    let wd = Workdir::new("download", &harness::sheet(1, |_| None), &config());
    let base = wd.run(&sandbox).await;
    sandbox.shutdown().await;

    Outcome {
        runner_secs,
        curl_secs,
        curl_fsync_secs,
        peak_rss: fin.peak_rss,
        baseline_rss: base.peak_rss,
    }
}
