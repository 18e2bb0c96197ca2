//! `creatify-batch plan`: the table, or the exact request bodies.

use crate::config::Settings;
use crate::engine::reference::{payload_hash, reference, stamped_body};
use crate::exit::ExitCode;
use crate::plan;

use super::{invalid, PlanArgs};

pub(super) async fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return invalid(e),
    };
    let plan = match super::input::load(&args.sheet, args.tab.as_deref(), &settings).await {
        Ok(i) => i.plan,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::InvalidInput);
        }
    };
    if args.json {
        // Exactly what a first `run` would POST, reference included.
        // The name `run` would give the batch (the folder is not needed, only its name).
        let batch = match super::input::locate(
            std::path::Path::new(""),
            &args.sheet,
            args.tab.as_deref(),
            args.batch.as_deref(),
            false,
        ) {
            Ok(p) => p.name,
            Err(e) => return invalid(e),
        };
        for v in &plan.videos {
            let r = reference(&batch, &v.key, &payload_hash(&v.body), 0);
            println!(
                "{}",
                serde_json::to_string(&stamped_body(&v.body, &v.key, &r))?
            );
        }
    } else {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        plan::write_table(&plan, &mut out)?;
        std::io::Write::flush(&mut out)?;
    }
    Ok(ExitCode::Success)
}
