//! Synthetic videos of any size for download benchmarks: an MP4 skeleton, then
//! pseudo-random bytes made from the seed at any offset, with no state and no memory.

use bytes::Bytes;

/// Bytes `start..end` of the synthetic file of `len` bytes for `seed`: an MP4 skeleton
/// ([`mp4_skeleton`]), then each aligned 8-byte word is SplitMix64 of its index, so any range
/// is made directly, with no state and no memory.
pub(super) fn bytes(seed: u64, len: u64, start: u64, end: u64) -> Bytes {
    let head = mp4_skeleton(len);
    let mut out = Vec::with_capacity((end - start) as usize);
    let mut pos = start;
    while pos < end.min(head.len() as u64) {
        out.push(head[pos as usize]);
        pos += 1;
    }
    while pos < end {
        let word = splitmix64(seed ^ (pos / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes();
        let from = (pos % 8) as usize;
        let take = (8 - from).min((end - pos) as usize);
        out.extend_from_slice(&word[from..from + take]);
        pos += take as u64;
    }
    Bytes::from(out)
}

/// The first bytes of a synthetic video of `len` bytes: `ftyp`, an empty `moov` and the
/// header of one `mdat` box that holds the rest (with a 64-bit size past 4 GiB). Empty when
/// `len` is too small to hold them.
fn mp4_skeleton(len: u64) -> Vec<u8> {
    let mut head = Vec::with_capacity(44);
    head.extend_from_slice(&20u32.to_be_bytes());
    head.extend_from_slice(b"ftypisom\0\0\x02\0isom");
    head.extend_from_slice(&8u32.to_be_bytes());
    head.extend_from_slice(b"moov");
    let rest = len.saturating_sub(head.len() as u64);
    match u32::try_from(rest) {
        Ok(size) if size >= 8 => {
            head.extend_from_slice(&size.to_be_bytes());
            head.extend_from_slice(b"mdat");
        }
        Ok(_) => return Vec::new(),
        Err(_) => {
            head.extend_from_slice(&1u32.to_be_bytes());
            head.extend_from_slice(b"mdat");
            head.extend_from_slice(&rest.to_be_bytes());
        }
    }
    head
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_bytes_are_the_same_whatever_the_range() {
        let whole = bytes(3, 100, 0, 100);
        assert_eq!(bytes(3, 100, 13, 77), whole.slice(13..77));
        assert_ne!(bytes(4, 100, 0, 100), whole);
        assert_eq!(&whole[4..8], b"ftyp");
        assert_eq!(&whole[32..36], b"mdat");
        assert_eq!(u32::from_be_bytes(whole[28..32].try_into().unwrap()), 72);
        let big = bytes(1, 5 << 30, 0, 44);
        assert_eq!(&big[28..32], &1u32.to_be_bytes());
        assert_eq!(
            u64::from_be_bytes(big[36..44].try_into().unwrap()),
            (5 << 30) - 28
        );
    }
}
