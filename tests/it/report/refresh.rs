//! While a run works on a batch its report reloads itself; once the run has ended it does
//! not (a finished batch's page is checked in `browser`).

use std::time::{Duration, Instant};

use creatify_batch::sandbox::Faults;

use super::dump_dom;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_report_written_mid_run_reloads_itself_and_the_last_one_does_not() {
    // No browser: fail at once, saying how to get one.
    super::chromium();
    // Renders of about 30 s: the run is still at work when its first report is written.
    let h = Harness::start(Faults::default(), |c| c.options.render_seconds = 3000.0).await;
    let sheet = h.sheet("slow.csv", &sheet_of(2));
    let child = h.run_command(&sheet, &[]).spawn().expect("run starts");
    let pid = child.id() as i32;
    let dir = h.batch_dir("slow");
    let report = dir.join("report.html");
    let started = Instant::now();
    let mid = dir.join("mid-run.html");
    loop {
        if let Ok(html) = std::fs::read_to_string(&report) {
            if html.contains("data-refresh") {
                std::fs::write(&mid, html).unwrap();
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no live report.html within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SAFETY: kill(2) on our own child, which has not been reaped yet.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let out = wait_bounded(child, Duration::from_secs(60)).await.unwrap();
    assert_eq!(code(&out), 130, "{}", text(&out));

    let live = dump_dom(&mid, "").await;
    let html = &live.find("html", "")[0];
    assert_eq!(html.attr("data-refresh"), Some("10"));
    let noscript: String = live.find("noscript", "").iter().map(|n| n.text()).collect();
    assert!(
        noscript.contains("http-equiv=\"refresh\" content=\"10\""),
        "without its script the page reloads by itself: {noscript:?}"
    );
    assert!(live.find("p", "live")[0].text().contains("reloads itself"));
    assert_eq!(live.find("article", "card").len(), 2);

    // The run has stopped: its last report says nothing is under way.
    let last = dump_dom(&report, "").await;
    assert_eq!(last.find("html", "")[0].attr("data-refresh"), None);
    assert!(last.find("noscript", "").is_empty());
    assert!(last.find("p", "live").is_empty());
}
