//! `creatify-batch run` against the in-process sandbox: the product's promises, end to end.

use std::time::{Duration, Instant};

use creatify_batch::sandbox::Faults;

use crate::support::*;

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    creatify_batch::engine::reference::hex(&sha2::Sha256::digest(bytes))
}

fn assert_all_downloaded(h: &Harness, batch: &str, n: usize) {
    let dir = h.batch_dir(batch);
    let rows = manifest_rows(&dir);
    assert_eq!(rows.len(), n);
    for r in &rows {
        assert_eq!(r["status"], "downloaded", "{r}");
        let video = std::fs::read(dir.join(r["video"].as_str().unwrap())).unwrap();
        assert_eq!(
            video, VIDEO,
            "video of {} differs from what the sandbox served",
            r["key"]
        );
        assert_eq!(r["video_sha256"].as_str().unwrap(), sha(VIDEO));
        let thumb = std::fs::read(dir.join(r["thumbnail"].as_str().unwrap())).unwrap();
        assert_eq!(thumb, THUMBNAIL);
    }
    let partials: Vec<_> = files_below(&dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(partials.is_empty(), "left behind: {partials:?}");
}

fn assert_exactly_once(h: &Harness, n: usize) {
    let per_row = creations_by_key(&h.stats());
    assert_eq!(per_row.len(), n, "{per_row:?}");
    for (row, count) in per_row {
        assert_eq!(count, 1, "row {row} was created {count} times");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn happy_path_downloads_every_video_and_a_rerun_sends_nothing() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("spring.csv", &sheet_of(6));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_all_downloaded(&h, "spring", 6);
    assert_exactly_once(&h, 6);
    let dir = h.batch_dir("spring");
    for f in [
        "manifest.csv",
        "failed.csv",
        "report.html",
        "journal.sqlite",
        "v001/job.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }

    let posts_before = h.stats().jobs_created;
    let again = h.run(&sheet, &[]).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_eq!(
        h.stats().jobs_created,
        posts_before,
        "a rerun of a finished batch created jobs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_responses_never_create_a_second_job() {
    // Every creation succeeds on the server but its 201 never reaches the client.
    let mut faults = Faults::default();
    faults.create.lost = 1.0;
    let h = Harness::start(faults, |_| {}).await;
    let sheet = h.sheet("lost.csv", &sheet_of(5));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_exactly_once(&h, 5);
    assert_all_downloaded(&h, "lost", 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_and_resets_are_survived_exactly_once() {
    let mut faults = Faults::default();
    faults.create.status_503 = 0.3;
    faults.create.reset = 0.2;
    faults.poll.status_500 = 0.3;
    faults.poll.reset = 0.2;
    faults.download.truncate = 0.4;
    let h = Harness::start(faults, |c| c.options.seed = 7).await;
    let sheet = h.sheet("flaky.csv", &sheet_of(8));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_exactly_once(&h, 8);
    assert_all_downloaded(&h, "flaky", 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_storm_pauses_every_task_for_retry_after() {
    // The server allows 2 requests a second; the runner is told 200.
    let h = Harness::start(Faults::default(), |c| {
        c.options.rate_limit = Some(2.0);
        c.options.burst = 2;
    })
    .await;
    let sheet = h.sheet("storm.csv", &sheet_of(6));
    let started = Instant::now();
    let out = h.run(&sheet, &[]).await;
    let took = started.elapsed();
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stats = h.stats();
    assert!(stats.throttled > 0, "the storm never happened");
    // Each 429 says "Retry-After: 1" at least; the shared gate holds every task for it, so
    // the run cannot be faster than one second per 429 wave, and the waves stay few.
    assert!(
        took >= Duration::from_secs(1),
        "finished in {took:?} despite 429s"
    );
    let requests: u64 = stats.requests.values().flat_map(|m| m.values()).sum();
    assert!(
        stats.throttled * 2 <= requests,
        "{} of {requests} requests were throttled: the runner kept hammering",
        stats.throttled
    );
    assert_exactly_once(&h, 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_urls_are_refreshed_and_missing_files_fetched_again() {
    let mut faults = Faults::default();
    faults.download.url_ttl_seconds = Some(1.0);
    let h = Harness::start(faults, |_| {}).await;
    let sheet = h.sheet("ttl.csv", &sheet_of(3));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let dir = h.batch_dir("ttl");
    std::fs::remove_file(dir.join("v002/video.mp4")).unwrap();
    // The journal's URLs are now stale: the rerun must get fresh ones.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = h.run(&sheet, &[]).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_all_downloaded(&h, "ttl", 3);
    assert_exactly_once(&h, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_jobs_land_in_failed_csv_and_retry_failed_resubmits_them() {
    let mut faults = Faults::default();
    faults.jobs.fail = 1.0;
    let h = Harness::start(faults, |_| {}).await;
    let sheet = h.sheet("fails.csv", &sheet_of(3));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let failed = std::fs::read_to_string(h.batch_dir("fails").join("failed.csv")).unwrap();
    let lines: Vec<&str> = failed.lines().collect();
    assert_eq!(lines[0], "key,name,script,avatar,voice,aspect,#reason");
    assert_eq!(lines.len(), 4, "{failed}");
    assert!(lines[1].starts_with("v001,Video 1,"), "{failed}");
    for r in manifest_rows(&h.batch_dir("fails")) {
        assert_eq!(r["status"], "failed");
        assert!(
            r["failure_reason"].as_str().is_some_and(|s| !s.is_empty()),
            "{r}"
        );
    }

    // A plain rerun leaves failed rows alone; --retry-failed sends them again, once each.
    let again = h.run(&sheet, &[]).await;
    assert_eq!(code(&again), 1);
    assert_eq!(h.stats().jobs_created, 3);
    let retry = h.run(&sheet, &["--retry-failed"]).await;
    assert_eq!(code(&retry), 1, "{}", text(&retry));
    assert_eq!(h.stats().jobs_created, 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn budget_refusals_send_nothing() {
    let h = Harness::start(Faults::default(), |c| c.options.credits = 12.0).await;
    let sheet = h.sheet("budget.csv", &sheet_of(4));
    // Each video costs 5 credits (standard, under 30 s): 20 in all.
    let capped = h.run(&sheet, &["--max-credits", "10"]).await;
    assert_eq!(code(&capped), 3, "{}", text(&capped));
    assert!(String::from_utf8_lossy(&capped.stderr).contains("over --max-credits 10"));
    let poor = h.run(&sheet, &[]).await;
    assert_eq!(code(&poor), 3, "{}", text(&poor));
    assert!(
        String::from_utf8_lossy(&poor.stderr).contains("the account has 12"),
        "{}",
        text(&poor)
    );
    assert_eq!(h.stats().jobs_created, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_or_missing_credentials_give_exit_5_and_2() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("auth.csv", &sheet_of(2));
    let mut cmd = h.run_command(&sheet, &[]);
    cmd.env("CREATIFY_API_KEY", "wrong-key");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 5, "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong-key"));

    let mut cmd = h.run_command(&sheet, &[]);
    cmd.env_remove("CREATIFY_API_KEY");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CREATIFY_API_KEY"));
    assert_eq!(h.stats().jobs_created, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_on_the_same_folder_is_refused() {
    // Slow renders keep the first run busy.
    let h = Harness::start(Faults::default(), |c| c.options.time_scale = 1.0).await;
    let sheet = h.sheet("busy.csv", &sheet_of(2));
    let mut first = h.run_command(&sheet, &[]).spawn().unwrap();
    let lock = h.batch_dir("busy").join("journal.sqlite");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lock.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = h.run(&sheet, &[]).await;
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(code(&second), 2, "{}", text(&second));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another creatify-batch run is using"),
        "{}",
        text(&second)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_many_instants_never_pays_twice() {
    let mut faults = Faults::default();
    faults.create.lost = 0.2;
    faults.download.truncate = 0.2;
    // Renders take about four seconds, so every stage lasts long enough to be hit.
    let h = Harness::start(faults, |c| {
        c.options.seed = 3;
        c.options.time_scale = 1.0;
    })
    .await;
    let n = 12;
    let sheet = h.sheet("kill.csv", &sheet_of(n));
    let mut kills = 0;
    // Kill after 20 to 300 ms, from a fixed seed, so the kills land in planning, submission,
    // polling and download, reproducibly.
    let mut seed: u64 = 0x5eed;
    for _ in 0..30 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = 20 + (seed >> 33) % 280;
        let mut child = h.run_command(&sheet, &[]).spawn().unwrap();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        match child.try_wait().unwrap() {
            Some(status) if status.code() == Some(0) => break,
            Some(status) => panic!("run ended with {status}"),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                kills += 1;
            }
        }
    }
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(kills >= 15, "only {kills} kills landed");
    assert_exactly_once(&h, n);
    assert_all_downloaded(&h, "kill", n);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_saves_state_exits_130_and_the_rerun_finishes() {
    let h = Harness::start(Faults::default(), |c| c.options.time_scale = 20.0).await;
    let sheet = h.sheet("int.csv", &sheet_of(4));
    let child = h.run_command(&sheet, &[]).spawn().unwrap();
    let journal = h.batch_dir("int").join("journal.sqlite");
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.stats().jobs_created == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(journal.exists());
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 130, "{}", text(&out));
    let again = h.run(&sheet, &[]).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_exactly_once(&h, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_appear_in_any_output_or_log() {
    let mut faults = Faults::default();
    faults.jobs.fail = 0.5;
    faults.create.status_503 = 0.3;
    let h = Harness::start(faults, |c| c.options.seed = 11).await;
    let sheet = h.sheet("secret.csv", &sheet_of(4));
    let mut logs = Vec::new();
    for extra in [&["-vv"][..], &["--log-format", "json", "-vv"][..]] {
        let out = h.run(&sheet, extra).await;
        logs.push(out.stdout);
        logs.push(out.stderr);
    }
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(h.dir.path()).args(["status", "out/secret"]);
    logs.push(cmd.output().unwrap().stdout);
    let mut scanned = 0;
    for f in files_below(h.dir.path()) {
        if f.ends_with("pipeline.toml") {
            continue;
        }
        logs.push(std::fs::read(&f).unwrap());
        scanned += 1;
    }
    assert!(scanned >= 8, "only {scanned} files written");
    for blob in &logs {
        for secret in [&h.id, &h.key] {
            let hay = String::from_utf8_lossy(blob);
            assert!(
                !hay.contains(secret.as_str()),
                "a secret leaked: {}",
                &hay[..hay.len().min(300)]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn planted_symlinks_never_lead_writes_out_of_the_batch_folder() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("links.csv", &sheet_of(3));
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let dir = h.batch_dir("links");
    std::fs::create_dir_all(dir.join("v002")).unwrap();
    // A row folder that is a link out, and partial files that point at a victim.
    std::os::unix::fs::symlink(outside.path(), dir.join("v001")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("v002/video.mp4.partial")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("manifest.json.partial")).unwrap();

    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        1,
        "something was written outside"
    );
    let rows = manifest_rows(&dir);
    let v001 = rows.iter().find(|r| r["key"] == "v001").unwrap();
    assert_eq!(v001["status"], "done", "{v001}");
    assert!(
        v001["failure_reason"]
            .as_str()
            .unwrap()
            .contains("not a folder"),
        "{v001}"
    );
    for key in ["v002", "v003"] {
        let r = rows.iter().find(|r| r["key"] == key).unwrap();
        assert_eq!(r["status"], "downloaded", "{r}");
    }
    assert_eq!(std::fs::read(dir.join("v002/video.mp4")).unwrap(), VIDEO);
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_over_the_size_cap_are_refused() {
    let h = Harness::start(Faults::default(), |c| c.options.video_bytes = Some(3 << 20)).await;
    let config = format!("{FAST_CONFIG}max_download_mib = 2\n");
    std::fs::write(h.dir.path().join("pipeline.toml"), config).unwrap();
    let sheet = h.sheet("cap.csv", &sheet_of(1));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let rows = manifest_rows(&h.batch_dir("cap"));
    assert!(
        rows[0]["failure_reason"]
            .as_str()
            .unwrap()
            .contains("over the 2097152-byte limit"),
        "{}",
        rows[0]
    );
    assert!(!h.batch_dir("cap").join("v001/video.mp4").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_changed_after_submission_is_reported_not_sent_again() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("edit.csv", &sheet_of(2));
    assert_eq!(code(&h.run(&sheet, &[]).await), 0);
    std::fs::write(&sheet, sheet_of(2).replace("Hello number 2", "Hi number 2")).unwrap();
    let again = h.run(&sheet, &[]).await;
    // Exit 6: the video on disk is not the one the sheet now asks for (issue 10).
    assert_eq!(code(&again), 6, "{}", text(&again));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("row changed in the sheet after it was submitted") && err.contains("v002"),
        "{err}"
    );
    assert_eq!(h.stats().jobs_created, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn halt_after_failures_stops_new_submissions() {
    let mut faults = Faults::default();
    faults.jobs.fail = 1.0;
    let h = Harness::start(faults, |_| {}).await;
    let config = FAST_CONFIG.replace("max_in_flight = 50", "max_in_flight = 1");
    std::fs::write(h.dir.path().join("pipeline.toml"), config).unwrap();
    let sheet = h.sheet("halt.csv", &sheet_of(6));
    let out = h.run(&sheet, &["--halt-after-failures", "2"]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(h.stats().jobs_created, 2, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("stopped submitting: --halt-after-failures")
    );
    let planned = manifest_rows(&h.batch_dir("halt"))
        .iter()
        .filter(|r| r["status"] == "planned")
        .count();
    assert_eq!(planned, 4);

    let bad = h.run(&sheet, &["--halt-after-failures", "ten"]).await;
    assert_eq!(code(&bad), 2, "{}", text(&bad));
}
