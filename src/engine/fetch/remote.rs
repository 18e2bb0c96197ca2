//! One download attempt streamed straight into object storage: the answer judged as on disk
//! ([`super::download::judge`]), the body hashed, sized, capped and checked as it passes
//! ([`super::stream_check`]) while it is uploaded in parts ([`crate::storage::upload`]); the
//! upload is completed only when every check passed, and aborted otherwise, so a cut or
//! refused body never becomes an object. Nothing touches the local disk, and a cut body is
//! not resumed with `Range` (an upload's parts cannot be picked up by a later attempt): the
//! next attempt starts over.

use std::io::Write;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use url::Url;

use crate::storage::upload::Upload;
use crate::storage::Remote;

use super::super::reference::hex;
use super::super::Shared;
use super::download::{judge, over_cap, Judged};
use super::stream_check::StreamCheck;
use super::verify::Kind;
use super::write::Encoding;
use super::Attempt;

/// One attempt: the file at `url` to the object `rel` of `remote`, from job `job`. Its
/// SHA-256 and length.
pub(super) async fn deliver(
    shared: &Shared,
    remote: &Remote,
    url: &Url,
    rel: &str,
    kind: Kind,
    job: &str,
) -> Result<(String, u64), Attempt> {
    let cap = shared.cfg.max_download_bytes;
    let resp = shared
        .client
        .download(url, 0)
        .await
        .map_err(|e| Attempt::Retry(e.to_string()))?;
    let Judged {
        expected,
        encoding,
        framed,
        ..
    } = judge(&resp, 0, cap).map_err(|(a, _)| a)?;
    let content_type = match kind {
        Kind::Mp4 => "video/mp4",
        Kind::Jpeg => "image/jpeg",
    };
    let size = expected.filter(|_| encoding == Encoding::Identity);
    let mut upload = Upload::new(remote, rel, content_type, job, size);
    let mut body = Body {
        hasher: Sha256::new(),
        check: StreamCheck::new(kind),
        bytes: 0,
        cap,
        gzip: (encoding == Encoding::Gzip).then(|| flate2::write::MultiGzDecoder::new(Vec::new())),
    };
    let result = async {
        let mut stream = resp.bytes_stream();
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                Attempt::Retry(format!(
                    "connection cut after {received} bytes: {e}; the upload starts over"
                ))
            })?;
            received += chunk.len() as u64;
            for piece in body.take(chunk)? {
                upload.push(piece).await.map_err(Attempt::Retry)?;
            }
        }
        for piece in body.end()? {
            upload.push(piece).await.map_err(Attempt::Retry)?;
        }
        if let Some(total) = expected {
            if received != total {
                return Err(Attempt::Retry(format!("got {received} of {total} bytes")));
            }
        }
        body.check.finish(!framed).map_err(|why| {
            let how = if framed {
                ""
            } else {
                " (the server sent no Content-Length and no chunked framing, so only the file \
                 itself can prove it is whole)"
            };
            Attempt::Retry(format!("refused: {why}{how}"))
        })?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        upload.abort().await;
        return Err(e);
    }
    let sha = hex(&body.hasher.finalize());
    upload
        .finish(&sha, body.bytes)
        .await
        .map_err(Attempt::Retry)?;
    Ok((sha, body.bytes))
}

/// The file's bytes as they come out of the body (decoded if it was gzip-encoded): hashed,
/// counted against the cap and checked.
struct Body {
    hasher: Sha256,
    check: StreamCheck,
    bytes: u64,
    cap: u64,
    gzip: Option<flate2::write::MultiGzDecoder<Vec<u8>>>,
}

impl Body {
    /// The file bytes `chunk` of the body yields.
    fn take(&mut self, chunk: bytes::Bytes) -> Result<Vec<bytes::Bytes>, Attempt> {
        let out = match &mut self.gzip {
            None => chunk,
            Some(dec) => {
                dec.write_all(&chunk).map_err(corrupt)?;
                bytes::Bytes::from(std::mem::take(dec.get_mut()))
            }
        };
        self.account(out)
    }

    /// What the decoder still holds once the body ended (its trailer checked).
    fn end(&mut self) -> Result<Vec<bytes::Bytes>, Attempt> {
        match self.gzip.take() {
            None => Ok(Vec::new()),
            Some(dec) => {
                let rest = dec.finish().map_err(corrupt)?;
                self.account(rest.into())
            }
        }
    }

    fn account(&mut self, out: bytes::Bytes) -> Result<Vec<bytes::Bytes>, Attempt> {
        if out.is_empty() {
            return Ok(Vec::new());
        }
        self.bytes += out.len() as u64;
        if self.bytes > self.cap {
            return Err(over_cap(self.cap));
        }
        self.hasher.update(&out);
        self.check.feed(&out);
        Ok(vec![out])
    }
}

fn corrupt(e: std::io::Error) -> Attempt {
    Attempt::Retry(format!(
        "the gzip-encoded body is incomplete or corrupt ({e}); starting over"
    ))
}
