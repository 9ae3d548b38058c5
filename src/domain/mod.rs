//! The warehouse model: tables, tasks and the rules they obey. No transport or storage here.

pub mod datasource;
pub mod execution;
pub mod lineage;
pub mod names;
pub mod schedule;
pub mod table;
pub mod task;
pub mod workflow;

/// Milliseconds since the Unix epoch, UTC: how the service stores and compares instants.
pub type EpochMillis = i64;

/// The current time as [`EpochMillis`].
pub fn now_millis() -> EpochMillis {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// `yyyy-MM-dd HH:mm:ss` of a Unix time in seconds, in UTC: how DolphinScheduler and schedules
/// write times.
pub fn format_utc(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// An optimistic-concurrency version of a row, bumped on every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version(pub i64);

/// What callers see of a version: `<id>-v<version>`. Carrying the id keeps an etag of a
/// deleted row from matching a new row that took its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Etag {
    /// The row.
    pub id: i64,
    /// Its version.
    pub version: Version,
}

impl Etag {
    /// The etag of `version` of row `id`.
    pub fn of(id: i64, version: Version) -> Etag {
        Etag { id, version }
    }

    /// Reads an etag sent by a caller; `None` when it is not one this service issued.
    pub fn parse(etag: &str) -> Option<Etag> {
        let (id, version) = etag.split_once("-v")?;
        Some(Etag { id: id.parse().ok()?, version: Version(version.parse().ok()?) })
    }

    /// Whether this is the etag of `version` of row `id`.
    pub fn matches(self, id: i64, version: Version) -> bool {
        self == Etag::of(id, version)
    }
}

impl std::fmt::Display for Etag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-v{}", self.id, self.version.0)
    }
}

/// How a caller names a resource: by id or by unique name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// By the id the service assigned.
    Id(i64),
    /// By the unique name.
    Name(String),
}

impl std::fmt::Display for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookup::Id(id) => write!(f, "id {id}"),
            Lookup::Name(name) => write!(f, "name {name:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_are_formatted() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(1_709_164_800 + 3_723), "2024-02-29 01:02:03");
    }

    #[test]
    fn etags_round_trip_and_name_their_row() {
        let etag = Etag::of(42, Version(3));
        assert_eq!(etag.to_string(), "42-v3");
        assert_eq!(Etag::parse("42-v3"), Some(etag));
        assert!(etag.matches(42, Version(3)));
        assert!(!etag.matches(43, Version(3)), "the same version of another row");
        for bad in ["", "v3", "42", "42-3", "x-v3", "42-vx"] {
            assert_eq!(Etag::parse(bad), None, "{bad}");
        }
    }
}
