use clap::Parser;
use dataportal::config::{Cli, Command, ServeArgs, Settings};
use dataportal::startup::{Application, StartupError, shutdown_signal};
use dataportal::storage::Store;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // `.env` fills only what the environment leaves unset, so the environment wins over it.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    dataportal::telemetry::init(&cli.common.log_level, cli.common.log_format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "failed");
            eprintln!("dataportal: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), StartupError> {
    let settings = |serve: ServeArgs| Settings {
        database_url: cli.common.database_url(),
        pool: cli.common.pool(),
        serve,
        data_dir: cli.common.data_dir.clone(),
    };
    match cli.command {
        Some(Command::Migrate) => {
            let settings = settings(ServeArgs::default());
            let store = Store::connect(settings.database_url.expose(), &settings.pool)?;
            let version = store.migrate().await?;
            tracing::info!(database = %settings.database_url, schema_version = version.applied, "migrations applied");
            store.close().await;
            Ok(())
        }
        Some(Command::Serve(serve)) => serve_until_signal(settings(*serve)).await,
        None => serve_until_signal(settings(ServeArgs::default())).await,
    }
}

async fn serve_until_signal(settings: Settings) -> Result<(), StartupError> {
    let app = Application::build(settings).await?;
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        trigger.cancel();
    });
    app.run(shutdown).await
}
