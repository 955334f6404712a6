//! JSON in and out of the CLI, without building a tree.
//!
//! `call --json` hands the guest's result bytes to [`transcode`], which
//! parses them with `serde_json`'s streaming deserializer and writes each
//! token to a `serde_json` serializer as it is read: host memory stays the
//! result bytes plus the serializer's buffer, instead of a
//! `serde_json::Value` per element (32 bytes and more for every `0,` of an
//! array). The deserializer's recursion limit (128 levels) bounds the
//! nesting, and so the stack.
//!
//! Everything the CLI prints as JSON goes through [`AsciiFormatter`]: every
//! character outside printable ASCII inside a string is written as a JSON
//! escape (`\u001b`, `\u00e9`, a surrogate pair above U+FFFF), so guest text
//! reaches a terminal as plain ASCII.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Write};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

use crate::output;

/// A `serde_json` formatter that escapes every non-printable-ASCII character
/// of a string: control characters as the short escapes (`\n`, `\t`, ...)
/// or `\u00XX`, DEL and everything above U+007F as `\uXXXX`. Compact, or
/// pretty (two-space indent) with [`AsciiFormatter::pretty`].
pub(crate) struct AsciiFormatter {
    pretty: Option<PrettyFormatter<'static>>,
}

impl AsciiFormatter {
    /// Compact output, as `serde_json::to_writer`.
    pub(crate) fn compact() -> Self {
        AsciiFormatter { pretty: None }
    }

    /// Indented output, as `serde_json::to_writer_pretty`.
    pub(crate) fn pretty() -> Self {
        AsciiFormatter {
            pretty: Some(PrettyFormatter::new()),
        }
    }
}

/// Delegates a layout method to the pretty formatter, or to the compact one.
macro_rules! layout {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $name<W: ?Sized + Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            match &mut self.pretty {
                Some(p) => p.$name(w $(, $arg)*),
                None => CompactFormatter.$name(w $(, $arg)*),
            }
        }
    )*};
}

impl Formatter for AsciiFormatter {
    // The methods `PrettyFormatter` overrides; the others are the trait's
    // defaults for both layouts.
    layout! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        begin_object_value();
        end_object_value();
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if (' '..='~').contains(&c) {
                continue;
            }
            w.write_all(&bytes[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&bytes[start..])
    }
}

/// Serializes `value` as JSON into `w` through [`AsciiFormatter`].
pub(crate) fn write<T: Serialize + ?Sized>(
    w: &mut dyn Write,
    value: &T,
    formatter: AsciiFormatter,
) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, formatter);
    value.serialize(&mut ser).map_err(io::Error::from)
}

/// Why [`transcode`] failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The input is not one valid JSON value (or nests deeper than 128).
    Json(serde_json::Error),
    /// The output could not be written.
    Io(io::Error),
}

/// Re-serializes the JSON text `input` into `out` through `formatter`, token
/// by token: no tree is built, and memory beyond `input` is the
/// deserializer's scratch for one escaped string. The output is the value
/// in the formatter's layout (compact: no whitespace), numbers as
/// `serde_json` prints them (`1E2` becomes `100.0`), object members in their
/// order; trailing whitespace is allowed, trailing data is not.
///
/// The outcome depends on `input` alone, so a pass into [`io::sink`] decides
/// whether a later pass into a real writer can fail other than by I/O.
pub(crate) fn transcode<W: Write, F: Formatter>(
    input: &[u8],
    out: W,
    formatter: F,
) -> Result<(), Failure> {
    let mut out = Recorder {
        inner: out,
        error: None,
    };
    let mut de = serde_json::Deserializer::from_slice(input);
    let r = {
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        Transcoder::new(&mut de)
            .serialize(&mut ser)
            .and_then(|()| de.end())
    };
    match (r, out.error) {
        (Ok(()), _) => Ok(()),
        // An I/O error reaches the deserializer as a custom message: the
        // recorder kept the real one.
        (Err(_), Some(e)) => Err(Failure::Io(e)),
        (Err(e), None) => Err(Failure::Json(e)),
    }
}

/// Checks that the guest's result is one valid JSON value, as [`transcode`]
/// will read it, or says where it is not, with an escaped excerpt.
pub(crate) fn check_result(bytes: &[u8]) -> Result<(), wasm_sandbox::Error> {
    match transcode(bytes, io::sink(), AsciiFormatter::compact()) {
        Ok(()) => Ok(()),
        Err(Failure::Json(e)) => Err(wasm_sandbox::Error::Codec {
            codec: "json",
            reason: format!(
                "the guest's result ({} bytes) is not valid JSON: {e} (near `{}`)",
                bytes.len(),
                excerpt(bytes, &e)
            )
            .into(),
        }),
        // A sink does not fail.
        Err(Failure::Io(e)) => Err(wasm_sandbox::Error::Engine {
            reason: format!("checking the guest's result: {e}").into(),
        }),
    }
}

/// Encodes the `--json` argument for the guest: compact JSON, UTF-8 as is.
pub(crate) fn encode_arg(text: &str) -> Result<Vec<u8>, wasm_sandbox::Error> {
    let mut out = Vec::with_capacity(text.len());
    transcode(text.as_bytes(), &mut out, CompactFormatter).map_err(|e| {
        let reason = match e {
            Failure::Json(e) => format!("--json is not valid JSON: {e}"),
            Failure::Io(e) => format!("--json: {e}"),
        };
        wasm_sandbox::Error::Codec {
            codec: "json",
            reason: reason.into(),
        }
    })?;
    Ok(out)
}

/// Up to [`EXCERPT`] bytes on each side of where `e` says the input went
/// wrong, escaped for a terminal.
fn excerpt(bytes: &[u8], e: &serde_json::Error) -> String {
    const EXCERPT: usize = 24;
    let line_start = if e.line() <= 1 {
        0
    } else {
        bytes
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(e.line() - 2)
            .map_or(bytes.len(), |(i, _)| i + 1)
    };
    let at = line_start.saturating_add(e.column()).min(bytes.len());
    let from = at.saturating_sub(EXCERPT);
    let to = at.saturating_add(EXCERPT).min(bytes.len());
    output::escape(&String::from_utf8_lossy(&bytes[from..to]))
}

/// A writer that keeps the first real I/O error it returned.
struct Recorder<W> {
    inner: W,
    error: Option<io::Error>,
}

impl<W> Recorder<W> {
    fn record(&mut self, e: io::Error) -> io::Error {
        if e.kind() == io::ErrorKind::Interrupted {
            // Retried by `write_all`: not a failure.
            return e;
        }
        let kind = e.kind();
        self.error.get_or_insert(e);
        io::Error::from(kind)
    }
}

impl<W: Write> Write for Recorder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.record(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.record(e))
    }
}

/// A deserializer, serialized as the value it reads.
struct Transcoder<D>(Cell<Option<D>>);

impl<D> Transcoder<D> {
    fn new(d: D) -> Self {
        Transcoder(Cell::new(Some(d)))
    }
}

impl<'de, D: Deserializer<'de>> Serialize for Transcoder<D> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self
            .0
            .take()
            .ok_or_else(|| ser::Error::custom("a value can be transcoded once"))?;
        d.deserialize_any(Transcode(s)).map_err(ser::Error::custom)
    }
}

/// The visitor that writes what it visits to the serializer it holds.
struct Transcode<S>(S);

fn de_err<E: de::Error>(e: impl fmt::Display) -> E {
    E::custom(e)
}

impl<'de, S: Serializer> Visitor<'de> for Transcode<S> {
    type Value = S::Ok;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<S::Ok, E> {
        self.0.serialize_bool(v).map_err(de_err)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<S::Ok, E> {
        self.0.serialize_i64(v).map_err(de_err)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<S::Ok, E> {
        self.0.serialize_u64(v).map_err(de_err)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<S::Ok, E> {
        self.0.serialize_f64(v).map_err(de_err)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<S::Ok, E> {
        self.0.serialize_str(v).map_err(de_err)
    }

    fn visit_unit<E: de::Error>(self) -> Result<S::Ok, E> {
        self.0.serialize_unit().map_err(de_err)
    }

    fn visit_none<E: de::Error>(self) -> Result<S::Ok, E> {
        self.0.serialize_none().map_err(de_err)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<S::Ok, D::Error> {
        self.0.serialize_some(&Transcoder::new(d)).map_err(de_err)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<S::Ok, A::Error> {
        let mut s = self.0.serialize_seq(seq.size_hint()).map_err(de_err)?;
        while seq.next_element_seed(Element(&mut s))?.is_some() {}
        s.end().map_err(de_err)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S::Ok, A::Error> {
        let mut m = self.0.serialize_map(map.size_hint()).map_err(de_err)?;
        while map.next_key_seed(Key(&mut m))?.is_some() {
            map.next_value_seed(Member(&mut m))?;
        }
        m.end().map_err(de_err)
    }
}

/// One element of an array, written as it is read.
struct Element<'a, S>(&'a mut S);

impl<'de, S: SerializeSeq> DeserializeSeed<'de> for Element<'_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0
            .serialize_element(&Transcoder::new(d))
            .map_err(de_err)
    }
}

/// An object member's name.
struct Key<'a, S>(&'a mut S);

impl<'de, S: SerializeMap> DeserializeSeed<'de> for Key<'_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.serialize_key(&Transcoder::new(d)).map_err(de_err)
    }
}

/// An object member's value.
struct Member<'a, S>(&'a mut S);

impl<'de, S: SerializeMap> DeserializeSeed<'de> for Member<'_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.serialize_value(&Transcoder::new(d)).map_err(de_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ascii(input: &str) -> Result<String, Failure> {
        let mut out = Vec::new();
        transcode(input.as_bytes(), &mut out, AsciiFormatter::compact())?;
        Ok(String::from_utf8(out).expect("ASCII"))
    }

    #[test]
    fn values_come_out_compact_with_members_in_order() {
        let s = ascii(" { \"b\" : [1, -2, 3.5, 1E2, true, null, {}], \"a\": [] } \n").unwrap();
        assert_eq!(s, r#"{"b":[1,-2,3.5,100.0,true,null,{}],"a":[]}"#);
        assert_eq!(
            ascii("18446744073709551615").unwrap(),
            "18446744073709551615"
        );
        assert_eq!(
            ascii("-9223372036854775808").unwrap(),
            "-9223372036854775808"
        );
    }

    #[test]
    fn every_character_outside_printable_ascii_is_escaped() {
        let s = ascii(r#"["é\u0000\u001b\r\n\t\"\\ \u007f\u0085\u009b\u202e😀", "~"]"#).unwrap();
        assert_eq!(
            s,
            r#"["\u00e9\u0000\u001b\r\n\t\"\\ \u007f\u0085\u009b\u202e\ud83d\ude00","~"]"#
        );
        assert!(s.bytes().all(|b| (b' '..=b'~').contains(&b)), "{s}");
        // Raw UTF-8 and DEL in the input, and in member names.
        let s = ascii("{\"\u{7f}k\u{e9}\": \"\u{9b}\"}").unwrap();
        assert_eq!(s, r#"{"\u007fk\u00e9":"\u009b"}"#);
    }

    #[test]
    fn pretty_output_matches_serde_json() {
        let v = serde_json::json!({"dir": "/tmp/x", "stats": {"n": 1, "l": [1, 2]}});
        let mut out = Vec::new();
        write(&mut out, &v, AsciiFormatter::pretty()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string_pretty(&v).unwrap()
        );
    }

    #[test]
    fn what_a_tree_would_refuse_is_refused() {
        for bad in [
            "",
            "[1,2",
            "[1,]",
            "{\"a\" 1}",
            "[1] 2",
            "\"\\ud800\"",
            "\"\u{1b}\"",
            "01",
            "1e400",
            "nul",
        ] {
            assert!(
                matches!(ascii(bad), Err(Failure::Json(_))),
                "{bad:?} was accepted"
            );
            assert!(
                serde_json::from_str::<serde_json::Value>(bad).is_err(),
                "{bad:?}"
            );
        }
        assert!(matches!(
            transcode(b"[\"\xff\"]", io::sink(), CompactFormatter),
            Err(Failure::Json(_))
        ));
        let deep = "[".repeat(200) + &"]".repeat(200);
        let Err(Failure::Json(e)) = ascii(&deep) else {
            panic!("200 levels were accepted")
        };
        assert!(e.to_string().contains("recursion limit"), "{e}");
        let ok = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(ascii(&ok).unwrap(), ok);
    }

    #[test]
    fn an_output_error_is_an_io_failure() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        // Larger than the serializer's writes are buffered: none here, so
        // the first token fails.
        let Err(Failure::Io(e)) = transcode(b"[0,0,0]", Closed, CompactFormatter) else {
            panic!("the write error was lost")
        };
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn a_bad_result_is_a_codec_error_with_an_escaped_excerpt() {
        let e = check_result(b"{\"a\":\n[1,2,\x1b[31m]}").unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, wasm_sandbox::Error::Codec { .. }), "{text}");
        assert!(text.contains("\\x1b[31m"), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
        assert!(check_result(b" [0,0] ").is_ok());
    }

    #[test]
    fn the_argument_is_compact_utf8() {
        assert_eq!(encode_arg(" [1, \"é\"] ").unwrap(), "[1,\"é\"]".as_bytes());
        assert!(matches!(
            encode_arg("[1,"),
            Err(wasm_sandbox::Error::Codec { .. })
        ));
    }
}
