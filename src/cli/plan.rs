//! `creatify-batch plan`: the table, or the exact request bodies; the sheet's avatar and
//! voice ids checked against the catalogue when there is one to be had.

use std::io::Write;

use crate::catalog::check::IdCheck;
use crate::catalog::obtain::Mode;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::engine::reference::{payload_hash, reference, stamped_body};
use crate::exit::ExitCode;
use crate::plan;

use super::account::{apply_base_url, Account};
use super::input::Loaded;
use super::{invalid, PlanArgs};

/// The plan of `loaded`, its ids checked against `catalog` when there is one; on failure,
/// the error and the avatar values worth asking the API about.
pub(super) fn plan_with(
    loaded: &Loaded,
    settings: &Settings,
    catalog: Option<&Catalog>,
    sandbox: bool,
) -> Result<plan::Plan, (plan::PlanError, Vec<String>)> {
    let Some(catalog) = catalog else {
        return loaded.plan(settings, None).map_err(|e| (e, Vec::new()));
    };
    let mut ids = IdCheck::new(catalog, &settings.catalog.known_ids);
    ids.sandbox = sandbox;
    loaded
        .plan(settings, Some(&mut ids))
        .map_err(|e| (e, ids.unlisted))
}

pub(super) async fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let mut settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return invalid(e),
    };
    if let Err(e) = apply_base_url(&mut settings, args.base_url.as_deref()) {
        return invalid(e);
    }
    let loaded = match super::input::read(&args.sheet, args.tab.as_deref()).await {
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
    // A sheet with problems of its own asks no API anything: its ids are checked too only
    // against a cached catalogue (or the sandbox's).
    // Planned once without the id check, so a bad sheet asks no API anything; kept when no
    // catalogue is had, so the sheet is not planned a second time for nothing.
    let unchecked = loaded.plan(&settings, None);
    let sheet_is_bad = unchecked.is_err();
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
    let mut planned = match catalog.as_ref() {
        None => unchecked.map_err(|e| (e, Vec::new())),
        Some(c) => {
            // The checked plan replaces it: not both in memory at once.
            drop(unchecked);
            plan_with(&loaded, &settings, Some(c), args.sandbox)
        }
    };
    if let (Some(c), Err((_, unlisted))) = (catalog.as_mut(), &planned) {
        if !unlisted.is_empty() && !mode.offline {
            account.look_up(&settings, c, unlisted).await;
            planned = plan_with(&loaded, &settings, Some(c), args.sandbox);
        }
    }
    let plan = match planned {
        Ok(mut p) => {
            p.notes.push(checked);
            p
        }
        Err((e, _)) => {
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
