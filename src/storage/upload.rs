//! The whole-or-nothing upload of one file: bytes are pushed as they arrive and the object
//! appears under its final name only when [`Upload::finish`] is called, after the caller has
//! checked the size, the SHA-256 and the container.
//!
//! A file that fits in one part ([`PART`], 5 MiB) is sent in one PUT when it is whole, with its
//! SHA-256, size and job id as object metadata. A larger one becomes a multipart upload:
//! parts go out while the download goes on (at most [`PARTS_IN_FLIGHT`] parts buffered, so
//! memory stays flat whatever the size), and only the final "complete" makes the object
//! exist. Any failure aborts the upload ([`Upload::abort`]); after a SIGKILL the store keeps
//! an invisible incomplete upload (a bucket lifecycle rule, `AbortIncompleteMultipartUpload`,
//! clears those) and the rerun starts the file again. Object metadata is fixed when a
//! multipart upload begins, before its bytes are seen, so a multipart object carries its job
//! id and size but not its hash; the hash is in the journal and the manifest, and
//! [`existing`] reads such an object back through the store to learn it.

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload,
    WriteMultipart,
};
use sha2::{Digest, Sha256};

use super::Remote;

/// Bytes per part of a multipart upload: S3's minimum, which keeps memory lowest (10,000
/// parts make 50 GB, far above any video and `[output] max_download_mib`'s default).
pub const PART: usize = 5 << 20;
/// Parts buffered or being sent at once.
pub const PARTS_IN_FLIGHT: usize = 2;

/// Metadata key: SHA-256 of the object's bytes (hex).
pub const META_SHA256: &str = "sha256";
/// Metadata key: the object's size in bytes.
pub const META_BYTES: &str = "creatify-bytes";
/// Metadata key: the Creatify job the file came from.
pub const META_JOB: &str = "creatify-job";

/// One file being uploaded.
pub struct Upload {
    remote: Remote,
    path: ObjectPath,
    attributes: Attributes,
    pending: Vec<Bytes>,
    pending_len: usize,
    multipart: Option<WriteMultipart>,
}

impl Upload {
    /// An upload to `rel` (`key/video.mp4`) of a file from `job` of `content_type`; its size
    /// when known now.
    pub fn new(
        remote: &Remote,
        rel: &str,
        content_type: &'static str,
        job: &str,
        size: Option<u64>,
    ) -> Upload {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.into());
        attributes.insert(Attribute::Metadata(META_JOB.into()), job.to_owned().into());
        if let Some(n) = size {
            attributes.insert(Attribute::Metadata(META_BYTES.into()), n.to_string().into());
        }
        Upload {
            remote: remote.clone(),
            path: remote.path(rel),
            attributes,
            pending: Vec::new(),
            pending_len: 0,
            multipart: None,
        }
    }

    /// Hands over the next bytes; waits while [`PARTS_IN_FLIGHT`] parts are under way.
    pub async fn push(&mut self, bytes: Bytes) -> Result<(), String> {
        if let Some(w) = &mut self.multipart {
            w.wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(|e| self.remote.failed(&e))?;
            w.put(bytes);
            return Ok(());
        }
        self.pending_len += bytes.len();
        self.pending.push(bytes);
        if self.pending_len >= PART {
            let opts = PutMultipartOptions {
                attributes: self.attributes.clone(),
                ..Default::default()
            };
            let upload = self
                .remote
                .store()
                .put_multipart_opts(&self.path, opts)
                .await
                .map_err(|e| self.remote.failed(&e))?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
            for b in std::mem::take(&mut self.pending) {
                w.put(b);
            }
            self.pending_len = 0;
            self.multipart = Some(w);
        }
        Ok(())
    }

    /// Makes the object exist under its final name. Call only once the bytes are checked.
    pub async fn finish(self, sha256: &str, bytes: u64) -> Result<(), String> {
        let remote = self.remote;
        match self.multipart {
            Some(w) => {
                w.finish().await.map_err(|e| remote.failed(&e))?;
            }
            None => {
                let mut attributes = self.attributes;
                attributes.insert(
                    Attribute::Metadata(META_SHA256.into()),
                    sha256.to_owned().into(),
                );
                attributes.insert(
                    Attribute::Metadata(META_BYTES.into()),
                    bytes.to_string().into(),
                );
                let payload: PutPayload = self.pending.into_iter().collect();
                let opts = PutOptions {
                    attributes,
                    ..Default::default()
                };
                remote
                    .store()
                    .put_opts(&self.path, payload, opts)
                    .await
                    .map_err(|e| remote.failed(&e))?;
            }
        }
        Ok(())
    }

    /// Gives the upload up: nothing appears under the final name.
    pub async fn abort(self) {
        if let Some(w) = self.multipart {
            if let Err(e) = w.abort().await {
                tracing::debug!(error = %super::redact(&e.to_string()), "could not abort a multipart upload");
            }
        }
    }
}

/// Puts a small file in one piece, whole, with its SHA-256 and size as metadata.
pub async fn put_small(
    remote: &Remote,
    rel: &str,
    content_type: &'static str,
    bytes: Vec<u8>,
) -> Result<(), String> {
    let sha = crate::engine::reference::hex(&Sha256::digest(&bytes));
    let len = bytes.len() as u64;
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::ContentType, content_type.into());
    attributes.insert(Attribute::Metadata(META_SHA256.into()), sha.into());
    attributes.insert(
        Attribute::Metadata(META_BYTES.into()),
        len.to_string().into(),
    );
    let opts = PutOptions {
        attributes,
        ..Default::default()
    };
    remote
        .store()
        .put_opts(&remote.path(rel), PutPayload::from(bytes), opts)
        .await
        .map(|_| ())
        .map_err(|e| remote.failed(&e))
}

/// The SHA-256 and size of the object at `rel` when it is already there, whole, from `job`
/// (an upload completed by a run killed before its journal heard of it). Its metadata says
/// so; a multipart object's hash is read back through the store (never a public URL).
pub async fn existing(remote: &Remote, rel: &str, job: &str) -> Option<(String, u64)> {
    let path = remote.path(rel);
    let head = GetOptions {
        head: true,
        ..Default::default()
    };
    let got = remote.store().get_opts(&path, head).await.ok()?;
    let meta = |k: &str| {
        got.attributes
            .get(&Attribute::Metadata(k.to_owned().into()))
            .map(|v| v.as_ref().to_owned())
    };
    if meta(META_JOB).as_deref() != Some(job) {
        return None;
    }
    let size = got.meta.size;
    if meta(META_BYTES).and_then(|b| b.parse::<u64>().ok()) != Some(size) {
        return None;
    }
    if let Some(sha) = meta(META_SHA256) {
        return Some((sha, size));
    }
    let body = remote.store().get(&path).await.ok()?;
    let mut stream = body.into_stream();
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        let chunk = chunk.ok()?;
        n += chunk.len() as u64;
        hasher.update(&chunk);
    }
    (n == size).then(|| (crate::engine::reference::hex(&hasher.finalize()), size))
}

impl Remote {
    /// A store error about this target, for a download's note (secrets taken out).
    pub fn failed(&self, e: &object_store::Error) -> String {
        format!("{}: {}", self.url(), super::describe(e, &self.bucket()))
    }
}
