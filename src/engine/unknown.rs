//! Jobs in a status this client does not know (the API's status is a free string in newer
//! docs). Such a job is polled on until its deadline, as it may still finish, but never
//! silently: the first sight of a status is a warning, and while jobs stay in it the
//! warning comes back every [`UnknownStatuses::every`], saying how many and for how long;
//! the run's summary names the jobs still in an unknown status at the end.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

/// The longest gap between two warnings about the same status.
const MAX_EVERY: Duration = Duration::from_secs(300);

/// Jobs last seen in an unknown status, and when each status was last warned about.
#[derive(Debug)]
pub(super) struct UnknownStatuses {
    /// Job id → (row key, status, since when).
    jobs: HashMap<String, (String, String, Instant)>,
    /// Status → when to warn about it again.
    next_warning: HashMap<String, Instant>,
    every: Duration,
}

impl UnknownStatuses {
    /// Warnings about one status come back a quarter of the job deadline apart, at most
    /// [`MAX_EVERY`], at least a second.
    pub fn new(job_deadline: Duration) -> Self {
        Self {
            jobs: HashMap::new(),
            next_warning: HashMap::new(),
            every: (job_deadline / 4).clamp(Duration::from_secs(1), MAX_EVERY),
        }
    }

    /// Job `id` (row `key`) now reads `status`: `Some` when this client does not know the
    /// word, `None` when it does (the job leaves this list).
    pub fn saw(&mut self, id: &str, key: &str, status: Option<&str>, left: Duration) {
        let Some(status) = status else {
            self.jobs.remove(id);
            return;
        };
        let now = Instant::now();
        match self.jobs.get_mut(id) {
            Some(seen) if seen.1 == status => return,
            Some(seen) => *seen = (key.to_owned(), status.to_owned(), now),
            None => {
                self.jobs
                    .insert(id.to_owned(), (key.to_owned(), status.to_owned(), now));
            }
        }
        if !self.next_warning.contains_key(status) {
            tracing::warn!(
                %key,
                job = %id,
                %status,
                "the API reports a job in the unknown status {status:?}; this client does not know that word and polls on until the job's deadline ({} left); if it lasts, check the job in your Creatify account",
                human(left)
            );
            self.next_warning
                .insert(status.to_owned(), now + self.every);
        }
    }

    /// Warns again about each status that jobs are still in, once its time has come.
    pub fn warn_due(&mut self) {
        let now = Instant::now();
        for (status, (count, since)) in self.by_status() {
            let due = self.next_warning.entry(status.clone()).or_insert(now);
            if *due > now {
                continue;
            }
            *due = now + self.every;
            tracing::warn!(
                jobs = count,
                %status,
                "{count} job(s) still in the unknown status {status:?}, the longest for {}; polling on until their deadline",
                human(now.duration_since(since))
            );
        }
    }

    /// Status → (how many jobs are in it, since when the longest has been).
    fn by_status(&self) -> BTreeMap<String, (usize, Instant)> {
        let mut out: BTreeMap<String, (usize, Instant)> = BTreeMap::new();
        for (_, status, since) in self.jobs.values() {
            let e = out.entry(status.clone()).or_insert((0, *since));
            e.0 += 1;
            e.1 = e.1.min(*since);
        }
        out
    }

    /// Jobs last seen in each unknown status, for the run's summary.
    pub fn at_end(&self) -> Vec<(String, usize)> {
        self.by_status()
            .into_iter()
            .map(|(status, (n, _))| (status, n))
            .collect()
    }
}

/// `1h 05m`, `3m 20s`, `4.2s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_are_counted_by_status_and_leave_when_known() {
        let mut u = UnknownStatuses::new(Duration::from_secs(40));
        assert_eq!(u.every, Duration::from_secs(10));
        let left = Duration::from_secs(30);
        u.saw("a", "k1", Some("thinking"), left);
        u.saw("b", "k2", Some("thinking"), left);
        u.saw("c", "k3", Some("paused"), left);
        u.saw("a", "k1", Some("thinking"), left);
        assert_eq!(
            u.at_end(),
            [("paused".to_owned(), 1), ("thinking".to_owned(), 2)]
        );
        u.saw("b", "k2", None, left);
        u.saw("c", "k3", None, left);
        assert_eq!(u.at_end(), [("thinking".to_owned(), 1)]);
        assert_eq!(human(Duration::from_secs(3725)), "1h 02m");
        assert_eq!(human(Duration::from_secs(200)), "3m 20s");
    }
}
