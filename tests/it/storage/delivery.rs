//! Whole batches delivered to a real S3 server: every object whole and equal to the
//! manifest, a SIGKILL during uploads leaving no torn or extra object, a cut download never
//! becoming one, and a rerun not uploading again what the bucket already holds.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use creatify_batch::sandbox::dialect::Dialect;
use creatify_batch::sandbox::Faults;
use sha2::{Digest, Sha256};

use super::seaweed::{self, list, metadata, read, server, BUCKET};
use crate::support::*;

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `run` against the harness's sandbox with its files going to `s3://videos/<prefix>`.
pub fn s3_run(h: &Harness, sheet: &Path, prefix: &str, extra: &[&str]) -> Command {
    s3_run_to(h, sheet, &format!("s3://{BUCKET}/{prefix}"), extra)
}

/// `run` against the harness's sandbox with its files going to `out` on the test server.
pub fn s3_run_to(h: &Harness, sheet: &Path, out: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(h.dir.path())
        .arg("run")
        .arg(sheet)
        .args(["--base-url", &h.sandbox.base_url()])
        .args(["--out", out])
        .args(extra)
        .env("CREATIFY_API_ID", &h.id)
        .env("CREATIFY_API_KEY", &h.key)
        .env_remove("CREATIFY_BASE_URL")
        .envs(server().env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub async fn finish(cmd: Command) -> std::process::Output {
    let mut cmd = cmd;
    wait_bounded(cmd.spawn().expect("binary runs"), Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The bucket holds exactly the manifest's files and the reports, each whole: its bytes'
/// SHA-256 is the manifest's (and its metadata's, for objects sent in one piece).
async fn assert_bucket_is_the_manifest(h: &Harness, batch: &str, prefix: &str, size: Option<u64>) {
    let rows = manifest_rows(&h.batch_dir(batch));
    let under = format!("{prefix}/{batch}");
    let objects = list(&under).await;
    let names: BTreeSet<String> = objects.iter().map(|o| o.rel.clone()).collect();
    let mut want: BTreeSet<String> = ["manifest.json", "manifest.csv", "failed.csv", "report.html"]
        .into_iter()
        .map(String::from)
        .filter(|f| h.batch_dir(batch).join(f).is_file())
        .collect();
    assert!(
        want.contains("manifest.json") && want.contains("report.html"),
        "{want:?}"
    );
    for r in &rows {
        assert_eq!(r["status"], "downloaded", "{r}");
        let key = r["key"].as_str().unwrap();
        let folder = r["video_path"]
            .as_str()
            .and_then(|p| p.split('/').next())
            .unwrap_or(key)
            .to_owned();
        want.insert(format!("{folder}/job.json"));
        for (file, field) in [
            ("video.mp4", "video_sha256"),
            ("thumbnail.jpg", "thumbnail_sha256"),
        ] {
            let rel = format!("{folder}/{file}");
            let bytes = read(&format!("{under}/{rel}")).await;
            assert_eq!(sha256(&bytes), r[field].as_str().unwrap(), "{rel}: {r}");
            if let Some(meta) = metadata(&format!("{under}/{rel}"), "sha256").await {
                assert_eq!(meta, sha256(&bytes), "{rel}'s metadata");
            }
            if file == "video.mp4" {
                if let Some(n) = size {
                    assert_eq!(bytes.len() as u64, n, "{rel}");
                }
                assert_eq!(&bytes[4..8], b"ftyp", "{rel}");
            }
            want.insert(rel);
        }
    }
    // Nothing else: no probe, no partial, no second copy, no journal.
    assert_eq!(names, want, "the bucket holds {objects:?}");
    // The journal stays local, and no media were written locally.
    let local = files_below(&h.batch_dir(batch));
    assert!(
        local.iter().any(|p| p.ends_with("journal.sqlite")),
        "{local:?}"
    );
    assert!(
        !local.iter().any(|p| p.to_string_lossy().ends_with(".mp4")),
        "{local:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_batch_to_s3_lands_whole_and_the_bucket_equals_the_manifest() {
    server();
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("tonight.csv", &sheet_of(3));
    let prefix = seaweed::prefix("whole");
    let out = finish(s3_run(&h, &sheet, &prefix, &[])).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_bucket_is_the_manifest(&h, "tonight", &prefix, Some(VIDEO.len() as u64)).await;
    let video = format!("{prefix}/tonight/v001/video.mp4");
    assert_eq!(read(&video).await, VIDEO);
    assert_eq!(
        metadata(&video, "creatify-bytes").await,
        Some(VIDEO.len().to_string())
    );
    // The report's links are relative, so they resolve inside the prefix.
    let report = String::from_utf8(read(&format!("{prefix}/tonight/report.html")).await).unwrap();
    // (The page's escaping writes `/` in attributes as `&#x2f;`, which a browser reads as `/`.)
    let report = report.replace("&#x2f;", "/");
    let at = report
        .find("<video")
        .map(|i| &report[i..(i + 300).min(report.len())]);
    assert!(
        report.contains("src=\"v001/video.mp4\""),
        "report links: {at:?}"
    );
    assert!(
        !report.contains(&h.dir.path().display().to_string()),
        "no local path in the report"
    );

    // No secret in anything the run wrote, here or in the bucket, nor in its output.
    let mut written: Vec<Vec<u8>> = files_below(&h.batch_dir("tonight"))
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    for o in list(&prefix).await {
        written.push(read(&format!("{prefix}/{}", o.rel)).await);
    }
    written.push(out.stdout.clone());
    written.push(out.stderr.clone());
    for bytes in &written {
        let text = String::from_utf8_lossy(bytes);
        for secret in [seaweed::SECRET_KEY, &h.key, &h.id] {
            assert!(!text.contains(secret), "{secret} written somewhere");
        }
    }

    // Made to forget it delivered them (as after a SIGKILL between the upload and the
    // journal's commit), the rerun finds the objects whole and from the same jobs, by their
    // metadata, and neither downloads nor uploads them again.
    let journal = h.batch_dir("tonight").join("journal.sqlite");
    let db = rusqlite::Connection::open(&journal).unwrap();
    db.execute(
        "UPDATE rows SET state = 'done' WHERE state = 'downloaded'",
        [],
    )
    .unwrap();
    drop(db);
    let before = list(&format!("{prefix}/tonight")).await.len();
    let media_before = media_gets(&h);
    let again = finish(s3_run(&h, &sheet, &prefix, &[])).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_eq!(
        media_gets(&h),
        media_before,
        "downloaded again: {}",
        text(&again)
    );
    assert_eq!(list(&format!("{prefix}/tonight")).await.len(), before);
    assert_bucket_is_the_manifest(&h, "tonight", &prefix, Some(VIDEO.len() as u64)).await;
    assert_eq!(h.stats().jobs_created, 3);
}

/// Media requests the sandbox answered.
fn media_gets(h: &Harness) -> u64 {
    h.stats()
        .requests
        .get("GET /media/jobs/{id}/{file}")
        .map_or(0, |m| m.values().sum())
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_uploads_leaves_no_torn_object_and_the_rerun_completes_the_bucket() {
    server();
    // Above one part (5 MiB): multipart uploads. Two downloads at once for six rows, so
    // when the first video is whole most are still to come, however loaded the machine.
    const BYTES: u64 = 12 << 20;
    const ROWS: usize = 6;
    let state = tempfile::tempdir().unwrap();
    let path = state.path().to_owned();
    let h = Harness::start(Faults::default(), |c| {
        c.options.state_dir = Some(path);
        c.options.video_bytes = Some(BYTES);
    })
    .await;
    let config = FAST_CONFIG.replace("download_concurrency = 4", "download_concurrency = 2");
    std::fs::write(h.dir.path().join("pipeline.toml"), config).unwrap();
    let sheet = h.sheet("big.csv", &sheet_of(ROWS));
    let prefix = seaweed::prefix("killed");
    let under = format!("{prefix}/big");
    let mut cut_short = 0;
    for _ in 0..3 {
        let mut child = s3_run(&h, &sheet, &prefix, &[]).spawn().unwrap();
        // Killed as soon as a first video is in the bucket: the others are on their way.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let finished = loop {
            if child.try_wait().unwrap().is_some() {
                break true;
            }
            let videos = list(&under)
                .await
                .iter()
                .filter(|o| o.rel.ends_with("video.mp4"))
                .count();
            if videos >= 1 {
                break false;
            }
            assert!(std::time::Instant::now() < deadline, "no upload finished");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if finished {
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let objects = list(&under).await;
        let videos: Vec<_> = objects
            .iter()
            .filter(|o| o.rel.ends_with("video.mp4"))
            .collect();
        if videos.len() < ROWS {
            cut_short += 1;
        }
        // Whatever is there is whole.
        for o in &videos {
            assert_eq!(o.size, BYTES, "torn object {o:?}");
        }
    }
    assert!(
        cut_short >= 1,
        "no kill landed while uploads were under way"
    );
    let out = finish(s3_run(&h, &sheet, &prefix, &[])).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_bucket_is_the_manifest(&h, "big", &prefix, Some(BYTES)).await;
    for (key, n) in creations_by_key(&h.stats()) {
        assert_eq!(n, 1, "row {key} created {n} times");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_download_never_becomes_an_object_and_the_healed_rerun_delivers_it() {
    server();
    let state = tempfile::tempdir().unwrap();
    let path = state.path().to_owned();
    let faults = Faults {
        api: Dialect {
            media_eof_cut: true,
            ..Dialect::default()
        },
        ..Faults::default()
    };
    let h = Harness::start(faults, |c| c.options.state_dir = Some(path)).await;
    let config = FAST_CONFIG.replace("max_attempts = 8", "max_attempts = 2");
    std::fs::write(h.dir.path().join("pipeline.toml"), config).unwrap();
    let sheet = h.sheet("cut.csv", &sheet_of(2));
    let prefix = seaweed::prefix("cut");
    let out = finish(s3_run(&h, &sheet, &prefix, &[])).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let objects = list(&format!("{prefix}/cut")).await;
    assert!(
        !objects
            .iter()
            .any(|o| o.rel.ends_with(".mp4") || o.rel.ends_with(".jpg")),
        "a cut body became an object: {objects:?}"
    );
    for r in manifest_rows(&h.batch_dir("cut")) {
        assert_eq!(r["status"], "done", "{r}");
        let reason = r["failure_reason"].as_str().unwrap_or_default();
        assert!(reason.contains("the file is cut"), "{reason}");
    }
    assert!(h.stats().faults.get("media_eof_cut").copied().unwrap_or(0) >= 2);

    let h = h.restart(Faults::default()).await;
    let again = finish(s3_run(&h, &sheet, &prefix, &[])).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_bucket_is_the_manifest(&h, "cut", &prefix, Some(VIDEO.len() as u64)).await;
    assert_eq!(h.stats().jobs_created, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_endpoint_may_come_from_pipeline_toml_instead_of_the_environment() {
    server();
    let h = Harness::start(Faults::default(), |_| {}).await;
    let config = format!(
        "{FAST_CONFIG}\n[storage]\nendpoint = \"{}\"\nregion = \"us-east-1\"\nurl_style = \"path\"\n",
        server().endpoint
    );
    std::fs::write(h.dir.path().join("pipeline.toml"), config).unwrap();
    let sheet = h.sheet("configured.csv", &sheet_of(1));
    let prefix = seaweed::prefix("configured");
    let mut cmd = s3_run(&h, &sheet, &prefix, &[]);
    cmd.env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ALLOW_HTTP")
        .env_remove("AWS_REGION");
    let out = finish(cmd).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_bucket_is_the_manifest(&h, "configured", &prefix, Some(VIDEO.len() as u64)).await;
}
