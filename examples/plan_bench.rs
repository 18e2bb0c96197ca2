//! Plans a sheet and prints the `plan` table, or measures planning a generated sheet.
//!
//! ```text
//! cargo run --release --example plan_bench -- samples/batch.csv   # the table (or the errors)
//! cargo run --release --example plan_bench -- --rows 100000       # time a generated sheet
//! ```
//! A benchmark, not a test: it prints timings and never asserts on them.

use std::path::Path;
use std::time::Instant;

use creatify_batch::config::Settings;
use creatify_batch::plan::{plan_bytes, plan_file, render_table};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = Settings::load(None)?;
    match args.as_slice() {
        [flag, n] if flag == "--rows" => bench(n.parse()?, &settings),
        [file] => {
            match plan_file(Path::new(file), &settings) {
                Ok(plan) => print!("{}", render_table(&plan)),
                Err(e) => println!("{e}"),
            }
            Ok(())
        }
        _ => anyhow::bail!("usage: plan_bench FILE | --rows N"),
    }
}

fn bench(rows: usize, settings: &Settings) -> anyhow::Result<()> {
    let avatars = [
        "edb9719c-42af-5c7f-83d5-b7de95567b5e",
        "59a2f478-35aa-54dd-811f-d70078d765aa",
        "8e3e386c-c4cd-5641-b56b-e266ae745440",
        "bf43f4a8-3cf6-52d3-9e4e-f9716bdbc8aa",
    ];
    let mut csv =
        String::from("key,name,script,avatar,voice,aspect,model,caption_style,background\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "k{i},Video {i},\"Hello number {i}, this is a short script, about ten words long.\",{},52825997-e2f1-5148-a3f3-620a6cb2bacf,9x16,aurora_v1_fast,normal-black,https://cdn.example.com/bg/{i}.jpg\n",
            avatars[i % avatars.len()]
        ));
    }
    let derived = csv
        .lines()
        .map(|l| l.split_once(',').map_or(l, |(_, rest)| rest))
        .collect::<Vec<_>>()
        .join("\n");
    for (label, text) in [("key column", &csv), ("derived keys", &derived)] {
        let start = Instant::now();
        let plan = plan_bytes(Path::new("bench.csv"), text.as_bytes(), settings)?;
        let took = start.elapsed();
        println!(
            "{label}: {} rows, {:.1} MB planned in {:.2?} ({:.0} rows/s), est. {} credits",
            plan.videos.len(),
            text.len() as f64 / 1e6,
            took,
            plan.videos.len() as f64 / took.as_secs_f64(),
            plan.total_credits()
        );
    }
    Ok(())
}
