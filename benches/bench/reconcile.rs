//! Scenario `reconcile`: reconciling against an account that already holds 20,000 jobs.
//! Every creation's answer is lost (the sandbox creates the job, then closes the connection:
//! create fault `lost` at 1.0), so every row is looked for in the account's job list before
//! anything could be sent again. The list comes as the documented plain array (all 20,000
//! jobs in one answer) and as DRF pages of 100. Measured: the runner's peak RSS (against the
//! same run on an empty account), the list pages and jobs the sandbox served, and whether
//! every row was found, once.

use crate::harness::{self, mb, RunnerConfig, Workdir};
use crate::table::{verdict, Table};
use crate::Opts;

use creatify_batch::sandbox::dialect::ListStyle;

const VIDEOS: usize = 20;
const EXISTING: usize = 20_000;

pub async fn run(_opts: Opts) {
    let mut t = Table::new(
        &format!(
            "Reconciliation: {VIDEOS} videos whose creations' answers are all lost, account holding {EXISTING} older jobs"
        ),
        &[
            "job list",
            "existing jobs",
            "wall s",
            "peak RSS MB",
            "list pages",
            "jobs read",
            "created once",
            "target",
            "verdict",
        ],
    );
    for (style, name) in [
        (ListStyle::Array, "plain array"),
        (ListStyle::DrfPage, "DRF pages of 100"),
    ] {
        for existing in [0, EXISTING] {
            let r = once(style, existing).await;
            let whole = existing > 0 && style == ListStyle::Array;
            // Paged: only pages that cover the attempts' window (our jobs, then one page
            // that reaches past it) may be read; a plain array is one answer of everything.
            let window_ok = whole || r.jobs_read as usize <= 4 * (VIDEOS + 100);
            let ok = r.peak_rss <= 50_000_000 && window_ok && r.once;
            t.row(vec![
                name.into(),
                existing.to_string(),
                format!("{:.1}", r.wall),
                format!("{:.1}", mb(r.peak_rss)),
                r.pages.to_string(),
                r.jobs_read.to_string(),
                if r.once { "yes" } else { "NO" }.into(),
                "≤ 50 MB, window's pages only".into(),
                verdict(ok),
            ]);
        }
    }
    t.print();
}

struct Result {
    wall: f64,
    peak_rss: u64,
    pages: u64,
    jobs_read: u64,
    once: bool,
}

async fn once(style: ListStyle, existing: usize) -> Result {
    let mut cfg = creatify_batch::sandbox::SandboxConfig::for_tests();
    cfg.options = harness::options(20.0, 10.0, None);
    cfg.faults.api.existing_jobs = existing;
    cfg.faults.api.list = style;
    cfg.faults.api.page_size = 100;
    cfg.faults.create.lost = 1.0;
    let sandbox = creatify_batch::sandbox::Sandbox::start(cfg)
        .await
        .expect("the sandbox starts");
    let config = RunnerConfig {
        requests_per_second: 50.0,
        burst: 10,
        max_in_flight: 100,
        download_concurrency: 4,
        poll_min: 0.2,
        poll_max: 2.0,
    };
    let wd = Workdir::new_with("rec", &harness::sheet(VIDEOS, |_| Some(30.0)), &config, "");
    let fin = wd.run(&sandbox).await;
    let stats = sandbox.stats();
    sandbox.shutdown().await;
    Result {
        wall: fin.wall.as_secs_f64(),
        peak_rss: fin.peak_rss,
        pages: stats.job_list_pages,
        jobs_read: stats.job_list_jobs,
        once: stats.jobs_created as usize == VIDEOS && stats.jobs_by_name.values().all(|n| *n == 1),
    }
}
