//! Platforms without `/proc`: nothing is known.

/// Not available on this platform.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    None
}

/// Not available on this platform.
pub(crate) fn reset_peak_rss() -> bool {
    false
}

/// Not available on this platform.
pub(crate) fn cpu_model() -> Option<String> {
    None
}
