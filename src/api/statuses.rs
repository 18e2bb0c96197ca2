//! Jobs' statuses, many at a time: `GET /api/lipsyncs_v2/?ids=` (up to
//! [`MAX_IDS_PER_CALL`] ids a call), read whatever the answer's shape, and every job asked
//! about accounted for.
//!
//! - **The answer** may be a plain array (as documented) or a page envelope, whose `next`
//!   pages are followed; JSON of any other shape is read job by job (`GET /{id}/`). A job in
//!   the answer that cannot be read is left out ([`readable_jobs`]) and asked about again
//!   next round: it was in the answer, so asking again now would only read it again.
//! - **Jobs it leaves out** (a server that caps `?ids=` answers below the documented 100, or
//!   ignores `ids` and answers with a page of its job list) would be unseen round after
//!   round, their slots held and their paid videos never fetched. They are asked about
//!   again by `?ids=`, while that finds some of them (a capped answer: a few calls), then
//!   each by itself (`GET /{id}/`). A server whose second `?ids=` found none of them is
//!   taken to ignore `ids`: from then on the jobs it leaves out go straight to their own
//!   GETs. A job found by neither (deleted at the account, say) is left out, as before, and
//!   asked about next round; a 401 ends the run, any other refusal of one job's GET only
//!   leaves that job out.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use super::client::{ApiClient, MAX_IDS_PER_CALL};
use super::error::{ApiError, ErrorClass};
use super::listing;
use super::model::Job;

/// One `?ids=` answer: the jobs read, and the ids of every job it held (readable or not).
struct Answer {
    jobs: Vec<Job>,
    held: HashSet<String>,
    /// It was read job by job (its shape unknown): every id was asked by itself already.
    one_by_one: bool,
}

impl ApiClient {
    /// The jobs among `ids` (see the module docs), retried.
    pub async fn jobs(&self, ids: &[String]) -> Result<Vec<Job>, ApiError> {
        let first = self.jobs_batched(ids).await?;
        let mut jobs = first.jobs;
        if first.one_by_one {
            return Ok(jobs);
        }
        let mut held = first.held;
        let mut missing = absent(ids, &held);
        // Each pass finds at least one more, so at most `ids.len()` passes.
        while !missing.is_empty() && !self.ids_ignored.load(Ordering::Relaxed) {
            let more = match self.jobs_batched(&missing).await {
                Ok(more) if !more.one_by_one => more,
                Ok(more) => {
                    jobs.extend(only(more.jobs, &missing));
                    return Ok(jobs);
                }
                Err(e) if e.class() == ErrorClass::Auth => return Err(e),
                // What was found stands; the rest are asked about next round.
                Err(_) => return Ok(jobs),
            };
            let before = missing.len();
            jobs.extend(only(more.jobs, &missing));
            held.extend(more.held);
            missing = absent(&missing, &held);
            if missing.len() == before {
                tracing::info!(
                    jobs = missing.len(),
                    "status answers leave out jobs asked about, even when asked again; from \
                     now on such jobs are asked for each on its own"
                );
                self.ids_ignored.store(true, Ordering::Relaxed);
            }
        }
        for id in &missing {
            match self.job(id).await {
                Ok(job) => jobs.push(job),
                Err(e @ ApiError::Status { status: 401, .. }) => return Err(e),
                Err(e) => {
                    tracing::debug!(job = %id, error = %e, "a job left out of a status answer, not found by itself either")
                }
            }
        }
        Ok(jobs)
    }

    /// `GET /api/lipsyncs_v2/?ids=`, every page of the answer.
    async fn jobs_batched(&self, ids: &[String]) -> Result<Answer, ApiError> {
        debug_assert!(ids.len() <= MAX_IDS_PER_CALL);
        self.counts.poll.fetch_add(1, Ordering::Relaxed);
        let mut url = self.url("api/lipsyncs_v2/");
        url.query_pairs_mut().append_pair("ids", &ids.join(","));
        let mut answer = Answer {
            jobs: Vec::new(),
            held: HashSet::new(),
            one_by_one: false,
        };
        // Bounded: 100 ids need at most 100 pages, however small the server's pages are.
        for _ in 0..=ids.len() {
            // Not JSON at all (a maintenance page) is the API being down: retried, then
            // reported. JSON of another shape is this API's dialect: read job by job.
            let body: serde_json::Value = self.get_json(url.clone()).await?;
            let Some((items, next)) = listing::items_of(body) else {
                let e = ApiError::Decode {
                    status: 200,
                    message: "the answer to ?ids= is neither a list of jobs nor a page of them"
                        .into(),
                };
                if answer.jobs.is_empty() {
                    answer.jobs = self.jobs_one_by_one(ids, e).await?;
                    answer.one_by_one = true;
                    return Ok(answer);
                }
                return Err(e);
            };
            answer.held.extend(
                items
                    .iter()
                    .filter_map(|item| item.get("id")?.as_str().map(str::to_owned)),
            );
            answer.jobs.extend(readable_jobs(items));
            match next.and_then(|n| self.same_origin(&n)) {
                Some(n) => {
                    self.counts.poll.fetch_add(1, Ordering::Relaxed);
                    url = n;
                }
                None => break,
            }
        }
        Ok(answer)
    }

    /// The fallback when `?ids=` cannot be read: each job by itself. Jobs that cannot be read
    /// this way either are left out (asked about again next round); refused credentials
    /// end it.
    async fn jobs_one_by_one(&self, ids: &[String], why: ApiError) -> Result<Vec<Job>, ApiError> {
        tracing::warn!(error = %why, jobs = ids.len(), "cannot read the batched status answer; asking for each job on its own");
        let mut jobs = Vec::with_capacity(ids.len());
        let mut last = why;
        for id in ids {
            match self.job(id).await {
                Ok(job) => jobs.push(job),
                Err(e) if e.class() == ErrorClass::Auth => return Err(e),
                Err(e) => last = e,
            }
        }
        if jobs.is_empty() {
            return Err(last);
        }
        Ok(jobs)
    }
}

/// The ids among `ids` not in `held`.
fn absent(ids: &[String], held: &HashSet<String>) -> Vec<String> {
    ids.iter()
        .filter(|id| !held.contains(*id))
        .cloned()
        .collect()
}

/// The jobs among `jobs` whose ids are in `ids` (a server that ignores `ids` answers the
/// same jobs again).
fn only(jobs: Vec<Job>, ids: &[String]) -> impl Iterator<Item = Job> + '_ {
    jobs.into_iter().filter(move |j| ids.contains(&j.id))
}

/// The jobs of a list answer that can be read. One without an `id` or a `status` cannot be
/// matched or judged; failing the whole answer for it would leave every other job of the
/// batch unpolled until its deadline, so it is skipped (its own job keeps its state and is
/// asked about again next round).
fn readable_jobs(items: Vec<serde_json::Value>) -> Vec<Job> {
    items
        .into_iter()
        .filter_map(|item| match serde_json::from_value::<Job>(item) {
            Ok(job) => Some(job),
            Err(e) => {
                tracing::warn!(error = %e, "skipping a job the API described in a way this client cannot read");
                None
            }
        })
        .collect()
}
