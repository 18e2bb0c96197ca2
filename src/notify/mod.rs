//! Telling people the night's run is done: `--notify URL` posts the run's summary when it
//! ends, as a Slack incoming-webhook message, a Microsoft Teams workflow card or plain JSON
//! ([`format`]); `--ping-url URL` follows the healthchecks.io convention ([`ping`]).
//!
//! A notification is a courtesy, never part of the run's outcome: a failed one is a warning,
//! the exit code stays the run's, every call has short timeouts, and a webhook URL (its path
//! is the webhook's secret) is shown in messages by its host only. The summary they carry is
//! the one printed on stdout, which never holds the API id or key.

pub mod format;
pub mod ping;

use std::time::Duration;

pub use format::Format;

/// How long connecting to a notification endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one notification may take in all.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What a notification says.
#[derive(Debug, Clone)]
pub struct Message {
    /// One line: the batch and its outcome.
    pub title: String,
    /// The summary's lines, as printed.
    pub lines: Vec<String>,
    /// The summary as the JSON event (`--log-format json`'s `summary`).
    pub event: serde_json::Value,
    /// The run's exit code.
    pub exit_code: i32,
}

/// A client for notifications: short timeouts, no retries (the next night's run is the
/// retry), no redirects to follow into somewhere else.
fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// A URL as messages may show it: scheme and host (and port), never the path or query,
/// where webhooks keep their secret.
pub fn shown(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{}://{h}:{p}/…", url.scheme()),
        (Some(h), None) => format!("{}://{h}/…", url.scheme()),
        _ => format!("{}:…", url.scheme()),
    }
}

/// Checks a `--notify` / `--ping-url` value: an http(s) URL.
pub fn parse_url(flag: &str, s: &str) -> Result<url::Url, String> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        _ => Err(format!("{flag} must be an http(s) URL")),
    }
}

/// Posts `message` to `url` in `format`. An error says why, without the URL's secret part.
pub async fn send(url: &url::Url, format: Format, message: &Message) -> Result<(), String> {
    let body = format::body(format, message);
    let resp = client()?
        .post(url.clone())
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("{}: {}", shown(url), without_url(&e)))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{} answered HTTP {}", shown(url), status.as_u16()))
    }
}

/// Posts the notification, logging a warning when it fails; never fails itself.
pub async fn notify(url: &url::Url, format: Format, message: &Message) {
    match send(url, format, message).await {
        Ok(()) => tracing::info!(to = %shown(url), "notification sent"),
        Err(e) => tracing::warn!(
            "the notification could not be sent ({e}); the run's outcome is unchanged"
        ),
    }
}

/// A reqwest error's words without the URL it carries.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut cause = String::new();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_keep_the_host_and_drop_the_secret_path() {
        let u = url::Url::parse("https://hooks.slack.com/services/T0/B0/SECRET?x=1").unwrap();
        assert_eq!(shown(&u), "https://hooks.slack.com/…");
        let u = url::Url::parse("http://127.0.0.1:9/p").unwrap();
        assert_eq!(shown(&u), "http://127.0.0.1:9/…");
        assert!(parse_url("--notify", "ftp://x").is_err());
        assert!(parse_url("--notify", "not a url").is_err());
    }
}
