//! Container checks on a downloaded file, made on `*.partial` before the rename: is this
//! the kind of file it should be, and, when the transport could not prove the length, is it
//! whole?
//!
//! A body with `Content-Length` or chunked framing proves its own end; a close-delimited
//! one (no length, no chunking) ends wherever the connection closed, so a cut file looks
//! exactly like a whole one. Then the file has to prove it: an MP4's top-level boxes must
//! add up to the file's length exactly (a cut file ends inside a box) and include `moov`
//! (without it nothing plays); a JPEG must end with EOI. Only box headers are read, so a
//! gigabyte costs a handful of reads.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// What a file must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An ISO BMFF file (`ftyp` first).
    Mp4,
    /// A JPEG image.
    Jpeg,
}

/// Most top-level boxes walked: a short ad has a handful (a fragmented file some thousands);
/// past this the file is treated as not an MP4 rather than read box by box for ever.
const MAX_BOXES: usize = 100_000;

/// Checks `path` is a `kind` file; with `prove_whole`, also that it is not cut.
pub(super) fn check(path: &Path, kind: Kind, prove_whole: bool) -> Result<(), String> {
    let mut file = File::open(path).map_err(|e| format!("cannot read it back: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read it back: {e}"))?
        .len();
    let io = |e: io::Error| format!("cannot read it back: {e}");
    match kind {
        Kind::Mp4 => {
            let mut head = [0u8; 8];
            if len < 8 || read_at(&mut file, 0, &mut head).map_err(io)?.is_none() {
                return Err(format!("{len} bytes are too few for an MP4"));
            }
            if &head[4..8] != b"ftyp" {
                return Err(format!(
                    "not an MP4: it starts {}, not with an ftyp box",
                    printable(&head)
                ));
            }
            if prove_whole {
                walk_boxes(file, len)?;
            }
            Ok(())
        }
        Kind::Jpeg => {
            let mut soi = [0u8; 2];
            if len < 4 || read_at(&mut file, 0, &mut soi).map_err(io)?.is_none() {
                return Err(format!("{len} bytes are too few for a JPEG"));
            }
            if soi != [0xFF, 0xD8] {
                return Err(format!(
                    "not a JPEG: it starts {}, not with FF D8",
                    printable(&soi)
                ));
            }
            if prove_whole {
                let mut eoi = [0u8; 2];
                read_at(&mut file, len - 2, &mut eoi).map_err(io)?;
                if eoi != [0xFF, 0xD9] {
                    return Err("the JPEG does not end with FF D9: the file is cut".into());
                }
            }
            Ok(())
        }
    }
}

/// Walks the top-level boxes: they must tile the file exactly and include `moov`.
fn walk_boxes(file: File, len: u64) -> Result<(), String> {
    let mut r = BufReader::with_capacity(4096, file);
    let io = |e: io::Error| format!("cannot read it back: {e}");
    let mut pos = 0u64;
    let mut moov = false;
    for _ in 0..MAX_BOXES {
        if pos == len {
            return if moov {
                Ok(())
            } else {
                Err("the MP4 has no moov box (nothing could play it)".into())
            };
        }
        if len - pos < 8 {
            return Err(format!(
                "the MP4 ends inside a box header at byte {pos}: the file is cut"
            ));
        }
        let mut head = [0u8; 8];
        r.seek(SeekFrom::Start(pos)).map_err(io)?;
        r.read_exact(&mut head).map_err(io)?;
        let kind = String::from_utf8_lossy(&head[4..8]).into_owned();
        let (size, header) = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
            // The box runs to the end of the file.
            0 => (len - pos, 8),
            1 => {
                if len - pos < 16 {
                    return Err(format!(
                        "the MP4 ends inside the header of box {kind:?} at byte {pos}: the file is cut"
                    ));
                }
                let mut large = [0u8; 8];
                r.read_exact(&mut large).map_err(io)?;
                (u64::from_be_bytes(large), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header {
            return Err(format!(
                "box {kind:?} at byte {pos} claims {size} bytes: not an MP4 structure"
            ));
        }
        if size > len - pos {
            return Err(format!(
                "box {kind:?} at byte {pos} needs {size} bytes but only {} remain: the file is cut",
                len - pos
            ));
        }
        moov |= kind == "moov";
        pos += size;
    }
    Err(format!(
        "more than {MAX_BOXES} top-level boxes: not a video this tool can check"
    ))
}

/// Reads `buf.len()` bytes at `offset`; `None` when the file is shorter.
fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> io::Result<Option<()>> {
    file.seek(SeekFrom::Start(offset))?;
    match file.read_exact(buf) {
        Ok(()) => Ok(Some(())),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Bytes as hex, for messages.
fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIDEO: &[u8] = include_bytes!("../../../samples/media/sandbox.mp4");
    const THUMBNAIL: &[u8] = include_bytes!("../../../samples/media/thumbnail.jpg");

    fn checked(bytes: &[u8], kind: Kind, whole: bool) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, bytes).unwrap();
        check(&p, kind, whole)
    }

    #[test]
    fn the_sample_files_pass_every_check() {
        checked(VIDEO, Kind::Mp4, true).unwrap();
        checked(THUMBNAIL, Kind::Jpeg, true).unwrap();
    }

    #[test]
    fn a_cut_file_passes_the_signature_check_but_not_the_whole_check() {
        for at in [VIDEO.len() / 2, VIDEO.len() - 1, 40] {
            let cut = &VIDEO[..at];
            checked(cut, Kind::Mp4, false).unwrap();
            let e = checked(cut, Kind::Mp4, true).unwrap_err();
            assert!(e.contains("cut"), "{at}: {e}");
        }
        let cut = &THUMBNAIL[..THUMBNAIL.len() / 2];
        checked(cut, Kind::Jpeg, false).unwrap();
        assert!(checked(cut, Kind::Jpeg, true)
            .unwrap_err()
            .contains("FF D9"));
    }

    #[test]
    fn other_files_are_refused_for_what_they_are() {
        let html = b"<!doctype html><html><body>Maintenance</body></html>";
        assert!(checked(html, Kind::Mp4, false)
            .unwrap_err()
            .contains("not an MP4"));
        assert!(checked(html, Kind::Jpeg, false)
            .unwrap_err()
            .contains("not a JPEG"));
        assert!(checked(THUMBNAIL, Kind::Mp4, false).is_err());
        assert!(checked(VIDEO, Kind::Jpeg, false).is_err());
        assert!(checked(b"", Kind::Mp4, false)
            .unwrap_err()
            .contains("too few"));
        let gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(VIDEO).unwrap();
            e.finish().unwrap()
        };
        assert!(checked(&gz, Kind::Mp4, false).is_err());
    }

    #[test]
    fn an_mp4_must_tile_exactly_and_hold_a_moov_box() {
        let mut extra = VIDEO.to_vec();
        extra.extend_from_slice(b"trailing");
        assert!(checked(&extra, Kind::Mp4, true).is_err());
        // ftyp + mdat only: well framed, but nothing could play it.
        let mut no_moov = Vec::new();
        no_moov.extend_from_slice(&20u32.to_be_bytes());
        no_moov.extend_from_slice(b"ftypisom\0\0\x02\0isom");
        no_moov.extend_from_slice(&12u32.to_be_bytes());
        no_moov.extend_from_slice(b"mdatdata");
        assert!(checked(&no_moov, Kind::Mp4, true)
            .unwrap_err()
            .contains("moov"));
        // A last box of size 0 runs to the end; a 64-bit size is read as such.
        let mut open_ended = no_moov[..20].to_vec();
        open_ended.extend_from_slice(&8u32.to_be_bytes());
        open_ended.extend_from_slice(b"moov");
        open_ended.extend_from_slice(&0u32.to_be_bytes());
        open_ended.extend_from_slice(b"mdatanything");
        checked(&open_ended, Kind::Mp4, true).unwrap();
        let mut large = open_ended[..28].to_vec();
        large.extend_from_slice(&1u32.to_be_bytes());
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&20u64.to_be_bytes());
        large.extend_from_slice(b"1234");
        checked(&large, Kind::Mp4, true).unwrap();
        large.pop();
        assert!(checked(&large, Kind::Mp4, true).is_err());
    }
}
