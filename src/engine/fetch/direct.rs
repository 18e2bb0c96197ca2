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

/// Writes a file from `at` (its current length) in aligned blocks.
pub(super) struct BlockWriter {
    file: File,
    /// The file's length: where the buffer's first byte goes.
    pos: u64,
    /// Holds `ALIGN` more than a block, so an aligned block fits inside wherever the
    /// allocation starts.
    raw: Vec<u8>,
    /// Where the aligned block starts in `raw`.
    start: usize,
    /// Bytes in the block.
    fill: usize,
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
        let raw = vec![0u8; BLOCK + ALIGN];
        let start = raw.as_ptr().align_offset(ALIGN).min(ALIGN);
        let direct = set_direct(&file, true).is_ok();
        BlockWriter {
            file,
            pos: at,
            raw,
            start,
            fill: 0,
            direct,
            direct_on: direct,
            behind: at,
        }
    }

    /// Copies `bytes` into blocks, writing each one as it fills.
    pub(super) fn push(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let room = self.room();
            let n = room.min(bytes.len());
            let at = self.start + self.fill;
            self.raw[at..at + n].copy_from_slice(&bytes[..n]);
            self.fill += n;
            bytes = &bytes[n..];
            if n == room {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    /// Writes what is held (the last partial block) and fsyncs the file; its length.
    pub(super) fn finish(mut self) -> io::Result<u64> {
        self.flush_block()?;
        self.file.sync_all()?;
        Ok(self.pos)
    }

    /// Bytes that still fit in this block: a block ends at an aligned file offset, so the
    /// first one after an unaligned resume is short.
    fn room(&self) -> usize {
        let into = (self.pos % ALIGN as u64) as usize;
        BLOCK - into - self.fill
    }

    /// Writes the block's bytes: the aligned part past the page cache, the rest through it.
    fn flush_block(&mut self) -> io::Result<()> {
        let mut done = 0;
        while done < self.fill {
            let left = self.fill - done;
            let aligned_pos = self.pos % ALIGN as u64 == 0;
            let len = if self.direct && aligned_pos && left >= ALIGN {
                left - left % ALIGN
            } else {
                left
            };
            let direct = self.direct && aligned_pos && len % ALIGN == 0 && done % ALIGN == 0;
            self.switch(direct)?;
            let from = self.start + done;
            match write_some(&mut self.file, &self.raw[from..from + len]) {
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
        self.fill = 0;
        if !self.direct && self.pos - self.behind >= WRITE_BEHIND {
            start_writeback(&self.file, self.behind, self.pos - self.behind);
            self.behind = self.pos;
        }
        Ok(())
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

    /// Appends `body` in `piece`-byte pushes to a file already holding `head`; the file.
    fn append(head: &[u8], body: &[u8], piece: usize) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, head).unwrap();
        let file = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        let mut w = BlockWriter::new(file, head.len() as u64);
        for c in body.chunks(piece) {
            w.push(c).unwrap();
        }
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
