//! `--ping-url`: the healthchecks.io convention, also followed by Cronitor, Uptime Kuma and
//! others. `URL/start` when the run starts (so a run that never ends is noticed), then
//! `URL/<exit code>` when it ends (0 is success, anything else a failure), its body a short
//! excerpt of the run's log: the summary, or the error that ended it.

use super::{client, shown, without_url};

/// The most bytes of log excerpt sent (healthchecks.io keeps 100 kB; an excerpt is short).
const EXCERPT_BYTES: usize = 10_000;

/// Pings `base/start`; a warning when it fails.
pub async fn start(base: &url::Url) {
    if let Err(e) = post(base, "start", String::new()).await {
        tracing::warn!("the start ping could not be sent ({e}); the run goes on");
    }
}

/// Pings `base/<code>` with `excerpt`; a warning when it fails.
pub async fn finish(base: &url::Url, code: i32, excerpt: &str) {
    let mut body = excerpt.to_owned();
    if body.len() > EXCERPT_BYTES {
        let mut cut = EXCERPT_BYTES;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        body.push_str("\n…");
    }
    match post(base, &code.to_string(), body).await {
        Ok(()) => tracing::debug!(to = %shown(base), code, "end ping sent"),
        Err(e) => tracing::warn!(
            "the end ping could not be sent ({e}); the run's exit code ({code}) is unchanged"
        ),
    }
}

/// `base` with `/what` appended to its path (its query kept).
pub fn endpoint(base: &url::Url, what: &str) -> url::Url {
    let mut u = base.clone();
    let path = format!("{}/{what}", u.path().trim_end_matches('/'));
    u.set_path(&path);
    u
}

async fn post(base: &url::Url, what: &str, body: String) -> Result<(), String> {
    let url = endpoint(base, what);
    let resp = client()?
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{}: {}", shown(base), without_url(&e)))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "{} answered HTTP {}",
            shown(base),
            resp.status().as_u16()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_go_under_the_check_url() {
        let b = url::Url::parse("https://hc-ping.com/1234-abcd").unwrap();
        assert_eq!(
            endpoint(&b, "start").as_str(),
            "https://hc-ping.com/1234-abcd/start"
        );
        let b = url::Url::parse("http://127.0.0.1:9/ping/x/?rid=1").unwrap();
        assert_eq!(
            endpoint(&b, "3").as_str(),
            "http://127.0.0.1:9/ping/x/3?rid=1"
        );
    }
}
