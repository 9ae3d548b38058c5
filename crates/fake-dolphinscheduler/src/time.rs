//! Wall-clock strings in the formats DS uses. The model keeps every date as `yyyy-MM-dd HH:mm:ss`
//! in UTC; what DS prints is that instant in another zone ([`in_zone`]): API JSON in the zone of
//! the calling user (its `timeZone`) or else the server JVM's, alert contents in the JVM's
//! (`DateJsonSerializer` and `JSONUtils` in DS's sources).

use std::time::{SystemTime, UNIX_EPOCH};

struct Stamp {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
}

fn stamp_now() -> Stamp {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Stamp {
        year,
        month,
        day,
        hour: rest / 3600,
        minute: rest % 3600 / 60,
        second: rest % 60,
        millis: i64::from(since.subsec_millis()),
    }
}

/// `yyyy-MM-dd HH:mm:ss`, the format of every date in API responses.
pub(crate) fn now() -> String {
    let s = stamp_now();
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", s.year, s.month, s.day, s.hour, s.minute, s.second)
}

/// `yyyyMMddHHmmssSSS`, the suffix of instance names (`<definition>-<runTimes>-<stamp>`).
pub(crate) fn now_compact() -> String {
    let s = stamp_now();
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}{:03}",
        s.year, s.month, s.day, s.hour, s.minute, s.second, s.millis
    )
}

/// Spring's error `timestamp` (`2024-01-01T00:00:00.000+00:00`).
pub(crate) fn now_iso() -> String {
    let s = stamp_now();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        s.year, s.month, s.day, s.hour, s.minute, s.second, s.millis
    )
}

/// The UTC date `utc` (`yyyy-MM-dd HH:mm:ss`) as a wall-clock date of `zone`; anything else unchanged.
pub(crate) fn in_zone(utc: &str, zone: &jiff::tz::TimeZone) -> String {
    let Some(seconds) = epoch_seconds(utc) else { return utc.to_owned() };
    let Ok(instant) = jiff::Timestamp::from_second(seconds) else { return utc.to_owned() };
    instant.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Whether `s` is a `yyyy-MM-dd HH:mm:ss` date. Such strings compare chronologically as text.
pub(crate) fn is_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    let shape = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    let num = |from: usize, to: usize| s[from..to].parse::<u32>().unwrap_or(0);
    shape
        && (1..=12).contains(&num(5, 7))
        && (1..=31).contains(&num(8, 10))
        && num(11, 13) < 24
        && num(14, 16) < 60
        && num(17, 19) < 60
}

/// Seconds since 1970-01-01 of a `yyyy-MM-dd HH:mm:ss` date (UTC); None if it is not one.
fn epoch_seconds(s: &str) -> Option<i64> {
    if !is_datetime(s) {
        return None;
    }
    let num = |from: usize, to: usize| s[from..to].parse::<i64>().ok();
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    // Days from civil (H. Hinnant's algorithm), the inverse of `stamp_now`'s.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + num(11, 13)? * 3600 + num(14, 16)? * 60 + num(17, 19)?)
}

/// DS's `DateUtils.format2Duration` between two dates (`end` None: now): `1d 2h 3m 4s` without the
/// zero units, e.g. `4s`; under a second reads `1s`, as later 3.x releases print it.
pub(crate) fn duration(start: &str, end: Option<&str>) -> Option<String> {
    let now = now();
    let seconds = epoch_seconds(end.unwrap_or(&now))? - epoch_seconds(start)?;
    let seconds = seconds.max(1);
    let parts = [
        (seconds / 86_400, "d"),
        (seconds % 86_400 / 3600, "h"),
        (seconds % 3600 / 60, "m"),
        (seconds % 60, "s"),
    ];
    let parts: Vec<String> =
        parts.iter().filter(|(n, _)| *n > 0).map(|(n, unit)| format!("{n}{unit}")).collect();
    Some(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dates_back() {
        assert_eq!(epoch_seconds("1970-01-01 00:00:00"), Some(0));
        assert_eq!(epoch_seconds("2024-03-01 12:00:09"), Some(1_709_294_409));
        assert_eq!(epoch_seconds("2024-13-01 00:00:00"), None);
        let now = now();
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
        assert!((epoch_seconds(&now).unwrap() - since).abs() <= 1);
    }

    #[test]
    fn prints_utc_dates_in_a_zone() {
        let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        assert_eq!(in_zone("2024-01-01 20:00:09", &shanghai), "2024-01-02 04:00:09");
        let new_york = jiff::tz::TimeZone::get("America/New_York").unwrap();
        assert_eq!(in_zone("2024-07-01 12:00:00", &new_york), "2024-07-01 08:00:00");
        assert_eq!(in_zone("not a date", &new_york), "not a date");
    }

    #[test]
    fn formats_durations_like_ds() {
        let duration = |end: &str| duration("2024-01-01 12:00:00", Some(end)).unwrap();
        assert_eq!(duration("2024-01-01 12:00:04"), "4s");
        assert_eq!(duration("2024-01-01 12:00:00"), "1s");
        assert_eq!(duration("2024-01-01 12:02:00"), "2m");
        assert_eq!(duration("2024-01-02 13:01:05"), "1d 1h 1m 5s");
        assert_eq!(super::duration("nope", None), None);
    }
}
