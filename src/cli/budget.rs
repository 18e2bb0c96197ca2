//! The budget check before a run sends anything: what is left to submit (planned rows, and
//! rows `--rerender` will send again) against `--max-credits` and the account's credits,
//! saying how much of it would fit when it does not.

use crate::api::{ApiClient, ErrorClass};
use crate::exit::ExitCode;
use crate::journal::Journal;

use super::{say_error, summary};

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
    if needed == 0.0 {
        return Ok(None);
    }
    let c = summary::credits;
    if let Some(cap) = max_credits {
        if needed > cap + 1e-9 {
            let fit = fitting(journal, rerender, cap, "raise --max-credits to")?;
            say_error(format!(
                    "the rows left to submit are estimated at {} credits, over --max-credits {}; nothing was submitted. {fit}",
                    c(needed),
                    c(cap)
                ),
            );
            return Ok(Some(ExitCode::Budget));
        }
    }
    match client.remaining_credits().await {
        Ok(remaining) if needed > remaining => {
            let fit = fitting(journal, rerender, remaining, "top up the account to")?;
            say_error(format!(
                    "the rows left to submit are estimated at {} credits, but the account has {}; nothing was submitted. {fit}",
                    c(needed),
                    c(remaining)
                ),
            );
            Ok(Some(ExitCode::Budget))
        }
        Ok(remaining) => {
            tracing::info!(
                needed = %summary::credits(needed),
                remaining = %summary::credits(remaining),
                "credits check passed"
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
