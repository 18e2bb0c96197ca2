//! One submission, by the protocol: durable `submitting` with the reference, one POST, the
//! outcome journaled before it is reported.

use crate::api::{ApiError, CreateLipsync, CreateOutcome, ErrorClass};
use crate::journal::{Change, JournalError};

use super::reference::{reference, stamped_body};
use super::{Pending, Shared};

/// What became of a submission.
#[derive(Debug)]
pub enum Submitted {
    /// The API created the job.
    Created {
        /// Its id.
        job_id: String,
        /// When the POST was started: the job cannot have started rendering sooner.
        sent_at: tokio::time::Instant,
        /// When its answer came: the job existed by then (see [`super::start`]).
        answered_at: tokio::time::Instant,
        /// It asked for this run's webhook (see [`super::hooks`]).
        hooked: bool,
    },
    /// The API refused the body (400): the row failed.
    RowFailed {
        /// The API's message.
        error: String,
    },
    /// Certainly not created; may be sent again (429, connection refused, out of credits,
    /// credentials refused).
    Refused {
        /// The row, to queue again.
        pending: Pending,
        /// What the API said.
        error: ApiError,
    },
    /// Maybe created: to reconcile.
    Ambiguous {
        /// The row, in case it must be sent again.
        pending: Pending,
        /// The reference to look for.
        reference: String,
        /// What happened.
        error: String,
    },
}

pub(super) async fn submit(shared: &Shared, pending: Pending) -> Result<Submitted, JournalError> {
    let key = pending.key.clone();
    // The body is read from the journal only now, so the queue never holds it.
    let Some(payload) = shared.journal.payload(&key)? else {
        let error = "the journal has no request body for this row; rerun to plan it again";
        return fail_row(shared, key, error.to_owned()).await;
    };
    let reference = reference(
        &shared.cfg.batch,
        &key,
        &payload.payload_hash,
        payload.generation,
    );
    let body: CreateLipsync = match serde_json::from_str(&payload.body) {
        Ok(b) => b,
        Err(e) => {
            // Only a hand-edited journal gets here; fail the row rather than send garbage.
            let error = format!("the journal's copy of this row is unreadable ({e}); fix the sheet and rerun with --retry-failed");
            return fail_row(shared, key, error).await;
        }
    };
    let mut body = stamped_body(&body, &key, &reference);
    // This run's webhooks, unless the row names its own (see `hooks`).
    let hooked = body.webhook_url.is_none() && shared.cfg.webhook_url.is_some();
    if hooked {
        body.webhook_url.clone_from(&shared.cfg.webhook_url);
    }
    // The exactly-once rule: the reference is on disk before the request leaves, and so is
    // which endpoint it goes to (a killed run's reconciliation must know what it looks for).
    let stage = if pending.preview {
        crate::journal::Stage::Preview
    } else {
        crate::journal::Stage::Direct
    };
    shared
        .journal
        .apply(vec![
            Change::Review(crate::journal::ReviewChange::Stage {
                key: key.clone(),
                stage,
            }),
            Change::Submitting {
                key: key.clone(),
                reference: reference.clone(),
            },
        ])
        .await?;
    let sent_at = tokio::time::Instant::now();
    let outcome = if pending.preview {
        shared.client.create_preview(&body).await
    } else {
        shared.client.create(&body).await
    };
    let answered_at = tokio::time::Instant::now();
    match outcome {
        CreateOutcome::Created(job) => {
            // The 201's job object too: what it was charged counts even if the run stops
            // before its first poll.
            shared
                .journal
                .apply(vec![
                    Change::Submitted {
                        key: key.clone(),
                        job_id: job.id.clone(),
                    },
                    Change::Seen {
                        key,
                        job: serde_json::to_string(&job).unwrap_or_default(),
                        status: job.status.as_str().to_owned(),
                        credits_used: job.credits_used,
                        duration: job.duration,
                    },
                ])
                .await?;
            Ok(Submitted::Created {
                job_id: job.id,
                sent_at,
                answered_at,
                hooked,
            })
        }
        CreateOutcome::NotCreated(e) => {
            let error = e.to_string();
            if e.class() == ErrorClass::Row {
                return fail_row(shared, key, error).await;
            }
            shared
                .journal
                .record(Change::Requeue { key, error })
                .await?;
            Ok(Submitted::Refused { pending, error: e })
        }
        CreateOutcome::Ambiguous(e) => {
            let error = e.to_string();
            shared
                .journal
                .record(Change::Ambiguous {
                    key,
                    error: error.clone(),
                })
                .await?;
            Ok(Submitted::Ambiguous {
                pending,
                reference,
                error,
            })
        }
    }
}

async fn fail_row(shared: &Shared, key: String, error: String) -> Result<Submitted, JournalError> {
    shared
        .journal
        .record(Change::RowFailed {
            key,
            error: error.clone(),
        })
        .await?;
    Ok(Submitted::RowFailed { error })
}
