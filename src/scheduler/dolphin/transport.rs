//! HTTP to DolphinScheduler: authentication, the response envelope, error mapping, retries of
//! idempotent calls and a circuit breaker (§1–§3).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::Value;

use super::model::{int, rows, text};
use super::{Credentials, DolphinConfig, Secret};
use crate::error::{Error, ErrorKind, Reason, Result};

/// Where a call is made, because some codes mean different things there (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// `POST /login`: its codes are login failures.
    Login,
    /// A definition or schedule write: `10001` is DS's catch-all for a payload it cannot read.
    Definition,
    /// Anything else.
    Other,
}

/// One REST call. Not `Debug`: its form may hold the password.
pub(crate) struct Call {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    form: Vec<(&'static str, String)>,
    what: String,
    idempotent: bool,
    context: Context,
}

impl Call {
    fn new(method: Method, path: String, what: String, idempotent: bool) -> Self {
        Self { method, path, query: Vec::new(), form: Vec::new(), what, idempotent, context: Context::Other }
    }

    /// A read of `path` (relative to the base URL); `what` completes "DolphinScheduler refused to …".
    /// Reads are retried.
    pub(crate) fn get(path: impl Into<String>, what: impl Into<String>) -> Self {
        Self::new(Method::GET, path.into(), what.into(), true)
    }

    /// A form POST; not retried unless marked [`Call::idempotent`].
    pub(crate) fn post(path: impl Into<String>, what: impl Into<String>) -> Self {
        Self::new(Method::POST, path.into(), what.into(), false)
    }

    /// A form PUT; not retried.
    pub(crate) fn put(path: impl Into<String>, what: impl Into<String>) -> Self {
        Self::new(Method::PUT, path.into(), what.into(), false)
    }

    /// A DELETE; not retried (a repeat after a lost answer would fail with "does not exist").
    pub(crate) fn delete(path: impl Into<String>, what: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path.into(), what.into(), false)
    }

    /// Adds a query-string parameter.
    pub(crate) fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    /// Adds a form field (v1 endpoints read form bodies only, §1).
    pub(crate) fn form(mut self, key: &'static str, value: impl ToString) -> Self {
        self.form.push((key, value.to_string()));
        self
    }

    /// Marks a POST that may be sent twice with the same effect (release, schedule online/offline).
    pub(crate) fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Marks a definition or schedule write (for the meaning of `10001`).
    pub(crate) fn defining(mut self) -> Self {
        self.context = Context::Definition;
        self
    }

    fn login(mut self) -> Self {
        self.context = Context::Login;
        self
    }

    /// What the call does, for messages.
    pub(crate) fn what(&self) -> &str {
        &self.what
    }
}

/// A raw HTTP answer.
pub(crate) struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    /// Its classification.
    pub(crate) fn outcome(&self) -> Outcome {
        classify(self.status, &self.body)
    }
}

/// What an HTTP answer means (§1).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// An envelope with code 0: its `data`.
    Data(Value),
    /// An envelope with another code.
    Refused {
        /// DS's code.
        code: i64,
        /// DS's message.
        msg: String,
    },
    /// HTTP 401: unknown or expired token or session.
    Unauthorized,
    /// HTTP 5xx (a proxy, or the server failing).
    ServerError(u16),
    /// Anything else that is not an envelope, such as Spring's 404 for an unknown path.
    Unexpected(u16),
}

/// Decides what an answer means. The envelope's `code` decides, whatever the status: DS answers
/// business errors with 200 and creates with 201 even when they fail (§1).
pub(crate) fn classify(status: u16, body: &[u8]) -> Outcome {
    if status == 401 {
        return Outcome::Unauthorized;
    }
    if status >= 500 {
        return Outcome::ServerError(status);
    }
    let Ok(Value::Object(mut envelope)) = serde_json::from_slice::<Value>(body) else {
        return Outcome::Unexpected(status);
    };
    match envelope.get("code").and_then(Value::as_i64) {
        Some(0) => Outcome::Data(envelope.remove("data").unwrap_or(Value::Null)),
        Some(code) => Outcome::Refused {
            code,
            msg: envelope.get("msg").and_then(Value::as_str).unwrap_or_default().to_owned(),
        },
        None => Outcome::Unexpected(status),
    }
}

/// The reason of a DS error code at `context` (§3; the grouping is the service's).
pub(crate) fn reason_for(code: i64, context: Context) -> Reason {
    match code {
        10013 | 10004 | 10148 | 10043 if context == Context::Login => Reason::DsLoginFailed,
        10001 if context == Context::Definition => Reason::DsDefinitionInvalid,
        30001..=30003 => Reason::DsPermissionDenied,
        50017 | 50018 | 50019 | 50020 | 50030 | 50036 | 50035 | 10024 | 1400004 => {
            Reason::DsDefinitionInvalid
        }
        // 10190 is what 3.1.1 answers for a missing project (`PROJECT_NOT_EXIST`, "This project
        // was not found"), 10018 its older twin.
        10018 | 10190 | 50001 | 50003 | 10008 | 10203 => Reason::DsNotFound,
        50004 | 50005 | 50006 | 50008 | 50021 | 50023 | 10023 | 10126 | 10163 | 10204 | 10191 => {
            Reason::DsStateConflict
        }
        _ => Reason::DsRejected,
    }
}

/// The error kind of a DS reason.
fn kind_of(reason: Reason) -> ErrorKind {
    match reason {
        Reason::DsUnavailable => ErrorKind::Unavailable,
        Reason::DsNotFound => ErrorKind::NotFound,
        _ => ErrorKind::FailedPrecondition,
    }
}

/// The error for a DS answer with a code other than 0; carries `ds_code` and `ds_message`.
pub(crate) fn refused(code: i64, msg: &str, what: &str, context: Context) -> Error {
    let reason = reason_for(code, context);
    Error::new(kind_of(reason), reason, format!("DolphinScheduler refused to {what}: {msg} (code {code})"))
        .with_metadata("ds_code", code.to_string())
        .with_metadata("ds_message", msg)
}

/// DS does not answer, fails, or the circuit is open.
pub(crate) fn unavailable(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unavailable, Reason::DsUnavailable, message)
}

fn login_failed(message: impl Into<String>) -> Error {
    Error::new(kind_of(Reason::DsLoginFailed), Reason::DsLoginFailed, message)
}

/// The error for an outcome other than data.
pub(crate) fn outcome_error(outcome: Outcome, call: &Call) -> Error {
    match outcome {
        Outcome::Refused { code, msg } => refused(code, &msg, &call.what, call.context),
        Outcome::Unauthorized => {
            login_failed(format!("DolphinScheduler refused the credentials to {} (HTTP 401)", call.what))
        }
        Outcome::ServerError(status) => {
            unavailable(format!("DolphinScheduler failed to {}: HTTP {status}", call.what))
        }
        Outcome::Unexpected(status) => Error::new(
            ErrorKind::FailedPrecondition,
            Reason::DsRejected,
            format!(
                "DolphinScheduler answered the call to {} with HTTP {status} and no result; \
                 check the base URL and the version family",
                call.what
            ),
        )
        .with_metadata("http_status", status.to_string()),
        Outcome::Data(_) => {
            Error::internal(format!("a successful answer to {} taken for an error", call.what))
        }
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    /// `POST /login` only.
    None,
    /// The `sessionId` header, while bootstrapping a token (§2.1).
    Session(&'a str),
    /// The `token` header (§2.2).
    Token(&'a str),
}

/// The token in use and a counter of renewals, so that concurrent 401s renew it once.
struct TokenSlot {
    token: Option<Secret>,
    generation: u64,
}

/// The HTTP side of the client.
pub(crate) struct Transport {
    http: reqwest::Client,
    base_url: String,
    credentials: Credentials,
    token: RwLock<TokenSlot>,
    renewal: tokio::sync::Mutex<()>,
    breaker: Breaker,
    retry_attempts: u32,
    calls: AtomicU64,
}

impl Transport {
    /// Builds the HTTP client; sends nothing.
    pub(crate) fn new(config: &DolphinConfig) -> Result<Self> {
        let url = url::Url::parse(&config.base_url).map_err(|e| not_configured(&config.base_url, &e))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(not_configured(&config.base_url, &"the scheme must be http or https"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| Error::internal(format!("cannot build the DolphinScheduler HTTP client: {e}")))?;
        let token = match &config.credentials {
            Credentials::Token(token) => Some(token.clone()),
            Credentials::Password { .. } => None,
        };
        Ok(Self {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            credentials: config.credentials.clone(),
            token: RwLock::new(TokenSlot { token, generation: 0 }),
            renewal: tokio::sync::Mutex::new(()),
            breaker: Breaker::new(config.breaker_threshold, config.breaker_cooldown),
            retry_attempts: config.retry_attempts,
            calls: AtomicU64::new(0),
        })
    }

    /// The base URL, without a trailing slash.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// HTTP requests sent so far (attempts, not calls: a retried read counts each try).
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Sends `call` with the token and returns `data` of a code-0 envelope, or the mapped error.
    pub(crate) async fn call(&self, call: &Call) -> Result<Value> {
        let answer = match self.exchange(call).await {
            Ok(reply) => match reply.outcome() {
                Outcome::Data(data) => Ok(data),
                other => Err(outcome_error(other, call)),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = &answer {
            crate::metrics::count("dataportal_dolphin_errors_total", &[("reason", e.reason.as_str())], 1);
        }
        answer
    }

    /// Sends `call` with the token and returns any answer that is neither a 401 nor a 5xx. A 401
    /// renews the token once in password mode: the interceptor refused the request before it ran,
    /// so sending it again is safe even for a create (§1).
    pub(crate) async fn exchange(&self, call: &Call) -> Result<Reply> {
        let mut renewed = false;
        loop {
            let (token, generation) = self.current_token().await?;
            let reply = self.send(call, Auth::Token(token.expose())).await?;
            if reply.status != 401 {
                return Ok(reply);
            }
            match &self.credentials {
                Credentials::Token(_) => {
                    return Err(login_failed(format!(
                        "DolphinScheduler refused the configured access token (HTTP 401) to {}",
                        call.what
                    )));
                }
                Credentials::Password { user, .. } if renewed => {
                    return Err(login_failed(format!(
                        "DolphinScheduler refused a fresh access token of user {user} (HTTP 401) to {}",
                        call.what
                    )));
                }
                Credentials::Password { user, .. } => {
                    tracing::info!(user = %user, "DolphinScheduler refused the access token; renewing it");
                    self.renew(Some((generation, &token))).await?;
                    renewed = true;
                }
            }
        }
    }

    /// The token in use, bootstrapping one first in password mode.
    async fn current_token(&self) -> Result<(Secret, u64)> {
        loop {
            {
                let slot = self.token.read().unwrap_or_else(PoisonError::into_inner);
                if let Some(token) = &slot.token {
                    return Ok((token.clone(), slot.generation));
                }
            }
            self.renew(None).await?;
        }
    }

    /// Bootstraps a token, unless another task did so meanwhile: when there was none (`refused`
    /// `None`) or since `refused` (its generation and value) was refused.
    async fn renew(&self, refused: Option<(u64, &Secret)>) -> Result<()> {
        let _one_at_a_time = self.renewal.lock().await;
        {
            let slot = self.token.read().unwrap_or_else(PoisonError::into_inner);
            let done_meanwhile = match refused {
                None => slot.token.is_some(),
                Some((generation, _)) => slot.generation != generation,
            };
            if done_meanwhile {
                return Ok(());
            }
        }
        let token = self.bootstrap(refused.map(|(_, token)| token)).await?;
        let mut slot = self.token.write().unwrap_or_else(PoisonError::into_inner);
        slot.token = Some(token);
        slot.generation += 1;
        Ok(())
    }

    /// Password login → user id → an existing token of that user with more than a day left, else a
    /// new one valid for a year (§2). `refused` is never reused.
    async fn bootstrap(&self, refused: Option<&Secret>) -> Result<Secret> {
        let Credentials::Password { user, password } = &self.credentials else {
            return Err(login_failed("DolphinScheduler refused the configured access token"));
        };
        let login = Call::post("login", format!("log in user {user}"))
            .form("userName", user)
            .form("userPassword", password.expose())
            // Logging in again within 2 h answers the same session (§2.1).
            .idempotent()
            .login();
        let data = self.call_with(&login, Auth::None).await?;
        let session = text(&data, "sessionId")
            .ok_or_else(|| login_failed("DolphinScheduler's login answered no sessionId"))?;
        let auth = Auth::Session(&session);

        let who = Call::get("users/get-user-info", format!("read user {user}"));
        let user_id = int(&self.call_with(&who, auth).await?, "id")
            .ok_or_else(|| login_failed(format!("DolphinScheduler did not tell the id of user {user}")))?;

        let now = unix_now();
        let list =
            Call::get(format!("access-tokens/user/{user_id}"), format!("list the access tokens of {user}"));
        let tokens = self.call_with(&list, auth).await?;
        if let Some(token) = pick_token(&tokens, &format_utc(now + DAY), refused) {
            tracing::debug!(user = %user, "reusing an access token of the DolphinScheduler user");
            return Ok(token);
        }

        let create = Call::post("access-tokens", format!("create an access token for {user}"))
            .form("userId", user_id)
            .form("expireTime", format_utc(now + 365 * DAY));
        let created = self.call_with(&create, auth).await?;
        tracing::info!(user = %user, "created a DolphinScheduler access token valid for a year");
        text(&created, "token")
            .filter(|token| !token.is_empty())
            .map(Secret::new)
            .ok_or_else(|| login_failed("DolphinScheduler created an access token but did not answer it"))
    }

    /// Sends a bootstrap call with a session (no renewal: a 401 here is a login failure).
    async fn call_with(&self, call: &Call, auth: Auth<'_>) -> Result<Value> {
        let reply = self.send(call, auth).await?;
        match reply.outcome() {
            Outcome::Data(data) => Ok(data),
            Outcome::Unauthorized => {
                Err(login_failed(format!("DolphinScheduler refused the session (HTTP 401) to {}", call.what)))
            }
            other => Err(outcome_error(other, call)),
        }
    }

    /// Sends through the breaker; retries idempotent calls after transport failures and 5xx with
    /// exponential backoff and jitter. Answers other than 5xx are returned as they are.
    async fn send(&self, call: &Call, auth: Auth<'_>) -> Result<Reply> {
        let mut attempt = 0;
        loop {
            let permit = self.breaker.admit().map_err(|wait| {
                unavailable(format!(
                    "DolphinScheduler is failing; calls are refused for {} ms",
                    wait.as_millis().max(1)
                ))
            })?;
            self.calls.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let sent = self.send_once(call, auth).await;
            let outcome = match &sent {
                Ok(reply) if reply.status < 500 => "answered",
                Ok(_) => "server_error",
                Err(_) => "transport_error",
            };
            let method = call.method.as_str();
            crate::metrics::count(
                "dataportal_dolphin_requests_total",
                &[("method", method), ("outcome", outcome)],
                1,
            );
            crate::metrics::observe(
                "dataportal_dolphin_request_duration_seconds",
                &[("method", method)],
                started.elapsed(),
            );
            let error = match sent {
                Ok(reply) if reply.status < 500 => {
                    permit.succeeded();
                    tracing::debug!(
                        method = %call.method, path = %call.path, status = reply.status,
                        elapsed_ms = started.elapsed().as_millis() as u64, "DolphinScheduler call"
                    );
                    return Ok(reply);
                }
                Ok(reply) => format!("HTTP {}", reply.status),
                Err(e) => describe(&e),
            };
            permit.failed();
            let retry = call.idempotent && attempt < self.retry_attempts;
            tracing::warn!(
                method = %call.method, path = %call.path, attempt, retry, error = %error,
                "DolphinScheduler call failed"
            );
            if !retry {
                return Err(unavailable(format!("DolphinScheduler failed to {}: {error}", call.what)));
            }
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }

    async fn send_once(&self, call: &Call, auth: Auth<'_>) -> Result<Reply, reqwest::Error> {
        let url = format!("{}/{}", self.base_url, call.path);
        let mut request = self.http.request(call.method.clone(), url);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if call.method == Method::POST || call.method == Method::PUT {
            request = request.form(&call.form);
        }
        let header = match auth {
            Auth::None => None,
            Auth::Session(session) => Some(("sessionId", session)),
            Auth::Token(token) => Some(("token", token)),
        };
        if let Some((name, value)) = header {
            // An unprintable value cannot be sent; DS would answer 401, which is what an empty one gets.
            let mut value = HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""));
            value.set_sensitive(true);
            request = request.header(name, value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        Ok(Reply { status, body: body.to_vec() })
    }
}

fn not_configured(base_url: &str, problem: &dyn std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        Reason::DsNotConfigured,
        format!("the DolphinScheduler base URL {base_url:?} is not usable: {problem}"),
    )
}

/// A transport error without the URL, with its causes (reqwest's own text says only "error sending
/// request").
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        "transport error".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The pause before retry `attempt` (0-based): 100 ms doubling up to 2 s, with jitter over the
/// upper half so that clients failing together do not retry together.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let full = 100u64.saturating_mul(1 << attempt.min(5)).min(2_000);
    Duration::from_millis(fastrand::u64(full / 2..=full))
}

const DAY: i64 = 86_400;

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `yyyy-MM-dd HH:mm:ss` in UTC, the date format of the API (§1).
pub(crate) fn format_utc(unix_seconds: i64) -> String {
    crate::domain::format_utc(unix_seconds)
}

/// The token with the latest expiry after `not_before` (same format, so strings compare as
/// times), other than `refused`.
pub(crate) fn pick_token(tokens: &Value, not_before: &str, refused: Option<&Secret>) -> Option<Secret> {
    rows(tokens)
        .iter()
        .filter_map(|row| Some((text(row, "token")?, text(row, "expireTime")?)))
        .filter(|(token, expires)| {
            !token.is_empty()
                && expires.len() == not_before.len()
                && expires.as_str() > not_before
                && refused.is_none_or(|refused| refused.expose() != token)
        })
        .max_by(|a, b| a.1.cmp(&b.1))
        .map(|(token, _)| Secret::new(token))
}

/// Opens after `threshold` consecutive transport failures, refuses calls for `cooldown`, then
/// lets one probe through: its success closes the circuit, its failure opens it again.
struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A probe is in flight.
    HalfOpen,
}

/// Leave to send one request; tell the breaker how it went.
struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    settled: bool,
}

impl Breaker {
    fn new(threshold: u32, cooldown: Duration) -> Self {
        Self { threshold, cooldown, state: Mutex::new(BreakerState::Closed { failures: 0 }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A permit, or how long calls are still refused.
    fn admit(&self) -> Result<Permit<'_>, Duration> {
        let mut state = self.lock();
        match *state {
            BreakerState::Closed { .. } => Ok(Permit { breaker: self, probe: false, settled: false }),
            BreakerState::Open { until } => {
                let now = Instant::now();
                if now < until {
                    Err(until - now)
                } else {
                    *state = BreakerState::HalfOpen;
                    tracing::info!("DolphinScheduler circuit half-open: sending one probe call");
                    Ok(Permit { breaker: self, probe: true, settled: false })
                }
            }
            BreakerState::HalfOpen => Err(self.cooldown),
        }
    }

    fn record(&self, probe: bool, ok: bool) {
        let mut state = self.lock();
        match (*state, probe, ok) {
            (_, true, true) => {
                tracing::info!("DolphinScheduler answers again: circuit closed");
                *state = BreakerState::Closed { failures: 0 };
            }
            (_, true, false) => *state = BreakerState::Open { until: Instant::now() + self.cooldown },
            (BreakerState::Closed { .. }, false, true) => *state = BreakerState::Closed { failures: 0 },
            (BreakerState::Closed { failures }, false, false) => {
                let failures = failures + 1;
                *state = if self.threshold > 0 && failures >= self.threshold {
                    tracing::warn!(
                        failures,
                        cooldown_ms = self.cooldown.as_millis() as u64,
                        "DolphinScheduler keeps failing: circuit open"
                    );
                    BreakerState::Open { until: Instant::now() + self.cooldown }
                } else {
                    BreakerState::Closed { failures }
                };
            }
            // Calls that were in flight when the circuit opened do not change it.
            (BreakerState::Open { .. } | BreakerState::HalfOpen, false, _) => {}
        }
    }
}

impl Permit<'_> {
    fn succeeded(mut self) {
        self.settled = true;
        self.breaker.record(self.probe, true);
    }

    fn failed(mut self) {
        self.settled = true;
        self.breaker.record(self.probe, false);
    }
}

impl Drop for Permit<'_> {
    /// A probe whose call was dropped (its caller gave up) lets the next call probe at once, so
    /// that the circuit never stays half-open.
    fn drop(&mut self) {
        if self.probe && !self.settled {
            *self.breaker.lock() = BreakerState::Open { until: Instant::now() };
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn codes_map_to_reasons() {
        let cases = [
            (10013, Context::Login, Reason::DsLoginFailed),
            (10148, Context::Login, Reason::DsLoginFailed),
            (10013, Context::Other, Reason::DsRejected),
            (10001, Context::Definition, Reason::DsDefinitionInvalid),
            (10001, Context::Other, Reason::DsRejected),
            (30002, Context::Other, Reason::DsPermissionDenied),
            (10190, Context::Definition, Reason::DsNotFound),
            (50020, Context::Definition, Reason::DsDefinitionInvalid),
            (10024, Context::Other, Reason::DsDefinitionInvalid),
            (1400004, Context::Definition, Reason::DsDefinitionInvalid),
            (50003, Context::Other, Reason::DsNotFound),
            (10008, Context::Other, Reason::DsNotFound),
            (50004, Context::Other, Reason::DsStateConflict),
            (10204, Context::Definition, Reason::DsStateConflict),
            (10168, Context::Definition, Reason::DsRejected),
            (50014, Context::Other, Reason::DsRejected),
        ];
        for (code, context, reason) in cases {
            assert_eq!(reason_for(code, context), reason, "code {code} at {context:?}");
        }
    }

    #[test]
    fn a_refusal_names_the_call_and_carries_the_code() {
        let error = refused(50020, "node load parameter invalid", "create workflow wf", Context::Definition);
        assert_eq!(error.reason, Reason::DsDefinitionInvalid);
        assert_eq!(error.kind, ErrorKind::FailedPrecondition);
        assert_eq!(
            error.message,
            "DolphinScheduler refused to create workflow wf: node load parameter invalid (code 50020)"
        );
        assert_eq!(error.metadata.get("ds_code").map(String::as_str), Some("50020"));
        assert_eq!(error.metadata.get("ds_message").map(String::as_str), Some("node load parameter invalid"));
        assert_eq!(refused(50003, "", "x", Context::Other).kind, ErrorKind::NotFound);
    }

    #[test]
    fn the_envelope_code_decides_not_the_status() {
        let ok = br#"{"code":0,"msg":"success","data":{"code":5},"success":true,"failed":false}"#;
        assert_eq!(classify(200, ok), Outcome::Data(json!({"code": 5})));
        assert_eq!(classify(201, ok), Outcome::Data(json!({"code": 5})));
        let taken = br#"{"code":10019,"msg":"project p already exists","data":null}"#;
        assert_eq!(
            classify(201, taken),
            Outcome::Refused { code: 10019, msg: "project p already exists".into() }
        );
        assert_eq!(classify(200, br#"{"code":0,"msg":"ok"}"#), Outcome::Data(Value::Null));
    }

    #[test]
    fn non_envelopes_are_told_apart() {
        assert_eq!(classify(401, b""), Outcome::Unauthorized);
        assert_eq!(classify(503, b"<html>down</html>"), Outcome::ServerError(503));
        let spring = br#"{"timestamp":"2024-01-01","status":404,"error":"Not Found","path":"/x"}"#;
        assert_eq!(classify(404, spring), Outcome::Unexpected(404));
        assert_eq!(classify(200, b"not json"), Outcome::Unexpected(200));
    }

    #[test]
    fn utc_dates_are_formatted_like_the_api() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(format_utc(1_735_689_599), "2024-12-31 23:59:59");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59");
    }

    #[test]
    fn the_longest_lived_usable_token_is_reused() {
        let tokens = json!([
            {"token": "old", "expireTime": "2020-01-01 00:00:00"},
            {"token": "soon", "expireTime": "2030-01-01 00:00:00"},
            {"token": "late", "expireTime": "2031-01-01 00:00:00"},
            {"token": "", "expireTime": "2040-01-01 00:00:00"},
        ]);
        let pick = |refused: Option<&Secret>| {
            pick_token(&tokens, "2029-06-01 00:00:00", refused).map(|s| s.expose().to_owned())
        };
        assert_eq!(pick(None).as_deref(), Some("late"));
        assert_eq!(pick(Some(&Secret::new("late"))).as_deref(), Some("soon"));
        assert_eq!(pick_token(&tokens, "2032-01-01 00:00:00", None).map(|s| s.expose().to_owned()), None);
        let page = json!({"totalList": [{"token": "t", "expireTime": "2031-01-01 00:00:00"}]});
        assert!(pick_token(&page, "2029-06-01 00:00:00", None).is_some());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..10 {
            let pause = backoff(attempt).as_millis();
            let full = (100u128 << attempt.min(5)).min(2_000);
            assert!(pause >= full / 2 && pause <= full, "attempt {attempt}: {pause} ms");
        }
    }

    #[test]
    fn the_breaker_opens_cools_down_and_probes_once() {
        let breaker = Breaker::new(2, Duration::from_millis(30));
        breaker.admit().expect("closed").failed();
        breaker.admit().expect("closed").succeeded();
        breaker.admit().expect("closed").failed();
        breaker.admit().expect("closed").failed();
        assert!(breaker.admit().is_err(), "open after two consecutive failures");
        std::thread::sleep(Duration::from_millis(40));
        let probe = breaker.admit().expect("half-open");
        assert!(breaker.admit().is_err(), "one probe at a time");
        probe.failed();
        assert!(breaker.admit().is_err(), "open again after a failed probe");
        std::thread::sleep(Duration::from_millis(40));
        drop(breaker.admit().expect("half-open"));
        breaker.admit().expect("an abandoned probe lets the next call probe").succeeded();
        assert_eq!(*breaker.lock(), BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn a_zero_threshold_never_opens() {
        let breaker = Breaker::new(0, Duration::from_secs(60));
        for _ in 0..10 {
            breaker.admit().expect("closed").failed();
        }
        assert!(breaker.admit().is_ok());
    }

    #[test]
    fn secrets_do_not_print() {
        let credentials = Credentials::Password { user: "admin".into(), password: Secret::new("hunter2") };
        let printed = format!("{credentials:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("admin"));
    }
}
