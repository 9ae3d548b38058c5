//! A REST client of Apache DolphinScheduler (DS) 3.1, 3.2 and 3.3+.
//!
//! The contract is `dolphinscheduler-rest-api.md` (section numbers `§n` in comments refer to it).
//! Layers: [`DolphinClient`] (the calls the service makes, `client.rs`) over `transport.rs` (auth,
//! envelope, error mapping, retries, circuit breaker); `family.rs` holds every difference between
//! the version families and `model.rs` the payloads and their DS JSON.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub mod alert;
mod client;
mod family;
mod model;
mod transport;

#[cfg(test)]
mod tests;

pub use client::{DolphinClient, START_SETTLE, StartReceipt};
pub use model::{
    DagSummary, ExecuteType, LogChunk, ReleaseState, ScheduleInfo, ScheduleSpec, StartSpec, TaskInstance,
    TaskKind, TaskSpec, WorkflowInstance, WorkflowSpec,
};

/// A DolphinScheduler version family: the REST API differs between them (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// 3.1.x: `process-*` paths, tenant on the definition, start answers nothing.
    V3_1,
    /// 3.2.x: `process-*` paths, tenant on start and schedule, start answers a trigger code.
    V3_2,
    /// 3.3.1 and later (3.4.x): `workflow-*` paths and names, start answers the instance id.
    V3_3,
}

impl Family {
    /// The family as configured and logged: `3.1`, `3.2` or `3.3+`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V3_1 => "3.1",
            Family::V3_2 => "3.2",
            Family::V3_3 => "3.3+",
        }
    }

    /// Reads `3.1`, `3.2`, `3.3` or `3.3+` (surrounding blanks ignored); `None` for anything else.
    pub fn parse(s: &str) -> Option<Family> {
        match s.trim() {
            "3.1" => Some(Family::V3_1),
            "3.2" => Some(Family::V3_2),
            "3.3" | "3.3+" => Some(Family::V3_3),
            _ => None,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Family {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Family::parse(s).ok_or_else(|| format!("unknown DolphinScheduler family {s:?}: use 3.1, 3.2 or 3.3+"))
    }
}

/// A password or an access token: never printed (its `Debug` is `***`) nor logged.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, to send it; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// How the client authenticates (§2).
#[derive(Debug, Clone)]
pub enum Credentials {
    /// An access token, sent as the `token` header. It cannot be renewed: a 401 fails the call.
    Token(Secret),
    /// A user and password: the client logs in once, then reuses or creates an access token of that
    /// user and uses it (§2.2 recommends tokens over sessions); a refused token is bootstrapped again.
    Password {
        /// The DS user name.
        user: String,
        /// Its password.
        password: Secret,
    },
}

/// Where DolphinScheduler is and how to talk to it.
#[derive(Debug, Clone)]
pub struct DolphinConfig {
    /// The API base URL including the context path, e.g. `http://host:12345/dolphinscheduler`.
    pub base_url: String,
    /// Token or user and password.
    pub credentials: Credentials,
    /// The version family; `None` detects it once, on first use, and caches it.
    pub family: Option<Family>,
    /// Longest wait for a whole request (default 10 s).
    pub request_timeout: Duration,
    /// Longest wait for a connection (default 3 s).
    pub connect_timeout: Duration,
    /// How many times an idempotent call (reads, release, schedule online/offline) is retried after a
    /// transport failure, timeout or 5xx (default 3). Creates, starts and controls are never retried.
    pub retry_attempts: u32,
    /// Consecutive transport failures that open the circuit (default 5; 0 never opens it).
    pub breaker_threshold: u32,
    /// How long an open circuit refuses calls before one probe call is let through (default 2 s).
    pub breaker_cooldown: Duration,
    /// The zone DS's JVMs run in (default UTC, DS's own default). The API prints its dates in the
    /// zone of the calling user when the user has one, else in this one (DS's
    /// `DateJsonSerializer` formats in the request's user zone or the JVM's).
    pub server_timezone: jiff::tz::TimeZone,
}

impl DolphinConfig {
    /// A configuration with the default timeouts, retries and breaker, detecting the family.
    pub fn new(base_url: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            base_url: base_url.into(),
            credentials,
            family: None,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            retry_attempts: 3,
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(2),
            server_timezone: jiff::tz::TimeZone::UTC,
        }
    }
}
