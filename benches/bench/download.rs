//! Scenario 4, downloads: one video whose output file is 1 GiB (`video_bytes`). The runner's
//! download time is read from its journal (the `done` event to the `downloaded` event: both
//! files streamed, hashed, fsynced, renamed); curl then fetches the same signed URL in the
//! same run. RSS growth is the runner's peak RSS minus that of the same run with the small
//! sample video. CPU is each child's user and system time (`getrusage` of the children,
//! before and after it), and the bench process's own for the in-process sandbox serving the
//! file.
//!
//! `BENCH_DOWNLOAD_VS=/path/to/creatify-batch` also runs that binary (an older build, say)
//! against the same sandbox in every repetition, in alternating order with this one, for a
//! side-by-side comparison in one run.

use std::process::Command;
use std::time::Instant;

use crate::harness::{self, mb, median, RunnerConfig, Workdir};
use crate::table::{verdict, Table};
use crate::Opts;

const CURL: &str = "/usr/bin/curl";
const GIB: u64 = 1 << 30;

struct Outcome {
    runner: Timed,
    /// The `BENCH_DOWNLOAD_VS` binary's run.
    other: Option<Timed>,
    curl: Timed,
    curl_fsync_secs: f64,
    peak_rss: u64,
    baseline_rss: u64,
}

/// One client's download: its seconds, its own CPU and the sandbox's while it ran.
#[derive(Clone, Copy)]
struct Timed {
    secs: f64,
    cpu: Cpu,
    sandbox: Cpu,
}

/// User and system CPU seconds.
#[derive(Clone, Copy, Default)]
struct Cpu {
    user: f64,
    sys: f64,
}

impl Cpu {
    /// `RUSAGE_CHILDREN` (the children waited for so far) or `RUSAGE_SELF`.
    fn now(who: libc::c_int) -> Cpu {
        // SAFETY: getrusage writes only the struct it is handed.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut u) } != 0 {
            return Cpu::default();
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Cpu {
            user: secs(u.ru_utime),
            sys: secs(u.ru_stime),
        }
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            user: self.user - before.user,
            sys: self.sys - before.sys,
        }
    }
}

/// CPU of the children and of this process (the sandbox), read before a child runs.
struct Meter(Cpu, Cpu);

impl Meter {
    fn start() -> Meter {
        Meter(Cpu::now(libc::RUSAGE_CHILDREN), Cpu::now(libc::RUSAGE_SELF))
    }

    fn stop(self, secs: f64) -> Timed {
        Timed {
            secs,
            cpu: Cpu::now(libc::RUSAGE_CHILDREN).since(self.0),
            sandbox: Cpu::now(libc::RUSAGE_SELF).since(self.1),
        }
    }
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
    let other = std::env::var("BENCH_DOWNLOAD_VS").ok();
    let mut outcomes = Vec::new();
    for i in 0..opts.repeat(3) {
        outcomes.push(once(i, other.as_deref()).await);
    }
    let runner = medians(outcomes.iter().map(|o| o.runner));
    let curl = medians(outcomes.iter().map(|o| o.curl));
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
            "CPU user s",
            "CPU sys s",
            "sandbox CPU s",
            "target",
            "verdict",
        ],
    );
    let cpu = |t: &Timed| {
        [
            format!("{:.2}", t.cpu.user),
            format!("{:.2}", t.cpu.sys),
            format!("{:.2}", t.sandbox.user + t.sandbox.sys),
        ]
    };
    let row = |name: &str, t: &Timed, ratio: String, target: &str, verdict: String| {
        let mut r = vec![
            name.to_owned(),
            format!("{:.2}", t.secs),
            format!("{:.0}", mibps(t.secs)),
            ratio,
        ];
        r.extend(cpu(t));
        r.push(target.to_owned());
        r.push(verdict);
        r
    };
    t.row(row(
        "creatify-batch (stream, SHA-256, fsync, rename)",
        &runner,
        "1.00".into(),
        "",
        String::new(),
    ));
    if let Some(path) = &other {
        let o = medians(outcomes.iter().filter_map(|o| o.other));
        t.row(row(
            &format!("{path} (BENCH_DOWNLOAD_VS)"),
            &o,
            format!("{:.2}", o.secs / runner.secs),
            "",
            String::new(),
        ));
    }
    t.row(row(
        "curl -o",
        &curl,
        format!("{:.2}", curl.secs / runner.secs),
        "≥ 0.85",
        verdict(curl.secs / runner.secs >= 0.85),
    ));
    t.row(vec![
        "curl -o, then fsync".into(),
        format!("{curl_fsync:.2}"),
        format!("{:.0}", mibps(curl_fsync)),
        format!("{:.2}", curl_fsync / runner.secs),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]);
    t.print();
    // Each run's own ratio: the median ratio is not the ratio of the medians.
    let ratios: Vec<String> = outcomes
        .iter()
        .map(|o| {
            let mut s = format!("{:.2}", o.curl.secs / o.runner.secs);
            if let Some(x) = o.other {
                s.push_str(&format!(" (vs: {:.2})", o.curl.secs / x.secs));
            }
            s
        })
        .collect();
    println!("curl / runner in each run: {}\n", ratios.join(", "));
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

/// The medians of each figure.
fn medians(runs: impl Iterator<Item = Timed> + Clone) -> Timed {
    let m = |f: fn(&Timed) -> f64| median(runs.clone().map(|t| f(&t)).collect());
    Timed {
        secs: m(|t| t.secs),
        cpu: Cpu {
            user: m(|t| t.cpu.user),
            sys: m(|t| t.cpu.sys),
        },
        sandbox: Cpu {
            user: m(|t| t.sandbox.user),
            sys: m(|t| t.sandbox.sys),
        },
    }
}

/// One batch of one 1 GiB video by `bin` (None: this build); its download's time and CPU,
/// the video's URL, its peak RSS. The batch folder is removed after.
async fn runner_once(
    sandbox: &creatify_batch::sandbox::Sandbox,
    bin: Option<&str>,
) -> (Timed, String, u64) {
    let wd = Workdir::new("download", &harness::sheet(1, |_| None), &config());
    let mut cmd = wd.run_command(&sandbox.base_url());
    if let Some(bin) = bin {
        let mut other = Command::new(bin);
        other.args(cmd.get_args());
        if let Some(dir) = cmd.get_current_dir() {
            other.current_dir(dir);
        }
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => other.env(k, v),
                None => other.env_remove(k),
            };
        }
        cmd = other;
    }
    let meter = Meter::start();
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
    let timed = meter.stop(at("downloaded") - at("done"));
    let (_, job) = harness::job_objects(&batch_dir)
        .pop()
        .expect("a job object");
    let url = job["output"].as_str().expect("an output URL").to_owned();
    // Free the disk before the next client writes its copy.
    let _ = std::fs::remove_dir_all(&batch_dir);
    (timed, url, fin.peak_rss)
}

async fn once(i: usize, other_bin: Option<&str>) -> Outcome {
    // The big file.
    let mut options = harness::options(100.0, 0.05, None);
    options.video_bytes = Some(GIB);
    let sandbox = harness::sandbox(options).await;
    // With a second binary, the two take turns going first.
    let mut other = None;
    let other_first = i % 2 == 1;
    if other_bin.is_some() && other_first {
        other = Some(runner_once(&sandbox, other_bin).await.0);
    }
    let (runner, url, peak_rss) = runner_once(&sandbox, None).await;
    if other_bin.is_some() && !other_first {
        other = Some(runner_once(&sandbox, other_bin).await.0);
    }

    let wd = Workdir::new("download", &harness::sheet(1, |_| None), &config());
    let target = wd.dir.path().join("curl.mp4");
    let meter = Meter::start();
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
    let curl = meter.stop(curl_secs);
    sandbox.shutdown().await;

    // The same run with the small sample video: the baseline for RSS growth.
    let sandbox = harness::sandbox(harness::options(100.0, 0.05, None)).await;
    let wd = Workdir::new("download", &harness::sheet(1, |_| None), &config());
    let base = wd.run(&sandbox).await;
    sandbox.shutdown().await;

    Outcome {
        runner,
        other,
        curl,
        curl_fsync_secs,
        peak_rss,
        baseline_rss: base.peak_rss,
    }
}
