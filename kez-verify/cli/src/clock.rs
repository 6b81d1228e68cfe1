//! The current time and the time and duration arguments.
//!
//! Times are Unix seconds, as in every KEZ object (SPEC.md §2.3). `--at` takes RFC 3339
//! in UTC (`2026-01-01T00:00:00Z`; the `Z` and fractional seconds are optional).
//! Durations take humantime's units (`90m`, `30d`, `1y`).
//!
//! `KEZ_NOW` (RFC 3339, UTC), when set, replaces the system clock: scripts and tests use
//! it for reproducible claims and chains. It weakens nothing that `--at` does not
//! already allow.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::CliError;

/// The environment variable that overrides the system clock.
pub(crate) const NOW_ENV: &str = "KEZ_NOW";

/// Now, in Unix seconds (or `KEZ_NOW`).
pub(crate) fn now() -> Result<u64, CliError> {
    if let Some(text) = std::env::var_os(NOW_ENV) {
        let text = text.to_string_lossy();
        return parse_time(&text).map_err(|e| CliError::Usage(format!("${NOW_ENV}: {e}")));
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| CliError::Usage("the system clock is before 1970".into()))
}

/// Parses an RFC 3339 UTC time into Unix seconds (clap value parser for `--at`).
pub(crate) fn parse_time(text: &str) -> Result<u64, String> {
    let time = humantime::parse_rfc3339_weak(text).map_err(|e| {
        format!(
            "expected an RFC 3339 time in UTC such as 2026-01-01T00:00:00Z, found {text:?} ({e})"
        )
    })?;
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| format!("{text:?} is before 1970"))
}

/// Parses a duration such as `30d`, `1y` or `90m` into seconds (clap value parser).
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("expected a duration such as 90m, 30d or 1y, found {text:?} ({e})"))?;
    if duration < Duration::from_secs(1) {
        return Err(format!("{text:?} is shorter than one second"));
    }
    Ok(duration.as_secs())
}

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z): its years have four digits.
const LAST_RFC3339_SECOND: u64 = 253_402_300_799;

/// Formats Unix seconds as RFC 3339 UTC (`2026-01-01T00:00:00Z`), or as `@SECONDS` for a time
/// after year 9999, which RFC 3339 cannot write. Times come from untrusted data (a claim's
/// `created_at`, a nostr event's `created_at`, a bundle's `at`): humantime's formatter
/// reports an error for such times, and `to_string` would panic on it.
pub(crate) fn format_time(secs: u64) -> String {
    match UNIX_EPOCH.checked_add(Duration::from_secs(secs)) {
        Some(time) if secs <= LAST_RFC3339_SECOND => {
            humantime::format_rfc3339_seconds(time).to_string()
        }
        _ => format!("@{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_rfc3339() {
        assert_eq!(parse_time("2026-01-01T00:00:00Z"), Ok(1_767_225_600));
        assert_eq!(parse_time("2026-01-01 00:00:00"), Ok(1_767_225_600));
        assert_eq!(format_time(1_767_225_600), "2026-01-01T00:00:00Z");
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn times_after_year_9999_are_written_as_seconds_not_a_panic() {
        assert_eq!(format_time(LAST_RFC3339_SECOND), "9999-12-31T23:59:59Z");
        assert_eq!(format_time(LAST_RFC3339_SECOND + 1), "@253402300800");
        // The largest created_at SPEC.md allows (2^53 - 1), and more.
        assert_eq!(format_time(9_007_199_254_740_991), "@9007199254740991");
        assert_eq!(format_time(u64::MAX), format!("@{}", u64::MAX));
    }

    #[test]
    fn durations_use_humantime_units() {
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration("1y"), Ok(31_557_600));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
