//! Review before paying: a batch made as cheap previews first, each approved or rejected by a
//! person, then only the approved previews rendered (`run --preview`, `approve`/`reject`,
//! `run --approvals FILE`, `run --render-approved`).
//!
//! This module owns the words of a review: a [`Verdict`] and the [`Approval`] the journal
//! keeps of it (which preview it was given for, by which means, when), how a verdict is read
//! from a sheet's `approve` column ([`column`]) and from an `approvals.csv` ([`file`]), and
//! the rule that decides whether an approval still holds ([`check`]): it names the preview
//! reference it was given for, and a row changed since (or previewed again) makes it void.

pub mod column;
pub mod file;

use serde::Serialize;

/// A reviewer's decision on one preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Render it.
    Approved,
    /// Do not render it; the row may be edited and previewed again.
    Rejected,
}

impl Verdict {
    /// The verdict's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    /// Reads a stored name back.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }

    /// A reviewer's cell (`yes`/`no` and their usual spellings); `None` for an empty cell;
    /// `Err` for anything else, which is a typo to report, never a guess.
    pub fn from_cell(cell: &str) -> Result<Option<Self>, String> {
        match cell.trim().to_lowercase().as_str() {
            "" => Ok(None),
            "yes" | "y" | "true" | "1" | "approve" | "approved" | "ok" | "x" => {
                Ok(Some(Self::Approved))
            }
            "no" | "n" | "false" | "0" | "reject" | "rejected" => Ok(Some(Self::Rejected)),
            other => Err(format!(
                "{other:?} is not a verdict: write yes or no (or leave it empty)"
            )),
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One verdict as the journal keeps it; the latest one of a row is the one that counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    /// The row.
    pub key: String,
    /// Approved or rejected.
    pub verdict: Verdict,
    /// The reference of the preview it was given for (the `cb…` in the preview job's name).
    pub reference: String,
    /// How it was given: `sheet` (the `approve` column), `command` (`approve`/`reject`), or
    /// `file` (`run --approvals`).
    pub source: String,
    /// When (unix seconds).
    pub at: f64,
}

/// Why `verdict` cannot be recorded for the preview `reference` (or an approval no longer
/// holds), in words for the user. Rejecting the old version of a changed row is allowed:
/// that is how it gets previewed again.
pub fn check(row: &crate::journal::Row, reference: &str, verdict: Verdict) -> Result<(), String> {
    use crate::journal::RowState;
    let key = &row.key;
    let current = row.reference.as_deref().unwrap_or("");
    if !row.stage_is_preview() {
        return Err(format!(
            "row {key} has no preview (it is {}): preview it first with run --preview",
            row.state
        ));
    }
    if current != reference {
        return Err(format!(
            "row {key}: this verdict is for preview {reference}, but the row's current preview \
             is {current}; it was previewed again since: review the new preview"
        ));
    }
    if verdict == Verdict::Approved && row.changed() {
        return Err(format!(
            "row {key} changed in the sheet after preview {reference} was made: the verdict \
             was for the old version: run --preview to preview the new one, then review that"
        ));
    }
    if row.stage == crate::journal::Stage::Render {
        return Err(format!(
            "row {key}'s render was already asked for ({}): a verdict changes nothing now",
            row.state
        ));
    }
    match row.state {
        RowState::PreviewReady => Ok(()),
        RowState::Failed | RowState::Rejected => Err(format!(
            "row {key}'s preview {}: fix the row in the sheet and run --preview (an edited \
             row is previewed again), or run --preview --retry-failed to try it unchanged",
            row.state
        )),
        s => Err(format!(
            "row {key}'s preview is not ready yet ({s}): rerun --preview until it is"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Row, RowState, Stage};

    fn previewed(state: RowState) -> Row {
        let mut r = Row::planned(
            "k".into(),
            0,
            vec![2],
            Default::default(),
            None,
            "h1".into(),
            "{}".into(),
            3.0,
            5.0,
        );
        r.state = state;
        r.stage = Stage::Preview;
        r.reference = Some("cbnow".into());
        r
    }

    /// An approval holds only for the row's current, ready, unchanged preview; a rejection
    /// of a changed row is allowed (that is how it is previewed again).
    #[test]
    fn an_approval_holds_only_for_the_current_unchanged_ready_preview() {
        let ready = previewed(RowState::PreviewReady);
        assert!(check(&ready, "cbnow", Verdict::Approved).is_ok());
        let e = check(&ready, "cbold", Verdict::Approved).unwrap_err();
        assert!(e.contains("previewed again since"), "{e}");
        let mut changed = ready.clone();
        changed.sheet_hash = Some("h2".into());
        let e = check(&changed, "cbnow", Verdict::Approved).unwrap_err();
        assert!(e.contains("changed in the sheet"), "{e}");
        assert!(check(&changed, "cbnow", Verdict::Rejected).is_ok());
        for state in [RowState::Previewing, RowState::Failed] {
            assert!(check(&previewed(state), "cbnow", Verdict::Approved).is_err());
        }
        let mut asked = previewed(RowState::RenderRequested);
        asked.stage = Stage::Render;
        assert!(check(&asked, "cbnow", Verdict::Rejected).is_err());
        let mut direct = ready;
        direct.stage = Stage::Direct;
        assert!(check(&direct, "cbnow", Verdict::Approved).is_err());
    }

    #[test]
    fn cells_read_as_verdicts_and_typos_are_refused() {
        assert_eq!(Verdict::from_cell(" Yes "), Ok(Some(Verdict::Approved)));
        assert_eq!(Verdict::from_cell("no"), Ok(Some(Verdict::Rejected)));
        assert_eq!(Verdict::from_cell(""), Ok(None));
        assert!(Verdict::from_cell("yess").is_err());
        for v in [Verdict::Approved, Verdict::Rejected] {
            assert_eq!(Verdict::parse(v.as_str()), Some(v));
        }
    }
}
