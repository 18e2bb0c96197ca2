//! The whole flow: previews, verdicts by command, renders of the approved ones only.

use creatify_batch::sandbox::Faults;

use super::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn previews_then_renders_exactly_the_approved_ones() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    review_config(&h);
    let sheet = h.sheet("review.csv", &sheet_of(3));
    let dir = h.batch_dir("review");

    let out = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let s = h.stats();
    assert_eq!(answered(&s, PREVIEW, "201"), 3, "{:?}", s.requests);
    assert_eq!(reached(&s, CREATE), 0, "a preview run created final videos");
    assert_eq!(
        creations_by_key(&s).values().copied().collect::<Vec<_>>(),
        [1, 1, 1]
    );
    let rows = journal_rows(&dir);
    assert!(rows.values().all(|(s, _)| s == "preview_ready"), "{rows:?}");
    // Previews cost a fifth: 1 credit per started 30 s.
    assert_eq!(s.credits_spent, 3.0);

    // A rerun sends nothing again and still says every preview is ready.
    let again = h.run(&sheet, &["--preview"]).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_eq!(reached(&h.stats(), PREVIEW), 3);

    // Nothing approved yet: a render run renders nothing.
    let none = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(code(&none), 0, "{}", text(&none));
    assert_eq!(reached(&h.stats(), RENDER), 0);

    let ok = verdict(&h, "approve", &dir, &["v001", "v003"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let no = verdict(&h, "reject", &dir, &["v002"]);
    assert_eq!(no.status.code(), Some(0), "{}", text(&no));
    let unknown = verdict(&h, "approve", &dir, &["v999"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));

    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let s = h.stats();
    assert_eq!(answered(&s, RENDER, "200"), 2, "{:?}", s.requests);
    assert_eq!(reached(&s, RENDER), 2);
    assert_eq!(reached(&s, CREATE), 0);
    let st = states(&dir);
    assert_eq!(st["v001"], "downloaded");
    assert_eq!(st["v003"], "downloaded");
    assert_eq!(st["v002"], "preview_ready");
    // 3 previews (1 each) and 2 renders (4 each).
    assert_eq!(s.credits_spent, 11.0);
    let video = std::fs::read(dir.join("v001/video.mp4")).expect("video on disk");
    assert_eq!(video, VIDEO);

    // Rendering again renders nothing twice.
    let again = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_eq!(reached(&h.stats(), RENDER), 2);

    // `status` names the new states.
    let status = std::process::Command::new(BIN)
        .arg("status")
        .arg(&dir)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&status.stdout);
    assert!(said.contains("preview_ready"), "{said}");
    assert!(said.contains("downloaded"), "{said}");
    assert!(
        said.contains("review: 2 approved, 1 rejected, 0 awaiting"),
        "{said}"
    );
    assert!(
        said.contains("credits by step: 3 for previews, 8 for renders"),
        "{said}"
    );
    // The manifest gives each step's credits.
    let rows = manifest_rows(&dir);
    let v001 = rows.iter().find(|r| r["key"] == "v001").unwrap();
    assert_eq!(
        (
            &v001["stage"],
            &v001["preview_credits"],
            &v001["render_credits"]
        ),
        (
            &serde_json::json!("render"),
            &serde_json::json!(1.0),
            &serde_json::json!(4.0)
        ),
        "{v001}"
    );
    let v002 = rows.iter().find(|r| r["key"] == "v002").unwrap();
    assert_eq!(v002["status"], "preview_ready");
    // The verdict and the preview's link, so a team can filter the manifest (it had neither).
    assert_eq!(
        (&v001["verdict"], &v002["verdict"]),
        (
            &serde_json::json!("approved"),
            &serde_json::json!("rejected")
        )
    );
    for v in [v001, v002] {
        let link = v["preview"].as_str().unwrap_or_default();
        assert!(link.starts_with("http://127.0.0.1:"), "{v}");
        assert!(link.contains("/preview/"), "{v}");
    }
    let csv = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with("stage,preview_credits,render_credits,verdict,preview"),
        "{csv}"
    );
    assert!(csv.contains(",rejected,http://127.0.0.1:"), "{csv}");
}
