//! Linux: `/proc/self/status`, `/proc/self/clear_refs` and `/proc/cpuinfo`.

/// The process's peak resident set size (`VmHWM`) in bytes, if `/proc` is readable.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    super::parse_vm_hwm(&status)
}

/// Resets `VmHWM` to the current RSS (writing `5` to `clear_refs`, Linux 4.0+). Returns
/// whether it worked; when it did not, the next [`peak_rss_bytes`] is the process lifetime's
/// peak.
pub(crate) fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The CPU model from `/proc/cpuinfo`.
pub(crate) fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    super::parse_cpu_model(&cpuinfo)
}
