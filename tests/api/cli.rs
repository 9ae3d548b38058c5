//! The binary as an operator runs it: `migrate`, then `serve`, stopped with SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const BINARY: &str = env!("CARGO_BIN_EXE_dataportal");

#[test]
fn migrate_creates_the_schema_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let status = Command::new(BINARY)
            .args(["migrate"])
            .env("DATA_DIR", dir.path().join("nested"))
            .env_remove("DATABASE_URL")
            .status()
            .unwrap();
        assert!(status.success());
    }
    assert!(dir.path().join("nested/dataportal.db").exists(), "the data directory and file are created");
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let output = Command::new(BINARY).args(["--database-url", "postgres://x/y", "migrate"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("must start with mysql:// or sqlite://"), "{stderr}");
}

#[tokio::test]
async fn serve_reaches_serving_logs_json_with_request_ids_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut child = Command::new(BINARY)
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string(), "--rest-port", "0"])
        .env("DATA_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut serving = false;
    while started.elapsed() < Duration::from_secs(20) && !serving {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}")).unwrap();
        if let Ok(channel) = endpoint.connect().await {
            let mut client = HealthClient::new(channel);
            let mut request = tonic::Request::new(HealthCheckRequest { service: String::new() });
            request.metadata_mut().insert("x-request-id", "probe-request-42".parse().unwrap());
            if let Ok(response) = client.check(request).await {
                serving = response.into_inner().status() == ServingStatus::Serving;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(serving, "the server reports SERVING");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let stopped = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "a graceful stop exits 0, got {status}");
            break;
        }
        assert!(stopped.elapsed() < Duration::from_secs(10), "the server stops within 10 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().all(|line| line.starts_with('{') && line.ends_with('}')), "JSON lines only:\n{log}");
    assert!(
        log.lines().any(|line| line.contains("\"request_id\":\"probe-request-42\"")
            && line.contains("grpc.health.v1.Health/Check")),
        "each call is logged with its request id:\n{log}"
    );
    assert!(log.contains("shutdown requested"), "{log}");
}

#[test]
fn dotenv_environment_and_flags_override_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "DATA_DIR=from-dotenv\n").unwrap();
    let migrate = |env: Option<&str>, flag: Option<&str>| {
        let mut command = Command::new(BINARY);
        command.current_dir(dir.path()).env_remove("DATABASE_URL").env_remove("DATA_DIR");
        if let Some(data_dir) = env {
            command.env("DATA_DIR", data_dir);
        }
        if let Some(data_dir) = flag {
            command.args(["--data-dir", data_dir]);
        }
        assert!(command.arg("migrate").status().unwrap().success());
    };
    migrate(None, None);
    assert!(dir.path().join("from-dotenv/dataportal.db").exists(), ".env beats the default");
    migrate(Some("from-env"), None);
    assert!(dir.path().join("from-env/dataportal.db").exists(), "the environment beats .env");
    migrate(Some("from-env"), Some("from-flag"));
    assert!(dir.path().join("from-flag/dataportal.db").exists(), "a flag beats the environment");
    assert!(!dir.path().join("data").exists(), "the default was never used");
}
