//! Downloads: the video and the thumbnail of a done job, streamed to `*.partial` with SHA-256
//! computed on the way, checked against `Content-Length`, fsynced and renamed. A cut
//! download resumes with `Range`; an expired URL (403/404/410) is refreshed by fetching the
//! job again; an HTML page in place of the file is retried, never saved. Memory stays flat
//! whatever the file's size.

use std::path::Path;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use url::Url;

use crate::api::Job;
use crate::journal::{Change, FileRecord, JournalError};
use crate::output::{self, commit_rename, create_no_follow, ensure_real_dir, partial_path};

use super::reference::hex;
use super::Shared;

/// Why a download stopped.
#[derive(Debug, thiserror::Error)]
pub(super) enum FetchError {
    /// The journal could not record it: the run must stop.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Gave up on this row's files for this run.
    #[error("{0}")]
    Failed(String),
}

enum Attempt {
    /// The URL no longer works: fetch the job again for fresh URLs.
    Expired(String),
    /// Try again (from where the partial file ends).
    Retry(String),
    /// No point trying again.
    Fatal(String),
}

#[derive(Clone, Copy)]
enum Which {
    Video,
    Thumbnail,
}

impl Which {
    fn url(self, job: &Job) -> Option<&str> {
        match self {
            Self::Video => job.output.as_deref(),
            Self::Thumbnail => job.video_thumbnail.as_deref(),
        }
    }

    fn file(self) -> &'static str {
        match self {
            Self::Video => "video.mp4",
            Self::Thumbnail => "thumbnail.jpg",
        }
    }
}

pub(super) async fn fetch(shared: &Shared, key: &str, job_id: &str) -> Result<(), FetchError> {
    // The job object as last polled, from the journal; if it is missing or unreadable, the
    // API's current one (its URLs are what matters).
    let saved = shared.journal.job(key)?;
    let mut job = match saved.as_deref().map(serde_json::from_str::<Job>) {
        Some(Ok(job)) => job,
        _ => shared
            .client
            .job(job_id)
            .await
            .map_err(|e| FetchError::Failed(format!("cannot read the job's URLs: {e}")))?,
    };
    let folder = output::folder_name(key);
    let dir = shared.cfg.batch_dir.join(&folder);
    let result = async {
        ensure_real_dir(&dir).map_err(|e| FetchError::Failed(e.to_string()))?;
        let video = fetch_file(shared, &mut job, Which::Video, &dir, &folder).await?;
        let thumbnail = match job.video_thumbnail {
            Some(_) => Some(fetch_file(shared, &mut job, Which::Thumbnail, &dir, &folder).await?),
            None => None,
        };
        let job_json = serde_json::to_vec_pretty(&job).unwrap_or_default();
        output::write_atomic(&dir.join("job.json"), &job_json)
            .map_err(|e| FetchError::Failed(format!("{}/job.json: {e}", dir.display())))?;
        Ok::<_, FetchError>((video, thumbnail))
    }
    .await;
    match result {
        Ok((video, thumbnail)) => {
            shared
                .journal
                .record(Change::Downloaded {
                    key: key.to_owned(),
                    video,
                    thumbnail,
                })
                .await?;
            Ok(())
        }
        Err(FetchError::Failed(error)) => {
            shared
                .journal
                .record(Change::Note {
                    key: key.to_owned(),
                    error: format!("download: {error}"),
                })
                .await?;
            Err(FetchError::Failed(error))
        }
        Err(e) => Err(e),
    }
}

async fn fetch_file(
    shared: &Shared,
    job: &mut Job,
    which: Which,
    dir: &Path,
    folder: &str,
) -> Result<FileRecord, FetchError> {
    let cfg = &shared.cfg;
    let path = dir.join(which.file());
    let mut last = String::new();
    for attempt in 1..=cfg.max_attempts.max(1) {
        if attempt > 1 {
            tokio::time::sleep(super::backoff(cfg, attempt - 1)).await;
        }
        let Some(raw) = which.url(job).map(str::to_owned) else {
            return Err(FetchError::Failed(format!(
                "the job is done but has no {} URL",
                which.file()
            )));
        };
        let url = match Url::parse(&raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                return Err(FetchError::Failed(format!(
                    "refusing to download {} from a non-http(s) URL",
                    which.file()
                )))
            }
        };
        match download(shared, &url, &path).await {
            Ok((sha256, bytes)) => {
                return Ok(FileRecord {
                    path: format!("{folder}/{}", which.file()),
                    sha256,
                    bytes,
                })
            }
            Err(Attempt::Fatal(e)) => return Err(FetchError::Failed(e)),
            Err(Attempt::Retry(e)) => last = e,
            Err(Attempt::Expired(e)) => {
                last = e;
                match shared.client.job(&job.id).await {
                    Ok(fresh) => *job = fresh,
                    Err(e) => last = format!("{last}; refreshing the job failed: {e}"),
                }
            }
        }
        tracing::debug!(file = which.file(), attempt, error = %last, "download attempt failed");
    }
    Err(FetchError::Failed(format!(
        "{}: gave up after {} attempts: {last}",
        which.file(),
        cfg.max_attempts
    )))
}

/// One attempt: resumes `path.partial` when the server allows, renames on success.
async fn download(shared: &Shared, url: &Url, path: &Path) -> Result<(String, u64), Attempt> {
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
    let status = resp.status().as_u16();
    let (append, expected) = match status {
        200 => (false, resp.content_length()),
        206 => match content_range(&resp) {
            Some((start, total)) if start == have => (true, total),
            _ => (false, None),
        },
        416 => {
            let _ = std::fs::remove_file(&partial);
            return Err(Attempt::Retry("416: starting the download over".into()));
        }
        403 | 404 | 410 => {
            return Err(Attempt::Expired(format!(
                "HTTP {status}: the URL has expired"
            )))
        }
        408 | 425 | 429 | 500..=599 => return Err(Attempt::Retry(format!("HTTP {status}"))),
        _ => return Err(Attempt::Fatal(format!("HTTP {status}"))),
    };
    if is_html(&resp) {
        // A maintenance or error page from the CDN or a proxy, with a 200: saved, it would
        // pass every size check and become the row's "video". What `.partial` holds is kept.
        return Err(Attempt::Retry(format!(
            "HTTP {status} with an HTML page instead of the file"
        )));
    }
    if status == 206 && !append {
        // A range we did not ask for: start over rather than stitch a corrupt file.
        let _ = std::fs::remove_file(&partial);
        return Err(Attempt::Retry(
            "unexpected Content-Range; starting over".into(),
        ));
    }
    if let Some(total) = expected {
        if total > cap {
            return Err(Attempt::Fatal(format!(
                "the file is {total} bytes, over the {cap}-byte limit ([output] max_download_bytes)"
            )));
        }
    }
    let io = |e: std::io::Error| Attempt::Fatal(format!("{}: {e}", partial.display()));
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    if append {
        written = hash_existing(&partial, &mut hasher).map_err(io)?;
    }
    let file = create_no_follow(&partial, append).map_err(io)?;
    // The network is read here; hashing and writing happen on a blocking thread, so the two
    // go on at once (on two cores) and the runtime's threads never wait for the disk. The
    // queue between them bounds the memory a download can hold: WRITE_QUEUE batches of
    // about BATCH bytes. Chunks go in batches, not one by one: each handover may wake a
    // thread, and a gigabyte comes in tens of thousands of chunks.
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<bytes::Bytes>>(WRITE_QUEUE);
    let writer = tokio::task::spawn_blocking(move || write_chunks(file, written, hasher, rx));
    let mut body = resp.bytes_stream();
    let mut cut = None;
    let mut batch = Vec::new();
    let mut batched = 0;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                // What arrived is written and synced, and kept for a resume with `Range`.
                cut = Some(format!("connection cut after {written} bytes: {e}"));
                break;
            }
        };
        written += chunk.len() as u64;
        if written > cap {
            drop(tx);
            let _ = writer.await;
            let _ = std::fs::remove_file(&partial);
            return Err(Attempt::Fatal(format!(
                "the file passed the {cap}-byte limit ([output] max_download_bytes)"
            )));
        }
        batched += chunk.len();
        batch.push(chunk);
        if batched >= BATCH {
            batched = 0;
            if tx.send(std::mem::take(&mut batch)).await.is_err() {
                // The writer stopped on an error: it is reported below.
                break;
            }
        }
    }
    if !batch.is_empty() {
        // An error here is the writer's, reported below.
        let _ = tx.send(batch).await;
    }
    drop(tx);
    let hasher = writer
        .await
        .map_err(|e| Attempt::Fatal(format!("{}: the writer failed: {e}", partial.display())))?
        .map_err(io)?;
    if let Some(cut) = cut {
        return Err(Attempt::Retry(cut));
    }
    if let Some(total) = expected {
        if written != total {
            return Err(Attempt::Retry(format!("got {written} of {total} bytes")));
        }
    }
    commit_rename(&partial, path).map_err(io)?;
    Ok((hex(&hasher.finalize()), written))
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

/// Chunks queued between the network and the writer (hyper hands over what one read got,
/// up to a few hundred KiB).
const WRITE_QUEUE: usize = 8;
/// Bytes of chunks handed to the writer at once.
const BATCH: usize = 256 << 10;
/// Written data handed to the disk in the background every this many bytes.
const WRITE_BEHIND: u64 = 8 << 20;

/// Hashes and writes every queued chunk, then fsyncs the file (also when the sender stopped
/// early: what arrived is kept for a resume). `at` is the file's length when writing starts
/// (a resumed download appends). A batch of chunks is written with `writev`, without a
/// buffer: one would copy every byte once more, and on two cores the copies are what is slow.
///
/// On Linux, every [`WRITE_BEHIND`] bytes the kernel is asked to start writing what it has
/// (`sync_file_range`, which does not wait), so the final fsync finds little left to do
/// instead of a whole gigabyte of dirty pages: the fsync overlaps with the download.
fn write_chunks(
    mut file: std::fs::File,
    mut at: u64,
    mut hasher: Sha256,
    mut rx: tokio::sync::mpsc::Receiver<Vec<bytes::Bytes>>,
) -> std::io::Result<Sha256> {
    use std::io::{IoSlice, Write};
    let mut behind = at;
    while let Some(batch) = rx.blocking_recv() {
        for chunk in &batch {
            hasher.update(chunk);
            at += chunk.len() as u64;
        }
        // The whole batch in as few `writev` calls as the kernel allows.
        let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|c| IoSlice::new(c)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match file.write_vectored(rest) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if at - behind >= WRITE_BEHIND {
            start_writeback(&file, behind, at - behind);
            behind = at;
        }
    }
    file.sync_all()?;
    Ok(hasher)
}

/// Asks the kernel to start writing `len` bytes of `file` from `offset` to disk, without
/// waiting. A hint: where it is not available or fails, the final fsync does all the work.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor is open for the call's duration (borrowed from `file`), and
    // sync_file_range reads nothing from our memory.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &std::fs::File, _: u64, _: u64) {}

fn hash_existing(path: &Path, hasher: &mut Sha256) -> std::io::Result<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        let got = f.read(&mut buf)?;
        if got == 0 {
            return Ok(n);
        }
        hasher.update(&buf[..got]);
        n += got as u64;
    }
}
