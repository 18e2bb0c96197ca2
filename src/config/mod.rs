//! `pipeline.toml` → one validated [`Settings`].
//!
//! Loading is two steps, as in ripgrep's low/high arguments: the file is parsed into raw
//! sections that mirror it (`file.rs`, where unknown keys are refused with a did-you-mean
//! and every range is checked, all problems reported at once), then turned into typed
//! settings (`Duration`s, a parsed URL, checked `[defaults]` and `[columns]`) so that nothing
//! downstream parses strings again. The repository's commented `pipeline.toml` is the
//! documentation of every key, and a test holds it equal to [`Settings::default`].
//!
//! Secrets never live here: `[api]` names the environment variables that hold them.

mod defaults;
mod error;
mod file;
mod matrix;
mod raw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use defaults::{check_columns, check_defaults, check_ignore, split_defaults};
pub use error::{ConfigError, ConfigProblem};
pub use matrix::{check_matrix, MatrixSettings, DEFAULT_MAX_VIDEOS};

use crate::api::credits::SpeakingRate;

/// The file `Settings::load(None)` looks for in the working directory.
pub const DEFAULT_FILE: &str = "pipeline.toml";

/// Everything a run is configured with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where the API is and how to authenticate.
    pub api: ApiSettings,
    /// How hard to drive the API.
    pub limits: LimitSettings,
    /// How to retry calls that may succeed later.
    pub retry: RetrySettings,
    /// How to follow rendering jobs.
    pub poll: PollSettings,
    /// Where results go.
    pub output: OutputSettings,
    /// The speaking rate for duration and credit estimates.
    pub estimate: SpeakingRate,
    /// How the account's avatar and voice catalogue is kept.
    pub catalog: CatalogSettings,
    /// `[storage]`: how to reach an S3-compatible store for `--out s3://...` (no secrets).
    pub storage: crate::storage::StorageSettings,
    /// `[defaults]`: request fields applied under every row, nested like the request body.
    /// Video-level fields (`aspect_ratio`, `model_version`, `name`, `webhook_url`,
    /// `background_music`, `cta_end`) apply to the video; scene-level fields (`character`,
    /// `voice`, `background`, `caption_setting`, `transition_effect`, `visual_style`, `cta`)
    /// sit at the top of `[defaults]` too, like a sheet's headers, and apply to every scene.
    /// Values are already typed and in canonical form (see [`check_defaults`]).
    pub defaults: serde_json::Map<String, serde_json::Value>,
    /// `[columns]`: extra header aliases, header → dotted field path (or `key`, `video`, or
    /// a built-in alias).
    pub columns: BTreeMap<String, String>,
    /// `[columns] ignore`: headers of columns a team keeps for itself (`Status`, `Approved
    /// by`), left out of the plan; matched like headers (any case, spaces as `_`).
    pub columns_ignore: Vec<String>,
    /// `[matrix]`: the variants each row expands into, when given.
    pub matrix: Option<MatrixSettings>,
}

/// `[api]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    /// The API's root, `https://api.creatify.ai`.
    pub base_url: url::Url,
    /// Name of the environment variable holding the `X-API-ID`.
    pub id_env: String,
    /// Name of the environment variable holding the `X-API-KEY`.
    pub key_env: String,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request.
    pub request_timeout: Duration,
    /// Time allowed for one page of the account's job list.
    pub list_timeout: Duration,
    /// How long every call may find no server (refused, DNS, TLS) before the run ends, exit 7.
    pub unreachable: Duration,
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitSettings {
    /// Sustained API calls per second (all calls share one limiter).
    pub requests_per_second: f64,
    /// Calls allowed at once above the sustained rate.
    pub burst: u32,
    /// Jobs rendering at once (accounts have concurrency caps).
    pub max_in_flight: usize,
    /// The account's render cap, when the user knows it (`max_rendering`): never more jobs
    /// rendering at once, so the API never refuses a creation over it. Unset: learned.
    pub max_rendering: Option<usize>,
    /// Files downloading at once.
    pub download_concurrency: usize,
}

/// `[retry]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySettings {
    /// Tries per call, the first included.
    pub max_attempts: u32,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// Longest `Retry-After` obeyed; longer ones are capped to this.
    pub max_retry_after: Duration,
    /// How long a row whose POST had an ambiguous outcome is searched for in the account's
    /// job list before it may be submitted again.
    pub reconcile_window: Duration,
    /// How far the API's clock may be from ours, for proving a creation absent.
    pub clock_skew: Duration,
    /// How long creations may be refused with 429s, none getting through, before the run
    /// stops submitting (exit 7).
    pub max_throttled: Duration,
    /// Halt submission when the first this-many rows are refused with the same error
    /// (0: never).
    pub same_error_halt: u32,
}

/// `[poll]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PollSettings {
    /// Shortest wait between polls.
    pub min_interval: Duration,
    /// Longest wait between polls.
    pub max_interval: Duration,
    /// How long one job may render before the run gives up on it.
    pub job_deadline: Duration,
    /// Jobs asked for per call (`?ids=`, the API allows at most 100).
    pub batch_size: usize,
    /// Where to listen for the API's webhooks, if anywhere (see `engine::hooks`).
    pub webhook_listen: Option<std::net::SocketAddr>,
    /// The address the API calls to reach that listener (a path under it is added).
    pub webhook_url: Option<url::Url>,
}

/// `[output]`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSettings {
    /// The folder that holds one folder per batch.
    pub dir: PathBuf,
    /// Largest file a download may write.
    pub max_download_bytes: u64,
    /// Seconds between progress lines when not on a terminal.
    pub log_interval: Duration,
}

/// `[catalog]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogSettings {
    /// A cached catalogue older than this is fetched again.
    pub max_age: Duration,
    /// Where catalogues are cached; `None`: the user's cache folder
    /// (`$XDG_CACHE_HOME/creatify-batch`, else `~/.cache/creatify-batch`).
    pub cache_dir: Option<PathBuf>,
    /// Avatar or accent ids the catalogue does not list but the account can use (a cloned
    /// voice): accepted without a check.
    pub known_ids: Vec<String>,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(24 * 3600),
            cache_dir: None,
            known_ids: Vec::new(),
        }
    }
}

impl Default for Settings {
    /// The built-in defaults, equal to the repository's `pipeline.toml`.
    fn default() -> Self {
        let secs = Duration::from_secs;
        Self {
            api: ApiSettings {
                // A constant, not input: it parses (the tests load it).
                base_url: url::Url::parse(DEFAULT_BASE_URL).expect("constant URL"),
                id_env: "CREATIFY_API_ID".to_owned(),
                key_env: "CREATIFY_API_KEY".to_owned(),
                connect_timeout: secs(10),
                request_timeout: secs(30),
                list_timeout: secs(120),
                unreachable: secs(30),
            },
            limits: LimitSettings {
                requests_per_second: 5.0,
                burst: 10,
                max_in_flight: 10,
                max_rendering: None,
                download_concurrency: 4,
            },
            retry: RetrySettings {
                max_attempts: 6,
                min_delay: Duration::from_millis(500),
                max_delay: secs(30),
                max_retry_after: secs(60),
                reconcile_window: secs(120),
                clock_skew: secs(300),
                max_throttled: secs(900),
                same_error_halt: 3,
            },
            poll: PollSettings {
                min_interval: secs(2),
                max_interval: secs(30),
                job_deadline: secs(2 * 3600),
                batch_size: 100,
                webhook_listen: None,
                webhook_url: None,
            },
            output: OutputSettings {
                dir: PathBuf::from("out"),
                max_download_bytes: 2048 * 1024 * 1024,
                log_interval: secs(10),
            },
            estimate: SpeakingRate::default(),
            catalog: CatalogSettings::default(),
            storage: crate::storage::StorageSettings::default(),
            defaults: serde_json::Map::new(),
            columns: BTreeMap::new(),
            columns_ignore: Vec::new(),
            matrix: None,
        }
    }
}

/// The API's root URL.
pub const DEFAULT_BASE_URL: &str = "https://api.creatify.ai";

impl Settings {
    /// Loads `path`, or `./pipeline.toml` when `path` is `None` and that file exists, or
    /// the built-in defaults.
    pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from(DEFAULT_FILE);
                if !p.is_file() {
                    return Ok(Settings::default());
                }
                p
            }
        };
        let bytes = std::fs::read(&path).map_err(|source| ConfigError::Io {
            path: path.clone(),
            source,
        })?;
        let text = utf8(&bytes, &path)?;
        Self::from_toml(text, &path)
    }

    /// Parses a config file's text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Settings, ConfigError> {
        file::parse(text, origin)
    }
}

/// The file's text, or where it stops being UTF-8 and what it probably is.
fn utf8<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a str, ConfigError> {
    const SAVE: &str = "save the file as UTF-8 (TOML files are UTF-8; most editors offer it \
                        under Save As > Encoding)";
    let err = |at: usize, hint: String| ConfigError::NotUtf8 {
        path: path.to_path_buf(),
        line: 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64,
        byte: at as u64,
        hint,
    };
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(err(0, format!("the file is UTF-16; {SAVE}")));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let found = bytes.get(at).copied().unwrap_or_default();
        err(
            at,
            format!(
                "byte 0x{found:02X} is not UTF-8; the file was probably saved as Windows-1252 \
                 or Latin-1; {SAVE}"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO_FILE: &str = include_str!("../../pipeline.toml");

    #[test]
    fn repository_pipeline_toml_loads_and_equals_the_built_in_defaults() {
        let s = Settings::from_toml(REPO_FILE, Path::new("pipeline.toml")).unwrap();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn load_finds_the_working_directory_file_and_names_a_missing_one() {
        // Tests run in the package root, next to the repository's pipeline.toml.
        assert_eq!(Settings::load(None).unwrap(), Settings::default());
        let e = Settings::load(Some(Path::new("no/such/pipeline.toml"))).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("no/such/pipeline.toml: cannot read the config file"),
            "{e}"
        );
    }

    #[test]
    fn an_empty_file_means_the_defaults() {
        let s = Settings::from_toml("", Path::new("x.toml")).unwrap();
        assert_eq!(s, Settings::default());
    }
}
