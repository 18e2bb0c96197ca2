//! A poll round: every rendering job's status in calls of up to 100 ids. A failed call is
//! not a job failure: its jobs simply keep their state until the next round (refused
//! credentials stop the run, in the coordinator).

use futures_util::{stream, StreamExt};

use crate::api::client::MAX_IDS_PER_CALL;
use crate::api::{ApiError, Job};

use super::Shared;

/// How many poll calls of one round run at once (the shared limiter still paces them).
const CALLS_AT_ONCE: usize = 4;

/// Polls `ids`; returns the jobs seen and the errors of the calls that failed.
pub(super) async fn poll_round(shared: &Shared, ids: Vec<String>) -> (Vec<Job>, Vec<ApiError>) {
    let per_call = shared.cfg.poll_batch.clamp(1, MAX_IDS_PER_CALL);
    let chunks: Vec<Vec<String>> = ids.chunks(per_call).map(<[String]>::to_vec).collect();
    let results: Vec<_> = stream::iter(chunks)
        .map(|chunk| async move { shared.client.jobs(&chunk).await })
        .buffer_unordered(CALLS_AT_ONCE)
        .collect()
        .await;
    let mut jobs = Vec::with_capacity(ids.len());
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(batch) => jobs.extend(batch),
            Err(e) => {
                tracing::debug!(error = %e, "poll call failed");
                errors.push(e);
            }
        }
    }
    (jobs, errors)
}
