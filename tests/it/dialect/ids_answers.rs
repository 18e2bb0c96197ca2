//! `?ids=` answers that leave jobs out: a server that caps them below the documented 100, or
//! ignores `ids` and answers with (a page of) its job list. Every job is still followed to
//! its end: asked about again, then each by itself; never left unseen, holding its slot and
//! its paid video, until its deadline.

use creatify_batch::sandbox::dialect::Dialect;
use creatify_batch::sandbox::Faults;

use crate::support::*;

fn dialect(d: Dialect) -> Faults {
    Faults {
        api: d,
        ..Faults::default()
    }
}

/// Runs `n` rows against `h` with jobs given up 20 s after their creation (a run that
/// cannot see some of them ends with exit 4 then, not at the default deadline).
async fn run_all(h: &Harness, name: &str, n: usize) {
    let config = FAST_CONFIG.replace("job_deadline_secs = 60", "job_deadline_secs = 20");
    std::fs::write(h.dir.path().join("pipeline.toml"), config).expect("config written");
    let sheet = h.sheet(&format!("{name}.csv"), &sheet_of(n));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let rows = manifest_rows(&h.batch_dir(name));
    assert_eq!(rows.len(), n);
    for r in rows {
        assert_eq!(r["status"], "downloaded", "{r}");
    }
    let per_key = creations_by_key(&h.stats());
    assert_eq!(per_key.len(), n, "{per_key:?}");
    assert!(per_key.values().all(|c| *c == 1), "{per_key:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_an_ids_answer_ignores_are_asked_about_each_on_its_own() {
    // The server ignores `ids` and answers with its job list, which shows only the newest
    // 3 jobs: the older ones are in no answer. The runner before this asked about them
    // round after round until their deadline (exit 4, checked); now, once a second `?ids=`
    // for the missing finds none of them, each is asked for by itself.
    let h = Harness::start(
        dialect(Dialect {
            ids_ignored: true,
            list_cap: Some(3),
            ..Dialect::default()
        }),
        |_| {},
    )
    .await;
    run_all(&h, "ignored", 10).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ids_answer_capped_below_what_was_asked_is_asked_again_for_the_rest() {
    // Every `?ids=` answer holds at most 2 of the jobs asked about (the newest): the rest
    // are asked about again in the same round, two more at a time.
    let h = Harness::start(
        dialect(Dialect {
            ids_max: Some(2),
            ..Dialect::default()
        }),
        |_| {},
    )
    .await;
    run_all(&h, "capped", 10).await;
}
