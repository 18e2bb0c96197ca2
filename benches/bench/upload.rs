//! Scenario "upload": one video whose file is 1 GiB, streamed from the sandbox straight into
//! a real S3 server (SeaweedFS on 127.0.0.1, as in the storage tests) with `--out s3://`.
//! The runner's time is its journal's `done` → `downloaded` interval (both files streamed,
//! hashed, uploaded in parts, completed, recorded); its RSS growth is its peak minus that of
//! the same run with the 60 kB sample. For comparison, `curl URL | aws s3 cp - s3://...`
//! (the same stream through the AWS CLI) when `aws` is installed, its peak RSS from
//! `/usr/bin/time`.

use std::process::Command;

use crate::harness::{self, mb, median, RunnerConfig, Workdir};
use crate::seaweed;
use crate::table::{verdict, Table};
use crate::Opts;

const GIB: u64 = 1 << 30;

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

struct Outcome {
    runner_secs: f64,
    peak_rss: u64,
    baseline_rss: u64,
    aws: Option<(f64, u64)>,
}

pub async fn run(opts: Opts) {
    let server = seaweed::server();
    let mut outcomes = Vec::new();
    for _ in 0..opts.repeat(1) {
        outcomes.push(once(server).await);
    }
    let runner = median(outcomes.iter().map(|o| o.runner_secs).collect());
    let peak = median(outcomes.iter().map(|o| o.peak_rss as f64).collect()) as u64;
    let base = median(outcomes.iter().map(|o| o.baseline_rss as f64).collect()) as u64;
    let growth = peak.saturating_sub(base);
    let mibps = |s: f64| GIB as f64 / s / (1 << 20) as f64;
    let mut t = Table::new(
        &format!(
            "Uploads: one 1 GiB video streamed to SeaweedFS, median of {}",
            outcomes.len()
        ),
        &[
            "client",
            "seconds",
            "MiB/s",
            "peak RSS MB",
            "growth MB",
            "target",
            "verdict",
        ],
    );
    t.row(vec![
        "creatify-batch, 60 kB file".into(),
        String::new(),
        String::new(),
        format!("{:.1}", mb(base)),
        "—".into(),
        String::new(),
        String::new(),
    ]);
    t.row(vec![
        "creatify-batch --out s3:// (stream, SHA-256, multipart)".into(),
        format!("{runner:.2}"),
        format!("{:.0}", mibps(runner)),
        format!("{:.1}", mb(peak)),
        format!("{:.1}", mb(growth)),
        "≤ 32 MB".into(),
        verdict(growth <= 32_000_000),
    ]);
    let aws: Vec<(f64, u64)> = outcomes.iter().filter_map(|o| o.aws).collect();
    if !aws.is_empty() {
        let secs = median(aws.iter().map(|a| a.0).collect());
        let rss = median(aws.iter().map(|a| a.1 as f64).collect()) as u64;
        t.row(vec![
            "curl, piped to aws s3 cp -".into(),
            format!("{secs:.2}"),
            format!("{:.0}", mibps(secs)),
            format!("{:.1}", mb(rss)),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    t.print();
}

async fn once(server: &seaweed::Seaweed) -> Outcome {
    let mut options = harness::options(100.0, 0.05, None);
    options.video_bytes = Some(GIB);
    let sandbox = harness::sandbox(options).await;
    let wd = Workdir::new("upload", &harness::sheet(1, |_| None), &config());
    let prefix = seaweed::prefix("bench");
    let out = format!("s3://{}/{prefix}", seaweed::BUCKET);
    let mut cmd = wd.run_command_to(&sandbox.base_url(), &out);
    cmd.envs(server.env());
    let fin = harness::run_async(cmd, wd.dir.path().to_owned())
        .await
        .expect_code(0);
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
    let objects = seaweed::list(&format!("{prefix}/upload")).await;
    assert!(
        objects
            .iter()
            .any(|o| o.rel.ends_with("video.mp4") && o.size == GIB),
        "the 1 GiB object is in the bucket: {objects:?}"
    );
    // The job object is in the bucket, not in the batch folder.
    let job_json = objects
        .iter()
        .find(|o| o.rel.ends_with("job.json"))
        .map(|o| format!("{prefix}/upload/{}", o.rel));
    let job: serde_json::Value = match job_json {
        Some(key) => serde_json::from_slice(&seaweed::read(&key).await).unwrap_or_default(),
        None => serde_json::Value::Null,
    };
    let url = job["output"].as_str().map(str::to_owned);
    let aws = match url {
        Some(url) => {
            let env = server.env();
            let dest = format!("s3://{}/{prefix}/aws-copy.mp4", seaweed::BUCKET);
            tokio::task::spawn_blocking(move || aws_copy(&url, &dest, &env))
                .await
                .ok()
                .flatten()
        }
        None => None,
    };
    sandbox.shutdown().await;

    let sandbox = harness::sandbox(harness::options(100.0, 0.05, None)).await;
    let wd = Workdir::new("upload", &harness::sheet(1, |_| None), &config());
    let mut cmd = wd.run_command_to(&sandbox.base_url(), &format!("{out}-small"));
    cmd.envs(server.env());
    let base = harness::run_async(cmd, wd.dir.path().to_owned())
        .await
        .expect_code(0);
    sandbox.shutdown().await;
    Outcome {
        runner_secs,
        peak_rss: fin.peak_rss,
        baseline_rss: base.peak_rss,
        aws,
    }
}

/// `curl URL | aws s3 cp - DEST`: its seconds and the AWS CLI's peak RSS, when both tools
/// are there.
fn aws_copy(url: &str, dest: &str, env: &[(&'static str, String)]) -> Option<(f64, u64)> {
    let has = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has("aws") || !has("curl") {
        return None;
    }
    let started = std::time::Instant::now();
    let out = Command::new("sh")
        .args([
            "-c",
            "curl -sf \"$1\" | /usr/bin/time -f '%M' aws s3 cp --only-show-errors - \"$2\"",
            "sh",
            url,
            dest,
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .ok()?;
    let secs = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse::<u64>().ok());
    match kib {
        Some(kib) if out.status.success() => Some((secs, kib * 1024)),
        _ => {
            eprintln!("curl | aws s3 cp failed ({}): {stderr}", out.status);
            None
        }
    }
}
