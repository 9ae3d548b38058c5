//! An in-process fake of the DolphinScheduler REST API for the 3.1, 3.2 and 3.3+ version families.
//!
//! It speaks the contract in `shared/reference/dolphinscheduler-rest-api.md` (sections cited as §n):
//! form-encoded requests, the `{code,msg,data,success,failed}` envelope, token or session auth, and the
//! per-family paths and parameter names. It enforces DS's refusals (and a few stricter ones, marked as
//! such) so that a client tested against it behaves against a real server. Faults (failing or slow
//! answers, a server that goes down and comes back, expired tokens, start calls whose answer is lost
//! after the run was created, a slow master) can be injected.
//!
//! Finished runs send alerts the way DS's HTTP alert plugin does, per family (§11), to the receiver
//! given to [`FakeDolphinScheduler::send_alerts_to`]; deliveries can be held, reordered, repeated or
//! lost.
//!
//! ```no_run
//! # async fn demo() {
//! use fake_dolphinscheduler::{Family, FakeDolphinScheduler};
//! let ds = FakeDolphinScheduler::start(Family::V3_2).await;
//! let base = ds.base_url(); // http://127.0.0.1:PORT/dolphinscheduler
//! let token = ds.token(); // send as header `token`
//! # let _ = (base, token);
//! # }
//! ```

mod alerts;
mod checks;
mod family;
mod routes;
mod state;
mod status;
mod time;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use alerts::Alerts;
pub use alerts::{AlertReceiver, SentAlert};
pub use family::Family;
use state::{Model, USER_ID};

/// The fake's user (an admin).
pub const USER: &str = "admin";
/// `USER`'s password for `POST /login`.
pub const PASSWORD: &str = "dolphinscheduler123";

/// Expiry of the token created at start.
const START_TOKEN_EXPIRY: &str = "2099-12-31 23:59:59";

/// A workflow definition as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowView {
    pub code: i64,
    pub name: String,
    pub release_state: String,
    pub tasks: Vec<TaskView>,
    /// (preTaskCode, postTaskCode)
    pub relations: Vec<(i64, i64)>,
    pub locations: serde_json::Value,
    pub global_params: serde_json::Value,
    pub schedule: Option<ScheduleView>,
    /// 3.1 only (the tenant lives on the definition there).
    pub tenant_code: Option<String>,
}

/// A task definition as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskView {
    pub code: i64,
    pub version: i32,
    pub name: String,
    pub task_type: String,
    /// Always an object, whether it arrived as an object or as a JSON string.
    pub task_params: serde_json::Value,
    /// The whole `taskDefinitionJson` element as last sent.
    pub definition: serde_json::Value,
}

/// The schedule of a definition (the latest one on 3.1, which allows several).
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleView {
    pub id: i64,
    pub crontab: String,
    pub timezone_id: String,
    pub start_time: String,
    pub end_time: String,
    pub release_state: String,
}

/// A workflow instance.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceView {
    pub id: i64,
    pub workflow_code: i64,
    pub state: String,
    /// The `startParams` form field exactly as received ("" when absent).
    pub start_params: String,
    pub run_times: i32,
    /// When it started, `yyyy-MM-dd HH:mm:ss` in UTC (the API prints it in another zone).
    pub start_time: String,
    /// When it ended, likewise; `None` while it runs.
    pub end_time: Option<String>,
    /// Its task runs of the current run (a rerun replaces them).
    pub tasks: Vec<TaskRunView>,
}

/// A task run of a workflow instance.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRunView {
    /// The task instance id.
    pub id: i64,
    pub name: String,
    pub state: String,
    /// When it started, `yyyy-MM-dd HH:mm:ss` in UTC.
    pub start_time: String,
    /// When it ended, likewise; `None` while it runs.
    pub end_time: Option<String>,
}

/// State shared by the HTTP side and the handle.
pub(crate) struct Shared {
    pub family: Family,
    model: Mutex<Model>,
    traffic: Mutex<Traffic>,
    /// Also held by the model, which emits into it.
    alerts: Arc<Alerts>,
}

/// Counting and pending faults. A fault slot is (requests left, value).
#[derive(Default)]
struct Traffic {
    calls: u64,
    requests: Vec<(String, String)>,
    fail: (u32, u16),
    delay: (u32, Duration),
    /// What becomes of the answer to the next accepted start.
    start_fault: Option<StartFault>,
    /// How long the master takes to create a started run; `None`: the family's usual time.
    master_delay: Option<Duration>,
    /// How long a stopped run stays READY_STOP; `None`: the usual time.
    stop_delay: Option<Duration>,
}

/// What becomes of the answer to a start call whose run was created.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StartFault {
    /// Nothing is answered: after the silence the connection is closed.
    Lost(Duration),
    /// A proxy's error page with this HTTP status.
    Status(u16),
}

/// What to do to one request before answering it.
pub(crate) struct Fault {
    pub delay: Option<Duration>,
    pub fail: Option<u16>,
}

fn take_one<T: Copy>(slot: &mut (u32, T)) -> Option<T> {
    (slot.0 > 0).then(|| {
        slot.0 -= 1;
        slot.1
    })
}

impl Shared {
    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn traffic(&self) -> MutexGuard<'_, Traffic> {
        self.traffic.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a request and takes the faults due for it.
    pub(crate) fn record(&self, method: &str, path: &str) -> Fault {
        let mut traffic = self.traffic();
        traffic.calls += 1;
        traffic.requests.push((method.to_string(), path.to_string()));
        Fault { delay: take_one(&mut traffic.delay), fail: take_one(&mut traffic.fail) }
    }

    /// Takes the fault due for the answer of an accepted start, if any.
    pub(crate) fn take_start_fault(&self) -> Option<StartFault> {
        self.traffic().start_fault.take()
    }

    /// How long the master takes to create a started run: `usual` unless a test slowed it.
    pub(crate) fn master_delay(&self, usual: Duration) -> Duration {
        self.traffic().master_delay.unwrap_or(usual)
    }

    /// How long a stopped run stays READY_STOP: `usual` unless a test changed it.
    pub(crate) fn stop_delay(&self, usual: Duration) -> Duration {
        self.traffic().stop_delay.unwrap_or(usual)
    }
}

/// A running listener. Dropping `stop` (or sending on it) ends the accept loop and its connections.
struct Server {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    token: String,
    server: Mutex<Option<Server>>,
}

/// The fake server. Clones share one server; dropping the last clone stops it.
#[derive(Clone)]
pub struct FakeDolphinScheduler {
    inner: Arc<Inner>,
}

impl fmt::Debug for FakeDolphinScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeDolphinScheduler")
            .field("family", &self.inner.shared.family)
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

/// Accepts connections until `stop` fires or its sender is dropped, then drops the listener (new
/// connections are refused) and aborts every open connection, in-flight requests included.
async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |request| routes::handle(Arc::clone(&shared), request));
                    // A failed connection (peer reset, malformed request, an answer the fake drops on
                    // purpose) only ends that connection.
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
            Some(_) = connections.join_next() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

impl FakeDolphinScheduler {
    /// Starts a fake of `family` on 127.0.0.1 with an ephemeral port.
    pub async fn start(family: Family) -> Self {
        Self::start_on(family, 0).await
    }

    /// Starts a fake of `family` on 127.0.0.1:`port` (0 picks a free one).
    pub async fn start_on(family: Family, port: u16) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .expect("fake-dolphinscheduler: cannot bind 127.0.0.1");
        let addr = listener.local_addr().expect("fake-dolphinscheduler: no local address");
        let alerts = Arc::new(Alerts::start(family));
        let mut model = Model::new(family, Arc::clone(&alerts));
        let created =
            model.create_token(USER_ID, START_TOKEN_EXPIRY, None).expect("the start token is valid");
        let token = created["token"].as_str().unwrap_or_default().to_string();
        let shared = Arc::new(Shared { family, model: Mutex::new(model), traffic: Mutex::default(), alerts });
        let fake =
            FakeDolphinScheduler { inner: Arc::new(Inner { shared, addr, token, server: Mutex::new(None) }) };
        fake.listen(listener);
        fake
    }

    fn server(&self) -> MutexGuard<'_, Option<Server>> {
        self.inner.server.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn listen(&self, listener: TcpListener) {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, Arc::clone(&self.inner.shared), stopped));
        *self.server() = Some(Server { stop, task });
    }

    pub fn family(&self) -> Family {
        self.inner.shared.family
    }

    /// `http://127.0.0.1:PORT/dolphinscheduler`
    pub fn base_url(&self) -> String {
        format!("http://{}/dolphinscheduler", self.inner.addr)
    }

    /// A valid access token of `USER`, created at start (until `expire_tokens`).
    pub fn token(&self) -> String {
        self.inner.token.clone()
    }

    /// Every HTTP request received, whatever its outcome.
    pub fn calls(&self) -> u64 {
        self.inner.shared.traffic().calls
    }

    /// Resets `calls` and `requests`.
    pub fn reset_calls(&self) {
        let mut traffic = self.inner.shared.traffic();
        traffic.calls = 0;
        traffic.requests.clear();
    }

    /// (method, path after `/dolphinscheduler`, without the query) of every request, in order.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.inner.shared.traffic().requests.clone()
    }

    /// The next `n` requests answer HTTP `status` with an HTML body, as a proxy in front of DS would.
    pub fn fail_next(&self, n: u32, status: u16) {
        self.inner.shared.traffic().fail = (n, status);
    }

    /// The next `n` requests are answered only after `delay`.
    pub fn delay_next(&self, n: u32, delay: Duration) {
        self.inner.shared.traffic().delay = (n, delay);
    }

    /// The next start call that DS accepts creates its run as usual, but its answer is lost: the fake
    /// stays silent for `silence`, then closes the connection without answering. The caller sees a
    /// transport error, or its own timeout when `silence` is longer than it waits.
    pub fn lose_next_start_answer(&self, silence: Duration) {
        self.inner.shared.traffic().start_fault = Some(StartFault::Lost(silence));
    }

    /// The next start call that DS accepts creates its run as usual, then answers HTTP `status` with
    /// an HTML body, as a proxy in front of DS that gave up waiting would.
    pub fn fail_next_start_answer(&self, status: u16) {
        self.inner.shared.traffic().start_fault = Some(StartFault::Status(status));
    }

    /// From now on the master creates each started run `delay` after its start call (a busy master).
    /// 3.1/3.2 answer the start at once (their master otherwise takes ~50 ms); 3.3+ create the run
    /// before answering, so their start call answers only after `delay`.
    pub fn set_master_delay(&self, delay: Duration) {
        self.inner.shared.traffic().master_delay = Some(delay);
    }

    /// From now on a stopped run stays READY_STOP for `delay` (~50 ms otherwise) before the master
    /// has killed its tasks and it is STOP.
    pub fn set_stop_delay(&self, delay: Duration) {
        self.inner.shared.traffic().stop_delay = Some(delay);
    }

    /// Closes the listener and every open connection: new connections are refused. State is kept.
    pub async fn go_down(&self) {
        let server = self.server().take();
        if let Some(Server { stop, task }) = server {
            // The loop ends either way: on the message, or on the sender dropped with it.
            let _ = stop.send(());
            let _ = task.await;
        }
    }

    /// Listens again on the same port, with the state as it was.
    pub async fn come_back(&self) {
        if self.server().is_some() {
            return;
        }
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.inner.addr).await {
                Ok(listener) => break listener,
                Err(e) if attempts >= 100 => {
                    panic!("fake-dolphinscheduler: cannot listen on {} again: {e}", self.inner.addr)
                }
                Err(_) => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        self.listen(listener);
    }

    /// Every existing token now answers 401 (its expiry is set to now). New ones can be created with
    /// `POST /access-tokens` after a password login.
    pub fn expire_tokens(&self) {
        self.inner.shared.model().expire_tokens();
    }

    /// Registers a datasource (for SQL tasks and `GET datasources`); returns its id.
    pub fn add_datasource(&self, name: &str, db_type: &str) -> i64 {
        self.inner.shared.model().add_datasource(name, db_type)
    }

    pub fn project_code(&self, name: &str) -> Option<i64> {
        self.inner.shared.model().project_code(name)
    }

    pub fn workflow(&self, project: &str, name: &str) -> Option<WorkflowView> {
        self.inner.shared.model().workflow_view(project, name)
    }

    /// Every workflow instance, oldest first (on 3.1/3.2 only those the "master" has created yet).
    pub fn instances(&self) -> Vec<InstanceView> {
        self.inner.shared.model().instance_views()
    }

    /// Sets the zone DolphinScheduler's JVM runs in (`-Duser.timezone`; `UTC` at start): alert
    /// contents are printed in it, and API dates while the user has no zone of its own.
    ///
    /// # Panics
    /// If `zone` is not an IANA time zone name.
    pub fn set_server_timezone(&self, zone: &str) {
        let zone = jiff::tz::TimeZone::get(zone).expect("an IANA time zone name");
        self.inner.shared.model().set_server_zone(zone);
    }

    /// Sets the user's own time zone (a fresh DS has none), as DS's user settings do: API dates
    /// are then printed in it.
    pub fn set_user_timezone(&self, zone: Option<&str>) {
        self.inner.shared.model().set_user_zone(zone.map(str::to_owned));
    }

    /// Drives a run: sets the workflow state and the state of its current tasks (a STOP kills them).
    /// A final state (SUCCESS, FAILURE, STOP, PAUSE) leaves the tasks that already finished as they
    /// are, and sends the run's alert, if any (see [`send_alerts_to`](Self::send_alerts_to)).
    ///
    /// # Panics
    /// If there is no instance `id` (on 3.1/3.2 it appears ~50 ms after the start call).
    pub fn set_instance_state(&self, id: i64, state: &str) {
        assert!(
            self.inner.shared.model().set_instance_state(id, state),
            "fake-dolphinscheduler: no workflow instance {id}"
        );
    }

    /// Drives one task of a run: sets the state of its current task instance named `task` (a final
    /// state such as SUCCESS or FAILURE also sets its end time). The workflow's state is unchanged.
    ///
    /// # Panics
    /// If instance `id` has no such task.
    pub fn set_task_state(&self, id: i64, task: &str, state: &str) {
        assert!(
            self.inner.shared.model().set_task_state(id, task, state),
            "fake-dolphinscheduler: no task {task:?} in workflow instance {id}"
        );
    }

    /// Sends alerts to `receiver` from now on, like an HTTP alert plugin instance in the start's alert
    /// group (§11). A run alerts when it finishes (through [`set_instance_state`](Self::set_instance_state)
    /// or a STOP/PAUSE of `executors/execute`) if it was started with a `warningType` covering the
    /// outcome (`ALL`, `SUCCESS`, `FAILURE`) and a `warningGroupId` > 0. Per family:
    ///
    /// - 3.1/3.2: POST `{"content":"<content>"}` as `text/plain; charset=UTF-8`. SUCCESS: one workflow
    ///   element (`processId`, `processState`, …); FAILURE: one element per task that did not succeed,
    ///   without workflow state (3.2 adds `modifyBy` and `taskPriority`); PAUSE and the STOP of a
    ///   serial workflow: an empty content; the STOP of any other workflow: nothing.
    /// - 3.3+: POST `{"content":"<content>"}` as `application/json; charset=utf-8`, one workflow
    ///   element (`workflowInstanceId`, `workflowExecutionStatus`, …) for every outcome.
    ///
    /// Deliveries are asynchronous and in order; a failed one is recorded, not retried.
    pub fn send_alerts_to(&self, receiver: AlertReceiver) {
        self.inner.shared.alerts.send_to(receiver);
    }

    /// Queues alerts instead of sending them, until [`release_alerts`](Self::release_alerts).
    pub fn hold_alerts(&self) {
        self.inner.shared.alerts.hold();
    }

    /// Sends the held alerts, oldest first or, with `reverse`, newest first (a late and reordered
    /// delivery), and stops holding.
    pub fn release_alerts(&self, reverse: bool) {
        self.inner.shared.alerts.release(reverse);
    }

    /// While `on`, alerts are lost (a callback that never comes).
    pub fn drop_alerts(&self, on: bool) {
        self.inner.shared.alerts.drop_alerts(on);
    }

    /// Every POST made to the receiver so far, in order (each repeat counts).
    pub fn alerts_sent(&self) -> Vec<SentAlert> {
        self.inner.shared.alerts.sent()
    }
}
