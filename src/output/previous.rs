//! Keeping a row's previous files when it is rendered again (`--rerender`): `video.mp4`,
//! `thumbnail.jpg` and `job.json` move to `video.N.mp4`, `thumbnail.N.jpg` and `job.N.json`
//! (N the first number none of them uses yet), so a new render never overwrites a video
//! without trace, and the files of one render keep one number.

use std::io;
use std::path::Path;

/// The files a render leaves in its row folder, as (stem, extension).
const FILES: &[(&str, &str)] = &[("video", "mp4"), ("thumbnail", "jpg"), ("job", "json")];

/// Moves `key`'s files in `batch_dir` aside; returns the video's new name (relative to the
/// batch folder), or `None` when the row had no files.
pub fn keep(batch_dir: &Path, key: &str) -> io::Result<Option<String>> {
    let folder = super::folder_name(key);
    let dir = batch_dir.join(&folder);
    // A download of the old job cut short must not be resumed into the new job's file.
    for (stem, ext) in FILES {
        let partial = super::partial_path(&dir.join(format!("{stem}.{ext}")));
        match std::fs::remove_file(&partial) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    let present: Vec<&(&str, &str)> = FILES
        .iter()
        .filter(|(stem, ext)| {
            std::fs::symlink_metadata(dir.join(format!("{stem}.{ext}"))).is_ok_and(|m| m.is_file())
        })
        .collect();
    if present.is_empty() {
        return Ok(None);
    }
    let n = (1u32..)
        .find(|n| {
            FILES.iter().all(|(stem, ext)| {
                std::fs::symlink_metadata(dir.join(format!("{stem}.{n}.{ext}"))).is_err()
            })
        })
        .unwrap_or(u32::MAX);
    let mut kept = None;
    for (stem, ext) in present {
        let to = format!("{stem}.{n}.{ext}");
        super::commit_rename(&dir.join(format!("{stem}.{ext}")), &dir.join(&to))?;
        if *stem == "video" {
            kept = Some(format!("{folder}/{to}"));
        }
    }
    Ok(kept.or_else(|| Some(format!("{folder}/*.{n}.*"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_render_gets_the_next_free_number() {
        let dir = tempfile::tempdir().unwrap();
        let row = dir.path().join("a");
        std::fs::create_dir(&row).unwrap();
        assert_eq!(keep(dir.path(), "a").unwrap(), None);
        for (round, body) in [(1, "first"), (2, "second")] {
            std::fs::write(row.join("video.mp4"), body).unwrap();
            std::fs::write(row.join("job.json"), body).unwrap();
            assert_eq!(
                keep(dir.path(), "a").unwrap().as_deref(),
                Some(format!("a/video.{round}.mp4").as_str())
            );
            assert_eq!(
                std::fs::read_to_string(row.join(format!("video.{round}.mp4"))).unwrap(),
                body
            );
            assert!(!row.join("video.mp4").exists());
        }
        assert_eq!(
            std::fs::read_to_string(row.join("job.1.json")).unwrap(),
            "first"
        );
        std::fs::write(row.join("video.mp4.partial"), "old job, cut short").unwrap();
        assert_eq!(keep(dir.path(), "a").unwrap(), None);
        assert!(!row.join("video.mp4.partial").exists());
    }
}
