//! A row edited after its video was made is `changed` everywhere, exits 6, and is rendered
//! again only when asked (`--rerender`), as a new job, with the old files kept.

use creatify_batch::sandbox::Faults;

use crate::support::*;

use super::{status, status_json};

fn edited(n: usize) -> String {
    sheet_of(n).replace("Hello number 2,", "Hi there number 2,")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_row_is_shown_everywhere_exits_6_and_rerender_makes_a_new_job() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("edits.csv", &sheet_of(3));
    let first = h.run(&sheet, &[]).await;
    assert_eq!(code(&first), 0, "{}", text(&first));
    let dir = h.batch_dir("edits");

    std::fs::write(&sheet, edited(3)).unwrap();
    let again = h.run(&sheet, &[]).await;
    assert_eq!(code(&again), 6, "{}", text(&again));
    assert_eq!(
        h.stats().jobs_created,
        3,
        "nothing is sent again without --rerender"
    );
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains("1 video changed") && stdout.contains("v002"),
        "{stdout}"
    );

    // The manifest (JSON and CSV), the report and status all say so.
    let rows = manifest_rows(&dir);
    for r in &rows {
        assert_eq!(r["changed"], r["key"] == "v002", "{r}");
        assert_eq!(r["status"], "downloaded", "{r}");
    }
    let csv = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "changed")
        .expect("a changed column");
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let want = if cells[0] == "v002" { "changed" } else { "" };
        assert_eq!(cells[col], want, "{line}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let changed_cards: Vec<&str> = html
        .split("<article ")
        .skip(1)
        .filter(|card| card.contains("data-changed=\"1\""))
        .collect();
    assert_eq!(changed_cards.len(), 1, "{html}");
    assert!(changed_cards[0].contains(">v002</code>"), "{html}");
    assert!(html.contains("data-count=\"changed\">1</b>"), "{html}");
    let st = status_json(&h, &dir);
    assert_eq!(st["changed"], serde_json::json!(["v002"]), "{st}");
    assert_eq!(st["counts"]["changed"], 1, "{st}");
    let st_text = status(&h, &[dir.to_str().unwrap()]);
    let st_text = String::from_utf8_lossy(&st_text.stdout);
    assert!(
        st_text.contains("changed") && st_text.contains("v002"),
        "{st_text}"
    );

    // An unknown key is refused before anything is sent.
    let unknown = h.run(&sheet, &["--rerender", "v002,nope"]).await;
    assert_eq!(code(&unknown), 2, "{}", text(&unknown));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nope"));
    // The rerender is counted in the budget like any row (5 credits).
    let capped = h
        .run(&sheet, &["--rerender", "changed", "--max-credits", "4"])
        .await;
    assert_eq!(code(&capped), 3, "{}", text(&capped));
    assert_eq!(h.stats().jobs_created, 3);
    // A row first seen changed by a refused rerender is still flagged, its files untouched.
    let v3 = edited(3).replace("Hello number 3,", "Howdy number 3,");
    std::fs::write(&sheet, &v3).unwrap();
    let capped = h
        .run(&sheet, &["--rerender", "v003", "--max-credits", "4"])
        .await;
    assert_eq!(code(&capped), 3, "{}", text(&capped));
    assert_eq!(
        status_json(&h, &dir)["changed"],
        serde_json::json!(["v002", "v003"])
    );
    assert!(dir.join("v003/video.mp4").is_file() && !dir.join("v003/video.1.mp4").exists());
    std::fs::write(&sheet, edited(3)).unwrap();
    assert_eq!(
        status_json(&h, &dir)["changed"].as_array().unwrap().len(),
        2
    );

    let first_video = std::fs::read(dir.join("v002/video.mp4")).unwrap();
    let rerun = h
        .run(&sheet, &["--rerender", "changed", "--max-credits", "5"])
        .await;
    assert_eq!(code(&rerun), 0, "{}", text(&rerun));
    assert_eq!(h.stats().jobs_created, 4);
    assert_eq!(creations_by_key(&h.stats())["Video 2"], 2);
    for kept in [
        "video.1.mp4",
        "thumbnail.1.jpg",
        "job.1.json",
        "video.mp4",
        "job.json",
    ] {
        assert!(dir.join("v002").join(kept).is_file(), "v002/{kept} missing");
    }
    assert_eq!(
        std::fs::read(dir.join("v002/video.1.mp4")).unwrap(),
        first_video
    );
    let old_job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("v002/job.1.json")).unwrap()).unwrap();
    let new_job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("v002/job.json")).unwrap()).unwrap();
    assert_ne!(old_job["id"], new_job["id"], "a new job, not the old one");
    let rows = manifest_rows(&dir);
    let v002 = rows.iter().find(|r| r["key"] == "v002").unwrap();
    assert_eq!(v002["changed"], false, "{v002}");
    assert_eq!(v002["status"], "downloaded", "{v002}");
    assert_eq!(v002["credits_used"], 10.0, "both jobs' credits: {v002}");
    assert_eq!(status_json(&h, &dir)["changed"], serde_json::json!([]));

    // A named row is rendered again even if unchanged; the numbers go on.
    let by_key = h.run(&sheet, &["--rerender", "v002"]).await;
    assert_eq!(code(&by_key), 0, "{}", text(&by_key));
    assert_eq!(h.stats().jobs_created, 5);
    assert!(dir.join("v002/video.2.mp4").is_file());
    // And a plain rerun sends nothing.
    let plain = h.run(&sheet, &[]).await;
    assert_eq!(code(&plain), 0, "{}", text(&plain));
    assert_eq!(h.stats().jobs_created, 5);
}
