//! A batch knows what it is: the sheet it came from and the API its jobs live in. A run
//! against another API, or from another sheet of the same name, is refused before anything
//! is sent; rehearsals (`--sandbox`) get a folder of their own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use creatify_batch::sandbox::{Credentials, Faults, Sandbox, SandboxConfig};

use crate::support::*;

/// `run SHEET --sandbox --out out` in the harness's folder: the in-process sandbox, fast.
pub(super) fn sandbox_run(h: &Harness, sheet: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(h.dir.path())
        .arg("run")
        .arg(sheet)
        .args(["--sandbox", "--sandbox-time-scale", "1000", "--out", "out"])
        .args(extra)
        .env_remove("CREATIFY_BASE_URL")
        .env_remove("CREATIFY_API_ID")
        .env_remove("CREATIFY_API_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

/// The same as [`Harness::run`], against another API (URL and id).
async fn run_against(h: &Harness, sheet: &Path, url: &str, id: &str, key: &str) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(h.dir.path())
        .arg("run")
        .arg(sheet)
        .args(["--base-url", url, "--out", "out"])
        .env("CREATIFY_API_ID", id)
        .env("CREATIFY_API_KEY", key)
        .env_remove("CREATIFY_BASE_URL")
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The journal's meta value `key`.
pub(super) fn meta(batch_dir: &Path, key: &str) -> Option<serde_json::Value> {
    creatify_batch::journal::Journal::read_meta(batch_dir, key)
        .expect("journal readable")
        .map(|v| serde_json::from_str(&v).expect("meta is JSON"))
}

/// Forgets the identity, as a journal made before it was recorded.
fn make_legacy(batch_dir: &Path) {
    let db = rusqlite::Connection::open(batch_dir.join("journal.sqlite")).unwrap();
    db.execute("DELETE FROM meta WHERE k IN ('source', 'target')", [])
        .unwrap();
}

fn downloaded(batch_dir: &Path) -> usize {
    manifest_rows(batch_dir)
        .iter()
        .filter(|r| r["status"] == "downloaded")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rehearsal_has_its_own_folder_and_the_real_run_renders_every_row() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("batch.csv", &sheet_of(4));
    let rehearsal = sandbox_run(&h, &sheet, &[]);
    assert_eq!(code(&rehearsal), 0, "{}", text(&rehearsal));
    let sandbox_dir = h.dir.path().join("out/sandbox/batch");
    assert_eq!(downloaded(&sandbox_dir), 4);
    assert_eq!(meta(&sandbox_dir, "target").unwrap()["kind"], "sandbox");
    assert!(
        !h.batch_dir("batch").exists(),
        "the rehearsal wrote out/batch"
    );

    // The real run meets no rehearsal: it creates every job itself.
    let real = h.run(&sheet, &[]).await;
    assert_eq!(code(&real), 0, "{}", text(&real));
    assert_eq!(h.stats().jobs_created, 4, "{}", text(&real));
    assert_eq!(downloaded(&h.batch_dir("batch")), 4);
    let target = meta(&h.batch_dir("batch"), "target").unwrap();
    assert_eq!(target["kind"], "api");
    assert_eq!(
        target["base_url"],
        h.sandbox.base_url().trim_end_matches('/')
    );
    // The sheet is recorded by canonical path and content hash.
    let source = meta(&h.batch_dir("batch"), "source").unwrap();
    assert_eq!(
        PathBuf::from(source["path"].as_str().unwrap()),
        sheet.canonicalize().unwrap()
    );
    assert_eq!(source["sha256"].as_str().unwrap().len(), 64);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_against_another_api_is_refused_and_sends_nothing() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("batch.csv", &sheet_of(2));
    let first = h.run(&sheet, &[]).await;
    assert_eq!(code(&first), 0, "{}", text(&first));

    // Another API (another URL, another account).
    let mut cfg = SandboxConfig::for_tests();
    cfg.credentials = Credentials {
        api_id: "other-id-55d1".into(),
        api_key: "other-key-SECRET-0b7e".into(),
        from_environment: true,
    };
    let other = Sandbox::start(cfg).await.unwrap();
    let out = run_against(
        &h,
        &sheet,
        &other.base_url(),
        "other-id-55d1",
        "other-key-SECRET-0b7e",
    )
    .await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    let err = stderr(&out);
    let fp = creatify_batch::batch::fingerprint;
    for want in [
        "out/batch".to_owned(),
        h.sandbox.base_url().trim_end_matches('/').to_owned(),
        other.base_url().trim_end_matches('/').to_owned(),
        fp(&h.id),
        fp("other-id-55d1"),
        "--out".into(),
        "--batch".into(),
    ] {
        assert!(err.contains(&want), "{want:?} not in: {err}");
    }
    for secret in [&h.id, &h.key, "other-id-55d1", "other-key-SECRET-0b7e"] {
        assert!(!text(&out).contains(secret), "a secret was printed: {err}");
    }
    let stats = other.stats();
    assert_eq!(stats.jobs_created, 0);
    let calls: u64 = stats.requests.values().flat_map(|m| m.values()).sum();
    assert_eq!(calls, 0, "the refused run called the other API: {stats:?}");

    // The same URL under another account is another target too.
    let out = run_against(&h, &sheet, &h.sandbox.base_url(), "third-id", "k").await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(stderr(&out).contains(&fp("third-id")), "{}", text(&out));
    assert_eq!(h.stats().jobs_created, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_from_before_identities_adopts_the_run_but_an_old_rehearsal_is_refused() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("old.csv", &sheet_of(2));
    let first = h.run(&sheet, &[]).await;
    assert_eq!(code(&first), 0, "{}", text(&first));
    let dir = h.batch_dir("old");
    make_legacy(&dir);
    assert!(meta(&dir, "target").is_none());
    let again = h.run(&sheet, &[]).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(
        stderr(&again).contains("made before batches recorded"),
        "{}",
        text(&again)
    );
    assert_eq!(meta(&dir, "target").unwrap()["kind"], "api");
    assert!(meta(&dir, "source").is_some());
    assert_eq!(h.stats().jobs_created, 2);

    // An old rehearsal in the real batch's place (where --sandbox used to write): its
    // in-process sandbox state gives it away, and the real run is refused.
    let sheet = h.sheet("rehearsed.csv", &sheet_of(2));
    let rehearsal = sandbox_run(&h, &sheet, &[]);
    assert_eq!(code(&rehearsal), 0, "{}", text(&rehearsal));
    let old_place = h.batch_dir("rehearsed");
    std::fs::rename(h.dir.path().join("out/sandbox/rehearsed"), &old_place).unwrap();
    make_legacy(&old_place);
    let real = h.run(&sheet, &[]).await;
    assert_eq!(code(&real), 2, "{}", text(&real));
    assert!(stderr(&real).contains("the sandbox"), "{}", text(&real));
    assert_eq!(h.stats().jobs_created, 2, "the refused run created jobs");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sheets_of_one_name_never_share_a_batch_silently() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    std::fs::create_dir_all(h.dir.path().join("campaignA")).unwrap();
    std::fs::create_dir_all(h.dir.path().join("campaignB")).unwrap();
    let a = h.sheet("campaignA/tonight.csv", &sheet_of(3));
    let b = h.sheet(
        "campaignB/tonight.csv",
        &sheet_of(3).replace("Hello number", "Campaign B, number"),
    );
    let first = h.run(&a, &[]).await;
    assert_eq!(code(&first), 0, "{}", text(&first));
    assert_eq!(h.stats().jobs_created, 3);

    // B's rows have A's keys: without the check they would be "downloaded" with A's videos.
    let out = h.run(&b, &[]).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    let err = stderr(&out);
    let owner = a.canonicalize().unwrap().display().to_string();
    assert!(
        err.contains(&owner),
        "the owner {owner} is not named: {err}"
    );
    assert!(err.contains("--batch"), "{err}");
    assert_eq!(h.stats().jobs_created, 3, "the refused run created jobs");

    // Named, B is a batch of its own.
    let named = h.run(&b, &["--batch", "tonight-b"]).await;
    assert_eq!(code(&named), 0, "{}", text(&named));
    assert_eq!(h.stats().jobs_created, 6);
    assert_eq!(downloaded(&h.batch_dir("tonight-b")), 3);
    // `plan --json --batch` shows the very names (references) that run sent.
    let plan = Command::new(BIN)
        .current_dir(h.dir.path())
        .arg("plan")
        .arg(&b)
        .args(["--json", "--batch", "tonight-b"])
        .output()
        .unwrap();
    assert_eq!(code(&plan), 0, "{}", text(&plan));
    let names = h.stats().jobs_by_name;
    for line in String::from_utf8_lossy(&plan.stdout).lines() {
        let body: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = body["name"].as_str().unwrap();
        assert_eq!(names.get(name), Some(&1), "{name} not sent: {names:?}");
    }
    // And a rerun of the named batch resumes it (nothing new).
    let again = h.run(&b, &["--batch", "tonight-b"]).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_eq!(h.stats().jobs_created, 6);
    // A bad name is refused.
    let bad = h.run(&b, &["--batch", "../escape"]).await;
    assert_eq!(code(&bad), 2, "{}", text(&bad));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_sheet_resumes_its_batch_and_a_moved_one_keeps_it() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    std::fs::create_dir_all(h.dir.path().join("archive")).unwrap();
    let sheet = h.sheet("tonight.csv", &sheet_of(2));
    let first = h.run(&sheet, &[]).await;
    assert_eq!(code(&first), 0, "{}", text(&first));
    let dir = h.batch_dir("tonight");
    let hash = |d: &Path| meta(d, "source").unwrap()["sha256"].clone();
    let before = hash(&dir);

    // Edited in place (a row added): the same batch, the new content recorded.
    let sheet = h.sheet("tonight.csv", &sheet_of(3));
    let edited = h.run(&sheet, &[]).await;
    assert_eq!(code(&edited), 0, "{}", text(&edited));
    assert_eq!(h.stats().jobs_created, 3);
    assert_ne!(hash(&dir), before);

    // Moved, same content: the same batch, nothing sent again, the new path recorded.
    let moved = h.dir.path().join("archive/tonight.csv");
    std::fs::rename(&sheet, &moved).unwrap();
    let out = h.run(&moved, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(stderr(&out).contains("moved"), "{}", text(&out));
    assert_eq!(h.stats().jobs_created, 3);
    assert_eq!(
        PathBuf::from(meta(&dir, "source").unwrap()["path"].as_str().unwrap()),
        moved.canonicalize().unwrap()
    );

    // Moved and edited: refused, unless the batch is named, which hands the folder over.
    let back = h.sheet("tonight.csv", &sheet_of(4));
    let refused = h.run(&back, &[]).await;
    assert_eq!(code(&refused), 2, "{}", text(&refused));
    let handed = h.run(&back, &["--batch", "tonight"]).await;
    assert_eq!(code(&handed), 0, "{}", text(&handed));
    assert_eq!(h.stats().jobs_created, 4);
    assert_eq!(downloaded(&dir), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_left_empty_by_a_run_killed_as_it_began_does_not_block_the_batch() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("k.csv", &sheet_of(2));
    let dir = h.batch_dir("k");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("journal.sqlite"), b"").unwrap();
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!stderr(&out).contains("made before"), "{}", text(&out));
    assert_eq!(downloaded(&dir), 2);
}
