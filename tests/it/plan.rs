//! Planning: the samples (snapshotted bodies and table), malformed sheets, the sheet rules,
//! and properties over generated sheets.

mod friendly;
mod props;
mod rules;
mod sheets;

use std::path::Path;

use creatify_batch::api::model::{AspectRatio, ModelVersion};
use creatify_batch::config::Settings;
use creatify_batch::plan::{bodies_json, plan_bytes, plan_file, render_table, Plan, PlanError};

/// Plans `csv` with the built-in defaults.
pub fn plan(csv: &[u8]) -> Result<Plan, PlanError> {
    plan_with(csv, &Settings::default())
}

/// Plans `csv` with `settings`.
pub fn plan_with(csv: &[u8], settings: &Settings) -> Result<Plan, PlanError> {
    plan_bytes(Path::new("sheet.csv"), csv, settings)
}

/// The problems of an invalid sheet, displayed.
pub fn problems(csv: &[u8]) -> Vec<String> {
    match plan(csv) {
        Err(PlanError::Invalid(d)) => d.iter().map(|d| d.to_string()).collect(),
        Ok(_) => panic!("expected problems, the sheet planned"),
        Err(e) => panic!("expected problems, got {e}"),
    }
}

fn sample(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

#[test]
fn sample_batch_bodies_match_the_snapshot() {
    let plan = plan_file(&sample("batch.csv"), &Settings::default()).unwrap();
    let videos: Vec<serde_json::Value> = plan
        .videos
        .iter()
        .map(|v| {
            serde_json::json!({
                "key": v.key,
                "lines": v.lines,
                "seconds": v.seconds,
                "credits": v.credits,
                "body": v.body,
            })
        })
        .collect();
    insta::assert_json_snapshot!("batch_bodies", videos);
    insta::assert_snapshot!("batch_table", render_table(&plan));
}

#[test]
fn sample_batch_covers_what_the_issue_asks_for() {
    let plan = plan_file(&sample("batch.csv"), &Settings::default()).unwrap();
    assert!(plan.videos.len() >= 12);
    assert_eq!(plan.batch, "batch");
    assert!(plan.videos.iter().any(|v| v.body.video_inputs.len() >= 3));
    for a in [
        AspectRatio::Portrait,
        AspectRatio::Landscape,
        AspectRatio::Square,
    ] {
        assert!(plan.videos.iter().any(|v| v.body.aspect() == a), "{a}");
    }
    for m in [
        ModelVersion::Standard,
        ModelVersion::Aurora,
        ModelVersion::AuroraFast,
    ] {
        assert!(plan.videos.iter().any(|v| v.body.model() == m), "{m}");
    }
    let scripts = bodies_json(&plan);
    for word in ["¿A qué esperas?", "dreißig", "春がやってきました"] {
        assert!(scripts.contains(word), "{word}");
    }
    assert!(plan.videos.iter().all(|v| v.warnings.is_empty()));
    let scenes = plan.videos.iter().flat_map(|v| &v.body.video_inputs);
    assert!(scenes.clone().all(|s| s.caption_setting.is_some()));
    assert!(scenes.filter(|s| s.background.is_some()).count() >= 15);
    // One JSON object per line, each the exact body.
    assert_eq!(scripts.lines().count(), plan.videos.len());
}

#[test]
fn sample_invalid_reports_every_mistake_at_once() {
    let err = plan_file(&sample("invalid.csv"), &Settings::default()).unwrap_err();
    assert!(matches!(err, PlanError::Invalid(_)));
    insta::assert_snapshot!("invalid_errors", err.to_string());
}
