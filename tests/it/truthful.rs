//! Issue 10, "Truthful batches": a run never reports a video as made when it was not, and
//! what it says (summary, `status`, manifest, report, exit code) adds up.

mod changed_rows;
mod credits_add_up;
mod cron_logs;
mod dialect;
mod feedback;
mod identity;
mod status_sheet;
mod summary_words;
mod unreachable_api;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::{Harness, BIN};

/// `creatify-batch status` with `args`, from the harness's folder.
pub fn status(h: &Harness, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(h.dir.path())
        .arg("status")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("status runs")
}

/// `status --json` of `batch_dir`, parsed.
pub fn status_json(h: &Harness, batch_dir: &Path) -> serde_json::Value {
    let out = status(h, &[batch_dir.to_str().expect("utf-8 path"), "--json"]);
    assert!(out.status.success(), "{}", crate::support::text(&out));
    serde_json::from_slice(&out.stdout).expect("status --json is JSON")
}

/// The account's balance, as the API tells it.
pub async fn remaining_credits(h: &Harness) -> f64 {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/remaining_credits/", h.sandbox.base_url()))
        .header("x-api-id", &h.id)
        .header("x-api-key", &h.key)
        .send()
        .await
        .expect("credits call")
        .json()
        .await
        .expect("credits JSON");
    v["remaining_credits"].as_f64().expect("a number")
}
