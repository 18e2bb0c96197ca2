//! The media the sandbox serves: a real, playable MP4 and its JPEG thumbnail, embedded in
//! the binary, or a synthetic video of any size made on the fly for download benchmarks.
//! Every file answers with `Content-Length`, `Content-Type`, `Accept-Ranges` and honours a
//! single byte range (206, or 416 when it cannot be satisfied).
//!
//! The committed files were made once with ffmpeg:
//! `ffmpeg -f lavfi -i testsrc2=size=180x320:rate=24:duration=3 -f lavfi -i
//! sine=frequency=440:duration=3 -c:v libx264 -profile:v baseline -crf 32 -c:a aac -b:a 32k
//! -ac 1 -movflags +faststart -shortest samples/media/sandbox.mp4`, and the thumbnail is its
//! frame at 1 s (`-ss 1 -frames:v 1`). The preview page's clip is the same source made
//! smaller (`testsrc2=size=90x160:rate=12`, `-crf 38`, `-b:a 16k`, to
//! `samples/media/preview.mp4`, 19 KB), so a card full of previews stays cheap to play.
//!
//! The `[api]` dialect can make job media misbehave the way some CDNs do: `media_gzip`
//! sends them gzip-encoded whatever the request's `Accept-Encoding` says (a `Range` is a
//! range of the gzip bytes, as for a pre-compressed file), `media_close_delimited` sends them whole without `Content-Length` as an
//! HTTP/1.0, close-delimited body, and `media_eof_cut` does the same but ends the body
//! cleanly at half the file. Stats count each answer so shaped under the field's name
//! (`media_gzip_despite_identity` when the request had asked for `identity`).
//!
//! A synthetic video starts with a minimal MP4 skeleton (`ftyp`, an empty `moov`, then one
//! `mdat` box holding the rest), so it passes the client's container checks.
//!
//! Job media URLs are signed (`?expires=<unix seconds>&sig=<hex>`) like a CDN's: past
//! `expires` they answer 403, and a fresh GET of the job hands out fresh ones.

use std::io;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::app::{now_ms, App, Decided};
use super::faults::Fault;

/// The committed sample video (3 s, 180x320, H.264 + AAC).
pub const VIDEO: &[u8] = include_bytes!("../../samples/media/sandbox.mp4");
/// Its thumbnail (JPEG, 180x320).
pub const THUMBNAIL: &[u8] = include_bytes!("../../samples/media/thumbnail.jpg");
/// The preview page's low-resolution clip (3 s, 90x160 at 12 fps, H.264 + AAC).
pub const PREVIEW: &[u8] = include_bytes!("../../samples/media/preview.mp4");

mod deviant;
mod synthetic;

const CHUNK: u64 = 64 * 1024;

/// Signs and checks media URLs with a secret derived from the seed, so URLs stay valid
/// across restarts of the same sandbox.
#[derive(Debug, Clone)]
pub struct Signer {
    secret: [u8; 32],
}

impl Signer {
    /// A signer for `seed`.
    pub fn new(seed: u64) -> Self {
        let mut h = Sha256::new();
        h.update(b"creatify-batch sandbox media urls");
        h.update(seed.to_le_bytes());
        Self {
            secret: h.finalize().into(),
        }
    }

    fn sign(&self, path: &str, expires: i64) -> String {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(path.as_bytes());
        h.update(expires.to_le_bytes());
        h.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `base` + `path` with a signature valid for `ttl_seconds` from `now_ms`.
    pub fn url(&self, base: &str, path: &str, ttl_seconds: f64, now_ms: i64) -> String {
        let expires = ((now_ms as f64 / 1000.0) + ttl_seconds).ceil() as i64;
        let sig = self.sign(path, expires);
        format!("{base}{path}?expires={expires}&sig={sig}")
    }

    /// Whether a request for `path` carries a valid, unexpired signature.
    fn check(&self, path: &str, q: &Signed, now_ms: i64) -> Result<(), &'static str> {
        let (Some(expires), Some(sig)) = (q.expires, q.sig.as_deref()) else {
            return Err("Query-string authentication requires the expires and sig parameters");
        };
        if self.sign(path, expires) != sig {
            return Err("The request signature does not match");
        }
        if now_ms >= expires.saturating_mul(1000) {
            return Err("Request has expired");
        }
        Ok(())
    }
}

/// The query of a signed media URL.
#[derive(Debug, Deserialize)]
pub struct Signed {
    expires: Option<i64>,
    sig: Option<String>,
}

/// The bytes of one file.
#[derive(Debug, Clone)]
enum Content {
    Embedded(&'static [u8]),
    /// Made for this answer (a gzip-encoded file).
    Owned(Bytes),
    /// Pseudo-random bytes, the same for a given seed at every offset.
    Synthetic {
        len: u64,
        seed: u64,
    },
}

impl Content {
    fn len(&self) -> u64 {
        match self {
            Self::Embedded(b) => b.len() as u64,
            Self::Owned(b) => b.len() as u64,
            Self::Synthetic { len, .. } => *len,
        }
    }

    fn bytes(&self, start: u64, end: u64) -> Bytes {
        match self {
            Self::Embedded(b) => Bytes::from_static(&b[start as usize..end as usize]),
            Self::Owned(b) => b.slice(start as usize..end as usize),
            Self::Synthetic { len, seed } => synthetic::bytes(*seed, *len, start, end),
        }
    }
}

/// `GET /media/jobs/{id}/{file}`: a finished job's video or thumbnail.
pub async fn job_media(
    State(app): State<Arc<App>>,
    Path((id, file)): Path<(String, String)>,
    Query(signed): Query<Signed>,
    decided: Option<axum::Extension<Decided>>,
    headers: HeaderMap,
) -> Response {
    let now = now_ms();
    let path = format!("/media/jobs/{id}/{file}");
    if let Err(why) = app.signer.check(&path, &signed, now) {
        if why == "Request has expired" {
            app.counters.fault("url_expired");
        }
        return access_denied(why);
    }
    let finished = app.job(&id).is_some_and(|job| {
        let snap = job.snapshot(now, app.settings.time_scale);
        job.has_output(&snap)
    });
    let (content, content_type) = match file.as_str() {
        "video.mp4" => match app.settings.video_bytes {
            Some(len) => (
                Content::Synthetic {
                    len,
                    seed: app.settings.seed,
                },
                "video/mp4",
            ),
            None => (Content::Embedded(VIDEO), "video/mp4"),
        },
        "thumbnail.jpg" => (Content::Embedded(THUMBNAIL), "image/jpeg"),
        _ => return not_found(),
    };
    if !finished {
        return not_found();
    }
    let truncate = decided.is_some_and(|d| d.0 .0 == Some(Fault::Truncate));
    let dialect = &app.faults.faults().api;
    let shape = Shape {
        truncate,
        gzip: dialect.media_gzip,
        eof_cut: dialect.media_eof_cut,
        close_delimited: dialect.media_eof_cut || dialect.media_close_delimited,
    };
    if shape.gzip {
        app.counters.fault("media_gzip");
        let asked_identity = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("identity"));
        if asked_identity {
            // Lets tests see that the client asked for the file as it is.
            app.counters.fault("media_gzip_despite_identity");
        }
    }
    if shape.eof_cut {
        app.counters.fault("media_eof_cut");
    } else if shape.close_delimited {
        app.counters.fault("media_close_delimited");
    }
    serve(content, content_type, &headers, shape)
}

/// How an answer deviates from a plain one.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// Promise the whole length, send half, cut the connection.
    truncate: bool,
    /// Gzip-encode the file (`Content-Encoding: gzip`), whole.
    gzip: bool,
    /// No `Content-Length`: the connection's close ends the body.
    close_delimited: bool,
    /// Close-delimited, and closed cleanly at half.
    eof_cut: bool,
}

/// `GET /media/catalog/{file}`: catalogue previews (any `*.jpg` or `*.mp4` name).
pub async fn catalog_media(Path(file): Path<String>, headers: HeaderMap) -> Response {
    if file.ends_with(".jpg") {
        serve(
            Content::Embedded(THUMBNAIL),
            "image/jpeg",
            &headers,
            Shape::default(),
        )
    } else if file.ends_with(".mp4") {
        serve(
            Content::Embedded(VIDEO),
            "video/mp4",
            &headers,
            Shape::default(),
        )
    } else {
        not_found()
    }
}

/// `GET /preview/{id}/`: the page a preview job's `preview` links to, meant for an iframe
/// (no credentials, like a CDN): the low-resolution clip in a player that fills the frame.
/// 404 until the preview is made, and for jobs that are not previews.
pub async fn preview_page(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    if !preview_made(&app, &id) {
        return not_found();
    }
    // `id` names an existing job (a UUID the sandbox made), so it needs no escaping.
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>Preview</title>\
         <style>html,body{{margin:0;height:100%;background:#111}}\
         video{{display:block;width:100%;height:100%;object-fit:contain}}</style></head>\
         <body><video id=\"preview\" controls playsinline loop preload=\"metadata\" \
         src=\"/media/previews/{id}/preview.mp4\"></video></body></html>\n"
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /media/previews/{id}/preview.mp4`: the preview page's clip, a low-resolution
/// variant of the sample video ([`PREVIEW`]); download faults apply, as to any media.
pub async fn preview_media(
    State(app): State<Arc<App>>,
    Path((id, file)): Path<(String, String)>,
    decided: Option<axum::Extension<Decided>>,
    headers: HeaderMap,
) -> Response {
    if file != "preview.mp4" || !preview_made(&app, &id) {
        return not_found();
    }
    let shape = Shape {
        truncate: decided.is_some_and(|d| d.0 .0 == Some(Fault::Truncate)),
        ..Shape::default()
    };
    serve(Content::Embedded(PREVIEW), "video/mp4", &headers, shape)
}

fn preview_made(app: &App, id: &str) -> bool {
    app.job(id).is_some_and(|job| {
        let snap = job.snapshot(now_ms(), app.settings.time_scale);
        job.preview_made(&snap)
    })
}

fn access_denied(why: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Error><Code>AccessDenied</Code><Message>{why}</Message></Error>\n"
    );
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/xml")],
        body,
    )
        .into_response()
}

fn not_found() -> Response {
    super::errors::html_page(
        StatusCode::NOT_FOUND,
        "Not Found",
        "The requested resource was not found on this server.",
    )
}

/// Which bytes a `Range` header asks for, given the file's length.
#[derive(Debug, PartialEq)]
enum Wanted {
    /// The whole file (no range, or one we may ignore: malformed or multi-part).
    All,
    /// `start..=end`.
    Part(u64, u64),
    /// A well-formed range that lies outside the file.
    Unsatisfiable,
}

fn parse_range(header: Option<&HeaderValue>, len: u64) -> Wanted {
    let Some(spec) = header
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.trim().strip_prefix("bytes="))
    else {
        return Wanted::All;
    };
    if spec.contains(',') {
        return Wanted::All;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Wanted::All;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return match last.parse::<u64>() {
            Ok(0) => Wanted::Unsatisfiable,
            Ok(_) if len == 0 => Wanted::Unsatisfiable,
            Ok(n) => Wanted::Part(len.saturating_sub(n), len - 1),
            Err(_) => Wanted::All,
        };
    }
    let Ok(start) = first.parse::<u64>() else {
        return Wanted::All;
    };
    let end = match last {
        "" => u64::MAX,
        s => match s.parse::<u64>() {
            Ok(end) if end >= start => end,
            _ => return Wanted::All,
        },
    };
    if start >= len {
        Wanted::Unsatisfiable
    } else {
        Wanted::Part(start, end.min(len - 1))
    }
}

fn serve(content: Content, content_type: &str, headers: &HeaderMap, shape: Shape) -> Response {
    if shape.gzip || shape.close_delimited {
        return deviant::serve(content, content_type, headers, shape);
    }
    let truncate = shape.truncate;
    let len = content.len();
    let (status, start, end) = match parse_range(headers.get(header::RANGE), len) {
        Wanted::All => (StatusCode::OK, 0, len),
        Wanted::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b + 1),
        Wanted::Unsatisfiable => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response();
        }
    };
    // A truncated answer promises the whole length, sends half, then fails the body, which
    // makes hyper cut the connection.
    let stop = if truncate {
        start + (end - start) / 2
    } else {
        end
    };
    let small = matches!(content, Content::Embedded(_));
    let body = if small && !truncate {
        Body::from(content.bytes(start, end))
    } else {
        streamed(content, start, stop, stop < end)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

/// `content`'s bytes `start..stop` in chunks; with `cut`, the connection then fails instead
/// of ending (a truncated download).
fn streamed(content: Content, start: u64, stop: u64, cut: bool) -> Body {
    let chunks = stream::unfold((start, false), move |(pos, failed)| {
        let content = content.clone();
        async move {
            if pos < stop {
                let next = (pos + CHUNK).min(stop);
                Some((Ok(content.bytes(pos, next)), (next, false)))
            } else if cut && !failed {
                // Give hyper a moment to flush what was sent: it drops unflushed bytes (even
                // the headers) when the body fails.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let e = io::Error::new(io::ErrorKind::ConnectionAborted, "truncated");
                Some((Err(e), (pos, true)))
            } else {
                None
            }
        }
    });
    Body::from_stream(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: &str, len: u64) -> Wanted {
        parse_range(Some(&HeaderValue::from_str(s).unwrap()), len)
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(range("bytes=0-9", 100), Wanted::Part(0, 9));
        assert_eq!(range("bytes=90-", 100), Wanted::Part(90, 99));
        assert_eq!(range("bytes=90-500", 100), Wanted::Part(90, 99));
        assert_eq!(range("bytes=-10", 100), Wanted::Part(90, 99));
        assert_eq!(range("bytes=-500", 100), Wanted::Part(0, 99));
        assert_eq!(range("bytes=100-", 100), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=-0", 100), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=5-1", 100), Wanted::All);
        assert_eq!(range("bytes=0-1,5-6", 100), Wanted::All);
        assert_eq!(range("items=0-1", 100), Wanted::All);
    }

    #[test]
    fn signatures_expire_and_cannot_be_forged() {
        let s = Signer::new(1);
        let url = s.url("", "/media/jobs/x/video.mp4", 10.0, 1_000_000);
        let q = url.split_once('?').unwrap().1;
        let signed: Signed = serde_urlencoded_like(q);
        assert!(s
            .check("/media/jobs/x/video.mp4", &signed, 1_000_000)
            .is_ok());
        assert!(s
            .check("/media/jobs/x/video.mp4", &signed, 1_011_000)
            .is_err());
        assert!(s
            .check("/media/jobs/y/video.mp4", &signed, 1_000_000)
            .is_err());
    }

    fn serde_urlencoded_like(q: &str) -> Signed {
        let mut expires = None;
        let mut sig = None;
        for pair in q.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.parse().ok(),
                Some(("sig", v)) => sig = Some(v.to_owned()),
                _ => {}
            }
        }
        Signed { expires, sig }
    }
}
