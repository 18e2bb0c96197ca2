//! Crash safety (issue 5): the runner killed with SIGKILL at seeded random instants against a
//! sandbox in a separate process with faults on, rerun until done; then every promise is
//! checked from the sandbox's counters and the files on disk. Also kills during
//! `--retry-failed` and during a large download, and a full disk.
//!
//! Sizes: `CRASH_ROWS` (default 200) and `CRASH_KILLS` (default 25) scale the main test.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use creatify_batch::journal::{Journal, RowState};

use crate::support::*;

const ID: &str = "crash-id-0a1b";
const KEY: &str = "crash-key-SECRET-77e1";

/// `creatify-batch sandbox` in its own process, killed when dropped.
struct ExternalSandbox {
    child: Child,
    url: String,
}

impl ExternalSandbox {
    fn start(dir: &Path, faults: &str, args: &[&str]) -> Self {
        let faults_file = dir.join("faults.toml");
        // The account has history, as real ones do (see `support::Harness::start`).
        let faults = if faults.contains("[api]") {
            faults.to_owned()
        } else {
            format!(
                "[api]\nexisting_jobs = {}\n{faults}",
                crate::support::HISTORY
            )
        };
        std::fs::write(&faults_file, faults).unwrap();
        let mut child = Command::new(BIN)
            .args(["sandbox", "--port", "0", "--seed", "42"])
            .arg("--faults")
            .arg(&faults_file)
            .arg("--state-dir")
            .arg(dir.join("sandbox-state"))
            .args(args)
            .env("CREATIFY_API_ID", ID)
            .env("CREATIFY_API_KEY", KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        lines.read_line(&mut first).unwrap();
        // Keep draining: a closed pipe would kill the sandbox at its next line.
        std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
        let url = first
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        Self { child, url }
    }

    async fn stats(&self) -> serde_json::Value {
        reqwest::get(format!("{}/__sandbox/stats", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for ExternalSandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A run of the real binary against `sb`, output to `out`.
fn runner(sb: &ExternalSandbox, dir: &Path, sheet: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .arg("run")
        .arg(sheet)
        .args(["--base-url", &sb.url, "-q"])
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("CREATIFY_API_ID", ID)
        .env("CREATIFY_API_KEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A temp folder with a separate sandbox (`faults`, `args`), the fast config, a sheet of
/// `rows` videos named `name.csv`, and where the output goes.
struct Setup {
    dir: tempfile::TempDir,
    sb: ExternalSandbox,
    sheet: PathBuf,
    out: PathBuf,
}

impl Setup {
    fn new(name: &str, rows: usize, faults: &str, args: &[&str], config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sb = ExternalSandbox::start(dir.path(), faults, args);
        std::fs::write(dir.path().join("pipeline.toml"), config).unwrap();
        let sheet = dir.path().join(format!("{name}.csv"));
        std::fs::write(&sheet, sheet_of(rows)).unwrap();
        let out = dir.path().join("out");
        Self {
            dir,
            sb,
            sheet,
            out,
        }
    }

    fn run(&self, extra: &[&str]) -> Command {
        runner(&self.sb, self.dir.path(), &self.sheet, &self.out, extra)
    }
}

async fn finish(cmd: Command) -> std::process::Output {
    let mut cmd = cmd;
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

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

/// Starts the runner, kills it with SIGKILL after a seeded delay, `kills` times (a run that
/// ends by itself first ends the loop). Returns the kills that landed.
async fn kill_repeatedly(
    make: impl Fn() -> Command,
    kills: usize,
    delays: &mut Delays,
    lo: u64,
    hi: u64,
) -> usize {
    let mut landed = 0;
    while landed < kills {
        let mut child = make().spawn().unwrap();
        tokio::time::sleep(delays.next(lo, hi)).await;
        if child.try_wait().unwrap().is_some() {
            return landed;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        landed += 1;
    }
    landed
}

fn per_row(stats: &serde_json::Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (name, n) in stats["jobs_by_name"].as_object().unwrap() {
        let row = creatify_batch::engine::reference::user_part(name);
        *out.entry(row.to_owned()).or_insert(0) += n.as_u64().unwrap();
    }
    out
}

fn no_partials(dir: &Path) {
    let partials: Vec<PathBuf> = files_below(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(partials.is_empty(), "left behind: {partials:?}");
}

/// The manifest says what the journal says, and the files are what both say.
fn manifest_matches_journal(batch_dir: &Path) {
    let snapshot = Journal::open_read_only(batch_dir).unwrap().unwrap();
    let rows = manifest_rows(batch_dir);
    assert_eq!(rows.len(), snapshot.rows.len());
    for (m, j) in rows.iter().zip(&snapshot.rows) {
        assert_eq!(m["key"], j.key.as_str());
        assert_eq!(m["status"], j.state.as_str());
        assert_eq!(m["job_id"].as_str(), j.job_id.as_deref());
        let video = j.video.as_ref().unwrap();
        assert_eq!(m["video_sha256"], video.sha256.as_str());
        let bytes = std::fs::read(batch_dir.join(&video.path)).unwrap();
        assert_eq!(bytes.len() as u64, video.bytes);
    }
}

const FAULTS: &str = r#"
[create]
lost = 0.1
reset = 0.05
status_503 = 0.05
[poll]
status_500 = 0.05
reset = 0.05
[download]
truncate = 0.1
"#;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_instants_against_a_separate_sandbox_never_pays_twice() {
    let rows: usize = std::env::var("CRASH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    sigkills_never_pay_twice("crash", FAULTS, rows, kills, 0xc0ffee).await;
}

/// The hostile dialect (`sandbox::dialect::Dialect::hostile`): job lists and `?ids=` in DRF
/// pages of 7, a list capped to the newest 500 jobs, names cut to 40 characters with their
/// brackets rewritten, statuses in upper case.
const HOSTILE: &str = r#"
[api]
existing_jobs = 3
list = "drf_page"
ids = "drf_page"
page_size = 7
list_cap = 500
name_max = 40
name = "rewrite_brackets"
status_case = "upper"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_instants_under_a_hostile_dialect_never_pays_twice() {
    let rows: usize = std::env::var("CRASH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let faults = format!("{HOSTILE}{FAULTS}");
    sigkills_never_pay_twice("hostile", &faults, rows, kills, 0xbad5eed).await;
}

/// `rows` rows, `kills` SIGKILLs at seeded instants against a separate sandbox with `faults`
/// and 429 storms, rerun to the end: exactly one job per row, every file whole.
async fn sigkills_never_pay_twice(name: &str, faults: &str, rows: usize, kills: usize, seed: u64) {
    // A server limit of 30/s under a runner told 60/s makes 429 storms; renders take ~8 s.
    let t = Setup::new(
        name,
        rows,
        faults,
        &[
            "--time-scale",
            "1",
            "--render-seconds",
            "60",
            "--rate-limit",
            "30",
            "--burst",
            "10",
        ],
        &FAST_CONFIG.replace("requests_per_second = 200", "requests_per_second = 60"),
    );
    let mut delays = Delays(seed);

    let started = Instant::now();
    let landed = kill_repeatedly(|| t.run(&[]), kills, &mut delays, 50, 700).await;
    let last = finish(t.run(&[])).await;
    assert_eq!(code(&last), 0, "{}", text(&last));
    eprintln!(
        "{name}: {rows} rows, {landed} SIGKILLs, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        landed >= kills.min(25),
        "only {landed} kills landed before the batch finished"
    );

    let stats = t.sb.stats().await;
    let created = per_row(&stats);
    assert_eq!(created.len(), rows, "rows without a job");
    let twice: Vec<_> = created.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "rows created more than once: {twice:?}");
    let faults = &stats["faults"];
    eprintln!(
        "faults injected: {faults}; throttled: {}",
        stats["throttled"]
    );
    assert!(
        stats["throttled"].as_u64().unwrap() > 0,
        "no 429 storm happened"
    );

    let batch_dir = t.out.join(name);
    for r in manifest_rows(&batch_dir) {
        assert_eq!(r["status"], "downloaded", "{r}");
        assert_eq!(
            std::fs::read(batch_dir.join(r["video"].as_str().unwrap())).unwrap(),
            VIDEO
        );
        assert_eq!(
            std::fs::read(batch_dir.join(r["thumbnail"].as_str().unwrap())).unwrap(),
            THUMBNAIL
        );
    }
    manifest_matches_journal(&batch_dir);
    no_partials(t.dir.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_retry_failed_resubmits_each_failed_row_once() {
    let t = Setup::new(
        "retry",
        20,
        "[jobs]\nfail = 0.4\n[create]\nlost = 0.2\n",
        &["--time-scale", "1", "--render-seconds", "30"],
        FAST_CONFIG,
    );
    let first = finish(t.run(&[])).await;
    assert_eq!(code(&first), 1, "{}", text(&first));
    let failed: Vec<String> = manifest_rows(&t.out.join("retry"))
        .into_iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!failed.is_empty());

    let mut delays = Delays(7);
    let landed = kill_repeatedly(|| t.run(&["--retry-failed"]), 8, &mut delays, 30, 600).await;
    assert!(landed >= 3, "only {landed} kills landed");
    // Let it end; rows that failed again stay failed (their fate is seeded by name).
    let last = finish(t.run(&[])).await;
    assert!(matches!(code(&last), 0 | 1), "{}", text(&last));

    // Exactly one job per reference (a reference is a row and a generation), one generation
    // per --retry-failed that found the row failed.
    let stats = t.sb.stats().await;
    for (name, n) in stats["jobs_by_name"].as_object().unwrap() {
        assert_eq!(n.as_u64(), Some(1), "{name} was created {n} times");
    }
    let created = per_row(&stats);
    let journal = Journal::open_read_only(&t.out.join("retry"))
        .unwrap()
        .unwrap();
    for row in &journal.rows {
        let name = row.name.clone().unwrap();
        let n = created[&name];
        assert_eq!(
            n,
            u64::from(row.generation) + 1,
            "row {name}: {n} jobs, generation {}",
            row.generation
        );
        if failed.contains(&name) {
            assert!(n >= 2, "failed row {name} was not retried");
        } else {
            assert_eq!(n, 1, "row {name} never failed but was created {n} times");
        }
    }
    no_partials(t.dir.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_a_large_download_resumes_without_corruption() {
    let t = Setup::new(
        "big",
        1,
        "",
        &[
            "--time-scale",
            "100",
            "--render-seconds",
            "30",
            "--video-bytes",
            "100000000",
        ],
        FAST_CONFIG,
    );
    let partial = t.out.join("big/v001/video.mp4.partial");

    let mut child = t.run(&[]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 10_000_000 {
        assert!(Instant::now() < deadline, "the download never started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let cut_at = std::fs::metadata(&partial).unwrap().len();
    assert!(cut_at < 100_000_000);

    let last = finish(t.run(&[])).await;
    assert_eq!(code(&last), 0, "{}", text(&last));
    let stats = t.sb.stats().await;
    let media = &stats["requests"]["GET /media/jobs/{id}/{file}"];
    assert!(
        media["206"].as_u64().unwrap_or(0) >= 1,
        "the rerun did not resume with Range: {media}"
    );

    // What the sandbox serves, fetched whole and independently.
    let job: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.out.join("big/v001/job.json")).unwrap())
            .unwrap();
    let fresh: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/api/lipsyncs_v2/{}/",
            t.sb.url,
            job["id"].as_str().unwrap()
        ))
        .header("X-API-ID", ID)
        .header("X-API-KEY", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let served = reqwest::get(fresh["output"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let got = std::fs::read(t.out.join("big/v001/video.mp4")).unwrap();
    assert_eq!(got.len(), served.len());
    assert!(
        got == served,
        "the resumed file differs from what the sandbox serves"
    );
    manifest_matches_journal(&t.out.join("big"));
    no_partials(t.dir.path());
}

/// A small tmpfs for the output folder, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(at.to_owned()))
    }

    fn grow(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount failed");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_is_a_clear_error_and_the_rerun_finishes() {
    // Each video is 1 MB; 400 KB holds the journal but not the files.
    let t = Setup::new(
        "full",
        4,
        "",
        &[
            "--time-scale",
            "100",
            "--render-seconds",
            "30",
            "--video-bytes",
            "1000000",
        ],
        FAST_CONFIG,
    );
    // CI and developers run as root, where tmpfs mounts work; elsewhere the same limit comes
    // from RLIMIT_FSIZE, the "injected write error" variant.
    let disk = SmallDisk::mount(&t.out, "400k");
    let mut cmd = t.run(&[]);
    if disk.is_none() {
        use std::os::unix::process::CommandExt;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let lim = libc::rlimit {
                    rlim_cur: 400_000,
                    rlim_max: 400_000,
                };
                libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
                Ok(())
            });
        }
    }
    let first = finish(cmd).await;
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_ne!(code(&first), 0, "{}", text(&first));
    assert!(
        stderr.contains("No space left on device")
            || stderr.contains("File too large")
            || stderr.contains("full"),
        "the error does not say the disk is full: {}",
        text(&first)
    );
    assert!(!stderr.contains("panicked"), "{}", text(&first));

    if let Some(d) = &disk {
        d.grow("200m");
    }
    let again = finish(t.run(&[])).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    let created = per_row(&t.sb.stats().await);
    assert!(created.values().all(|n| *n == 1), "{created:?}");
    assert_eq!(created.len(), 4);
    let batch_dir = t.out.join("full");
    for r in manifest_rows(&batch_dir) {
        assert_eq!(r["status"], RowState::Downloaded.as_str());
        assert_eq!(r["video_bytes"], 1_000_000);
    }
    manifest_matches_journal(&batch_dir);
    no_partials(&t.out);
    drop(disk);
}
