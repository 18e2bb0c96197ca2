//! Errors read by what they say, not only by their status code: credits refused as a 403 or
//! a 400, and one row error repeated on the first rows of a sheet.

use std::time::Duration;

use creatify_batch::sandbox::dialect::Dialect;
use creatify_batch::sandbox::Faults;

use super::rig::*;
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn credits_refused_as_403_or_400_stop_with_exit_3_and_rows_stay_planned() {
    let runs = [403u16, 400].map(|status| async move {
        let case = format!("credits refused as {status}");
        let dialect = Dialect {
            credits_status: status,
            ..Dialect::default()
        };
        // Credits for two of five videos (5 each), and the balance endpoint failing, so the
        // up-front check cannot refuse the run: the creation's refusal must stop it.
        let mut faults = Faults::default();
        faults.account.status_503 = 1.0;
        let h = speaking(dialect, faults, |c| c.options.credits = 12.0).await;
        // Off, so that this test is about the class of the error alone.
        write_config(&h, &[("retry", "same_error_halt", "0")]);
        let n = 5;
        let sheet = h.sheet("credits.csv", &sheet_of(n));
        let out = run_bounded(&h, &sheet, LIMIT)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        // Not 5 ("credentials refused") for the 403, not 1 (rows failed) for the 400.
        assert_eq!(code(&out), 3, "{case}: {}", text(&out));
        let said = stdout(&out);
        assert!(
            said.contains("stopped submitting") && said.contains("enough credits"),
            "{case}: {}",
            text(&out)
        );
        let states = states(&h.batch_dir("credits"));
        assert_eq!(count(&states, "failed"), 0, "{case}: {states:?}");
        assert_eq!(count(&states, "downloaded"), 2, "{case}: {states:?}");
        assert_eq!(count(&states, "planned"), n - 2, "{case}: {states:?}");
        assert_eq!(h.stats().jobs_created, 2, "{case}");
    });
    let [a, b] = runs;
    tokio::join!(a, b);
}

/// A sheet whose every row names an avatar the API does not have, each a different one.
fn ghost_sheet(n: usize) -> String {
    let mut s = String::from("key,name,script,avatar,voice,aspect\n");
    for i in 1..=n {
        s.push_str(&format!(
            "g{i:02},Ghost {i},\"Hello number {i}, this is a short script.\",ghost-{i},52825997-e2f1-5148-a3f3-620a6cb2bacf,9x16\n"
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_error_on_the_first_three_rows_halts_submission() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let n = 10;
    let sheet = h.sheet("ghosts.csv", &ghost_sheet(n));
    // Ids the catalogue does not list, declared as the account's (as for a cloned voice):
    // the tool lets them through, the API refuses each.
    let declare_ghosts = || {
        let ghosts: Vec<String> = (1..=n).map(|i| format!("\"ghost-{i}\"")).collect();
        let config = std::fs::read_to_string(h.dir.path().join("pipeline.toml")).unwrap();
        std::fs::write(
            h.dir.path().join("pipeline.toml"),
            format!("{config}\n[catalog]\nknown_ids = [{}]\n", ghosts.join(", ")),
        )
        .unwrap();
    };
    declare_ghosts();
    let out = run_bounded(&h, &sheet, LIMIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 1, "{}", text(&out));
    // The messages differ only in the avatar id each row names: the same error.
    assert_eq!(posts(&h), 3, "{:?}\n{}", h.stats().requests, text(&out));
    let said = stdout(&out);
    assert!(
        said.contains("the first 3 rows were all refused with the same error")
            && said.contains("avatar_id")
            && said.contains("not sent"),
        "{}",
        text(&out)
    );
    let states = states(&h.batch_dir("ghosts"));
    assert_eq!(count(&states, "failed"), 3, "{states:?}");
    assert_eq!(count(&states, "planned"), n - 3, "{states:?}");

    // Off (0): every row is sent and refused on its own.
    write_config(&h, &[("retry", "same_error_halt", "0")]);
    declare_ghosts();
    let out = run_bounded(&h, &sheet, LIMIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(posts(&h), n as u64, "{}", text(&out));
}

/// A client for a one-route server that answers every creation with `status` and `body`.
async fn refusing_client(status: u16, body: &'static str) -> creatify_batch::api::ApiClient {
    use axum::http::{header, StatusCode};
    let app = axum::Router::new().route(
        "/api/lipsyncs_v2/",
        axum::routing::post(move || async move {
            (
                StatusCode::from_u16(status).expect("status"),
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = creatify_batch::api::ClientConfig {
        base_url: format!("http://{addr}").parse().expect("url"),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        list_timeout: Duration::from_secs(2),
        requests_per_second: 1000.0,
        burst: 100,
        max_retry_after: Duration::from_secs(5),
        max_attempts: 2,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    let creds = creatify_batch::api::Credentials::new("id", "key");
    creatify_batch::api::ApiClient::new(config, &creds).expect("client")
}

#[tokio::test]
async fn a_refusal_that_speaks_of_concurrent_jobs_is_the_render_cap_whatever_its_status() {
    use creatify_batch::api::{ApiError, CreateOutcome, ErrorClass};
    let body: creatify_batch::api::CreateLipsync = serde_json::from_str(
        r#"{"video_inputs":[{"character":{"type":"avatar","avatar_id":"edb9719c-42af-5c7f-83d5-b7de95567b5e"},
            "voice":{"type":"text","input_text":"Hi","voice_id":"52825997-e2f1-5148-a3f3-620a6cb2bacf"}}],
            "name":"v1 [cb-000000000000]"}"#,
    )
    .expect("body");
    for status in [400, 403, 409] {
        let client = refusing_client(
            status,
            r#"{"detail":"You have too many concurrent jobs running."}"#,
        )
        .await;
        match client.create(&body).await {
            CreateOutcome::NotCreated(e @ ApiError::Throttled { .. }) => {
                assert!(e.is_render_cap(), "{status}: {e}");
                assert_eq!(e.class(), ErrorClass::Retryable, "{status}");
            }
            other => panic!("{status}: not read as the render cap: {other:?}"),
        }
    }
    // And credits by their words, even as a 403.
    let client = refusing_client(403, r#"{"detail":"You do not have enough credits"}"#).await;
    match client.create(&body).await {
        CreateOutcome::NotCreated(e) => assert_eq!(e.class(), ErrorClass::Credits, "{e}"),
        other => panic!("{other:?}"),
    }
}
