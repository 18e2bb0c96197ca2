//! The fault matrix (issue 5): every fault the sandbox can inject, at rates 0.1 and 1.0,
//! against the real binary, and what the runner does about it (retries, reconciles, gives up
//! with which exit code). Every case also checks the two promises that hold whatever the
//! fault: no row is ever created twice, and no row is marked failed unless the sandbox itself
//! failed or rejected its job.
//!
//! The per-endpoint tables run their cases concurrently (each with its own sandbox and
//! folder), so the whole file stays short on two cores. A case that breaks a promise is named
//! in the failure, with what it saw; all failing cases of a table are listed at once.

mod cases;
mod client;
mod scenarios;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use creatify_batch::sandbox::faults::{unit, EndpointFaults};
use creatify_batch::sandbox::Stats;

use crate::support::*;

/// How long a slow or stalled request waits: twice the matrix's request timeout.
const SLOW_SECONDS: f64 = 2.0;

/// The longest any one run may take before it counts as a hang.
const RUN_LIMIT: Duration = Duration::from_secs(40);

/// [`FAST_CONFIG`] with a 1-second request timeout (so slow answers time out), 3 attempts
/// (so giving up comes quickly) and a 1-second reconciliation window.
const MATRIX: &[(&str, &str)] = &[
    ("request_timeout_secs", "1"),
    ("max_attempts", "3"),
    ("reconcile_window_secs", "1"),
    ("job_deadline_secs", "30"),
];

/// [`FAST_CONFIG`] with `key = value` lines replaced (every key must be in it already).
fn config(overrides: &[(&str, &str)]) -> String {
    let mut lines: Vec<String> = FAST_CONFIG.lines().map(str::to_owned).collect();
    for (key, value) in overrides {
        let line = lines
            .iter_mut()
            .find(|l| l.split('=').next().map(str::trim) == Some(*key))
            .unwrap_or_else(|| panic!("FAST_CONFIG has no {key}"));
        *line = format!("{key} = {value}");
    }
    lines.join("\n")
}

/// Writes the matrix config plus `overrides` as the harness's `pipeline.toml`.
fn write_config(h: &Harness, overrides: &[(&str, &str)]) {
    let mut all = MATRIX.to_vec();
    all.extend_from_slice(overrides);
    std::fs::write(h.dir.path().join("pipeline.toml"), config(&all)).expect("config written");
}

/// One endpoint group's faults: `kind` at `rate`, slow answers taking [`SLOW_SECONDS`].
fn endpoint(kind: &str, rate: f64) -> EndpointFaults {
    let mut e = EndpointFaults {
        slow_seconds: SLOW_SECONDS,
        ..EndpointFaults::default()
    };
    let slot = match kind {
        "reset" => &mut e.reset,
        "lost" => &mut e.lost,
        "status_500" => &mut e.status_500,
        "status_502" => &mut e.status_502,
        "status_503" => &mut e.status_503,
        "html" => &mut e.html,
        "slow" => &mut e.slow,
        "stall" => &mut e.stall,
        "truncate" => &mut e.truncate,
        other => panic!("no fault called {other}"),
    };
    *slot = rate;
    e
}

/// The smallest seed whose first request to `group` meets a fault drawn at `rate`, so a 0.1
/// case is sure to meet its fault at least once.
fn seed_hitting_first(group: &str, rate: f64) -> u64 {
    (0..10_000)
        .find(|s| unit(*s, &[group, "0"]) < rate)
        .expect("a seed that hits")
}

/// Runs `run` with `extra` args, killing it after [`RUN_LIMIT`]: a hang is an error.
async fn run_bounded(h: &Harness, sheet: &Path, extra: &[&str]) -> Result<Output, String> {
    run_command_bounded(h.run_command(sheet, extra)).await
}

/// Runs `cmd` (stdout and stderr piped), killing it after [`RUN_LIMIT`].
async fn run_command_bounded(mut cmd: std::process::Command) -> Result<Output, String> {
    wait_bounded(cmd.spawn().expect("binary starts"), RUN_LIMIT).await
}

/// Rows created more than once, as "key ×n".
fn duplicates(stats: &Stats) -> Vec<String> {
    creations_by_key(stats)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect()
}

/// Problems with the downloaded rows' files: not what the sandbox served, or partials left.
fn file_problems(batch_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for r in manifest_rows(batch_dir) {
        if r["status"] != "downloaded" {
            continue;
        }
        for (field, want) in [("video", VIDEO), ("thumbnail", THUMBNAIL)] {
            let Some(rel) = r[field].as_str() else {
                problems.push(format!("{}: no {field} recorded", r["key"]));
                continue;
            };
            match std::fs::read(batch_dir.join(rel)) {
                Ok(bytes) if bytes == want => {}
                Ok(bytes) => problems.push(format!(
                    "{}: {field} is {} bytes, not the {} the sandbox served",
                    r["key"],
                    bytes.len(),
                    want.len()
                )),
                Err(e) => problems.push(format!("{}: {field}: {e}", r["key"])),
            }
        }
    }
    problems
}

/// `*.partial` files left in `batch_dir`.
fn partials(batch_dir: &Path) -> Vec<String> {
    files_below(batch_dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .map(|p| p.display().to_string())
        .collect()
}

/// Stderr as text.
fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
