//! `zk-bench-report`: turns the tagged JSON lines that `bench/compare.sh` collected into
//! `docs/benchmarks.md` (figures, ratios, targets, every run) and `docs/benchmarks.png`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use zk_bench::{chart, compare};

/// Writes the benchmark page and chart from zk-bench JSON lines tagged `system=zookeeper|zk-node`
/// and `figure=NAME` (and `round=N`).
#[derive(Debug, Parser)]
#[command(name = "zk-bench-report", version, about)]
struct Args {
    /// The JSON lines (one zk-bench `--json` result per line).
    #[arg(long)]
    results: PathBuf,
    /// Markdown page to write.
    #[arg(long)]
    md: PathBuf,
    /// PNG chart to write (linked from the page by file name).
    #[arg(long)]
    png: Option<PathBuf>,
    /// TTF font for the chart's text; without a readable one the chart has no text.
    #[arg(
        long,
        default_value = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    )]
    font: PathBuf,
    /// `KEY=VALUE` lines for "How these were produced" (repeatable; `note=` is shown on top,
    /// `command=` as code).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-bench-report: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.results)
        .with_context(|| format!("reading {}", args.results.display()))?;
    let (lines, problems) = compare::parse_lines(&text);
    for p in &problems {
        eprintln!("zk-bench-report: {p}");
    }
    let meta: Vec<(String, String)> = args
        .meta
        .iter()
        .filter_map(|m| m.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut png_name = None;
    if let Some(png) = &args.png {
        let text = chart::register_font(&args.font);
        if !text {
            eprintln!(
                "zk-bench-report: no usable font at {}; the chart has no text",
                args.font.display()
            );
        }
        chart::draw(
            &compare::chart_data(&lines),
            png,
            text,
            "zk-node and ZooKeeper 3.8, three nodes on loopback (medians)",
        )?;
        png_name = png.file_name().map(|n| n.to_string_lossy().to_string());
    }
    let md = compare::markdown(&lines, &problems, &meta, png_name.as_deref());
    std::fs::write(&args.md, md).with_context(|| format!("writing {}", args.md.display()))?;
    for ((system, figure), n) in compare::counts(&lines) {
        eprintln!("  {system:<10} {figure:<12} {n} run(s)");
    }
    eprintln!("wrote {}", args.md.display());
    Ok(())
}
