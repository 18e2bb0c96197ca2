//! Shared test harness: a sandbox in this process on 127.0.0.1:0, a temporary folder with a
//! sheet and a fast config, and the real binary run against them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use creatify_batch::sandbox::{Credentials, Faults, Sandbox, SandboxConfig, Stats};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_creatify-batch");

/// Bytes the sandbox serves for every video and thumbnail (default assets).
pub const VIDEO: &[u8] = include_bytes!("../../samples/media/sandbox.mp4");
/// See [`VIDEO`].
pub const THUMBNAIL: &[u8] = include_bytes!("../../samples/media/thumbnail.jpg");

/// A config that makes runs take a second or two: fast polls, short windows, quick retries.
pub const FAST_CONFIG: &str = r#"
[api]
connect_timeout_secs = 2
request_timeout_secs = 3
[limits]
requests_per_second = 200
burst = 50
max_in_flight = 50
download_concurrency = 4
[retry]
max_attempts = 8
min_delay_secs = 0.05
max_delay_secs = 0.5
max_retry_after_secs = 5
reconcile_window_secs = 1
[poll]
min_interval_secs = 0.1
max_interval_secs = 0.5
job_deadline_secs = 60
[output]
log_interval_secs = 1
"#;

/// A sandbox plus a folder to run batches in.
pub struct Harness {
    /// Holds the sheet, the config and `out/`.
    pub dir: tempfile::TempDir,
    /// The sandbox.
    pub sandbox: Sandbox,
    /// Credentials the binary is given (and the sandbox expects).
    pub id: String,
    /// See `id`.
    pub key: String,
    /// What the sandbox was started with (its port filled in), for [`Harness::restart`].
    pub config: SandboxConfig,
}

/// Earlier jobs a test account holds.
pub const HISTORY: usize = 3;

fn with_history(mut faults: Faults) -> Faults {
    if faults.api.existing_jobs == 0 {
        faults.api.existing_jobs = HISTORY;
    }
    faults
}

impl Harness {
    /// A sandbox with `faults` and whatever `tweak` changes, 100× faster than real time. One
    /// with a state directory (one that may be restarted) listens on a port below the
    /// kernel's ephemeral range, which nothing else takes while it is down.
    ///
    /// Its account has history, as real ones do: [`HISTORY`] earlier jobs (unless `faults`
    /// or `tweak` say otherwise), so the job list can be read back past an attempt and prove
    /// a creation absent. A brand-new account's list cannot (`dialect::listing` tests it).
    pub async fn start(faults: Faults, tweak: impl FnOnce(&mut SandboxConfig)) -> Self {
        let mut cfg = SandboxConfig::for_tests();
        cfg.faults = with_history(faults);
        cfg.options.render_seconds = 30.0;
        cfg.credentials = Credentials {
            api_id: "test-id-7f3a".into(),
            api_key: "test-key-SECRET-91c2".into(),
            from_environment: true,
        };
        tweak(&mut cfg);
        let id = cfg.credentials.api_id.clone();
        let key = cfg.credentials.api_key.clone();
        let pick = cfg.port == 0 && cfg.options.state_dir.is_some();
        let mut tries = 0;
        let sandbox = loop {
            if pick {
                cfg.port = stable_port();
            }
            match Sandbox::start(cfg.clone()).await {
                Ok(s) => break s,
                // Another test may have probed the same port at the same instant.
                Err(_) if pick && tries < 10 => tries += 1,
                Err(e) => panic!("sandbox starts: {e:#}"),
            }
        };
        cfg.port = sandbox.addr().port();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("pipeline.toml"), FAST_CONFIG).expect("config written");
        warm_catalogue(&dir.path().join("cache"), &sandbox.base_url(), &id);
        Self {
            dir,
            sandbox,
            id,
            key,
            config: cfg,
        }
    }

    /// Stops the sandbox and starts it again on the same port (so the runner's base URL still
    /// works) with `faults`. With `options.state_dir` set it finds its jobs and credits again.
    pub async fn restart(self, faults: Faults) -> Self {
        let Self {
            dir,
            sandbox,
            id,
            key,
            mut config,
        } = self;
        sandbox.shutdown().await;
        config.faults = with_history(faults);
        let mut tries = 0;
        let sandbox = loop {
            match Sandbox::start(config.clone()).await {
                Ok(s) => break s,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("sandbox restarts on port {}: {e:#}", config.port),
            }
        };
        Self {
            dir,
            sandbox,
            id,
            key,
            config,
        }
    }

    /// Writes a sheet named `name` and returns its path.
    pub fn sheet(&self, name: &str, csv: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, csv).expect("sheet written");
        p
    }

    /// `out/<batch>`.
    pub fn batch_dir(&self, batch: &str) -> PathBuf {
        self.dir.path().join("out").join(batch)
    }

    /// The `run` command for `sheet`, ready to spawn.
    pub fn run_command(&self, sheet: &Path, extra: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .arg("run")
            .arg(sheet)
            .args(["--base-url", &self.sandbox.base_url()])
            .args(["--out", "out"])
            .args(extra)
            .env("CREATIFY_API_ID", &self.id)
            .env("CREATIFY_API_KEY", &self.key)
            .env_remove("CREATIFY_BASE_URL")
            // The account's catalogue is cached with the test, not in the user's home.
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `run` to its end (off the async runtime, so the sandbox keeps serving).
    pub async fn run(&self, sheet: &Path, extra: &[&str]) -> Output {
        let mut cmd = self.run_command(sheet, extra);
        tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
            .await
            .expect("join")
    }

    /// The sandbox's counters.
    pub fn stats(&self) -> Stats {
        self.sandbox.stats()
    }
}

/// Caches the sandbox's catalogue for the account `id` at `base_url` in `cache`, fetched just
/// now, as a first `run` or `avatars` would: runs then check their ids without asking the
/// API (so the API's counters are the batch's), unless a test removes the cache.
pub fn warm_catalogue(cache: &Path, base_url: &str, id: &str) {
    use creatify_batch::sandbox::catalog;
    use creatify_batch::sandbox::dialect::ListStyle;
    let none = std::collections::HashMap::new();
    let items = |v: serde_json::Value| v.as_array().cloned().unwrap_or_default();
    let personas = catalog::personas(base_url, &none, ListStyle::Array, 100).expect("personas");
    let voices = catalog::voices(base_url, &none, ListStyle::Array, 100).expect("voices");
    let now = creatify_batch::catalog::cache::now();
    let c = creatify_batch::catalog::Catalog::from_items(items(personas), items(voices), now);
    let url = url::Url::parse(base_url).expect("base URL");
    let target = creatify_batch::batch::Target::api(&url, id);
    let dir = cache.join("creatify-batch");
    creatify_batch::catalog::cache::save(&dir, &target, &c).expect("catalogue cached");
}

/// A free port below the kernel's ephemeral range (from `ip_local_port_range`): neither a
/// `bind` to port 0 nor an outgoing connection is given one, so a sandbox can stop and come
/// back on it.
fn stable_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let span = low.saturating_sub(10_000).max(1);
    (0..200)
        .map(|_| 10_000 + rand::random::<u16>() % span)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .unwrap_or(0)
}

/// A sheet of `n` one-scene videos with keys `v001`…
pub fn sheet_of(n: usize) -> String {
    let mut s = String::from("key,name,script,avatar,voice,aspect\n");
    for i in 1..=n {
        s.push_str(&format!(
            "v{i:03},Video {i},\"Hello number {i}, this is a short script.\",edb9719c-42af-5c7f-83d5-b7de95567b5e,52825997-e2f1-5148-a3f3-620a6cb2bacf,9x16\n"
        ));
    }
    s
}

/// The exit code, or a panic naming the output when the process was killed.
pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {}", text(out)))
}

/// stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Creations per job name, from the sandbox's counters: every row must have exactly one.
pub fn creations_by_key(stats: &Stats) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for (name, n) in &stats.jobs_by_name {
        let key = creatify_batch::engine::reference::user_part(name);
        *out.entry(key.to_owned()).or_insert(0) += n;
    }
    out
}

/// Each row's state (key → status), from the manifest.
pub fn states(batch_dir: &Path) -> std::collections::BTreeMap<String, String> {
    manifest_rows(batch_dir)
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The manifest's rows as JSON values.
pub fn manifest_rows(batch_dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(batch_dir.join("manifest.json")).expect("manifest.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    doc["rows"].as_array().cloned().unwrap_or_default()
}

/// Every regular file below `dir`.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}

/// Waits for `child`, killing it after `limit`: a hang is an error, with the output's end.
pub async fn wait_bounded(child: Child, limit: Duration) -> Result<Output, String> {
    let pid = child.id();
    let mut waiting = tokio::task::spawn_blocking(move || child.wait_with_output());
    match tokio::time::timeout(limit, &mut waiting).await {
        Ok(out) => Ok(out.expect("join").expect("wait")),
        Err(_) => {
            // SAFETY: kill(2) on our own child, which has not been reaped (we still wait).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            let out = waiting.await.expect("join").expect("wait");
            let all = text(&out);
            let tail: String = all
                .chars()
                .skip(all.chars().count().saturating_sub(3000))
                .collect();
            Err(format!(
                "hung: still running after {limit:?}, killed; output ends:\n{tail}"
            ))
        }
    }
}

/// Requests the sandbox answered, whatever their status, on routes starting with `route`
/// (`"GET /api/personas/"`, say).
pub fn calls_to(h: &Harness, route: &str) -> u64 {
    h.stats()
        .requests
        .iter()
        .filter(|(r, _)| r.starts_with(route))
        .flat_map(|(_, by_code)| by_code.values())
        .sum()
}

/// Status calls the sandbox answered (`?ids=` rounds and single GETs).
pub fn status_calls(h: &Harness) -> u64 {
    calls_to(h, "GET /api/lipsyncs_v2/")
}
