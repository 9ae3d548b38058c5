//! Runs of tasks and the rules their records follow: a state only moves forward, a newer attempt
//! replaces an older one, and a report that says nothing new changes nothing. Whether reports
//! arrive twice, late or out of order, applying them in any order ends in the same record.

use std::fmt;
use std::str::FromStr;

use crate::domain::EpochMillis;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionState {
    /// Submitted, dispatched or waiting for a slot.
    Pending,
    /// Running.
    Running,
    /// Ended well.
    Succeeded,
    /// Ended in failure.
    Failed,
    /// Stopped or killed.
    Stopped,
    /// Paused.
    Paused,
}

impl ExecutionState {
    /// Order of progress: a record never moves to a lower rank within one attempt.
    pub fn rank(self) -> i32 {
        match self {
            ExecutionState::Pending => 1,
            ExecutionState::Running => 2,
            ExecutionState::Succeeded
            | ExecutionState::Failed
            | ExecutionState::Stopped
            | ExecutionState::Paused => 3,
        }
    }

    /// Whether the run ended (nothing but a new attempt changes it).
    pub fn is_final(self) -> bool {
        self.rank() == 3
    }

    /// A DolphinScheduler task or workflow state name (§10.1 of its contract), or a status a
    /// generic report may carry; case does not matter. `None` for a name this build does not know.
    pub fn from_scheduler(name: &str) -> Option<ExecutionState> {
        let state = match name.trim().to_ascii_uppercase().as_str() {
            "SUBMITTED_SUCCESS" | "SUBMITTED" | "DISPATCH" | "DELAY_EXECUTION" | "WAIT_TO_RUN"
            | "SERIAL_WAIT" | "PENDING" | "QUEUED" | "WAITING" => ExecutionState::Pending,
            "RUNNING_EXECUTION" | "RUNNING" | "READY_PAUSE" | "READY_STOP" | "READY_BLOCK" | "FAILOVER"
            | "STARTED" => ExecutionState::Running,
            "SUCCESS" | "FORCED_SUCCESS" | "SUCCEEDED" => ExecutionState::Succeeded,
            "FAILURE" | "FAILED" | "FAIL" | "NEED_FAULT_TOLERANCE" | "ERROR" => ExecutionState::Failed,
            // 3.1 counts a blocked workflow as ended.
            "STOP" | "STOPPED" | "KILL" | "KILLED" | "CANCELLED" | "CANCELED" | "BLOCK" => {
                ExecutionState::Stopped
            }
            "PAUSE" | "PAUSED" => ExecutionState::Paused,
            _ => return None,
        };
        Some(state)
    }

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionState::Pending => "PENDING",
            ExecutionState::Running => "RUNNING",
            ExecutionState::Succeeded => "SUCCEEDED",
            ExecutionState::Failed => "FAILED",
            ExecutionState::Stopped => "STOPPED",
            ExecutionState::Paused => "PAUSED",
        }
    }
}

impl FromStr for ExecutionState {
    type Err = String;

    /// Reads [`ExecutionState::as_str`] back.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ExecutionState::Pending,
            ExecutionState::Running,
            ExecutionState::Succeeded,
            ExecutionState::Failed,
            ExecutionState::Stopped,
            ExecutionState::Paused,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| format!("unknown execution state {s:?}"))
    }
}

/// What recorded a run's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionSource {
    /// A callback: the generic report, or an alert confirmed by reading the instance.
    Callback,
    /// The poller.
    Poll,
}

impl ExecutionSource {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionSource::Callback => "CALLBACK",
            ExecutionSource::Poll => "POLL",
        }
    }
}

impl FromStr for ExecutionSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "CALLBACK" => Ok(ExecutionSource::Callback),
            "POLL" => Ok(ExecutionSource::Poll),
            other => Err(format!("unknown execution source {other:?}")),
        }
    }
}

/// What identifies a run of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunKey {
    /// The task's part of a DolphinScheduler workflow instance.
    Instance(i64),
    /// A run a generic report named by its start time only.
    Started(EpochMillis),
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunKey::Instance(id) => write!(f, "i{id}"),
            RunKey::Started(at) => write!(f, "t{at}"),
        }
    }
}

/// What one report, or one read of DolphinScheduler, says about a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// DolphinScheduler's task instance id: a higher one is a newer attempt.
    pub task_instance_id: Option<i64>,
    /// DolphinScheduler's task code.
    pub task_code: Option<i64>,
    /// Where the run stands.
    pub state: ExecutionState,
    /// The state name as the sender spelled it.
    pub scheduler_state: String,
    /// When it started.
    pub start_time: Option<EpochMillis>,
    /// When it ended.
    pub end_time: Option<EpochMillis>,
    /// Rows it wrote.
    pub rows_output: Option<i64>,
    /// The worker.
    pub host: String,
    /// The worker's log file.
    pub log_path: String,
    /// Retries DolphinScheduler made before this attempt.
    pub retry_times: i32,
    /// Who says so.
    pub source: ExecutionSource,
}

/// The record of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRecord {
    /// Assigned by storage; 0 before the first write.
    pub id: i64,
    /// The task that ran.
    pub task_id: i64,
    /// What identifies the run among the task's runs.
    pub run_key: String,
    /// The task's name when the run was recorded.
    pub task_name: String,
    /// The portal workflow it ran in.
    pub workflow_id: Option<i64>,
    /// DolphinScheduler's workflow instance.
    pub workflow_instance_id: Option<i64>,
    /// DolphinScheduler's task instance of the latest attempt.
    pub task_instance_id: Option<i64>,
    /// DolphinScheduler's task code.
    pub task_code: Option<i64>,
    /// Where the run stands.
    pub state: ExecutionState,
    /// The state name as the last sender spelled it.
    pub scheduler_state: String,
    /// When it started.
    pub start_time: Option<EpochMillis>,
    /// When it ended.
    pub end_time: Option<EpochMillis>,
    /// Rows it wrote.
    pub rows_output: Option<i64>,
    /// The worker.
    pub host: String,
    /// The worker's log file.
    pub log_path: String,
    /// 1 for the first attempt.
    pub attempt: i32,
    /// What recorded the current state.
    pub source: ExecutionSource,
    /// When the record was written first.
    pub created_at: EpochMillis,
    /// When it last changed.
    pub updated_at: EpochMillis,
}

impl ExecutionRecord {
    /// A record made from its first observation.
    pub fn first(
        task_id: i64,
        task_name: &str,
        key: RunKey,
        workflow_id: Option<i64>,
        observation: &Observation,
        now: EpochMillis,
    ) -> ExecutionRecord {
        ExecutionRecord {
            id: 0,
            task_id,
            run_key: key.to_string(),
            task_name: task_name.to_owned(),
            workflow_id,
            workflow_instance_id: match key {
                RunKey::Instance(id) => Some(id),
                RunKey::Started(_) => None,
            },
            task_instance_id: observation.task_instance_id,
            task_code: observation.task_code,
            state: observation.state,
            scheduler_state: observation.scheduler_state.clone(),
            start_time: observation.start_time,
            end_time: observation.end_time.filter(|_| observation.state.is_final()),
            rows_output: observation.rows_output,
            host: observation.host.clone(),
            log_path: observation.log_path.clone(),
            attempt: observation.retry_times.saturating_add(1).max(1),
            source: observation.source,
            created_at: now,
            updated_at: now,
        }
    }

    /// Applies an observation; returns whether the record changed.
    ///
    /// - A higher task instance id is a newer attempt (a retry, or a rerun of the workflow
    ///   instance): it replaces the state, times and place of the run.
    /// - A lower one is a stale report of an earlier attempt: ignored.
    /// - Within one attempt the state only moves to a higher rank, the first final state stays,
    ///   and missing facts (start, end, rows, host, log) are filled in by whoever knows them.
    pub fn apply(&mut self, observation: &Observation, now: EpochMillis) -> bool {
        let before = self.clone();
        match (self.task_instance_id, observation.task_instance_id) {
            (Some(current), Some(incoming)) if incoming < current => return false,
            (Some(current), Some(incoming)) if incoming > current => {
                self.task_instance_id = Some(incoming);
                self.attempt = (self.attempt + 1).max(observation.retry_times.saturating_add(1));
                self.state = observation.state;
                self.scheduler_state = observation.scheduler_state.clone();
                self.start_time = observation.start_time;
                self.end_time = observation.end_time.filter(|_| observation.state.is_final());
                self.rows_output = observation.rows_output;
                self.host = observation.host.clone();
                self.log_path = observation.log_path.clone();
                self.source = observation.source;
            }
            (_, incoming) => {
                if self.task_instance_id.is_none() {
                    self.task_instance_id = incoming;
                }
                if observation.state.rank() > self.state.rank() {
                    self.state = observation.state;
                    self.scheduler_state = observation.scheduler_state.clone();
                    self.source = observation.source;
                }
                if self.start_time.is_none() {
                    self.start_time = observation.start_time;
                }
                if self.end_time.is_none() && self.state.is_final() && observation.state == self.state {
                    self.end_time = observation.end_time;
                }
                if self.rows_output.is_none() {
                    self.rows_output = observation.rows_output;
                }
                if self.host.is_empty() {
                    self.host = observation.host.clone();
                }
                if self.log_path.is_empty() {
                    self.log_path = observation.log_path.clone();
                }
            }
        }
        if self.task_code.is_none() {
            self.task_code = observation.task_code;
        }
        let changed = *self != before;
        if changed {
            self.updated_at = now;
        }
        changed
    }

    /// How long the run took, once it ended.
    pub fn duration_ms(&self) -> Option<i64> {
        match (self.start_time, self.end_time) {
            (Some(start), Some(end)) if end >= start => Some(end - start),
            _ => None,
        }
    }
}

/// Figures of a task's runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecutionStats {
    /// Runs counted.
    pub runs: i64,
    /// Of which ended well.
    pub succeeded: i64,
    /// Of which failed.
    pub failed: i64,
    /// Of which have not ended.
    pub in_progress: i64,
    /// succeeded / ended; 0 when none ended.
    pub success_rate: f64,
    /// Median duration of the runs that ended well.
    pub p50_duration_ms: i64,
    /// 95th percentile of the same.
    pub p95_duration_ms: i64,
    /// When the last run that ended well ended.
    pub last_success_time: Option<EpochMillis>,
    /// (execution id, start, rows) of the runs that reported rows, oldest first.
    pub rows_trend: Vec<(i64, Option<EpochMillis>, i64)>,
}

impl ExecutionStats {
    /// The figures of `runs` (in any order).
    pub fn of(runs: &[ExecutionRecord]) -> ExecutionStats {
        let mut stats =
            ExecutionStats { runs: i64::try_from(runs.len()).unwrap_or(i64::MAX), ..Default::default() };
        let mut durations = Vec::new();
        let mut ended = 0;
        for run in runs {
            match run.state {
                ExecutionState::Succeeded => {
                    stats.succeeded += 1;
                    durations.extend(run.duration_ms());
                    stats.last_success_time = stats.last_success_time.max(run.end_time);
                }
                ExecutionState::Failed => stats.failed += 1,
                ExecutionState::Pending | ExecutionState::Running => stats.in_progress += 1,
                ExecutionState::Stopped | ExecutionState::Paused => {}
            }
            if run.state.is_final() {
                ended += 1;
            }
        }
        if ended > 0 {
            stats.success_rate = stats.succeeded as f64 / f64::from(ended);
        }
        durations.sort_unstable();
        stats.p50_duration_ms = percentile(&durations, 50);
        stats.p95_duration_ms = percentile(&durations, 95);
        let mut trend: Vec<_> =
            runs.iter().filter_map(|r| r.rows_output.map(|rows| (r.id, r.start_time, rows))).collect();
        trend.sort_by_key(|&(id, start, _)| (start, id));
        stats.rows_trend = trend;
        stats
    }
}

/// The nearest-rank percentile of sorted values; 0 for none.
fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Reads a time a report carries: RFC 3339 (`2025-10-17T03:00:00Z`, `...+08:00`), or a local
/// `yyyy-MM-ddTHH:mm:ss` / `yyyy-MM-dd HH:mm:ss` (fractions allowed) in `zone`, the time zone
/// DolphinScheduler prints its times in.
pub fn parse_report_time(text: &str, zone: &jiff::tz::TimeZone) -> Option<EpochMillis> {
    let text = text.trim();
    if let Ok(instant) = text.parse::<jiff::Timestamp>() {
        return Some(instant.as_millisecond());
    }
    let civil: jiff::civil::DateTime = text.replacen(' ', "T", 1).parse().ok()?;
    let zoned = civil.to_zoned(zone.clone()).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(state: ExecutionState, task_instance: Option<i64>) -> Observation {
        Observation {
            task_instance_id: task_instance,
            task_code: Some(7),
            state,
            scheduler_state: state.as_str().to_owned(),
            start_time: Some(1_000),
            end_time: state.is_final().then_some(5_000),
            rows_output: None,
            host: "worker:1234".into(),
            log_path: "/logs/1.log".into(),
            retry_times: 0,
            source: ExecutionSource::Poll,
        }
    }

    fn record_of(first: &Observation) -> ExecutionRecord {
        ExecutionRecord::first(1, "load", RunKey::Instance(42), Some(3), first, 10)
    }

    #[test]
    fn dolphin_state_names_map_to_states() {
        assert_eq!(ExecutionState::from_scheduler("RUNNING_EXECUTION"), Some(ExecutionState::Running));
        assert_eq!(ExecutionState::from_scheduler("success"), Some(ExecutionState::Succeeded));
        assert_eq!(ExecutionState::from_scheduler("FORCED_SUCCESS"), Some(ExecutionState::Succeeded));
        assert_eq!(ExecutionState::from_scheduler("NEED_FAULT_TOLERANCE"), Some(ExecutionState::Failed));
        assert_eq!(ExecutionState::from_scheduler("KILL"), Some(ExecutionState::Stopped));
        assert_eq!(ExecutionState::from_scheduler("DISPATCH"), Some(ExecutionState::Pending));
        assert_eq!(ExecutionState::from_scheduler("SOMETHING_NEW"), None);
        for state in [ExecutionState::Pending, ExecutionState::Paused, ExecutionState::Failed] {
            assert_eq!(state.as_str().parse::<ExecutionState>(), Ok(state));
        }
    }

    #[test]
    fn a_late_running_never_overwrites_an_end() {
        let mut record = record_of(&observation(ExecutionState::Succeeded, Some(100)));
        assert!(!record.apply(&observation(ExecutionState::Running, Some(100)), 20));
        assert_eq!(record.state, ExecutionState::Succeeded);
        assert_eq!(record.end_time, Some(5_000));
        assert_eq!(record.updated_at, 10);
    }

    #[test]
    fn the_same_report_twice_changes_nothing() {
        let report = observation(ExecutionState::Failed, Some(100));
        let mut record = record_of(&observation(ExecutionState::Running, Some(100)));
        assert!(record.apply(&report, 20));
        let after_first = record.clone();
        assert!(!record.apply(&report, 30));
        assert_eq!(record, after_first);
    }

    #[test]
    fn any_order_of_reports_ends_in_the_same_record() {
        let reports = [
            observation(ExecutionState::Pending, Some(100)),
            observation(ExecutionState::Running, Some(100)),
            Observation {
                rows_output: Some(15_890),
                source: ExecutionSource::Callback,
                ..observation(ExecutionState::Succeeded, None)
            },
            observation(ExecutionState::Succeeded, Some(100)),
        ];
        let mut outcomes = Vec::new();
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]] {
            let mut record = record_of(&reports[order[0]]);
            for &i in &order[1..] {
                record.apply(&reports[i], 20);
            }
            outcomes.push((
                record.state,
                record.task_instance_id,
                record.rows_output,
                record.end_time,
                record.attempt,
            ));
        }
        assert!(
            outcomes
                .iter()
                .all(|o| *o == (ExecutionState::Succeeded, Some(100), Some(15_890), Some(5_000), 1)),
            "{outcomes:?}"
        );
    }

    #[test]
    fn a_newer_attempt_replaces_an_ended_one_and_an_older_is_ignored() {
        let mut record = record_of(&observation(ExecutionState::Failed, Some(100)));
        let retry = Observation {
            start_time: Some(6_000),
            end_time: None,
            ..observation(ExecutionState::Running, Some(101))
        };
        assert!(record.apply(&retry, 20));
        assert_eq!(
            (record.state, record.attempt, record.end_time, record.start_time),
            (ExecutionState::Running, 2, None, Some(6_000))
        );
        assert!(!record.apply(&observation(ExecutionState::Failed, Some(100)), 30));
        assert_eq!(record.state, ExecutionState::Running);
    }

    #[test]
    fn stats_count_outcomes_and_percentiles() {
        let mut runs = Vec::new();
        for (i, (state, duration)) in [
            (ExecutionState::Succeeded, 100),
            (ExecutionState::Succeeded, 300),
            (ExecutionState::Failed, 50),
            (ExecutionState::Running, 0),
            (ExecutionState::Succeeded, 200),
        ]
        .into_iter()
        .enumerate()
        {
            let start = i as i64 * 1_000;
            let mut run = record_of(&Observation {
                start_time: Some(start),
                end_time: Some(start + duration),
                rows_output: Some(i as i64),
                ..observation(state, Some(i as i64))
            });
            run.id = i as i64 + 1;
            runs.push(run);
        }
        runs.reverse();
        let stats = ExecutionStats::of(&runs);
        assert_eq!((stats.runs, stats.succeeded, stats.failed, stats.in_progress), (5, 3, 1, 1));
        assert!((stats.success_rate - 0.75).abs() < 1e-9);
        assert_eq!((stats.p50_duration_ms, stats.p95_duration_ms), (200, 300));
        assert_eq!(stats.last_success_time, Some(4_200));
        assert_eq!(stats.rows_trend.iter().map(|p| p.2).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        assert_eq!(ExecutionStats::of(&[]).success_rate, 0.0);
    }

    #[test]
    fn report_times_read_in_the_scheduler_zone_unless_they_say_otherwise() {
        let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        // 2025-10-17 03:00 in Shanghai is 2025-10-16 19:00 UTC.
        let expected = 1_760_641_200_000;
        assert_eq!(parse_report_time("2025-10-17T03:00:00", &shanghai), Some(expected));
        assert_eq!(parse_report_time("2025-10-17 03:00:00", &shanghai), Some(expected));
        assert_eq!(parse_report_time("2025-10-16T19:00:00Z", &shanghai), Some(expected));
        assert_eq!(parse_report_time("2025-10-17T03:00:00+08:00", &shanghai), Some(expected));
        assert_eq!(parse_report_time("2025-10-17T03:00:00.250", &shanghai), Some(expected + 250));
        assert_eq!(parse_report_time("yesterday", &shanghai), None);
        assert_eq!(parse_report_time("2025-13-40 03:00:00", &shanghai), None);
    }
}
