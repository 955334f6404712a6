//! Hand-written SVG charts: a bar chart of row ratios and box plots of sample distributions.
//!
//! Every chart is one self-contained `<svg>` element with inline styles, no scripts and no
//! external references. Each ratio bar is a `<rect class="bar ...">`, each goal a
//! `<line class="goal">`, each box a `<rect class="box">`, so tests and tools can find them.

use std::fmt::Write as _;

use super::format::format_value;
use crate::case::CaseResult;
use crate::compare::{Comparison, GoalOp, format_factor};
use crate::report::Report;
use crate::stats::Statistics;

const WIDTH: f64 = 960.0;
const LABEL_W: f64 = 300.0;
const VALUE_W: f64 = 170.0;
const TOP: f64 = 48.0;
const AXIS_H: f64 = 40.0;
const FONT: &str = "font-family=\"system-ui, sans-serif\" font-size=\"12\"";

/// Escapes text for SVG content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn open(out: &mut String, height: f64, title: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" {FONT}>\n\
         <title>{t}</title>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"12\" y=\"24\" font-size=\"15\" font-weight=\"bold\">{t}</text>\n",
        t = esc(title)
    );
}

/// A horizontal bar chart of every row's median ratio on a log scale: bars grow right of
/// the `1x` line when the candidate is better, left when it is worse; a thin line marks the
/// p25–p75 spread and a dashed line the goal. An empty report gives a chart that says so.
#[must_use]
pub fn render_ratio_svg(report: &Report) -> String {
    const ROW_H: f64 = 28.0;
    let rows = &report.rows;
    let height = TOP + ROW_H * rows.len().max(1) as f64 + AXIS_H;
    let mut out = String::new();
    open(
        &mut out,
        height,
        &format!("{}: ratio per row (log scale)", report.metadata.title),
    );
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"12\" y=\"{}\">No comparison rows.</text>",
            TOP + 18.0
        );
        out.push_str("</svg>\n");
        return out;
    }

    let mut values = vec![1.0];
    for r in rows {
        values.extend([r.speedup.median, r.speedup.p25, r.speedup.p75]);
        values.extend(r.goal.map(|g| g.value));
    }
    let positive = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0);
    let lo = positive.clone().fold(1.0f64, f64::min) / 1.3;
    let hi = positive.fold(1.0f64, f64::max) * 1.3;
    let (x0, x1) = (LABEL_W, WIDTH - VALUE_W);
    let x = |v: f64| {
        let v = v.clamp(lo, hi);
        x0 + (v.ln() - lo.ln()) / (hi.ln() - lo.ln()) * (x1 - x0)
    };
    let bottom = TOP + ROW_H * rows.len() as f64;

    // Grid and axis.
    for t in log_ticks(lo, hi) {
        let tx = x(t);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{tx:.1}\" y1=\"{TOP}\" x2=\"{tx:.1}\" y2=\"{bottom}\" \
             stroke=\"#ddd\"/>\n<text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}x</text>",
            bottom + 16.0,
            format_factor(t)
        );
    }
    let one = x(1.0);
    let _ = writeln!(
        out,
        "<line class=\"unity\" x1=\"{one:.1}\" y1=\"{TOP}\" x2=\"{one:.1}\" y2=\"{bottom}\" \
         stroke=\"#333\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">\
         ← candidate worse | candidate better →</text>",
        (x0 + x1) / 2.0,
        bottom + 32.0
    );

    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let mid = y + ROW_H / 2.0;
        let m = r.speedup.median;
        let (from, to) = (x(1.0).min(x(m)), x(1.0).max(x(m)));
        let (class, fill) = if m >= 1.0 {
            ("bar better", "#3a9a5b")
        } else {
            ("bar worse", "#c8553d")
        };
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n\
             <rect class=\"{class}\" x=\"{from:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" \
             fill=\"{fill}\"><title>{}: {} (p25–p75 {}, {} rounds)</title></rect>\n\
             <line class=\"spread\" x1=\"{:.1}\" y1=\"{mid:.1}\" x2=\"{:.1}\" y2=\"{mid:.1}\" \
             stroke=\"#222\" stroke-width=\"1.5\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x0 - 8.0,
            mid + 4.0,
            esc(&r.key()),
            mid - 7.0,
            (to - from).max(1.0),
            esc(&r.key()),
            esc(&r.verdict()),
            r.spread_text(),
            r.speedup.count,
            x(r.speedup.p25),
            x(r.speedup.p75),
            x1 + 8.0,
            mid + 4.0,
            esc(&r.verdict()),
        );
        if let (Some(goal), Some(text)) = (r.goal, r.goal_text()) {
            let gx = x(goal.value);
            let arrow = match goal.op {
                GoalOp::AtLeast => "→",
                GoalOp::AtMost => "←",
            };
            let _ = writeln!(
                out,
                "<line class=\"goal\" x1=\"{gx:.1}\" y1=\"{:.1}\" x2=\"{gx:.1}\" y2=\"{:.1}\" \
                 stroke=\"#1f4e99\" stroke-width=\"2\" stroke-dasharray=\"3 2\">\
                 <title>goal: {} {arrow}</title></line>",
                y + 2.0,
                y + ROW_H - 2.0,
                esc(&text),
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// Ticks within `[lo, hi]` from the sparsest mantissa series (powers of ten, then 1-2-5,
/// then finer) that gives at least four, so narrow ranges still get a readable axis.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    const SERIES: [&[f64]; 4] = [
        &[1.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
        &[1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0],
    ];
    let mut ticks = Vec::new();
    for series in SERIES {
        ticks.clear();
        let mut decade = 10f64.powf(lo.log10().floor());
        while decade <= hi {
            ticks.extend(
                series
                    .iter()
                    .map(|m| m * decade)
                    .filter(|t| *t >= lo && *t <= hi),
            );
            decade *= 10.0;
        }
        if ticks.len() >= 4 {
            break;
        }
    }
    ticks
}

/// Box plots of a row's baseline and candidate samples on a shared linear axis: whiskers
/// min–max, box p25–p75, a line at the median, a dot per sample.
#[must_use]
pub fn render_row_distribution_svg(row: &Comparison) -> String {
    let title = format!(
        "{}: {} vs {} ({})",
        row.key(),
        row.baseline_name,
        row.candidate_name,
        row.verdict()
    );
    box_plot(
        &title,
        &row.unit,
        &[
            (
                &row.baseline_name,
                &row.baseline.stats,
                &row.baseline.samples,
            ),
            (
                &row.candidate_name,
                &row.candidate.stats,
                &row.candidate.samples,
            ),
        ],
    )
}

/// A box plot of a case's samples (ns per call).
#[must_use]
pub fn render_case_distribution_svg(case: &CaseResult) -> String {
    box_plot(
        &format!("{}: time per call", case.key()),
        "ns",
        &[(&case.name, &case.stats, &case.samples_ns)],
    )
}

fn box_plot(title: &str, unit: &str, entries: &[(&str, &Statistics, &[f64])]) -> String {
    const BAND: f64 = 64.0;
    let height = TOP + BAND * entries.len() as f64 + AXIS_H;
    let mut out = String::new();
    open(&mut out, height, title);

    let mut lo = entries
        .iter()
        .map(|e| e.1.min)
        .fold(f64::INFINITY, f64::min);
    let mut hi = entries
        .iter()
        .map(|e| e.1.max)
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.1
    };
    lo -= pad;
    hi += pad;
    let (x0, x1) = (LABEL_W, WIDTH - VALUE_W);
    let x = |v: f64| x0 + (v - lo) / (hi - lo) * (x1 - x0);
    let bottom = TOP + BAND * entries.len() as f64;

    for t in linear_ticks(lo, hi) {
        let tx = x(t);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{tx:.1}\" y1=\"{TOP}\" x2=\"{tx:.1}\" y2=\"{bottom}\" \
             stroke=\"#ddd\"/>\n<text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 16.0,
            esc(&format_value(t, unit))
        );
    }

    let colors = ["#7a7a7a", "#2f6fb3", "#3a9a5b"];
    for (i, (name, s, samples)) in entries.iter().enumerate() {
        let color = colors[i % colors.len()];
        let y = TOP + BAND * i as f64;
        let mid = y + BAND / 2.0;
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n\
             <line class=\"whisker\" x1=\"{:.1}\" y1=\"{mid:.1}\" x2=\"{:.1}\" y2=\"{mid:.1}\" \
             stroke=\"{color}\"/>\n\
             <rect class=\"box\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"24\" \
             fill=\"{color}\" fill-opacity=\"0.25\" stroke=\"{color}\"><title>{}: median {}, \
             p25–p75 {}–{}, p95 {}, p99 {}, {} samples</title></rect>\n\
             <line class=\"median\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" \
             stroke=\"{color}\" stroke-width=\"3\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\">median {}</text>",
            x0 - 8.0,
            mid + 4.0,
            esc(name),
            x(s.min),
            x(s.max),
            x(s.p25),
            mid - 12.0,
            (x(s.p75) - x(s.p25)).max(1.0),
            esc(name),
            esc(&format_value(s.median, unit)),
            esc(&format_value(s.p25, unit)),
            esc(&format_value(s.p75, unit)),
            esc(&format_value(s.p95, unit)),
            esc(&format_value(s.p99, unit)),
            s.count,
            x(s.median),
            mid - 12.0,
            x(s.median),
            mid + 12.0,
            x1 + 8.0,
            mid + 4.0,
            esc(&format_value(s.median, unit)),
        );
        // One dot per sample, with a deterministic jitter so that equal values stay visible.
        for (j, &v) in samples.iter().enumerate() {
            let jitter = (j * 37 % 23) as f64 - 11.0;
            let _ = writeln!(
                out,
                "<circle class=\"sample\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.6\" fill=\"{color}\" \
                 fill-opacity=\"0.6\"/>",
                x(v),
                mid + 20.0 + jitter / 4.0
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// About five round-numbered ticks within `[lo, hi]`.
fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    if !(raw.is_finite() && raw > 0.0) {
        return Vec::new();
    }
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut ticks = Vec::new();
    while t <= hi && ticks.len() < 20 {
        ticks.push(t);
        t += step;
    }
    ticks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn ticks() {
        let labels =
            |lo, hi| -> Vec<String> { log_ticks(lo, hi).into_iter().map(format_factor).collect() };
        assert_eq!(
            labels(0.5, 3.0),
            ["0.50", "0.70", "1.00", "1.50", "2.00", "3.00"]
        );
        assert_eq!(
            labels(0.05, 20.0),
            [
                "0.05", "0.10", "0.20", "0.50", "1.00", "2.00", "5.00", "10.0", "20.0"
            ]
        );
        assert_eq!(linear_ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert!(linear_ticks(1.0, 1.0).is_empty());
        let many = log_ticks(1e-6, 1e6);
        assert!(many.len() <= 13, "{many:?}");
    }
}
