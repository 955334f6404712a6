//! A tiny document model, so the Markdown and terminal renderers share one layout: headings,
//! paragraphs, bullet lists and tables.

/// Column alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table: one header row, then data rows of the same width.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    pub(crate) headers: Vec<(&'static str, Align)>,
    pub(crate) rows: Vec<Vec<String>>,
}

/// A document block.
#[derive(Clone, Debug)]
pub(crate) enum Block {
    /// A heading of level 1 or 2.
    Heading(u8, String),
    /// A paragraph.
    Text(String),
    /// A bullet list.
    List(Vec<String>),
    /// A table.
    Table(Table),
}

/// Escapes a Markdown table cell: `|` and line breaks would end it.
fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// GitHub-flavoured Markdown.
pub(crate) fn to_markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&"#".repeat(usize::from(*level)));
                out.push(' ');
                out.push_str(text);
                out.push('\n');
            }
            Block::Text(text) => {
                out.push_str(text);
                out.push('\n');
            }
            Block::List(items) => {
                for item in items {
                    out.push_str("- ");
                    out.push_str(item);
                    out.push('\n');
                }
            }
            Block::Table(table) => {
                let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
                out.push_str(&line(
                    table.headers.iter().map(|(h, _)| md_cell(h)).collect(),
                ));
                out.push_str(&line(
                    table
                        .headers
                        .iter()
                        .map(|(_, a)| match a {
                            Align::Left => "---".to_owned(),
                            Align::Right => "---:".to_owned(),
                        })
                        .collect(),
                ));
                for row in &table.rows {
                    out.push_str(&line(row.iter().map(|c| md_cell(c)).collect()));
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Plain text with aligned table columns (widths in `char`s).
pub(crate) fn to_terminal(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(1, text) => {
                out.push_str(text);
                out.push('\n');
                out.push_str(&"=".repeat(text.chars().count()));
                out.push('\n');
            }
            Block::Heading(_, text) => {
                out.push_str(&format!("== {text} ==\n"));
            }
            Block::Text(text) => {
                out.push_str(text);
                out.push('\n');
            }
            Block::List(items) => {
                for item in items {
                    out.push_str("  ");
                    out.push_str(item);
                    out.push('\n');
                }
            }
            Block::Table(table) => out.push_str(&aligned(table)),
        }
        out.push('\n');
    }
    out
}

fn aligned(table: &Table) -> String {
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = table.headers.iter().map(|(h, _)| width(h)).collect();
    for row in &table.rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: &mut dyn Iterator<Item = (&str, Align)>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|((cell, align), &w)| {
                let pad = " ".repeat(w - width(cell));
                match align {
                    Align::Left => format!("{cell}{pad}"),
                    Align::Right => format!("{pad}{cell}"),
                }
            })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&mut table.headers.iter().map(|(h, a)| (*h, *a)));
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&rule.join("  "));
    out.push('\n');
    for row in &table.rows {
        let aligns = table.headers.iter().map(|(_, a)| *a);
        out.push_str(&line(&mut row.iter().map(String::as_str).zip(aligns)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            headers: vec![("Name", Align::Left), ("Time", Align::Right)],
            rows: vec![
                vec!["a|b".into(), "1.23 µs".into()],
                vec!["long name".into(), "5 ns".into()],
            ],
        }
    }

    #[test]
    fn markdown_table() {
        let md = to_markdown(&[Block::Table(table())]);
        assert_eq!(
            md,
            "| Name | Time |\n| --- | ---: |\n| a\\|b | 1.23 µs |\n| long name | 5 ns |\n\n"
        );
    }

    #[test]
    fn terminal_table_is_aligned() {
        let text = to_terminal(&[Block::Table(table())]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Name          Time");
        assert_eq!(lines[1], "---------  -------");
        assert_eq!(lines[2], "a|b        1.23 µs");
        assert_eq!(lines[3], "long name     5 ns");
    }
}
