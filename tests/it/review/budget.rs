//! Budgets at the step's prices: previews at 1 credit / 30 s, renders at 4, refused by
//! `--max-credits` or the account's balance before any paid call.

use creatify_batch::sandbox::Faults;

use super::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn previews_and_renders_are_checked_at_their_own_prices_before_any_call() {
    let h = Harness::start(Faults::default(), |c| c.options.credits = 14.0).await;
    review_config(&h);
    let sheet = h.sheet("bud.csv", &sheet_of(3));
    let dir = h.batch_dir("bud");
    // Three previews cost 3: over 2, refused before any call.
    let out = h.run(&sheet, &["--preview", "--max-credits", "2"]).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert_eq!(h.stats().creations_arrived, 0);
    // Nothing is approved yet: the advice is about previews (it said "approve fewer rows").
    assert!(text(&out).contains("preview fewer rows"), "{}", text(&out));
    // At preview prices they fit 3 (direct prices would need 15).
    let out = h.run(&sheet, &["--preview", "--max-credits", "3"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(h.stats().credits_spent, 3.0);

    let ok = verdict(&h, "approve", &dir, &["v001", "v002", "v003"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let arrived = h.stats().creations_arrived;
    // Three renders cost 12: over --max-credits 11.
    let out = h
        .run(&sheet, &["--render-approved", "--max-credits", "11"])
        .await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("--max-credits"), "{}", text(&out));
    // The account has 11 left: refused by the balance too, still before any call.
    let out = h.run(&sheet, &["--render-approved"]).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("the account has 11"), "{}", text(&out));
    assert!(
        text(&out)
            .contains("(1 short); nothing was sent. Top up the account, or approve fewer rows"),
        "{}",
        text(&out)
    );
    assert_eq!(h.stats().creations_arrived, arrived);
    assert_eq!(reached(&h.stats(), RENDER), 0);
}
