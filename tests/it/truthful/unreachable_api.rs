//! An API nobody answers at ends the run quickly with exit 7 and one clear message, with no
//! row's attempts used up; the rerun against a live API on that address finishes.

use creatify_batch::sandbox::Faults;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_port_ends_the_run_with_exit_7_and_the_rerun_finishes() {
    // A sandbox on a port below the ephemeral range (a state dir makes the harness pick one
    // that stays free), stopped: the port is closed, and the same sandbox comes back on it.
    let state = tempfile::tempdir().unwrap();
    let h = Harness::start(Faults::default(), |c| {
        c.options.state_dir = Some(state.path().to_owned());
    })
    .await;
    let url = h.sandbox.base_url();
    let config = FAST_CONFIG.replace(
        "request_timeout_secs = 3",
        "request_timeout_secs = 3\nunreachable_secs = 1.5",
    );
    std::fs::write(h.dir.path().join("pipeline.toml"), config).unwrap();
    let sheet = h.sheet("dark.csv", &sheet_of(3));
    let Harness {
        dir,
        sandbox,
        id,
        key,
        config,
    } = h;
    sandbox.shutdown().await;

    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(dir.path())
        .args([
            "run",
            sheet.to_str().unwrap(),
            "--out",
            "out",
            "--base-url",
            &url,
        ])
        .env("CREATIFY_API_ID", &id)
        .env("CREATIFY_API_KEY", &key)
        .env_remove("CREATIFY_BASE_URL")
        // The catalogue was cached by an earlier run (the harness's), as on a cron host.
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .stdin(std::process::Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 7, "{}", text(&out));
    let all = text(&out);
    assert!(all.contains(&url), "{all}");
    assert!(
        all.contains("nothing lost; rerun when it is reachable"),
        "{all}"
    );
    assert!(!all.contains("kept being refused"), "{all}");
    let batch = dir.path().join("out/dark");
    let rows = manifest_rows(&batch);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r["status"], "planned", "{r}");
    }
    let db = rusqlite::Connection::open(batch.join("journal.sqlite")).unwrap();
    let attempts: i64 = db
        .query_row("SELECT COALESCE(SUM(attempts), 0) FROM rows", [], |r| {
            r.get(0)
        })
        .unwrap();
    // One try per row at first, then a few probes: far from 3 × max_attempts (8).
    assert!(attempts <= 9, "{attempts} creation attempts logged: {all}");
    drop(db);

    // The API comes back on the same address: the rerun finishes the batch.
    let h = Harness {
        dir,
        sandbox: creatify_batch::sandbox::Sandbox::start(config.clone())
            .await
            .expect("the sandbox comes back on its port"),
        id,
        key,
        config,
    };
    let again = h.run(&sheet, &[]).await;
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_eq!(h.stats().jobs_created, 3);
    for r in manifest_rows(&batch) {
        assert_eq!(r["status"], "downloaded", "{r}");
    }
}
