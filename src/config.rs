//! Configuration: defaults < `.env` < environment < command-line flags. The environment names
//! are those of the original DolphinScheduler service where one existed (`DS_SERVICE_HOST`,
//! `DS_SERVICE_PORT`, `LOG_LEVEL`, `PYDS_USER_NAME`, `PYDS_USER_PASSWORD`, `PYDS_USER_TENANT`,
//! `PYDS_WORKFLOW_PROJECT`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::app::LayerRules;
use crate::scheduler::dolphin::{Credentials, DolphinConfig, Family, Secret};
use crate::storage::PoolSettings;

/// The data portal service.
#[derive(Debug, Parser)]
#[command(name = "dataportal", version, about)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Database and logging, shared by every command.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API (applies pending migrations first unless --no-migrate).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate,
}

/// Settings every command takes.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Database URL: `mysql://user:password@host:3306/db` or `sqlite://path/to/file.db`.
    /// Defaults to an SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<SecretUrl>,
    /// Where the embedded SQLite database lives; created when missing.
    #[arg(long, env = "DATA_DIR", global = true, default_value = "data")]
    pub data_dir: PathBuf,
    /// Most database connections.
    #[arg(long, env = "DB_MAX_CONNECTIONS", global = true, default_value_t = 32)]
    pub db_max_connections: u32,
    /// Seconds a request waits for a database connection before failing with UNAVAILABLE.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_SECS", global = true, default_value_t = 5)]
    pub db_acquire_timeout_secs: u64,
    /// Log level (TRACE, DEBUG, INFO, WARN, ERROR) or a tracing filter such as `dataportal=debug,info`.
    #[arg(long, env = "LOG_LEVEL", global = true, default_value = "INFO")]
    pub log_level: String,
    /// `json` (one JSON object per line) or `text`.
    #[arg(long, env = "LOG_FORMAT", global = true, default_value = "json")]
    pub log_format: LogFormat,
}

/// Settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the gRPC server binds.
    #[arg(long, env = "DS_SERVICE_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port of the gRPC server; 0 picks a free one (the log says which).
    #[arg(long, env = "DS_SERVICE_PORT", default_value_t = 8081)]
    pub port: u16,
    /// Port of the REST (HTTP/JSON) server, on the same host; 0 picks a free one.
    #[arg(long, env = "REST_PORT", default_value_t = 8080)]
    pub rest_port: u16,
    /// Do not apply pending migrations at start.
    #[arg(long, env = "NO_MIGRATE")]
    pub no_migrate: bool,
    /// Milliseconds between database health probes.
    #[arg(long, env = "HEALTH_CHECK_INTERVAL_MS", default_value_t = 1000)]
    pub health_check_interval_ms: u64,
    /// Whether a task writing a lower layer than it reads is only warned about or refused.
    #[arg(long, env = "LINEAGE_LAYER_RULES", value_enum, default_value = "warn")]
    pub lineage_layer_rules: LayerRules,
    /// Milliseconds between catch-ups of the lineage index with what other replicas wrote.
    #[arg(long, env = "LINEAGE_REFRESH_MS", default_value_t = 250)]
    pub lineage_refresh_ms: u64,
    /// DolphinScheduler.
    #[command(flatten)]
    pub dolphin: DolphinArgs,
    /// Execution reports and polling.
    #[command(flatten)]
    pub executions: ExecutionArgs,
    /// Key that seals data source passwords: base64 of 32 random bytes (`openssl rand -base64
    /// 32`). Without it, a key file in the data directory is used (created on first start);
    /// replicas sharing a database must share the key.
    #[arg(long, env = "DATA_SOURCE_KEY", hide_env_values = true)]
    pub data_source_key: Option<Secret>,
}

/// Where DolphinScheduler is and how workflows are published to it. Without `DS_URL` the
/// service runs without it: the catalog serves, the workflow calls fail with DS_NOT_CONFIGURED.
#[derive(Debug, Clone, Args)]
pub struct DolphinArgs {
    /// API base URL including the context path, such as `http://ds-api:12345/dolphinscheduler`.
    #[arg(long = "ds-url", env = "DS_URL")]
    pub url: Option<String>,
    /// Access token (preferred over a password).
    #[arg(long = "ds-token", env = "DS_TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,
    /// User whose password bootstraps an access token when no token is given.
    #[arg(long = "ds-user", env = "PYDS_USER_NAME", default_value = "admin")]
    pub user: String,
    /// That user's password.
    #[arg(long = "ds-password", env = "PYDS_USER_PASSWORD", hide_env_values = true)]
    pub password: Option<Secret>,
    /// Tenant tasks run as.
    #[arg(long = "ds-tenant", env = "PYDS_USER_TENANT", default_value = "default")]
    pub tenant: String,
    /// Project the workflows live in (created when missing).
    #[arg(long = "ds-project", env = "PYDS_WORKFLOW_PROJECT", default_value = "data-portal")]
    pub project: String,
    /// Worker group tasks run on.
    #[arg(long = "ds-worker-group", env = "DS_WORKER_GROUP", default_value = "default")]
    pub worker_group: String,
    /// Alert group told when runs end (0 = none); its HTTP alert instance points at the callbacks.
    #[arg(long = "ds-warning-group-id", env = "DS_WARNING_GROUP_ID", default_value_t = 0)]
    pub warning_group_id: i64,
    /// Version family: `auto` (detected once), `3.1`, `3.2` or `3.3` (3.3 and later).
    #[arg(long = "ds-version", env = "DS_VERSION", default_value = "auto")]
    pub version: String,
    /// DolphinScheduler datasource of SQL tasks that name none.
    #[arg(long = "ds-default-datasource", env = "DS_DEFAULT_DATASOURCE", default_value = "")]
    pub default_datasource: String,
    /// Time zone of schedules that name none, and of callback times without an offset.
    #[arg(long = "ds-timezone", env = "DS_TIMEZONE", default_value = "Asia/Shanghai")]
    pub timezone: String,
    /// Time zone DolphinScheduler's servers run in (their JVM's `-Duser.timezone`, which its start
    /// scripts take from `SPRING_JACKSON_TIME_ZONE`, UTC unless changed). Its API prints dates in
    /// it when the service's DolphinScheduler user has no time zone of its own.
    #[arg(long = "ds-server-timezone", env = "DS_SERVER_TIMEZONE", default_value = "UTC")]
    pub server_timezone: String,
    /// Seconds a DolphinScheduler call may take.
    #[arg(long = "ds-timeout-secs", env = "DS_TIMEOUT_SECS", default_value_t = 10)]
    pub timeout_secs: u64,
}

impl Default for DolphinArgs {
    fn default() -> Self {
        Self {
            url: None,
            token: None,
            user: "admin".into(),
            password: None,
            tenant: "default".into(),
            project: "data-portal".into(),
            worker_group: "default".into(),
            warning_group_id: 0,
            version: "auto".into(),
            default_datasource: String::new(),
            timezone: "Asia/Shanghai".into(),
            server_timezone: "UTC".into(),
            timeout_secs: 10,
        }
    }
}

impl DolphinArgs {
    /// The client configuration, `None` when DolphinScheduler is not configured.
    pub fn client_config(&self) -> Result<Option<DolphinConfig>, String> {
        let Some(url) = self.url.as_ref().filter(|u| !u.is_empty()) else { return Ok(None) };
        let credentials = match (&self.token, &self.password) {
            (Some(token), _) if !token.expose().is_empty() => Credentials::Token(token.clone()),
            (_, Some(password)) if !password.expose().is_empty() => {
                Credentials::Password { user: self.user.clone(), password: password.clone() }
            }
            _ => return Err("DS_URL is set but neither DS_TOKEN nor PYDS_USER_PASSWORD is".into()),
        };
        let mut config = DolphinConfig::new(url.trim_end_matches('/'), credentials);
        config.family = match self.version.as_str() {
            "auto" | "" => None,
            other => Some(other.parse::<Family>()?),
        };
        config.request_timeout = Duration::from_secs(self.timeout_secs.max(1));
        config.server_timezone = jiff::tz::TimeZone::get(&self.server_timezone)
            .map_err(|_| format!("DS_SERVER_TIMEZONE {:?} is not a known time zone", self.server_timezone))?;
        Ok(Some(config))
    }
}

/// How runs are followed: callbacks in, polling of DolphinScheduler for what they miss.
#[derive(Debug, Clone, Args)]
pub struct ExecutionArgs {
    /// Milliseconds between reads of a running workflow instance; 0 reads an instance only when
    /// a callback names it.
    #[arg(long, env = "EXECUTION_POLL_INTERVAL_MS", default_value_t = 5_000)]
    pub execution_poll_interval_ms: u64,
    /// The pause between reads grows while they find nothing new, up to this many milliseconds.
    #[arg(long, env = "EXECUTION_MAX_POLL_INTERVAL_MS", default_value_t = 60_000)]
    pub execution_max_poll_interval_ms: u64,
    /// Seconds between looks for runs of published workflows that nobody reported (scheduled
    /// runs without alerts); 0 turns them off.
    #[arg(long, env = "EXECUTION_DISCOVER_INTERVAL_SECS", default_value_t = 30)]
    pub execution_discover_interval_secs: u64,
    /// Workflow instances read at once, at most.
    #[arg(long, env = "EXECUTION_POLL_CONCURRENCY", default_value_t = 8)]
    pub execution_poll_concurrency: usize,
    /// Shared secret every callback must carry in the `X-Callback-Secret` header; none when unset.
    #[arg(long, env = "CALLBACK_SECRET", hide_env_values = true)]
    pub callback_secret: Option<Secret>,
}

impl Default for ExecutionArgs {
    fn default() -> Self {
        Self {
            execution_poll_interval_ms: 5_000,
            execution_max_poll_interval_ms: 60_000,
            execution_discover_interval_secs: 30,
            execution_poll_concurrency: 8,
            callback_secret: None,
        }
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8081,
            rest_port: 8080,
            no_migrate: false,
            health_check_interval_ms: 1000,
            lineage_layer_rules: LayerRules::Warn,
            lineage_refresh_ms: 250,
            dolphin: DolphinArgs::default(),
            executions: ExecutionArgs::default(),
            data_source_key: None,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

impl CommonArgs {
    /// The database URL: the configured one, else the SQLite file in the data directory.
    pub fn database_url(&self) -> SecretUrl {
        self.database_url.clone().unwrap_or_else(|| {
            SecretUrl(format!("sqlite://{}", self.data_dir.join("dataportal.db").display()))
        })
    }

    /// Pool settings.
    pub fn pool(&self) -> PoolSettings {
        PoolSettings {
            max_connections: self.db_max_connections.max(1),
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout_secs.max(1)),
        }
    }
}

/// Everything `serve` needs, independent of how it was configured (tests build it directly).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The database.
    pub database_url: SecretUrl,
    /// Pool settings.
    pub pool: PoolSettings,
    /// Server settings.
    pub serve: ServeArgs,
    /// Where files of the service live (the data source key file when no key is configured).
    pub data_dir: PathBuf,
}

/// A URL that may carry a password: `Debug` and `Display` show it with the password masked.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, for connecting. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                write!(f, "{url}")
            }
            Ok(_) => write!(f, "{}", self.0),
            // Unparsable: it might still hold a secret, so show only its scheme.
            Err(_) => write!(f, "{}://***", self.0.split(':').next().unwrap_or("?")),
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = SecretUrl::new("mysql://portal:s3cret@db:3306/portal");
        assert_eq!(url.to_string(), "mysql://portal:***@db:3306/portal");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(SecretUrl::new("sqlite://data/x.db").to_string(), "sqlite://data/x.db");
    }

    #[test]
    fn flags_override_environment_defaults() {
        let cli =
            Cli::parse_from(["dataportal", "--database-url", "sqlite://x.db", "serve", "--port", "9000"]);
        let Some(Command::Serve(serve)) = cli.command else { panic!("serve expected") };
        assert_eq!(serve.port, 9000);
        assert_eq!(cli.common.database_url().expose(), "sqlite://x.db");
    }

    #[test]
    fn dolphinscheduler_needs_a_token_or_a_password() {
        let args = DolphinArgs::default();
        assert!(args.client_config().unwrap().is_none(), "not configured without a URL");
        let url =
            DolphinArgs { url: Some("http://ds:12345/dolphinscheduler/".into()), ..DolphinArgs::default() };
        assert!(url.client_config().unwrap_err().contains("PYDS_USER_PASSWORD"));
        let with_password = DolphinArgs { password: Some(Secret::new("pw")), version: "3.2".into(), ..url };
        let config = with_password.client_config().unwrap().unwrap();
        assert_eq!(config.base_url, "http://ds:12345/dolphinscheduler");
        assert_eq!(config.family, Some(Family::V3_2));
        assert!(!format!("{config:?}").contains("pw\""), "{config:?}");
    }
}
