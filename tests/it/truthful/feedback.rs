//! Fix and feed back: `run out/<batch>/failed.csv` after fixing its rows renders them into
//! the original batch, whose report and manifest then show them done.

use creatify_batch::sandbox::Faults;

use crate::support::*;

/// The account's own avatar that is still being made: the plan warns, the API refuses it
/// (a 400: the row fails).
fn unready() -> &'static str {
    creatify_batch::sandbox::CUSTOM[1].persona.id
}

/// Five rows; v004 and v005 name an avatar the API refuses (a 400: the row fails).
pub(super) fn sheet_with_two_bad_rows() -> String {
    sheet_of(5)
        .lines()
        .map(|l| {
            if l.starts_with("v004") || l.starts_with("v005") {
                l.replace("edb9719c-42af-5c7f-83d5-b7de95567b5e", unready())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fixed_failed_csv_renders_into_the_original_batch() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("promo.csv", &sheet_with_two_bad_rows());
    let first = h.run(&sheet, &[]).await;
    assert_eq!(code(&first), 1, "{}", text(&first));
    let dir = h.batch_dir("promo");
    let failed_csv = dir.join("failed.csv");
    let failed = std::fs::read_to_string(&failed_csv).unwrap();
    let lines: Vec<&str> = failed.lines().collect();
    assert_eq!(lines[0], "key,name,script,avatar,voice,aspect,#reason");
    assert_eq!(lines.len(), 3, "{failed}");
    for l in &lines[1..] {
        let reason = l.rsplit(',').next().unwrap();
        assert!(reason.contains("still being created"), "no reason on {l:?}");
    }
    let before: Vec<_> = manifest_rows(&dir)
        .into_iter()
        .filter(|r| r["status"] == "downloaded")
        .map(|r| {
            (
                r["key"].clone(),
                r["job_id"].clone(),
                r["video_sha256"].clone(),
            )
        })
        .collect();
    assert_eq!(before.len(), 3);

    // The user fixes the avatar in failed.csv and feeds it back, as the README says.
    std::fs::write(
        &failed_csv,
        failed.replace(unready(), "edb9719c-42af-5c7f-83d5-b7de95567b5e"),
    )
    .unwrap();
    let fixed = h.run(&failed_csv, &[]).await;
    assert_eq!(code(&fixed), 0, "{}", text(&fixed));
    assert!(
        String::from_utf8_lossy(&fixed.stderr).contains("fed back into that batch"),
        "{}",
        text(&fixed)
    );
    assert!(
        !h.batch_dir("failed").exists(),
        "failed.csv made a batch of its own"
    );
    let rows = manifest_rows(&dir);
    assert_eq!(rows.len(), 5);
    for r in &rows {
        assert_eq!(r["status"], "downloaded", "{r}");
    }
    // Each row keeps its place and its line in the original sheet (v004 is line 5 there,
    // line 2 of failed.csv), in sheet order.
    let lines: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap_or_default().to_owned(),
                r["source_line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = (1..=5).map(|i| (format!("v{i:03}"), i + 1)).collect();
    assert_eq!(lines, want);
    // The fixed rows got a job each; the others were not touched.
    let per_row = creations_by_key(&h.stats());
    assert_eq!(per_row.len(), 5, "{per_row:?}");
    assert!(per_row.values().all(|n| *n == 1), "{per_row:?}");
    let after: Vec<_> = rows
        .iter()
        .filter(|r| before.iter().any(|b| b.0 == r["key"]))
        .map(|r| {
            (
                r["key"].clone(),
                r["job_id"].clone(),
                r["video_sha256"].clone(),
            )
        })
        .collect();
    assert_eq!(after, before);
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        report.contains("data-count=\"done\">5</b>")
            && report.contains("data-count=\"failed\">0</b>"),
        "{report}"
    );
    // failed.csv is now empty of rows, and the batch still belongs to the original sheet.
    let failed = std::fs::read_to_string(&failed_csv).unwrap();
    assert_eq!(failed.lines().count(), 1, "{failed}");
    let source = super::identity::meta(&dir, "source").unwrap();
    assert_eq!(
        std::path::PathBuf::from(source["path"].as_str().unwrap()),
        sheet.canonicalize().unwrap()
    );
    // And the original sheet still runs as that batch (not refused, nothing sent again: its
    // two rows still name the bad avatar, which is a change of the sheet, not a new batch).
    let again = h.run(&sheet, &[]).await;
    assert_ne!(code(&again), 2, "{}", text(&again));
    assert_eq!(h.stats().jobs_created, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fed_back_file_missing_a_failed_row_does_not_end_in_exit_0() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("promo.csv", &sheet_with_two_bad_rows());
    assert_eq!(code(&h.run(&sheet, &[]).await), 1);
    let failed_csv = h.batch_dir("promo").join("failed.csv");
    let failed = std::fs::read_to_string(&failed_csv).unwrap();
    // Only v004 is fixed and fed back; v005 was left out of the file.
    let kept: Vec<&str> = failed.lines().filter(|l| !l.starts_with("v005")).collect();
    std::fs::write(
        &failed_csv,
        kept.join("\n")
            .replace(unready(), "edb9719c-42af-5c7f-83d5-b7de95567b5e")
            + "\n",
    )
    .unwrap();
    let fixed = h.run(&failed_csv, &[]).await;
    // v004 is made, but the batch still has v005 failed: not a clean run.
    assert_eq!(code(&fixed), 1, "{}", text(&fixed));
    assert!(text(&fixed).contains("still failed"), "{}", text(&fixed));
    let states: Vec<String> = manifest_rows(&h.batch_dir("promo"))
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["key"].as_str().unwrap(),
                r["status"].as_str().unwrap()
            )
        })
        .collect();
    assert!(states.contains(&"v004:downloaded".to_owned()), "{states:?}");
    assert!(states.contains(&"v005:failed".to_owned()), "{states:?}");
}
