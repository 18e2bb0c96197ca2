//! What an API call can end in, and what the runner does about each kind.

use std::time::Duration;

/// What the runner does with an error (design.md, "Error classes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again later: 429, 5xx, network trouble, a garbled answer.
    Retryable,
    /// This row can't be rendered as it is: the API refused its body.
    Row,
    /// Credentials refused: stop the run (exit 5).
    Auth,
    /// Out of credits: stop submitting (exit 3).
    Credits,
}

/// A failed API call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The API answered with an error status.
    #[error("HTTP {status}: {detail}")]
    Status {
        /// The status code.
        status: u16,
        /// The API's message (DRF `detail` or field errors, flattened).
        detail: String,
    },
    /// 429 (or a refusal that speaks of the account's concurrent renders): slow down.
    #[error("throttled (HTTP 429), retry after {}s: {detail}", retry_after.as_secs_f64())]
    Throttled {
        /// How long every call now waits: the API's `Retry-After` (capped), or a backoff
        /// when it gave none.
        retry_after: Duration,
        /// What the API's `Retry-After` asked for, uncapped; `None` when it said nothing
        /// readable.
        asked: Option<Duration>,
        /// The API's message.
        detail: String,
    },
    /// A creation withdrawn before it was sent (the run is stopping): certainly not created.
    #[error("not sent: the run is stopping")]
    NotSent,
    /// No answer: refused, reset, timed out.
    #[error("network: {message}")]
    Network {
        /// What happened.
        message: String,
        /// False only when the request certainly never reached the server (connection refused).
        maybe_sent: bool,
    },
    /// An answer that is not the JSON we expect (an HTML error page, a truncated body).
    #[error("unreadable answer (HTTP {status}): {message}")]
    Decode {
        /// The status code.
        status: u16,
        /// What was wrong.
        message: String,
    },
}

impl ApiError {
    /// Whether this is a 429 over the account's render-concurrency cap (not over its request
    /// rate): the API's message speaks of concurrent renders.
    pub fn is_render_cap(&self) -> bool {
        matches!(self, Self::Throttled { detail, .. } if speaks_of_concurrency(detail))
    }

    /// Whether the call found no server at all (connection refused, DNS or TLS failure):
    /// certainly not sent, and a sign the API may be unreachable (see [`super::reach`]).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Self::Network {
                maybe_sent: false,
                ..
            }
        )
    }

    /// What the runner does about it.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Throttled { .. } | Self::Network { .. } | Self::Decode { .. } | Self::NotSent => {
                ErrorClass::Retryable
            }
            Self::Status { status, detail } => classify(*status, detail),
        }
    }
}

/// By meaning first: the API's status codes for these refusals are undocumented, and a 403
/// that says "you do not have enough credits" is not a key problem (exit 5), nor a 400 that
/// says so a problem of the row (every row failed).
fn classify(status: u16, detail: &str) -> ErrorClass {
    if status == 402 || ((400..500).contains(&status) && status != 401 && speaks_of_credits(detail))
    {
        return ErrorClass::Credits;
    }
    match status {
        401 | 403 => ErrorClass::Auth,
        408 | 425 | 429 | 500..=599 => ErrorClass::Retryable,
        _ => ErrorClass::Row,
    }
}

/// Whether an error message says the account is out of credits, in any of the ways APIs
/// put it ("Insufficient credits", "You do not have enough credits", "out of credits",
/// "credit balance too low", ...). "credit" never occurs in "credentials".
pub fn speaks_of_credits(detail: &str) -> bool {
    let lower = detail.to_lowercase();
    if !lower.contains("credit") {
        return false;
    }
    const SAYS_SHORT: &[&str] = &[
        "insufficient",
        "not enough",
        "enough credit",
        "out of credit",
        "no credits",
        "no remaining credit",
        "credits exhausted",
        "exhausted",
        "ran out",
        "run out",
        "too low",
        "exceed",
        "top up",
        "lack",
        "remaining credits: 0",
    ];
    SAYS_SHORT.iter().any(|p| lower.contains(p))
}

/// Whether an error message speaks of the account's cap on jobs rendering at once
/// ("Concurrent render limit reached", "too many concurrent jobs", "maximum number of
/// simultaneous renders"), whatever the status code it came with.
pub fn speaks_of_concurrency(detail: &str) -> bool {
    let lower = detail.to_lowercase();
    lower.contains("concurren")
        || lower.contains("simultaneous")
        || lower.contains("in parallel")
        || lower.contains("at the same time")
        || (lower.contains("already") && lower.contains("rendering"))
}

/// The message of an error body: DRF's `{"detail": ".."}`, or its field errors flattened to
/// `video_inputs[0].voice.input_text: This field may not be blank.`, or the start of a
/// non-JSON body.
pub fn detail_of(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) if map.get("detail").is_some_and(|d| d.is_string()) => {
            map["detail"].as_str().unwrap_or_default().to_owned()
        }
        Ok(v) => {
            let mut out = Vec::new();
            flatten(&v, String::new(), &mut out);
            if out.is_empty() {
                short(body)
            } else {
                out.join("; ")
            }
        }
        Err(_) => short(body),
    }
}

fn flatten(v: &serde_json::Value, path: String, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(v, p, out);
            }
        }
        Value::Array(items) if items.iter().all(|i| i.is_string()) => {
            let msgs: Vec<&str> = items.iter().filter_map(|i| i.as_str()).collect();
            out.push(format!("{path}: {}", msgs.join(" ")));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if !(item.is_object() && item.as_object().is_some_and(|o| o.is_empty())) {
                    flatten(item, format!("{path}[{i}]"), out);
                }
            }
        }
        Value::String(s) => out.push(if path.is_empty() {
            s.clone()
        } else {
            format!("{path}: {s}")
        }),
        other => out.push(format!("{path}: {other}")),
    }
}

/// A non-JSON body as a short excerpt for one log line: an HTML page (a proxy's or Django's
/// error page) as its title and first words, without markup; anything else as its first
/// 200 characters.
fn short(body: &str) -> String {
    if looks_like_html(body) {
        return html_excerpt(body);
    }
    let clean: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.is_empty() {
        "(empty body)".into()
    } else {
        clean
    }
}

fn looks_like_html(body: &str) -> bool {
    let start: String = body.trim_start().chars().take(15).collect();
    let start = start.to_ascii_lowercase();
    start.starts_with("<!doctype") || start.starts_with("<html") || start.starts_with("<head")
}

/// Longest HTML excerpt, in characters.
const HTML_EXCERPT: usize = 80;

fn html_excerpt(body: &str) -> String {
    // The text between tags, `<script>`/`<style>` contents aside.
    let mut text = String::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let tag_end = rest[open..].find('>').map_or(rest.len(), |e| open + e + 1);
        let tag = rest[open..tag_end].to_ascii_lowercase();
        rest = &rest[tag_end..];
        for skip in ["script", "style"] {
            if tag.starts_with(&format!("<{skip}")) {
                let close = format!("</{skip}");
                let at = rest.to_ascii_lowercase().find(&close).unwrap_or(rest.len());
                rest = &rest[at..];
            }
        }
        if text.len() > 4 * HTML_EXCERPT {
            rest = "";
            break;
        }
    }
    text.push_str(rest);
    let mut clean = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.chars().count() > HTML_EXCERPT {
        clean = clean.chars().take(HTML_EXCERPT).collect::<String>() + "…";
    }
    if clean.is_empty() {
        "an HTML page".into()
    } else {
        format!("an HTML page: {clean}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drf_field_errors_are_flattened_with_their_path() {
        let body =
            r#"{"video_inputs":[{},{"voice":{"input_text":["This field may not be blank."]}}]}"#;
        assert_eq!(
            detail_of(body),
            "video_inputs[1].voice.input_text: This field may not be blank."
        );
        assert_eq!(
            detail_of(r#"{"detail":"Invalid credentials."}"#),
            "Invalid credentials."
        );
        assert_eq!(
            detail_of("<html><body>Bad\nGateway</body></html>"),
            "an HTML page: Bad Gateway"
        );
        let page = format!(
            "<!doctype html>\n<html><head><title>Server Error</title><style>body{{x:1}}</style></head><body>{}</body></html>",
            "<p>lorem ipsum dolor</p>".repeat(200)
        );
        let d = detail_of(&page);
        assert!(
            d.starts_with("an HTML page: Server Error lorem ipsum"),
            "{d}"
        );
        assert!(
            d.chars().count() < 110 && !d.contains('<') && !d.contains("x:1"),
            "{d}"
        );
    }

    #[test]
    fn classes_follow_the_design() {
        let s = |status, detail: &str| ApiError::Status {
            status,
            detail: detail.into(),
        };
        assert_eq!(s(400, "x").class(), ErrorClass::Row);
        assert_eq!(s(401, "x").class(), ErrorClass::Auth);
        assert_eq!(s(402, "x").class(), ErrorClass::Credits);
        assert_eq!(
            s(400, "Insufficient credits: need 5").class(),
            ErrorClass::Credits
        );
        assert_eq!(s(503, "x").class(), ErrorClass::Retryable);
    }

    #[test]
    fn credits_are_read_by_meaning_whatever_the_status() {
        let s = |status, detail: &str| ApiError::Status {
            status,
            detail: detail.into(),
        };
        for (status, detail) in [
            (403, "You do not have enough credits"),
            (
                400,
                "non_field_errors: You do not have enough credits to create this video.",
            ),
            (400, "Not enough credits."),
            (403, "Your account is out of credits, please top up."),
            (409, "Credit balance too low for this request"),
            (402, "Payment required"),
        ] {
            assert_eq!(
                s(status, detail).class(),
                ErrorClass::Credits,
                "{status} {detail}"
            );
        }
        // Credentials are not credits, and a 401 is always the key.
        assert_eq!(s(403, "Invalid credentials.").class(), ErrorClass::Auth);
        assert_eq!(s(401, "Not enough credits").class(), ErrorClass::Auth);
        assert_eq!(
            s(400, "credit: This field is required.").class(),
            ErrorClass::Row
        );
    }

    #[test]
    fn concurrency_is_read_by_meaning() {
        assert!(speaks_of_concurrency(
            "Too many concurrent jobs for your plan"
        ));
        assert!(speaks_of_concurrency(
            "Maximum number of simultaneous renders reached"
        ));
        assert!(speaks_of_concurrency("2 videos are already rendering"));
        assert!(!speaks_of_concurrency(
            "video_inputs[0].voice.input_text: blank"
        ));
    }

    #[test]
    fn a_429_over_the_render_cap_is_told_from_one_over_the_rate() {
        let t = |detail: &str| ApiError::Throttled {
            retry_after: Duration::from_secs(1),
            asked: None,
            detail: detail.into(),
        };
        assert!(t("Concurrent render limit reached: 2 jobs are already rendering").is_render_cap());
        assert!(!t("Request was throttled. Expected available in 1 second.").is_render_cap());
        let status = ApiError::Status {
            status: 429,
            detail: "concurrency".into(),
        };
        assert!(!status.is_render_cap());
    }
}
