//! Media answers shaped by the `[api]` dialect: gzip-encoded whatever was asked, and/or
//! close-delimited (no `Content-Length`, the connection's close ends the body), maybe cut
//! cleanly at half.

use std::io;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;

use super::{Content, Shape, CHUNK};

/// A gzip-encoded and/or close-delimited (maybe cut) answer: always the whole file (200), ranges
/// ignored, as servers that encode on the fly do. The encoding is made in memory: these
/// dialects are for correctness tests, not for gigabyte benchmarks.
pub(super) fn serve(content: Content, content_type: &str, shape: Shape) -> Response {
    let content = if shape.gzip {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut pos = 0;
        let len = content.len();
        let mut ok = true;
        while pos < len && ok {
            let next = (pos + CHUNK).min(len);
            ok = enc.write_all(&content.bytes(pos, next)).is_ok();
            pos = next;
        }
        match enc.finish() {
            Ok(gz) if ok => Content::Owned(Bytes::from(gz)),
            _ => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    } else {
        content
    };
    let len = content.len();
    let stop = if shape.eof_cut { len / 2 } else { len };
    let chunks = stream::unfold(0u64, move |pos| {
        let content = content.clone();
        async move {
            (pos < stop).then(|| {
                let next = (pos + CHUNK).min(stop);
                (Ok::<_, io::Error>(content.bytes(pos, next)), next)
            })
        }
    });
    let mut resp = Response::new(Body::from_stream(chunks));
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if shape.gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if shape.close_delimited {
        // An HTTP/1.0 answer of unknown length is delimited by the connection's close, so
        // hyper sends it without Content-Length and without chunking: a clean EOF at half
        // looks exactly like the end of the file.
        *resp.version_mut() = axum::http::Version::HTTP_10;
    } else {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    resp
}
