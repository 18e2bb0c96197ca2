//! The HTTP server: our own accept loop over hyper, so a request can end with no answer at
//! all. A hyper service that returns `Err` makes hyper close the connection without writing
//! a response; that is how "reset" (nothing processed) and "lost" (processed, answer
//! dropped: the job exists and was billed) are made. `axum::serve` cannot do either.
//!
//! Per request, in order: fault decision (a proxy in front of the API would fail first),
//! credentials (401), rate limit (429), the router, then the answer is counted.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use governor::clock::Clock;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::app::{App, Decided};
use super::endpoint::Endpoint;
use super::errors::{html_page, ApiError};
use super::faults::Fault;
use axum::response::IntoResponse;

/// How long open connections get to finish when the sandbox stops.
const DRAIN: Duration = Duration::from_secs(2);

/// The error that tells hyper to close the connection without answering.
#[derive(Debug)]
struct NoAnswer;

impl fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for NoAnswer {}

/// Accepts connections until `shutdown` turns true, then gives open ones [`DRAIN`] to end.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        // Reap finished connections so the set stays as small as the open ones.
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!("sandbox cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (app, router, mut stop) = (app.clone(), router.clone(), shutdown.clone());
        connections.spawn(async move {
            let service =
                hyper::service::service_fn(move |req| handle(app.clone(), router.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
}

async fn handle(
    app: Arc<App>,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, NoAnswer> {
    let endpoint = Endpoint::of(req.uri().path());
    let req = req.map(Body::new);
    if endpoint == Endpoint::Stats {
        // The sandbox's own page: no faults, no credentials, not counted.
        return Ok(call(router, req).await);
    }
    let key = format!("{} {}", req.method(), endpoint.pattern());
    if endpoint
        .group(req.method())
        .is_some_and(super::faults::Group::is_creation)
    {
        app.counters.creation_arrived();
    }
    let fault = endpoint
        .group(req.method())
        .and_then(|g| app.faults.decide(g));
    if let Some(f) = &fault {
        app.counters.fault(&f.name());
    }
    let resp = match fault {
        Some(Fault::Reset) => {
            app.counters.request(&key, "reset");
            return Err(NoAnswer);
        }
        Some(Fault::Status(code)) => proxy_error(code),
        Some(Fault::Html) => html_page(
            StatusCode::OK,
            "Scheduled maintenance",
            "We are upgrading our systems and will be back shortly.",
        ),
        Some(Fault::Stall(delay)) => {
            // A queue in front of the API: the request waits, then is processed even if the
            // client has given up by then, so its own task, not the connection, carries it.
            // A sandbox that stops meanwhile drops it unprocessed.
            let (held, mut stop) = (app.clone(), app.shutdown.clone());
            let task = tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|stopped| *stopped) => return None,
                }
                Some(process(&held, endpoint, router, req, fault).await)
            });
            match task.await {
                Ok(Some(resp)) => resp,
                _ => {
                    app.counters.request(&key, "dropped");
                    return Err(NoAnswer);
                }
            }
        }
        _ => process(&app, endpoint, router, req, fault).await,
    };
    if fault == Some(Fault::Lost) {
        app.counters.request(&key, "dropped");
        return Err(NoAnswer);
    }
    app.counters.request(&key, resp.status().as_str());
    if let Some(Fault::Slow(delay)) = fault {
        tokio::time::sleep(delay).await;
    }
    Ok(resp)
}

/// Credentials and the rate limit, then the router; `fault` goes along for the handlers
/// that act on it.
async fn process(
    app: &App,
    endpoint: Endpoint,
    router: Router,
    mut req: Request<Body>,
    fault: Option<Fault>,
) -> Response<Body> {
    let mut resp = match gate(app, endpoint, req.headers()) {
        Err(refusal) => refusal.into_response(),
        Ok(()) => {
            req.extensions_mut().insert(Decided(fault));
            call(router, req).await
        }
    };
    super::errors::dialect_retry_after(&mut resp, &app.faults.faults().api);
    resp
}

async fn call(router: Router, req: Request<Body>) -> Response<Body> {
    match router.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// Credentials, then the rate limit, for the API's own endpoints.
fn gate(app: &App, endpoint: Endpoint, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    if !endpoint.is_api() {
        return Ok(());
    }
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.as_bytes())
            .filter(|v| !v.is_empty())
    };
    match (header("x-api-id"), header("x-api-key")) {
        (Some(id), Some(key)) => {
            let id_ok = same(id, app.credentials.api_id.as_bytes());
            let key_ok = same(key, app.credentials.api_key.as_bytes());
            if !(id_ok & key_ok) {
                return Err(ApiError::detail(
                    StatusCode::UNAUTHORIZED,
                    "Incorrect authentication credentials.",
                ));
            }
        }
        _ => {
            return Err(ApiError::detail(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.",
            ))
        }
    }
    if let Some(limiter) = &app.limiter {
        if let Err(not_until) = limiter.check() {
            let wait = not_until.wait_time_from(limiter.clock().now());
            return Err(ApiError::throttled(wait.as_secs_f64().ceil() as u64));
        }
    }
    Ok(())
}

/// Compares secrets in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// What a 5xx looks like from Django (500) or from the proxy in front of it (502, 503).
fn proxy_error(code: u16) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match code {
        500 => html_page(status, "Server Error (500)", ""),
        502 => html_page(status, "502 Bad Gateway", "nginx"),
        _ => html_page(status, "503 Service Temporarily Unavailable", "nginx"),
    }
}
