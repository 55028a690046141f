//! What the benches read of this process: its memory, and a reset of its
//! peak so one case is measured at a time (Linux).

/// A `/proc/self/status` field in KiB (`VmHWM:`, `VmRSS:`).
pub fn memory(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak RSS so it measures what follows (Linux 4.0+).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    std::thread::sleep(std::time::Duration::from_millis(1));
}
