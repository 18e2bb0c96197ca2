//! Answers the sandbox does not give, served by a tiny local server to the client itself:
//! job JSON with missing and extra fields, `progress` as a number and as a string, and
//! non-JSON answers to a creation POST.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use creatify_batch::api::{
    ApiClient, ApiError, ClientConfig, CreateLipsync, CreateOutcome, Credentials, ErrorClass,
    JobStatus,
};

/// One canned answer: status, content type, body, extra headers.
type Canned = (u16, &'static str, String, Vec<(&'static str, &'static str)>);

/// Serves `GET /api/lipsyncs_v2/` (with or without `?ids=`) and `POST /api/lipsyncs_v2/`
/// from queues of canned answers, in order; counts the requests.
#[derive(Clone, Default)]
struct Script {
    gets: Arc<Mutex<VecDeque<Canned>>>,
    posts: Arc<Mutex<VecDeque<Canned>>>,
    hits: Arc<Mutex<u32>>,
}

fn answer(next: Option<Canned>) -> Response<Body> {
    let (status, content_type, body, headers) =
        next.unwrap_or((599, "text/plain", "script ran out".into(), Vec::new()));
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .header(header::CONTENT_TYPE, content_type);
    for (k, v) in headers {
        b = b.header(k, v);
    }
    b.body(Body::from(body)).expect("response")
}

impl Script {
    fn get(&self, c: Canned) -> &Self {
        self.gets.lock().unwrap().push_back(c);
        self
    }

    fn post(&self, c: Canned) -> &Self {
        self.posts.lock().unwrap().push_back(c);
        self
    }

    fn hits(&self) -> u32 {
        *self.hits.lock().unwrap()
    }

    /// Serves on 127.0.0.1:0; a client for it with `attempts` per GET.
    async fn serve(&self, attempts: u32) -> ApiClient {
        let (gets, posts, hits, hits2) = (
            self.gets.clone(),
            self.posts.clone(),
            self.hits.clone(),
            self.hits.clone(),
        );
        let (gets1, hits1) = (self.gets.clone(), self.hits.clone());
        let app = Router::new()
            .route(
                "/api/lipsyncs_v2/",
                get(move || async move {
                    *hits.lock().unwrap() += 1;
                    answer(gets.lock().unwrap().pop_front())
                })
                .post(move || async move {
                    *hits2.lock().unwrap() += 1;
                    answer(posts.lock().unwrap().pop_front())
                }),
            )
            // One job (`GET /{id}/`) takes its answer from the same script.
            .route(
                "/api/lipsyncs_v2/{id}/",
                get(move || async move {
                    *hits1.lock().unwrap() += 1;
                    answer(gets1.lock().unwrap().pop_front())
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let config = ClientConfig {
            base_url: format!("http://{addr}").parse().unwrap(),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            list_timeout: Duration::from_secs(2),
            requests_per_second: 1000.0,
            burst: 100,
            max_retry_after: Duration::from_secs(5),
            max_attempts: attempts,
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        };
        ApiClient::new(config, &Credentials::new("id", "key")).unwrap()
    }
}

fn json(status: u16, body: &str) -> Canned {
    (status, "application/json", body.to_owned(), Vec::new())
}

fn html(status: u16) -> Canned {
    let page = "<!DOCTYPE html><html><head><title>Maintenance</title></head>\
                <body><h1>We'll be back shortly</h1></body></html>";
    (
        status,
        "text/html; charset=utf-8",
        page.to_owned(),
        Vec::new(),
    )
}

fn ids(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn polled_jobs_with_missing_or_extra_fields_and_any_progress_shape_are_read() {
    let script = Script::default();
    script.get(json(
        200,
        r#"[
          {"id":"a","status":"running","progress":0.5},
          {"id":"b","status":"running","progress":"0.25"},
          {"id":"c","status":"running","progress":45},
          {"id":"d","status":"running","progress":"45%","credits_used":"5","duration":"3.5"},
          {"id":"e","status":"in_queue"},
          {"id":"f","status":"done","progress":null,"output":"https://cdn.example/f.mp4",
           "video_thumbnail":null,"brand_new":{"nested":[1,2,3]},"credits_used":5,
           "quality_score":0.97,"tags":["x"]},
          {"id":"g","status":"moderating","progress":"not a number"}
        ]"#,
    ));
    let client = script.serve(2).await;
    let jobs = client
        .jobs(&ids(&["a", "b", "c", "d", "e", "f", "g"]))
        .await
        .expect("a poll answer with odd fields is still read");
    let by_id = |id: &str| jobs.iter().find(|j| j.id == id).expect(id);
    assert_eq!(by_id("a").progress, Some(0.5), "progress as a fraction");
    assert_eq!(by_id("b").progress, Some(0.25), "progress as a string");
    assert_eq!(by_id("c").progress, Some(0.45), "progress as a percentage");
    assert_eq!(by_id("d").progress, Some(0.45), "progress as \"45%\"");
    assert_eq!(by_id("d").credits_used, Some(5.0), "credits as a string");
    assert_eq!(by_id("d").duration, Some(3.5));
    let e = by_id("e");
    assert_eq!(
        (e.progress, e.output.as_deref(), e.name.as_deref()),
        (None, None, None)
    );
    let f = by_id("f");
    assert_eq!(f.status, JobStatus::Done);
    assert_eq!(f.output.as_deref(), Some("https://cdn.example/f.mp4"));
    assert_eq!(f.video_thumbnail, None);
    let g = by_id("g");
    assert_eq!(g.status, JobStatus::Unknown("moderating".into()));
    assert!(!g.status.is_terminal(), "an unknown status is polled on");
    assert_eq!(
        g.progress, None,
        "an unreadable progress is absent, not an error"
    );
}

#[tokio::test]
async fn one_unreadable_job_in_a_poll_answer_does_not_hide_the_others() {
    // A job without a status (or without an id) cannot be read; the rest of the answer can,
    // and must be, or one odd job would keep a whole batch from ever finishing.
    let script = Script::default();
    script.get(json(
        200,
        r#"[{"id":"a","status":"done","output":"https://cdn.example/a.mp4"},
            {"id":"b","progress":0.5},
            {"status":"running"},
            {"id":"c","status":7},
            "garbage"]"#,
    ));
    let client = script.serve(2).await;
    let jobs = client.jobs(&ids(&["a", "b", "c"])).await.expect("read");
    let got: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(got, ["a"]);
    assert_eq!(
        script.hits(),
        1,
        "b and c were in the answer, unreadable: not asked about again in the same round"
    );
}

#[tokio::test]
async fn jobs_left_out_of_a_poll_answer_are_asked_again_then_each_by_itself() {
    // A server that ignores `ids`: every answer is its job list, which holds `a` (and `z`,
    // not asked about) but never `b`.
    let list = r#"[{"id":"a","status":"running"},{"id":"z","status":"done"}]"#;
    let script = Script::default();
    script
        .get(json(200, list)) // ?ids=a,b
        .get(json(200, list)) // ?ids=b: still left out
        .get(json(200, r#"{"id":"b","status":"running","progress":0.5}"#)) // GET /b/
        .get(json(200, list)) // the next round's ?ids=a,b
        .get(json(
            200,
            r#"{"id":"b","status":"done","output":"https://cdn.example/b.mp4"}"#,
        )); // GET /b/ at once: the second ?ids= found nothing the first time
    let client = script.serve(1).await;
    let jobs = client.jobs(&ids(&["a", "b"])).await.expect("read");
    let got: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(got, ["a", "z", "b"], "each job once");
    assert_eq!(script.hits(), 3);
    let jobs = client.jobs(&ids(&["a", "b"])).await.expect("read");
    let b = jobs.iter().find(|j| j.id == "b").expect("b");
    assert_eq!(b.status, JobStatus::Done);
    assert_eq!(script.hits(), 5, "no second ?ids= once it found nothing");
}

#[tokio::test]
async fn html_or_a_non_list_instead_of_json_on_a_poll_is_retried_then_reported() {
    let script = Script::default();
    script
        .get(html(200))
        .get(json(200, r#"{"detail":"not a list"}"#))
        // An answer that is neither a list nor a page: each job is asked for on its own.
        .get(json(
            200,
            r#"{"id":"a","status":"running","progress":"10"}"#,
        ));
    let client = script.serve(3).await;
    let jobs = client.jobs(&ids(&["a"])).await.expect("third attempt");
    assert_eq!(jobs[0].progress, Some(0.1));
    assert_eq!(script.hits(), 3);

    let script = Script::default();
    script.get(html(200)).get(html(200));
    let client = script.serve(2).await;
    let err = client.jobs(&ids(&["a"])).await.expect_err("HTML twice");
    assert_eq!(err.class(), ErrorClass::Retryable, "{err}");
    assert!(err.to_string().contains("Maintenance"), "{err}");
}

fn body() -> CreateLipsync {
    serde_json::from_str(
        r#"{"video_inputs":[{"character":{"type":"avatar","avatar_id":"edb9719c-42af-5c7f-83d5-b7de95567b5e"},
            "voice":{"type":"text","input_text":"Hi","voice_id":"52825997-e2f1-5148-a3f3-620a6cb2bacf"}}],
            "name":"v1 [cb-000000000000]"}"#,
    )
    .unwrap()
}

#[tokio::test]
async fn creation_answers_the_client_cannot_read_are_ambiguous_never_not_created() {
    // design.md: only a 201 with a job, or a definite refusal, is certain. A 2xx whose body
    // is not a job may have created one (an HTML page from a proxy that passed the request
    // on, a body cut short); a 5xx may have been answered after the API created the job.
    // Either way the row must be reconciled, never re-sent blindly, never failed.
    let ambiguous: Vec<(&str, Canned)> = vec![
        ("201 with an HTML body", html(201)),
        ("200 maintenance page", html(200)),
        ("500 Django error page", html(500)),
        ("502 proxy page", html(502)),
        ("503 proxy page", html(503)),
        (
            "504 with JSON",
            json(504, r#"{"detail":"upstream timed out"}"#),
        ),
        ("201 without an id", json(201, r#"{"status":"pending"}"#)),
        ("201 cut short", json(201, r#"{"id":"x","sta"#)),
        ("201 with an empty body", json(201, "")),
    ];
    let certain: Vec<(&str, Canned, ErrorClass)> = vec![
        (
            "400 field errors",
            json(
                400,
                r#"{"video_inputs":[{"voice":{"input_text":["too long"]}}]}"#,
            ),
            ErrorClass::Row,
        ),
        (
            "402 credits",
            json(
                402,
                r#"{"detail":"Insufficient credits: this video needs 5 credits, 2 remain."}"#,
            ),
            ErrorClass::Credits,
        ),
        (
            "401 credentials",
            json(401, r#"{"detail":"Incorrect authentication credentials."}"#),
            ErrorClass::Auth,
        ),
        (
            "429 HTML page with Retry-After",
            (
                429,
                "text/html",
                "<html>slow down</html>".into(),
                vec![("retry-after", "2")],
            ),
            ErrorClass::Retryable,
        ),
    ];
    let script = Script::default();
    for (_, c) in &ambiguous {
        script.post(c.clone());
    }
    for (_, c, _) in &certain {
        script.post(c.clone());
    }
    script.post(json(
        201,
        r#"{"id":"j1","status":"pending","progress":"0","extra":{"a":1},"credits_used":null}"#,
    ));
    let client = script.serve(1).await;
    let b = body();
    for (case, _) in &ambiguous {
        match client.create(&b).await {
            CreateOutcome::Ambiguous(_) => {}
            other => panic!("{case}: expected Ambiguous, got {other:?}"),
        }
    }
    for (case, _, class) in &certain {
        match client.create(&b).await {
            CreateOutcome::NotCreated(e) => {
                assert_eq!(e.class(), *class, "{case}: {e}");
                if let ApiError::Throttled { retry_after, .. } = &e {
                    assert_eq!(*retry_after, Duration::from_secs(2), "{case}");
                }
            }
            other => panic!("{case}: expected NotCreated, got {other:?}"),
        }
    }
    match client.create(&b).await {
        CreateOutcome::Created(job) => {
            assert_eq!(job.id, "j1");
            assert_eq!(job.progress, Some(0.0));
        }
        other => panic!("201 with extra fields: expected Created, got {other:?}"),
    }
    // One POST per call: create never retries by itself.
    assert_eq!(script.hits() as usize, ambiguous.len() + certain.len() + 1);
}
