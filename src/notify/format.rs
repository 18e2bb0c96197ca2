//! The shapes a notification takes: Slack's incoming-webhook message (`text` plus `blocks`),
//! a Microsoft Teams workflow ("Post to a channel when a webhook request is received") card
//! (an Adaptive Card in a `message` envelope), or the plain JSON summary event.

use clap::ValueEnum;
use serde_json::{json, Value};

use super::Message;

/// A notification's shape (`--notify-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Chosen from the URL's host: Slack for hooks.slack.com, Teams for Microsoft's
    /// workflow and webhook hosts, JSON otherwise.
    Auto,
    /// A Slack incoming-webhook message.
    Slack,
    /// A Microsoft Teams workflow message with an Adaptive Card.
    Teams,
    /// The summary event as plain JSON.
    Json,
}

impl Format {
    /// `Auto` decided by `url`'s host; any other format as it is.
    pub fn for_url(self, url: &url::Url) -> Format {
        if self != Format::Auto {
            return self;
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if host == "hooks.slack.com" || host.ends_with(".slack.com") {
            Format::Slack
        } else if host.ends_with(".webhook.office.com")
            || host.ends_with(".logic.azure.com")
            || host.ends_with(".powerplatform.com")
            || host.ends_with(".powerautomate.com")
        {
            Format::Teams
        } else {
            Format::Json
        }
    }
}

/// The request body for `message` in `format` (`Auto` is JSON: decide it with
/// [`Format::for_url`] first).
pub fn body(format: Format, m: &Message) -> Value {
    match format {
        Format::Slack => json!({
            "text": m.title,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{}*", m.title)}},
                {"type": "section", "text": {"type": "mrkdwn", "text": m.lines.join("\n")}},
            ],
        }),
        Format::Teams => {
            let mut items = vec![json!({
                "type": "TextBlock", "text": m.title, "weight": "Bolder", "size": "Medium",
                "wrap": true,
            })];
            items.extend(
                m.lines
                    .iter()
                    .map(|l| json!({"type": "TextBlock", "text": l, "wrap": true})),
            );
            json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": items,
                    },
                }],
            })
        }
        Format::Json | Format::Auto => {
            let mut e = m.event.clone();
            if let Some(o) = e.as_object_mut() {
                o.insert("title".into(), json!(m.title));
                o.insert("lines".into(), json!(m.lines));
            }
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            title: "tonight: exit 0".into(),
            lines: vec!["3 videos".into(), "done".into()],
            event: json!({"event": "summary", "exit_code": 0}),
            exit_code: 0,
        }
    }

    #[test]
    fn the_format_is_guessed_from_the_host() {
        let f = |u: &str| Format::Auto.for_url(&url::Url::parse(u).unwrap());
        assert_eq!(f("https://hooks.slack.com/services/a/b/c"), Format::Slack);
        assert_eq!(
            f("https://acme.webhook.office.com/webhookb2/x"),
            Format::Teams
        );
        assert_eq!(
            f("https://prod-1.westus.logic.azure.com:443/workflows/x"),
            Format::Teams
        );
        assert_eq!(f("http://127.0.0.1:9/hook"), Format::Json);
        assert_eq!(
            Format::Slack.for_url(&url::Url::parse("http://127.0.0.1/").unwrap()),
            Format::Slack
        );
    }

    #[test]
    fn each_shape_carries_the_summary() {
        let m = message();
        let s = body(Format::Slack, &m);
        assert_eq!(s["text"], "tonight: exit 0");
        assert!(s["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("3 videos"));
        let t = body(Format::Teams, &m);
        assert_eq!(t["type"], "message");
        let card = &t["attachments"][0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["body"][1]["text"], "3 videos");
        let j = body(Format::Json, &m);
        assert_eq!(j["exit_code"], 0);
        assert_eq!(j["lines"][1], "done");
    }
}
