//! The table: for each endpoint group, each fault at 0.1 and at 1.0, and the job fates.
//!
//! A case is the fault, the rate, the exit code of a first run and the state every row must
//! end in; "heal" cases then restart the sandbox without faults (same port, same state
//! directory, so the same account) and rerun, which must finish with exit 0 and every row
//! created exactly once.

use std::path::Path;
use std::time::Instant;

use creatify_batch::sandbox::dialect::Dialect;
use creatify_batch::sandbox::faults::{Fate, FaultPlan};
use creatify_batch::sandbox::Faults;
use futures_util::{stream, StreamExt};

use super::*;

/// Cases of one table running at once.
const AT_ONCE: usize = 8;

/// Rows per case.
const ROWS: usize = 4;

#[derive(Clone)]
struct Case {
    /// `group.fault@rate`.
    name: String,
    faults: Faults,
    seed: u64,
    /// Config keys changed on top of the matrix config.
    config: Vec<(&'static str, &'static str)>,
    time_scale: f64,
    /// Exit code of the first run.
    code: i32,
    /// The state of every row whose job the sandbox did not fail or reject.
    state: &'static str,
    /// Restart the sandbox without faults and rerun: exit 0, all downloaded, each once.
    heal: bool,
    /// The fault the sandbox must have counted at least once (request faults).
    injected: Option<String>,
    /// Something stderr must say: the runner noticed the fault.
    says: Option<&'static str>,
    /// How long requests may still be held by the sandbox after the run (stalls), so the
    /// count of creations waits for them.
    settle: std::time::Duration,
}

impl Case {
    fn new(group: &str, kind: &str, rate: f64) -> Self {
        let mut faults = Faults::default();
        let e = endpoint(kind, rate);
        match group {
            "create" => faults.create = e,
            "poll" => faults.poll = e,
            "account" => faults.account = e,
            "download" => faults.download = e,
            other => panic!("no endpoint group {other}"),
        }
        Self {
            name: format!("{group}.{kind}@{rate}"),
            faults,
            seed: seed_hitting_first(group, rate),
            config: Vec::new(),
            time_scale: 100.0,
            code: 0,
            state: "downloaded",
            heal: false,
            injected: Some(kind.to_owned()),
            says: None,
            settle: std::time::Duration::ZERO,
        }
    }

    /// The first run exits `code` with every row in `state`.
    fn ends(mut self, code: i32, state: &'static str) -> Self {
        self.code = code;
        self.state = state;
        self
    }

    fn healed(mut self) -> Self {
        self.heal = true;
        self
    }

    fn says(mut self, text: &'static str) -> Self {
        self.says = Some(text);
        self
    }

    fn with(mut self, key: &'static str, value: &'static str) -> Self {
        self.config.push((key, value));
        self
    }
}

/// What a case found: the problems, and the figures for the summary line.
struct Verdict {
    name: String,
    problems: Vec<String>,
    summary: String,
}

async fn run_case(case: Case) -> Verdict {
    let started = Instant::now();
    let mut problems = Vec::new();
    let summary = match check_case(&case, &mut problems).await {
        Ok(s) => s,
        Err(e) => {
            problems.push(e);
            String::new()
        }
    };
    Verdict {
        name: case.name,
        problems,
        summary: format!("{summary} in {:.1}s", started.elapsed().as_secs_f64()),
    }
}

async fn check_case(case: &Case, problems: &mut Vec<String>) -> Result<String, String> {
    let state_dir = tempfile::tempdir().expect("state dir");
    let h = Harness::start(case.faults.clone(), |c| {
        c.options.seed = case.seed;
        c.options.time_scale = case.time_scale;
        c.options.state_dir = Some(state_dir.path().to_owned());
    })
    .await;
    write_config(&h, &case.config);
    let sheet = h.sheet("matrix.csv", &sheet_of(ROWS));
    let batch_dir = h.batch_dir("matrix");
    let names = job_names(&h, &sheet);
    let plan = FaultPlan::new(case.faults.clone(), case.seed);

    let out = run_bounded(&h, &sheet, &[]).await?;
    tokio::time::sleep(case.settle).await;
    let stats = h.stats();
    let code = code(&out);
    if code != case.code {
        problems.push(format!(
            "exit {code}, expected {}\n{}",
            case.code,
            text(&out)
        ));
    }
    if let Some(kind) = &case.injected {
        if stats.faults.get(kind).copied().unwrap_or(0) == 0 {
            problems.push(format!(
                "the sandbox never injected {kind}: {:?}",
                stats.faults
            ));
        }
    }
    let dups = duplicates(&stats);
    if !dups.is_empty() {
        problems.push(format!("created more than once: {dups:?}"));
    }
    if let Some(says) = case.says {
        if !stderr(&out).contains(says) {
            problems.push(format!("stderr does not say {says:?}\n{}", text(&out)));
        }
    }
    // Rows end in the case's state, except those whose job the sandbox failed or rejected;
    // any other failed row was failed by a transient error.
    let mut fated = 0;
    for (key, got) in states(&batch_dir) {
        let created = stats.jobs_by_name.contains_key(&names[&key]);
        let want = match plan.fate(&names[&key]) {
            Fate::Failed(_) if created => "failed",
            Fate::Rejected(_) if created => "rejected",
            _ => case.state,
        };
        if want != case.state {
            fated += 1;
        }
        if got != want {
            problems.push(format!("row {key} is {got}, expected {want}"));
        }
    }
    if case.faults.jobs.fail + case.faults.jobs.reject > 0.0 {
        if fated == 0 {
            problems.push(format!(
                "seed {} fails or rejects no job of this sheet: pick another",
                case.seed
            ));
        }
        check_failure_reasons(&batch_dir, &plan, &names, problems);
    }
    problems.extend(file_problems(&batch_dir));
    if code == 0 {
        let left = partials(&batch_dir);
        if !left.is_empty() {
            problems.push(format!("partials left behind: {left:?}"));
        }
    }
    let mut summary = format!(
        "exit {code}, {} faults, {} created, {} throttled",
        stats.faults.values().sum::<u64>(),
        stats.jobs_created,
        stats.throttled
    );

    if case.heal {
        // Healed: the faults go, the dialect stays.
        let healed = Faults {
            api: case.faults.api.clone(),
            ..Faults::default()
        };
        let h = h.restart(healed).await;
        let again = run_bounded(&h, &sheet, &[]).await?;
        let stats = h.stats();
        summary.push_str(&format!("; healed: exit {}", code_of(&again)));
        if code_of(&again) != 0 {
            problems.push(format!(
                "after healing: exit {}, expected 0\n{}",
                code_of(&again),
                text(&again)
            ));
        }
        let per_name = creations_by_key(&stats);
        for (key, name) in &names {
            // Counted by the name's user part, so a second reference would count too.
            let user = creatify_batch::engine::reference::user_part(name);
            let n = per_name.get(user).copied().unwrap_or(0);
            if n != 1 {
                problems.push(format!("after healing: row {key} created {n} times"));
            }
        }
        for (key, got) in states(&batch_dir) {
            if got != "downloaded" {
                problems.push(format!("after healing: row {key} is {got}"));
            }
        }
        problems.extend(file_problems(&batch_dir));
        let left = partials(&batch_dir);
        if !left.is_empty() {
            problems.push(format!("after healing: partials left behind: {left:?}"));
        }
    }
    Ok(summary)
}

fn code_of(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Failed and rejected rows carry the sandbox's reason, and are the data rows of failed.csv.
fn check_failure_reasons(
    batch_dir: &Path,
    plan: &FaultPlan,
    names: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) {
    let mut failed = 0;
    for r in manifest_rows(batch_dir) {
        let key = r["key"].as_str().unwrap_or_default();
        let reason = r["failure_reason"].as_str().unwrap_or_default();
        let want = match plan.fate(&names[key]) {
            Fate::Failed(why) | Fate::Rejected(why) => why,
            Fate::Done => continue,
        };
        failed += 1;
        if reason != want {
            problems.push(format!("row {key}: reason {reason:?}, expected {want:?}"));
        }
    }
    let csv = std::fs::read_to_string(batch_dir.join("failed.csv")).unwrap_or_default();
    let data_rows = csv.lines().count().saturating_sub(1);
    if data_rows != failed {
        problems.push(format!(
            "failed.csv has {data_rows} rows, expected {failed}:\n{csv}"
        ));
    }
}

/// Each row key's job name, as the runner will stamp it (the sandbox decides fates by name).
fn job_names(h: &Harness, sheet: &Path) -> BTreeMap<String, String> {
    use creatify_batch::engine::reference::{payload_hash, reference, stamped_name};
    let settings =
        creatify_batch::config::Settings::load(Some(&h.dir.path().join("pipeline.toml")))
            .expect("config loads");
    let plan = creatify_batch::plan::plan_file(sheet, &settings).expect("sheet plans");
    let batch = creatify_batch::output::batch_name(sheet);
    plan.videos
        .iter()
        .map(|v| {
            let r = reference(&batch, &v.key, &payload_hash(&v.body), 0);
            let name = stamped_name(v.body.name.as_deref(), &v.key, &r);
            (v.key.clone(), name)
        })
        .collect()
}

/// Runs every case, at most [`AT_ONCE`] at a time, and fails naming every case that broke.
async fn run_table(cases: Vec<Case>) {
    let verdicts: Vec<Verdict> = stream::iter(cases)
        .map(|case| async move {
            let name = case.name.clone();
            match tokio::spawn(run_case(case)).await {
                Ok(v) => v,
                Err(e) => Verdict {
                    name,
                    problems: vec![format!("panicked: {e}")],
                    summary: String::new(),
                },
            }
        })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    let mut failures = Vec::new();
    for v in &verdicts {
        eprintln!("{:<24} {}", v.name, v.summary);
        if !v.problems.is_empty() {
            failures.push(format!("case {}:\n  {}", v.name, v.problems.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        verdicts.len(),
        failures.join("\n")
    );
}

const REQUEST_FAULTS: &[&str] = &[
    "reset",
    "lost",
    "status_500",
    "status_502",
    "status_503",
    "html",
    "slow",
    "stall",
];

/// The reconciliation window of the `create.stall` cases.
const STALL_WINDOW: &str = "2.5";

#[tokio::test(flavor = "multi_thread")]
async fn create_faults_at_0_1_and_1_0() {
    run_table(create_cases()).await;
}

/// The create and poll tables again, against the hostile dialect
/// (`Dialect::hostile`: paginated lists and `?ids=`, a capped list, names cut and rewritten,
/// upper-case statuses): exactly once holds there too.
#[tokio::test(flavor = "multi_thread")]
async fn create_and_poll_faults_under_a_hostile_dialect() {
    let cases = create_cases()
        .into_iter()
        .chain(poll_cases())
        .map(|mut c| {
            c.faults.api = Dialect::hostile();
            c.name = format!("hostile {}", c.name);
            c
        })
        .collect();
    run_table(cases).await;
}

fn create_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for kind in REQUEST_FAULTS {
        cases.push(Case::new("create", kind, 0.1));
        let always = Case::new("create", kind, 1.0);
        cases.push(match *kind {
            // The job exists: reconciliation finds it by its reference and adopts it.
            "lost" | "slow" => always.says("no certain answer to the submission"),
            // Answers never come, but nothing was created: after the window, sent again;
            // after max_attempts, left `planned` for the next run.
            _ => always
                .ends(1, "planned")
                .healed()
                .says("no certain answer to the submission"),
        });
    }
    // A stalled request is processed 1.5 s after it was sent, 1 s after the client gave up
    // (0.5 s timeout): only waiting out the reconciliation window (2.5 s here) before
    // sending it again keeps the row from being created twice. (With a window of 0.5 s,
    // this case creates duplicates.)
    for case in cases.iter_mut().filter(|c| c.name.contains("stall")) {
        case.faults.create.slow_seconds = 1.5;
        case.settle = std::time::Duration::from_millis(1500);
        case.config.push(("request_timeout_secs", "0.5"));
        case.config.push(("reconcile_window_secs", STALL_WINDOW));
        if case.name.ends_with("@1") {
            case.code = 0;
            case.state = "downloaded";
            case.heal = false;
        }
    }
    cases
}

#[tokio::test(flavor = "multi_thread")]
async fn poll_faults_at_0_1_and_1_0() {
    run_table(poll_cases()).await;
}

fn poll_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for kind in REQUEST_FAULTS {
        cases.push(Case::new("poll", kind, 0.1));
        // No status ever arrives: jobs stay `submitted` (never failed) until their deadline,
        // exit 4; a rerun against a healthy API picks them up.
        cases.push(
            Case::new("poll", kind, 1.0)
                .with("job_deadline_secs", "2")
                .ends(4, "submitted")
                .healed()
                .says("job deadline reached while still rendering"),
        );
    }
    cases
}

#[tokio::test(flavor = "multi_thread")]
async fn account_faults_at_0_1_and_1_0() {
    let mut cases = Vec::new();
    for kind in REQUEST_FAULTS {
        cases.push(Case::new("account", kind, 0.1));
        // The credit check cannot be made: warn, go on, the API refuses what does not fit.
        cases.push(Case::new("account", kind, 1.0).says("could not read the account's credits"));
    }
    run_table(cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn download_faults_at_0_1_and_1_0() {
    let mut cases = Vec::new();
    for kind in REQUEST_FAULTS.iter().chain(&["truncate"]) {
        cases.push(Case::new("download", kind, 0.1));
        // Files never arrive: rows stay `done` (never failed), exit 1; the rerun resumes.
        cases.push(
            Case::new("download", kind, 1.0)
                .ends(1, "done")
                .healed()
                .says("download failed; rerun to try again"),
        );
    }
    run_table(cases).await;
}

/// The smallest seed under which `hit` holds for at least one of this sheet's job names.
fn seed_where(faults: &Faults, names: &[String], hit: impl Fn(&FaultPlan, &str) -> bool) -> u64 {
    (0..10_000)
        .find(|s| {
            let plan = FaultPlan::new(faults.clone(), *s);
            names.iter().any(|n| hit(&plan, n))
        })
        .expect("a seed that hits")
}

#[tokio::test(flavor = "multi_thread")]
async fn job_fates_at_0_1_and_1_0() {
    // The names depend only on the sheet and the batch name, so any harness computes them.
    let h = Harness::start(Faults::default(), |_| {}).await;
    write_config(&h, &[]);
    let sheet = h.sheet("matrix.csv", &sheet_of(ROWS));
    let names: Vec<String> = job_names(&h, &sheet).into_values().collect();
    drop(h);

    let mut cases = Vec::new();
    for (kind, rate) in [
        ("fail", 0.1),
        ("fail", 1.0),
        ("reject", 0.1),
        ("reject", 1.0),
        ("moderating", 0.1),
        ("moderating", 1.0),
    ] {
        let mut faults = Faults::default();
        match kind {
            "fail" => faults.jobs.fail = rate,
            "reject" => faults.jobs.reject = rate,
            _ => faults.jobs.moderating = rate,
        }
        let seed = seed_where(&faults, &names, |plan, name| match kind {
            "moderating" => plan.moderating(name),
            _ => plan.fate(name) != Fate::Done,
        });
        let mut case = Case {
            name: format!("jobs.{kind}@{rate}"),
            faults,
            seed,
            config: Vec::new(),
            time_scale: 100.0,
            code: 0,
            state: "downloaded",
            heal: false,
            injected: None,
            says: None,
            settle: std::time::Duration::ZERO,
        };
        if kind == "moderating" {
            // A status the client has never seen: logged, polled on, the job completes.
            // Slower renders and frequent polls, so a poll lands while the job is moderating
            // (from 10 % to 25 % of a 3-second render).
            case.time_scale = 1.0;
            case = case.with("max_interval_secs", "0.2").says("moderating");
        } else {
            // Failed and rejected jobs: exit 1, their rows in failed.csv with the reason.
            case.code = 1;
        }
        cases.push(case);
    }
    run_table(cases).await;
}
