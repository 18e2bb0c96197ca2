//! Sheets given by their link, fetched from a local server: CSV, a workbook known by its
//! bytes, a redirect, a login page, a 404; a run keeps what it fetched and its hash.

use std::sync::{Arc, Mutex};

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use super::*;
use crate::support::{code, manifest_rows, text, FAST_CONFIG};

fn csv_of(keys: &[&str]) -> String {
    let mut s = String::from("key,script,avatar\n");
    for k in keys {
        s.push_str(&format!(
            "{k},Hello from the link; this is {k}.,{}\n",
            avatar()
        ));
    }
    s
}

/// A local server of sheets; `csv` is what `/sheets/tonight.csv` answers.
async fn server(csv: Arc<Mutex<String>>) -> String {
    let book = xlsx(|ws| {
        write_rows(
            ws,
            &[
                &["key", "script", "avatar"],
                &["a", "Hello from the link; this is a.", avatar()],
            ],
        )
    });
    let app = Router::new()
        .route(
            "/sheets/tonight.csv",
            get(move || {
                let body = csv.lock().unwrap().clone();
                async move { ([(header::CONTENT_TYPE, "text/csv")], body) }
            }),
        )
        .route(
            "/download",
            get(move || {
                let book = book.clone();
                async move { ([(header::CONTENT_TYPE, "application/octet-stream")], book) }
            }),
        )
        .route(
            "/moved",
            get(|| async { Redirect::temporary("/sheets/tonight.csv") }),
        )
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route(
            "/private",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<!DOCTYPE html><html><body>Sign in to continue</body></html>",
                )
            }),
        )
        .route(
            "/gone",
            get(|| async { StatusCode::NOT_FOUND.into_response() }),
        )
        .route(
            "/huge",
            get(|| async { vec![b'a'; creatify_batch::sheet::remote::MAX_BYTES + 1] }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn cli_async(dir: &std::path::Path, args: Vec<String>) -> std::process::Output {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&dir, &args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_to_csv_and_workbooks_plan_and_bad_links_say_why() {
    let base = server(Arc::new(Mutex::new(csv_of(&["a"])))).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = |path: &str| {
        let url = format!("{base}{path}");
        cli_async(
            dir.path(),
            vec![
                "plan".into(),
                url,
                "--json".into(),
                "--batch".into(),
                "b".into(),
            ],
        )
    };
    let csv = plan("/sheets/tonight.csv").await;
    assert_eq!(code(&csv), 0, "{}", text(&csv));
    let book = plan("/download").await;
    assert_eq!(code(&book), 0, "{}", text(&book));
    assert_eq!(csv.stdout, book.stdout, "the same rows as CSV and as xlsx");
    let moved = plan("/moved").await;
    assert_eq!(code(&moved), 0, "{}", text(&moved));
    assert_eq!(moved.stdout, csv.stdout);

    for (path, says) in [
        ("/private", "a web page (HTML), not a sheet"),
        ("/private", "Anyone with the link → Viewer"),
        (
            "/gone",
            "the server answered 404 Not Found; there is no sheet at this link",
        ),
        ("/loop", "more than 5 redirects"),
        ("/huge", "is larger than 64 MiB"),
    ] {
        let out = plan(path).await;
        assert_eq!(code(&out), 2, "{path}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{path}: {}",
            text(&out)
        );
        assert!(out.stdout.is_empty(), "{path}: nothing planned");
    }
    // A credential in a link (a presigned link's signature, a token) is never printed: not
    // in our messages, not in the HTTP client's (which name the URL).
    for path in [
        "/gone?X-Amz-Signature=SECRET123",
        "/private?token=SECRET123",
    ] {
        let out = plan(path).await;
        assert_eq!(code(&out), 2, "{path}: {}", text(&out));
        assert!(!text(&out).contains("SECRET123"), "{path}: {}", text(&out));
    }
    let refused = "http://127.0.0.1:1/s.csv?token=SECRET123";
    let out = cli_async(dir.path(), vec!["plan".into(), refused.into()]).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot fetch the sheet"), "{}", text(&out));
    assert!(!stderr.contains("SECRET123"), "{}", text(&out));

    let out = cli_async(
        dir.path(),
        vec!["plan".into(), "http://example.com/s.csv".into()],
    )
    .await;
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("over https only"),
        "{}",
        text(&out)
    );
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_keeps_the_fetched_sheet_and_its_hash_and_fetches_fresh_each_time() {
    let served = Arc::new(Mutex::new(csv_of(&["a"])));
    let base = server(served.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pipeline.toml"), FAST_CONFIG).unwrap();
    let url = format!("{base}/sheets/tonight.csv");
    let run = || {
        cli_async(
            dir.path(),
            [
                "run",
                &url,
                "--sandbox",
                "--sandbox-time-scale",
                "1000",
                "--out",
                "out",
            ]
            .map(String::from)
            .to_vec(),
        )
    };
    let out = run().await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let sandbox = dir.path().join("out/sandbox");
    let batches: Vec<_> = std::fs::read_dir(&sandbox).unwrap().flatten().collect();
    assert_eq!(batches.len(), 1);
    let batch = batches[0].path();
    let name = batch.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("tonight-"), "named after the link: {name}");
    let first = served.lock().unwrap().clone();
    assert_eq!(
        std::fs::read_to_string(batch.join("sheet/source.csv")).unwrap(),
        first
    );
    let source = |b: &std::path::Path| -> serde_json::Value {
        let meta =
            creatify_batch::journal::Journal::read_meta(b, creatify_batch::journal::SOURCE_META)
                .unwrap()
                .unwrap();
        serde_json::from_str(&meta).unwrap()
    };
    assert_eq!(source(&batch)["path"], url.as_str());
    assert_eq!(source(&batch)["sha256"], sha(first.as_bytes()).as_str());

    // The sheet is edited where it lives: the next run fetches it again, resumes the same
    // batch, makes only the new row, and keeps both versions.
    *served.lock().unwrap() = csv_of(&["a", "b"]);
    let out = run().await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let second = served.lock().unwrap().clone();
    assert_eq!(
        std::fs::read_to_string(batch.join("sheet/source.csv")).unwrap(),
        second
    );
    assert_eq!(source(&batch)["sha256"], sha(second.as_bytes()).as_str());
    let versions = std::fs::read_dir(batch.join("sheet")).unwrap().count();
    assert_eq!(versions, 3, "source.csv and one file per version");
    let rows = manifest_rows(&batch);
    let states: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("a", "downloaded"), ("b", "downloaded")]);

    // `status` finds a link's batch as `run` does (among others), without fetching it.
    let other = sandbox.join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(batch.join("journal.sqlite"), other.join("journal.sqlite")).unwrap();
    let out = cli_async(
        dir.path(),
        ["status", &url, "--sandbox", "--out", "out", "--json"]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("downloaded"),
        "{}",
        text(&out)
    );
}
