//! The disk side of a download: the bytes written to `*.partial` past the page cache
//! (`O_DIRECT`, Linux), in aligned blocks, then fsynced.
//!
//! Why past the page cache: on the machine the benchmarks run on, copying a gigabyte into
//! the page cache (`copy_folio_from_iter_atomic`) and writing it back later was half of the
//! download's CPU profile, more than SHA-256 (BENCHMARKS.md section 4). With `O_DIRECT` the
//! disk reads the block from our buffer; the thread waits for the disk without using a
//! core, while the hasher and the network reader use them. The file is still fsynced at the
//! end (the device's cache and the file's metadata).
//!
//! `O_DIRECT` needs the buffer, the file offset and the length aligned. Only whole aligned
//! blocks go that way; a resumed file's unaligned head and the file's last partial block are
//! written through the page cache (the flag is switched off for them with `fcntl`). Where the
//! file system refuses `O_DIRECT` (tmpfs before Linux 6.6, some FUSE mounts), or a direct
//! write fails with `EINVAL`, every write goes through the page cache, and every
//! [`WRITE_BEHIND`] bytes the kernel is asked to start writing back so that the final fsync
//! finds little left.

use std::fs::File;
use std::io::{self, Write};

/// Alignment `O_DIRECT` asks of the buffer, the offset and the length (the page size, a
/// multiple of every usual logical block size).
const ALIGN: usize = 4096;
/// Bytes handed to the disk per write: large enough for the disk's full speed (1 MiB
/// writes: 1.0 GB/s on the bench machine, 4 MiB: 1.2 GB/s), small enough to stay out of the
/// memory budget.
pub(super) const BLOCK: usize = 2 << 20;
/// Through the page cache, written data handed to the disk in the background every this many
/// bytes.
const WRITE_BEHIND: u64 = 8 << 20;

/// Blocks one download may hold: one filling from the network, the others being hashed,
/// written or waiting (memory: `POOL` × [`BLOCK`] at most; a small file touches the pages of
/// one block only).
pub(super) const POOL: usize = 4;

/// An aligned buffer of up to [`BLOCK`] bytes of the file, filled by the network reader,
/// then hashed and written, then handed back to be filled again. Copying each chunk in at
/// once lets hyper reuse its receive buffer: kept until written, every chunk made hyper
/// take fresh memory, and faulting its pages in was a fifth of the download's CPU.
pub(super) struct Block {
    /// Holds `ALIGN` more than a block, so an aligned block fits inside wherever the
    /// allocation starts.
    raw: Vec<u8>,
    /// Where the aligned block starts in `raw`.
    start: usize,
    /// Bytes it can hold: a multiple of `ALIGN`.
    size: usize,
    len: usize,
    /// Where this block must end: a block ends at an aligned file offset, so the first one
    /// after an unaligned resume is short.
    limit: usize,
}

impl Block {
    /// An empty block for the file's bytes from `pos`, of [`BLOCK`] bytes or, for a body
    /// known to be shorter, of its length (rounded up): a small file does not take a whole
    /// block of memory (downloads run many at once).
    pub(super) fn new(pos: u64, body_len: Option<u64>) -> Block {
        let size = body_len.map_or(BLOCK, |n| {
            let n = usize::try_from(n).unwrap_or(BLOCK).min(BLOCK);
            (n + ALIGN).div_ceil(ALIGN) * ALIGN
        });
        let size = size.min(BLOCK);
        let raw = vec![0u8; size + ALIGN];
        let start = raw.as_ptr().align_offset(ALIGN).min(ALIGN);
        let mut b = Block {
            raw,
            start,
            size,
            len: 0,
            limit: size,
        };
        b.reset(pos);
        b
    }

    /// Empties the block for the file's bytes from `pos`.
    pub(super) fn reset(&mut self, pos: u64) {
        self.len = 0;
        self.limit = self.size - (pos % ALIGN as u64) as usize;
    }

    /// Copies as much of `bytes` as fits; how many.
    pub(super) fn fill(&mut self, bytes: &[u8]) -> usize {
        let n = (self.limit - self.len).min(bytes.len());
        let at = self.start + self.len;
        self.raw[at..at + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        n
    }

    pub(super) fn is_full(&self) -> bool {
        self.len == self.limit
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether it was sized to a body shorter than a whole block (the body fits in it).
    pub(super) fn is_small(&self) -> bool {
        self.size < BLOCK
    }

    /// The bytes held.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }
}

/// Writes a file from `at` (its current length), a block at a time.
pub(super) struct BlockWriter {
    file: File,
    /// The file's length.
    pos: u64,
    /// Writing past the page cache is wanted (and not refused yet).
    direct: bool,
    /// The descriptor's `O_DIRECT` flag as it is now.
    direct_on: bool,
    /// Through the page cache: the file's length when write-back was last started.
    behind: u64,
}

impl BlockWriter {
    /// A writer appending to `file`, whose length is `at`.
    pub(super) fn new(file: File, at: u64) -> BlockWriter {
        let direct = set_direct(&file, true).is_ok();
        BlockWriter {
            file,
            pos: at,
            direct,
            direct_on: direct,
            behind: at,
        }
    }

    /// Writes the block's bytes at the end of the file: the aligned part past the page
    /// cache, the rest (a resumed file's unaligned first block, the file's last bytes)
    /// through it.
    pub(super) fn write(&mut self, block: &Block) -> io::Result<()> {
        let bytes = block.bytes();
        let mut done = 0;
        while done < bytes.len() {
            let left = bytes.len() - done;
            // The buffer is aligned at `done` only when `done` is a multiple of ALIGN.
            let aligned = self.pos.is_multiple_of(ALIGN as u64) && done.is_multiple_of(ALIGN);
            let direct = self.direct && aligned && left >= ALIGN;
            let len = if direct { left - left % ALIGN } else { left };
            self.switch(direct)?;
            match write_some(&mut self.file, &bytes[done..done + len]) {
                Ok(n) => {
                    done += n;
                    self.pos += n as u64;
                }
                Err(e) if direct && e.raw_os_error() == Some(libc::EINVAL) => {
                    // The file system takes the flag but not the write: the page cache.
                    self.direct = false;
                }
                Err(e) => return Err(e),
            }
        }
        if !self.direct && self.pos - self.behind >= WRITE_BEHIND {
            start_writeback(&self.file, self.behind, self.pos - self.behind);
            self.behind = self.pos;
        }
        Ok(())
    }

    /// Fsyncs the file; its length.
    pub(super) fn finish(self) -> io::Result<u64> {
        self.file.sync_all()?;
        Ok(self.pos)
    }

    /// Sets the descriptor's `O_DIRECT` flag to `on`, if it is not already.
    fn switch(&mut self, on: bool) -> io::Result<()> {
        if self.direct_on != on {
            set_direct(&self.file, on)?;
            self.direct_on = on;
        }
        Ok(())
    }
}

/// One `write`, retried when interrupted; a write of nothing is an error.
fn write_some(file: &mut File, bytes: &[u8]) -> io::Result<usize> {
    loop {
        match file.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Switches `O_DIRECT` on or off for `file`'s descriptor.
#[cfg(target_os = "linux")]
fn set_direct(file: &File, on: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: the descriptor is open for the calls' duration (borrowed from `file`);
    // F_GETFL and F_SETFL read and write only the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let want = if on {
        flags | libc::O_DIRECT
    } else {
        flags & !libc::O_DIRECT
    };
    // SAFETY: as above.
    if want != flags && unsafe { libc::fcntl(fd, libc::F_SETFL, want) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_: &File, on: bool) -> io::Result<()> {
    if on {
        Err(io::ErrorKind::Unsupported.into())
    } else {
        Ok(())
    }
}

/// Asks the kernel to start writing `len` bytes of `file` from `offset` to disk, without
/// waiting. A hint: where it is not available or fails, the final fsync does all the work.
#[cfg(target_os = "linux")]
pub(super) fn start_writeback(file: &File, offset: u64, len: u64) {
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
pub(super) fn start_writeback(_: &File, _: u64, _: u64) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `body`, copied into blocks `piece` bytes at a time as the network side does
    /// it, to a file already holding `head`; the file.
    fn append(head: &[u8], body: &[u8], piece: usize) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, head).unwrap();
        let file = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        let mut w = BlockWriter::new(file, head.len() as u64);
        let mut pos = head.len() as u64;
        let mut block = Block::new(pos, None);
        for mut c in body.chunks(piece) {
            while !c.is_empty() {
                let n = block.fill(c);
                c = &c[n..];
                pos += n as u64;
                if block.is_full() {
                    w.write(&block).unwrap();
                    block.reset(pos);
                }
            }
        }
        w.write(&block).unwrap();
        assert_eq!(w.finish().unwrap(), (head.len() + body.len()) as u64);
        std::fs::read(&p).unwrap()
    }

    #[test]
    fn blocks_land_whole_from_any_offset_whatever_the_pieces() {
        // Three blocks and a ragged tail, so aligned blocks, a short first block after an
        // unaligned resume and a partial last block are all written.
        let body: Vec<u8> = (0..3 * BLOCK + 5_000).map(|i| (i % 253) as u8).collect();
        for head_len in [0, 1, 1000, ALIGN, ALIGN + 7, BLOCK + 3] {
            let head: Vec<u8> = (0..head_len).map(|i| (i % 7) as u8 + 1).collect();
            for piece in [1 << 20, 100_003, BLOCK] {
                let got = append(&head, &body, piece);
                assert_eq!(
                    got.len(),
                    head.len() + body.len(),
                    "head {head_len}, piece {piece}"
                );
                assert!(
                    got[..head_len] == head[..],
                    "head {head_len}, piece {piece}"
                );
                assert!(
                    got[head_len..] == body[..],
                    "head {head_len}, piece {piece}"
                );
            }
        }
        assert_eq!(append(b"abc", b"", 10), b"abc");
        assert_eq!(append(b"", b"xyz", 1), b"xyz");
    }
}
