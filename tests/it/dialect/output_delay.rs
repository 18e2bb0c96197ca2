//! Finished jobs without usable media URLs: `done` a moment before `output` is set, and
//! `video_thumbnail: ""`. A done job without an output URL is asked about again (never read
//! from the journal's copy) until it has one; a missing thumbnail never holds back the video.

use creatify_batch::sandbox::dialect::Dialect;
use creatify_batch::sandbox::{Faults, Stats};

use crate::support::*;

fn dialect(d: Dialect) -> Faults {
    Faults {
        api: d,
        ..Faults::default()
    }
}

/// Answers of `GET /api/lipsyncs_v2/{id}/` (the single-job GET).
fn single_gets(stats: &Stats) -> u64 {
    stats
        .requests
        .get("GET /api/lipsyncs_v2/{id}/")
        .map_or(0, |by| by.values().sum())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_done_before_its_output_is_set_is_polled_until_it_has_one() {
    let h = Harness::start(
        dialect(Dialect {
            output_delay_seconds: 2.0,
            ..Dialect::default()
        }),
        |_| {},
    )
    .await;
    let sheet = h.sheet("late.csv", &sheet_of(2));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let dir = h.batch_dir("late");
    for r in manifest_rows(&dir) {
        assert_eq!(r["status"], "downloaded", "{r}");
        let key = r["key"].as_str().unwrap();
        assert!(std::fs::read(dir.join(key).join("video.mp4")).unwrap() == VIDEO);
        assert!(std::fs::read(dir.join(key).join("thumbnail.jpg")).unwrap() == THUMBNAIL);
    }
    assert_eq!(h.stats().jobs_created, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_thumbnail_never_holds_back_the_video() {
    let h = Harness::start(
        dialect(Dialect {
            empty_thumbnail: true,
            ..Dialect::default()
        }),
        |_| {},
    )
    .await;
    let sheet = h.sheet("nothumb.csv", &sheet_of(2));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let dir = h.batch_dir("nothumb");
    for r in manifest_rows(&dir) {
        assert_eq!(r["status"], "downloaded", "{r}");
        assert!(r["thumbnail"].is_null(), "{r}");
        let key = r["key"].as_str().unwrap();
        assert!(std::fs::read(dir.join(key).join("video.mp4")).unwrap() == VIDEO);
        assert!(!dir.join(key).join("thumbnail.jpg").exists());
    }
}

/// A batch folder left by a version that moved a URL-less `done` job straight to download:
/// the row `done`, its journal copy of the job without `output`, no files. (Made here by
/// editing the journal of a finished run the way that version left it.)
#[tokio::test(flavor = "multi_thread")]
async fn a_row_stuck_at_done_with_a_urlless_job_is_fetched_again_from_the_api() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("stuck.csv", &sheet_of(2));
    let first = h.run(&sheet, &[]).await;
    assert_eq!(code(&first), 0, "{}", text(&first));
    let dir = h.batch_dir("stuck");
    {
        let db = rusqlite::Connection::open(dir.join("journal.sqlite")).unwrap();
        let rows: Vec<(String, String)> = db
            .prepare("SELECT key, job FROM rows")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        for (key, job) in rows {
            let mut job: serde_json::Value = serde_json::from_str(&job).unwrap();
            job["output"] = serde_json::Value::Null;
            job["video_thumbnail"] = serde_json::Value::String(String::new());
            db.execute(
                "UPDATE rows SET state = 'done', job = ?2, video_path = NULL, video_sha256 = NULL,
                 video_bytes = NULL, thumb_path = NULL, thumb_sha256 = NULL, thumb_bytes = NULL
                 WHERE key = ?1",
                rusqlite::params![key, job.to_string()],
            )
            .unwrap();
            std::fs::remove_dir_all(dir.join(&key)).unwrap();
        }
    }
    let before = single_gets(&h.stats());
    let again = h.run(&sheet, &[]).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    let after = h.stats();
    assert!(
        single_gets(&after) >= before + 2,
        "the jobs were not asked about again: {after:?}"
    );
    for r in manifest_rows(&dir) {
        assert_eq!(r["status"], "downloaded", "{r}");
        let key = r["key"].as_str().unwrap();
        assert!(std::fs::read(dir.join(key).join("video.mp4")).unwrap() == VIDEO);
        // The API's own job has a thumbnail: it is fetched too.
        assert!(std::fs::read(dir.join(key).join("thumbnail.jpg")).unwrap() == THUMBNAIL);
    }
    assert_eq!(after.jobs_created, 2);
}
