//! Media answers shaped by the `[api]` dialect: gzip-encoded whatever was asked, and/or
//! close-delimited (no `Content-Length`, the connection's close ends the body), maybe cut
//! cleanly at half.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::{parse_range, Content, Shape, Wanted, CHUNK};

/// A gzip-encoded and/or close-delimited (maybe cut) answer. A close-delimited one is always
/// the whole file (200, ranges ignored); a framed one honours a range of what it sends, and
/// a `truncate` fault cuts it at half. The encoding is made in memory: these
/// dialects are for correctness tests, not for gigabyte benchmarks.
pub(super) fn serve(
    content: Content,
    content_type: &str,
    headers: &HeaderMap,
    shape: Shape,
) -> Response {
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
    // A framed answer honours a range of the encoded bytes (they are what it sends, as for
    // a pre-compressed file): a client that resumes a decoded file with it gets bytes of
    // another representation.
    let (start, end) = match (
        shape.close_delimited,
        parse_range(headers.get(header::RANGE), len),
    ) {
        (false, Wanted::Part(a, b)) => (a, b + 1),
        (false, Wanted::Unsatisfiable) => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response();
        }
        _ => (0, len),
    };
    // A `truncate` fault on a framed answer: half, then the connection is cut.
    let cut = shape.truncate && !shape.close_delimited;
    let stop = if shape.eof_cut || cut {
        start + (end - start) / 2
    } else {
        end
    };
    let mut resp = Response::new(super::streamed(content, start, stop, cut));
    if end - start < len {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1)) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
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
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    }
    resp
}
