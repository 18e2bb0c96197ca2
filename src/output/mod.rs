//! Where files land: the batch folder, one folder per row named after its key (made safe),
//! and writes that are atomic (temporary file, fsync, rename, fsync of the folder) so a
//! crash never leaves a torn manifest or a half-written video under its final name.

pub mod explain;
pub mod manifest;
pub mod previous;
pub mod words;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::engine::reference::hex;

/// Longest folder name made from a key, in bytes (before the hash suffix).
const MAX_FOLDER: usize = 64;

/// Names that a row folder must not take: the batch folder's own files, and names Windows
/// reserves (the folder may be synced to a Windows share).
const RESERVED: &[&str] = &[
    "journal.sqlite",
    "manifest.json",
    "manifest.csv",
    "failed.csv",
    "report.html",
    ".lock",
    ".sandbox",
    "con",
    "prn",
    "aux",
    "nul",
    "com0",
    "com1",
    "com2",
    "com3",
    "com4",
    "com5",
    "com6",
    "com7",
    "com8",
    "com9",
    "lpt0",
    "lpt1",
    "lpt2",
    "lpt3",
    "lpt4",
    "lpt5",
    "lpt6",
    "lpt7",
    "lpt8",
    "lpt9",
];

/// Batch files whose names, with anything after them, a row folder must not take either:
/// SQLite's `journal.sqlite-wal` and `-shm`, and the `.partial` files of atomic writes.
const RESERVED_PREFIXES: &[&str] = &[
    "journal.sqlite",
    "manifest.json",
    "manifest.csv",
    "failed.csv",
    "report.html",
];

/// A filesystem-safe, stable folder name for a row key: ASCII letters, digits, `-`, `_` and
/// `.` only, no leading dot or dash, at most 64 bytes plus, when anything had to change, a
/// hash of the original key so distinct keys never share a folder. Names of the batch's own
/// files (and their `-wal`, `.partial` companions) and names Windows reserves always change.
pub fn folder_name(key: &str) -> String {
    let mapped: String = key
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    // No leading `-` either: `rm *` in the batch folder must not meet a folder named `-rf`.
    let mut safe: String = mapped
        .trim_start_matches(['.', '_', '-'])
        .trim_end_matches(['.', '_'])
        .to_owned();
    safe.truncate(MAX_FOLDER);
    let lower = safe.to_ascii_lowercase();
    let stem = lower.split('.').next().unwrap_or("");
    let reserved = RESERVED.contains(&lower.as_str())
        || RESERVED.contains(&stem)
        || RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p))
        || lower.ends_with(".partial");
    if safe == key && !reserved && !safe.is_empty() {
        return safe;
    }
    let digest = hex(&Sha256::digest(key.as_bytes()));
    if safe.is_empty() {
        return format!("row-{}", &digest[..12]);
    }
    match safe.split_once('.') {
        // Windows reads `con.mp4-1a2b3c4d` as the device CON too (the name before the first
        // dot is what counts), so the hash goes into that part, and no dot is left to end
        // the name in `.partial`.
        Some((stem, rest)) if RESERVED.contains(&stem.to_ascii_lowercase().as_str()) => {
            format!("{stem}-{}_{}", &digest[..8], rest.replace('.', "_"))
        }
        _ => format!("{safe}-{}", &digest[..8]),
    }
}

/// The batch folder name from a CSV path's stem, made safe the same way.
pub fn batch_name(csv: &Path) -> String {
    let stem = csv
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "batch".into());
    folder_name(&stem)
}

/// Makes `dir` (inside `parent`, which must exist) unless it exists as a real folder. A
/// symlink or a file in its place is an error: output never follows a link out of the batch.
pub fn ensure_real_dir(dir: &Path) -> io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a folder (a link or a file); move it away",
                dir.display()
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(dir) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => ensure_real_dir(dir),
            other => other,
        },
        Err(e) => Err(e),
    }
}

/// Opens a file for writing without following a symlink at its path. A fresh file replaces
/// whatever is at `path` (a planted symlink is removed, never followed); appending refuses a
/// symlink (`ELOOP`).
pub fn create_no_follow(path: &Path, append: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).custom_flags(libc::O_NOFOLLOW);
    if append {
        o.append(true);
    } else {
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        o.create_new(true);
    }
    o.open(path)
}

/// Renames `from` to `to` and fsyncs the folder, so the new name survives a power cut.
pub fn commit_rename(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    if let Some(dir) = to.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a `.partial` beside it, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = partial_path(path);
    let written = create_no_follow(&tmp, false).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match written.and_then(|()| commit_rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            // Leave the old file (if any) and no half-written one.
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// `video.mp4` → `video.mp4.partial`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_keys_stay_inside_the_batch_folder() {
        for key in [
            "../../etc/passwd",
            "/abs/path",
            "..",
            ".",
            "CON",
            "con.mp4",
            "LPT1.tar.gz",
            "CON.txt.partial",
            "a/b",
            "a\\b",
            "ｃｏｎ",
            "x\u{0}y",
            "journal.sqlite",
            "journal.sqlite-wal",
            "manifest.json.partial",
            "-rf",
            "",
        ] {
            let f = folder_name(key);
            assert!(
                !f.is_empty() && !f.contains('/') && !f.contains('\\') && !f.starts_with('.'),
                "{key:?} -> {f:?}"
            );
            let stem = f.split('.').next().unwrap().to_ascii_lowercase();
            assert!(!RESERVED.contains(&stem.as_str()), "{key:?} -> {f:?}");
            assert!(!f.starts_with('-') && !f.ends_with(".partial"), "{f}");
            for taken in [
                "journal.sqlite",
                "journal.sqlite-wal",
                "manifest.json.partial",
            ] {
                assert_ne!(f, taken);
            }
        }
        assert_eq!(folder_name("spring-01"), "spring-01");
        assert_ne!(folder_name("a/b"), folder_name("a\\b"));
        assert!(folder_name(&"k".repeat(500)).len() <= MAX_FOLDER + 9);
    }
}
