//! Every renderer on an empty and a full report: structure, not pixels.

use crate::fixtures::{empty, full};
use wasm_sandbox_bench::{
    Report, render_case_distribution_svg, render_markdown, render_ratio_svg,
    render_row_distribution_svg, render_terminal,
};

/// A minimal well-formedness check of our own SVG: one `<svg>` root, every element closed in
/// order, attribute quotes balanced.
fn assert_well_formed_svg(svg: &str) {
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>').expect("unclosed tag");
        let tag = &rest[start + 1..end];
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
        assert!(!tag.contains('<'), "stray < in <{tag}>");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap();
            stack.push(name.to_owned());
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
}

/// Lines of Markdown tables.
fn table_lines(md: &str) -> Vec<&str> {
    md.lines().filter(|l| l.starts_with("| ")).collect()
}

#[test]
fn markdown_empty() {
    let md = render_markdown(&empty());
    assert!(md.starts_with("# empty\n"));
    assert!(md.contains("- Date: 2023-11-14T22:13:20Z"));
    assert!(md.contains("- Machine: Test CPU @ 3.0GHz, 2 cores, linux/x86_64"));
    assert!(md.contains("No results recorded."));
    assert!(table_lines(&md).is_empty());
}

#[test]
fn markdown_full() {
    let r = full();
    let md = render_markdown(&r);
    assert!(md.starts_with("# full\n"));
    assert!(md.contains("- Commit: 0123abcd"));
    assert!(md.contains("- rustc: rustc 1.95.0"));
    for heading in [
        "## call (execution)\n",
        "## compile (compilation)\n",
        "## instantiation (instantiation)\n",
        "## Ungrouped (execution)\n",
    ] {
        assert!(md.contains(heading), "missing {heading:?} in\n{md}");
    }
    // Exactly one line per row and per case, plus header and rule of each table (call has
    // a row table and a case table; compile, instantiation and ungrouped one each).
    for row in &r.rows {
        let prefix = format!("| {} |", row.key());
        assert_eq!(md.lines().filter(|l| l.starts_with(&prefix)).count(), 1);
    }
    for case in &r.cases {
        let prefix = format!("| {} |", case.key());
        assert_eq!(md.lines().filter(|l| l.starts_with(&prefix)).count(), 1);
    }
    assert_eq!(table_lines(&md).len(), r.rows.len() + r.cases.len() + 2 * 5);
    assert_eq!(md.matches("| Row | Measures |").count(), 3);
    assert_eq!(md.matches("| Case | Median |").count(), 2);
    // Cells read right.
    let add = md
        .lines()
        .find(|l| l.starts_with("| call/add i32 |"))
        .unwrap();
    assert!(add.contains("| 3.00x slower |"), "{add}");
    assert!(add.contains("| ≤ 5.00x slower | yes |"), "{add}");
    let memcpy = md.lines().find(|l| l.starts_with("| call/memcpy")).unwrap();
    assert!(
        memcpy.contains("4 KiB \\| through"),
        "pipe escaped: {memcpy}"
    );
    assert!(
        memcpy.contains("| 4.00x faster |") && memcpy.contains("| NO |"),
        "{memcpy}"
    );
    assert!(
        memcpy.contains("800 ns (4.8 GiB/s)"),
        "throughput shown: {memcpy}"
    );
    let inst = md
        .lines()
        .find(|l| l.starts_with("| instantiation/"))
        .unwrap();
    assert!(
        inst.contains("3.00x better") && inst.contains("k instructions"),
        "{inst}"
    );
    let case = md
        .lines()
        .find(|l| l.starts_with("| call/sum 4 KiB |"))
        .unwrap();
    assert!(
        case.contains("64.0 KiB") && case.contains("20.0 MiB"),
        "{case}"
    );
    // Every table line has as many cells as its header.
    for line in table_lines(&md) {
        let cells = line.replace("\\|", "").matches('|').count();
        assert!(cells == 12 || cells == 14, "{cells} in {line}");
    }
}

#[test]
fn terminal_empty() {
    let text = render_terminal(&empty());
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("empty"));
    assert_eq!(lines.next(), Some("====="));
    assert!(text.contains("No results recorded."));
}

#[test]
fn skipped_rows_are_listed_after_the_sections() {
    let mut r = full();
    assert!(!render_markdown(&r).contains("## Skipped"));
    r.push_skipped("run/warm start", "no peer: run `cargo xtask bench --peers`");
    let md = render_markdown(&r);
    let at = md.find("## Skipped\n").expect("a Skipped section");
    assert!(md[at..].contains("- run/warm start: no peer: run `cargo xtask bench --peers`"));
    assert!(at > md.find("## compile").unwrap());
    assert!(render_terminal(&r).contains("run/warm start: no peer"));
    let back = Report::from_json(&r.to_json()).unwrap();
    assert_eq!(back.skipped, r.skipped);

    let mut e = empty();
    e.push_skipped("run/cold", "why");
    let md = render_markdown(&e);
    assert!(md.contains("No results recorded.") && md.contains("- run/cold: why"));
}

/// Char index of `pat` in `line`, if any.
fn char_pos(line: &str, pat: &str) -> Option<usize> {
    line.find(pat).map(|b| line[..b].chars().count())
}

#[test]
fn terminal_full_is_aligned() {
    let r = full();
    let text = render_terminal(&r);
    assert!(text.starts_with("full\n====\n"));
    assert!(text.contains("== call (execution) =="));
    for row in &r.rows {
        assert_eq!(
            text.lines().filter(|l| l.starts_with(&row.key())).count(),
            1,
            "{}",
            row.key()
        );
    }
    // Right-aligned "Ratio" column: every verdict ends where the header ends.
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("Row "))
        .expect("a row table");
    let end = char_pos(lines[header], "Ratio").unwrap() + "Ratio".len();
    for line in &lines[header + 2..header + 4] {
        let verdict = if line.contains("slower") {
            "slower"
        } else {
            "faster"
        };
        assert_eq!(
            char_pos(line, verdict).unwrap() + verdict.len(),
            end,
            "{line}"
        );
    }
    // The rule under the header is dashes and spaces only.
    assert!(lines[header + 1].chars().all(|c| c == '-' || c == ' '));
}

#[test]
fn svg_ratio_chart_empty() {
    let svg = render_ratio_svg(&empty());
    assert_well_formed_svg(&svg);
    assert!(svg.contains("No comparison rows."));
    assert_eq!(svg.matches("class=\"bar ").count(), 0);
}

#[test]
fn svg_ratio_chart_full() {
    let r = full();
    let svg = render_ratio_svg(&r);
    assert_well_formed_svg(&svg);
    assert_eq!(svg.matches("class=\"bar ").count(), r.rows.len());
    assert_eq!(svg.matches("class=\"bar worse\"").count(), 1);
    assert_eq!(
        svg.matches("class=\"goal\"").count(),
        r.rows.iter().filter(|r| r.goal.is_some()).count()
    );
    assert_eq!(svg.matches("class=\"spread\"").count(), r.rows.len());
    assert!(
        svg.contains("cache hit &lt;&amp; &quot;quoted&quot;&gt;") || !svg.contains("cache hit <")
    );
    assert!(svg.contains(">1.00x</text>"), "the 1x tick");
}

#[test]
fn svg_distributions() {
    let r = full();
    for row in &r.rows {
        let svg = render_row_distribution_svg(row);
        assert_well_formed_svg(&svg);
        assert_eq!(svg.matches("class=\"box\"").count(), 2);
        assert_eq!(svg.matches("class=\"median\"").count(), 2);
        assert_eq!(
            svg.matches("class=\"sample\"").count(),
            row.baseline.samples.len() + row.candidate.samples.len()
        );
    }
    let svg = render_row_distribution_svg(&r.rows[2]);
    assert!(svg.contains("cache hit &lt;&amp; &quot;quoted&quot;&gt;"));
    for case in &r.cases {
        let svg = render_case_distribution_svg(case);
        assert_well_formed_svg(&svg);
        assert_eq!(svg.matches("class=\"box\"").count(), 1);
    }
}

#[test]
fn svg_of_constant_samples() {
    let row = crate::fixtures::time_row("flat", 5.0, 5.0);
    let mut flat = row.clone();
    flat.baseline.samples = vec![5.0; 3];
    flat.baseline.stats = wasm_sandbox_bench::Statistics::from_samples(&[5.0; 3]).unwrap();
    flat.candidate = flat.baseline.clone();
    let svg = render_row_distribution_svg(&flat);
    assert_well_formed_svg(&svg);
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
}

#[test]
fn write_to_dir_writes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("target/bench");
    let r = full();
    let files = r.write_to_dir(&out).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(&names[..3], ["report.md", "report.json", "ratios.svg"]);
    assert_eq!(names[3], "row-00-call-add-i32.svg");
    assert_eq!(names.len(), 3 + r.rows.len() + r.cases.len());
    assert_eq!(names.last().unwrap(), "case-01-startup.svg");
    for f in &files {
        assert!(f.is_file(), "{}", f.display());
    }
    assert_eq!(Report::load(&out.join("report.json")).unwrap(), r);
    // An empty report writes the three summary files.
    let empty_files = empty().write_to_dir(&dir.path().join("e")).unwrap();
    assert_eq!(empty_files.len(), 3);
}
