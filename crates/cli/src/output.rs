//! The CLI's own output.
//!
//! Every write of the CLI to its stdout or stderr goes through [`emit`],
//! which buffers, flushes and turns a failed write into an error instead of
//! a panic (`println!` panics on a closed stdout: Rust ignores `SIGPIPE`, so
//! a write to a pipe nobody reads fails with `BrokenPipe`). Text the guest
//! controls goes through [`escape`] (and the error line through
//! [`one_line`]) before it reaches a terminal.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};

use wasm_sandbox::Error;

/// Most bytes of the error line, after escaping, before it is cut.
pub(crate) const MAX_LINE: usize = 4096;

/// One of the CLI's own output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Standard output: results only.
    Stdout,
    /// Standard error: errors, metrics, and a `call`'s guest output.
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "standard output",
            Stream::Stderr => "standard error",
        }
    }
}

/// Runs `write` on `stream` through a buffer, then flushes it. A failed
/// write or flush (a closed pipe, a full disk) becomes [`Error::Io`] naming
/// the stream, which the CLI reports as a host error (exit status 7).
pub(crate) fn emit(
    stream: Stream,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Error> {
    fn through<W: Write>(
        w: W,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut w = BufWriter::with_capacity(64 * 1024, w);
        write(&mut w)?;
        w.flush()
    }
    match stream {
        Stream::Stdout => through(io::stdout().lock(), write),
        Stream::Stderr => through(io::stderr().lock(), write),
    }
    .map_err(|e| Error::io(stream.name(), e))
}

/// Writes `line` and a newline to stderr. Where stderr itself cannot be
/// written there is nobody left to tell, so the failure is dropped: the
/// exit status still says what happened.
pub(crate) fn report(line: &str) {
    let _ = emit(Stream::Stderr, |w| writeln!(w, "{line}"));
}

/// `text` with every control character replaced by a visible escape, so
/// that it cannot move the cursor, recolour, retitle or ring a terminal:
/// C0 (including TAB, LF, CR and ESC) and DEL as `\x1b`; C1 (U+0080 to
/// U+009F, which some terminals obey as ESC sequences) as `\u{9b}`; and the
/// bidirectional controls and line and paragraph separators, which reorder
/// or break what is shown (U+061C, U+200E, U+200F, U+2028 to U+202E,
/// U+2066 to U+2069), as `\u{202e}`. Backslashes are left alone: the point
/// is a safe line, not a reversible one.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\0'..='\x1f' | '\x7f' => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        '\u{80}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// `text` as one line for a terminal: its lines trimmed and joined with a
/// space (compiler diagnostics span several), blank ones dropped, every
/// control character escaped as by [`escape`], and at most about `max`
/// bytes: a longer line is cut at a character and ends with
/// `… [N more bytes]`, N counting the bytes of `text` not shown.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 32);
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset + (raw.len() - raw.trim_start().len());
        offset += raw.len();
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        for (i, c) in line.char_indices() {
            let before = out.len();
            push_escaped(&mut out, c);
            if out.len() > max {
                out.truncate(before);
                let _ = write!(out, "… [{} more bytes]", text.len() - (start + i));
                return out;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(
            escape("a\x1b[2J\rb\x07\tc\x7f\u{9b}d\u{85}\u{202e}é\\x"),
            "a\\x1b[2J\\x0db\\x07\\x09c\\x7f\\u{9b}d\\u{85}\\u{202e}é\\x"
        );
        assert_eq!(escape("\n"), "\\x0a");
    }

    #[test]
    fn one_line_joins_lines_escapes_and_bounds() {
        assert_eq!(
            one_line("  error: x\n\n  --> at 1\r\n\tcaret \x1b[31m  \n", 100),
            "error: x --> at 1 caret \\x1b[31m"
        );
        let long = "é".repeat(10_000);
        let line = one_line(&long, 4096);
        assert!(line.len() <= 4096 + 32, "{}", line.len());
        assert!(
            line.ends_with(&format!("… [{} more bytes]", 20_000 - 4096)),
            "{line}"
        );
        // An escape is never cut in half.
        let line = one_line(&"\x1b".repeat(100), 10);
        assert!(line.starts_with("\\x1b\\x1b… [98 more bytes]"), "{line}");
        assert!(one_line("", 10).is_empty());
    }
}
