//! The writer side of a download: blocking threads that hash and write the chunks the
//! network side hands over, decoding them first when the server gzip-encoded the body
//! (streaming, so memory stays flat), then fsync. The SHA-256, the size and the size cap
//! are always about the decoded bytes: the file as it lands on disk.
//!
//! A plain body goes through two threads: this one hashes each batch and hands it on to a
//! writer thread ([`super::direct`]), so hashing and writing overlap on two cores. A gzip
//! body is decoded, hashed and written on this thread, through the page cache.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

use super::direct::{start_writeback, BlockWriter};

/// Batches queued between the network and the hasher, and again between the hasher and
/// the disk (hyper hands over what one read got, up to a few hundred KiB).
pub(super) const WRITE_QUEUE: usize = 8;
/// Bytes of chunks handed on at once.
pub(super) const BATCH: usize = 256 << 10;
/// Through the page cache (gzip), written data handed to the disk in the background every
/// this many bytes.
const WRITE_BEHIND: u64 = 8 << 20;

/// How the body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// As the file is.
    Identity,
    /// `Content-Encoding: gzip` (one or more members).
    Gzip,
}

/// What the writer made of the body.
pub(super) struct Written {
    /// SHA-256 of the whole file, resumed part included.
    pub hasher: Sha256,
    /// The file's length.
    pub bytes: u64,
}

/// Why the writer stopped.
#[derive(Debug)]
pub(super) enum WriteError {
    /// The disk.
    Io(io::Error),
    /// The file grew past the cap.
    OverCap,
    /// The encoded body is not valid, or it ended before its end (a cut gzip stream).
    Corrupt(io::Error),
}

/// Hashes and writes every queued chunk, then fsyncs the file (also when the sender stopped
/// early: what arrived is kept for a resume). `at` is the file's length when writing starts
/// (a resumed download appends). Plain chunks are hashed here and written by a second
/// thread in aligned blocks past the page cache ([`super::direct`]); gzip chunks go through
/// a streaming decoder, and an incomplete stream is `Corrupt`.
pub(super) fn write_chunks(
    file: std::fs::File,
    at: u64,
    hasher: Sha256,
    mut rx: tokio::sync::mpsc::Receiver<Vec<bytes::Bytes>>,
    encoding: Encoding,
    cap: u64,
) -> Result<Written, WriteError> {
    match encoding {
        Encoding::Identity => hash_and_write(file, at, hasher, rx, cap),
        Encoding::Gzip => {
            let sink = Sink {
                file,
                at,
                behind: at,
                hasher,
                cap,
                over: false,
            };
            let mut dec = flate2::write::MultiGzDecoder::new(sink);
            while let Some(batch) = rx.blocking_recv() {
                for chunk in &batch {
                    if let Err(e) = dec.write_all(chunk) {
                        return Err(dec.get_ref().classify(e));
                    }
                }
            }
            // Checks the stream's trailer (CRC and length): a gzip body cut anywhere fails.
            if let Err(e) = dec.try_finish() {
                return Err(dec.get_ref().classify(e));
            }
            let sink = dec.finish().map_err(WriteError::Corrupt)?;
            sink.file.sync_all().map_err(WriteError::Io)?;
            Ok(Written {
                hasher: sink.hasher,
                bytes: sink.at,
            })
        }
    }
}

/// A plain body: each batch hashed here, then handed to the writer thread, which copies it
/// into aligned blocks and writes them ([`BlockWriter`]). The copy costs less than the one
/// into the page cache it replaces, and is made on the writer's thread, not the hasher's.
fn hash_and_write(
    file: std::fs::File,
    at: u64,
    mut hasher: Sha256,
    mut rx: tokio::sync::mpsc::Receiver<Vec<bytes::Bytes>>,
    cap: u64,
) -> Result<Written, WriteError> {
    let (to_disk, from_hasher) = std::sync::mpsc::sync_channel::<Vec<bytes::Bytes>>(WRITE_QUEUE);
    std::thread::scope(|s| {
        let writer = std::thread::Builder::new()
            .name("download-disk".into())
            .spawn_scoped(s, move || {
                let mut out = BlockWriter::new(file, at);
                for batch in from_hasher {
                    for chunk in &batch {
                        out.push(chunk)?;
                    }
                }
                out.finish()
            })
            .map_err(WriteError::Io)?;
        let mut hashed = at;
        let mut over = false;
        while let Some(batch) = rx.blocking_recv() {
            let len: u64 = batch.iter().map(|c| c.len() as u64).sum();
            if hashed + len > cap {
                over = true;
                break;
            }
            for chunk in &batch {
                hasher.update(chunk);
            }
            hashed += len;
            if to_disk.send(batch).is_err() {
                // The writer stopped on an error: it is reported below.
                break;
            }
        }
        drop(to_disk);
        let wrote = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the disk writer panicked")));
        if over {
            return Err(WriteError::OverCap);
        }
        let bytes = wrote.map_err(WriteError::Io)?;
        if bytes != hashed {
            return Err(WriteError::Io(io::Error::other(format!(
                "{hashed} bytes hashed but {bytes} written"
            ))));
        }
        Ok(Written { hasher, bytes })
    })
}

/// The file, with its hash, length and cap.
struct Sink {
    file: std::fs::File,
    at: u64,
    behind: u64,
    hasher: Sha256,
    cap: u64,
    over: bool,
}

impl Sink {
    fn wrote(&mut self, len: u64) {
        self.at += len;
        if self.at - self.behind >= WRITE_BEHIND {
            start_writeback(&self.file, self.behind, self.at - self.behind);
            self.behind = self.at;
        }
    }

    /// An error out of the decoder: ours (cap, disk) or the stream's.
    fn classify(&self, e: io::Error) -> WriteError {
        if self.over {
            WriteError::OverCap
        } else if e.kind() == io::ErrorKind::Other
            && e.get_ref().is_some_and(|i| i.is::<DiskError>())
        {
            WriteError::Io(e)
        } else {
            WriteError::Corrupt(e)
        }
    }
}

/// Marks a disk error inside the decoder's `io::Error`s, told apart from the stream's own.
#[derive(Debug)]
struct DiskError(io::Error);

impl std::fmt::Display for DiskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DiskError {}

/// Where the decoder writes the decoded bytes.
impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.at + buf.len() as u64 > self.cap {
            self.over = true;
            return Err(io::Error::other("over the size cap"));
        }
        self.file
            .write_all(buf)
            .map_err(|e| io::Error::other(DiskError(e)))?;
        self.hasher.update(buf);
        self.wrote(buf.len() as u64);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Hashes what a resumed `.partial` already holds; its length.
pub(super) fn hash_existing(path: &std::path::Path, hasher: &mut Sha256) -> io::Result<u64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// Runs the writer over `body` in `piece`-byte chunks; the file's bytes or the error.
    fn write(
        body: &[u8],
        piece: usize,
        encoding: Encoding,
        cap: u64,
    ) -> Result<Vec<u8>, WriteError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let file = std::fs::File::create(&p).unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(body.len().div_ceil(piece).max(1));
        for c in body.chunks(piece) {
            tx.try_send(vec![bytes::Bytes::copy_from_slice(c)]).unwrap();
        }
        drop(tx);
        let w = write_chunks(file, 0, Sha256::new(), rx, encoding, cap)?;
        let got = std::fs::read(&p).unwrap();
        assert_eq!(w.bytes, got.len() as u64);
        assert_eq!(
            w.hasher.finalize().as_slice(),
            Sha256::digest(&got).as_slice()
        );
        Ok(got)
    }

    #[test]
    fn gzip_bodies_are_decoded_whatever_the_chunking() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let gz = gzip(&data);
        for piece in [1, 7, 4096, gz.len()] {
            assert_eq!(write(&gz, piece, Encoding::Gzip, u64::MAX).unwrap(), data);
        }
        let mut two = gz.clone();
        two.extend_from_slice(&gzip(b"more"));
        let mut want = data.clone();
        want.extend_from_slice(b"more");
        assert_eq!(write(&two, 4096, Encoding::Gzip, u64::MAX).unwrap(), want);
        assert_eq!(
            write(&data, 999, Encoding::Identity, u64::MAX).unwrap(),
            data
        );
    }

    #[test]
    fn a_cut_or_corrupt_gzip_body_is_refused_and_the_cap_counts_decoded_bytes() {
        let data = vec![7u8; 1 << 20];
        let gz = gzip(&data);
        for cut in [gz.len() / 2, gz.len() - 4, 5] {
            assert!(matches!(
                write(&gz[..cut], 512, Encoding::Gzip, u64::MAX),
                Err(WriteError::Corrupt(_))
            ));
        }
        assert!(matches!(
            write(b"not gzip at all", 4, Encoding::Gzip, u64::MAX),
            Err(WriteError::Corrupt(_))
        ));
        // 1 MiB of sevens compresses to a few KiB: the cap is about what lands on disk.
        assert!(gz.len() < 100_000);
        assert!(matches!(
            write(&gz, 4096, Encoding::Gzip, 500_000),
            Err(WriteError::OverCap)
        ));
        assert!(matches!(
            write(&data, 4096, Encoding::Identity, 500_000),
            Err(WriteError::OverCap)
        ));
    }
}
