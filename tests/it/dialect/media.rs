//! Media that come gzip-encoded whatever the client asked for, and media without
//! `Content-Length` cut at half with a clean EOF: the bytes on disk are the sandbox's sample
//! files, or nothing is saved under the final name.

use std::path::Path;

use creatify_batch::sandbox::dialect::Dialect;
use creatify_batch::sandbox::Faults;
use sha2::{Digest, Sha256};

use crate::support::*;

fn dialect(d: Dialect) -> Faults {
    Faults {
        api: d,
        ..Faults::default()
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every row downloaded, its files byte-identical to the samples, the manifest's checksums
/// and sizes those of the samples.
fn assert_samples_on_disk(batch_dir: &Path, n: usize, out: &std::process::Output) {
    let rows = manifest_rows(batch_dir);
    assert_eq!(rows.len(), n);
    for r in rows {
        assert_eq!(r["status"], "downloaded", "{r}\n{}", text(out));
        let key = r["key"].as_str().unwrap();
        let video = std::fs::read(batch_dir.join(key).join("video.mp4")).unwrap();
        assert!(video == VIDEO, "{key}: video.mp4 is not the sample video");
        let thumb = std::fs::read(batch_dir.join(key).join("thumbnail.jpg")).unwrap();
        assert!(thumb == THUMBNAIL, "{key}: thumbnail.jpg is not the sample");
        assert_eq!(r["video_sha256"], sha256(VIDEO));
        assert_eq!(r["video_bytes"], VIDEO.len() as u64);
        assert_eq!(r["thumbnail_sha256"], sha256(THUMBNAIL));
    }
    let partials: Vec<_> = files_below(batch_dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(partials.is_empty(), "{partials:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_encoded_media_are_saved_decoded_byte_for_byte() {
    let h = Harness::start(
        dialect(Dialect {
            media_gzip: true,
            ..Dialect::default()
        }),
        |_| {},
    )
    .await;
    let sheet = h.sheet("gz.csv", &sheet_of(3));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_samples_on_disk(&h.batch_dir("gz"), 3, &out);
    let stats = h.stats();
    let gzipped = stats.faults.get("media_gzip").copied().unwrap_or(0);
    assert!(gzipped >= 6, "{stats:?}");
    // Every download asked for the file as it is, before the server encoded it anyway.
    assert_eq!(
        stats.faults.get("media_gzip_despite_identity").copied(),
        Some(gzipped),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_gzip_download_starts_over_and_the_file_is_whole() {
    let mut faults = dialect(Dialect {
        media_gzip: true,
        ..Dialect::default()
    });
    faults.download.truncate = 0.5;
    let h = Harness::start(faults, |c| c.options.seed = 3).await;
    let sheet = h.sheet("gzcut.csv", &sheet_of(4));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_samples_on_disk(&h.batch_dir("gzcut"), 4, &out);
    let stats = h.stats();
    assert!(
        stats.faults.get("truncate").copied().unwrap_or(0) >= 1,
        "{stats:?}"
    );
}

/// A sandbox that keeps its account, so a restart without the deviation finds the jobs.
async fn persistent(faults: Faults) -> (Harness, tempfile::TempDir) {
    let state = tempfile::tempdir().expect("state dir");
    let path = state.path().to_owned();
    let h = Harness::start(faults, |c| c.options.state_dir = Some(path)).await;
    (h, state)
}

/// Media cut at half with a clean EOF (`gzip` too or not): nothing saved under its final
/// name, the rows stay `done` (exit 1), and a rerun against a healthy server fetches them
/// without creating anything again.
async fn cut_media_are_refused_then_fetched_next_run(gzip: bool, batch: &str) {
    let (h, _state) = persistent(dialect(Dialect {
        media_eof_cut: true,
        media_gzip: gzip,
        ..Dialect::default()
    }))
    .await;
    let config = FAST_CONFIG.replace("max_attempts = 8", "max_attempts = 2");
    std::fs::write(h.dir.path().join("pipeline.toml"), config).unwrap();
    let sheet = h.sheet(&format!("{batch}.csv"), &sheet_of(2));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let dir = h.batch_dir(batch);
    for r in manifest_rows(&dir) {
        assert_eq!(r["status"], "done", "{r}");
        let key = r["key"].as_str().unwrap();
        for file in ["video.mp4", "thumbnail.jpg"] {
            let p = dir.join(key).join(file);
            assert!(!p.exists(), "{} saved from a cut body", p.display());
        }
        // Refused for what it is: a file that ends early, not a transport error.
        let reason = r["failure_reason"].as_str().unwrap_or_default();
        let why = if gzip {
            "the gzip-encoded body is incomplete"
        } else {
            "the file is cut"
        };
        assert!(reason.contains(why), "{reason}");
    }
    assert!(h.stats().faults.get("media_eof_cut").copied().unwrap_or(0) >= 2);

    let h = h.restart(Faults::default()).await;
    let again = h.run(&sheet, &[]).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_samples_on_disk(&dir, 2, &again);
    assert_eq!(h.stats().jobs_created, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn media_without_content_length_cut_at_half_are_refused_and_fetched_next_run() {
    cut_media_are_refused_then_fetched_next_run(false, "cut").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_media_cut_at_half_without_content_length_are_refused_and_fetched_next_run() {
    cut_media_are_refused_then_fetched_next_run(true, "gzcut").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_media_without_content_length_are_kept_when_the_file_proves_it_is_whole() {
    for gzip in [false, true] {
        let h = Harness::start(
            dialect(Dialect {
                media_close_delimited: true,
                media_gzip: gzip,
                ..Dialect::default()
            }),
            |_| {},
        )
        .await;
        let sheet = h.sheet("eof.csv", &sheet_of(2));
        let out = h.run(&sheet, &[]).await;
        assert_eq!(code(&out), 0, "gzip {gzip}: {}", text(&out));
        assert_samples_on_disk(&h.batch_dir("eof"), 2, &out);
        let stats = h.stats();
        assert_eq!(
            stats.faults.get("media_close_delimited").copied(),
            Some(4),
            "{stats:?}"
        );
    }
}
