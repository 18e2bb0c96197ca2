//! Downloads: the video and the thumbnail of a done job, streamed to `*.partial` with SHA-256
//! computed on the way, checked against `Content-Length` and the container's structure,
//! fsynced and renamed ([`download`], [`write`], [`verify`]). A cut download resumes with
//! `Range`; an expired URL (403/404/410) is refreshed by fetching the job again; an HTML
//! page in place of the file is retried, never saved. Memory stays flat whatever the file's
//! size.
//!
//! A done job without a usable `output` URL (some APIs say `done` a moment before they set
//! it) is fetched again from the API, with backoff, until it has one or the job deadline
//! passes: the journal's copy is never trusted for that, since it is what lacked the URL.
//! A job without a usable thumbnail URL is downloaded without `thumbnail.jpg`.

mod direct;
mod download;
mod remote;
mod stream_check;
mod verify;
mod write;

use std::path::Path;

use tokio::time::Instant;
use url::Url;

use crate::api::Job;
use crate::journal::{Change, FileRecord, JournalError};
use crate::output::{self, ensure_real_dir};

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
            Self::Video => job.output_url(),
            Self::Thumbnail => job.thumbnail_url(),
        }
    }

    fn kind(self) -> verify::Kind {
        match self {
            Self::Video => verify::Kind::Mp4,
            Self::Thumbnail => verify::Kind::Jpeg,
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
    let saved = match saved.as_deref().map(serde_json::from_str::<Job>) {
        Some(Ok(job)) if job.output_url().is_some() => Some(job),
        _ => None,
    };
    let folder = output::folder_name(key);
    let dir = shared.cfg.batch_dir.join(&folder);
    let result = async {
        let mut job = match saved {
            Some(job) => job,
            None => job_with_output(shared, job_id).await?,
        };
        if shared.cfg.storage.is_none() {
            ensure_real_dir(&dir).map_err(|e| FetchError::Failed(e.to_string()))?;
        }
        let video = fetch_file(shared, &mut job, Which::Video, &dir, &folder).await?;
        // An empty or missing thumbnail never holds back the video.
        let thumbnail = match job.thumbnail_url() {
            Some(_) => Some(fetch_file(shared, &mut job, Which::Thumbnail, &dir, &folder).await?),
            None => {
                tracing::info!(%key, "the job has no thumbnail; the video is saved without one");
                None
            }
        };
        // This run's webhook path is its listener's secret: kept out of the files.
        if job.webhook_url.is_some() && job.webhook_url == shared.cfg.webhook_url {
            job.webhook_url = job
                .webhook_url
                .as_deref()
                .and_then(|u| u.rsplit_once('/'))
                .map(|(base, _)| format!("{base}/…"));
        }
        let job_json = serde_json::to_vec_pretty(&job).unwrap_or_default();
        match &shared.cfg.storage {
            Some(remote) => {
                let rel = format!("{folder}/job.json");
                crate::storage::upload::put_small(remote, &rel, "application/json", job_json)
                    .await
                    .map_err(|e| FetchError::Failed(format!("{rel}: {e}")))?;
            }
            None => output::write_atomic(&dir.join("job.json"), &job_json)
                .map_err(|e| FetchError::Failed(format!("{}/job.json: {e}", dir.display())))?,
        }
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
        let rel = format!("{folder}/{}", which.file());
        let got = match &cfg.storage {
            Some(remote) => {
                // Already there, whole, from this job: a run killed after the upload
                // completed and before the journal heard of it. Not uploaded again.
                if let Some(found) = crate::storage::upload::existing(remote, &rel, &job.id).await {
                    tracing::debug!(object = %rel, "already in the bucket; not uploaded again");
                    Ok(found)
                } else {
                    remote::deliver(shared, remote, &url, &rel, which.kind(), &job.id).await
                }
            }
            None => download::download(shared, &url, &path, which.kind()).await,
        };
        match got {
            Ok((sha256, bytes)) => {
                return Ok(FileRecord {
                    path: rel,
                    sha256,
                    bytes,
                })
            }
            Err(Attempt::Fatal(e)) => return Err(FetchError::Failed(e)),
            Err(Attempt::Retry(e)) => last = e,
            Err(Attempt::Expired(e)) => {
                last = e;
                match shared.client.job(&job.id).await {
                    // A fresh answer without the URL keeps the old one for the next try.
                    Ok(fresh) if which.url(&fresh).is_some() => *job = fresh,
                    Ok(_) => {
                        last = format!("{last}; the refreshed job has no {} URL", which.file())
                    }
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

/// The job as the API shows it now, asked again with backoff until it has a usable output
/// URL or the job deadline (counted from now) passes.
async fn job_with_output(shared: &Shared, job_id: &str) -> Result<Job, FetchError> {
    let cfg = &shared.cfg;
    let deadline = Instant::now() + cfg.job_deadline;
    let mut asked = 0u32;
    loop {
        asked += 1;
        let why = match shared.client.job(job_id).await {
            Ok(job) if job.output_url().is_some() => return Ok(job),
            Ok(job) => format!(
                "the job reads {:?} but has no output URL yet",
                job.status.as_str()
            ),
            // The client has retried what may heal; what is left (404, 401) will not.
            Err(e) => {
                return Err(FetchError::Failed(format!(
                    "cannot read the job's URLs: {e}"
                )))
            }
        };
        let wait = super::backoff(cfg, asked);
        if Instant::now() + wait > deadline {
            return Err(FetchError::Failed(format!(
                "{why} (asked {asked} times until the job deadline, [poll] job_deadline_secs)"
            )));
        }
        tracing::debug!(job = %job_id, asked, "{why}; asking again");
        tokio::time::sleep(wait).await;
    }
}
