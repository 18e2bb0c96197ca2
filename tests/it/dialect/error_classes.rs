//! Errors read by what they say, not only by their status code: credits refused as a 403 or
//! a 400, and one row error repeated on the first rows of a sheet.

use std::time::Duration;

use creatify_batch::sandbox::dialect::Dialect;
use creatify_batch::sandbox::Faults;

use super::rig::*;
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn credits_refused_as_403_or_400_stop_with_exit_3_and_rows_stay_planned() {
    let runs = [403u16, 400].map(|status| async move {
        let case = format!("credits refused as {status}");
        let dialect = Dialect {
            credits_status: status,
            ..Dialect::default()
        };
        // Credits for two of five videos (5 each), and the balance endpoint failing, so the
        // up-front check cannot refuse the run: the creation's refusal must stop it.
        let mut faults = Faults::default();
        faults.account.status_503 = 1.0;
        let h = speaking(dialect, faults, |c| c.options.credits = 12.0).await;
        // Off, so that this test is about the class of the error alone.
        write_config(&h, &[("retry", "same_error_halt", "0")]);
        let n = 5;
        let sheet = h.sheet("credits.csv", &sheet_of(n));
        let out = run_bounded(&h, &sheet, LIMIT)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        // Not 5 ("credentials refused") for the 403, not 1 (rows failed) for the 400.
        assert_eq!(code(&out), 3, "{case}: {}", text(&out));
        let said = stdout(&out);
        assert!(
            said.contains("stopped submitting") && said.contains("enough credits"),
            "{case}: {}",
            text(&out)
        );
        let states = states(&h.batch_dir("credits"));
        assert_eq!(count(&states, "failed"), 0, "{case}: {states:?}");
        assert_eq!(count(&states, "downloaded"), 2, "{case}: {states:?}");
        assert_eq!(count(&states, "planned"), n - 2, "{case}: {states:?}");
        assert_eq!(h.stats().jobs_created, 2, "{case}");
    });
    let [a, b] = runs;
    tokio::join!(a, b);
}

/// A sheet whose every row names an avatar the API does not have, each a different one.
fn ghost_sheet(n: usize) -> String {
    let mut s = String::from("key,name,script,avatar,voice,aspect\n");
    for i in 1..=n {
        s.push_str(&format!(
            "g{i:02},Ghost {i},\"Hello number {i}, this is a short script.\",ghost-{i},ava-en-us,9x16\n"
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_error_on_the_first_three_rows_halts_submission() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let n = 10;
    let sheet = h.sheet("ghosts.csv", &ghost_sheet(n));
    let out = run_bounded(&h, &sheet, LIMIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 1, "{}", text(&out));
    // The messages differ only in the avatar id each row names: the same error.
    assert_eq!(posts(&h), 3, "{:?}\n{}", h.stats().requests, text(&out));
    let said = stdout(&out);
    assert!(
        said.contains("the first 3 rows were all refused with the same error")
            && said.contains("avatar_id")
            && said.contains("not sent"),
        "{}",
        text(&out)
    );
    let states = states(&h.batch_dir("ghosts"));
    assert_eq!(count(&states, "failed"), 3, "{states:?}");
    assert_eq!(count(&states, "planned"), n - 3, "{states:?}");

    // Off (0): every row is sent and refused on its own.
    write_config(&h, &[("retry", "same_error_halt", "0")]);
    let out = run_bounded(&h, &sheet, LIMIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(posts(&h), n as u64, "{}", text(&out));
}
