//! `creatify-batch resolve`: settles the rows whose creation cannot be proven (`unknown`, and
//! `submitting` left by a killed run). Without marks it looks for their jobs in the account
//! again, as a run does first, and records what the list proves: found (adopted), absent
//! (sent by the next run), or still unknown. With `--created KEY=JOB_ID` or
//! `--not-created KEY` it records what the user found by looking at the account.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::api::{ApiClient, Credentials};
use crate::batch::Target;
use crate::config::Settings;
use crate::engine::reconcile::search_with;
use crate::engine::reference::{canonical, references_in};
use crate::engine::search::Verdict;
use crate::exit::ExitCode;
use crate::journal::{Change, Journal, RowState};

use super::{invalid, ResolveArgs};

pub(super) async fn resolve(args: ResolveArgs) -> anyhow::Result<ExitCode> {
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return invalid(e),
    };
    let dir = &args.dir;
    let _lock = match super::lock_batch(dir)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let journal = Arc::new(Journal::open(dir)?);
    let mut open = Vec::new();
    let mut renders = Vec::new();
    journal.for_each_row(|row| {
        if matches!(row.state, RowState::Unknown | RowState::Submitting) {
            open.push(row);
        } else if row.state == RowState::RenderRequested {
            renders.push(row.key);
        }
        Ok::<_, crate::journal::JournalError>(())
    })?;
    // A render whose take is unsure is settled by reading its job, which the next
    // `--render-approved` run does first: nothing here to decide by hand.
    if !renders.is_empty() {
        println!(
            "{} with a render not proven taken ({}): `creatify-batch run SHEET --render-approved` reads their jobs again first and never renders them blindly",
            if renders.len() == 1 { "1 row" } else { "rows" },
            renders.join(", ")
        );
    }
    let is_open = |key: &str| open.iter().any(|r| r.key == key);

    // Marks by hand first. A job said to be a row's is checked with the API: it must
    // exist, be no other row's, and carry no other row's reference.
    let mut changes = Vec::new();
    let mut marked = std::collections::HashSet::new();
    let mut checked = None;
    for mark in &args.created {
        let Some((key, id)) = mark.split_once('=').map(|(k, i)| (k.trim(), i.trim())) else {
            return invalid(format!("--created takes KEY=JOB_ID, got {mark:?}"));
        };
        let Some(row) = open
            .iter()
            .find(|r| r.key == key)
            .filter(|_| !id.is_empty())
        else {
            return invalid(format!(
                "--created {mark:?}: no unknown row {key:?} in {} (see `creatify-batch status`)",
                dir.display()
            ));
        };
        if journal.job_ids()?.iter().any(|known| known == id) {
            return invalid(format!(
                "--created {mark:?}: job {id} already belongs to this batch (another row's, or an earlier one of this row's); look for the job whose name starts with \"{}\"",
                row.reference.as_deref().unwrap_or("?")
            ));
        }
        if checked.is_none() {
            checked = Some(client_for(dir, &settings, args.base_url.as_deref()).await?);
        }
        let Some((client, _)) = &checked else {
            anyhow::bail!("no client for the batch's API");
        };
        let job = match client.job(id).await {
            Ok(job) => job,
            Err(e) => {
                return invalid(format!(
                    "--created {mark:?}: the API does not show job {id} ({e}); nothing was recorded"
                ))
            }
        };
        let want = row.reference.as_deref().map(canonical).unwrap_or_default();
        let refs = job.name.as_deref().map(references_in).unwrap_or_default();
        if !refs.is_empty() && !refs.contains(&want) {
            return invalid(format!(
                "--created {mark:?}: job {id} is named {:?}, the job of another submission (this row's reference is {want}); nothing was recorded",
                job.name.unwrap_or_default()
            ));
        }
        println!("{key}: recorded as created, job {id}; the next run polls and downloads it");
        marked.insert(key.to_owned());
        changes.push(Change::Submitted {
            key: key.to_owned(),
            job_id: id.to_owned(),
        });
    }
    for key in &args.not_created {
        if !is_open(key) {
            return invalid(format!(
                "--not-created {key:?}: no unknown row {key:?} in {} (see `creatify-batch status`)",
                dir.display()
            ));
        }
        println!("{key}: recorded as not created; the next run sends it");
        marked.insert(key.clone());
        changes.push(Change::Requeue {
            key: key.clone(),
            error: "marked not created by `creatify-batch resolve`".into(),
        });
    }
    if let Some((_, Some(sb))) = checked {
        sb.shutdown().await;
    }
    if !changes.is_empty() {
        journal.apply(changes).await?;
        let left = open.iter().filter(|r| !marked.contains(&r.key)).count();
        if left > 0 {
            println!("{left} more rows are still unknown (see `creatify-batch status`)");
            return Ok(ExitCode::Unresolved);
        }
        return Ok(ExitCode::Success);
    }
    if open.is_empty() && !renders.is_empty() {
        return Ok(ExitCode::Unresolved);
    }
    if open.is_empty() {
        println!("nothing to resolve in {}: no row is unknown", dir.display());
        return Ok(ExitCode::Success);
    }

    // Look again, against the batch's own API.
    let (client, sandbox) = client_for(dir, &settings, args.base_url.as_deref()).await?;
    let margin = (settings.api.request_timeout + settings.retry.clock_skew).as_secs_f64();
    let wanted = open
        .iter()
        .map(|r| {
            let since = r.ambiguous_since.unwrap_or(r.updated_at) - margin;
            (
                r.key.clone(),
                r.reference.clone().unwrap_or_default(),
                since,
            )
        })
        .collect();
    let verdicts = search_with(&client, &journal, wanted)
        .await
        .context("cannot read the account's job list; nothing was changed, try again later")?;
    let mut left = 0;
    let mut changes = Vec::new();
    for (w, verdict) in verdicts {
        match verdict {
            Verdict::Found(job, more) => {
                println!(
                    "{}: found job {}; the next run polls and downloads it",
                    w.key, job.id
                );
                changes.push(Change::Submitted {
                    key: w.key.clone(),
                    job_id: job.id.clone(),
                });
                for extra in more {
                    println!(
                        "{}: job {} carries the same reference: created twice, paid for too",
                        w.key, extra.id
                    );
                    changes.push(Change::Duplicate {
                        key: w.key.clone(),
                        job_id: extra.id.clone(),
                        credits_used: extra.credits_used,
                    });
                }
            }
            Verdict::Absent => {
                println!(
                    "{}: not created (the job list proves it); the next run sends it",
                    w.key
                );
                changes.push(Change::Requeue {
                    key: w.key.clone(),
                    error: "not created: proven by `creatify-batch resolve`".into(),
                });
            }
            Verdict::Unproven(why) => {
                left += 1;
                println!(
                    "{}: still unknown: {why}. Look in the account for a job named \"{} …\"; then `creatify-batch resolve {} --created {}=JOB_ID` or `--not-created {}`",
                    w.key, w.reference, dir.display(), w.key, w.key
                );
            }
        }
    }
    journal.apply(changes).await?;
    if let Some(sb) = sandbox {
        sb.shutdown().await;
    }
    Ok(if left > 0 {
        ExitCode::Unresolved
    } else {
        ExitCode::Success
    })
}

/// A client for the API the batch's jobs live in (recorded by its first run).
async fn client_for(
    dir: &Path,
    settings: &Settings,
    base_url: Option<&str>,
) -> anyhow::Result<(ApiClient, Option<crate::sandbox::Sandbox>)> {
    let (_, target) = crate::batch::recorded(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut settings = settings.clone();
    match target {
        Some(Target::Sandbox) => {
            let credentials = super::run::sandbox_credentials(&settings);
            let sb = super::run::in_process_sandbox(dir, &credentials, 60.0).await?;
            settings.api.base_url = url::Url::parse(&sb.base_url())?;
            let client = ApiClient::new(super::run::client_config(&settings), &credentials)?;
            Ok((client, Some(sb)))
        }
        target => {
            let credentials = Credentials::from_env(&settings.api.id_env, &settings.api.key_env)
                .map_err(anyhow::Error::msg)?;
            let url = match (base_url, &target) {
                (Some(u), _) => {
                    url::Url::parse(u).with_context(|| format!("--base-url {u:?} is not a URL"))?
                }
                (None, Some(Target::Api { base_url, .. })) => url::Url::parse(base_url)?,
                (None, _) => settings.api.base_url.clone(),
            };
            if let Some(t @ Target::Api { .. }) = &target {
                let now = Target::api(&url, credentials.secrets()[0]);
                if now != *t {
                    anyhow::bail!("{} belongs to {t}, not to {now}; resolve it against its own API and account", dir.display());
                }
            }
            settings.api.base_url = url;
            Ok((
                ApiClient::new(super::run::client_config(&settings), &credentials)?,
                None,
            ))
        }
    }
}
