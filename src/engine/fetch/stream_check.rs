//! [`super::verify`]'s checks made on the bytes as they stream by, for a file that never
//! touches the disk (an upload to object storage): the signature at the start, and, when the
//! transport cannot prove the length, that the MP4's top-level boxes tile the body with a
//! `moov` (a JPEG: that it ends with EOI). Only box headers are kept, a few bytes.

use super::verify::Kind;

/// Most top-level boxes walked, as on disk.
const MAX_BOXES: usize = 100_000;

/// The check of one streamed file.
pub(super) struct StreamCheck {
    kind: Kind,
    /// The first bytes (signature), up to 8.
    head: Vec<u8>,
    /// Bytes seen.
    len: u64,
    /// Where the next top-level box starts (MP4).
    next_box: u64,
    /// The header of the box being read, when it is cut across chunks.
    header: Vec<u8>,
    /// A box of size 0 runs to the end.
    open_ended: bool,
    boxes: usize,
    moov: bool,
    /// The first structural problem found.
    broken: Option<String>,
    /// The last two bytes (JPEG EOI).
    tail: [u8; 2],
}

impl StreamCheck {
    pub(super) fn new(kind: Kind) -> Self {
        StreamCheck {
            kind,
            head: Vec::with_capacity(8),
            len: 0,
            next_box: 0,
            header: Vec::with_capacity(16),
            open_ended: false,
            boxes: 0,
            moov: false,
            broken: None,
            tail: [0, 0],
        }
    }

    /// Takes the next bytes of the file.
    pub(super) fn feed(&mut self, chunk: &[u8]) {
        let start = self.len;
        let want = 8usize.saturating_sub(self.head.len()).min(chunk.len());
        self.head.extend_from_slice(&chunk[..want]);
        match chunk.len() {
            0 => {}
            1 => self.tail = [self.tail[1], chunk[0]],
            n => self.tail = [chunk[n - 2], chunk[n - 1]],
        }
        self.len += chunk.len() as u64;
        if self.kind == Kind::Mp4 {
            self.walk(start, chunk);
        }
    }

    fn walk(&mut self, start: u64, chunk: &[u8]) {
        let end = start + chunk.len() as u64;
        while self.broken.is_none() && !self.open_ended && self.next_box < end {
            // Where this box's header continues: its start, or past what earlier chunks gave.
            let at = ((self.next_box + self.header.len() as u64).max(start) - start) as usize;
            let need = if self.header.len() >= 8 && self.header[..4] == [0, 0, 0, 1] {
                16
            } else {
                8
            };
            let take = (need - self.header.len()).min(chunk.len() - at);
            self.header.extend_from_slice(&chunk[at..at + take]);
            let header_end = self.next_box + self.header.len() as u64;
            if self.header.len() < 8 || (self.header.len() < 16 && self.header[..4] == [0, 0, 0, 1])
            {
                if header_end >= end {
                    return;
                }
                continue;
            }
            let h = std::mem::take(&mut self.header);
            let kind = String::from_utf8_lossy(&h[4..8]).into_owned();
            let size = match u32::from_be_bytes([h[0], h[1], h[2], h[3]]) {
                0 => {
                    self.open_ended = true;
                    self.moov |= kind == "moov";
                    return;
                }
                1 => {
                    let mut large = [0u8; 8];
                    large.copy_from_slice(&h[8..16]);
                    u64::from_be_bytes(large)
                }
                n => u64::from(n),
            };
            if size < h.len() as u64 {
                self.broken = Some(format!(
                    "box {kind:?} at byte {} claims {size} bytes: not an MP4 structure",
                    self.next_box
                ));
                return;
            }
            self.moov |= kind == "moov";
            self.boxes += 1;
            if self.boxes > MAX_BOXES {
                self.broken = Some(format!(
                    "more than {MAX_BOXES} top-level boxes: not a video this tool can check"
                ));
                return;
            }
            self.next_box += size;
        }
    }

    /// The verdict once the body has ended: is it a `kind` file, and, with `prove_whole`,
    /// whole?
    pub(super) fn finish(&self, prove_whole: bool) -> Result<(), String> {
        let hex = |b: &[u8]| {
            b.iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self.kind {
            Kind::Mp4 => {
                if self.len < 8 {
                    return Err(format!("{} bytes are too few for an MP4", self.len));
                }
                if &self.head[4..8] != b"ftyp" {
                    return Err(format!(
                        "not an MP4: it starts {}, not with an ftyp box",
                        hex(&self.head)
                    ));
                }
                if !prove_whole {
                    return Ok(());
                }
                if let Some(b) = &self.broken {
                    return Err(b.clone());
                }
                if !self.open_ended && self.next_box != self.len {
                    return Err(format!(
                        "the MP4 ends inside a box (the last one needs {} bytes, {} arrived): \
                         the file is cut",
                        self.next_box, self.len
                    ));
                }
                if !self.moov {
                    return Err("the MP4 has no moov box (nothing could play it)".into());
                }
                Ok(())
            }
            Kind::Jpeg => {
                if self.len < 4 {
                    return Err(format!("{} bytes are too few for a JPEG", self.len));
                }
                if self.head[..2] != [0xFF, 0xD8] {
                    return Err(format!(
                        "not a JPEG: it starts {}, not with FF D8",
                        hex(&self.head[..2])
                    ));
                }
                if prove_whole && self.tail != [0xFF, 0xD9] {
                    return Err("the JPEG does not end with FF D9: the file is cut".into());
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIDEO: &[u8] = include_bytes!("../../../samples/media/sandbox.mp4");
    const THUMBNAIL: &[u8] = include_bytes!("../../../samples/media/thumbnail.jpg");

    fn checked(bytes: &[u8], kind: Kind, piece: usize) -> Result<(), String> {
        let mut c = StreamCheck::new(kind);
        for p in bytes.chunks(piece.max(1)) {
            c.feed(p);
        }
        c.finish(true)
    }

    #[test]
    fn whole_files_pass_whatever_the_chunking_and_cut_ones_never_do() {
        for piece in [1, 3, 7, 4096, VIDEO.len()] {
            checked(VIDEO, Kind::Mp4, piece).unwrap();
            checked(THUMBNAIL, Kind::Jpeg, piece).unwrap();
            for at in [VIDEO.len() / 2, VIDEO.len() - 1, 40, 9] {
                let e = checked(&VIDEO[..at], Kind::Mp4, piece).unwrap_err();
                assert!(e.contains("cut"), "{piece} {at}: {e}");
            }
            assert!(checked(&THUMBNAIL[..THUMBNAIL.len() / 2], Kind::Jpeg, piece).is_err());
        }
        let mut extra = VIDEO.to_vec();
        extra.extend_from_slice(b"trailing");
        assert!(checked(&extra, Kind::Mp4, 100).is_err());
        assert!(checked(b"<html>maintenance</html>", Kind::Mp4, 5)
            .unwrap_err()
            .contains("not an MP4"));
    }
}
