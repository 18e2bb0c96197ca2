//! `creatify-batch status`: where a batch stands, read from its journal alone.

use std::path::{Path, PathBuf};

use crate::config::Settings;
use crate::exit::ExitCode;
use crate::journal::{Journal, RowState, FILE_NAME};
use crate::progress::Counts;

use super::{invalid, StatusArgs};

pub(super) fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let batch_dir = match batch_of(args.dir.as_deref(), &args.at) {
        Ok(d) => d,
        Err(e) => return invalid(e),
    };
    let Some(snapshot) = Journal::open_read_only(&batch_dir)? else {
        return invalid(format!("no journal in {}", batch_dir.display()));
    };
    let (source, target) = match crate::batch::recorded(&batch_dir) {
        Ok(r) => r,
        Err(e) => return invalid(e),
    };
    let mut counts = Counts {
        total: snapshot.rows.len(),
        ..Counts::default()
    };
    for r in &snapshot.rows {
        counts.add(r.state);
        counts.changed += usize::from(r.changed());
    }
    // Every job the batch created, failed and retried ones too (the journal's `jobs`).
    let credits = snapshot.credits_total;
    let changed: Vec<&str> = snapshot
        .rows
        .iter()
        .filter(|r| r.changed())
        .map(|r| r.key.as_str())
        .collect();
    let estimated: f64 = snapshot.rows.iter().map(|r| r.est_credits).sum();
    let failures: Vec<_> = snapshot
        .rows
        .iter()
        .filter(|r| {
            matches!(r.state, RowState::Failed | RowState::Rejected) || r.last_error.is_some()
        })
        .collect();
    if args.json {
        let doc = serde_json::json!({
            "batch": batch_dir,
            "counts": counts,
            "credits_used": credits,
            "changed": changed,
            "credits_estimated": estimated,
            "sheet": source,
            "target": target,
            "review": super::review::status_json(&snapshot.rows, &snapshot.approvals),
            "problems": failures.iter().map(|r| serde_json::json!({
                "key": r.key,
                "state": r.state,
                "reason": r.failed_reason.as_ref().or(r.last_error.as_ref()),
                "reason_text": r.failed_reason.as_deref().or(r.last_error.as_deref())
                    .map(|raw| crate::output::explain::explain(raw).for_stage(r.stage).to_string()),
                "line": r.lines.first(),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::Success);
    }
    println!(
        "batch {}: {}",
        batch_dir.display(),
        crate::output::words::plural(counts.total, "video", "videos")
    );
    for state in RowState::ALL {
        let n = snapshot.rows.iter().filter(|r| r.state == state).count();
        if n > 0 {
            println!("  {:<11} {n}", state.as_str());
        }
    }
    if let Some(s) = &source {
        println!("sheet: {s}");
    }
    if let Some(t) = &target {
        println!("api: {t}");
    }
    if !changed.is_empty() {
        println!(
            "  {:<11} {} (changed in the sheet since their video was made: {}; --rerender changed renders them again)",
            "changed",
            changed.len(),
            changed.join(", ")
        );
    }
    println!(
        "credits: {} used by the batch's jobs (failed and retried ones included), {} estimated for the whole sheet",
        crate::output::words::credits(credits),
        crate::output::words::credits(estimated)
    );
    for line in super::review::status_lines(&snapshot.rows, &snapshot.approvals) {
        println!("{line}");
    }
    if !failures.is_empty() {
        println!("problems:");
        for r in failures {
            let reason = r
                .failed_reason
                .as_deref()
                .or(r.last_error.as_deref())
                .unwrap_or("no reason given");
            let line = r
                .lines
                .first()
                .map(|l| format!("line {l}, "))
                .unwrap_or_default();
            // Plain words first; the API's own below, for a search or a support ticket.
            println!(
                "  {} ({line}{}): {}\n      raw: {reason}",
                r.key,
                r.state,
                crate::output::explain::explain(reason).for_stage(r.stage)
            );
        }
    }
    Ok(ExitCode::Success)
}

/// The batch folder `status` is about: the sheet's (found as `run` finds it), the one named
/// with `--batch`, or a batch folder or output folder as given.
pub(super) fn batch_of(
    given: Option<&Path>,
    args: &super::BatchLocation,
) -> Result<PathBuf, String> {
    let link = |p: &Path| p.to_str().is_some_and(crate::sheet::remote::is_url);
    let given_sheet = given.filter(|p| p.is_file() || link(p));
    let out = || -> Result<PathBuf, String> {
        match (&args.out, given) {
            (Some(o), _) => match crate::storage::parse_out(&o.to_string_lossy())? {
                crate::storage::Out::Local(dir) => Ok(dir),
                // A bucket's batch keeps its journal in [output] dir, where `run` put it.
                crate::storage::Out::Remote(_) => Settings::load(args.config.as_deref())
                    .map(|s| s.output.dir)
                    .map_err(|e| e.to_string()),
            },
            (None, Some(d)) if given_sheet.is_none() => Ok(d.to_owned()),
            _ => Settings::load(args.config.as_deref())
                .map(|s| s.output.dir)
                .map_err(|e| e.to_string()),
        }
    };
    if given_sheet.is_none() && args.batch.is_none() {
        let dir = out()?;
        return find_batch(&if args.sandbox {
            dir.join(crate::batch::SANDBOX_DIR)
        } else {
            dir
        });
    }
    let place = match given_sheet {
        Some(sheet) => {
            super::input::locate(&out()?, sheet, None, args.batch.as_deref(), args.sandbox)?
        }
        None => crate::batch::locate(&out()?, None, args.batch.as_deref(), args.sandbox)?,
    };
    if !place.dir.join(FILE_NAME).is_file() {
        let mut msg = format!("no batch in {} yet", place.dir.display());
        if let Some(sheet) = given_sheet {
            msg.push_str(&format!(" for {}: run it first", sheet.display()));
        }
        if !args.sandbox {
            let rehearsal =
                crate::batch::locate(&out()?, given_sheet, args.batch.as_deref(), true)?;
            if rehearsal.dir.join(FILE_NAME).is_file() {
                msg.push_str(&format!(
                    " (its rehearsal is in {}: add --sandbox)",
                    rehearsal.dir.display()
                ));
            }
        }
        return Err(msg);
    }
    // A link's content is what the last run fetched; it is not fetched again here.
    let given_file = given_sheet.filter(|s| !link(s));
    if let (Some(sheet), false) = (given_file, place.feedback || place.named) {
        let current = crate::batch::Source::of(sheet)
            .map_err(|e| format!("cannot read {}: {e}", sheet.display()))?;
        let (owner, _) = crate::batch::recorded(&place.dir).map_err(|e| e.to_string())?;
        if let Some(owner) = owner.filter(|o| o.path != current.path && o.sha256 != current.sha256)
        {
            return Err(format!(
                "{} is not this sheet's batch: it belongs to {owner}; name this sheet's batch \
                 with --batch NAME (as given to run)",
                place.dir.display()
            ));
        }
    }
    Ok(place.dir)
}

/// `dir` itself when it holds a journal, else its one sub-folder that does.
fn find_batch(dir: &Path) -> Result<PathBuf, String> {
    if dir.join(FILE_NAME).is_file() {
        return Ok(dir.to_owned());
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let batches: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(FILE_NAME).is_file())
        .collect();
    match batches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "no batch in {} (no {FILE_NAME} found); name the batch folder{}",
            dir.display(),
            if dir.join(crate::batch::SANDBOX_DIR).is_dir() {
                ", or add --sandbox to see a rehearsal's batch"
            } else {
                ""
            }
        )),
        many => Err(format!(
            "{} holds {} batches; name one: {}",
            dir.display(),
            many.len(),
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
