//! What every scenario needs: a sandbox in this process, a temporary folder with a generated
//! sheet and config, the real release binary run as a child process (its peak RSS sampled
//! from `/proc`), and the sandbox's counters sampled while it runs.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use creatify_batch::sandbox::{Sandbox, SandboxConfig, SandboxOptions, Stats};

/// The binary under test, built by `cargo bench` with the bench (release) profile.
pub const BIN: &str = env!("CARGO_BIN_EXE_creatify-batch");

/// The sandbox's own credentials, given to the runner.
const API_ID: &str = creatify_batch::sandbox::SANDBOX_API_ID;
const API_KEY: &str = creatify_batch::sandbox::SANDBOX_API_KEY;

/// Starts a sandbox with `options` (plenty of credits unless the caller says otherwise).
pub async fn sandbox(options: SandboxOptions) -> Sandbox {
    let mut cfg = SandboxConfig::for_tests();
    cfg.options = options;
    Sandbox::start(cfg).await.expect("the sandbox starts")
}

/// Sandbox options with a huge balance and the given clock, render speed and rate limit.
pub fn options(time_scale: f64, render_seconds: f64, rate_limit: Option<f64>) -> SandboxOptions {
    SandboxOptions {
        time_scale,
        render_seconds,
        rate_limit,
        credits: 1e12,
        ..SandboxOptions::default()
    }
}

/// The runner's `pipeline.toml`, as the bench sets it.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub requests_per_second: f64,
    pub burst: u32,
    pub max_in_flight: usize,
    pub download_concurrency: usize,
    pub poll_min: f64,
    pub poll_max: f64,
}

impl RunnerConfig {
    fn toml(&self) -> String {
        format!(
            "[api]\nrequest_timeout_secs = 60\n\
             [limits]\nrequests_per_second = {}\nburst = {}\nmax_in_flight = {}\ndownload_concurrency = {}\n\
             [retry]\nmax_retry_after_secs = 10\n\
             [poll]\nmin_interval_secs = {}\nmax_interval_secs = {}\njob_deadline_secs = 36000\n\
             [output]\nlog_interval_secs = 3600\n",
            self.requests_per_second,
            self.burst,
            self.max_in_flight,
            self.download_concurrency,
            self.poll_min,
            self.poll_max
        )
    }
}

/// One generated video row: its script length is what the estimate and the sandbox's
/// render time follow, or `duration` seconds when given.
pub fn sheet(rows: usize, duration: impl Fn(usize) -> Option<f64>) -> String {
    let mut s = String::with_capacity(rows * 110);
    s.push_str("key,name,script,avatar,voice,aspect,duration\n");
    for i in 0..rows {
        let d = duration(i).map(|d| format!("{d:.1}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "v{i:06},Video {i},\"Hello number {i}, this is a short script.\",edb9719c-42af-5c7f-83d5-b7de95567b5e,52825997-e2f1-5148-a3f3-620a6cb2bacf,9x16,{d}"
        );
    }
    s
}

/// A temporary folder holding a sheet, a config and `out/`.
pub struct Workdir {
    pub dir: tempfile::TempDir,
    pub sheet: PathBuf,
    pub config: PathBuf,
}

impl Workdir {
    /// Writes `csv` as `<batch>.csv` and `config` as `pipeline.toml`.
    pub fn new(batch: &str, csv: &str, config: &RunnerConfig) -> Workdir {
        Self::new_with(batch, csv, config, "")
    }

    /// [`Workdir::new`], with `limits` (lines) added to the config's `[limits]`.
    pub fn new_with(batch: &str, csv: &str, config: &RunnerConfig, limits: &str) -> Workdir {
        // $TMPDIR (or /tmp): on this machine a real disk, so fsyncs cost what they cost.
        let mut dir = tempfile::Builder::new()
            .prefix("creatify-bench-")
            .tempdir_in(std::env::temp_dir())
            .expect("temp dir");
        // BENCH_KEEP=1 keeps every run's folder (sheet, config, out/, journal) to look at.
        if std::env::var_os("BENCH_KEEP").is_some() {
            dir.disable_cleanup(true);
            eprintln!("keeping {}", dir.path().display());
        }
        let sheet = dir.path().join(format!("{batch}.csv"));
        std::fs::write(&sheet, csv).expect("sheet written");
        let config_path = dir.path().join("pipeline.toml");
        let toml = config
            .toml()
            .replace("[limits]\n", &format!("[limits]\n{limits}\n"));
        std::fs::write(&config_path, toml).expect("config written");
        Workdir {
            dir,
            sheet,
            config: config_path,
        }
    }

    /// Adds `line` to the config's `[section]`.
    pub fn configure(&self, section: &str, line: &str) {
        let toml = std::fs::read_to_string(&self.config).expect("config read");
        let header = format!("[{section}]\n");
        let toml = toml.replace(&header, &format!("{header}{line}\n"));
        std::fs::write(&self.config, toml).expect("config written");
    }

    /// `out/<batch>`.
    pub fn batch_dir(&self) -> PathBuf {
        let stem = self.sheet.file_stem().unwrap_or_default();
        self.dir.path().join("out").join(stem)
    }

    /// `creatify-batch run` against `base_url`.
    pub fn run_command(&self, base_url: &str) -> Command {
        self.run_command_to(base_url, "out")
    }

    /// `creatify-batch run` against `base_url`, delivering to `out` (a folder or a bucket).
    pub fn run_command_to(&self, base_url: &str, out: &str) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .args(["-q", "run"])
            .arg(&self.sheet)
            .arg("--config")
            .arg(&self.config)
            .args(["--base-url", base_url, "--out", out])
            .env("CREATIFY_API_ID", API_ID)
            .env("CREATIFY_API_KEY", API_KEY)
            .env_remove("CREATIFY_BASE_URL")
            .env_remove("CREATIFY_BATCH_LOG");
        cmd
    }

    /// Runs the batch against `sandbox` to its end; panics unless it exits 0.
    pub async fn run(&self, sandbox: &Sandbox) -> Finished {
        run_async(
            self.run_command(&sandbox.base_url()),
            self.dir.path().to_owned(),
        )
        .await
        .expect_code(0)
    }

    /// Plans the sheet; panics unless it exits 0.
    pub async fn plan(&self) -> Finished {
        run_async(self.plan_command(), self.dir.path().to_owned())
            .await
            .expect_code(0)
    }

    /// `creatify-batch plan`.
    pub fn plan_command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .arg("plan")
            .arg(&self.sheet)
            .arg("--config")
            .arg(&self.config);
        cmd
    }
}

/// How a child process ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub code: i32,
    pub wall: Duration,
    /// Peak resident set, bytes (`VmHWM`, sampled).
    pub peak_rss: u64,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Panics with the output when the exit code is not `want`.
    pub fn expect_code(self, want: i32) -> Self {
        assert_eq!(
            self.code, want,
            "exit code {} (wanted {want})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// Runs `cmd` to its end with stdout and stderr in files, and samples its peak RSS. Blocking.
///
/// The peak is the child's `VmHWM` (`/proc/<pid>/status`), read every few milliseconds while
/// it runs, not `wait4`'s `ru_maxrss`: Linux starts a child's `ru_maxrss` at its parent's
/// high-water mark when it execs (the spawning process's memory is the "old" one), so every
/// child of this process, which holds a sandbox with 100k jobs, would report at least this
/// process's own peak. `VmHWM` belongs to the memory the binary itself maps after `exec`.
pub fn run_child(mut cmd: Command, scratch: &Path) -> Finished {
    let out_path = scratch.join(format!("stdout-{}.txt", unique()));
    let err_path = scratch.join(format!("stderr-{}.txt", unique()));
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"));
    let started = Instant::now();
    let mut child = cmd.spawn().expect("the binary starts");
    let pid = child.id();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let path = format!("/proc/{pid}/status");
            let mut peak = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(kb) = std::fs::read_to_string(&path).ok().and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                }) {
                    peak = peak.max(kb * 1024);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            peak
        })
    };
    let status = child.wait().expect("wait for the binary");
    let wall = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak_rss = sampler.join().expect("the RSS sampler");
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        -status.signal().unwrap_or(0)
    });
    Finished {
        code,
        wall,
        peak_rss,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// Runs `cmd` off the async runtime, so the in-process sandbox keeps serving.
pub async fn run_async(cmd: Command, scratch: PathBuf) -> Finished {
    tokio::task::spawn_blocking(move || run_child(cmd, &scratch))
        .await
        .expect("join")
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Requests the sandbox answered, split the way the scenarios need.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counted {
    /// Every `/api/...` request (429s included).
    pub api: u64,
    /// `/api/...` requests answered 429.
    pub throttled: u64,
    /// Creation POSTs.
    pub creates: u64,
    /// `GET /api/lipsyncs_v2/` (batched polls and listings) and `GET .../{id}/`.
    pub polls: u64,
    /// Media downloads.
    pub media: u64,
}

impl Counted {
    pub fn of(stats: &Stats) -> Counted {
        let mut c = Counted::default();
        for (endpoint, by_status) in &stats.requests {
            let n: u64 = by_status.values().sum();
            let throttled = by_status.get("429").copied().unwrap_or(0);
            if endpoint.contains(" /api/") {
                c.api += n;
                c.throttled += throttled;
            }
            match endpoint.as_str() {
                "POST /api/lipsyncs_v2/" => c.creates += n,
                "GET /api/lipsyncs_v2/" | "GET /api/lipsyncs_v2/{id}/" => c.polls += n,
                "GET /media/jobs/{id}/{file}" => c.media += n,
                _ => {}
            }
        }
        c
    }

    /// API requests the sandbox served (not 429).
    pub fn served(&self) -> u64 {
        self.api - self.throttled
    }
}

/// The sandbox's counters sampled every `every` while a run goes on, to find when the first
/// and the last API request happened.
pub struct Sampler {
    samples: Arc<Mutex<Vec<(Duration, Counted)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    pub fn start(sandbox: &Sandbox, every: Duration) -> Sampler {
        let url = format!("{}/__sandbox/stats", sandbox.base_url());
        let samples = Arc::new(Mutex::new(Vec::new()));
        let out = samples.clone();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let t0 = Instant::now();
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Ok(resp) = client.get(&url).send().await else {
                    continue;
                };
                let Ok(stats) = resp.json::<Stats>().await else {
                    continue;
                };
                out.lock()
                    .unwrap()
                    .push((t0.elapsed(), Counted::of(&stats)));
            }
        });
        Sampler { samples, task }
    }

    /// Stops sampling; returns the first sample that saw an API request and the first
    /// sample that saw the final count: the window the run spent making requests.
    pub fn stop(self) -> Option<Window> {
        self.task.abort();
        let samples = self.samples.lock().unwrap();
        let last = samples.last()?.1.api;
        let first = samples.iter().find(|(_, c)| c.api > 0)?;
        let end = samples.iter().find(|(_, c)| c.api == last)?;
        Some(Window {
            from: first.0,
            to: end.0,
            at_from: first.1,
            at_to: end.1,
        })
    }
}

/// Two samples of the counters.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: Duration,
    pub to: Duration,
    pub at_from: Counted,
    pub at_to: Counted,
}

impl Window {
    /// Seconds between the two samples.
    pub fn secs(&self) -> f64 {
        (self.to - self.from).as_secs_f64()
    }

    /// Served API requests per second between the two samples.
    pub fn served_rate(&self) -> f64 {
        (self.at_to.served() - self.at_from.served()) as f64 / self.secs()
    }
}

/// The job objects the runner saved (`<folder>/job.json`), by folder (the row key: the
/// bench's keys are already filesystem-safe).
pub fn job_objects(batch_dir: &Path) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(batch_dir).into_iter().flatten().flatten() {
        let p = entry.path().join("job.json");
        if let Ok(text) = std::fs::read_to_string(&p) {
            if let Ok(v) = serde_json::from_str(&text) {
                out.push((entry.file_name().to_string_lossy().into_owned(), v));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Parses an ISO 8601 timestamp of a job object into Unix seconds.
pub fn unix_secs(job: &serde_json::Value, field: &str) -> Option<f64> {
    let s = job.get(field)?.as_str()?;
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

/// Seconds between a job's creation and its last status change (for a done job: its whole
/// render), on the real clock.
pub fn render_secs(job: &serde_json::Value) -> Option<f64> {
    Some(unix_secs(job, "updated_at")? - unix_secs(job, "created_at")?)
}

/// `(key, state, at)` of every journal event, oldest first.
pub fn journal_events(batch_dir: &Path) -> Vec<(String, String, f64)> {
    let conn = rusqlite::Connection::open_with_flags(
        batch_dir.join("journal.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("journal opens");
    let mut stmt = conn
        .prepare("SELECT key, state, at FROM events ORDER BY id")
        .expect("events query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("events")
        .map(|r| r.expect("event row"))
        .collect()
}

/// The median of `xs` (the middle one, or the mean of the two middle ones).
pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Bytes as MB (10^6), for tables.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
