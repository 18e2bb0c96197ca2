//! The review on the report's cards (`run --preview`): for a row made as a preview first,
//! its preview (a page of Creatify's, meant for an iframe: linked, and loaded into the card
//! only when the reader asks, so opening the report fetches nothing), the preview's age,
//! the verdict that holds for it, the credits of each step, and for a ready preview the
//! approve/reject tick the page's script turns into `approvals.csv`
//! ([`crate::review::file`] reads it back).
//!
//! A verdict counts for a card only when it names the card's current preview reference: a
//! row previewed again (a new reference) shows the earlier verdict as history, not as its
//! own. The preview link comes from the API and is shown only when it is an `http(s)` URL.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::{credit_words, About};
use crate::journal::{JournalError, Row, RowState, Stage, View};
use crate::review::{Approval, Verdict};

/// What the journal knows of the batch's review, read once per report.
#[derive(Debug, Clone, Default)]
pub struct Review {
    /// The latest verdict of each row.
    latest: HashMap<String, Approval>,
    /// What each row's preview cost.
    preview_credits: HashMap<String, f64>,
}

impl Review {
    /// The verdicts and preview costs in `view`'s journal.
    pub fn read(view: &View) -> Result<Self, JournalError> {
        let approvals = view.approvals()?;
        let latest = crate::journal::latest_verdicts(&approvals)
            .into_iter()
            .map(|(k, a)| (k.to_owned(), a.clone()))
            .collect();
        Ok(Self {
            latest,
            preview_credits: view.preview_credits()?,
        })
    }

    /// A review of `latest` verdicts and `preview_credits` (for tests and callers that have
    /// them at hand).
    pub fn of(latest: Vec<Approval>, preview_credits: HashMap<String, f64>) -> Self {
        Self {
            latest: latest.into_iter().map(|a| (a.key.clone(), a)).collect(),
            preview_credits,
        }
    }
}

/// A card's preview and verdict.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewCard {
    /// The preview reference the card's verdicts apply to (`cb…`).
    pub reference: String,
    /// The preview page, when the job has one and it is a web address.
    pub link: Option<String>,
    /// Its host, to say where the iframe would load from.
    pub host: Option<String>,
    /// The API gave a preview link that is not a web address (not shown).
    pub bad_link: bool,
    /// When the preview job was created (unix seconds).
    pub made: Option<f64>,
    /// How old the preview was when the page was written, in words.
    pub age: Option<String>,
    /// Whether the card gets an approve/reject tick (its preview is ready to review).
    pub tickable: bool,
    /// `approved` or `rejected`: the verdict that holds for this preview.
    pub verdict: Option<&'static str>,
    /// The verdict in words, with how it was given.
    pub verdict_words: Option<String>,
    /// A verdict given for an earlier preview of the row, in words.
    pub earlier: Option<String>,
    /// The preview step's credits, in words.
    pub preview_cost: String,
    /// The render step's credits, in words (paid, or what approving would cost).
    pub render_cost: String,
}

impl PreviewCard {
    /// The review part of `row`'s card; `None` for a row made directly.
    pub fn of(row: &Row, about: &About) -> Option<Self> {
        if row.stage == Stage::Direct {
            return None;
        }
        let review = &about.review;
        let reference = row.reference.clone().unwrap_or_default();
        let job: Value = row
            .job
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or(Value::Null);
        let raw_link = job
            .get("preview")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let parsed = raw_link
            .and_then(|l| url::Url::parse(l).ok())
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some());
        let host = parsed
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned));
        let link = parsed.map(|u| u.to_string());
        let bad_link = raw_link.is_some() && link.is_none();
        let made = row.submitted_at.filter(|_| link.is_some());
        let age = made.map(|t| age_words(about.written_at - t));
        let latest = review.latest.get(&row.key);
        let current = latest.filter(|a| !reference.is_empty() && a.reference == reference);
        let earlier = latest
            .filter(|a| current.is_none_or(|c| c.reference != a.reference))
            .map(|a| {
                format!(
                    "An earlier preview ({}) was {} {}; this one has no verdict yet.",
                    a.reference,
                    a.verdict,
                    source_words(&a.source)
                )
            });
        let seconds = row.duration.unwrap_or(row.est_seconds);
        let preview_paid = review.preview_credits.get(&row.key).copied().or_else(|| {
            matches!(row.state, RowState::Previewing | RowState::PreviewReady)
                .then_some(row.credits_used)
                .flatten()
        });
        let preview_cost = match preview_paid {
            Some(c) => credit_words(c),
            None => format!(
                "≈ {} (estimate)",
                credit_words(crate::api::credits::preview_credits(seconds))
            ),
        };
        let rendered = row.stage == Stage::Render;
        let render_paid = match (
            rendered,
            row.credits_total.or(row.credits_used),
            preview_paid,
        ) {
            (true, Some(total), Some(p)) if total > p => Some(total - p),
            _ => None,
        };
        let render_estimate = credit_words(crate::api::credits::render_budget(
            row.est_credits,
            row.est_seconds,
        ));
        let render_cost = match render_paid {
            Some(c) => credit_words(c),
            None if rendered => format!("≈ {render_estimate} (estimate)"),
            None if current.is_some_and(|a| a.verdict == Verdict::Rejected) => "none".into(),
            None => format!("≈ {render_estimate} if approved"),
        };
        Some(Self {
            reference,
            tickable: row.state == RowState::PreviewReady && !row.changed(),
            verdict: current.map(|a| a.verdict.as_str()),
            verdict_words: current.map(|a| {
                let what = match a.verdict {
                    Verdict::Approved if rendered => "Approved",
                    Verdict::Approved => "Approved: `run --render-approved` renders it",
                    Verdict::Rejected => "Rejected: edit the row and `run --preview` again",
                };
                format!("{what} ({})", source_words(&a.source))
            }),
            earlier,
            link,
            host,
            bad_link,
            made,
            age,
            preview_cost,
            render_cost,
        })
    }
}

/// How a verdict was given, in words.
fn source_words(source: &str) -> String {
    match source {
        "sheet" => "by the sheet's approve column".into(),
        "command" => "by the approve/reject command".into(),
        "file" => "by an approvals file".into(),
        other => format!("by {other}"),
    }
}

/// An age in the largest unit that reads well: `40 s`, `12 min`, `5 h`, `3 days`.
pub fn age_words(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 90.0 {
        format!("{} s", s.round())
    } else if s < 5400.0 {
        format!("{} min", (s / 60.0).round())
    } else if s < 172_800.0 {
        format!("{} h", (s / 3600.0).round())
    } else {
        format!("{} days", (s / 86_400.0).round())
    }
}

/// Where a preview-stage row stands, in a reviewer's words (`None`: the usual words).
pub fn state_words(row: &Row, card: &PreviewCard) -> Option<String> {
    match (row.state, card.verdict) {
        (RowState::PreviewReady, Some("approved")) => Some("approved".into()),
        (RowState::PreviewReady, Some("rejected")) => Some("rejected".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn previewed(state: RowState) -> Row {
        let mut r = crate::report::tests::row("k", state);
        r.stage = if matches!(
            state,
            RowState::RenderRequested | RowState::Rendering | RowState::Done | RowState::Downloaded
        ) {
            Stage::Render
        } else {
            Stage::Preview
        };
        r.reference = Some("cb0123456789ab".into());
        r.submitted_at = Some(1_000.0);
        r.job = Some(r#"{"id":"j","preview":"https://app.example/preview?layout=a.json"}"#.into());
        r.credits_used = Some(1.0);
        r
    }

    fn about(approvals: Vec<Approval>, preview: &[(&str, f64)]) -> About {
        About {
            written_at: 1_000.0 + 7_200.0,
            review: Review::of(
                approvals,
                preview.iter().map(|(k, c)| ((*k).to_owned(), *c)).collect(),
            ),
            ..About::default()
        }
    }

    fn verdict(reference: &str, verdict: Verdict) -> Approval {
        Approval {
            key: "k".into(),
            verdict,
            reference: reference.into(),
            source: "file".into(),
            at: 1_500.0,
        }
    }

    #[test]
    fn a_direct_row_has_no_review() {
        let r = crate::report::tests::row("k", RowState::Downloaded);
        assert!(PreviewCard::of(&r, &About::default()).is_none());
    }

    #[test]
    fn a_ready_preview_is_linked_aged_tickable_and_priced_by_step() {
        let r = previewed(RowState::PreviewReady);
        let c = PreviewCard::of(&r, &about(vec![], &[])).unwrap();
        assert_eq!(
            c.link.as_deref(),
            Some("https://app.example/preview?layout=a.json")
        );
        assert_eq!(c.host.as_deref(), Some("app.example"));
        assert_eq!(c.age.as_deref(), Some("2 h"));
        assert!(c.tickable && c.verdict.is_none() && c.earlier.is_none());
        assert_eq!(c.preview_cost, "1 credit");
        assert_eq!(c.render_cost, "≈ 4 credits if approved");
        assert_eq!(state_words(&r, &c), None);
    }

    #[test]
    fn a_verdict_holds_only_for_the_preview_it_names() {
        let r = previewed(RowState::PreviewReady);
        let ok = about(vec![verdict("cb0123456789ab", Verdict::Approved)], &[]);
        let c = PreviewCard::of(&r, &ok).unwrap();
        assert_eq!(c.verdict, Some("approved"));
        assert!(c
            .verdict_words
            .as_deref()
            .unwrap()
            .contains("by an approvals file"));
        assert_eq!(state_words(&r, &c).as_deref(), Some("approved"));
        let old = about(vec![verdict("cbffffffffffff", Verdict::Rejected)], &[]);
        let c = PreviewCard::of(&r, &old).unwrap();
        assert_eq!(c.verdict, None);
        assert!(c.earlier.unwrap().contains("cbffffffffffff"));
        assert!(c.tickable);
    }

    #[test]
    fn a_rendered_row_shows_what_each_step_cost() {
        let mut r = previewed(RowState::Downloaded);
        r.credits_total = Some(5.0);
        let a = about(
            vec![verdict("cb0123456789ab", Verdict::Approved)],
            &[("k", 1.0)],
        );
        let c = PreviewCard::of(&r, &a).unwrap();
        assert_eq!(
            (c.preview_cost.as_str(), c.render_cost.as_str()),
            ("1 credit", "4 credits")
        );
        assert!(!c.tickable);
        assert_eq!(
            c.verdict_words.as_deref(),
            Some("Approved (by an approvals file)")
        );
    }

    #[test]
    fn a_link_that_is_not_a_web_address_is_not_shown_and_a_changed_row_is_not_tickable() {
        let mut r = previewed(RowState::PreviewReady);
        r.job = Some(r#"{"preview":"javascript:alert(1)"}"#.into());
        r.sheet_hash = Some("other".into());
        let c = PreviewCard::of(&r, &about(vec![], &[])).unwrap();
        assert!(c.link.is_none() && c.bad_link && c.age.is_none());
        assert!(!c.tickable, "a verdict on a changed row would be refused");
        let mut r = previewed(RowState::Previewing);
        r.job = Some(r#"{"preview":null}"#.into());
        let c = PreviewCard::of(&r, &about(vec![], &[])).unwrap();
        assert!(c.link.is_none() && !c.bad_link && !c.tickable);
    }

    #[test]
    fn ages_read_in_a_unit_that_fits() {
        assert_eq!(age_words(40.0), "40 s");
        assert_eq!(age_words(720.0), "12 min");
        assert_eq!(age_words(5.0 * 3600.0), "5 h");
        assert_eq!(age_words(3.0 * 86_400.0), "3 days");
        assert_eq!(age_words(-5.0), "0 s");
    }
}
