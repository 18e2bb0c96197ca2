//! Review before paying (issue 14): previews, approvals by the sheet's `approve` column, the
//! `approve`/`reject` commands and an approvals.csv, and renders of exactly the approved
//! previews, against the in-process sandbox, proven by its counters.

mod approvals;
mod budget;
mod exits;
mod faults;
mod flow;
mod kills;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use creatify_batch::sandbox::Stats;

use crate::support::*;

/// The fast test config with a clock-skew margin of 10 ms, so the render's reconciliation window
/// is the request timeout alone (3 s).
pub fn review_config(h: &Harness) {
    let config = FAST_CONFIG.replace("[retry]\n", "[retry]\nclock_skew_secs = 0.01\n");
    std::fs::write(h.dir.path().join("pipeline.toml"), config).expect("config written");
}

/// `creatify-batch approve|reject DIR KEY...`.
pub fn verdict(h: &Harness, which: &str, dir: &Path, keys: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(h.dir.path())
        .arg(which)
        .arg(dir)
        .args(keys)
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

/// Answers of the sandbox to `endpoint` ("POST /api/lipsyncs_v2/preview/") with `status`.
pub fn answered(stats: &Stats, endpoint: &str, status: &str) -> u64 {
    stats
        .requests
        .get(endpoint)
        .and_then(|m| m.get(status))
        .copied()
        .unwrap_or(0)
}

/// Every request that reached `endpoint`, whatever its answer.
pub fn reached(stats: &Stats, endpoint: &str) -> u64 {
    stats
        .requests
        .get(endpoint)
        .map(|m| m.values().sum())
        .unwrap_or(0)
}

/// The preview endpoint.
pub const PREVIEW: &str = "POST /api/lipsyncs_v2/preview/";
/// The render endpoint.
pub const RENDER: &str = "POST /api/lipsyncs_v2/{id}/render/";
/// The direct creation endpoint.
pub const CREATE: &str = "POST /api/lipsyncs_v2/";

/// Each row's state and reference, from the journal.
pub fn journal_rows(dir: &Path) -> std::collections::BTreeMap<String, (String, String)> {
    let snap = creatify_batch::journal::Journal::open_read_only(dir)
        .expect("journal reads")
        .expect("a journal");
    snap.rows
        .into_iter()
        .map(|r| {
            (
                r.key,
                (r.state.as_str().to_owned(), r.reference.unwrap_or_default()),
            )
        })
        .collect()
}
