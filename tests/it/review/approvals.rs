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

/// A harness and the sheet `NAME.csv` (`content`) previewed: `(harness, sheet, batch dir)`.
async fn previewed(name: &str, content: &str) -> (Harness, std::path::PathBuf, std::path::PathBuf) {
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    let sheet = h.sheet(&format!("{name}.csv"), content);
    let dir = h.batch_dir(name);
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    (h, sheet, dir)
}

/// `run SHEET MODE --approvals approvals.csv` with `lines` written to that file.
async fn with_file(
    h: &Harness,
    sheet: &std::path::Path,
    mode: &str,
    lines: &[FileApproval],
) -> std::process::Output {
    let file = h.dir.path().join("approvals.csv");
    let mut bytes = Vec::new();
    write_csv(&mut bytes, lines).expect("written");
    std::fs::write(&file, bytes).expect("written");
    h.run(sheet, &[mode, "--approvals", &file.to_string_lossy()])
        .await
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
    let out = with_file(&h, &sheet, "--render-approved", &lines).await;
    // v001 rendered; v002's approval refused (exit 1), said so.
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("is not a preview of this row"),
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
    // v002 (rejected) and v003 (not reviewed) are both edited: both are previewed again
    // (nothing was paid beyond their previews).
    let edited = sheet_of(3)
        .replace("Hello number 2,", "Hi again number 2,")
        .replace("Hello number 3,", "Hi again number 3,");
    h.sheet("rej.csv", &edited);
    let out = h.run(&sheet, &["--preview"]).await;
    let after = journal_rows(&dir);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(reached(&h.stats(), PREVIEW), 5, "two new previews");
    for key in ["v002", "v003"] {
        assert_eq!(after[key].0, "preview_ready");
        assert_ne!(
            after[key].1, before[key].1,
            "a new preview has a new reference"
        );
    }
    assert_eq!(after["v001"], before["v001"]);
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

/// Trial bug: a `yes` left unchanged in the approve column undid a later `reject` (and a
/// file's `no`), and the rejected ad was rendered. An unchanged cell is no act.
#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_yes_in_the_sheet_does_not_undo_a_later_rejection() {
    let (h, sheet, dir) = previewed("keep", &with_approve(2, &["yes", "yes"])).await;
    let no = verdict(&h, "reject", &dir, &["v001"]);
    assert_eq!(no.status.code(), Some(0), "{}", text(&no));
    // v002 is rejected by a file, the sheet still says yes.
    let rows = journal_rows(&dir);
    let line = FileApproval {
        key: "v002".into(),
        reference: rows["v002"].1.clone(),
        approve: false,
    };
    let out = with_file(&h, &sheet, "--preview", &[line]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(reached(&h.stats(), RENDER), 0, "{}", text(&out));
    assert!(
        text(&out).contains("the sheet says yes, but it was rejected by command"),
        "{}",
        text(&out)
    );
    // Changing the cell is an act: written no then yes again, v001 is approved.
    h.sheet("keep.csv", &with_approve(2, &["", "yes"]));
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    h.sheet("keep.csv", &with_approve(2, &["yes", "yes"]));
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(reached(&h.stats(), RENDER), 1, "{}", text(&out));
    let st = states(&dir);
    assert_eq!(
        (st["v001"].as_str(), st["v002"].as_str()),
        ("downloaded", "preview_ready")
    );
}

/// Trial bug: scenes of one video with `yes` and `no` in their approve cells were taken
/// silently (the first cell won).
#[tokio::test(flavor = "multi_thread")]
async fn scenes_of_one_video_with_different_verdicts_are_an_error_naming_the_lines() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    let mut s = String::from("video,key,name,script,avatar,voice,aspect,approve\n");
    for (i, cell) in [(1, "yes"), (2, "no")] {
        s.push_str(&format!(
            "ad,s{i},Ad,\"Scene {i} of the ad.\",edb9719c-42af-5c7f-83d5-b7de95567b5e,52825997-e2f1-5148-a3f3-620a6cb2bacf,9x16,{cell}\n"
        ));
    }
    let sheet = h.sheet("scenes.csv", &s);
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("lines 2 and 3") && text(&out).contains("approve"),
        "{}",
        text(&out)
    );
    assert_eq!(reached(&h.stats(), PREVIEW), 0);
}

/// Trial bug: an approved row edited afterwards could not be reviewed again (`reject`
/// refused it with advice pointing back at itself, `--preview` called it changed, exit 6).
#[tokio::test(flavor = "multi_thread")]
async fn an_approved_row_edited_is_previewed_again_and_its_approval_no_longer_holds() {
    let (h, sheet, dir) = previewed("again", &sheet_of(3)).await;
    let before = journal_rows(&dir);
    let ok = verdict(&h, "approve", &dir, &["v001", "v003"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let edited = sheet_of(3)
        .replace("Hello number 1,", "Goodbye number 1,")
        .replace("Hello number 3,", "Goodbye number 3,");
    h.sheet("again.csv", &edited);
    // Rejecting the changed row works.
    let no = verdict(&h, "reject", &dir, &["v003"]);
    assert_eq!(no.status.code(), Some(0), "{}", text(&no));
    // The render of the approved, changed row is refused, with advice that works.
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_ne!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("run --preview to preview the new one"),
        "{}",
        text(&out)
    );
    assert_eq!(reached(&h.stats(), RENDER), 0);
    // --preview makes new previews of both edited rows, under new references.
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("no longer holds"), "{}", text(&out));
    assert_eq!(reached(&h.stats(), PREVIEW), 5);
    let after = journal_rows(&dir);
    assert_ne!(after["v001"].1, before["v001"].1);
    assert_ne!(after["v003"].1, before["v003"].1);
    assert_eq!(after["v002"], before["v002"]);
    // The old approval does not carry over to the new preview.
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(reached(&h.stats(), RENDER), 0, "{}", text(&out));
}

/// Trial bug: `approve BATCH nosuchkey good-key` exited 2 but approved good-key anyway.
#[tokio::test(flavor = "multi_thread")]
async fn a_verdict_with_one_unknown_key_records_nothing_and_suggests_the_key() {
    let (h, _, dir) = previewed("keys", &sheet_of(2)).await;
    let bad = verdict(&h, "approve", &dir, &["v01", "v002"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("did you mean"), "{}", text(&bad));
    let approvals = creatify_batch::journal::Journal::open(&dir)
        .unwrap()
        .approvals()
        .unwrap();
    assert!(approvals.is_empty(), "{approvals:?}");
}

/// Trial bugs in approvals.csv: an invented reference called "previewed again since", an
/// unknown key without its line or a did-you-mean, a `;` file refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_approvals_file_says_where_and_what_and_reads_semicolons() {
    let (h, sheet, dir) = previewed("semi", &sheet_of(3)).await;
    let rows = journal_rows(&dir);
    let file = h.dir.path().join("approvals.csv");
    let body = format!(
        "key;reference;approve\nv001;{};yes\nv002;cbinvented0000;yes\nv0003;{};yes\n",
        rows["v001"].1, rows["v003"].1
    );
    std::fs::write(&file, body).unwrap();
    let out = h
        .run(
            &sheet,
            &["--render-approved", "--approvals", file.to_str().unwrap()],
        )
        .await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("not a preview of this row"), "{t}");
    assert!(!t.contains("previewed again since"), "{t}");
    assert!(
        t.contains("line 4") && t.contains("did you mean \"v003\""),
        "{t}"
    );
    assert!(t.contains("3 verdicts read"), "{t}");
    assert_eq!(reached(&h.stats(), RENDER), 1);
    assert_eq!(states(&dir)["v001"], "downloaded");
}

/// The most recent deliberate act wins: a cell saved before a `reject` (or before the run
/// that reads an approvals file saying no) does not override it, even though it changed.
#[tokio::test(flavor = "multi_thread")]
async fn a_cell_saved_before_a_rejection_does_not_override_it() {
    let (h, sheet, dir) = previewed("order", &with_approve(2, &["", ""])).await;
    let rows = journal_rows(&dir);
    h.sheet("order.csv", &with_approve(2, &["yes", "yes"]));
    let no = verdict(&h, "reject", &dir, &["v001"]);
    assert_eq!(no.status.code(), Some(0), "{}", text(&no));
    let line = FileApproval {
        key: "v002".into(),
        reference: rows["v002"].1.clone(),
        approve: false,
    };
    let out = with_file(&h, &sheet, "--render-approved", &[line]).await;
    assert_eq!(reached(&h.stats(), RENDER), 0, "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("v001: the sheet says yes, but it was rejected by command"),
        "{t}"
    );
    assert!(
        t.contains("v002: the sheet says yes, but it was rejected by file"),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn approve_finds_the_batch_from_its_sheet_as_status_does() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    let sheet = h.sheet("bysheet.csv", &sheet_of(2));
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    // Before: "bysheet.csv is not a batch folder", exit 2.
    let ok = verdict(&h, "approve", sheet.as_path(), &["v001", "--out", "out"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let no = verdict(&h, "reject", std::path::Path::new("out"), &["v002"]);
    assert_eq!(no.status.code(), Some(0), "{}", text(&no));
    let verdicts: Vec<_> =
        creatify_batch::journal::Journal::open_read_only(&h.batch_dir("bysheet"))
            .unwrap()
            .unwrap()
            .approvals
            .into_iter()
            .map(|a| (a.key, a.verdict.as_str()))
            .collect();
    assert_eq!(
        verdicts,
        [
            ("v001".to_owned(), "approved"),
            ("v002".to_owned(), "rejected")
        ]
    );
}
