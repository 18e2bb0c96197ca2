//! Which batch folder a sheet and an API target belong to, and whether they may use it.
//!
//! A batch folder is the journal's memory of paid work, so a run must never mistake one
//! batch for another: a sandbox rehearsal's test patterns for real videos, or campaign A's
//! `tonight.csv` for campaign B's. Each batch records, in the journal's meta, the sheet it
//! came from ([`Source`]: canonical path and content hash) and the API it runs against
//! ([`Target`]: base URL and a one-way fingerprint of the API id, or the sandbox).
//!
//! Where a batch lives ([`locate`]): `OUT/<batch>/`, or `OUT/sandbox/<batch>/` for
//! `--sandbox` rehearsals, where `<batch>` is `--batch NAME` or the sheet's stem; a sheet
//! that sits inside a batch folder (its `failed.csv`, fixed) belongs to that folder.
//!
//! Whether the run may use it ([`check`]):
//! - another target than the one recorded: refused, always;
//! - the same sheet path: the same batch (an edited sheet is a resume; its new hash is
//!   recorded);
//! - another path, the same content: the sheet was moved or copied; the same batch, its new
//!   path is recorded (the content is what the jobs were made from);
//! - another path and other content: refused, unless the user named this batch with
//!   `--batch NAME`, which hands the folder to this sheet (how a sheet that was moved *and*
//!   edited keeps its batch);
//! - a sheet inside the folder: that batch's own feedback (`failed.csv`); accepted, and the
//!   batch keeps its original sheet;
//! - a journal from before identities were recorded adopts the current sheet and target,
//!   except that a folder holding the in-process sandbox's state (`.sandbox/`) is known to be
//!   a rehearsal.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::reference::hex;
use crate::journal::{Change, Journal, JournalError, FILE_NAME, SOURCE_META, TARGET_META};

/// The folder under the output folder where sandbox rehearsals go.
pub const SANDBOX_DIR: &str = "sandbox";

/// Salt of the API id fingerprint: the fingerprint identifies an account without being
/// usable as, or reversible to, its id.
const FINGERPRINT_SALT: &[u8] = b"creatify-batch target fingerprint v1\0";

/// The sheet a batch came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The sheet's canonical path.
    pub path: String,
    /// SHA-256 of the sheet's bytes.
    pub sha256: String,
}

impl Source {
    /// The identity of the sheet at `sheet`.
    pub fn of(sheet: &Path) -> std::io::Result<Self> {
        let path = std::fs::canonicalize(sheet)?;
        let bytes = std::fs::read(&path)?;
        Ok(Self {
            path: path.to_string_lossy().into_owned(),
            sha256: hex(&Sha256::digest(&bytes)),
        })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (content {})", self.path, short(&self.sha256))
    }
}

/// The API a batch's jobs live in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// The in-process sandbox of `run --sandbox`.
    Sandbox,
    /// An API at a base URL, under one account.
    Api {
        /// The base URL, normalised.
        base_url: String,
        /// A fingerprint of the API id ([`fingerprint`]), never the id.
        api_id_fingerprint: String,
    },
}

impl Target {
    /// The API at `base_url` under the account `api_id`.
    pub fn api(base_url: &url::Url, api_id: &str) -> Self {
        Self::Api {
            base_url: base_url.as_str().trim_end_matches('/').to_owned(),
            api_id_fingerprint: fingerprint(api_id),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sandbox => f.write_str("the sandbox (--sandbox)"),
            Self::Api {
                base_url,
                api_id_fingerprint,
            } => write!(f, "{base_url} (API id fingerprint {api_id_fingerprint})"),
        }
    }
}

/// A short one-way fingerprint of an API id: 16 hex digits of SHA-256 over a fixed salt and
/// the id.
pub fn fingerprint(api_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(FINGERPRINT_SALT);
    h.update(api_id.as_bytes());
    hex(&h.finalize())[..16].to_owned()
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Where a batch lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The batch's name (its folder's name; part of every job's reference).
    pub name: String,
    /// The batch folder.
    pub dir: PathBuf,
    /// The sheet sits inside the batch folder: it is the batch's own `failed.csv` (or another
    /// file of it) fed back.
    pub feedback: bool,
    /// The batch was named with `--batch`.
    pub named: bool,
}

/// The batch folder for `sheet` (if given) under `out`: `--batch NAME` first, then the folder
/// the sheet sits in when that is a batch folder, then the sheet's stem; rehearsals
/// (`sandbox`) under `out/sandbox/`.
pub fn locate(
    out: &Path,
    sheet: Option<&Path>,
    batch: Option<&str>,
    sandbox: bool,
) -> Result<Place, String> {
    let base = if sandbox {
        out.join(SANDBOX_DIR)
    } else {
        out.to_owned()
    };
    let home = sheet.and_then(enclosing_batch);
    let (name, dir) = match (batch, &home, sheet) {
        (Some(name), _, _) => {
            check_name(name)?;
            (name.to_owned(), base.join(name))
        }
        (None, Some(dir), _) => {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "batch".into());
            (name, dir.clone())
        }
        (None, None, Some(sheet)) => {
            let name = crate::output::batch_name(sheet);
            (name.clone(), base.join(name))
        }
        (None, None, None) => return Err("name the batch: a sheet or --batch NAME".into()),
    };
    let feedback = match (&home, std::fs::canonicalize(&dir)) {
        (Some(h), Ok(d)) => std::fs::canonicalize(h).is_ok_and(|h| h == d),
        _ => false,
    };
    Ok(Place {
        name,
        dir,
        feedback,
        named: batch.is_some(),
    })
}

/// The batch folder `sheet` sits in, if it sits in one.
pub(crate) fn enclosing_batch(sheet: &Path) -> Option<PathBuf> {
    let parent = match sheet.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => return None,
    };
    parent.join(FILE_NAME).is_file().then(|| parent.to_owned())
}

/// `--batch NAME` becomes a folder name as it is: it must be one already.
fn check_name(name: &str) -> Result<(), String> {
    let safe = crate::output::folder_name(name);
    if safe == name && name != SANDBOX_DIR {
        return Ok(());
    }
    Err(format!(
        "--batch {name:?} cannot be a batch folder's name: use letters, digits, `-`, `_` and \
         `.` (not a leading dot or dash, not `{SANDBOX_DIR}`), e.g. --batch {}",
        if safe == SANDBOX_DIR {
            "sandbox-1".to_owned()
        } else {
            safe
        }
    ))
}

/// What the run will write into the journal's meta, and what to tell the user.
#[derive(Debug, Default)]
pub struct Claim {
    /// The sheet identity to record, when it is new or changed.
    pub source: Option<Source>,
    /// The target to record, when it is new.
    pub target: Option<Target>,
    /// Log lines saying what was decided (adoption, a moved or edited sheet).
    pub notes: Vec<String>,
}

impl Claim {
    /// Writes the claim into the journal's meta.
    pub async fn record(&self, journal: &Journal) -> Result<(), JournalError> {
        let mut changes = Vec::new();
        if let Some(s) = &self.source {
            changes.push(Change::Meta {
                key: SOURCE_META.into(),
                value: serde_json::to_string(s).unwrap_or_default(),
            });
        }
        if let Some(t) = &self.target {
            changes.push(Change::Meta {
                key: TARGET_META.into(),
                value: serde_json::to_string(t).unwrap_or_default(),
            });
        }
        if changes.is_empty() {
            return Ok(());
        }
        journal.apply(changes).await
    }
}

/// Why a run may not use a batch folder (exit 2, nothing sent).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The folder's jobs live in another API (or the sandbox).
    #[error(
        "the batch folder {dir} belongs to {recorded}, but this run is against {current}; its \
         jobs and videos are not this API's, so nothing was sent. To run this sheet against \
         {current}, give it a folder of its own: --out OTHER_DIR, or --batch NEW_NAME{}, or \
         delete {dir} if its videos are not needed",
        if **current == Target::Sandbox { "" } else { " (to rehearse: --sandbox, which uses OUT/sandbox/)" }
    )]
    Target {
        /// The batch folder.
        dir: String,
        /// The target recorded in the folder.
        recorded: Box<Target>,
        /// This run's target.
        current: Box<Target>,
    },
    /// The folder belongs to another sheet of the same name.
    #[error(
        "the batch folder {dir} belongs to another sheet, {owner}; this sheet, {current}, \
         has the same name but other content, so nothing was sent. Give it a batch of its own \
         with --batch NEW_NAME or --out OTHER_DIR; if it really is that batch's sheet, moved \
         and edited, name the folder with --batch {name} to hand it over"
    )]
    Collision {
        /// The batch folder.
        dir: String,
        /// The batch's name.
        name: String,
        /// The sheet that owns the folder.
        owner: Box<Source>,
        /// This run's sheet.
        current: Box<Source>,
    },
    /// The folder's identity could not be read.
    #[error("cannot read the batch folder {dir}'s identity: {message}")]
    Unreadable {
        /// The batch folder.
        dir: String,
        /// What went wrong.
        message: String,
    },
}

/// What the folder at `place` says it is: its recorded sheet and target (either may be
/// absent: a new folder, or a journal from before they were recorded).
pub fn recorded(dir: &Path) -> Result<(Option<Source>, Option<Target>), Refusal> {
    let unreadable = |message: String| Refusal::Unreadable {
        dir: dir.display().to_string(),
        message,
    };
    let read = |key| Journal::read_meta(dir, key).map_err(|e| unreadable(e.to_string()));
    let source = read(SOURCE_META)?
        .map(|s| serde_json::from_str(&s).map_err(|e| unreadable(format!("{SOURCE_META}: {e}"))))
        .transpose()?;
    let target = read(TARGET_META)?
        .map(|s| serde_json::from_str(&s).map_err(|e| unreadable(format!("{TARGET_META}: {e}"))))
        .transpose()?;
    Ok((source, target))
}

/// Decides whether a run of `source` against `target` may use the folder at `place`.
pub fn check(place: &Place, source: &Source, target: &Target) -> Result<Claim, Refusal> {
    let dir = &place.dir;
    let (old_source, old_target) = recorded(dir)?;
    // Every version has recorded the sheet's format as soon as it opened the journal: a
    // journal without it was never used (a run killed as it began).
    let existed = Journal::read_meta(dir, crate::journal::SHEET_META)
        .map_err(|e| Refusal::Unreadable {
            dir: dir.display().to_string(),
            message: e.to_string(),
        })?
        .is_some();
    let mut claim = Claim::default();
    let shown = dir.display().to_string();

    let old_target = match old_target {
        Some(t) => Some(t),
        // The in-process sandbox keeps its state in the folder: an old journal that has it
        // was a rehearsal, whatever this run is.
        None if existed && dir.join(".sandbox").is_dir() => Some(Target::Sandbox),
        None => None,
    };
    match old_target {
        Some(t) if t != *target => {
            return Err(Refusal::Target {
                dir: shown,
                recorded: Box::new(t),
                current: Box::new(target.clone()),
            })
        }
        Some(_) => {}
        None => {
            if existed {
                claim.notes.push(format!(
                    "the batch folder {shown} was made before batches recorded their API; it is \
                     taken to be {target}'s from now on"
                ));
            }
            claim.target = Some(target.clone());
        }
    }

    if place.feedback {
        claim.notes.push(format!(
            "{} is inside the batch folder {shown}: its rows are fed back into that batch \
             (failed rows are submitted again)",
            source.path
        ));
        return Ok(claim);
    }
    match old_source {
        None => {
            if existed {
                claim.notes.push(format!(
                    "the batch folder {shown} was made before batches recorded their sheet; it \
                     is taken to be {source}'s from now on"
                ));
            }
            claim.source = Some(source.clone());
        }
        Some(old) if old.path == source.path => {
            if old.sha256 != source.sha256 {
                claim.notes.push(format!(
                    "{} was edited since the batch's last run; resuming the same batch",
                    source.path
                ));
                claim.source = Some(source.clone());
            }
        }
        Some(old) if old.sha256 == source.sha256 => {
            claim.notes.push(format!(
                "the batch's sheet moved from {} to {} (same content); resuming the same batch",
                old.path, source.path
            ));
            claim.source = Some(source.clone());
        }
        Some(old) if place.named => {
            claim.notes.push(format!(
                "--batch {} hands the batch folder {shown} from {old} to {source}",
                place.name
            ));
            claim.source = Some(source.clone());
        }
        Some(old) => {
            return Err(Refusal::Collision {
                dir: shown,
                name: place.name.clone(),
                owner: Box::new(old),
                current: Box::new(source.clone()),
            })
        }
    }
    Ok(claim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_is_stable_short_and_not_the_id() {
        let f = fingerprint("my-api-id-123");
        assert_eq!(f, fingerprint("my-api-id-123"));
        assert_ne!(f, fingerprint("my-api-id-124"));
        assert_eq!(f.len(), 16);
        assert!(!f.contains("my-api-id"));
    }

    #[test]
    fn base_urls_compare_without_a_trailing_slash() {
        let a = Target::api(&url::Url::parse("https://api.example.com/").unwrap(), "x");
        let b = Target::api(&url::Url::parse("https://api.example.com").unwrap(), "x");
        assert_eq!(a, b);
    }

    #[test]
    fn batch_names_must_be_folder_names() {
        for bad in ["", "a/b", "..", ".hidden", "-rf", "sandbox", "x y"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["tonight", "campaign-b", "b_2.1"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn rehearsals_live_under_sandbox_and_named_batches_under_their_name() {
        let out = Path::new("/nonexistent/out");
        let sheet = Path::new("/nonexistent/x/tonight.csv");
        let p = locate(out, Some(sheet), None, true).unwrap();
        assert_eq!(p.dir, out.join("sandbox/tonight"));
        assert_eq!(p.name, "tonight");
        assert!(!p.feedback && !p.named);
        let p = locate(out, Some(sheet), Some("b"), false).unwrap();
        assert_eq!(p.dir, out.join("b"));
        assert!(p.named);
    }
}
