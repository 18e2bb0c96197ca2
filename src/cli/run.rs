//! `creatify-batch run`: plan, lock, sync the journal, check the budget, then hand over to the
//! engine; keep the manifest fresh while it works and rebuild it at the end.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::mpsc;

use crate::api::{ApiClient, ClientConfig, Credentials, ErrorClass};
use crate::config::Settings;
use crate::engine::{self, reference::payload_hash, EngineConfig, HaltAfter};
use crate::exit::ExitCode;
use crate::journal::{BatchLock, Change, Journal, LockError, Row, SHEET_META};
use crate::output::{self, manifest};
use crate::plan::{self, Plan};
use crate::progress::{Bars, LogLines, Reporter, Silent};

use super::{invalid, Global, RunArgs};

/// How often the manifest is rewritten while the run goes on.
const MANIFEST_EVERY: Duration = Duration::from_secs(5);

pub(super) async fn run(args: RunArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return invalid(e),
    };
    if let Some(out) = &args.out {
        settings.output.dir = out.clone();
    }
    if let Some(url) = &args.base_url {
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => settings.api.base_url = u,
            _ => return invalid(format!("--base-url {url:?} is not an http(s) URL")),
        }
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
    let plan = match plan::plan_file(&args.sheet, &settings) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("nothing was submitted; fix the sheet and run again");
            return Ok(ExitCode::InvalidInput);
        }
    };
    let credentials = if args.sandbox {
        sandbox_credentials(&settings)
    } else {
        match Credentials::from_env(&settings.api.id_env, &settings.api.key_env) {
            Ok(c) => c,
            Err(e) => return invalid(e),
        }
    };

    let batch = output::batch_name(&args.sheet);
    let batch_dir = settings.output.dir.join(&batch);
    std::fs::create_dir_all(&batch_dir)
        .with_context(|| format!("cannot create the output folder {}", batch_dir.display()))?;
    let _lock = match BatchLock::acquire(&batch_dir) {
        Ok(l) => l,
        Err(e @ LockError::Busy { .. }) => return invalid(e),
        Err(e) => return Err(e.into()),
    };

    // The in-process sandbox keeps its jobs in the batch folder, so a rerun after a crash
    // meets the same jobs, as it would with the real service.
    let sandbox = if args.sandbox {
        let mut cfg = crate::sandbox::SandboxConfig::for_tests();
        cfg.options.time_scale = args.sandbox_time_scale;
        cfg.options.state_dir = Some(batch_dir.join(".sandbox"));
        let [id, key] = credentials.secrets();
        cfg.credentials = crate::sandbox::Credentials {
            api_id: id.to_owned(),
            api_key: key.to_owned(),
            from_environment: true,
        };
        let sb = crate::sandbox::Sandbox::start(cfg)
            .await
            .context("cannot start the in-process sandbox")?;
        settings.api.base_url = url::Url::parse(&sb.base_url())?;
        tracing::info!(url = %sb.base_url(), "sandbox started in-process; no credits are spent");
        Some(sb)
    } else {
        None
    };

    let client = Arc::new(ApiClient::new(client_config(&settings), &credentials)?);
    let journal = Arc::new(Journal::open(&batch_dir)?);
    let shape = manifest::SheetShape {
        delimiter: plan.format.delimiter,
        headers: plan.format.headers.clone(),
    };
    journal
        .record(Change::Meta {
            key: SHEET_META.into(),
            value: serde_json::to_string(&shape)?,
        })
        .await?;
    let keys: Vec<String> = plan.videos.iter().map(|v| v.key.clone()).collect();
    // The plan is consumed row by row as the journal takes it, and gone before the run starts.
    let report = engine::sync::sync(&journal, journal_rows(plan), args.retry_failed).await?;
    // The plan is gone: without this, a 100k-row run would hold the plan's peak and then
    // the engine's on top of it.
    crate::memory::release_freed();
    for (key, state) in &report.changed_after_submit {
        tracing::warn!(%key, %state, "row changed in the sheet after it was submitted; not sent again (give it a new key to render the new version)");
    }
    if report.retried > 0 {
        tracing::info!(
            rows = report.retried,
            "failed rows will be submitted again (--retry-failed)"
        );
    }

    if let Some(code) = check_budget(&journal, &client, args.max_credits).await? {
        write_reports(&journal, &batch_dir, &batch)?;
        return Ok(code);
    }

    let (interrupt_tx, interrupt_rx) = mpsc::unbounded_channel();
    tokio::spawn(watch_signals(interrupt_tx));
    let refresher = tokio::spawn(refresh_reports(
        journal.clone(),
        batch_dir.clone(),
        batch.clone(),
    ));

    let mut reporter: Box<dyn Reporter> = if global.quiet {
        Box::new(Silent)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bars::new(keys.len()))
    } else {
        Box::new(LogLines::new(settings.output.log_interval))
    };
    let cfg = engine_config(&settings, &batch, &batch_dir, args.max_credits, halt_after);
    let result = engine::run(
        cfg,
        keys,
        client.clone(),
        journal.clone(),
        reporter.as_mut(),
        interrupt_rx,
    )
    .await;
    reporter.finish();
    refresher.abort();
    let reports = write_reports(&journal, &batch_dir, &batch);
    let (code, summary) = result.context(
        "the journal could not record the run's progress; what was recorded is safe: fix the \
         cause and rerun to resume",
    )?;
    reports?;
    if let Some(sb) = sandbox {
        sb.shutdown().await;
    }
    print_summary(&summary, code, started.elapsed(), &batch_dir);
    Ok(code)
}

fn sandbox_credentials(settings: &Settings) -> Credentials {
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

fn client_config(s: &Settings) -> ClientConfig {
    ClientConfig {
        base_url: s.api.base_url.clone(),
        connect_timeout: s.api.connect_timeout,
        request_timeout: s.api.request_timeout,
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
        max_submitting: engine::max_submitting(s.limits.requests_per_second, s.limits.burst),
        download_concurrency: s.limits.download_concurrency,
        poll_min: s.poll.min_interval,
        poll_max: s.poll.max_interval,
        poll_batch: s.poll.batch_size,
        job_deadline: s.poll.job_deadline,
        // A POST can still be creating its job until its timeout passes; looking for it any
        // sooner could send it twice.
        reconcile_window: s.retry.reconcile_window.max(s.api.request_timeout),
        max_download_bytes: s.output.max_download_bytes,
        max_attempts: s.retry.max_attempts,
        min_delay: s.retry.min_delay,
        max_delay: s.retry.max_delay,
        max_credits,
        halt_after,
        max_throttled: s.retry.max_throttled,
        same_error_halt: s.retry.same_error_halt,
    }
}

/// Refuses the run (exit 3) when what is left to send cannot fit the budget or the account's
/// credits; exit 5 when the credentials are refused.
async fn check_budget(
    journal: &Journal,
    client: &ApiClient,
    max_credits: Option<f64>,
) -> anyhow::Result<Option<ExitCode>> {
    let needed = journal.credits_in(crate::journal::RowState::Planned)?;
    if needed == 0.0 {
        return Ok(None);
    }
    if let Some(cap) = max_credits {
        if needed > cap {
            eprintln!(
                "error: the rows left to submit are estimated at {needed} credits, over --max-credits {cap}; nothing was submitted"
            );
            return Ok(Some(ExitCode::Budget));
        }
    }
    match client.remaining_credits().await {
        Ok(remaining) if needed > remaining => {
            eprintln!(
                "error: the rows left to submit are estimated at {needed} credits, but the account has {remaining}; nothing was submitted"
            );
            Ok(Some(ExitCode::Budget))
        }
        Ok(remaining) => {
            tracing::info!(needed, remaining, "credits check passed");
            Ok(None)
        }
        Err(e) if e.class() == ErrorClass::Auth => {
            eprintln!("error: the API refused the credentials: {e}");
            Ok(Some(ExitCode::Auth))
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the account's credits; going on, the API will refuse what does not fit");
            Ok(None)
        }
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
async fn refresh_reports(journal: Arc<Journal>, batch_dir: std::path::PathBuf, batch: String) {
    let mut wait = MANIFEST_EVERY;
    loop {
        tokio::time::sleep(wait).await;
        let (j, d, b) = (journal.clone(), batch_dir.clone(), batch.clone());
        let started = Instant::now();
        let r = tokio::task::spawn_blocking(move || write_reports(&j, &d, &b)).await;
        if let Ok(Err(e)) = r {
            tracing::warn!(error = %e, "could not refresh the manifest");
        }
        wait = MANIFEST_EVERY.max(started.elapsed() * 10);
    }
}

/// Rewrites every report from one consistent view of the journal, streaming its rows.
fn write_reports(journal: &Journal, batch_dir: &Path, batch: &str) -> anyhow::Result<()> {
    let view = journal.view()?;
    let mut counts = crate::progress::Counts::default();
    for (state, n) in view.counts()? {
        counts.total += n;
        counts.add_n(state, n);
    }
    let m = manifest::Manifest {
        batch,
        counts,
        sheet: view
            .meta(SHEET_META)?
            .and_then(|s| serde_json::from_str(&s).ok()),
    };
    manifest::write_all(batch_dir, &m, |f| {
        view.for_each_row(|row| f(&row).map_err(anyhow::Error::from))
    })
    .with_context(|| format!("cannot write the manifest in {}", batch_dir.display()))
}

fn print_summary(s: &engine::Summary, code: ExitCode, wall: Duration, dir: &Path) {
    let c = &s.counts;
    println!(
        "{} rows: {} downloaded, {} failed, {} rejected, {} rendering, {} not submitted",
        c.total,
        c.downloaded,
        c.failed,
        c.rejected,
        c.submitted + c.submitting + c.done,
        c.planned
    );
    println!(
        "credits: {} estimated for this run's submissions, {} used by the batch's jobs",
        s.credits_estimated, s.credits_used
    );
    println!(
        "{} API calls ({} creations, {} throttled) in {:.1} s; output in {}",
        s.api_calls,
        s.posts,
        s.throttled,
        wall.as_secs_f64(),
        dir.display()
    );
    if let Some(why) = &s.stopped {
        println!("stopped submitting: {why}");
    }
    for (status, n) in &s.unknown_statuses {
        println!(
            "{n} job{} in an unknown status '{status}': this client does not know that word;              check them in your Creatify account (a rerun polls them again)",
            if *n == 1 { "" } else { "s" }
        );
    }
    if s.past_deadline > 0 {
        println!(
            "{} jobs still rendering past their deadline; run again to resume",
            s.past_deadline
        );
    }
    if code != ExitCode::Success {
        println!("exit code {}", code.code());
    }
}
