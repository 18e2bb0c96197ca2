//! `run --notify` and `--ping-url`: the run wrapped in its announcements. The start ping
//! goes before anything else, the end ping and the notification after everything else, with
//! the run's exit code and summary (or the error that ended it). They never change the exit
//! code ([`crate::notify`]).

use crate::exit::ExitCode;
use crate::notify::{self, Message};

use super::{invalid, last_error, Global, RunArgs};

/// `run`, announced.
pub(super) async fn run(args: RunArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let parse = |flag: &str, v: &Option<String>| {
        v.as_deref().map(|s| notify::parse_url(flag, s)).transpose()
    };
    let (notify_url, ping_url) = match (
        parse("--notify", &args.notify),
        parse("--ping-url", &args.ping_url),
    ) {
        (Ok(n), Ok(p)) => (n, p),
        (Err(e), _) | (_, Err(e)) => return invalid(e),
    };
    if let Some(p) = &ping_url {
        notify::ping::start(p).await;
    }
    let format = args.notify_format;
    let batch = args
        .batch
        .clone()
        .or_else(|| {
            args.sheet
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "batch".into());
    let mut said = None;
    let result = super::run::run(args, global, &mut said).await;
    let code = match &result {
        Ok(c) => c.code(),
        // What `main` makes of an error.
        Err(_) => ExitCode::RowsFailed.code(),
    };
    let message = said.unwrap_or_else(|| {
        let error = match &result {
            Err(e) => format!("error: {e:#}"),
            Ok(_) => last_error()
                .map(|e| format!("error: {e}"))
                .unwrap_or_else(|| "the run ended before its summary".into()),
        };
        Message {
            title: format!("creatify-batch {batch}: exit {code}"),
            lines: vec![error.clone()],
            event: serde_json::json!({
                "event": "summary", "batch": batch, "exit_code": code, "error": error,
            }),
            exit_code: code,
        }
    });
    if let Some(p) = &ping_url {
        notify::ping::finish(p, code, &message.lines.join("\n")).await;
    }
    if let Some(n) = &notify_url {
        notify::notify(n, format.for_url(n), &message).await;
    }
    result
}
