//! The command line: raw flags (clap) in, one validated [`crate::config::Settings`] per
//! command, then the command's glue. Flags win over `--config` (or `./pipeline.toml`), which
//! wins over the built-in defaults. `anyhow` lives here and in `main`, nowhere deeper.

mod account;
mod announce;
mod budget;
mod catalog;
mod init;
mod input;
mod plan;
mod resolve;
mod review;
mod run;
mod status;
mod summary;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::{ExitCode, EXIT_CODES_HELP};

/// Turn a spreadsheet of ad scripts into finished AI-avatar videos through Creatify's API,
/// each row rendered exactly once, resumable by running the same command again.
#[derive(Debug, Parser)]
#[command(name = "creatify-batch", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// More detail in logs (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only warnings and errors; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read and validate a sheet, print each video's request summary and credit estimate.
    /// Avatar and voice ids are checked against the account's catalogue when one is cached
    /// or credentials are set (--offline: never fetch); a sheet given by its link is
    /// fetched. Nothing is created. Exit 0 when every row is valid, 2 otherwise.
    Plan(PlanArgs),
    /// Submit, poll and download a whole batch, exactly once; rerun to resume.
    #[command(after_help = EXIT_CODES_HELP)]
    Run(RunArgs),
    /// Show where a batch stands, from its journal, without touching the network.
    Status(StatusArgs),
    /// Settle rows whose creation cannot be proven (`unknown`): look for their jobs in the
    /// account again, or record what you found (--created KEY=JOB_ID, --not-created KEY).
    /// Exit 0 when nothing is left unknown, 8 otherwise.
    Resolve(ResolveArgs),
    /// Approve rows' current previews (`run --preview` made them): `run --render-approved`
    /// renders them. A row changed in the sheet since its preview is refused. Exit 0 when
    /// every key was recorded, 2 otherwise.
    Approve(review::VerdictArgs),
    /// Reject rows' current previews: they are not rendered; edit the row in the sheet and
    /// `run --preview` makes a new preview. Exit 0 when every key was recorded, 2 otherwise.
    Reject(review::VerdictArgs),
    /// List the account's avatars (GET /api/personas/): the ids a sheet's avatar column
    /// takes. Cached per account; --refresh fetches again.
    Avatars(AvatarsArgs),
    /// List the account's voices, one row per accent (GET /api/voices/): the ids a sheet's
    /// voice column takes. Cached per account; --refresh fetches again.
    Voices(VoicesArgs),
    /// Start a project in DIR (default: here): a commented pipeline.toml and a starter
    /// batch.csv with real ids from the account's catalogue (or the sandbox's). Never
    /// overwrites a file.
    Init(InitArgs),
    /// Start the simulated Creatify API on 127.0.0.1 (for rehearsals and tests).
    Sandbox(SandboxArgs),
}

/// Which API a catalogue is read from.
#[derive(Debug, Args)]
pub struct AccountArgs {
    /// The config file (default: ./pipeline.toml if present, else built-in defaults).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The sandbox's catalogue (no account needed).
    #[arg(long, conflicts_with = "base_url")]
    pub sandbox: bool,
    /// The API's base URL (overrides [api] base_url).
    #[arg(long, env = "CREATIFY_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Fetch the catalogue again even if the cached one is fresh.
    #[arg(long)]
    pub refresh: bool,
}

/// `avatars`.
#[derive(Debug, Args)]
pub struct AvatarsArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub account: AccountArgs,
    /// Only these ages: child, teen, adult, senior; comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "AGE[,AGE...]")]
    pub age: Vec<String>,
    /// Only these styles: selfie, presenter, other; comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "STYLE[,STYLE...]")]
    pub style: Vec<String>,
    /// Only these locations: outdoor, fantasy, indoor, other; comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "LOC[,LOC...]")]
    pub location: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub list: ListArgs,
}

/// `voices`.
#[derive(Debug, Args)]
pub struct VoicesArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub account: AccountArgs,
    /// Only accents whose accent or voice name contains one of these texts (any case), e.g.
    /// `british` or `spanish,german`.
    #[arg(long, value_delimiter = ',', value_name = "TEXT[,TEXT...]")]
    pub accent: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub list: ListArgs,
}

/// What `avatars` and `voices` share: the gender and name filters, and the output format.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these genders: m, f, nb (or male, female, non-binary); comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "G[,G...]")]
    pub gender: Vec<String>,
    /// Only entries whose name (the person's, or the voice's) contains this text (any case).
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Print CSV (to paste into a sheet).
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder to start in (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Take the starter sheet's ids from the sandbox even when credentials are set.
    #[arg(long, conflicts_with = "base_url")]
    pub sandbox: bool,
    /// The API's base URL, for the account's ids (overrides [api] base_url).
    #[arg(long, env = "CREATIFY_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
}

/// `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The sheet: a CSV file (`,` `;` or tab, UTF-8), a workbook (.xlsx, .xls, .xlsb,
    /// .ods), or an https:// link (a Google Sheets tab, or a CSV or workbook file).
    pub sheet: PathBuf,
    /// The workbook's tab to read (default: the first).
    #[arg(long = "sheet", value_name = "NAME")]
    pub tab: Option<String>,
    /// The config file (default: ./pipeline.toml if present, else built-in defaults).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the exact request bodies (one JSON object per line) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// The batch's name, as given to `run --batch` (it is part of each job's reference).
    #[arg(long, value_name = "NAME")]
    pub batch: Option<String>,
    /// Check ids against the sandbox's catalogue (as `run --sandbox` will).
    #[arg(long, conflicts_with = "base_url")]
    pub sandbox: bool,
    /// The API's base URL (overrides [api] base_url), for the catalogue.
    #[arg(long, env = "CREATIFY_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Never fetch the catalogue: check ids against the cached one only, if any.
    #[arg(long, conflicts_with = "refresh")]
    pub offline: bool,
    /// Fetch the catalogue again even if the cached one is fresh.
    #[arg(long)]
    pub refresh: bool,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The sheet: a CSV file (`,` `;` or tab, UTF-8), a workbook (.xlsx, .xls, .xlsb,
    /// .ods), or an https:// link (a Google Sheets tab, or a CSV or workbook file), fetched
    /// fresh on every run and kept in the batch folder (sheet/).
    pub sheet: PathBuf,
    /// The workbook's tab to read (default: the first).
    #[arg(long = "sheet", value_name = "NAME")]
    pub tab: Option<String>,
    /// The config file (default: ./pipeline.toml if present, else built-in defaults).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run against a simulated API inside this process: no account, no credits spent.
    #[arg(long, conflicts_with = "base_url")]
    pub sandbox: bool,
    /// The API's base URL (overrides [api] base_url), e.g. a `creatify-batch sandbox`.
    #[arg(long, env = "CREATIFY_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// The output folder (overrides [output] dir); the batch goes to OUT/<batch>/, or
    /// OUT/sandbox/<batch>/ with --sandbox. Or object storage, `s3://BUCKET/PREFIX` (also
    /// `gs://`, `az://`; `file://` is a folder): the files go to PREFIX/<batch>/ there and
    /// the journal stays in [output] dir/<batch>/ (see [storage] in pipeline.toml).
    #[arg(long, value_name = "DIR|URL")]
    pub out: Option<String>,
    /// The batch's name (default: the sheet's file name without extension; a sheet inside a
    /// batch folder, e.g. its failed.csv, belongs to that batch).
    #[arg(long, value_name = "NAME")]
    pub batch: Option<String>,
    /// Submit again the rows whose jobs failed or were rejected (with a new reference).
    #[arg(long)]
    pub retry_failed: bool,
    /// Render again, as new jobs, the rows changed in the sheet since their video was made
    /// (`changed`), or these rows (`KEY[,KEY...]`); their previous files are kept as
    /// `video.1.mp4`, `thumbnail.1.jpg`, `job.1.json`. Counted in the budget like any row.
    #[arg(long, value_name = "changed|KEY[,KEY...]")]
    pub rerender: Option<String>,
    /// Refuse to start if the batch's estimate exceeds N credits, and never spend more.
    #[arg(long, value_name = "N")]
    pub max_credits: Option<f64>,
    /// Stop submitting after N failed rows, or N% of the batch ("5" or "10%").
    #[arg(long, value_name = "N|N%")]
    pub halt_after_failures: Option<String>,
    /// Post the run's summary to this URL when it ends (a Slack incoming webhook, a Teams
    /// workflow, or any URL taking JSON). A failed post is a warning; the exit code stays.
    #[arg(
        long,
        value_name = "URL",
        env = "CREATIFY_BATCH_NOTIFY",
        hide_env_values = true
    )]
    pub notify: Option<String>,
    /// The shape of --notify's message (auto: from the URL's host).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = crate::notify::Format::Auto)]
    pub notify_format: crate::notify::Format,
    /// Ping a healthchecks.io-style check: URL/start when the run starts, URL/<exit code>
    /// with a short log excerpt when it ends. A failed ping is a warning.
    #[arg(
        long,
        value_name = "URL",
        env = "CREATIFY_BATCH_PING_URL",
        hide_env_values = true
    )]
    pub ping_url: Option<String>,
    /// With --sandbox: how many times faster than real time the sandbox renders.
    #[arg(long, value_name = "N", default_value_t = 60.0, requires = "sandbox")]
    pub sandbox_time_scale: f64,
    /// Fetch the avatar and voice catalogue again before checking the sheet's ids, even if
    /// the cached one is fresh.
    #[arg(long)]
    pub refresh: bool,
    /// Make previews (1 credit / 30 s) instead of final videos, for review; rows rejected
    /// and then edited in the sheet are previewed again (with --retry-failed, failed ones
    /// too). Exit 0 once every row's preview is ready.
    #[arg(long, conflicts_with_all = ["render_approved", "rerender"])]
    pub preview: bool,
    /// Render exactly the approved previews (4 credits / 30 s), nothing else, then download
    /// them. Exit 0 only when every approved row is downloaded.
    #[arg(long, conflicts_with_all = ["rerender", "retry_failed"])]
    pub render_approved: bool,
    /// Record the verdicts of an approvals.csv (key,reference,approve; downloaded from the
    /// report) before the run.
    #[arg(long, value_name = "FILE")]
    pub approvals: Option<PathBuf>,
}

/// Where a command finds a batch from a sheet or an output folder, as `run` puts it
/// (`status`, `approve`, `reject`).
#[derive(Debug, Clone, Args)]
pub struct BatchLocation {
    /// The config file, for the default output folder.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The output folder (overrides [output] dir), where the sheet's batch is looked for
    /// (given a bucket, `s3://...`, the batch's journal is in [output] dir, where `run` keeps
    /// it).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The batch by name (OUT/NAME/), as given to `run --batch`.
    #[arg(long, value_name = "NAME")]
    pub batch: Option<String>,
    /// The sheet's rehearsal (OUT/sandbox/<batch>/), as made by `run --sandbox`.
    #[arg(long)]
    pub sandbox: bool,
}

/// `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The sheet (finds its batch as `run` would), the batch folder (OUT/<batch>), or the
    /// output folder when it holds one batch.
    pub dir: Option<PathBuf>,
    /// Where the batch is looked for.
    #[command(flatten)]
    pub at: BatchLocation,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `resolve`.
#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The batch folder (OUT/<batch>, or OUT/sandbox/<batch> for a rehearsal).
    pub dir: PathBuf,
    /// The config file (default: ./pipeline.toml if present, else built-in defaults).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The API's base URL, when it differs from the one the batch recorded.
    #[arg(long, env = "CREATIFY_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// This row's job is JOB_ID (found in the account): the next run polls and downloads it.
    #[arg(long, value_name = "KEY=JOB_ID")]
    pub created: Vec<String>,
    /// This row's job was not created (checked in the account): the next run sends it.
    #[arg(long, value_name = "KEY")]
    pub not_created: Vec<String>,
}

/// `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub options: crate::sandbox::SandboxOptions,
}

/// Runs the command line; returns the process's exit code.
pub fn main() -> i32 {
    crate::memory::few_arenas();
    let cli = Cli::parse();
    init_logging(&cli.global);
    if matches!(
        cli.command,
        Command::Status(_) | Command::Plan(_) | Command::Avatars(_) | Command::Voices(_)
    ) {
        // Commands that only print end quietly when their reader does (`status | head`),
        // as Unix tools do, instead of panicking on a broken pipe. Not `run`: a closed pipe
        // must not stop a batch.
        // SAFETY: called once, before any thread is started; SIG_DFL is a valid disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::RowsFailed.code();
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Plan(a) => plan::plan(a).await,
            Command::Avatars(a) => catalog::avatars(a).await,
            Command::Voices(a) => catalog::voices(a).await,
            Command::Init(a) => init::init(a).await,
            Command::Run(a) => announce::run(a, &cli.global).await,
            Command::Status(a) => status::status(a),
            Command::Resolve(a) => resolve::resolve(a).await,
            Command::Approve(a) => review::verdict(a, crate::review::Verdict::Approved).await,
            Command::Reject(a) => review::verdict(a, crate::review::Verdict::Rejected).await,
            Command::Sandbox(a) => crate::sandbox::run_cli(a.options, a.port)
                .await
                .map(|()| ExitCode::Success),
        }
    });
    match result {
        Ok(code) => code.code(),
        Err(e) => {
            say_error(format!("{e:#}"));
            ExitCode::RowsFailed.code()
        }
    }
}

/// Whether logs are JSON lines (`--log-format json`): errors printed before or outside the
/// run are then JSON events too, so a cron job's log file stays all JSON.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The last error printed for the user, for `--ping-url`'s log excerpt.
static LAST_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// The last error [`say_error`] printed.
fn last_error() -> Option<String> {
    LAST_ERROR.lock().ok().and_then(|e| e.clone())
}

/// Prints an error for the user: `error: ...` on stderr, or a JSON error event there.
fn say_error(message: impl std::fmt::Display) {
    if let Ok(mut last) = LAST_ERROR.lock() {
        *last = Some(message.to_string());
    }
    if JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::error!("{message}");
    } else {
        eprintln!("error: {message}");
    }
}

fn init_logging(g: &Global) {
    JSON_LOGS.store(
        g.log_format == LogFormat::Json,
        std::sync::atomic::Ordering::Relaxed,
    );
    use tracing_subscriber::EnvFilter;
    let level = match (g.quiet, g.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_env("CREATIFY_BATCH_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("creatify_batch={level},warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::progress::LogWriter)
        .with_target(false);
    let _ = match g.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// Prints an error of bad input and returns exit code 2.
fn invalid(message: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    say_error(message);
    Ok(ExitCode::InvalidInput)
}

/// The batch folder `dir`, locked for a command that writes its journal (`resolve`,
/// `approve`, `reject`); or exit 2, said, when it is not one or another run holds it.
fn lock_batch(
    dir: &std::path::Path,
) -> anyhow::Result<Result<crate::journal::BatchLock, ExitCode>> {
    use crate::journal::{BatchLock, LockError};
    if !dir.join(crate::journal::FILE_NAME).is_file() {
        return invalid(format!(
            "{} is not a batch folder (it has no {}); give the folder a run wrote, e.g. out/<batch>",
            dir.display(),
            crate::journal::FILE_NAME
        ))
        .map(Err);
    }
    match BatchLock::acquire(dir) {
        Ok(l) => Ok(Ok(l)),
        Err(e @ LockError::Busy { .. }) => invalid(e).map(Err),
        Err(e) => Err(e.into()),
    }
}
