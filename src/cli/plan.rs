//! `creatify-batch plan`: the table, or the exact request bodies; the sheet's avatar and
//! voice ids checked against the catalogue when there is one to be had.

use std::io::Write;

use crate::catalog::obtain::Mode;
use crate::config::Settings;
use crate::engine::reference::{payload_hash, reference, stamped_body};
use crate::exit::ExitCode;
use crate::plan;

use super::account::{apply_base_url, Account};
use super::{invalid, PlanArgs};

pub(super) async fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let mut settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return invalid(e),
    };
    if let Err(e) = apply_base_url(&mut settings, args.base_url.as_deref()) {
        return invalid(e);
    }
    let mut loaded = match super::input::read(&args.sheet, args.tab.as_deref()).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::InvalidInput);
        }
    };
    // A plan only reads the catalogue: an API that does not answer is given up on soon (the
    // plan then says the ids went unchecked), not after a run's patient retries.
    let mut quick = settings.clone();
    quick.retry.max_attempts = quick.retry.max_attempts.min(2);
    quick.api.connect_timeout = quick
        .api
        .connect_timeout
        .min(std::time::Duration::from_secs(5));
    let account = Account::open(&quick, args.sandbox).await?;
    // Planned once, without the id check, so that a sheet with problems of its own asks no
    // API anything (its ids are then checked only against a cached catalogue, or the
    // sandbox's); then the same videos are checked, not planned again.
    let draft = loaded.draft(&settings);
    let sheet_is_bad = draft.as_ref().map_or(true, plan::Draft::failed);
    // (The sandbox's catalogue is in this process: reading it asks no API.)
    let ask = !sheet_is_bad || args.sandbox;
    let mode = Mode {
        refresh: args.refresh && ask,
        offline: args.offline || !ask,
    };
    // The catalogue when there is one to be had; the plan says when ids go unchecked.
    let (mut catalog, checked) = match account.catalogue(&settings, mode).await {
        Ok((c, origin)) => (
            Some(c),
            format!(
                "avatar and voice ids checked against the catalogue ({})",
                origin.words()
            ),
        ),
        Err(e) if args.offline => (
            None,
            format!("avatar and voice ids not checked (--offline): {e}"),
        ),
        Err(_) if !ask => (
            None,
            "avatar and voice ids not checked yet (no catalogue cached; fix the sheet first)"
                .to_owned(),
        ),
        Err(e) => (None, format!("avatar and voice ids not checked: {e}")),
    };
    let planned = match draft {
        Ok(mut draft) => {
            if let Some(c) = catalog.as_mut() {
                let sandbox = args.sandbox;
                super::input::check_ids(&account, &settings, c, &mut draft, !mode.offline, |ids| {
                    ids.sandbox = sandbox
                })
                .await;
            }
            loaded.finish(draft)
        }
        Err(e) => Err(e),
    };
    let plan = match planned {
        Ok(mut p) => {
            p.notes.push(checked);
            p
        }
        Err(e) => {
            eprintln!("{e}");
            // (A sheet that could not be read at all had no ids to check.)
            if matches!(e, plan::PlanError::Invalid(_)) {
                eprintln!("note: {checked}");
            }
            return Ok(ExitCode::InvalidInput);
        }
    };
    if args.json {
        // Exactly what a first `run` would POST, reference included.
        // The name `run` would give the batch (the folder is not needed, only its name).
        let batch = match super::input::locate(
            std::path::Path::new(""),
            &args.sheet,
            args.tab.as_deref(),
            args.batch.as_deref(),
            false,
        ) {
            Ok(p) => p.name,
            Err(e) => return invalid(e),
        };
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let written = plan.videos.iter().try_for_each(|v| {
            let r = reference(&batch, &v.key, &payload_hash(&v.body), 0);
            let line = serde_json::to_string(&stamped_body(&v.body, &v.key, &r))?;
            writeln!(out, "{line}")
        });
        return done(written.and_then(|()| out.flush()));
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = plan::write_table(&plan, &mut out);
    done(written.and_then(|()| out.flush()))
}

/// Success, also when the reader went away early (`plan --json | head -1`): what it read
/// was whole lines, and there is nothing left to say to it.
fn done(written: std::io::Result<()>) -> anyhow::Result<ExitCode> {
    match written {
        Ok(()) => Ok(ExitCode::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::Success),
        Err(e) => Err(e.into()),
    }
}
