//! Times on the `ferry link` command line: RFC 3339 (`2026-12-24T09:00:00Z`, `...+01:00`,
//! fractional seconds dropped) or plain unix seconds, both to unix seconds; and back to RFC 3339
//! (UTC) for messages.
//!
//! A few lines of calendar arithmetic (Howard Hinnant's `days_from_civil`) instead of a date
//! crate: only the proleptic Gregorian calendar from year 1970 to 9999 is needed.

/// Parses RFC 3339 (RFC 3339 §5.6 `date-time`) or decimal unix seconds into unix seconds.
pub fn parse_time(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| format!("{s}: unix time out of range"));
    }
    parse_rfc3339(s)
        .ok_or_else(|| format!("{s}: expected RFC 3339 (2026-12-24T09:00:00Z) or unix seconds"))
}

fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = parse_offset(rest)?;
    let valid = (1970..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && min < 60
        && sec < 61; // RFC 3339 §5.7 allows a leap second; it counts as :59 + 1.
    if !valid {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    u64::try_from(secs).ok()
}

/// `Z` or `±HH:MM`, as seconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    if s == "Z" || s == "z" {
        return Some(0);
    }
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h: i64 = s.get(1..3)?.parse().ok()?;
    let m: i64 = s.get(4..6)?.parse().ok()?;
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as RFC 3339 in UTC (`2026-12-24T09:00:00Z`).
pub fn format_time(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // civil_from_days, the inverse of days_from_civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        // `date -u -d 2026-12-24T09:00:00Z +%s`
        assert_eq!(parse_time("2026-12-24T09:00:00Z"), Ok(1_798_102_800));
        assert_eq!(parse_time("2026-12-24T10:00:00+01:00"), Ok(1_798_102_800));
        assert_eq!(
            parse_time("2026-12-24t08:30:00.123-00:30"),
            Ok(1_798_102_800)
        );
        assert_eq!(parse_time("2024-02-29T00:00:00Z"), Ok(1_709_164_800));
        assert_eq!(parse_time(" 1798102800 "), Ok(1_798_102_800));
        assert_eq!(format_time(1_798_102_800), "2026-12-24T09:00:00Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn refuses_bad_input() {
        for s in [
            "",
            "tomorrow",
            "2026-12-24",
            "2026-12-24T09:00:00",
            "2026-12-24T09:00:00+0100",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-12-24T24:00:00Z",
            "2026-12-24T09:00:00.Z",
            "1969-12-31T23:59:59Z",
            "+026-12-24T09:00:00Z",
            "99999999999999999999999",
            "-5",
        ] {
            assert!(parse_time(s).is_err(), "{s:?} parsed");
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(t in 0u64..253_402_300_800) {
            prop_assert_eq!(parse_time(&format_time(t)), Ok(t));
        }
    }
}
