//! Reports as Markdown, terminal text and SVG charts.
//!
//! Markdown and terminal output share one layout (see `doc.rs`): a title, the metadata, the
//! speedup convention, then per group a table of comparison rows and a table of cases.

mod doc;
pub(crate) mod format;
mod svg;

pub use svg::{render_case_distribution_svg, render_ratio_svg, render_row_distribution_svg};

use crate::baseline::{BaselineDiff, DeltaStatus};
use crate::case::CaseResult;
use crate::compare::{Comparison, format_factor};
use crate::report::Report;
use doc::{Align, Block, Table};
use format::{format_bytes, format_pct, format_throughput, format_value};

/// The report as GitHub-flavoured Markdown: title, metadata list, then per group a `##`
/// heading, one table line per row and per case. An empty report renders its title, its
/// metadata and "No results recorded.".
#[must_use]
pub fn render_markdown(report: &Report) -> String {
    doc::to_markdown(&report_blocks(report))
}

/// The report as plain text with aligned columns, for a terminal. Same content as
/// [`render_markdown`].
#[must_use]
pub fn render_terminal(report: &Report) -> String {
    doc::to_terminal(&report_blocks(report))
}

/// A baseline comparison as Markdown: deltas per row and case, regressions and missing keys.
#[must_use]
pub fn render_diff_markdown(diff: &BaselineDiff) -> String {
    doc::to_markdown(&diff_blocks(diff))
}

/// A baseline comparison as plain text with aligned columns.
#[must_use]
pub fn render_diff_terminal(diff: &BaselineDiff) -> String {
    doc::to_terminal(&diff_blocks(diff))
}

/// The sentence explaining how to read the ratio column.
const CONVENTION: &str = "Ratio: the median over interleaved rounds of the per-round speedup \
     (baseline time / candidate time; for higher-is-better units, candidate / baseline). \
     Above 1 the candidate is better. Spread: the 25th–75th percentile of the per-round \
     speedups, in the same words as the ratio.";

fn report_blocks(report: &Report) -> Vec<Block> {
    let m = &report.metadata;
    let mut meta = vec![
        format!("Date: {}", m.created),
        format!("Machine: {}", m.machine),
    ];
    if let Some(v) = &m.rustc_version {
        meta.push(format!("rustc: {v}"));
    }
    if let Some(c) = &m.git_commit {
        meta.push(format!("Commit: {c}"));
    }
    let mut blocks = vec![Block::Heading(1, m.title.clone()), Block::List(meta)];
    if report.is_empty() {
        blocks.push(Block::Text("No results recorded.".to_owned()));
        skipped_blocks(report, &mut blocks);
        return blocks;
    }
    if !report.rows.is_empty() {
        blocks.push(Block::Text(CONVENTION.to_owned()));
    }
    for group in report.groups() {
        let rows: Vec<&Comparison> = report.rows.iter().filter(|r| r.group == group).collect();
        let cases: Vec<&CaseResult> = report.cases.iter().filter(|c| c.group == group).collect();
        let mut phases: Vec<String> = Vec::new();
        let all = rows.iter().filter_map(|r| r.phase);
        for p in all.chain(cases.iter().filter_map(|c| c.phase)) {
            if !phases.contains(&p.to_string()) {
                phases.push(p.to_string());
            }
        }
        let mut title = if group.is_empty() {
            "Ungrouped".to_owned()
        } else {
            group.to_owned()
        };
        if !phases.is_empty() {
            title = format!("{title} ({})", phases.join(", "));
        }
        blocks.push(Block::Heading(2, title));
        if !rows.is_empty() {
            blocks.push(Block::Table(rows_table(&rows)));
        }
        if !cases.is_empty() {
            blocks.push(Block::Table(cases_table(&cases)));
        }
    }
    skipped_blocks(report, &mut blocks);
    blocks
}

/// The "Skipped" section: one item per entry of `report.skipped`, nothing when none.
fn skipped_blocks(report: &Report, blocks: &mut Vec<Block>) {
    if report.skipped.is_empty() {
        return;
    }
    blocks.push(Block::Heading(2, "Skipped".to_owned()));
    blocks.push(Block::List(
        report
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.id, s.reason))
            .collect(),
    ));
}

/// A side's median, with throughput when the row has a work size.
fn median_cell(row: &Comparison, median: f64) -> String {
    let value = format_value(median, &row.unit);
    match row.throughput {
        Some(work) if row.unit == "ns" => match work.per_second(median) {
            Some(tp) => format!("{value} ({})", format_throughput(tp, work)),
            None => value,
        },
        _ => value,
    }
}

fn rows_table(rows: &[&Comparison]) -> Table {
    Table {
        headers: vec![
            ("Row", Align::Left),
            ("Measures", Align::Left),
            ("Baseline", Align::Left),
            ("Candidate", Align::Left),
            ("Baseline median", Align::Right),
            ("Candidate median", Align::Right),
            ("Ratio", Align::Right),
            ("Spread (p25–p75)", Align::Right),
            ("Rounds", Align::Right),
            ("Goal", Align::Left),
            ("Met", Align::Left),
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.key(),
                    r.measures.clone(),
                    r.baseline_name.clone(),
                    r.candidate_name.clone(),
                    median_cell(r, r.baseline.stats.median),
                    median_cell(r, r.candidate.stats.median),
                    r.verdict(),
                    r.spread_text(),
                    r.speedup.count.to_string(),
                    r.goal_text().unwrap_or_else(|| "-".to_owned()),
                    match r.goal_met() {
                        Some(true) => "yes".to_owned(),
                        Some(false) => "NO".to_owned(),
                        None => "-".to_owned(),
                    },
                ]
            })
            .collect(),
    }
}

fn cases_table(cases: &[&CaseResult]) -> Table {
    let ns = |x: f64| format_value(x, "ns");
    let opt_bytes = |b: Option<u64>| b.map_or_else(|| "-".to_owned(), |b| format_bytes(b as f64));
    Table {
        headers: vec![
            ("Case", Align::Left),
            ("Median", Align::Right),
            ("Mean", Align::Right),
            ("Std dev", Align::Right),
            ("Min", Align::Right),
            ("p95", Align::Right),
            ("p99", Align::Right),
            ("Max", Align::Right),
            ("Samples", Align::Right),
            ("Batch", Align::Right),
            ("Throughput", Align::Right),
            ("Guest memory", Align::Right),
            ("Host peak RSS", Align::Right),
        ],
        rows: cases
            .iter()
            .map(|c| {
                let s = &c.stats;
                vec![
                    c.key(),
                    ns(s.median),
                    ns(s.mean),
                    ns(s.std_dev),
                    ns(s.min),
                    ns(s.p95),
                    ns(s.p99),
                    ns(s.max),
                    s.count.to_string(),
                    c.batch_size.to_string(),
                    match (c.throughput_per_sec, c.input_size) {
                        (Some(tp), Some(work)) => format_throughput(tp, work),
                        _ => "-".to_owned(),
                    },
                    opt_bytes(c.memory.guest_linear_bytes),
                    opt_bytes(c.memory.host_peak_rss_bytes),
                ]
            })
            .collect(),
    }
}

fn status_cell(s: DeltaStatus) -> String {
    match s {
        DeltaStatus::Regressed => "REGRESSED",
        DeltaStatus::Improved => "improved",
        DeltaStatus::Unchanged => "unchanged",
    }
    .to_owned()
}

fn diff_blocks(diff: &BaselineDiff) -> Vec<Block> {
    let regressions = diff.regressions();
    let mut blocks = vec![
        Block::Heading(1, "Baseline comparison".to_owned()),
        Block::List(vec![
            format!(
                "Baseline: {} ({})",
                diff.baseline_title, diff.baseline_created
            ),
            format!("Threshold: {}%", diff.threshold_pct),
            format!("Regressions: {}", regressions.len()),
        ]),
    ];
    if !regressions.is_empty() {
        blocks.push(Block::Text(format!(
            "Regressed: {}",
            regressions.join(", ")
        )));
    }
    if !diff.rows.is_empty() {
        blocks.push(Block::Table(Table {
            headers: vec![
                ("Row", Align::Left),
                ("Baseline ratio", Align::Right),
                ("Current ratio", Align::Right),
                ("Δ ratio", Align::Right),
                ("Baseline candidate median", Align::Right),
                ("Current candidate median", Align::Right),
                ("Δ median", Align::Right),
                ("Status", Align::Left),
            ],
            rows: diff
                .rows
                .iter()
                .map(|r| {
                    vec![
                        r.key.clone(),
                        format!("{}x", format_factor(r.baseline_speedup)),
                        format!("{}x", format_factor(r.current_speedup)),
                        format_pct(r.speedup_change_pct),
                        format_value(r.baseline_candidate_median, &r.unit),
                        format_value(r.current_candidate_median, &r.unit),
                        format_pct(r.candidate_median_change_pct),
                        status_cell(r.status),
                    ]
                })
                .collect(),
        }));
    }
    if !diff.cases.is_empty() {
        blocks.push(Block::Table(Table {
            headers: vec![
                ("Case", Align::Left),
                ("Baseline median", Align::Right),
                ("Current median", Align::Right),
                ("Δ median", Align::Right),
                ("Status", Align::Left),
            ],
            rows: diff
                .cases
                .iter()
                .map(|c| {
                    vec![
                        c.key.clone(),
                        format_value(c.baseline_median_ns, "ns"),
                        format_value(c.current_median_ns, "ns"),
                        format_pct(c.median_change_pct),
                        status_cell(c.status),
                    ]
                })
                .collect(),
        }));
    }
    for (label, keys) in [
        ("Missing in the current run", &diff.missing_in_current),
        ("New since the baseline", &diff.missing_in_baseline),
    ] {
        if !keys.is_empty() {
            blocks.push(Block::Text(format!("{label}:")));
            blocks.push(Block::List(keys.clone()));
        }
    }
    blocks
}
