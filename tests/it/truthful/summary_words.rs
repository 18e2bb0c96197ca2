//! The summary's small print: plurals, videos and sheet rows, no `-0`, what fits a budget,
//! short excerpts of HTML error pages, and what to do after Ctrl-C.

use std::time::{Duration, Instant};

use creatify_batch::sandbox::Faults;

use crate::support::*;

use super::status;

#[tokio::test(flavor = "multi_thread")]
async fn one_video_is_one_video_and_budgets_say_what_fits() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    // Two records make one two-scene video.
    let two_scenes = "video,script,avatar,voice,aspect\n\
        promo,\"First scene of the promo.\",edb9719c-42af-5c7f-83d5-b7de95567b5e,52825997-e2f1-5148-a3f3-620a6cb2bacf,9x16\n\
        promo,\"Second scene of the promo.\",edb9719c-42af-5c7f-83d5-b7de95567b5e,52825997-e2f1-5148-a3f3-620a6cb2bacf,9x16\n";
    let sheet = h.sheet("one.csv", two_scenes);
    let plan = std::process::Command::new(BIN)
        .current_dir(h.dir.path())
        .args(["plan", sheet.to_str().unwrap()])
        .output()
        .unwrap();
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.contains("\n1 video, 2 scenes, ") && plan.contains("2 rows make 1 video\n"),
        "{plan}"
    );
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 video from 2 sheet rows: 1 downloaded"),
        "{stdout}"
    );
    assert!(stdout.contains(" (1 creation, "), "{stdout}");
    assert!(
        !stdout.contains("1 videos") && !stdout.contains("-0"),
        "{stdout}"
    );

    // 3 videos at 5 credits: 15 against a cap of 12; two would fit.
    let sheet = h.sheet("capped.csv", &sheet_of(3));
    let capped = h.run(&sheet, &["--max-credits", "12"]).await;
    assert_eq!(code(&capped), 3, "{}", text(&capped));
    let err = String::from_utf8_lossy(&capped.stderr);
    assert!(
        err.contains("over --max-credits 12")
            && err.contains("2 rows of the 3 left (10 credits) would fit")
            && err.contains("raise --max-credits to 15"),
        "{err}"
    );
    // Nothing was charged: 0, never -0.
    let st = status(&h, &[h.batch_dir("capped").to_str().unwrap()]);
    let st = String::from_utf8_lossy(&st.stdout);
    assert!(st.contains("credits: 0 used"), "{st}");
}

#[tokio::test(flavor = "multi_thread")]
async fn html_error_pages_are_cut_to_an_excerpt_in_log_lines() {
    let mut faults = Faults::default();
    faults.poll.status_502 = 0.4;
    faults.poll.html = 0.4;
    let h = Harness::start(faults, |c| c.options.seed = 3).await;
    let sheet = h.sheet("pages.csv", &sheet_of(3));
    let out = h.run(&sheet, &["-v"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("an HTML page"), "the faults were met: {err}");
    for line in err.lines() {
        let lower = line.to_ascii_lowercase();
        assert!(
            !lower.contains("<html") && !lower.contains("<!doctype") && !lower.contains("<body"),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_ctrl_c_the_summary_says_rerun_to_resume() {
    let h = Harness::start(Faults::default(), |c| c.options.time_scale = 20.0).await;
    let sheet = h.sheet("stop.csv", &sheet_of(4));
    let child = h.run_command(&sheet, &[]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.stats().jobs_created == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 130, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("rerun the same command to resume"),
        "{stdout}"
    );
}
