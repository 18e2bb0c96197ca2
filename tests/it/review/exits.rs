//! What a review batch's runs say and exit with when something is not done: a refused
//! approval is exit 1 (not 6, the code for videos on disk that are old), an API nobody answers
//! during the renders is exit 7 (nothing was refused), and a plain `--retry-failed` never makes
//! a failed preview again as a full-price video nobody reviewed.

use creatify_batch::sandbox::Faults;

use super::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_refused_for_a_changed_row_exits_1_not_6() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    let sheet = h.sheet("six.csv", &sheet_of(2));
    let dir = h.batch_dir("six");
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let ok = verdict(&h, "approve", &dir, &["v001", "v002"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    h.sheet(
        "six.csv",
        &sheet_of(2).replace("Hello number 1,", "Goodbye number 1,"),
    );
    let out = h.run(&sheet, &["--render-approved"]).await;
    // Before: exit 6 and "the files on disk are the old version" for a row with no files.
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!text(&out).contains("files on disk"), "{}", text(&out));
    assert!(text(&out).contains("run --preview"), "{}", text(&out));
    assert_eq!(reached(&h.stats(), RENDER), 1, "only v002 renders");
}

#[tokio::test(flavor = "multi_thread")]
async fn renders_that_find_no_server_exit_7_and_stay_approved() {
    // A sandbox on a port that stays free once it is stopped (a state dir makes the harness
    // pick one), as in `truthful::unreachable_api`.
    let state = tempfile::tempdir().unwrap();
    let h = Harness::start(Faults::default(), |c| {
        c.options.state_dir = Some(state.path().to_owned());
    })
    .await;
    review_config(&h);
    let sheet = h.sheet("dark.csv", &sheet_of(2));
    let dir = h.batch_dir("dark");
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let ok = verdict(&h, "approve", &dir, &["v001", "v002"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let mut cmd = h.run_command(&sheet, &["--render-approved"]);
    let Harness {
        dir: tmp,
        sandbox,
        id,
        key,
        config,
    } = h;
    sandbox.shutdown().await;
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    // Before: exit 1, "the render was refused" for a connection nobody accepted.
    assert_eq!(code(&out), 7, "{}", text(&out));
    assert!(!text(&out).contains("was refused"), "{}", text(&out));
    let st = states(&dir);
    assert!(st.values().all(|s| s == "preview_ready"), "{st:?}");
    // Back up on the same port, the same command renders both, once each.
    let sandbox = creatify_batch::sandbox::Sandbox::start(config.clone())
        .await
        .unwrap();
    let h = Harness {
        dir: tmp,
        sandbox,
        id,
        key,
        config,
    };
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let s = h.stats();
    assert_eq!(s.renders_by_job.len(), 2, "{:?}", s.renders_by_job);
    assert!(s.renders_by_job.values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_retry_failed_does_not_make_failed_previews_at_full_price() {
    let mut faults = Faults::default();
    faults.jobs.fail = 1.0;
    let h = Harness::start(faults, |_| {}).await;
    review_config(&h);
    let sheet = h.sheet("redo.csv", &sheet_of(2));
    let dir = h.batch_dir("redo");
    // The sandbox fails every job at its render (a preview is made either way).
    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let ok = verdict(&h, "approve", &dir, &["v001", "v002"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        states(&dir).values().all(|s| s == "failed"),
        "{:?}",
        states(&dir)
    );
    // Its advice says how to preview them again, not how to pay for them unreviewed.
    let status = text(&crate::truthful::status(&h, &[dir.to_str().unwrap()]));
    assert!(status.contains("--preview --retry-failed"), "{status}");
    // Before: 2 direct creations at full price, in the manifest as `direct`.
    let out = h.run(&sheet, &["--retry-failed"]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("--preview --retry-failed"),
        "{}",
        text(&out)
    );
    assert_eq!(reached(&h.stats(), CREATE), 0, "{:?}", h.stats().requests);
    let out = h.run(&sheet, &["--preview", "--retry-failed"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(reached(&h.stats(), PREVIEW), 4, "{:?}", h.stats().requests);
    assert_eq!(reached(&h.stats(), CREATE), 0);
}
