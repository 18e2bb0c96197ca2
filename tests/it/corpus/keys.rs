//! Keys that try to leave the output folder. The planner accepts any key that reads as what
//! it is (path-like text included) and refuses invisible characters, line breaks, keys over
//! 255 characters and keys whose folders would collide (the corpus has those); the accepted
//! ones are made safe by `output::folder_name`. Checked here on disk: every folder a batch of
//! hostile keys gets is a distinct real folder directly inside the batch folder, and a real
//! run against the sandbox writes nothing anywhere else.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use creatify_batch::config::Settings;
use creatify_batch::output::{batch_name, ensure_real_dir, folder_name};
use creatify_batch::plan::plan_file;
use creatify_batch::sandbox::Faults;

use super::corpus_dir;
use crate::support::{code, files_below, manifest_rows, text, Harness};

fn hostile_keys_sheet() -> std::path::PathBuf {
    corpus_dir().join("accepted").join("hostile-keys.csv")
}

/// The key cells of the sheet, as written.
fn sheet_keys() -> Vec<String> {
    let text = std::fs::read_to_string(hostile_keys_sheet()).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect()
}

/// What every folder name must be: one plain, visible, bounded name that is none of the
/// batch's own files nor a name Windows reserves.
pub fn assert_safe_folder_name(key: &str, f: &str) {
    assert!(
        !f.is_empty() && f.len() <= 73,
        "{key:?} -> {f:?}: length {}",
        f.len()
    );
    assert!(
        f.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
        "{key:?} -> {f:?}"
    );
    assert!(!f.starts_with(['.', '-']), "{key:?} -> {f:?}");
    assert!(
        matches!(
            Path::new(f).components().collect::<Vec<_>>()[..],
            [Component::Normal(_)]
        ),
        "{key:?} -> {f:?}"
    );
    let lower = f.to_ascii_lowercase();
    let stem = lower.split('.').next().unwrap();
    let windows = ["con", "prn", "aux", "nul"]
        .iter()
        .map(|s| s.to_string())
        .chain((1..=9).flat_map(|n| [format!("com{n}"), format!("lpt{n}")]));
    for w in windows {
        assert_ne!(stem, w, "{key:?} -> {f:?}");
    }
    for own in [
        "journal.sqlite",
        "manifest.json",
        "manifest.csv",
        "failed.csv",
        "report.html",
    ] {
        // The batch's files, their SQLite companions and their `.partial` twins.
        for taken in [
            own.to_owned(),
            format!("{own}-wal"),
            format!("{own}-shm"),
            format!("{own}.partial"),
        ] {
            assert_ne!(lower, taken, "{key:?} -> {f:?}");
        }
    }
    assert!(!lower.ends_with(".partial"), "{key:?} -> {f:?}");
}

#[test]
fn hostile_keys_plan_and_get_distinct_folders_inside_the_batch() {
    let keys = sheet_keys();
    assert!(keys.len() >= 40, "{}", keys.len());
    let plan = plan_file(&hostile_keys_sheet(), &Settings::default()).unwrap();
    let planned: Vec<&str> = plan.videos.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(planned, keys.iter().map(|k| k.trim()).collect::<Vec<_>>());

    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let batch = out.join(batch_name(&hostile_keys_sheet()));
    std::fs::create_dir(&batch).unwrap();
    let batch_real = batch.canonicalize().unwrap();
    let mut names = BTreeSet::new();
    for key in &planned {
        let f = folder_name(key);
        assert_safe_folder_name(key, &f);
        assert!(names.insert(f.to_ascii_lowercase()), "{key:?} shares {f:?}");
        let dir = batch.join(&f);
        ensure_real_dir(&dir).unwrap();
        assert_eq!(
            dir.canonicalize().unwrap().parent(),
            Some(batch_real.as_path()),
            "{key:?}"
        );
    }
    // Each key made exactly one folder, in the batch and nowhere else.
    assert_eq!(std::fs::read_dir(&batch).unwrap().count(), planned.len());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_of_hostile_keys_writes_only_inside_its_batch_folder() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let csv = std::fs::read_to_string(hostile_keys_sheet()).unwrap();
    let sheet = h.sheet("hostile-keys.csv", &csv);
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));

    let batch = h.batch_dir("hostile-keys");
    let rows = manifest_rows(&batch);
    let keys = sheet_keys();
    assert_eq!(rows.len(), keys.len());
    let mut expected = BTreeSet::new();
    for r in &rows {
        let key = r["key"].as_str().unwrap();
        let folder = folder_name(key);
        assert_eq!(
            r["video"].as_str(),
            Some(format!("{folder}/video.mp4").as_str()),
            "{key:?}"
        );
        for f in ["video.mp4", "thumbnail.jpg", "job.json"] {
            expected.insert(batch.join(&folder).join(f));
        }
    }
    // Keys that are markup stay text in the report.
    let html = std::fs::read_to_string(batch.join("report.html")).unwrap();
    assert!(
        !html.contains("<script>alert(1)</script>")
            && html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "the <script> key is escaped in report.html"
    );
    // Everything the run wrote is the batch's own files or a row's three files; nothing
    // landed beside the batch folder or above it.
    for file in files_below(h.dir.path()) {
        if expected.remove(&file) {
            continue;
        }
        let rel = file.strip_prefix(h.dir.path()).unwrap();
        let allowed = rel == Path::new("pipeline.toml")
            || rel.starts_with("cache/creatify-batch")
            || rel == Path::new("hostile-keys.csv")
            || (rel.starts_with("out/hostile-keys")
                && rel.components().count() == 3
                && !rel.to_string_lossy().ends_with(".partial"));
        assert!(allowed, "unexpected file {}", rel.display());
    }
    assert!(expected.is_empty(), "missing: {expected:?}");
    assert_eq!(
        std::fs::read_dir(h.dir.path().join("out")).unwrap().count(),
        1
    );
}
