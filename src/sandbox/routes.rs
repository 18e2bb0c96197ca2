//! The router and the API's handlers. Credentials, the rate limit and request-level faults
//! are applied before a request gets here (see [`super::server`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::app::{now_ms, App};
use super::assets;
use super::catalog;
use super::errors::{self, ApiError, FieldErrors};
use super::job::{whole_or_fraction, JobKind, JobRecord};
use super::journal::Durable;
use super::listing;
use super::state::Refusal;
use super::webhooks;
use super::PreviewMode;
use crate::api::credits::{self, SpeakingRate};
use crate::api::validate::{validate, FieldPath};
use crate::api::CreateLipsync;

/// The most ids `GET /api/lipsyncs_v2/?ids=` takes.
pub const MAX_IDS: usize = 100;

/// Every route the sandbox serves.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/lipsyncs_v2/", post(create).get(list))
        .route("/api/lipsyncs_v2/preview/", post(preview))
        .route("/api/lipsyncs_v2/{id}/", get(get_job))
        .route("/api/lipsyncs_v2/{id}/render/", post(render))
        .route("/api/remaining_credits/", get(remaining_credits))
        .route("/api/personas/", get(personas))
        .route("/api/personas/paginated/", get(personas_paginated))
        .route("/api/personas/{id}/", get(persona))
        .route("/api/voices/", get(voices))
        .route("/api/voices/paginated/", get(voices_paginated))
        .route("/media/jobs/{id}/{file}", get(assets::job_media))
        .route("/media/catalog/{file}", get(assets::catalog_media))
        .route("/preview/{id}/", get(assets::preview_page))
        .route("/media/previews/{id}/{file}", get(assets::preview_media))
        .route("/__sandbox/stats", get(stats))
        .fallback(|| async {
            errors::html_page(
                StatusCode::NOT_FOUND,
                "Not Found",
                "The requested resource was not found on this server.",
            )
        })
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::detail(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("Method \"{method}\" not allowed."),
            )
        })
        .with_state(app)
}

async fn create(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    create_job(&app, &headers, &body, JobKind::Video)
        .await
        .into_response()
}

async fn preview(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    create_job(&app, &headers, &body, JobKind::Preview)
        .await
        .into_response()
}

async fn create_job(
    app: &Arc<App>,
    headers: &HeaderMap,
    body: &[u8],
    kind: JobKind,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    throttle_creations(app)?;
    let req = parse(headers, body)?;
    let seconds = SpeakingRate::default().video_seconds(&req);
    let cost = match kind {
        JobKind::Video => credits::credits(req.model(), seconds),
        JobKind::Preview => credits::preview_credits(seconds),
    };
    let now = now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    // Fates follow the name, so a rerun of the same batch meets the same outcomes.
    let key = req.name.clone().unwrap_or_else(|| id.clone());
    let render_ms = seconds
        * app.settings.render_ms_per_second
        * app.faults.render_jitter(&key, app.settings.render_spread);
    let mut record = JobRecord {
        video_inputs: serde_json::to_value(&req.video_inputs).unwrap_or(Value::Null),
        model_version: req.model(),
        aspect_ratio: req.aspect(),
        id,
        name: req.name,
        kind,
        created_ms: now,
        render_started_ms: None,
        webhook_url: req.webhook_url,
        seconds,
        credits_used: cost,
        render_ms: (render_ms.round() as u64).max(1),
        fate: app.faults.fate(&key),
        moderating: app.faults.moderating(&key),
        running_at: 0.0,
    };
    let created = {
        // Under the store's lock, so a job's wait follows the order of creation.
        let mut store = app.store();
        record.running_at = app.faults.faults().api.wait_of(store.jobs_created());
        store.create(record, app.render_limit(now), now)
    };
    let (job, durable) = created.map_err(|r| refused(app, r))?;
    durable_or_500(durable).await?;
    webhooks::schedule(app, &job);
    if kind == JobKind::Preview && app.settings.preview_mode == PreviewMode::Sync {
        hold_until_made(app, &job).await;
        return Ok((StatusCode::OK, Json(app.job_json(&job, now_ms()))));
    }
    Ok((StatusCode::CREATED, Json(app.job_json(&job, now_ms()))))
}

/// `--preview-mode sync`: the answer waits until the preview is made (a fifth of the render
/// time on the job clock). A sandbox that stops meanwhile answers with the job as it is.
async fn hold_until_made(app: &App, job: &JobRecord) {
    let wait_ms = (job.deadline_ms(app.settings.time_scale) - now_ms()).max(0) as u64;
    let mut stop = app.shutdown.clone();
    tokio::select! {
        // One millisecond past the deadline, so the snapshot reads it done whatever rounding.
        _ = tokio::time::sleep(std::time::Duration::from_millis(wait_ms + 1)) => {}
        _ = stop.wait_for(|stopped| *stopped) => {}
    }
}

/// The dialect's `throttle_creations`: every creation is refused with a 429 (nothing is
/// created), before its body is read, as DRF throttles before the view runs.
fn throttle_creations(app: &App) -> Result<(), ApiError> {
    let dialect = &app.faults.faults().api;
    if dialect.throttle_creations {
        let secs = dialect.retry_after_seconds.unwrap_or(1.0).max(1.0).ceil() as u64;
        return Err(ApiError::throttled(secs));
    }
    Ok(())
}

/// Parses and checks a creation body as DRF would: 415 for a non-JSON body, 400 with the
/// field tree for anything else wrong.
fn parse(headers: &HeaderMap, body: &[u8]) -> Result<CreateLipsync, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported media type \"{content_type}\" in request."),
        ));
    }
    // DRF reads an empty JSON body as no data, so the required fields are what's missing.
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    let de = &mut serde_json::Deserializer::from_slice(body);
    let req: CreateLipsync = serde_path_to_error::deserialize(de).map_err(errors::from_serde)?;
    let mut problems = FieldErrors::default();
    problems.add_violations(&validate(&req));
    for (i, scene) in req.video_inputs.iter().enumerate() {
        let at = FieldPath::dotted("video_inputs").index(i);
        if let Some(c) = &scene.character {
            let path = at.key("character").key("avatar_id");
            if !c.avatar_id.trim().is_empty() && !catalog::is_avatar(&c.avatar_id) {
                problems.add(&path, catalog::unknown_id(&c.avatar_id));
            } else if catalog::is_unready_avatar(&c.avatar_id) {
                problems.add(
                    &path,
                    "This avatar is still being created and cannot be used yet.".into(),
                );
            }
        }
        if let Some(id) = scene.voice.as_ref().and_then(|v| v.voice_id.as_ref()) {
            if !id.trim().is_empty() && !catalog::is_accent(id) {
                let path = at.key("voice").key("voice_id");
                problems.add(&path, catalog::unknown_id(id));
            }
        }
    }
    if problems.is_empty() {
        Ok(req)
    } else {
        Err(problems.into_error())
    }
}

fn refused(app: &App, refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Credits { needed, remaining } => {
            errors::insufficient_credits(app.faults.faults().api.credits_status, needed, remaining)
        }
        Refusal::Busy {
            limit,
            retry_after_ms,
        } => ApiError::too_many(
            format!(
                "Concurrent render limit reached: {limit} jobs are already rendering for this \
                 account. Try again when one of them finishes."
            ),
            (retry_after_ms.max(0) as u64).div_ceil(1000),
        ),
        Refusal::NotRenderable(why) => ApiError::detail(StatusCode::BAD_REQUEST, why),
        Refusal::NotFound => ApiError::not_found(),
    }
}

async fn durable_or_500(durable: Option<Durable>) -> Result<(), ApiError> {
    let Some(durable) = durable else {
        return Ok(());
    };
    match durable.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::error!("sandbox cannot persist a job: {e}");
            Err(ApiError::detail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "A server error occurred.",
            ))
        }
        Err(_) => Err(ApiError::detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "A server error occurred.",
        )),
    }
}

async fn render(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    if let Err(e) = throttle_creations(&app) {
        return e.into_response();
    }
    app.counters.render_request(&id);
    let now = now_ms();
    let rendered = app
        .store()
        .render(&id, credits::render_credits, app.render_limit(now), now);
    let result = match rendered {
        Ok((job, durable)) => match durable_or_500(durable).await {
            Ok(()) => {
                webhooks::schedule(&app, &job);
                Ok(Json(app.job_json(&job, now_ms())))
            }
            Err(e) => Err(e),
        },
        Err(refusal) => Err(refused(&app, refusal)),
    };
    result.into_response()
}

async fn get_job(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match app.job(&id) {
        Some(job) => Json(app.job_json(&job, now_ms())).into_response(),
        None => ApiError::not_found().into_response(),
    }
}

/// All jobs or those named by `ids` (unknown ids are simply absent; an empty `ids` is
/// ignored, as django-filter ignores empty filters), shaped by the dialect ([`listing`]).
async fn list(State(app): State<Arc<App>>, Query(q): Query<listing::ListQuery>) -> Response {
    let ids: Vec<&str> = q
        .ids
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.len() > MAX_IDS {
        let msg = format!("Ensure this field has no more than {MAX_IDS} elements.");
        return ApiError::field(&FieldPath::dotted("ids"), msg).into_response();
    }
    match listing::list(&app, &q, &ids).await {
        listing::Listed::Body(body) => {
            if ids.is_empty() {
                let page = body.get("results").unwrap_or(&body);
                app.counters.listed(page.as_array().map_or(0, Vec::len));
            }
            Json(body).into_response()
        }
        listing::Listed::InvalidPage => {
            ApiError::detail(StatusCode::NOT_FOUND, "Invalid page.").into_response()
        }
    }
}

async fn remaining_credits(State(app): State<Arc<App>>) -> Json<Value> {
    let credits = app.store().credits();
    Json(json!({ "remaining_credits": whole_or_fraction(credits) }))
}

fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(list) => Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn personas(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let d = &app.faults.faults().api;
    answer(catalog::personas(&app.base_url, &q, d.catalog, d.page_size))
}

async fn personas_paginated(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    answer(catalog::personas_paginated(&app.base_url, &q))
}

async fn persona(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match catalog::persona_by_id(&app.base_url, &id) {
        Some(p) => Json(p).into_response(),
        None => ApiError::detail(StatusCode::NOT_FOUND, "No Persona matches the given query.")
            .into_response(),
    }
}

async fn voices(State(app): State<Arc<App>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let d = &app.faults.faults().api;
    answer(catalog::voices(&app.base_url, &q, d.catalog, d.page_size))
}

async fn voices_paginated(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    answer(catalog::voices_paginated(&app.base_url, &q))
}

async fn stats(State(app): State<Arc<App>>) -> Response {
    Json(app.stats()).into_response()
}
