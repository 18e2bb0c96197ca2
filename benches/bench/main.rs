//! Benchmarks of creatify-batch against its sandbox: the real release binary, run as a child
//! process against a sandbox in this process, on loopback. Prints one Markdown table per
//! scenario, figures next to targets. A benchmark, never a test: nothing here asserts on time.
//!
//! ```text
//! cargo bench --bench bench                        # every scenario, default sizes (~10 min)
//! cargo bench --bench bench -- rate economy        # some scenarios
//! cargo bench --bench bench -- scale --full        # full sizes (100k-row run, real-time clock)
//! cargo bench --bench bench -- download --repeat 3 # median of 3 runs
//! cargo bench --bench bench -- upload               # 1 GiB to SeaweedFS (needs `weed`)
//! ```
//! Scenarios: `rate` (rate fidelity), `economy` (API calls per video), `scale` (planning and
//! running 1k/10k/100k rows), `download` (a 1 GiB file against curl), `done` (time to done),
//! `rendercap` (the account's render cap, ~6 min), `reconcile` (lost
//! creations against an account of 20,000 jobs), `all`. See BENCHMARKS.md for the figures of this machine.

mod done;
mod download;
mod economy;
mod harness;
mod rate;
mod reconcile;
mod rendercap;
mod scale;
// The storage tests' SeaweedFS, shared rather than written twice.
#[path = "../../tests/it/storage/seaweed.rs"]
#[allow(dead_code)]
mod seaweed;
mod table;
mod upload;

/// Flags shared by every scenario.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    /// Full-size variants instead of the scaled-down defaults.
    pub full: bool,
    /// Runs per figure (the median is reported); `None`: each scenario's default.
    pub repeat: Option<usize>,
}

impl Opts {
    /// Runs per figure: the flag, or `default`.
    pub fn repeat(&self, default: usize) -> usize {
        self.repeat.unwrap_or(default).max(1)
    }
}

const SCENARIOS: &[&str] = &[
    "rate",
    "economy",
    "scale",
    "download",
    "upload",
    "done",
    "rendercap",
    "reconcile",
];

fn main() {
    let mut opts = Opts {
        full: false,
        repeat: None,
    };
    let mut chosen: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            "--full" => opts.full = true,
            "--repeat" => {
                opts.repeat = args.next().and_then(|n| n.parse().ok());
                if opts.repeat.is_none() {
                    usage("--repeat takes a number");
                }
            }
            "all" => chosen.extend(SCENARIOS.iter().map(|s| (*s).to_owned())),
            s if SCENARIOS.contains(&s) => chosen.push(s.to_owned()),
            s => usage(&format!("unknown scenario or flag {s:?}")),
        }
    }
    if chosen.is_empty() {
        chosen.extend(SCENARIOS.iter().map(|s| (*s).to_owned()));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("{}", machine());
    println!("binary: {}", harness::BIN);
    for s in chosen {
        let started = std::time::Instant::now();
        match s.as_str() {
            "rate" => rt.block_on(rate::run(opts)),
            "economy" => rt.block_on(economy::run(opts)),
            "scale" => rt.block_on(scale::run(opts)),
            "download" => rt.block_on(download::run(opts)),
            "upload" => rt.block_on(upload::run(opts)),
            "done" => rt.block_on(done::run(opts)),
            "rendercap" => rt.block_on(rendercap::run(opts)),
            "reconcile" => rt.block_on(reconcile::run(opts)),
            _ => unreachable!("checked above"),
        }
        println!("({s}: {:.0} s)", started.elapsed().as_secs_f64());
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("{problem}");
    eprintln!(
        "usage: cargo bench --bench bench -- [all|{}]... [--full] [--repeat N]",
        SCENARIOS.join("|")
    );
    std::process::exit(2);
}

/// `nproc`, memory and CPU model, for the record.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    format!(
        "machine: {cpus} CPUs ({model}), {:.1} GiB RAM",
        mem_kb as f64 / 1024.0 / 1024.0
    )
}
