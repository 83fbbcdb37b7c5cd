//! `nelo-seed`: loads Nelo's demo project into the database at `DATABASE_URL`.

use anyhow::Context;
use clap::Parser;
use sqlx::{Connection, PgConnection};

/// Load (or reload) the demo project into a migrated Nelo database, in one transaction.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The database to seed.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    // A missing `.env` is fine: the variables may come from the environment. One that does
    // not parse is an error before anything is done.
    let env_file = std::env::current_dir()
        .ok()
        .and_then(|here| nelo_migrate_cli::dotenv::find(&here));
    if let Some(Err(error)) = env_file.map(|path| nelo_migrate_cli::dotenv::load(&path)) {
        eprintln!("error: {error}");
        return std::process::ExitCode::FAILURE;
    }
    let args = Args::parse();
    match run(&args).await {
        Ok(summary) => {
            println!("{summary}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<nelo_db::seed::SeedReport> {
    let mut conn = PgConnection::connect(&args.database_url)
        .await
        .context("failed to connect to `DATABASE_URL`; is the database running?")?;
    let report = nelo_db::seed::seed(&mut conn).await.context(
        "failed to seed the demo project, nothing was written; is the database migrated \
             (`cargo xtask db migrate deploy`)?",
    )?;
    conn.close().await.ok();
    Ok(report)
}
