//! The account: its jobs, its credit balance, and the jobs still rendering. One `Store` sits
//! behind one mutex; every operation is a map lookup or an append, except listing all jobs.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use super::dialect::RenderCapCounts;
use super::job::JobRecord;
use super::journal::{Durable, Event, Journal};
use crate::api::JobStatus;

/// Why a creation or a render was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Not enough credits.
    Credits {
        /// What the job costs.
        needed: f64,
        /// What is left.
        remaining: f64,
    },
    /// The account already has `limit` jobs counted against its cap; one of them ends in
    /// `retry_after_ms`.
    Busy {
        /// The cap.
        limit: usize,
        /// Milliseconds until the first of them ends.
        retry_after_ms: i64,
    },
    /// `.../render/` on a job that is not a preview, or not ready, or already rendered.
    NotRenderable(&'static str),
    /// No such job.
    NotFound,
}

/// The render cap a creation is admitted under.
#[derive(Debug, Clone, Copy)]
pub struct RenderLimit {
    /// Jobs at once.
    pub cap: usize,
    /// Which jobs it counts.
    pub counts: RenderCapCounts,
}

/// Jobs and credits.
#[derive(Debug)]
pub struct Store {
    /// Each job with its position in `order`.
    jobs: HashMap<String, (usize, Arc<JobRecord>)>,
    /// Ids in creation order, for listing newest first.
    order: Vec<String>,
    by_name: HashMap<String, u64>,
    /// Renders accepted (and charged) per job id.
    renders: HashMap<String, u64>,
    /// Deadlines (Unix ms) of jobs that are not terminal yet: the count against the cap.
    rendering: BinaryHeap<Reverse<(i64, String)>>,
    credits: f64,
    spent: f64,
    time_scale: f64,
    journal: Option<Journal>,
    /// Jobs of the account's past made at start ([`Store::seed_existing`]).
    seeded: usize,
}

impl Store {
    /// An account with `credits`, writing to `journal` when given, after replaying `events`
    /// (a journal's earlier lines). `now_ms` decides which replayed jobs still render.
    pub fn new(
        credits: f64,
        time_scale: f64,
        journal: Option<Journal>,
        events: Vec<Event>,
        now_ms: i64,
        existing: usize,
    ) -> Self {
        let mut store = Self {
            jobs: HashMap::new(),
            order: Vec::new(),
            by_name: HashMap::new(),
            renders: HashMap::new(),
            rendering: BinaryHeap::new(),
            credits,
            spent: 0.0,
            time_scale,
            journal,
            seeded: 0,
        };
        if events.is_empty() {
            // A new journal starts with the balance, so later starts keep it. Nothing was
            // acknowledged yet, so there is no need to wait for this line.
            drop(store.log(&Event::Account { credits }));
        }
        store.seed_existing(existing, now_ms);
        for event in events {
            store.replay(event, now_ms);
        }
        store
    }

    /// `existing` finished jobs of the account's past (`[api] existing_jobs`), one a minute
    /// until a day before `now_ms`, older than anything the sandbox creates. They are not
    /// journaled (every start makes them again, older than the replayed jobs), not charged
    /// and not counted as created.
    fn seed_existing(&mut self, existing: usize, now_ms: i64) {
        use super::job::JobKind;
        use crate::api::model::{AspectRatio, ModelVersion};
        for i in 0..existing {
            let job = JobRecord {
                id: uuid::Uuid::new_v4().to_string(),
                name: Some(format!("An earlier video {i}")),
                kind: JobKind::Video,
                created_ms: now_ms - 86_400_000 - (existing - i) as i64 * 60_000,
                render_started_ms: None,
                model_version: ModelVersion::Standard,
                aspect_ratio: AspectRatio::Portrait,
                webhook_url: None,
                video_inputs: serde_json::json!([{
                    "character": {"type": "avatar", "avatar_id": "edb9719c-42af-5c7f-83d5-b7de95567b5e"},
                    "voice": {"type": "text", "input_text": format!("An earlier script, number {i}.")},
                }]),
                seconds: 3.0,
                credits_used: 5.0,
                render_ms: 1,
                fate: super::faults::Fate::Done,
                moderating: false,
                running_at: super::job::RUNNING_AT,
            };
            self.jobs
                .insert(job.id.clone(), (self.order.len(), Arc::new(job.clone())));
            self.order.push(job.id);
        }
        self.seeded = existing;
    }

    fn replay(&mut self, event: Event, now_ms: i64) {
        match event {
            Event::Account { credits } => self.credits = credits,
            Event::TopUp { credits } => self.credits += credits,
            Event::Job { job } => {
                self.charge(job.credits_used);
                self.insert(Arc::new(job), now_ms);
            }
            Event::Render { id, at_ms, credits } => {
                self.charge(credits);
                match self.jobs.get(&id).cloned() {
                    Some((seq, job)) => {
                        let mut job = JobRecord::clone(&job);
                        job.render_started_ms = Some(at_ms);
                        job.credits_used += credits;
                        self.track(&job, now_ms);
                        *self.renders.entry(id.clone()).or_default() += 1;
                        self.jobs.insert(id, (seq, Arc::new(job)));
                    }
                    None => tracing::warn!(%id, "sandbox journal renders an unknown job"),
                }
            }
        }
    }

    fn log(&self, event: &Event) -> Option<Durable> {
        self.journal.as_ref().map(|j| j.append(event))
    }

    fn charge(&mut self, credits: f64) {
        self.credits -= credits;
        self.spent += credits;
    }

    fn insert(&mut self, job: Arc<JobRecord>, now_ms: i64) {
        if let Some(name) = &job.name {
            *self.by_name.entry(name.clone()).or_default() += 1;
        }
        self.track(&job, now_ms);
        self.jobs
            .insert(job.id.clone(), (self.order.len(), job.clone()));
        self.order.push(job.id.clone());
    }

    fn track(&mut self, job: &JobRecord, now_ms: i64) {
        let deadline = job.deadline_ms(self.time_scale);
        if deadline > now_ms {
            self.rendering.push(Reverse((deadline, job.id.clone())));
        }
    }

    /// How many jobs are not terminal at `now_ms`.
    pub fn rendering(&mut self, now_ms: i64) -> usize {
        while let Some(Reverse((deadline, _))) = self.rendering.peek() {
            if *deadline > now_ms {
                break;
            }
            self.rendering.pop();
        }
        self.rendering.len()
    }

    /// How many jobs `counts` counts against the cap at `now_ms`, and when the first of them
    /// ends (Unix ms).
    fn counted(&mut self, counts: RenderCapCounts, now_ms: i64) -> (usize, Option<i64>) {
        self.rendering(now_ms);
        let counted = self
            .rendering
            .iter()
            .filter(|Reverse((_, id))| match counts {
                RenderCapCounts::Unfinished => true,
                RenderCapCounts::Running => self.jobs.get(id).is_some_and(|(_, job)| {
                    job.snapshot(now_ms, self.time_scale).status == JobStatus::Running
                }),
            })
            .map(|Reverse((end, _))| *end);
        let first = counted.clone().min();
        (counted.count(), first)
    }

    fn admit(&mut self, cost: f64, limit: Option<RenderLimit>, now_ms: i64) -> Result<(), Refusal> {
        if cost > self.credits + 1e-9 {
            return Err(Refusal::Credits {
                needed: cost,
                remaining: self.credits.max(0.0),
            });
        }
        if let Some(RenderLimit { cap: limit, counts }) = limit {
            let (counted, first) = self.counted(counts, now_ms);
            if counted >= limit {
                return Err(Refusal::Busy {
                    limit,
                    retry_after_ms: first.unwrap_or(now_ms) - now_ms,
                });
            }
        }
        Ok(())
    }

    /// Creates `job`, charging `job.credits_used`, unless credits or the rendering cap
    /// refuse it. The returned [`Durable`] resolves when the job is on disk.
    pub fn create(
        &mut self,
        job: JobRecord,
        limit: Option<RenderLimit>,
        now_ms: i64,
    ) -> Result<(Arc<JobRecord>, Option<Durable>), Refusal> {
        self.admit(job.credits_used, limit, now_ms)?;
        self.charge(job.credits_used);
        // Logged under the lock, so the journal's order is the store's order.
        let durable = self.log(&Event::Job { job: job.clone() });
        let job = Arc::new(job);
        self.insert(job.clone(), now_ms);
        Ok((job, durable))
    }

    /// Adds `credits` to the balance. The returned [`Durable`] resolves when that is on disk.
    pub fn top_up(&mut self, credits: f64) -> Option<Durable> {
        self.credits += credits;
        self.log(&Event::TopUp { credits })
    }

    /// Sends the preview `id` to its final render for `cost(seconds)` credits.
    pub fn render(
        &mut self,
        id: &str,
        cost: impl FnOnce(f64) -> f64,
        limit: Option<RenderLimit>,
        now_ms: i64,
    ) -> Result<(Arc<JobRecord>, Option<Durable>), Refusal> {
        let (seq, job) = self.jobs.get(id).ok_or(Refusal::NotFound)?.clone();
        if !job.is_unrendered_preview() {
            return Err(Refusal::NotRenderable(if job.render_started_ms.is_some() {
                "This job has already been rendered."
            } else {
                "Only a preview job can be rendered."
            }));
        }
        if !job.snapshot(now_ms, self.time_scale).terminal {
            return Err(Refusal::NotRenderable("The preview is not ready yet."));
        }
        let credits = cost(job.seconds);
        self.admit(credits, limit, now_ms)?;
        self.charge(credits);
        let durable = self.log(&Event::Render {
            id: id.to_owned(),
            at_ms: now_ms,
            credits,
        });
        let mut job = JobRecord::clone(&job);
        job.render_started_ms = Some(now_ms);
        job.credits_used += credits;
        self.track(&job, now_ms);
        *self.renders.entry(id.to_owned()).or_default() += 1;
        let job = Arc::new(job);
        self.jobs.insert(id.to_owned(), (seq, job.clone()));
        Ok((job, durable))
    }

    /// One job.
    pub fn get(&self, id: &str) -> Option<Arc<JobRecord>> {
        self.jobs.get(id).map(|(_, job)| job.clone())
    }

    /// The jobs among `ids` that exist, each once, newest first.
    pub fn some(&self, ids: &[&str]) -> Vec<Arc<JobRecord>> {
        let mut found: Vec<_> = ids.iter().filter_map(|id| self.jobs.get(*id)).collect();
        found.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        found.dedup_by_key(|(seq, _)| *seq);
        found.into_iter().map(|(_, job)| job.clone()).collect()
    }

    /// Every job, newest first.
    pub fn all(&self) -> Vec<Arc<JobRecord>> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.get(id))
            .collect()
    }

    /// Credits left.
    pub fn credits(&self) -> f64 {
        self.credits
    }

    /// Credits charged since the account began (across restarts).
    pub fn spent(&self) -> f64 {
        self.spent
    }

    /// Jobs created since the account began.
    pub fn jobs_created(&self) -> u64 {
        (self.order.len() - self.seeded) as u64
    }

    /// How many renders each job id had accepted (and charged).
    pub fn renders(&self) -> &HashMap<String, u64> {
        &self.renders
    }

    /// How many jobs were created under each name.
    pub fn by_name(&self) -> &HashMap<String, u64> {
        &self.by_name
    }
}
