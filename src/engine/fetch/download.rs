//! One download attempt: the answer's status and headers judged, the body streamed to
//! `*.partial` through the writer ([`super::write`]), the length and the container checked
//! ([`super::verify`]), then the rename.
//!
//! Downloads ask for `Accept-Encoding: identity`; a server that gzip-encodes anyway is
//! decoded on the way. An encoded body is never resumed with `Range` (its offsets are not
//! the file's), and a body whose length nothing proves (no `Content-Length`, no chunked
//! framing: it ends wherever the connection closed) is kept only when the file proves it is
//! whole by its own structure.

use std::path::Path;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use url::Url;

use crate::output::{commit_rename, create_no_follow, partial_path};

use super::super::reference::hex;
use super::super::Shared;
use super::direct::{Block, POOL};
use super::verify::{self, Kind};
use super::write::{self, Encoding, WriteError};
use super::Attempt;

/// One attempt: resumes `path.partial` when the server allows, renames on success. The
/// file's SHA-256 and length.
pub(super) async fn download(
    shared: &Shared,
    url: &Url,
    path: &Path,
    kind: Kind,
) -> Result<(String, u64), Attempt> {
    let cap = shared.cfg.max_download_bytes;
    let partial = partial_path(path);
    let have = std::fs::symlink_metadata(&partial)
        .ok()
        .filter(|m| m.is_file())
        .map_or(0, |m| m.len());
    let resp = shared
        .client
        .download(url, have)
        .await
        .map_err(|e| Attempt::Retry(e.to_string()))?;
    let Judged {
        append,
        expected,
        encoding,
        framed,
    } = match judge(&resp, have, cap) {
        Ok(j) => j,
        Err((attempt, start_over)) => {
            if start_over {
                let _ = std::fs::remove_file(&partial);
            }
            return Err(attempt);
        }
    };
    let io = |e: std::io::Error| Attempt::Fatal(format!("{}: {e}", partial.display()));
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    if append {
        received = write::hash_existing(&partial, &mut hasher).map_err(io)?;
    }
    let file = create_no_follow(&partial, append).map_err(io)?;
    // The network is read here, each chunk copied at once into an aligned block (so hyper
    // reuses its buffer); hashing, decoding and writing happen on blocking threads, so they
    // go on at once and the runtime's threads never wait for the disk. At most POOL blocks
    // exist, handed back once written: they bound the memory a download holds.
    let (tx, rx) = tokio::sync::mpsc::channel::<Block>(POOL);
    let (free, mut freed) = tokio::sync::mpsc::channel::<Block>(POOL);
    let at = received;
    let writer = tokio::task::spawn_blocking(move || {
        write::write_chunks(file, at, hasher, rx, free, encoding, cap)
    });
    let mut body = resp.bytes_stream();
    let mut cut = None;
    // What is left to come, when the answer says it: sizes the blocks of a small file.
    let left = |copied: u64| expected.map(|total| total.saturating_sub(copied));
    let mut made = 1;
    let mut block = Some(Block::new(at, left(at)));
    let mut copied = at;
    'read: while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                // What arrived is written and synced, and kept for a resume with `Range`.
                cut = Some(format!("connection cut after {received} bytes: {e}"));
                break;
            }
        };
        received += chunk.len() as u64;
        if received > cap {
            drop(tx);
            let _ = writer.await;
            let _ = std::fs::remove_file(&partial);
            return Err(over_cap(cap));
        }
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let Some(b) = block.as_mut() else {
                break 'read;
            };
            let n = b.fill(rest);
            rest = &rest[n..];
            copied += n as u64;
            if b.is_full() {
                if let Some(full) = block.take() {
                    // An error here is the writer's: it stopped, and says why below.
                    if tx.send(full).await.is_err() {
                        break 'read;
                    }
                }
                block = match freed.try_recv() {
                    Ok(b) => Some(b),
                    Err(_) if made < POOL => {
                        made += 1;
                        Some(Block::new(copied, left(copied)))
                    }
                    // None: the writer stopped on an error, reported below.
                    Err(_) => freed.recv().await,
                };
                if let Some(b) = block.as_mut() {
                    b.reset(copied);
                }
            }
        }
    }
    if let Some(b) = block.filter(|b| !b.is_empty()) {
        // An error here is the writer's, reported below.
        let _ = tx.send(b).await;
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| Attempt::Fatal(format!("{}: the writer failed: {e}", partial.display())));
    let start_over = |why: String| {
        let _ = std::fs::remove_file(&partial);
        Attempt::Retry(why)
    };
    if encoding != Encoding::Identity {
        if let Some(cut) = cut {
            // Decoded bytes cannot be resumed with a range of the encoded body.
            return Err(start_over(format!("{cut}; starting over (gzip-encoded)")));
        }
    }
    let written = match written? {
        Ok(w) => w,
        Err(WriteError::Io(e)) => return Err(io(e)),
        Err(WriteError::OverCap) => {
            let _ = std::fs::remove_file(&partial);
            return Err(over_cap(cap));
        }
        Err(WriteError::Corrupt(e)) => {
            return Err(start_over(format!(
                "the gzip-encoded body is incomplete or corrupt ({e}); starting over"
            )))
        }
    };
    if let Some(cut) = cut {
        return Err(Attempt::Retry(cut));
    }
    if let Some(total) = expected {
        if received != total {
            return Err(Attempt::Retry(format!("got {received} of {total} bytes")));
        }
    }
    let check = partial.clone();
    let verdict = tokio::task::spawn_blocking(move || verify::check(&check, kind, !framed))
        .await
        .unwrap_or_else(|e| Err(format!("the check failed: {e}")));
    if let Err(why) = verdict {
        let how = if framed {
            ""
        } else {
            " (the server sent no Content-Length and no chunked framing, so only the file \
             itself can prove it is whole)"
        };
        return Err(start_over(format!("refused: {why}{how}")));
    }
    commit_rename(&partial, path).map_err(io)?;
    Ok((hex(&written.hasher.finalize()), written.bytes))
}

/// What an answer's status and headers say about its body.
pub(super) struct Judged {
    /// A 206 continuing the `have` bytes already kept.
    pub append: bool,
    /// The file's whole length, when the answer says it.
    pub expected: Option<u64>,
    /// How the body is encoded.
    pub encoding: Encoding,
    /// Whether the transport proves the body's end (a length, or chunked framing).
    pub framed: bool,
}

/// Judges a download's answer before its body is read: what to do with the body, or the
/// attempt's end (with whether the bytes kept so far must be dropped).
pub(super) fn judge(
    resp: &reqwest::Response,
    have: u64,
    cap: u64,
) -> Result<Judged, (Attempt, bool)> {
    let status = resp.status().as_u16();
    let (append, expected) = match status {
        200 => (false, resp.content_length()),
        206 => match content_range(resp) {
            Some((start, total)) if start == have => (true, total),
            _ => (false, None),
        },
        416 => {
            return Err((
                Attempt::Retry("416: starting the download over".into()),
                true,
            ))
        }
        403 | 404 | 410 => {
            return Err((
                Attempt::Expired(format!("HTTP {status}: the URL has expired")),
                false,
            ))
        }
        408 | 425 | 429 | 500..=599 => {
            return Err((Attempt::Retry(format!("HTTP {status}")), false))
        }
        _ => return Err((Attempt::Fatal(format!("HTTP {status}")), false)),
    };
    if is_html(resp) {
        // A maintenance or error page from the CDN or a proxy, with a 200: saved, it would
        // pass every size check and become the row's "video". What is kept stays.
        return Err((
            Attempt::Retry(format!(
                "HTTP {status} with an HTML page instead of the file"
            )),
            false,
        ));
    }
    let encoding = encoding(resp).map_err(|e| (Attempt::Fatal(e), false))?;
    if status == 206 && (!append || encoding != Encoding::Identity) {
        // A range we did not ask for, or one of an encoded body (whose offsets are not the
        // file's): start over rather than stitch a corrupt file.
        return Err((
            Attempt::Retry("unexpected Content-Range or an encoded range; starting over".into()),
            true,
        ));
    }
    // Chunked framing proves the body's end (hyper fails a body without the terminator);
    // `Content-Length` is checked after. Without either, the file itself must prove it.
    let framed = expected.is_some() || is_chunked(resp);
    if let Some(total) = expected {
        if total > cap && encoding == Encoding::Identity {
            return Err((
                Attempt::Fatal(format!(
                    "the file is {total} bytes, over the {cap}-byte limit ([output] max_download_bytes)"
                )),
                false,
            ));
        }
    }
    Ok(Judged {
        append,
        expected,
        encoding,
        framed,
    })
}

pub(super) fn over_cap(cap: u64) -> Attempt {
    Attempt::Fatal(format!(
        "the file passed the {cap}-byte limit ([output] max_download_bytes)"
    ))
}

/// The body's `Content-Encoding`; an error naming one this client cannot decode.
fn encoding(resp: &reqwest::Response) -> Result<Encoding, String> {
    let Some(v) = resp.headers().get(reqwest::header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let v = v.to_str().unwrap_or("?").trim().to_ascii_lowercase();
    match v.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        other => Err(format!(
            "the server sent the file with Content-Encoding: {other}, which this tool cannot \
             decode (it asks for identity)"
        )),
    }
}

/// Whether the body comes in chunked framing.
fn is_chunked(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get_all(reqwest::header::TRANSFER_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// Whether the answer says it is an HTML page: never a video or a thumbnail.
fn is_html(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"))
}

/// `Content-Range: bytes START-END/TOTAL` → (START, TOTAL when known).
fn content_range(resp: &reqwest::Response) -> Option<(u64, Option<u64>)> {
    let v = resp
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()))
}
