//! The catalogue cache: one JSON file per API target (`catalog-<key>.json`) in the user's
//! cache folder, with the time it was fetched, written whole or not at all. The key is
//! `sandbox` for the sandbox and 16 hex digits of SHA-256 over the base URL and the API id's
//! fingerprint otherwise: two accounts never share a catalogue, and the file names no secret.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Catalog;
use crate::batch::Target;
use crate::config::CatalogSettings;

/// The cache folder: `[catalog] cache_dir`, else `$XDG_CACHE_HOME/creatify-batch`, else
/// `~/.cache/creatify-batch`; `None` when none can be named (no home).
pub fn dir(settings: &CatalogSettings) -> Option<PathBuf> {
    if let Some(d) = &settings.cache_dir {
        return Some(d.clone());
    }
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(x) = nonempty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(x).join("creatify-batch"));
    }
    nonempty("HOME").map(|h| PathBuf::from(h).join(".cache").join("creatify-batch"))
}

/// The file name part for `target`.
pub fn key(target: &Target) -> String {
    match target {
        Target::Sandbox => "sandbox".into(),
        Target::Api {
            base_url,
            api_id_fingerprint,
        } => {
            let mut h = Sha256::new();
            h.update(base_url.as_bytes());
            h.update([0]);
            h.update(api_id_fingerprint.as_bytes());
            h.finalize()
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect()
        }
    }
}

/// What the file holds.
#[derive(Serialize, Deserialize)]
struct File {
    /// The target, as people read it (no secret: a fingerprint at most).
    target: String,
    catalog: Catalog,
}

/// The cache file of `target` in `dir`.
pub fn path(dir: &Path, target: &Target) -> PathBuf {
    dir.join(format!("catalog-{}.json", key(target)))
}

/// The cached catalogue of `target`; `None` when there is none or it cannot be read (a
/// broken cache is fetched again, never trusted).
pub fn load(dir: &Path, target: &Target) -> Option<Catalog> {
    let p = path(dir, target);
    let text = std::fs::read_to_string(&p).ok()?;
    match serde_json::from_str::<File>(&text) {
        Ok(f) => Some(f.catalog),
        Err(e) => {
            tracing::warn!(file = %p.display(), error = %e, "the cached catalogue cannot be read; fetching it again");
            None
        }
    }
}

/// Writes `catalog` as the cache of `target`, atomically.
pub fn save(dir: &Path, target: &Target, catalog: &Catalog) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let file = File {
        target: target.to_string(),
        catalog: catalog.clone(),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer_pretty(&mut tmp, &file)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path(dir, target)).map_err(|e| e.error)?;
    Ok(())
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How old a catalogue fetched at `fetched_at` is (zero if the clock went back).
pub fn age(fetched_at: u64) -> Duration {
    Duration::from_secs(now().saturating_sub(fetched_at))
}

/// "3 min", "5 h", "2 days".
pub fn age_words(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_catalogue_loads_per_target_and_a_broken_file_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let a = Target::api(&url::Url::parse("https://api.example").unwrap(), "id-a");
        let b = Target::api(&url::Url::parse("https://api.example").unwrap(), "id-b");
        let c = Catalog {
            fetched_at: 42,
            ..Default::default()
        };
        save(dir.path(), &a, &c).unwrap();
        assert_eq!(load(dir.path(), &a), Some(c));
        assert_eq!(load(dir.path(), &b), None);
        assert_ne!(key(&a), key(&b));
        let text = std::fs::read_to_string(path(dir.path(), &a)).unwrap();
        assert!(!text.contains("id-a"));
        std::fs::write(path(dir.path(), &a), "{").unwrap();
        assert_eq!(load(dir.path(), &a), None);
    }
}
