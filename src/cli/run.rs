//! `creatify-batch run`: plan, lock, sync the journal, check the budget, then hand over to the
//! engine; keep the manifest fresh while it works and rebuild it at the end.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::mpsc;

use crate::api::{ApiClient, ClientConfig, Credentials};
use crate::config::Settings;
use crate::engine::{self, reference::payload_hash, sync::Rerender, EngineConfig, HaltAfter};
use crate::exit::ExitCode;
use crate::journal::{BatchLock, Change, Journal, LockError, Row, RowState, SHEET_META};
use crate::output::manifest;
use crate::plan::Plan;
use crate::progress::{Bars, LogLines, Reporter, Silent};
use crate::storage::{Out, Remote};

use super::{budget, invalid, summary, Global, RunArgs};

/// How often the manifest is rewritten while the run goes on.
const MANIFEST_EVERY: Duration = Duration::from_secs(5);

/// `run`; `said` gets the summary for the notifications ([`super::announce`]).
pub(super) async fn run(
    args: RunArgs,
    global: &Global,
    said: &mut Option<crate::notify::Message>,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return invalid(e),
    };
    // A bucket takes the files; the batch folder (the journal) stays in [output] dir.
    let bucket = match args.out.as_deref().map(crate::storage::parse_out) {
        Some(Ok(Out::Local(dir))) => {
            settings.output.dir = dir;
            None
        }
        Some(Ok(Out::Remote(url))) => Some(url),
        Some(Err(e)) => return invalid(e),
        None => None,
    };
    if let Err(e) = super::account::apply_base_url(&mut settings, args.base_url.as_deref()) {
        return invalid(e);
    }
    let halt_after = match args
        .halt_after_failures
        .as_deref()
        .map(parse_halt)
        .transpose()
    {
        Ok(h) => h,
        Err(e) => return invalid(e),
    };
    if let Some(m) = args.max_credits {
        if !(m.is_finite() && m >= 0.0) {
            return invalid(format!(
                "--max-credits must be a number of credits, got {m}"
            ));
        }
    }
    let rerender = match args.rerender.as_deref().map(Rerender::parse).transpose() {
        Ok(r) => r.unwrap_or_default(),
        Err(e) => return invalid(e),
    };
    let mut loaded = match super::input::read(&args.sheet, args.tab.as_deref()).await {
        Ok(l) => l,
        Err(e) => {
            return invalid(format!(
                "{e}\nnothing was submitted; fix the sheet and run again"
            ))
        }
    };
    // Planned once: checked below against the catalogue, not planned again.
    let draft = loaded.draft(&settings);
    let credentials = if args.sandbox {
        sandbox_credentials(&settings)
    } else {
        match Credentials::from_env(&settings.api.id_env, &settings.api.key_env) {
            Ok(c) => c,
            Err(e) => {
                // The sheet's own problems first: they need fixing either way.
                if let Some(p) = loaded.problems(draft) {
                    return invalid(format!(
                        "{p}\nnothing was submitted; fix the sheet and run again"
                    ));
                }
                return invalid(e);
            }
        }
    };
    if let Err(e) = crate::api::tls::check_env() {
        return invalid(e);
    }
    let place = match super::input::locate(
        &settings.output.dir,
        &args.sheet,
        args.tab.as_deref(),
        args.batch.as_deref(),
        args.sandbox,
    ) {
        Ok(p) => p,
        Err(e) => return invalid(e),
    };
    // A folder of another sheet or API is refused before any API is asked anything (checked
    // again under the lock below).
    if place.dir.exists() {
        if let Err(e) = claim_batch(
            &place,
            &args,
            &settings,
            &credentials,
            loaded.fetched.as_ref(),
        ) {
            return invalid(e);
        }
    }
    let (plan, names) = match checked_plan(&args, &settings, &loaded, draft, &place.dir).await? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let fetched = loaded.fetched;
    // The reviewers' `approve` column, read before the plan goes to the journal.
    let mut verdicts = match super::review::sheet_verdicts(&plan) {
        Ok(v) => match super::review::given(&args, v) {
            Ok(g) => g,
            Err(code) => return Ok(code),
        },
        Err(e) => return invalid(e),
    };
    if let Rerender::Keys(wanted) = &rerender {
        let known: std::collections::HashSet<&str> =
            plan.videos.iter().map(|v| v.key.as_str()).collect();
        let mut unknown: Vec<&str> = wanted
            .iter()
            .map(String::as_str)
            .filter(|k| !known.contains(k))
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return invalid(format!(
                "--rerender: no row with key {} in {}; nothing was submitted (keys are the sheet's                  `key` column, or `changed` for every changed row)",
                unknown.join(", "),
                args.sheet.display()
            ));
        }
    }
    // A row's [matrix] variants share its lines: count each line once.
    let sheet_rows: usize = plan
        .videos
        .iter()
        .flat_map(|v| v.lines.iter())
        .collect::<std::collections::HashSet<_>>()
        .len();
    let (batch, batch_dir) = (place.name.clone(), place.dir.clone());
    let remote = match &bucket {
        Some(url) => match Remote::open(url, &settings.storage) {
            Ok(r) => Some(r.under(&batch_rel(&place, &settings, args.sandbox))),
            Err(e) => return invalid(format!("--out {url}: {e}; nothing was sent")),
        },
        None => None,
    };
    std::fs::create_dir_all(&batch_dir)
        .with_context(|| format!("cannot create the output folder {}", batch_dir.display()))?;
    let _lock = match BatchLock::acquire(&batch_dir) {
        Ok(l) => l,
        Err(e @ LockError::Busy { .. }) => return invalid(e),
        Err(e) => return Err(e.into()),
    };
    // Under the lock, before anything is sent: is this folder this sheet's and this API's?
    let claim = match claim_batch(&place, &args, &settings, &credentials, fetched.as_ref()) {
        Ok(c) => c,
        Err(e) => return invalid(e),
    };
    // A sheet given by its link is kept as fetched, so what this run planned can be read
    // again (its hash is the batch's recorded sheet identity).
    if let Some((_, f)) = &fetched {
        crate::sheet::remote::save(&batch_dir, f).with_context(|| {
            format!(
                "cannot keep the fetched sheet in {}",
                batch_dir.join("sheet").display()
            )
        })?;
    }
    let storage_claim = match crate::storage::check_target(
        &batch_dir,
        remote
            .as_ref()
            .map(|r| crate::storage::identity::describe(r.url(), r.endpoint()))
            .as_deref(),
    ) {
        Ok(c) => c,
        Err(e) => return invalid(e),
    };
    // Before the first creation is paid for: a wrong key or a missing bucket costs nothing.
    if let Some(r) = &remote {
        if let Err(e) = r.check_writable().await {
            return invalid(e);
        }
        tracing::info!(to = %r.url(), "files go to object storage; the journal stays in {}", batch_dir.display());
    }

    // The in-process sandbox keeps its jobs in the batch folder, so a rerun after a crash
    // meets the same jobs, as it would with the real service.
    let sandbox = if args.sandbox {
        let sb = in_process_sandbox(&batch_dir, &credentials, args.sandbox_time_scale).await?;
        settings.api.base_url = url::Url::parse(&sb.base_url())?;
        tracing::info!(url = %sb.base_url(), "sandbox started in-process; no credits are spent");
        Some(sb)
    } else {
        None
    };

    // Listening before anything is paid for: a port in use costs nothing.
    let hooks = match settings.poll.webhook_listen {
        Some(listen) => {
            match engine::hooks::Listener::bind(listen, settings.poll.webhook_url.as_ref()).await {
                Ok(l) => Some(l),
                Err(e) => return invalid(e),
            }
        }
        None => None,
    };
    let client = Arc::new(ApiClient::new(client_config(&settings), &credentials)?);
    let journal = Arc::new(Journal::open(&batch_dir)?);
    claim.record(&journal).await?;
    crate::storage::identity::record(&journal, storage_claim).await?;
    for note in &claim.notes {
        tracing::info!("{note}");
    }
    // A batch's own failed.csv fed back keeps the batch's sheet format (without `#reason`).
    if !place.feedback {
        let shape = manifest::SheetShape::of(&plan.format);
        journal
            .record(Change::Meta {
                key: SHEET_META.into(),
                value: serde_json::to_string(&shape)?,
            })
            .await?;
    }
    record_scene_labels(&journal, &plan, place.feedback).await?;
    record_names(&journal, names).await?;
    // Fed back, the fixed rows of failed.csv are the ones to send again.
    let retry_failed = args.retry_failed || place.feedback;
    let keys: Vec<String> = plan.videos.iter().map(|v| v.key.clone()).collect();
    // Fed back, a row keeps its place and its lines in the batch's own sheet: failed.csv's
    // line numbers would point into the wrong file.
    let mut places = std::collections::HashMap::new();
    if place.feedback {
        journal.for_each_row(|r| {
            places.insert(r.key, (r.ord, r.lines));
            Ok::<_, crate::journal::JournalError>(())
        })?;
    }
    let rows = journal_rows(plan).map(move |mut row| {
        if let Some((ord, lines)) = places.remove(&row.key) {
            row.ord = ord;
            row.lines = lines;
        }
        row
    });
    // `--preview`: rejected rows are found like rows to render again, and previewed again
    // when edited (`review::repreview`).
    let refused_verdicts = super::review::record_rejections(&journal, &mut verdicts).await?;
    let rerender = if args.preview {
        Rerender::Keys(super::review::rejected_keys(&journal)?)
    } else {
        rerender
    };
    // The plan is consumed row by row as the journal takes it, and gone before the run starts.
    let mut report =
        engine::sync::sync(&journal, rows, retry_failed, args.preview, &rerender).await?;
    // The plan is gone: without this, a 100k-row run would hold the plan's peak and then
    // the engine's on top of it.
    crate::memory::release_freed();
    let mut to_rerender = std::mem::take(&mut report.to_rerender);
    if !args.preview {
        // `--rerender` makes a finished video again; a preview has none yet.
        let mut previews = Vec::new();
        for r in &to_rerender {
            if journal.row(&r.key)?.is_some_and(|j| is_preview(j.state)) {
                previews.push(r.key.clone());
            }
        }
        if !previews.is_empty() {
            tracing::warn!(keys = %previews.join(", "), "--rerender: these rows are previews, not rendered videos; not made again (`run --preview` previews a changed row again)");
            to_rerender.retain(|r| !previews.contains(&r.key));
        }
    }
    let repreviewed = if args.preview {
        super::review::repreview(&journal, std::mem::take(&mut to_rerender)).await?
    } else {
        Vec::new()
    };
    let rerendering: std::collections::HashSet<String> = to_rerender
        .iter()
        .map(|r| r.key.clone())
        .chain(repreviewed.iter().cloned())
        .collect();
    for (key, state) in &report.changed_after_submit {
        if rerendering.contains(key) {
            continue;
        }
        if is_preview(*state) {
            tracing::warn!(%key, %state, "row changed in the sheet after its preview was made: no verdict on the old preview holds for it; `run --preview` previews the new version");
            continue;
        }
        tracing::warn!(%key, %state, "row changed in the sheet after it was submitted; not sent again (--rerender changed, or --rerender {key}, renders the new version as a new job)");
    }
    for key in &report.rerender_in_flight {
        tracing::warn!(%key, "--rerender: this row's job is still being made; not rendered again now (rerun with --rerender once it is done)");
    }
    let extra: Vec<f64> = to_rerender.iter().map(|r| r.est_credits).collect();
    // A changed preview has no video on disk to be the old version of (exit 6 is for those);
    // it was told above.
    let mut changed: Vec<String> = report
        .changed_after_submit
        .iter()
        .filter(|(_, state)| !is_preview(*state))
        .map(|(k, _)| k.clone())
        .collect();
    if !report.not_retried_reviewed.is_empty() {
        tracing::warn!(
            rows = report.not_retried_reviewed.len(),
            keys = %report.not_retried_reviewed.join(", "),
            "failed rows of this batch were previews or renders: not made again at full price \
             without review; `run --preview --retry-failed` previews them again"
        );
    }
    if report.retried > 0 {
        tracing::info!(
            rows = report.retried,
            "failed rows will be submitted again (--retry-failed)"
        );
    }

    // Previews and renders were checked at their own prices (`review::decide`).
    let budget = if args.preview || args.render_approved {
        None
    } else {
        budget::check(&journal, &client, args.max_credits, &extra).await?
    };
    if let Some(code) = budget {
        write_reports(&journal, &batch_dir, &batch, false)?;
        publish(&batch_dir, remote.as_ref()).await?;
        return Ok(code);
    }
    // Only now, with the budget checked, are the rows to render again touched; they are not
    // `changed` any more once sent back.
    for (key, kept) in engine::sync::rerender(&journal, &batch_dir, to_rerender).await? {
        match kept {
            Some(k) => {
                tracing::info!(%key, previous = %k, "rendering again as a new job (--rerender); previous files kept")
            }
            None => tracing::info!(%key, "rendering again as a new job (--rerender)"),
        }
    }
    changed.retain(|k| !rerendering.contains(k));
    let decided =
        match super::review::decide(&args, &journal, &client, verdicts, refused_verdicts).await? {
            Ok(d) => d,
            Err(code) => {
                write_reports(&journal, &batch_dir, &batch, false)?;
                return Ok(code);
            }
        };

    let (interrupt_tx, interrupt_rx) = mpsc::unbounded_channel();
    tokio::spawn(watch_signals(interrupt_tx));
    // One report writer at a time (they share the `.partial` files), and none from the
    // refresher once the run's last report is due: `true` once it is.
    let last_written = Arc::new(std::sync::Mutex::new(false));
    let refresher = tokio::spawn(refresh_reports(
        journal.clone(),
        batch_dir.clone(),
        batch.clone(),
        last_written.clone(),
        remote.clone(),
    ));

    let mut reporter: Box<dyn Reporter> = if global.quiet {
        Box::new(Silent)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bars::new(keys.len()))
    } else {
        Box::new(LogLines::new(settings.output.log_interval))
    };
    let mut cfg = engine_config(&settings, &batch, &batch_dir, args.max_credits, halt_after);
    cfg.storage = remote.clone();
    cfg.mode = decided.mode;
    cfg.webhook_url = hooks.as_ref().map(|h| h.url().to_owned());
    let result = engine::run(
        cfg,
        keys,
        client.clone(),
        journal.clone(),
        reporter.as_mut(),
        interrupt_rx,
        hooks,
    )
    .await;
    reporter.finish();
    refresher.abort();
    let reports = {
        let mut last = last_written.lock().unwrap_or_else(|p| p.into_inner());
        *last = true;
        write_reports(&journal, &batch_dir, &batch, false)
    };
    let (code, summary) = result.context(
        "the journal could not record the run's progress; what was recorded is safe: fix the \
         cause and rerun to resume",
    )?;
    reports?;
    // The videos are in the bucket whatever happens here; a report that could not follow
    // them is said, and the run is not called clean (the next run copies it again).
    let published = publish(&batch_dir, remote.as_ref()).await;
    if let Err(e) = &published {
        tracing::error!("{e:#}; rerun to copy the reports again");
    } else if let Some(r) = &remote {
        tracing::info!(to = %r.url(), "the files and reports are in the bucket");
    }
    if let Some(sb) = sandbox {
        sb.shutdown().await;
    }
    let mut code = summary::exit_code(code, changed.len());
    // An approval or verdict refused (the row changed since its preview) was not carried out.
    // Exit 1 outranks 6 (README: the first of 5, 130, 3, 7, 8, 4, 1, 6 wins).
    let clean = |c: ExitCode| matches!(c, ExitCode::Success | ExitCode::Changed);
    if decided.refused > 0 && clean(code) {
        code = ExitCode::RowsFailed;
    }
    if published.is_err() && clean(code) {
        code = ExitCode::RowsFailed;
    }
    // Fed back, this run saw only the rows of failed.csv: the batch is clean only when none of
    // its rows is still failed (one left out of the file, or a matrix variant fixed under a
    // new value, which is a new variant beside the failed one).
    if place.feedback && clean(code) {
        let still: usize = journal
            .view()?
            .counts()?
            .into_iter()
            .filter(|(s, _)| matches!(s, RowState::Failed | RowState::Rejected))
            .map(|(_, n)| n)
            .sum();
        if still > 0 {
            tracing::warn!(
                rows = still,
                "rows of the batch are still failed (not in the fed-back file); see {}",
                batch_dir.join("failed.csv").display()
            );
            code = ExitCode::RowsFailed;
        }
    }
    let mut summary = summary;
    summary.counts.changed = changed.len();
    let cx = summary::Context {
        batch: &batch,
        dir: &batch_dir,
        sheet_rows,
        unknown_estimate: journal.credits_in(crate::journal::RowState::Unknown)?,
        changed: &changed,
        wall: started.elapsed(),
        delivered: remote.as_ref().map(|r| r.url()),
    };
    let waiting = summary.counts.previewing + summary.counts.preview_ready;
    if !args.preview && !args.render_approved && waiting > 0 {
        // Not done, so not exit 0; but say why, or a cron job alerts with nothing to act on.
        tracing::warn!(
            rows = waiting,
            "rows of this batch are previews, which a plain run does not render: `run --render-approved` renders the approved ones, `run --preview` makes the rest"
        );
    }
    summary::print(&summary, code, &cx, global.log_format);
    *said = Some(crate::notify::Message {
        title: format!("creatify-batch {batch}: exit {}", code.code()),
        lines: summary::text(&summary, code, &cx),
        event: summary::event(&summary, code, &cx),
        exit_code: code.code(),
    });
    Ok(code)
}

/// A row whose job is a preview not sent to its render yet.
fn is_preview(state: RowState) -> bool {
    matches!(state, RowState::Previewing | RowState::PreviewReady)
}

/// The sheet's plan with every avatar and voice id checked against the account's catalogue
/// (the cache while fresh, else fetched), before anything is sent or written; or the exit
/// code of why not, already explained. Rows whose job exists (in `batch_dir`'s journal)
/// only get warnings: their money is spent and their downloads must not wait.
async fn checked_plan(
    args: &RunArgs,
    settings: &Settings,
    loaded: &super::input::Loaded,
    draft: Result<crate::plan::Draft, crate::plan::PlanError>,
    batch_dir: &Path,
) -> anyhow::Result<Result<(Plan, Names), ExitCode>> {
    let account = super::account::Account::open(settings, args.sandbox).await?;
    let sandbox = args.sandbox;
    // A sheet with problems of its own is refused without asking any API anything; its ids
    // are checked too when a catalogue is cached (one kind of error never hides another).
    let mut draft = match draft {
        Ok(d) if !d.failed() => d,
        Ok(mut d) => {
            // (The sandbox's catalogue is in this process: reading it asks no API.)
            let offline = crate::catalog::obtain::Mode {
                refresh: false,
                offline: !args.sandbox,
            };
            if let Ok((mut c, _)) = account.catalogue(settings, offline).await {
                super::input::check_ids(&account, settings, &mut c, &mut d, false, |ids| {
                    ids.sandbox = sandbox
                })
                .await;
            }
            let e = loaded.problems(Ok(d));
            invalid(format!(
                "{}\nnothing was submitted; fix the sheet and run again",
                e.map(|e| e.to_string()).unwrap_or_default()
            ))?;
            return Ok(Err(ExitCode::InvalidInput));
        }
        Err(e) => {
            invalid(format!(
                "{e}\nnothing was submitted; fix the sheet and run again"
            ))?;
            return Ok(Err(ExitCode::InvalidInput));
        }
    };
    let mode = crate::catalog::obtain::Mode {
        refresh: args.refresh,
        offline: false,
    };
    let (mut catalog, origin) = match account.catalogue(settings, mode).await {
        Ok(c) => c,
        Err(e) => {
            let code = super::account::exit_for(&e);
            let then = if code == ExitCode::Unreachable {
                "nothing lost; rerun when it is reachable"
            } else {
                "fix the cause and run again"
            };
            super::say_error(format!(
                "{e}\nthe sheet's avatar and voice ids are checked before anything is sent: \
                 nothing was submitted; {then}"
            ));
            return Ok(Err(code));
        }
    };
    // A batch's own failed.csv fed back is a retry of its rows.
    let retry = args.retry_failed || crate::batch::enclosing_batch(&args.sheet).is_some();
    let spared = super::account::spared_keys(batch_dir, retry);
    super::input::check_ids(&account, settings, &mut catalog, &mut draft, true, |ids| {
        ids.sandbox = sandbox;
        ids.spared = spared.clone();
    })
    .await;
    match loaded.finish(draft) {
        Ok(p) => {
            tracing::info!(catalogue = %origin.words(), "avatar and voice ids checked");
            for note in p.notes.iter().filter(|n| n.starts_with("names resolved")) {
                tracing::info!("{note}");
            }
            let names = crate::catalog::names_of(&p.videos, &catalog);
            Ok(Ok((p, names)))
        }
        Err(e) => {
            invalid(format!(
                "{e}\nnothing was submitted; fix the sheet and run again"
            ))?;
            Ok(Err(ExitCode::InvalidInput))
        }
    }
}

/// Whether this run may use the batch folder at `place` ([`crate::batch::check`]).
fn claim_batch(
    place: &crate::batch::Place,
    args: &RunArgs,
    settings: &Settings,
    credentials: &Credentials,
    fetched: Option<&(crate::sheet::remote::Link, crate::sheet::remote::Fetched)>,
) -> Result<crate::batch::Claim, String> {
    use crate::batch::{check, Target};
    let source = super::input::source(&args.sheet, args.tab.as_deref(), fetched)?;
    let target = if args.sandbox {
        Target::Sandbox
    } else {
        Target::api(&settings.api.base_url, credentials.secrets()[0])
    };
    check(place, &source, &target).map_err(|e| e.to_string())
}

/// The sandbox of `run --sandbox`, keeping its jobs in the batch folder.
pub(super) async fn in_process_sandbox(
    batch_dir: &Path,
    credentials: &Credentials,
    time_scale: f64,
) -> anyhow::Result<crate::sandbox::Sandbox> {
    let mut cfg = crate::sandbox::SandboxConfig::for_tests();
    cfg.options.time_scale = time_scale;
    cfg.options.state_dir = Some(batch_dir.join(".sandbox"));
    let [id, key] = credentials.secrets();
    cfg.credentials = crate::sandbox::Credentials {
        api_id: id.to_owned(),
        api_key: key.to_owned(),
        from_environment: true,
    };
    crate::sandbox::Sandbox::start(cfg)
        .await
        .context("cannot start the in-process sandbox")
}

pub(super) fn sandbox_credentials(settings: &Settings) -> Credentials {
    Credentials::from_env(&settings.api.id_env, &settings.api.key_env).unwrap_or_else(|_| {
        Credentials::new(
            crate::sandbox::SANDBOX_API_ID,
            crate::sandbox::SANDBOX_API_KEY,
        )
    })
}

fn parse_halt(s: &str) -> Result<HaltAfter, String> {
    let bad =
        || format!("--halt-after-failures takes a count (5) or a percentage (10%), got {s:?}");
    match s.trim().strip_suffix('%') {
        Some(p) => p
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|p| *p > 0.0 && *p <= 100.0)
            .map(HaltAfter::Percent)
            .ok_or_else(bad),
        None => s
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .map(HaltAfter::Count)
            .ok_or_else(bad),
    }
}

/// The plan's videos as journal rows, each built as it is taken (and its video freed).
fn journal_rows(plan: Plan) -> impl Iterator<Item = Row> {
    plan.videos.into_iter().enumerate().map(|(i, v)| {
        let body = serde_json::to_string(&v.body).unwrap_or_default();
        Row::planned(
            v.key,
            i as i64,
            v.lines,
            v.records,
            v.body.name.clone(),
            payload_hash(&v.body),
            body,
            v.seconds,
            v.credits,
        )
    })
}

pub(super) fn client_config(s: &Settings) -> ClientConfig {
    ClientConfig {
        base_url: s.api.base_url.clone(),
        connect_timeout: s.api.connect_timeout,
        request_timeout: s.api.request_timeout,
        list_timeout: s.api.list_timeout.max(s.api.request_timeout),
        requests_per_second: s.limits.requests_per_second,
        burst: s.limits.burst,
        max_retry_after: s.retry.max_retry_after,
        max_attempts: s.retry.max_attempts,
        min_delay: s.retry.min_delay,
        max_delay: s.retry.max_delay,
    }
}

fn engine_config(
    s: &Settings,
    batch: &str,
    batch_dir: &Path,
    max_credits: Option<f64>,
    halt_after: Option<HaltAfter>,
) -> EngineConfig {
    EngineConfig {
        batch: batch.to_owned(),
        batch_dir: batch_dir.to_owned(),
        max_in_flight: s.limits.max_in_flight,
        max_rendering: s.limits.max_rendering,
        max_submitting: engine::max_submitting(s.limits.requests_per_second, s.limits.burst),
        download_concurrency: s.limits.download_concurrency,
        poll_min: s.poll.min_interval,
        poll_max: s.poll.max_interval,
        poll_batch: s.poll.batch_size,
        job_deadline: s.poll.job_deadline,
        // A POST can still be creating its job until its timeout passes; looking for it any
        // sooner could send it twice.
        reconcile_window: s.retry.reconcile_window.max(s.api.request_timeout),
        search_margin: s.api.request_timeout + s.retry.clock_skew,
        max_download_bytes: s.output.max_download_bytes,
        max_attempts: s.retry.max_attempts,
        min_delay: s.retry.min_delay,
        max_delay: s.retry.max_delay,
        max_credits,
        halt_after,
        unreachable_window: s.api.unreachable,
        max_throttled: s.retry.max_throttled,
        same_error_halt: s.retry.same_error_halt,
        storage: None,
        mode: engine::Mode::Direct,
        webhook_url: None,
    }
}

async fn watch_signals(tx: mpsc::UnboundedSender<()>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot listen for signals; Ctrl-C will stop the run at once");
        return;
    };
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        seen += 1;
        if seen > 1 {
            eprintln!(
                "interrupted again: quitting now; the journal has everything, rerun to resume"
            );
            std::process::exit(ExitCode::Interrupted.code());
        }
        let _ = tx.send(());
    }
}

/// Rewrites the reports while the run goes on: every [`MANIFEST_EVERY`], or less often when
/// writing them takes long (a 100k-row batch), so they never take more than a tenth of the
/// run's time and disk.
async fn refresh_reports(
    journal: Arc<Journal>,
    batch_dir: std::path::PathBuf,
    batch: String,
    last_written: Arc<std::sync::Mutex<bool>>,
    remote: Option<Remote>,
) {
    // Written at once too, so an open report shows the run has started (and reloads).
    loop {
        let (j, d, b, gate) = (
            journal.clone(),
            batch_dir.clone(),
            batch.clone(),
            last_written.clone(),
        );
        let started = Instant::now();
        let r = tokio::task::spawn_blocking(move || {
            let last = gate.lock().unwrap_or_else(|p| p.into_inner());
            if *last {
                return Ok(());
            }
            write_reports(&j, &d, &b, true)
        })
        .await;
        if let Ok(Err(e)) = r {
            tracing::warn!(error = %e, "could not refresh the manifest");
        } else if let Err(e) = publish(&batch_dir, remote.as_ref()).await {
            tracing::warn!(error = %e, "could not refresh the manifest in the bucket");
        }
        tokio::time::sleep(MANIFEST_EVERY.max(started.elapsed() * 10)).await;
    }
}

/// Copies the batch folder's reports to the bucket, when there is one.
async fn publish(batch_dir: &Path, remote: Option<&Remote>) -> anyhow::Result<()> {
    if let Some(r) = remote {
        crate::storage::publish::publish(batch_dir, r)
            .await
            .map_err(|e| anyhow::anyhow!("cannot copy the reports to {}: {e}", r.url()))?;
    }
    Ok(())
}

/// Where the batch sits under the output folder (`<batch>`, `sandbox/<batch>`): the same
/// relative path in the bucket.
fn batch_rel(place: &crate::batch::Place, settings: &Settings, sandbox: bool) -> String {
    match place.dir.strip_prefix(&settings.output.dir) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().replace('\\', "/"),
        _ if sandbox => format!("{}/{}", crate::batch::SANDBOX_DIR, place.name),
        _ => place.name.clone(),
    }
}

/// Rewrites every report from one consistent view of the journal, streaming its rows;
/// `live` while the run goes on (an open `report.html` then reloads itself).
fn write_reports(
    journal: &Journal,
    batch_dir: &Path,
    batch: &str,
    live: bool,
) -> anyhow::Result<()> {
    let view = journal.view()?;
    let mut counts = crate::progress::Counts::default();
    for (state, n) in view.counts()? {
        counts.total += n;
        counts.add_n(state, n);
    }
    counts.changed = view.changed_count()?;
    let m = manifest::Manifest {
        batch,
        counts,
        credits_used: view.credits_total()?,
        sheet: view
            .meta(SHEET_META)?
            .and_then(|s| serde_json::from_str(&s).ok()),
        labels: view
            .meta(manifest::LABELS_META)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
        about: crate::report::About::read(&view, live)?,
        verdicts: manifest::verdicts(&view.approvals()?),
    };
    // Full rows: the report shows each video's scenes, avatar and voice from its body.
    manifest::write_all(batch_dir, &m, |f| {
        view.for_each_full_row(|row| f(&row).map_err(anyhow::Error::from))
    })
    .with_context(|| format!("cannot write the manifest in {}", batch_dir.display()))
}

/// The catalogue's names of a batch's avatar and accent ids.
type Names = std::collections::BTreeMap<String, String>;

/// Keeps the names of the batch's avatars and voices in the journal for the report, added to
/// those recorded before (a fed-back `failed.csv` holds some rows only).
async fn record_names(journal: &Journal, fresh: Names) -> anyhow::Result<()> {
    let mut names: Names = journal
        .meta(crate::catalog::NAMES_META)?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let before = names.len();
    names.extend(fresh);
    if names.is_empty() || (names.len() == before && before > 0) {
        return Ok(());
    }
    journal
        .record(Change::Meta {
            key: crate::catalog::NAMES_META.into(),
            value: serde_json::to_string(&names)?,
        })
        .await?;
    Ok(())
}

/// Keeps the plan's scene labels in the journal for the manifest and the report: the sheet's
/// labels replace the recorded ones, except when the batch's own `failed.csv` is fed back
/// (it holds some rows only, so its labels are added to the others).
async fn record_scene_labels(journal: &Journal, plan: &Plan, feedback: bool) -> anyhow::Result<()> {
    let fresh = manifest::scene_labels(&plan.videos);
    let old: Option<manifest::SceneLabels> = journal
        .meta(manifest::LABELS_META)?
        .and_then(|s| serde_json::from_str(&s).ok());
    let labels = match old {
        Some(mut old) if feedback => {
            old.extend(fresh);
            old
        }
        None if fresh.is_empty() => return Ok(()),
        _ => fresh,
    };
    journal
        .record(Change::Meta {
            key: manifest::LABELS_META.into(),
            value: serde_json::to_string(&labels)?,
        })
        .await?;
    Ok(())
}
