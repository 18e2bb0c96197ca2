//! Job lists and names: paginated, capped, slow, long, unordered lists; names cut, rewritten
//! or dropped. A creation whose answer was lost is found again, or left `unknown`; it is
//! never sent twice.

use std::path::Path;
use std::time::Duration;

use creatify_batch::sandbox::dialect::{Dialect, ListOrder, ListStyle, NameMode};
use creatify_batch::sandbox::Faults;

use crate::support::*;

/// Every row created at most once (exactly once when `all` is true).
fn assert_once(h: &Harness, n: usize, all: bool, case: &str) {
    let per_key = creations_by_key(&h.stats());
    let twice: Vec<_> = per_key.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        twice.is_empty(),
        "{case}: created more than once: {twice:?}"
    );
    if all {
        assert_eq!(per_key.len(), n, "{case}: {per_key:?}");
    }
}

/// Every creation answered never (created and billed, the connection dropped).
fn lost(api: Dialect) -> Faults {
    let mut f = Faults::default();
    f.create.lost = 1.0;
    f.api = api;
    f
}

async fn run_limited(h: &Harness, sheet: &Path, extra: &[&str]) -> std::process::Output {
    let run = h.run(sheet, extra);
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the run ends by itself")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_capped_job_list_never_pays_twice() {
    // The list shows only the newest 5 jobs; every 201 is lost. Today: 19 jobs for 13 rows.
    // The 5 it shows are adopted; the others cannot be proven absent, so they are `unknown`
    // (exit 8), never sent again.
    let api = Dialect {
        list_cap: Some(5),
        ..Dialect::default()
    };
    let h = Harness::start(lost(api), |_| {}).await;
    let n = 13;
    let sheet = h.sheet("capped.csv", &sheet_of(n));
    let out = run_limited(&h, &sheet, &[]).await;
    assert_eq!(code(&out), 8, "{}", text(&out));
    assert_once(&h, n, true, "capped");
    let states = states(&h.batch_dir("capped"));
    let unknown = states.values().filter(|s| *s == "unknown").count();
    let downloaded = states.values().filter(|s| *s == "downloaded").count();
    assert_eq!(unknown + downloaded, n, "{states:?}");
    assert!(downloaded >= 5 && unknown > 0, "{states:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("unknown"),
        "{}",
        text(&out)
    );
    // A rerun looks again and still sends nothing twice.
    let out = run_limited(&h, &sheet, &[]).await;
    assert_eq!(code(&out), 8, "{}", text(&out));
    assert_once(&h, n, true, "capped, rerun");
    // `resolve --created` refuses another row's job: recording it would show one video as two.
    let rows = manifest_rows(&h.batch_dir("capped"));
    let taken = rows
        .iter()
        .find_map(|r| r["job_id"].as_str().filter(|_| r["status"] == "downloaded"))
        .expect("a downloaded row");
    let open = rows
        .iter()
        .find_map(|r| r["key"].as_str().filter(|_| r["status"] == "unknown"))
        .expect("an unknown row");
    let out = std::process::Command::new(BIN)
        .current_dir(h.dir.path())
        .args([
            "resolve",
            "out/capped",
            "--created",
            &format!("{open}={taken}"),
        ])
        .env("CREATIFY_API_ID", &h.id)
        .env("CREATIFY_API_KEY", &h.key)
        .env_remove("CREATIFY_BASE_URL")
        .output()
        .expect("resolve runs");
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("already belongs to this batch"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn names_cut_rewritten_stripped_or_dropped_never_pay_twice() {
    let long = |i: usize| {
        format!("A long and descriptive name for video number {i} of the spring campaign, [EN] [9x16] — with brackets")
    };
    let mut csv = String::from("key,name,script,avatar,voice\n");
    for i in 1..=6 {
        csv.push_str(&format!(
            "v{i:03},\"{}\",\"Script number {i}.\",edb9719c-42af-5c7f-83d5-b7de95567b5e,52825997-e2f1-5148-a3f3-620a6cb2bacf\n",
            long(i)
        ));
    }
    for (case, api) in [
        (
            "cut to 100",
            Dialect {
                name_max: Some(100),
                ..Dialect::default()
            },
        ),
        (
            "cut to 20",
            Dialect {
                name_max: Some(20),
                ..Dialect::default()
            },
        ),
        (
            "brackets rewritten",
            Dialect {
                name: NameMode::RewriteBrackets,
                ..Dialect::default()
            },
        ),
        (
            "stripped",
            Dialect {
                name: NameMode::Strip,
                ..Dialect::default()
            },
        ),
        (
            "dropped",
            Dialect {
                name: NameMode::Drop,
                ..Dialect::default()
            },
        ),
    ] {
        let h = Harness::start(lost(api), |_| {}).await;
        let sheet = h.sheet("names.csv", &csv);
        let out = run_limited(&h, &sheet, &[]).await;
        assert_eq!(code(&out), 0, "{case}: {}", text(&out));
        assert_eq!(h.stats().jobs_created, 6, "{case}: {}", text(&out));
        assert!(
            states(&h.batch_dir("names"))
                .values()
                .all(|s| s == "downloaded"),
            "{case}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn paginated_job_lists_are_followed_and_prove_absence() {
    // Lost answers are found on whichever page they are; resets (nothing created) are proven
    // absent by reading back past the attempt, then sent again: every row exactly once.
    // A server behind a proxy builds its links on its own address: followed on the API's.
    let behind = Some("http://api-internal.invalid:8000".to_owned());
    for (case, list, link_base) in [
        ("drf pages", ListStyle::DrfPage, None),
        ("limit/offset", ListStyle::LimitOffset, None),
        ("drf pages linking another host", ListStyle::DrfPage, behind),
    ] {
        let mut faults = lost(Dialect {
            list,
            page_size: 2,
            existing_jobs: 7,
            link_base,
            ..Dialect::default()
        });
        faults.create.lost = 0.5;
        faults.create.reset = 0.3;
        let h = Harness::start(faults, |c| c.options.seed = 3).await;
        let n = 8;
        let sheet = h.sheet("pages.csv", &sheet_of(n));
        let out = run_limited(&h, &sheet, &[]).await;
        assert_eq!(code(&out), 0, "{case}: {}", text(&out));
        assert_once(&h, n, true, case);
        let stats = h.stats();
        assert!(
            stats.faults.get("lost").copied().unwrap_or(0) > 0,
            "{case}: {:?}",
            stats.faults
        );
        assert!(
            stats.faults.get("reset").copied().unwrap_or(0) > 0,
            "{case}: {:?}",
            stats.faults
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_answered_as_pages_are_read() {
    // Today every poll was unreadable: exit 4 with all jobs paid.
    let api = Dialect {
        ids: ListStyle::DrfPage,
        page_size: 3,
        ..Dialect::default()
    };
    let faults = Faults {
        api,
        ..Faults::default()
    };
    let h = Harness::start(faults, |_| {}).await;
    let sheet = h.sheet("ids.csv", &sheet_of(8));
    let out = run_limited(&h, &sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_once(&h, 8, true, "ids pages");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_list_slower_than_the_request_timeout_still_resolves_lost_creations() {
    // The list answers after 4 s, past the 3 s request timeout: lists get their own.
    let api = Dialect {
        list_delay_seconds: 4.0,
        ..Dialect::default()
    };
    let h = Harness::start(lost(api), |_| {}).await;
    let sheet = h.sheet("slow.csv", &sheet_of(3));
    let out = run_limited(&h, &sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_once(&h, 3, true, "slow list");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oldest_first_or_unordered_list_proves_only_when_read_to_its_end() {
    for (case, order) in [
        ("oldest first", ListOrder::OldestFirst),
        ("unordered", ListOrder::Unordered),
    ] {
        let mut faults = Faults::default();
        faults.create.reset = 1.0;
        faults.api = Dialect {
            list_order: order,
            ..Dialect::default()
        };
        let h = Harness::start(faults, |_| {}).await;
        let sheet = h.sheet("order.csv", &sheet_of(2));
        let out = run_limited(&h, &sheet, &["--max-credits", "100"]).await;
        // Nothing was ever created (every POST reset): the whole list was read, so the rows
        // were proven absent and sent again until the attempts ran out (exit 1, `planned`).
        assert_eq!(code(&out), 1, "{case}: {}", text(&out));
        assert_eq!(h.stats().jobs_created, 0, "{case}");
        assert!(
            states(&h.batch_dir("order"))
                .values()
                .all(|s| s == "planned"),
            "{case}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_accounts_unanswered_creation_is_unknown_then_settled_by_a_rerun() {
    // A brand-new account: its list ends before the attempt, so "not there" proves nothing
    // (a capped list looks the same). The row is `unknown`, sent once; once the account has
    // older jobs to read back to, a rerun proves it absent and sends it.
    let dir = tempfile::tempdir().unwrap();
    let mut faults = Faults::default();
    faults.create.reset = 1.0;
    faults.api.existing_jobs = 0;
    let h = Harness::start(faults, |c| {
        c.faults.api.existing_jobs = 0;
        c.options.state_dir = Some(dir.path().to_owned());
    })
    .await;
    let sheet = h.sheet("fresh.csv", &sheet_of(2));
    let out = run_limited(&h, &sheet, &[]).await;
    assert_eq!(code(&out), 8, "{}", text(&out));
    assert!(
        states(&h.batch_dir("fresh"))
            .values()
            .all(|s| s == "unknown"),
        "{}",
        text(&out)
    );
    let posts = h
        .stats()
        .requests
        .get("POST /api/lipsyncs_v2/")
        .map(|m| m.values().sum::<u64>())
        .unwrap_or(0);
    assert_eq!(
        posts,
        2,
        "one attempt per row, never re-sent: {:?}",
        h.stats().requests
    );
    // `resolve` looks again (still unprovable: exit 8), then records what the user found.
    let resolve = |extra: &[&str]| {
        let out = std::process::Command::new(BIN)
            .current_dir(h.dir.path())
            .args(["resolve", "out/fresh"])
            .args(extra)
            .env("CREATIFY_API_ID", &h.id)
            .env("CREATIFY_API_KEY", &h.key)
            .env_remove("CREATIFY_BASE_URL")
            .output()
            .expect("resolve runs");
        (code(&out), text(&out))
    };
    let (c, t) = tokio::task::block_in_place(|| resolve(&[]));
    assert_eq!(c, 8, "{t}");
    assert!(
        t.contains("still unknown") && t.contains("--not-created v001"),
        "{t}"
    );
    // One row settled, one still unknown: exit 8 until none is.
    let (c, t) = tokio::task::block_in_place(|| resolve(&["--not-created", "v001"]));
    assert_eq!(c, 8, "{t}");
    let (c, t) = tokio::task::block_in_place(|| resolve(&["--not-created", "nope"]));
    assert_eq!(c, 2, "{t}");
    // A job id the API does not know is refused, nothing recorded.
    let bogus = "v002=00000000-0000-0000-0000-000000000000";
    let (c, t) = tokio::task::block_in_place(|| resolve(&["--created", bogus]));
    assert_eq!(c, 2, "{t}");
    assert!(t.contains("does not show job"), "{t}");
    let (c, t) = tokio::task::block_in_place(|| resolve(&["--not-created", "v002"]));
    assert_eq!(c, 0, "{t}");
    let h = h.restart(Faults::default()).await;
    let out = run_limited(&h, &sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_once(&h, 2, true, "fresh, rerun");
}

#[tokio::test(flavor = "multi_thread")]
async fn reconciling_against_20000_jobs_reads_only_what_it_needs_in_little_memory() {
    // Today: 300–590 MB and 41 full listings in 120 s. Now the list is read one job at a
    // time and only back to the attempt: a page (or the head of an array) per search.
    for (case, list) in [("array", ListStyle::Array), ("pages", ListStyle::DrfPage)] {
        let api = Dialect {
            existing_jobs: 20_000,
            list,
            ..Dialect::default()
        };
        let h = Harness::start(lost(api), |_| {}).await;
        let sheet = h.sheet("big.csv", &sheet_of(5));
        let mut cmd = h.run_command(&sheet, &[]);
        let child = cmd.spawn().expect("starts");
        let pid = child.id();
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let sampler = {
            let peak = peak.clone();
            tokio::spawn(async move {
                loop {
                    let status =
                        std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                    if let Some(kb) = status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    {
                        peak.fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        sampler.abort();
        assert_eq!(code(&out), 0, "{case}: {}", text(&out));
        assert_once(&h, 5, true, case);
        let peak_mb = peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0;
        assert!(
            peak_mb > 0.0 && peak_mb < 50.0,
            "{case}: peak RSS {peak_mb:.1} MB"
        );
        let lists = h
            .stats()
            .requests
            .get("GET /api/lipsyncs_v2/")
            .map(|m| m.values().sum::<u64>())
            .unwrap_or(0);
        eprintln!("{case}: peak RSS {peak_mb:.1} MB, {lists} GET /api/lipsyncs_v2/ calls (lists and polls)");
        // A whole walk of the paged list is 200 pages: a handful of calls means only the
        // pages back to the attempts were read.
        assert!(lists < 40, "{case}: {lists} list and poll calls");
    }
}
