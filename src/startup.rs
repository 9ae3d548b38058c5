//! Assembles the service from its settings and runs it until shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::Catalog;
use crate::app::datasources::DataSources;
use crate::app::executions::{ExecutionSettings, Executions};
use crate::app::publisher::run_publisher;
use crate::app::workflows::{DolphinTarget, Workflows};
use crate::config::Settings;
use crate::scheduler::dolphin::DolphinClient;
use crate::secret_box::SecretBox;
use crate::storage::Store;

/// Least time between health probes of DolphinScheduler, in milliseconds.
const DOLPHIN_PROBE_MIN_MS: u64 = 5_000;

/// How long REST calls in flight at shutdown may take to finish before their connections close.
const REST_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A boxed error for start-up failures (bad settings, a port in use, a failed migration).
pub type StartupError = Box<dyn std::error::Error + Send + Sync>;

/// A service bound to its port, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    rest_listener: TcpListener,
    store: Store,
    dolphin: Option<DolphinTarget>,
    secrets: SecretBox,
    settings: Settings,
}

impl Application {
    /// Connects the database, applies migrations (unless told not to) and binds the port.
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let store = Store::connect(settings.database_url.expose(), &settings.pool)?;
        if !settings.serve.no_migrate {
            store.migrate().await?;
        }
        let address = format!("{}:{}", settings.serve.host, settings.serve.port);
        let listener =
            TcpListener::bind(&address).await.map_err(|e| format!("cannot bind {address}: {e}"))?;
        let rest_address = format!("{}:{}", settings.serve.host, settings.serve.rest_port);
        let rest_listener = TcpListener::bind(&rest_address)
            .await
            .map_err(|e| format!("cannot bind {rest_address} (REST): {e}"))?;
        let dolphin = dolphin_target(&settings)?;
        let key = settings.serve.data_source_key.as_ref().map(|k| k.expose().to_owned());
        let secrets = SecretBox::load(key.as_deref(), &settings.data_dir)?;
        Ok(Application { listener, rest_listener, store, dolphin, secrets, settings })
    }

    /// The address the gRPC server listens on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The address the REST (HTTP/JSON) server listens on.
    pub fn rest_addr(&self) -> SocketAddr {
        self.rest_listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` is cancelled, then drains calls in flight and closes the database.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), StartupError> {
        let grpc_addr = self.grpc_addr();
        let rest_addr = self.rest_addr();
        let catalog = Catalog::new(self.store.clone(), self.settings.serve.lineage_layer_rules);
        let workflows = Workflows::new(self.store.clone(), catalog.clone(), self.dolphin.clone());
        let replica = replica_id();
        let publisher = tokio::spawn(run_publisher(workflows.clone(), replica.clone(), shutdown.clone()));
        let executions = Executions::new(
            self.store.clone(),
            workflows.clone(),
            self.execution_settings(),
            shutdown.clone(),
        )?;
        let report_writers = tokio::spawn(executions.clone().run_writers(shutdown.clone()));
        let report_applier = tokio::spawn(executions.clone().run_applier(shutdown.clone()));
        let poller = tokio::spawn(executions.clone().run_poller(replica.clone(), shutdown.clone()));
        let feed = tokio::spawn(executions.clone().run_feed(shutdown.clone()));
        let data_sources =
            DataSources::new(self.store.clone(), catalog.clone(), self.secrets.clone(), replica);
        let syncs = tokio::spawn(data_sources.clone().run_periodic(shutdown.clone()));
        let lineage = tokio::spawn(follow_lineage(
            catalog.clone(),
            Duration::from_millis(self.settings.serve.lineage_refresh_ms.max(10)),
            shutdown.clone(),
        ));
        let (reporter, health) = tonic_health::server::health_reporter();
        crate::grpc::set_health(&reporter, false).await;
        let dolphin_monitor = tokio::spawn(crate::grpc::watch_dolphin(
            workflows.dolphin_client(),
            reporter.clone(),
            // Each probe is a call DolphinScheduler serves; a few seconds between them is plenty.
            Duration::from_millis(self.settings.serve.health_check_interval_ms.max(DOLPHIN_PROBE_MIN_MS)),
            shutdown.clone(),
        ));
        let monitor = tokio::spawn(crate::grpc::watch_database(
            self.store.clone(),
            catalog.clone(),
            reporter,
            Duration::from_millis(self.settings.serve.health_check_interval_ms.max(10)),
            shutdown.clone(),
        ));

        let middleware = tower::ServiceBuilder::new()
            .layer(crate::grpc::RpcMetricsLayer)
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_grpc()
                    .make_span_with(|request: &http::Request<_>| {
                        let request_id = request_id(request);
                        tracing::info_span!("rpc", method = %request.uri().path(), request_id = %request_id)
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO))
                    .on_failure(DefaultOnFailure::new().level(Level::WARN)),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .into_inner();

        // One set of services, served over gRPC and called in-process by the REST gateway.
        let routes = crate::grpc::routes(&catalog, &workflows, &data_sources, &executions, health);
        let rest_app = crate::rest::router(routes.clone(), self.store.clone(), catalog.clone())
            .merge(crate::rest::webhook::routes(executions.clone()))
            .layer(
                tower::ServiceBuilder::new()
                    .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                    .layer(
                        TraceLayer::new_for_http()
                            .make_span_with(|request: &http::Request<_>| {
                                let request_id = request_id(request);
                                tracing::info_span!(
                                    "http",
                                    method = %request.method(),
                                    path = %request.uri().path(),
                                    request_id = %request_id,
                                )
                            })
                            .on_response(DefaultOnResponse::new().level(Level::INFO))
                            .on_failure(DefaultOnFailure::new().level(Level::WARN)),
                    )
                    .layer(PropagateRequestIdLayer::x_request_id()),
            );
        tracing::info!(%rest_addr, "serving REST");
        let mut rest = tokio::spawn({
            let shutdown = shutdown.clone();
            let serving = axum::serve(self.rest_listener, rest_app)
                .with_graceful_shutdown(shutdown.clone().cancelled_owned());
            async move {
                let served = serving.await;
                // Whichever server stops first stops the other.
                shutdown.cancel();
                served
            }
        });

        tracing::info!(%grpc_addr, database = %self.settings.database_url, "serving gRPC");
        let incoming = TcpIncoming::from(self.listener).with_nodelay(Some(true));
        let served = tonic::transport::Server::builder()
            .layer(middleware)
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned())
            .await;
        shutdown.cancel();
        // REST calls in flight use the services: they finish before anything else stops. A
        // stream (a watch) never finishes by itself, so its connection is closed after a while.
        let rest_served = match tokio::time::timeout(REST_DRAIN_TIMEOUT, &mut rest).await {
            Ok(joined) => joined,
            Err(_) => {
                tracing::warn!(timeout = ?REST_DRAIN_TIMEOUT, "REST calls still open after shutdown: closing them");
                rest.abort();
                Ok(Ok(()))
            }
        };
        let _ = monitor.await;
        let _ = lineage.await;
        let _ = publisher.await;
        let _ = syncs.await;
        let _ = dolphin_monitor.await;
        // The writers finish storing what was accepted before the applier and poller stop.
        let _ = report_writers.await;
        let _ = report_applier.await;
        let _ = poller.await;
        let _ = feed.await;
        self.store.close().await;
        tracing::info!("stopped");
        served?;
        Ok(rest_served.map_err(|e| format!("the REST server failed: {e}"))??)
    }
}

impl Application {
    fn execution_settings(&self) -> ExecutionSettings {
        let args = &self.settings.serve.executions;
        ExecutionSettings {
            poll_interval: Duration::from_millis(args.execution_poll_interval_ms),
            max_poll_interval: Duration::from_millis(args.execution_max_poll_interval_ms),
            discover_interval: Duration::from_secs(args.execution_discover_interval_secs),
            poll_concurrency: args.execution_poll_concurrency.max(1),
            callback_secret: args.callback_secret.clone().filter(|s| !s.expose().is_empty()),
            timezone: self.settings.serve.dolphin.timezone.clone(),
        }
    }
}

/// The DolphinScheduler client and publishing settings, when DolphinScheduler is configured.
/// Nothing is called here: the service starts whether or not DolphinScheduler answers.
fn dolphin_target(settings: &Settings) -> Result<Option<DolphinTarget>, StartupError> {
    let args = &settings.serve.dolphin;
    let Some(config) = args.client_config()? else {
        tracing::info!("DolphinScheduler is not configured (DS_URL): workflows cannot be published");
        return Ok(None);
    };
    tracing::info!(url = %config.base_url, project = %args.project, "publishing to DolphinScheduler");
    Ok(Some(DolphinTarget {
        client: DolphinClient::new(config)?,
        project: args.project.clone(),
        tenant: args.tenant.clone(),
        worker_group: args.worker_group.clone(),
        warning_group: args.warning_group_id,
        timezone: args.timezone.clone(),
        default_datasource: args.default_datasource.clone(),
    }))
}

/// The request id a call carries (set by `SetRequestIdLayer` when the caller sent none).
fn request_id<B>(request: &http::Request<B>) -> &str {
    request.headers().get("x-request-id").and_then(|value| value.to_str().ok()).unwrap_or_default()
}

/// A name for this process among the replicas that share the database (leases carry it).
fn replica_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".to_owned());
    format!("{host}-{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Keeps the lineage index current with what other replicas write (and loads it once the
/// database answers, if it did not at start).
async fn follow_lineage(catalog: Catalog, interval: Duration, shutdown: CancellationToken) {
    let mut failing = false;
    loop {
        match catalog.refresh_lineage().await {
            Ok(()) if failing => {
                tracing::info!("lineage index is current again");
                failing = false;
            }
            Ok(()) => {}
            Err(e) if !failing => {
                tracing::warn!(error = %e, "lineage index cannot catch up; retrying");
                failing = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
