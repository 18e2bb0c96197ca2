//! Verdicts by the sheet's `approve` column and by an approvals.csv; a change after an
//! approval refused; a rejected, edited row previewed again under a new reference.

use creatify_batch::review::file::{write_csv, FileApproval};
use creatify_batch::sandbox::Faults;

use super::*;
use crate::support::*;

/// `sheet_of(n)` with an `approve` column holding `cells` (one per row, in order).
fn with_approve(n: usize, cells: &[&str]) -> String {
    let mut out = String::new();
    for (i, line) in sheet_of(n).lines().enumerate() {
        let cell = if i == 0 {
            "approve"
        } else {
            cells.get(i - 1).copied().unwrap_or("")
        };
        out.push_str(&format!("{line},{cell}\n"));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_approve_column_is_read_on_each_run_and_sent_to_no_one() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    let sheet = h.sheet("col.csv", &with_approve(3, &["", "", ""]));
    let dir = h.batch_dir("col");
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));

    // The reviewer fills the column in: a typo is refused before anything is sent.
    h.sheet("col.csv", &with_approve(3, &["yes", "perhaps", ""]));
    let bad = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(code(&bad), 2, "{}", text(&bad));
    assert!(text(&bad).contains("column approve"), "{}", text(&bad));
    assert_eq!(reached(&h.stats(), RENDER), 0);

    // Filled in: not a change of the rows (exit 0, not 6), and only the approved one renders.
    h.sheet("col.csv", &with_approve(3, &["yes", "no", ""]));
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(reached(&h.stats(), RENDER), 1);
    let st = states(&dir);
    assert_eq!(
        (
            st["v001"].as_str(),
            st["v002"].as_str(),
            st["v003"].as_str()
        ),
        ("downloaded", "preview_ready", "preview_ready")
    );
    // The column was never part of a request body.
    let journal = creatify_batch::journal::Journal::open(&dir).unwrap();
    let body = journal.payload("v001").unwrap().unwrap().body;
    assert!(!body.contains("approve") && !body.contains("yes"), "{body}");
    let sources: Vec<String> = journal
        .approvals()
        .unwrap()
        .into_iter()
        .map(|a| a.source)
        .collect();
    assert_eq!(sources, ["sheet", "sheet"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approvals_file_is_honoured_only_for_the_preview_it_names() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    let sheet = h.sheet("file.csv", &sheet_of(3));
    let dir = h.batch_dir("file");
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let rows = journal_rows(&dir);
    let lines = vec![
        FileApproval {
            key: "v001".into(),
            reference: rows["v001"].1.clone(),
            approve: true,
        },
        // Another row's preview: not v002's current one.
        FileApproval {
            key: "v002".into(),
            reference: rows["v003"].1.clone(),
            approve: true,
        },
        FileApproval {
            key: "v003".into(),
            reference: rows["v003"].1.clone(),
            approve: false,
        },
    ];
    let file = h.dir.path().join("approvals.csv");
    let mut bytes = Vec::new();
    write_csv(&mut bytes, &lines).unwrap();
    std::fs::write(&file, bytes).unwrap();
    let out = h
        .run(
            &sheet,
            &["--render-approved", "--approvals", file.to_str().unwrap()],
        )
        .await;
    // v001 rendered; v002's approval refused (exit 1), said so.
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("previewed again since"),
        "{}",
        text(&out)
    );
    assert_eq!(reached(&h.stats(), RENDER), 1);
    let st = states(&dir);
    assert_eq!(st["v001"], "downloaded");
    assert_eq!(st["v002"], "preview_ready");
    let mut verdicts: Vec<(String, String)> = creatify_batch::journal::Journal::open(&dir)
        .unwrap()
        .approvals()
        .unwrap()
        .into_iter()
        .map(|a| (a.key, format!("{} {}", a.verdict.as_str(), a.source)))
        .collect();
    // Rejections are recorded first (before the sheet is synced), approvals after.
    verdicts.sort();
    assert_eq!(
        verdicts,
        [
            ("v001".to_owned(), "approved file".to_owned()),
            ("v003".to_owned(), "rejected file".to_owned())
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_changed_after_its_approval_is_not_rendered() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    let sheet = h.sheet("chg.csv", &sheet_of(2));
    let dir = h.batch_dir("chg");
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let ok = verdict(&h, "approve", &dir, &["v001", "v002"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    // v001's script is edited after it was approved.
    let edited = sheet_of(2).replace("Hello number 1,", "Goodbye number 1,");
    h.sheet("chg.csv", &edited);
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_ne!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("changed in the sheet after preview"),
        "{}",
        text(&out)
    );
    assert_eq!(reached(&h.stats(), RENDER), 1, "only v002 renders");
    let st = states(&dir);
    assert_eq!(
        (st["v001"].as_str(), st["v002"].as_str()),
        ("preview_ready", "downloaded")
    );
    // Approving it again is refused too: the preview is of the old version.
    let again = verdict(&h, "approve", &dir, &["v001"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_row_edited_is_previewed_again_under_a_new_reference() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    let sheet = h.sheet("rej.csv", &sheet_of(3));
    let dir = h.batch_dir("rej");
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let before = journal_rows(&dir);
    let no = verdict(&h, "reject", &dir, &["v002"]);
    assert_eq!(no.status.code(), Some(0), "{}", text(&no));
    // v002 (rejected) and v003 (not reviewed) are both edited.
    let edited = sheet_of(3)
        .replace("Hello number 2,", "Hi again number 2,")
        .replace("Hello number 3,", "Hi again number 3,");
    h.sheet("rej.csv", &edited);
    let out = h.run(&sheet, &["--preview"]).await;
    let after = journal_rows(&dir);
    // v003 changed without a rejection: told (a preview has no video on disk to be old,
    // so not exit 6), not previewed again.
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("`run --preview` previews the new version"));
    assert_eq!(reached(&h.stats(), PREVIEW), 4, "one new preview, v002's");
    assert_eq!(after["v002"].0, "preview_ready");
    assert_ne!(
        after["v002"].1, before["v002"].1,
        "a new preview has a new reference"
    );
    assert_eq!(after["v001"], before["v001"]);
    assert_eq!(after["v003"], before["v003"]);
    // The new preview can be approved and rendered; the old verdict does not carry over.
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(reached(&h.stats(), RENDER), 0, "{}", text(&out));
    let ok = verdict(&h, "approve", &dir, &["v002"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(reached(&h.stats(), RENDER), 1, "{}", text(&out));
    assert_eq!(states(&dir)["v002"], "downloaded");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_in_the_cell_and_an_edit_in_one_save_preview_again_and_the_old_cell_is_not_reused() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    let sheet = h.sheet("once.csv", &with_approve(2, &["", ""]));
    let dir = h.batch_dir("once");
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let before = journal_rows(&dir);
    // The reviewer says no and rewrites the script in the same save.
    let edited = with_approve(2, &["", "no"]).replace("Hello number 2,", "Better words, 2,");
    h.sheet("once.csv", &edited);
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let after = journal_rows(&dir);
    assert_ne!(after["v002"].1, before["v002"].1, "previewed again");
    assert_eq!(after["v002"].0, "preview_ready");
    assert_eq!(reached(&h.stats(), PREVIEW), 3);
    // The cell still says "no", written about the old preview: not taken for the new one.
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let approvals = creatify_batch::journal::Journal::open(&dir)
        .unwrap()
        .approvals()
        .unwrap();
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    assert_eq!(approvals[0].reference, before["v002"].1);
    // Approved by command, the new preview renders.
    let ok = verdict(&h, "approve", &dir, &["v002"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(states(&dir)["v002"], "downloaded");
}
