//! Which storage a batch delivers to, recorded in the journal's meta like its sheet and
//! API ([`crate::batch`]): a batch whose files are in one bucket must not "resume" into
//! another (or onto the local disk), since its `downloaded` rows would be missing there.

use std::path::Path;

use crate::journal::{Change, Journal, JournalError, SHEET_META};

/// The journal meta key holding the storage target (absent: the local folder).
pub const STORAGE_META: &str = "storage";

/// Why a run may not deliver this batch where it was asked to.
#[derive(Debug, thiserror::Error)]
#[error(
    "the batch folder {dir} delivers its files to {recorded}, but this run would deliver them to \
     {current}; its finished rows are not there, so nothing was sent. Run it with the same \
     --out, or give this run a batch of its own (--batch NEW_NAME)"
)]
pub struct StorageRefusal {
    /// The batch folder.
    pub dir: String,
    /// The target recorded in the folder.
    pub recorded: String,
    /// This run's target.
    pub current: String,
}

/// What a remote target is called in the journal: its URL, and its endpoint when it has one
/// (the same bucket name on another server is another bucket).
pub fn describe(url: &str, endpoint: Option<&str>) -> String {
    match endpoint {
        Some(e) => format!("{url} at {e}"),
        None => url.to_owned(),
    }
}

/// Checks the folder at `dir` against this run's target (`None`: the local folder). Returns
/// the change to record when the folder has none yet.
pub fn check_target(dir: &Path, current: Option<&str>) -> Result<Option<Change>, StorageRefusal> {
    let refuse = |recorded: &str| StorageRefusal {
        dir: dir.display().to_string(),
        recorded: recorded.to_owned(),
        current: current.unwrap_or("the local folder").to_owned(),
    };
    let read =
        |key| Journal::read_meta(dir, key).map_err(|e| refuse(&format!("(unreadable: {e})")));
    let recorded = read(STORAGE_META)?;
    let existed = read(SHEET_META)?.is_some();
    match (recorded.as_deref(), current) {
        (Some(r), Some(c)) if r == c => Ok(None),
        (Some(r), _) => Err(refuse(r)),
        // A batch that has run before without a storage target delivered to its folder.
        (None, Some(_)) if existed => Err(refuse(&format!("its local folder {}", dir.display()))),
        (None, Some(c)) => Ok(Some(Change::Meta {
            key: STORAGE_META.into(),
            value: c.to_owned(),
        })),
        (None, None) => Ok(None),
    }
}

/// Records `change` (from [`check_target`]).
pub async fn record(journal: &Journal, change: Option<Change>) -> Result<(), JournalError> {
    match change {
        Some(c) => journal.record(c).await,
        None => Ok(()),
    }
}
