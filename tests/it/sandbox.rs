//! The sandbox driven with plain HTTP, as any client would: endpoints, refusals, limits.
//! Faults, media and the job clock have their own files below `sandbox/`.

mod faults;
mod lifecycle;
mod media;
mod previews;

use std::time::Duration;

use creatify_batch::api::Job;
use creatify_batch::sandbox::{
    Faults, Sandbox, SandboxConfig, Stats, CUSTOM, PERSONAS, SANDBOX_API_ID, SANDBOX_API_KEY,
    VOICES,
};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

/// A client for one sandbox, with its credentials.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(sandbox: &Sandbox) -> Self {
        Self::with_timeout(sandbox, Duration::from_secs(20))
    }

    pub fn with_timeout(sandbox: &Sandbox, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .build()
            .unwrap();
        Self {
            http,
            base: sandbox.base_url(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn try_get(&self, path: &str) -> reqwest::Result<Response> {
        self.http
            .get(self.url(path))
            .header("X-API-ID", SANDBOX_API_ID)
            .header("X-API-KEY", SANDBOX_API_KEY)
            .send()
            .await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.try_get(path).await.unwrap()
    }

    pub async fn try_post(&self, path: &str, body: &Value) -> reqwest::Result<Response> {
        self.http
            .post(self.url(path))
            .header("X-API-ID", SANDBOX_API_ID)
            .header("X-API-KEY", SANDBOX_API_KEY)
            .json(body)
            .send()
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.try_post(path, body).await.unwrap()
    }

    /// Creates a job and returns its object, asserting a 201.
    pub async fn create(&self, body: &Value) -> Value {
        let resp = self.post("/api/lipsyncs_v2/", body).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.unwrap()
    }

    pub async fn job(&self, id: &str) -> Value {
        let resp = self.get(&format!("/api/lipsyncs_v2/{id}/")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    /// Polls until the job is terminal (or 20 s pass).
    pub async fn wait_terminal(&self, id: &str) -> Value {
        for _ in 0..800 {
            let job = self.job(id).await;
            if ["done", "failed", "rejected"].contains(&job["status"].as_str().unwrap()) {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("job {id} did not finish");
    }

    pub async fn stats(&self) -> Stats {
        let resp = self
            .http
            .get(self.url("/__sandbox/stats"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }
}

/// A valid one-scene body with `name` and `text`.
pub fn video(name: &str, text: &str) -> Value {
    json!({
        "name": name,
        "video_inputs": [{
            "character": {"type": "avatar", "avatar_id": "edb9719c-42af-5c7f-83d5-b7de95567b5e"},
            "voice": {"type": "text", "input_text": text, "voice_id": "52825997-e2f1-5148-a3f3-620a6cb2bacf"},
        }],
    })
}

/// A sandbox for tests, changed by `f`.
pub async fn start(f: impl FnOnce(&mut SandboxConfig)) -> Sandbox {
    let mut config = SandboxConfig::for_tests();
    f(&mut config);
    Sandbox::start(config).await.unwrap()
}

/// Faults from TOML text.
pub fn faults(toml_text: &str) -> Faults {
    let faults: Faults = toml::from_str(toml_text).unwrap();
    faults.check().unwrap();
    faults
}

#[tokio::test]
async fn create_get_list_and_credits_follow_the_real_api() {
    // Real time and a slow render: the job stays `pending` for 4 s, however loaded the machine
    // (at the tests' usual 100x it is pending for 4 ms, and a busy CI host saw `in_queue`).
    let sb = start(|c| {
        c.options.credits = 100.0;
        c.options.time_scale = 1.0;
        c.options.render_seconds = 600.0;
    })
    .await;
    let api = Api::new(&sb);
    let first = api.create(&video("row-1", "Hi there")).await;
    assert_eq!(first["status"], "pending");
    assert_eq!(first["name"], "row-1");
    assert_eq!(first["credits_used"], 5);
    assert_eq!(first["duration"], 2);
    assert_eq!(first["output"], Value::Null);
    assert_eq!(first["model_version"], "standard");
    assert_eq!(first["aspect_ratio"], "9x16");
    let mut aurora = video("row-2", "Hi there");
    aurora["model_version"] = json!("aurora_v1_fast");
    let second = api.create(&aurora).await;
    assert_eq!(second["credits_used"], 1);
    let (a, b) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    assert!(uuid::Uuid::parse_str(a).is_ok());

    let got = api.job(a).await;
    assert_eq!(got["id"], a);
    let by_ids: Vec<Job> = api
        .get(&format!("/api/lipsyncs_v2/?ids={a},{b},not-a-job"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        by_ids.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        [b, a]
    );
    let all: Vec<Job> = api.get("/api/lipsyncs_v2/").await.json().await.unwrap();
    assert_eq!(
        all.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        [b, a],
        "newest first"
    );
    let credits: Value = api
        .get("/api/remaining_credits/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(credits, json!({"remaining_credits": 94}));
    let missing = api.get("/api/lipsyncs_v2/nope/").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"detail": "Not found."})
    );

    let stats = api.stats().await;
    assert_eq!(stats, sb.stats());
    assert_eq!(stats.jobs_created, 2);
    assert_eq!(stats.jobs_by_name["row-1"], 1);
    assert_eq!(stats.credits_spent, 6.0);
    assert_eq!(stats.requests["POST /api/lipsyncs_v2/"]["201"], 2);
    assert_eq!(stats.requests["GET /api/lipsyncs_v2/{id}/"]["404"], 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn catalogue_lists_personas_with_filters_and_voices_with_accents() {
    let sb = start(|_| {}).await;
    let api = Api::new(&sb);
    let all: Vec<Value> = api.get("/api/personas/").await.json().await.unwrap();
    assert_eq!(all.len(), PERSONAS.len());
    assert!(all.len() >= 30);
    assert_eq!(all.iter().filter(|p| p["is_active"] == false).count(), 1);
    // The account's own avatars are not listed, but found by id.
    assert!(all.iter().all(|p| p["id"] != CUSTOM[0].persona.id));
    let own: Value = api
        .get(&format!("/api/personas/{}/", CUSTOM[1].persona.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["status"], "processing");
    let some: Vec<Value> = api
        .get("/api/personas/?gender=m,nb&style=selfie")
        .await
        .json()
        .await
        .unwrap();
    let expected: Vec<&str> = PERSONAS
        .iter()
        .filter(|p| (p.gender == "m" || p.gender == "nb") && p.style == "selfie")
        .map(|p| p.id)
        .collect();
    let ids: Vec<&str> = some.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected);
    assert!(ids.len() >= 3);
    let page: Value = api
        .get("/api/personas/paginated/?page=2&page_size=10")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["count"], PERSONAS.len());
    assert_eq!(page["results"][0]["id"], PERSONAS[10].id);
    assert!(page["results"][0]["suitable_industries"].is_array());
    let voice_page: Value = api
        .get("/api/voices/paginated/?page_size=5")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(voice_page["count"], VOICES.len());
    assert!(voice_page["next"].as_str().unwrap().contains("page=2"));
    let bad = api.get("/api/personas/?age_range=ancient").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.json::<Value>().await.unwrap(),
        json!({"age_range": ["Select a valid choice. ancient is not one of the available choices."]})
    );
    let voices: Vec<Value> = api.get("/api/voices/").await.json().await.unwrap();
    assert!(voices.len() >= 20);
    assert!(voices.iter().all(|v| v.get("id").is_none()
        && ["male", "female", "non_binary"].contains(&v["gender"].as_str().unwrap())));
    let ava = voices.iter().find(|v| v["name"] == "Ava").unwrap();
    assert_eq!(
        ava["accents"][0]["id"],
        "52825997-e2f1-5148-a3f3-620a6cb2bacf"
    );
    let preview = ava["accents"][0]["preview_url"].as_str().unwrap();
    assert_eq!(api.get(preview).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_bodies_get_drf_field_errors_at_their_path() {
    let sb = start(|_| {}).await;
    let api = Api::new(&sb);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = video("bad", "Hello");
        f(&mut body);
        body
    };
    let cases: Vec<(Value, Value)> = vec![
        (
            with(&|b| b["video_inputs"][0]["voice"]["input_text"] = json!("  ")),
            json!({"video_inputs":[{"voice":{"input_text":["This field may not be blank."]}}]}),
        ),
        (
            with(&|b| b["video_inputs"][0]["character"]["avatar_id"] = json!("nobody")),
            json!({"video_inputs":[{"character":{"avatar_id":["Invalid pk \"nobody\" - object does not exist."]}}]}),
        ),
        (
            // An avatar id is not an accent id.
            with(&|b| b["video_inputs"][0]["voice"]["voice_id"] = json!(PERSONAS[0].id)),
            json!({"video_inputs":[{"voice":{"voice_id":[format!("Invalid pk \"{}\" - object does not exist.", PERSONAS[0].id)]}}]}),
        ),
        (
            // The account's own avatar, still being made.
            with(&|b| b["video_inputs"][0]["character"]["avatar_id"] = json!(CUSTOM[1].persona.id)),
            json!({"video_inputs":[{"character":{"avatar_id":["This avatar is still being created and cannot be used yet."]}}]}),
        ),
        (
            with(&|b| b["aspect_ratio"] = json!("9:16")),
            json!({"aspect_ratio":["\"9:16\" is not a valid choice."]}),
        ),
        (
            with(&|b| {
                b["video_inputs"][0]["background"] =
                    json!({"type": "image", "url": "ftp://example.com/a.png"})
            }),
            json!({"video_inputs":[{"background":{"url":["Enter a valid URL."]}}]}),
        ),
        (
            with(&|b| b["name"] = json!("n".repeat(256))),
            json!({"name":["Ensure this field has no more than 255 characters."]}),
        ),
        (
            json!({"video_inputs": []}),
            json!({"video_inputs":["This list may not be empty."]}),
        ),
        (
            json!({}),
            json!({"video_inputs":["This field is required."]}),
        ),
    ];
    for (body, want) in cases {
        let resp = api.post("/api/lipsyncs_v2/", &body).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(resp.json::<Value>().await.unwrap(), want);
    }
    let ids = (0..101)
        .map(|i| format!("id-{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let resp = api.get(&format!("/api/lipsyncs_v2/?ids={ids}")).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"ids": ["Ensure this field has no more than 100 elements."]})
    );
    let not_json = api
        .http
        .post(format!("{}/api/lipsyncs_v2/", api.base))
        .header("X-API-ID", SANDBOX_API_ID)
        .header("X-API-KEY", SANDBOX_API_KEY)
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(sb.stats().jobs_created, 0);
}

#[tokio::test]
async fn too_few_credits_is_a_402_and_creates_nothing() {
    let sb = start(|c| c.options.credits = 7.0).await;
    let api = Api::new(&sb);
    api.create(&video("a", "Hello")).await;
    let resp = api.post("/api/lipsyncs_v2/", &video("b", "Hello")).await;
    assert_eq!(resp.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"detail": "Insufficient credits: this video needs 5 credits, 2 remain."})
    );
    let stats = sb.stats();
    assert_eq!((stats.jobs_created, stats.credits_remaining), (1, 2.0));
}

#[tokio::test]
async fn missing_or_wrong_credentials_are_a_401() {
    let sb = start(|_| {}).await;
    let api = Api::new(&sb);
    let url = format!("{}/api/remaining_credits/", api.base);
    let none = api.http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.json::<Value>().await.unwrap(),
        json!({"detail": "Authentication credentials were not provided."})
    );
    let wrong = api
        .http
        .get(&url)
        .header("X-API-ID", SANDBOX_API_ID)
        .header("X-API-KEY", "not-the-key")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.json::<Value>().await.unwrap(),
        json!({"detail": "Incorrect authentication credentials."})
    );
}

#[tokio::test]
async fn a_burst_over_the_rate_limit_gets_429_with_a_retry_after_that_holds() {
    let sb = start(|c| {
        c.options.rate_limit = Some(1.0);
        c.options.burst = 3;
    })
    .await;
    let api = Api::new(&sb);
    let mut statuses = Vec::new();
    let mut throttled = None;
    for _ in 0..5 {
        let resp = api.get("/api/remaining_credits/").await;
        statuses.push(resp.status().as_u16());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS && throttled.is_none() {
            throttled = Some(resp);
        }
    }
    assert_eq!(&statuses[..3], [200, 200, 200]);
    let resp = throttled.expect("the burst was not throttled");
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    let detail = resp.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        detail.starts_with("Request was throttled. Expected available in"),
        "{detail}"
    );
    tokio::time::sleep(Duration::from_secs_f64(retry_after as f64 + 0.2)).await;
    assert_eq!(
        api.get("/api/remaining_credits/").await.status(),
        StatusCode::OK
    );
    let stats = sb.stats();
    assert!(stats.throttled >= 1);
    assert_eq!(
        stats.throttled,
        stats.requests["GET /api/remaining_credits/"]["429"]
    );
}

#[tokio::test]
async fn creations_over_the_rendering_cap_get_429() {
    let sb = start(|c| {
        c.options.max_rendering = Some(1);
        c.options.time_scale = 1.0;
    })
    .await;
    let api = Api::new(&sb);
    api.create(&video("first", "Hello")).await;
    let resp = api
        .post("/api/lipsyncs_v2/", &video("second", "Hello"))
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let detail = resp.json::<Value>().await.unwrap()["detail"].clone();
    assert!(
        detail
            .as_str()
            .unwrap()
            .contains("Concurrent render limit reached"),
        "{detail}"
    );
    assert_eq!(sb.stats().jobs_created, 1);
}

#[tokio::test]
async fn a_preview_is_rendered_by_its_render_call() {
    let sb = start(|c| c.options.credits = 50.0).await;
    let api = Api::new(&sb);
    let resp = api
        .post("/api/lipsyncs_v2/preview/", &video("p", "Hello"))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let previewed = api.wait_terminal(&id).await;
    assert_eq!(previewed["status"], "done");
    assert_eq!(previewed["output"], Value::Null);
    assert!(previewed["preview"].is_string());
    let resp = api
        .post(&format!("/api/lipsyncs_v2/{id}/render/"), &json!({}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let rendered = api.wait_terminal(&id).await;
    assert_eq!(rendered["status"], "done");
    assert!(rendered["output"].is_string());
    assert_eq!(rendered["credits_used"], 5);
    assert_eq!(sb.stats().credits_remaining, 45.0);
    let again = api
        .post(&format!("/api/lipsyncs_v2/{id}/render/"), &json!({}))
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
}
