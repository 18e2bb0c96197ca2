//! Looking for the jobs of unanswered creations in the account's job list, and proving their
//! absence before anything is sent again.
//!
//! A [`Walker`] is handed the account's jobs one by one, newest first as the list gives them
//! (`ApiClient::walk_jobs`), and sorts each into: one of ours (its name carries a reference we
//! look for, or — when the server dropped or mangled the name — its echo of the request
//! matches exactly one row we look for), someone else's (another reference, or an echo that
//! matches none), or possibly ours (neither a name nor an echo to tell by). It stops once it
//! has read past the oldest attempt it looks for.
//!
//! **Absence is proven** only when the walk read back past that attempt (its time minus the
//! request timeout and the clock-skew margin) through a list that is newest first (or whose
//! end it reached, so a capped list cannot hide the window), and nothing in that window could
//! still be the row's job. Anything less (a capped, unordered, failing or too slow list, jobs
//! with no name and no echo) proves nothing, and the row is not sent again.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::api::listing::Flow;
use crate::api::{CreateLipsync, Job};

use super::reference::{canonical, references_in};

/// Pages a walk reads at most: 200 pages of 100 jobs reach 20,000 jobs back.
pub const MAX_PAGES: usize = 200;

/// A row whose creation is being looked for.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// The row.
    pub key: String,
    /// Its reference, canonical.
    pub reference: String,
    /// The oldest creation time its job can have (unix seconds, margins included).
    pub since: f64,
    /// What its job would echo back, when the body could be read.
    pub echo: Option<Echo>,
}

/// What a created job echoes of its request, for rows whose name does not survive.
#[derive(Debug, Clone, PartialEq)]
pub struct Echo {
    scenes: Vec<SceneEcho>,
    aspect_ratio: Option<String>,
    model_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct SceneEcho {
    text: Option<String>,
    avatar_id: Option<String>,
    voice_id: Option<String>,
}

impl Echo {
    /// What a job made from `body` would echo.
    pub fn of(body: &CreateLipsync) -> Option<Echo> {
        let v = serde_json::to_value(body).ok()?;
        let scenes = v
            .get("video_inputs")?
            .as_array()?
            .iter()
            .map(SceneEcho::of)
            .collect();
        Some(Echo {
            scenes,
            aspect_ratio: text(v.get("aspect_ratio")),
            model_version: text(v.get("model_version")),
        })
    }

    /// Whether `job`'s echo matches: `Some(true)` or `Some(false)` when it can tell, `None`
    /// when the job echoes too little to tell.
    fn matches(&self, job: &Job) -> Option<bool> {
        let Some(Value::Array(scenes)) = &job.video_inputs else {
            return None;
        };
        if scenes.len() != self.scenes.len() {
            return Some(false);
        }
        let mut compared = false;
        let mut same = |ours: &Option<String>, theirs: Option<String>| match (ours, theirs) {
            (Some(a), Some(b)) => {
                compared = true;
                *a == b
            }
            _ => true,
        };
        let mut all = true;
        for (ours, theirs) in self.scenes.iter().zip(scenes) {
            let theirs = SceneEcho::of(theirs);
            all &= same(&ours.text, theirs.text);
            all &= same(&ours.avatar_id, theirs.avatar_id);
            all &= same(&ours.voice_id, theirs.voice_id);
        }
        all &= same(&self.aspect_ratio, job.aspect_ratio.clone());
        all &= same(&self.model_version, job.model_version.clone());
        (compared || !all).then_some(all)
    }
}

impl SceneEcho {
    fn of(scene: &Value) -> SceneEcho {
        SceneEcho {
            text: text(scene.pointer("/voice/input_text"))
                .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" ")),
            avatar_id: text(scene.pointer("/character/avatar_id")),
            voice_id: text(scene.pointer("/voice/voice_id")),
        }
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
}

/// A job's creation time as unix seconds: RFC 3339, a naive ISO time (read as UTC), or a
/// number of seconds or milliseconds.
pub fn created_at(job: &Job) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    let s = job.created_at.as_deref()?.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos() as f64 / 1e9);
    }
    if let Ok(t) = time::OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339) {
        return Some(t.unix_timestamp_nanos() as f64 / 1e9);
    }
    let n: f64 = s.parse().ok().filter(|n: &f64| n.is_finite() && *n > 0.0)?;
    Some(if n > 1e11 { n / 1000.0 } else { n })
}

/// Reads the job list for a set of [`Wanted`] rows.
pub struct Walker {
    wanted: Vec<Wanted>,
    by_ref: HashMap<String, usize>,
    /// Job ids the batch already knows: never a lost creation.
    known: HashSet<String>,
    since: f64,
    seen: HashSet<String>,
    last: Option<f64>,
    ordered: bool,
    /// Dated jobs seen older than `since`: the walk stops at the second (the first alone does
    /// not show that the list is newest first).
    crossed: u32,
    /// Jobs found per wanted row by their reference, in the order seen.
    found: Vec<Vec<Job>>,
    /// Jobs found per wanted row by their echo alone (used only without a reference match).
    echoed: Vec<Vec<Job>>,
    /// Rows that a job in the window could belong to without it being sure.
    blocked: Vec<bool>,
    /// Rows whose request a job echoes, like other rows' too (the same script, avatar and
    /// voice): which one's it is cannot be told.
    twins: Vec<bool>,
    /// Jobs in the window with neither a name nor an echo to tell them by.
    untellable: u64,
}

/// What a walk proved about one row.
#[derive(Debug)]
pub enum Verdict {
    /// Its job (the first) and any more jobs carrying its reference (paid for too).
    Found(Box<Job>, Vec<Job>),
    /// Certainly not created.
    Absent,
    /// Not found, and absence not proven: why.
    Unproven(String),
}

impl crate::api::listing::Visit for Walker {
    fn visit(&mut self, job: Job) -> Flow {
        Walker::visit(self, job)
    }
}

impl Walker {
    /// A walker for `wanted`, skipping the jobs in `known`.
    pub fn new(wanted: Vec<Wanted>, known: HashSet<String>) -> Self {
        let since = wanted.iter().map(|w| w.since).fold(f64::INFINITY, f64::min);
        let by_ref = wanted
            .iter()
            .enumerate()
            .map(|(i, w)| (canonical(&w.reference), i))
            .collect();
        let n = wanted.len();
        Self {
            wanted,
            by_ref,
            known,
            since,
            seen: HashSet::new(),
            last: None,
            ordered: true,
            crossed: 0,
            found: vec![Vec::new(); n],
            echoed: vec![Vec::new(); n],
            blocked: vec![false; n],
            twins: vec![false; n],
            untellable: 0,
        }
    }

    /// Sorts one job of the list (see the module docs).
    pub fn visit(&mut self, job: Job) -> Flow {
        if !self.seen.insert(job.id.clone()) {
            return Flow::Continue;
        }
        let created = created_at(&job);
        if let Some(t) = created {
            // A second of slack: servers round, and jobs created in the same instant may
            // come in either order.
            if self.last.is_some_and(|last| t > last + 1.0) {
                self.ordered = false;
            }
            self.last = Some(self.last.map_or(t, |l| l.min(t)));
            if t < self.since {
                self.crossed += 1;
                return if self.ordered && self.crossed >= 2 {
                    Flow::Stop
                } else {
                    Flow::Continue
                };
            }
        }
        if self.known.contains(&job.id) {
            return Flow::Continue;
        }
        let refs = job.name.as_deref().map(references_in).unwrap_or_default();
        if !refs.is_empty() {
            // One of ours (or another of this tool's jobs): the reference says whose.
            let mut mine = refs.iter().filter_map(|r| self.by_ref.get(r).copied());
            if let Some(i) = mine.next() {
                self.found[i].push(job);
            }
            return Flow::Continue;
        }
        // No reference: the name was dropped or mangled, or it is someone else's job.
        let candidates: Vec<(usize, Option<bool>)> = self
            .wanted
            .iter()
            .enumerate()
            .filter(|(_, w)| created.is_none_or(|t| t >= w.since))
            .map(|(i, w)| (i, w.echo.as_ref().and_then(|e| e.matches(&job))))
            .collect();
        let matching: Vec<usize> = candidates
            .iter()
            .filter(|(_, m)| *m == Some(true))
            .map(|(i, _)| *i)
            .collect();
        match matching.as_slice() {
            [i] => self.echoed[*i].push(job),
            [] => {
                let unsure: Vec<usize> = candidates
                    .iter()
                    .filter(|(_, m)| m.is_none())
                    .map(|(i, _)| *i)
                    .collect();
                if !unsure.is_empty() {
                    self.untellable += 1;
                }
                for i in unsure {
                    self.blocked[i] = true;
                }
            }
            several => {
                // The same script, avatar and voice in several rows: cannot tell which.
                for i in several {
                    self.twins[*i] = true;
                }
            }
        }
        Flow::Continue
    }

    /// What the walk proved, row by row. `reached_end`: the list ended; `unreadable`:
    /// entries that could not be read as jobs.
    pub fn verdicts(self, reached_end: bool, unreadable: u64) -> Vec<(Wanted, Verdict)> {
        let crossed = self.crossed > 0;
        let complete = (self.ordered && self.crossed >= 2) || (crossed && reached_end);
        let why = if unreadable > 0 {
            Some(format!(
                "{unreadable} entries of the job list could not be read"
            ))
        } else if !crossed {
            Some(if reached_end {
                "the job list ends before the attempt's time: it may be capped (or the account is new), so it cannot show that the job is not there".to_owned()
            } else {
                "the job list could not be read back to the attempt's time".to_owned()
            })
        } else if !complete {
            "the job list is not in newest-first order and was not read to its end"
                .to_owned()
                .into()
        } else {
            None
        };
        let untellable = self.untellable;
        self.wanted
            .into_iter()
            .zip(self.found.into_iter().zip(self.echoed))
            .zip(self.blocked.into_iter().zip(self.twins))
            .map(|((w, (found, echoed)), (blocked, twins))| {
                // A reference is certain; an echo only stands in for a name the server lost.
                let mut found = if found.is_empty() { echoed } else { found };
                let verdict = if !found.is_empty() {
                    // The oldest is the first creation; the others were paid for too.
                    found.sort_by(|a, b| {
                        created_at(a).unwrap_or(f64::MAX).total_cmp(&created_at(b).unwrap_or(f64::MAX))
                    });
                    let first = found.remove(0);
                    Verdict::Found(Box::new(first), found)
                } else if let Some(why) = &why {
                    Verdict::Unproven(why.clone())
                } else if twins {
                    Verdict::Unproven(
                        "a job without a name was created since the attempt whose request matches this row's and another row's alike (the same script, avatar and voice), so which row's it is cannot be told".into(),
                    )
                } else if blocked {
                    Verdict::Unproven(format!(
                        "{untellable} jobs created since the attempt have no name and no echo of their request to tell whether one is this row's"
                    ))
                } else {
                    Verdict::Absent
                };
                (w, verdict)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, name: Option<&str>, created: f64, text: Option<&str>) -> Job {
        let created = time::OffsetDateTime::from_unix_timestamp(created as i64)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
        let mut v =
            serde_json::json!({"id": id, "status": "done", "name": name, "created_at": created});
        if let Some(t) = text {
            v["video_inputs"] = serde_json::json!([{"voice": {"input_text": t}, "character": {"avatar_id": "ava"}}]);
        }
        serde_json::from_value(v).unwrap()
    }

    fn wanted(key: &str, reference: &str, since: f64, text: &str) -> Wanted {
        let body: CreateLipsync = serde_json::from_value(serde_json::json!({
            "video_inputs": [{"character": {"type": "avatar", "avatar_id": "ava"},
                              "voice": {"type": "text", "input_text": text}}]
        }))
        .unwrap();
        Wanted {
            key: key.into(),
            reference: reference.into(),
            since,
            echo: Echo::of(&body),
        }
    }

    const R1: &str = "cb0123456789ab";
    const R2: &str = "cbba9876543210";

    fn walk(w: Vec<Wanted>, jobs: Vec<Job>, end: bool) -> Vec<(Wanted, Verdict)> {
        let mut walker = Walker::new(w, HashSet::new());
        for j in jobs {
            if walker.visit(j) == Flow::Stop {
                break;
            }
        }
        walker.verdicts(end, 0)
    }

    #[test]
    fn absence_is_proven_only_past_the_attempt_in_a_newest_first_list() {
        let w = || vec![wanted("a", R1, 1000.0, "hello")];
        let other = |t| job(&format!("o{t}"), Some(&format!("{R2} x")), t, Some("bye"));
        let v = walk(
            w(),
            vec![other(1100.0), other(1050.0), other(900.0), other(800.0)],
            false,
        );
        assert!(matches!(v[0].1, Verdict::Absent), "{:?}", v[0].1);
        // One entry past the attempt does not yet show the order.
        let v = walk(w(), vec![other(1100.0), other(900.0)], false);
        assert!(matches!(v[0].1, Verdict::Unproven(_)), "{:?}", v[0].1);
        // The list ended before the attempt's time: a cap could hide it.
        let v = walk(w(), vec![other(1100.0), other(1050.0)], true);
        assert!(matches!(v[0].1, Verdict::Unproven(_)));
        // Oldest first and not read to its end: proves nothing.
        let v = walk(w(), vec![other(900.0), other(1050.0), other(1100.0)], false);
        assert!(matches!(v[0].1, Verdict::Unproven(_)), "{:?}", v[0].1);
        // Unordered but read to its end, past the attempt: proven.
        let v = walk(w(), vec![other(1050.0), other(900.0), other(1100.0)], true);
        assert!(matches!(v[0].1, Verdict::Absent));
    }

    #[test]
    fn a_job_is_found_by_a_mangled_name_or_by_its_echo() {
        let w = || {
            vec![
                wanted("a", R1, 1000.0, "hello  world"),
                wanted("b", R2, 1000.0, "other"),
            ]
        };
        let old = || {
            vec![
                job("old1", None, 900.0, None),
                job("old2", None, 800.0, None),
            ]
        };
        let by_name = job("j1", Some("CB0123456789AB spring (sale)"), 1010.0, None);
        let by_echo = job("j2", None, 1005.0, Some("Hello world"));
        let v = walk(w(), [vec![by_name, by_echo.clone()], old()].concat(), false);
        // The reference wins over an echo (j2 could be someone's copy of the same script).
        assert!(
            matches!(&v[0].1, Verdict::Found(j, more) if j.id == "j1" && more.is_empty()),
            "{v:?}"
        );
        // j2's echo matches row a, not b: b is proven absent.
        assert!(matches!(v[1].1, Verdict::Absent), "{v:?}");
        // A server that dropped the name: the echo finds the job.
        let v = walk(w(), [vec![by_echo], old()].concat(), false);
        assert!(
            matches!(&v[0].1, Verdict::Found(j, _) if j.id == "j2"),
            "{v:?}"
        );
    }

    #[test]
    fn two_jobs_for_one_reference_are_both_reported() {
        let v = walk(
            vec![wanted("a", R1, 1000.0, "hello")],
            vec![
                job("late", Some(R1), 1020.0, None),
                job("first", Some(R1), 1010.0, None),
                job("x", None, 10.0, None),
                job("y", None, 9.0, None),
            ],
            false,
        );
        match &v[0].1 {
            Verdict::Found(first, more) => {
                assert_eq!(first.id, "first");
                assert_eq!(more.len(), 1);
                assert_eq!(more[0].id, "late");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_nameless_job_that_echoes_two_identical_rows_is_adopted_by_neither() {
        let old = || vec![job("x", None, 10.0, None), job("y", None, 9.0, None)];
        let w = vec![
            wanted("a", R1, 1000.0, "same"),
            wanted("b", R2, 1000.0, "same"),
        ];
        let v = walk(
            w,
            [vec![job("n", None, 1010.0, Some("same"))], old()].concat(),
            false,
        );
        for (w, verdict) in &v {
            assert!(
                matches!(verdict, Verdict::Unproven(why) if why.contains("alike")),
                "{}: {verdict:?}",
                w.key
            );
        }
    }

    #[test]
    fn a_nameless_job_without_an_echo_blocks_the_proof() {
        let v = walk(
            vec![wanted("a", R1, 1000.0, "hello")],
            vec![
                job("n", None, 1010.0, None),
                job("x", None, 10.0, None),
                job("y", None, 9.0, None),
            ],
            false,
        );
        assert!(matches!(v[0].1, Verdict::Unproven(_)), "{:?}", v[0].1);
        // With an echo that is someone else's, the proof holds.
        let v = walk(
            vec![wanted("a", R1, 1000.0, "hello")],
            vec![
                job("n", None, 1010.0, Some("a different script")),
                job("x", None, 10.0, None),
                job("y", None, 9.0, None),
            ],
            false,
        );
        assert!(matches!(v[0].1, Verdict::Absent));
    }
}
