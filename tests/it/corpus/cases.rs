//! The corpus walk: every file under `tests/corpus/sheets/` and `tests/corpus/configs/` has
//! one entry in `tests/corpus/expected.toml` saying where the error is and what it says. Each
//! case is checked three ways: the library returns that error (and only as many errors as
//! listed), `plan` exits 2 printing it, and `run` exits 2 printing it with nothing submitted
//! and no batch folder made (its API is `127.0.0.1:1`, where nothing listens: a run that got
//! as far as sending would fail differently).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;

use super::corpus_dir;
use crate::support::BIN;
use creatify_batch::config::{ConfigError, Settings};
use creatify_batch::plan::{plan_file, PlanError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    case: Vec<Case>,
}

/// One malformed input and the error it must produce.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Relative to `tests/corpus/`: `sheets/...` (planned with the built-in settings) or
    /// `configs/...` (loaded with `-c`, then planning `valid.csv`).
    file: String,
    /// Where, as the error prints it (`line 3, column script`, `[poll] batch_size`); the
    /// text right after it must be `:` or a space. None for file-wide errors.
    at: Option<String>,
    /// What the error says there, on the same output line, after `at`.
    says: String,
    /// How many errors the input has in all (warnings not counted).
    #[serde(default = "one")]
    errors: usize,
    /// Text no output may contain (a secret, a terminal escape).
    never: Option<String>,
    /// Replaces the file's `@FILL@` with `text` repeated `times` times (huge inputs stay
    /// small in the repository).
    fill: Option<Fill>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fill {
    text: String,
    times: usize,
}

fn one() -> usize {
    1
}

fn load_cases() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus_dir().join("expected.toml")).unwrap();
    let expected: Expected = toml::from_str(&text).unwrap();
    expected.case
}

/// Every corpus file has exactly one case, and every case a file.
#[test]
fn every_corpus_file_has_one_expected_error() {
    let cases = load_cases();
    let mut listed = BTreeSet::new();
    for c in &cases {
        assert!(listed.insert(c.file.clone()), "{} listed twice", c.file);
    }
    let mut on_disk = BTreeSet::new();
    for dir in ["sheets", "configs"] {
        for e in std::fs::read_dir(corpus_dir().join(dir)).unwrap() {
            on_disk.insert(format!(
                "{dir}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    assert_eq!(listed, on_disk);
    assert!(cases.len() >= 40, "only {} cases", cases.len());
}

#[test]
fn every_corpus_case_fails_with_its_error_and_submits_nothing() {
    let cases = load_cases();
    let work = tempfile::tempdir().unwrap();
    let valid = corpus_dir().join("valid.csv");
    // The configs are what breaks: the sheet they plan is fine on its own.
    let ok = command(work.path(), &[OsStr::new("plan"), valid.as_os_str()])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", crate::support::text(&ok));

    let next = AtomicUsize::new(0);
    let failures: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut failures = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(case) = cases.get(i) else { break };
                        let dir = work.path().join(i.to_string());
                        std::fs::create_dir(&dir).unwrap();
                        if let Err(e) = check(case, &dir, &valid) {
                            failures.push(format!("{}: {e}", case.file));
                        }
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Checks one case in the library and through both commands.
fn check(case: &Case, dir: &Path, valid: &Path) -> Result<(), String> {
    let input = materialize(case, dir);
    let is_config = case.file.starts_with("configs/");
    let (message, errors, planning) = library_error(&input, is_config, valid)?;
    if !located(&message, case.at.as_deref(), &case.says) {
        return Err(format!("the library's error does not say it:\n{message}"));
    }
    if errors != case.errors {
        return Err(format!(
            "{errors} errors, expected {}:\n{message}",
            case.errors
        ));
    }
    let mut plan_args = vec![OsStr::new("plan")];
    let mut run_args = vec![OsStr::new("run")];
    for args in [&mut plan_args, &mut run_args] {
        if is_config {
            args.extend([valid.as_os_str(), OsStr::new("-c"), input.as_os_str()]);
        } else {
            args.push(input.as_os_str());
        }
    }
    let out = dir.join("out");
    run_args.extend(["--base-url", "http://127.0.0.1:1", "--out"].map(OsStr::new));
    run_args.push(out.as_os_str());

    let plan = command(dir, &plan_args)
        .output()
        .map_err(|e| e.to_string())?;
    expect_refusal("plan", case, &plan, &message)?;
    if !plan.stdout.is_empty() {
        return Err(format!(
            "plan printed a plan:\n{}",
            crate::support::text(&plan)
        ));
    }
    let run = command(dir, &run_args)
        .output()
        .map_err(|e| e.to_string())?;
    expect_refusal("run", case, &run, &message)?;
    let stderr = String::from_utf8_lossy(&run.stderr);
    if planning && !stderr.contains("nothing was submitted") {
        return Err(format!("run does not say nothing was submitted:\n{stderr}"));
    }
    if out.exists() {
        return Err(format!(
            "run made {} before refusing the input",
            out.display()
        ));
    }
    Ok(())
}

/// The input file, with its `@FILL@` filled in a copy of the same name when asked.
fn materialize(case: &Case, dir: &Path) -> PathBuf {
    let path = corpus_dir().join(&case.file);
    let Some(fill) = &case.fill else { return path };
    let bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(6)
        .position(|w| w == b"@FILL@")
        .unwrap_or_else(|| panic!("{}: no @FILL@", case.file));
    let mut filled = bytes[..at].to_vec();
    filled.extend(fill.text.repeat(fill.times).as_bytes());
    filled.extend(&bytes[at + 6..]);
    let copy = dir.join(path.file_name().unwrap());
    std::fs::write(&copy, filled).unwrap();
    copy
}

/// The library's error for the input: its text, how many errors it holds, and whether it
/// came from planning the sheet (rather than loading the config).
fn library_error(
    input: &Path,
    is_config: bool,
    valid: &Path,
) -> Result<(String, usize, bool), String> {
    let (settings, sheet) = if is_config {
        match Settings::load(Some(input)) {
            Ok(s) => (s, valid),
            Err(e) => {
                let n = match &e {
                    ConfigError::Invalid { problems, .. } => problems.len(),
                    _ => 1,
                };
                return Ok((e.to_string(), n, false));
            }
        }
    } else {
        (Settings::default(), input)
    };
    match plan_file(sheet, &settings) {
        Ok(p) => Err(format!("planned {} videos", p.videos.len())),
        Err(e) => {
            let n = match &e {
                PlanError::Invalid(d) => d.iter().filter(|d| !d.warning).count(),
                PlanError::Config(ConfigError::Invalid { problems, .. }) => problems.len(),
                _ => 1,
            };
            Ok((e.to_string(), n, true))
        }
    }
}

fn expect_refusal(what: &str, case: &Case, out: &Output, message: &str) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(2) {
        return Err(format!(
            "{what} exited with {:?}, expected 2:\n{}",
            out.status.code(),
            crate::support::text(out)
        ));
    }
    if !located(&stderr, case.at.as_deref(), &case.says) {
        return Err(format!(
            "{what} does not say it; it says:\n{stderr}\nthe library says:\n{message}"
        ));
    }
    if let Some(never) = &case.never {
        let stdout = String::from_utf8_lossy(&out.stdout);
        if stderr.contains(never.as_str())
            || stdout.contains(never.as_str())
            || message.contains(never.as_str())
        {
            return Err(format!("{what} printed {never:?}:\n{stderr}"));
        }
    }
    Ok(())
}

/// Whether one line of `text` holds `at` (followed by `:` or a space) and, after it, `says`.
fn located(text: &str, at: Option<&str>, says: &str) -> bool {
    text.lines().any(|line| match at {
        None => line.contains(says),
        Some(at) => line.match_indices(at).any(|(i, _)| {
            let rest = &line[i + at.len()..];
            rest.starts_with([':', ' ']) && rest.contains(says)
        }),
    })
}

/// The binary in `dir` (which holds no `pipeline.toml`), with credentials that would work
/// if anything got as far as using them.
fn command(dir: &Path, args: &[&OsStr]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(args)
        .env("CREATIFY_API_ID", "corpus-id")
        .env("CREATIFY_API_KEY", "corpus-key")
        .env_remove("CREATIFY_BASE_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn located_needs_the_place_then_the_phrase_on_one_line() {
    let text = "x.csv: 2 errors\n  line 3, column key: duplicate key \"a\"\n  line 30: other";
    assert!(located(text, Some("line 3, column key"), "duplicate key"));
    assert!(!located(text, Some("line 3"), "other"));
    assert!(!located(text, Some("line 3, column key"), "other"));
    assert!(located(text, None, "2 errors"));
}
