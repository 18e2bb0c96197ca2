//! The writer side of a download: blocking threads that hash and write the chunks the
//! network side hands over, decoding them first when the server gzip-encoded the body
//! (streaming, so memory stays flat), then fsync. The SHA-256, the size and the size cap
//! are always about the decoded bytes: the file as it lands on disk.
//!
//! The network side copies the body into aligned blocks ([`Block`]); a plain body's blocks
//! go through two threads: this one hashes each block and hands it on to a writer thread
//! ([`super::direct`]), which hands it back to be filled again, so reading, hashing and
//! writing overlap. A gzip body is decoded, hashed and written on this thread, through the
//! page cache.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

use super::direct::{start_writeback, Block, BlockWriter, POOL};

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
/// (a resumed download appends). Every block is handed back through `free` once written.
/// Plain blocks are hashed here and written by a second thread past the page cache
/// ([`super::direct`]); gzip blocks go through a streaming decoder, and an incomplete stream
/// is `Corrupt`.
pub(super) fn write_chunks(
    file: std::fs::File,
    at: u64,
    hasher: Sha256,
    mut rx: tokio::sync::mpsc::Receiver<Block>,
    free: tokio::sync::mpsc::Sender<Block>,
    encoding: Encoding,
    cap: u64,
) -> Result<Written, WriteError> {
    match encoding {
        Encoding::Identity => hash_and_write(file, at, hasher, rx, free, cap),
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
            while let Some(block) = rx.blocking_recv() {
                if let Err(e) = dec.write_all(block.bytes()) {
                    return Err(dec.get_ref().classify(e));
                }
                // The reader may be gone (it stopped): then the block is dropped.
                let _ = free.blocking_send(block);
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

/// A plain body: each block hashed here, then handed to the writer thread, which writes it
/// ([`BlockWriter`]) and hands it back to the reader. A body known to fit in its first block
/// (a thumbnail, a short clip: [`Block::is_small`]) is written here instead: a thread for
/// one write would cost more than it overlaps, and downloads run many at once.
fn hash_and_write(
    file: std::fs::File,
    at: u64,
    mut hasher: Sha256,
    mut rx: tokio::sync::mpsc::Receiver<Block>,
    free: tokio::sync::mpsc::Sender<Block>,
    cap: u64,
) -> Result<Written, WriteError> {
    let mut hashed = at;
    // Hashes a block; false when it takes the file past the cap.
    let mut hash = |block: &Block| {
        let len = block.bytes().len() as u64;
        if hashed + len > cap {
            return false;
        }
        hasher.update(block.bytes());
        hashed += len;
        true
    };
    let first = rx.blocking_recv();
    if first.as_ref().is_none_or(Block::is_small) {
        let mut out = BlockWriter::new(file, at);
        for block in first
            .into_iter()
            .chain(std::iter::from_fn(|| rx.blocking_recv()))
        {
            if !hash(&block) {
                return Err(WriteError::OverCap);
            }
            out.write(&block).map_err(WriteError::Io)?;
            // The reader may be gone (it stopped): then the block is dropped.
            let _ = free.blocking_send(block);
        }
        let bytes = out.finish().map_err(WriteError::Io)?;
        return Ok(Written { hasher, bytes });
    }
    let (to_disk, from_hasher) = std::sync::mpsc::sync_channel::<Block>(POOL);
    let (over, wrote) = std::thread::scope(|s| {
        let writer = std::thread::Builder::new()
            .name("download-disk".into())
            .spawn_scoped(s, move || {
                let mut out = BlockWriter::new(file, at);
                for block in from_hasher {
                    out.write(&block)?;
                    // The reader may be gone (it stopped): then the block is dropped.
                    let _ = free.blocking_send(block);
                }
                out.finish()
            })
            .map_err(WriteError::Io)?;
        let mut over = false;
        for block in first
            .into_iter()
            .chain(std::iter::from_fn(|| rx.blocking_recv()))
        {
            if !hash(&block) {
                over = true;
                break;
            }
            if to_disk.send(block).is_err() {
                // The writer stopped on an error: it is reported below.
                break;
            }
        }
        drop(to_disk);
        let wrote = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the disk writer panicked")));
        Ok::<_, WriteError>((over, wrote))
    })?;
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
        // Fed as the network side does: at most POOL blocks, reused once handed back; a
        // block sent per piece, so every chunking reaches the decoder.
        let (tx, rx) = tokio::sync::mpsc::channel(POOL);
        let (free, mut freed) = tokio::sync::mpsc::channel::<Block>(POOL);
        let owned = body.to_vec();
        let owned_len = owned.len() as u64;
        let feeder = std::thread::spawn(move || {
            let (mut pos, mut made) = (0u64, 0);
            for mut c in owned.chunks(piece) {
                while !c.is_empty() {
                    let mut block = match freed.try_recv() {
                        Ok(b) => b,
                        Err(_) if made < POOL => {
                            made += 1;
                            Block::new(pos, Some(owned_len.saturating_sub(pos)))
                        }
                        Err(_) => match freed.blocking_recv() {
                            Some(b) => b,
                            None => return,
                        },
                    };
                    block.reset(pos);
                    let n = block.fill(c);
                    c = &c[n..];
                    pos += n as u64;
                    if tx.blocking_send(block).is_err() {
                        return;
                    }
                }
            }
        });
        let w = write_chunks(file, 0, Sha256::new(), rx, free, encoding, cap);
        feeder.join().unwrap();
        let w = w?;
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

    #[test]
    fn a_body_of_many_blocks_goes_through_the_writer_thread_whole_and_capped() {
        // Over a block, so the first block is whole and the writer thread writes.
        let data: Vec<u8> = (0..5 * (1 << 20) + 123).map(|i| (i % 251) as u8).collect();
        for piece in [100_003, 1 << 20] {
            assert!(write(&data, piece, Encoding::Identity, u64::MAX).unwrap() == data);
        }
        assert!(matches!(
            write(&data, 100_003, Encoding::Identity, 3 << 20),
            Err(WriteError::OverCap)
        ));
    }
}
