//! What the dialect tests share: a sandbox speaking a dialect, a config built from
//! [`FAST_CONFIG`] with extra keys, bounded runs, and reading the manifest back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use creatify_batch::sandbox::dialect::Dialect;
use creatify_batch::sandbox::{Faults, SandboxConfig};

use crate::support::*;

/// A harness whose sandbox speaks `dialect` (plus `faults`' other tables).
pub async fn speaking(
    dialect: Dialect,
    mut faults: Faults,
    tweak: impl FnOnce(&mut SandboxConfig),
) -> Harness {
    faults.api = dialect;
    Harness::start(faults, tweak).await
}

/// [`FAST_CONFIG`] with `section.key = value` set (added when the key is not in it).
pub fn write_config(h: &Harness, set: &[(&str, &str, &str)]) {
    let mut lines: Vec<String> = FAST_CONFIG.lines().map(str::to_owned).collect();
    for (section, key, value) in set {
        let line = format!("{key} = {value}");
        if let Some(l) = lines
            .iter_mut()
            .find(|l| l.split('=').next().map(str::trim) == Some(*key))
        {
            *l = line;
            continue;
        }
        let at = lines
            .iter()
            .position(|l| l.trim() == format!("[{section}]"))
            .unwrap_or_else(|| panic!("FAST_CONFIG has no [{section}]"));
        lines.insert(at + 1, line);
    }
    std::fs::write(h.dir.path().join("pipeline.toml"), lines.join("\n")).expect("config");
}

/// The repository's 13-row sample sheet, copied into the harness folder as `batch.csv`.
pub fn sample_sheet(h: &Harness) -> PathBuf {
    let text = include_str!("../../../samples/batch.csv");
    h.sheet("batch.csv", text)
}

/// Rows in the sample sheet.
pub const SAMPLE_ROWS: usize = 13;

/// Runs `run` on `sheet` to its end, for at most `limit`.
pub async fn run_bounded(h: &Harness, sheet: &Path, limit: Duration) -> Result<Output, String> {
    wait_bounded(h.run_command(sheet, &[]).spawn().expect("starts"), limit).await
}

/// How many rows of `states` are in `state`.
pub fn count(states: &BTreeMap<String, String>, state: &str) -> usize {
    states.values().filter(|s| *s == state).count()
}

/// Every row was created exactly once.
pub fn assert_exactly_once(h: &Harness, n: usize, case: &str) {
    let per_row = creations_by_key(&h.stats());
    assert_eq!(per_row.len(), n, "{case}: {per_row:?}");
    for (row, count) in per_row {
        assert_eq!(count, 1, "{case}: row {row} was created {count} times");
    }
}

/// Creation POSTs the sandbox answered (any status).
pub fn posts(h: &Harness) -> u64 {
    h.stats()
        .requests
        .get("POST /api/lipsyncs_v2/")
        .map_or(0, |m| m.values().sum())
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
