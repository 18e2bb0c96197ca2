//! The TOML file's shape: its sections, their keys, and raw structs that mirror them.
//!
//! Every section's keys are listed in [`SECTIONS`] so that an unknown key can be named with
//! its section and the closest known key; the raw structs still `deny_unknown_fields` as a
//! safety net, and a test holds the list equal to the repository's `pipeline.toml`.

use std::path::PathBuf;

use serde::Deserialize;

/// Every section and its keys (`defaults` and `columns` are free-form and checked apart).
pub const SECTIONS: &[(&str, &[&str])] = &[
    (
        "api",
        &[
            "base_url",
            "id_env",
            "key_env",
            "connect_timeout_secs",
            "request_timeout_secs",
            "list_timeout_secs",
            "unreachable_secs",
        ],
    ),
    (
        "limits",
        &[
            "requests_per_second",
            "burst",
            "max_in_flight",
            "max_rendering",
            "download_concurrency",
        ],
    ),
    (
        "retry",
        &[
            "max_attempts",
            "min_delay_secs",
            "max_delay_secs",
            "max_retry_after_secs",
            "reconcile_window_secs",
            "clock_skew_secs",
            "max_throttled_secs",
            "same_error_halt",
        ],
    ),
    (
        "poll",
        &[
            "min_interval_secs",
            "max_interval_secs",
            "job_deadline_secs",
            "batch_size",
            "webhook_listen",
            "webhook_url",
        ],
    ),
    ("output", &["dir", "max_download_mib", "log_interval_secs"]),
    ("estimate", &["words_per_second", "scene_allowance_secs"]),
    ("catalog", &["max_age_hours", "cache_dir", "known_ids"]),
    ("storage", &["endpoint", "region", "url_style"]),
    ("defaults", &[]),
    ("columns", &[]),
    ("matrix", &[]),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    pub base_url: Option<String>,
    pub id_env: Option<String>,
    pub key_env: Option<String>,
    pub connect_timeout_secs: Option<f64>,
    pub request_timeout_secs: Option<f64>,
    pub list_timeout_secs: Option<f64>,
    pub unreachable_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub requests_per_second: Option<f64>,
    pub burst: Option<u32>,
    pub max_in_flight: Option<usize>,
    pub max_rendering: Option<usize>,
    pub download_concurrency: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub max_attempts: Option<u32>,
    pub min_delay_secs: Option<f64>,
    pub max_delay_secs: Option<f64>,
    pub max_retry_after_secs: Option<f64>,
    pub reconcile_window_secs: Option<f64>,
    pub clock_skew_secs: Option<f64>,
    pub max_throttled_secs: Option<f64>,
    pub same_error_halt: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoll {
    pub min_interval_secs: Option<f64>,
    pub max_interval_secs: Option<f64>,
    pub job_deadline_secs: Option<f64>,
    pub batch_size: Option<usize>,
    pub webhook_listen: Option<String>,
    pub webhook_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub dir: Option<PathBuf>,
    pub max_download_mib: Option<u64>,
    pub log_interval_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEstimate {
    pub words_per_second: Option<f64>,
    pub scene_allowance_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCatalog {
    pub max_age_hours: Option<f64>,
    pub cache_dir: Option<PathBuf>,
    pub known_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub url_style: Option<String>,
}
