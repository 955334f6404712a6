//! Human number formatting shared by every renderer.

use crate::case::InputSize;

/// `x` with three significant digits (no exponent for the usual magnitudes).
pub(crate) fn sig3(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        // Enough decimals for three significant digits.
        let decimals = (2 - a.log10().floor() as i32).clamp(3, 12) as usize;
        format!("{x:.decimals$}")
    }
}

/// Nanoseconds with an auto-scaled unit: `"12.3 ns"`, `"1.23 µs"`, `"45.6 ms"`, `"1.20 s"`.
pub(crate) fn format_ns(ns: f64) -> String {
    let a = ns.abs();
    if a < 1e3 {
        format!("{} ns", sig3(ns))
    } else if a < 1e6 {
        format!("{} µs", sig3(ns / 1e3))
    } else if a < 1e9 {
        format!("{} ms", sig3(ns / 1e6))
    } else {
        format!("{} s", sig3(ns / 1e9))
    }
}

/// A plain count with a decimal prefix: `"950"`, `"1.23 k"`, `"4.50 M"`, `"7.00 G"`.
pub(crate) fn format_si(x: f64) -> String {
    let a = x.abs();
    if a < 1e3 {
        sig3(x)
    } else if a < 1e6 {
        format!("{} k", sig3(x / 1e3))
    } else if a < 1e9 {
        format!("{} M", sig3(x / 1e6))
    } else {
        format!("{} G", sig3(x / 1e9))
    }
}

/// A sample value in its unit: times auto-scaled, other units with a decimal prefix.
pub(crate) fn format_value(x: f64, unit: &str) -> String {
    if unit == "ns" {
        format_ns(x)
    } else if unit.is_empty() {
        format_si(x)
    } else {
        let s = format_si(x);
        // "1.23 k" + "instructions" -> "1.23 kinstructions" reads badly; keep a space.
        format!("{s} {unit}")
    }
}

/// Bytes with a binary prefix: `"512 B"`, `"1.5 KiB"`, `"64.0 MiB"`.
pub(crate) fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024.0 {
        return format!("{bytes:.0} B");
    }
    let mut v = bytes / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = next;
    }
    format!("{v:.1} {unit}")
}

/// Units per second of `work`: `"1.2 GiB/s"` or `"3.40 M items/s"`.
pub(crate) fn format_throughput(per_sec: f64, work: InputSize) -> String {
    match work {
        InputSize::Bytes(_) => format!("{}/s", format_bytes(per_sec)),
        InputSize::Items(_) => format!("{} items/s", format_si(per_sec)),
    }
}

/// A signed percentage: `"+12.3%"`, `"-4.0%"`.
pub(crate) fn format_pct(pct: f64) -> String {
    format!("{pct:+.1}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(format_ns(12.34), "12.3 ns");
        assert_eq!(format_ns(0.5), "0.500 ns");
        assert_eq!(format_ns(1234.0), "1.23 µs");
        assert_eq!(format_ns(45_600_000.0), "45.6 ms");
        assert_eq!(format_ns(1.2e9), "1.20 s");
        assert_eq!(format_si(950.0), "950");
        assert_eq!(format_si(4.5e6), "4.50 M");
        assert_eq!(format_value(1234.0, "instructions"), "1.23 k instructions");
        assert_eq!(format_bytes(512.0), "512 B");
        assert_eq!(format_bytes(1536.0), "1.5 KiB");
        assert_eq!(format_bytes(64.0 * 1024.0 * 1024.0), "64.0 MiB");
        assert_eq!(
            format_throughput(2.0 * 1024.0 * 1024.0, InputSize::Bytes(1)),
            "2.0 MiB/s"
        );
        assert_eq!(
            format_throughput(3.4e6, InputSize::Items(1)),
            "3.40 M items/s"
        );
        assert_eq!(format_throughput(12.0, InputSize::Items(1)), "12.0 items/s");
        assert_eq!(format_pct(12.34), "+12.3%");
        assert_eq!(format_pct(-4.0), "-4.0%");
    }
}
