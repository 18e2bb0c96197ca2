//! The batch's own files (manifests, failed.csv, the report and whatever else the report
//! writes beside them) copied from the local batch folder to the bucket, each whole
//! ([`super::upload`]), at the same relative paths: the report's relative links then work
//! when the prefix is served. The journal, its lock and the in-process sandbox's state stay
//! local.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::upload::Upload;
use super::Remote;

/// Files of the batch folder that are never uploaded.
fn is_local_only(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with(crate::journal::FILE_NAME)
        || name.ends_with(".partial")
}

/// The MIME type a browser needs to open a report file from the bucket.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()) {
        Some(e) if e == "html" || e == "htm" => "text/html; charset=utf-8",
        Some(e) if e == "json" => "application/json",
        Some(e) if e == "csv" => "text/csv; charset=utf-8",
        Some(e) if e == "css" => "text/css",
        Some(e) if e == "js" => "text/javascript",
        Some(e) if e == "mp4" => "video/mp4",
        Some(e) if e == "jpg" || e == "jpeg" => "image/jpeg",
        Some(e) if e == "png" => "image/png",
        Some(e) if e == "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// Uploads every top-level file of `batch_dir` (not the row folders, whose files are
/// uploaded by the downloads themselves). Streams each file in parts: a 100k-row manifest
/// is never held whole.
pub async fn publish(batch_dir: &Path, remote: &Remote) -> Result<usize, String> {
    let entries = std::fs::read_dir(batch_dir)
        .map_err(|e| format!("cannot read {}: {e}", batch_dir.display()))?;
    let mut sent = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !is_file || is_local_only(&name) {
            continue;
        }
        upload_file(&entry.path(), remote, &name).await?;
        sent += 1;
    }
    Ok(sent)
}

async fn upload_file(path: &Path, remote: &Remote, name: &str) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut up = Upload::new(remote, name, content_type(name), "", Some(size));
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    let result = async {
        loop {
            let mut buf = vec![0u8; 1 << 20];
            let got = file.read(&mut buf).map_err(io)?;
            if got == 0 {
                break;
            }
            buf.truncate(got);
            hasher.update(&buf);
            n += got as u64;
            up.push(buf.into()).await?;
        }
        Ok::<_, String>(())
    }
    .await;
    if let Err(e) = result {
        up.abort().await;
        return Err(e);
    }
    if n != size {
        // Rewritten while it was read (the reports are renamed into place, so this is a
        // new file): the next publication sends it.
        up.abort().await;
        return Ok(());
    }
    up.finish(&crate::engine::reference::hex(&hasher.finalize()), n)
        .await
}
