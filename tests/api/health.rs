//! Health follows the database: SERVING while it answers, NOT_SERVING when it stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dataportal::proto::v1 as pb;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::helpers::{Backend, TestApp, TestDatabase, failure, test_settings};

crate::on_both_backends!(serving_once_the_database_answers);

async fn status_of(app: &mut TestApp, service: &str) -> ServingStatus {
    let response =
        app.health.check(HealthCheckRequest { service: service.into() }).await.expect("health check");
    response.into_inner().status()
}

async fn wait_for(app: &mut TestApp, expected: ServingStatus) {
    for _ in 0..100 {
        if status_of(app, "").await == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("health never became {expected:?}");
}

async fn serving_once_the_database_answers(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    wait_for(&mut app, ServingStatus::Serving).await;
    for service in ["dataportal.v1.TableService", "dataportal.v1.TaskService"] {
        assert_eq!(status_of(&mut app, service).await, ServingStatus::Serving, "{service}");
    }
    let unknown = app.health.check(HealthCheckRequest { service: "nope".into() }).await;
    assert_eq!(unknown.unwrap_err().code(), Code::NotFound);
    app.stop().await;
}

/// A TCP proxy in front of MariaDB that can be cut: while cut it drops every connection, as a
/// database host that died would.
pub(crate) struct CuttableProxy {
    pub(crate) address: String,
    cut: Arc<AtomicBool>,
    cut_now: Arc<Notify>,
}

impl CuttableProxy {
    /// A proxy in front of the test MariaDB server.
    pub(crate) async fn start_for_mariadb() -> CuttableProxy {
        let upstream = crate::helpers::mysql_server_url();
        let upstream: &'static str = Box::leak(
            upstream.trim_start_matches("mysql://").rsplit('@').next().unwrap().to_owned().into_boxed_str(),
        );
        Self::start(upstream).await
    }

    async fn start(upstream: &'static str) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let cut_now = Arc::new(Notify::new());
        let (cut_flag, notify) = (cut.clone(), cut_now.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                if cut_flag.load(Ordering::SeqCst) {
                    continue; // dropping the socket closes it
                }
                let notify = notify.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = notify.notified() => {}
                    }
                });
            }
        });
        CuttableProxy { address, cut, cut_now }
    }

    pub(crate) fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
        if cut {
            self.cut_now.notify_waiters();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_outage_flips_health_and_calls_fail_with_unavailable() {
    let database = TestDatabase::new(Backend::MariaDb).await;
    let proxy = CuttableProxy::start_for_mariadb().await;
    let settings = test_settings(&database.url_via(&proxy.address));
    let mut app = TestApp::spawn_with(database, settings).await;
    wait_for(&mut app, ServingStatus::Serving).await;

    proxy.set_cut(true);
    wait_for(&mut app, ServingStatus::NotServing).await;
    assert_eq!(status_of(&mut app, "dataportal.v1.TaskService").await, ServingStatus::NotServing);
    let down = failure(app.tables.get_table(pb::GetTableRequest { id: 1, name: String::new() }).await);
    assert_eq!((down.code, down.reason.as_str()), (Code::Unavailable, "DATABASE_UNAVAILABLE"));

    proxy.set_cut(false);
    wait_for(&mut app, ServingStatus::Serving).await;
    let back = app.tables.list_tables(pb::ListTablesRequest::default()).await;
    assert!(back.is_ok(), "calls work again once the database is back: {back:?}");
    app.stop().await;
}
