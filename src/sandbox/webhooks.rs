//! Webhooks: when a job with a `webhook_url` turns terminal, POST
//! `{"id","status","failed_reason","output"}` to it, once, or twice under the
//! duplicate-webhook fault; never under the lost-webhook one; as the job starts running (its
//! `running_at` into the render), saying `done`, under the early-webhook one; `late_seconds`
//! after the job's end under the late one. Job states derive from time, so each delivery is
//! a timer set when the render starts (at creation, at `.../render/`, and for jobs replayed
//! from the journal).
//!
//! Only loopback hosts (`localhost`, 127.0.0.0/8, `::1`) are called: a sandbox must never
//! send traffic anywhere else. Other URLs are skipped and logged. No retries, as documented
//! for the real API: a webhook is a hint, and clients confirm with a GET.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::app::{now_ms, App};
use super::job::JobRecord;

/// Schedules the webhook of `job`'s current render, if it has one.
pub fn schedule(app: &Arc<App>, job: &JobRecord) {
    let Some(url) = job.webhook_url.clone() else {
        return;
    };
    if !is_loopback(&url) {
        tracing::warn!(
            job = %job.id,
            "sandbox skips a webhook: only loopback hosts (localhost, 127.0.0.1, ::1) receive webhooks"
        );
        app.counters.webhook(false);
        return;
    }
    let key = job.name.as_deref().unwrap_or(&job.id);
    if app.faults.lost_webhook(key) {
        app.counters.fault("lost_webhook");
        return;
    }
    let early = app.faults.early_webhook(key);
    let end = job.deadline_ms(app.settings.time_scale);
    // An early one comes as the job starts running, its `running_at` into the render.
    let deadline = if early {
        let now = now_ms();
        now + ((end - now).max(0) as f64 * job.running_at) as i64
    } else {
        end + (app.faults.faults().webhooks.late_seconds * 1000.0) as i64
    };
    let times = if app.faults.duplicate_webhook(key) {
        2
    } else {
        1
    };
    let id = job.id.clone();
    let app = app.clone();
    let mut shutdown = app.shutdown.clone();
    tokio::spawn(async move {
        let wait = Duration::from_millis((deadline - now_ms()).max(0) as u64);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        let Some(job) = app.job(&id) else { return };
        let now = now_ms();
        if !early && !job.snapshot(now, app.settings.time_scale).terminal {
            return;
        }
        let view = app.job_json(&job, now);
        let mut payload = json!({
            "id": view["id"],
            "status": view["status"],
            "failed_reason": view["failed_reason"],
            "output": view["output"],
        });
        if early {
            app.counters.fault("early_webhook");
            payload["status"] = json!(super::job::status_word(
                &crate::api::JobStatus::Done,
                &app.faults.faults().api
            ));
        }
        for n in 0..times {
            if n > 0 {
                app.counters.fault("duplicate_webhook");
            }
            let sent = app
                .webhook_client
                .post(&url)
                .json(&payload)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            let delivered = match sent {
                Ok(resp) => resp.status().is_success(),
                Err(e) => {
                    tracing::info!(job = %id, "sandbox webhook not delivered: {e}");
                    false
                }
            };
            app.counters.webhook(delivered);
        }
    });
}

/// Whether `url` is http(s) to a loopback host.
fn is_loopback(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_hosts_are_called() {
        for ok in [
            "http://127.0.0.1:9/hook",
            "http://localhost/x",
            "https://[::1]:8/",
            "http://127.8.0.1/",
        ] {
            assert!(super::is_loopback(ok), "{ok}");
        }
        for no in [
            "http://example.com/",
            "http://10.0.0.1/",
            "http://localhost.example.com/",
            "ftp://127.0.0.1/",
        ] {
            assert!(!super::is_loopback(no), "{no}");
        }
    }
}
