//! The budget check before a run sends anything: what is left to submit (planned rows, and
//! rows `--rerender` will send again) against `--max-credits` and the account's credits,
//! saying how much of it would fit when it does not.

use crate::api::{ApiClient, ErrorClass};
use crate::exit::ExitCode;
use crate::journal::Journal;

use super::{say_error, summary};

/// Which limit a step's cost went over.
#[derive(Debug, Clone, Copy)]
pub(super) enum Limit {
    /// `--max-credits`.
    MaxCredits,
    /// The account's remaining credits.
    Balance,
}

/// Refuses (exit 3) a step whose `needed` credits (`what`: "the rows left to submit") are over
/// `--max-credits` or the account's balance, before any paid call, ending the message with
/// `advice(limit, value)`; exit 5 when the credentials are refused. A balance that cannot be
/// read is a warning: the API refuses what does not fit.
pub(super) async fn against(
    client: &ApiClient,
    max_credits: Option<f64>,
    needed: f64,
    what: &str,
    advice: impl Fn(Limit, f64) -> anyhow::Result<String>,
) -> anyhow::Result<Option<ExitCode>> {
    if needed == 0.0 {
        return Ok(None);
    }
    let c = summary::credits;
    if let Some(cap) = max_credits {
        if needed > cap + 1e-9 {
            say_error(format!(
                "{what} are estimated at {} credits, over --max-credits {}; nothing was sent. {}",
                c(needed),
                c(cap),
                advice(Limit::MaxCredits, cap)?
            ));
            return Ok(Some(ExitCode::Budget));
        }
    }
    match client.remaining_credits().await {
        Ok(remaining) if needed > remaining + 1e-9 => {
            say_error(format!(
                "{what} are estimated at {} credits, but the account has {} ({} short); nothing was sent. {}",
                c(needed),
                c(remaining),
                c(needed - remaining),
                advice(Limit::Balance, remaining)?
            ));
            Ok(Some(ExitCode::Budget))
        }
        Ok(remaining) => {
            tracing::info!(
                needed = %c(needed),
                remaining = %c(remaining),
                "credits check passed ({what})"
            );
            Ok(None)
        }
        Err(e) if e.class() == ErrorClass::Auth => {
            say_error(format!("the API refused the credentials: {e}"));
            Ok(Some(ExitCode::Auth))
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the account's credits; going on, the API will refuse what does not fit");
            Ok(None)
        }
    }
}

/// Refuses the run (exit 3) when what is left to send cannot fit the budget or the account's
/// credits, saying how much of it would fit; exit 5 when the credentials are refused.
pub(super) async fn check(
    journal: &Journal,
    client: &ApiClient,
    max_credits: Option<f64>,
    rerender: &[f64],
) -> anyhow::Result<Option<ExitCode>> {
    let needed =
        journal.credits_in(crate::journal::RowState::Planned)? + rerender.iter().sum::<f64>();
    against(
        client,
        max_credits,
        needed,
        "the rows left to submit",
        |limit, value| {
            let raise = match limit {
                Limit::MaxCredits => "raise --max-credits to",
                Limit::Balance => "top up the account to",
            };
            fitting(journal, rerender, value, raise)
        },
    )
    .await
}

/// How many of the rows left to submit (in sheet order, then the rows to render again) fit
/// in `cap` credits, as a sentence.
fn fitting(journal: &Journal, rerender: &[f64], cap: f64, raise: &str) -> anyhow::Result<String> {
    let (mut rows, mut fit_rows, mut fit_credits, mut needed) = (0usize, 0usize, 0.0f64, 0.0f64);
    let mut take = |est: f64| {
        rows += 1;
        needed += est;
        if fit_rows + 1 == rows && fit_credits + est <= cap + 1e-9 {
            fit_rows += 1;
            fit_credits += est;
        }
    };
    journal.for_each_row(|r| {
        if r.state == crate::journal::RowState::Planned {
            take(r.est_credits);
        }
        Ok::<_, anyhow::Error>(())
    })?;
    rerender.iter().for_each(|e| take(*e));
    let c = summary::credits;
    Ok(format!(
        "{} of the {} left ({} credits) would fit; {raise} {} for all, or run a sheet with fewer rows",
        summary::plural(fit_rows, "row", "rows"),
        rows,
        c(fit_credits),
        c(needed)
    ))
}
