//! The PostgreSQL container's life, shared by `db up`, `cargo xtask test` and the benchmarks:
//! make sure the image exists, create and start the container, wait until it answers SQL.

use std::time::Duration;

use anyhow::{Context as _, bail};
use sqlx::PgConnection;

use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::docker::{self, Engine};
use crate::image::local_build;
use crate::spec::ContainerSpec;
use crate::{postgres, ui};

/// How many lines of the container's log a failed start shows.
const LOG_TAIL_LINES: usize = 30;

/// Where the image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSource {
    Present,
    Pulled,
    Built,
}

/// Makes sure `image` exists: pulls it, and when it cannot be pulled builds it from Debian
/// packages (`cargo xtask image build`), saying why. An image that `image build` made from
/// an older recipe (the entrypoint or the packages changed since) is built again, so new
/// containers get this checkout's image; existing containers keep theirs. Where the image
/// cannot be built (not Linux: [`local_build::AVAILABLE`]), it is only pulled, and an
/// existing one is kept as it is.
pub async fn ensure_image(
    ctx: &Context,
    engine: &Engine,
    image: &str,
) -> anyhow::Result<ImageSource> {
    match engine.inspect_image(image).await? {
        Some(existing) if local_build::AVAILABLE && local_build::is_stale(&existing.labels) => {
            ui::note(format!(
                "image `{image}` was built from an older recipe (entrypoint or packages \
                 changed); building it again"
            ));
            local_build::ensure_built(ctx, engine, image, true)
                .await
                .with_context(|| format!("cannot rebuild image `{image}`"))?;
            return Ok(ImageSource::Built);
        }
        Some(_) => return Ok(ImageSource::Present),
        None => {}
    }
    let bar = ui::byte_counter(format!("pulling {image}"));
    let pulled = engine
        .pull_image(image, |current, total| {
            bar.set_length(total);
            bar.set_position(current);
        })
        .await;
    match pulled {
        Ok(()) => {
            ui::done(&bar, format!("pulled image `{image}`"));
            Ok(ImageSource::Pulled)
        }
        Err(error) if !local_build::AVAILABLE => {
            ui::failed(&bar);
            Err(error.context(format!(
                "cannot pull image `{image}`, and building it needs Linux (debootstrap): set \
                 NELO_PG_IMAGE to an image that can be pulled, or make the registry reachable"
            )))
        }
        Err(error) => {
            ui::failed(&bar);
            ui::note(format!(
                "cannot pull `{image}` ({}); building it locally from Debian packages",
                one_line(&error.root_cause().to_string())
            ));
            local_build::ensure_built(ctx, engine, image, false)
                .await
                .with_context(|| format!("cannot build image `{image}` locally"))?;
            Ok(ImageSource::Built)
        }
    }
}

/// Fails with the fix when something on this machine already listens on `port`.
pub fn ensure_port_free(port: u16) -> anyhow::Result<()> {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            bail!(port_taken_message(port))
        }
        Err(error) => Err(error).with_context(|| format!("cannot check port {port} on 127.0.0.1")),
    }
}

/// A free port on 127.0.0.1, chosen by the kernel.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("cannot find a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// Creates the container (and its volume) and starts it; returns whether this call created
/// it (`false`: another process is creating it at the same moment, and this call leaves it
/// to that one). When the container cannot start, it is removed again so that nothing
/// half-made is left behind; a taken port says so.
pub async fn create_and_start(engine: &Engine, spec: &ContainerSpec) -> anyhow::Result<bool> {
    if let Some(volume) = spec.volume() {
        engine.ensure_volume(volume, &spec.volume_labels()).await?;
    }
    if !engine.create_container(spec).await? {
        return Ok(false);
    }
    if let Err(error) = start(engine, spec).await {
        let _ = engine.remove_container(&spec.name).await;
        return Err(error);
    }
    Ok(true)
}

/// Starts an existing container, naming a taken port.
pub async fn start(engine: &Engine, spec: &ContainerSpec) -> anyhow::Result<()> {
    match engine.start_container(&spec.name).await {
        Ok(()) => Ok(()),
        Err(error) if docker::is_port_conflict(&format!("{error:#}")) => {
            Err(error.context(port_taken_message(spec.host_port)))
        }
        Err(error) => Err(error),
    }
}

/// Waits until `url` accepts a connection while watching that the container still runs; when
/// it stops or `deadline` passes, the error shows the end of its log and its exit code (the
/// caller says where the rest of the log is, if the container is kept).
pub async fn wait_ready(
    engine: &Engine,
    container: &str,
    url: &DatabaseUrl,
    deadline: Duration,
) -> anyhow::Result<PgConnection> {
    let outcome = tokio::select! {
        connected = postgres::connect(url, deadline) => connected.map_err(|error| (error, None)),
        exit = engine.wait_until_stopped(container) => match exit {
            Ok(code) => Err((anyhow::anyhow!("the server stopped"), Some(code))),
            // Docker itself failed (its connection cut): the server's log is out of reach.
            Err(error) => return Err(error),
        },
    };
    let (error, exit_code) = match outcome {
        Ok(conn) => return Ok(conn),
        Err(failure) => failure,
    };
    // The server answered and refused (wrong password, no such database): its own message
    // says what to do, the log adds nothing.
    let server_refused = postgres::is_refusal(&error);
    if exit_code.is_none() && server_refused {
        return Err(error);
    }
    let log = engine
        .log_tail(container, LOG_TAIL_LINES)
        .await
        .unwrap_or_default();
    let exit = match exit_code {
        Some(code) => format!("container `{container}` exited with code {code}"),
        None => format!("container `{container}` did not accept connections in time"),
    };
    let log = if log.trim().is_empty() {
        "(the log is empty)".to_string()
    } else {
        indent(log.trim_end())
    };
    Err(error.context(format!("{exit}; the last lines of its log:\n{log}")))
}

/// Whether a connection error says the database does not exist (SQLSTATE `3D000`).
pub fn is_missing_database(error: &anyhow::Error) -> bool {
    postgres::is_missing_database(error)
}

/// Connects to the database of `url`, creating it first (through the `postgres` maintenance
/// database) when it does not exist; returns the connection and whether it was created.
pub async fn connect_or_create_database(
    url: &DatabaseUrl,
    deadline: Duration,
) -> anyhow::Result<(PgConnection, bool)> {
    match postgres::connect(url, deadline).await {
        Ok(conn) => Ok((conn, false)),
        Err(error) if is_missing_database(&error) => {
            let mut admin = postgres::connect_maintenance(url, deadline).await?;
            let created = postgres::ensure_database(&mut admin, &url.database()).await?;
            drop(admin);
            Ok((postgres::connect(url, deadline).await?, created))
        }
        Err(error) => Err(error),
    }
}

/// The message for a taken port, with the fix.
pub fn port_taken_message(port: u16) -> String {
    format!(
        "port {port} on 127.0.0.1 is taken by another process; stop it or change the port in \
         DATABASE_URL"
    )
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(160) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_error_is_cut_to_one_line() {
        assert_eq!(one_line("a\nb"), "a");
        assert_eq!(one_line(&"x".repeat(200)).len(), 163);
    }

    #[test]
    fn a_port_in_use_is_reported_with_the_fix() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let error = ensure_port_free(port).unwrap_err().to_string();
        assert!(
            error.contains(&format!("port {port} on 127.0.0.1 is taken")),
            "{error}"
        );
        drop(listener);
        ensure_port_free(port).unwrap();
    }

    #[test]
    fn a_taken_port_says_what_to_do() {
        assert_eq!(
            port_taken_message(5432),
            "port 5432 on 127.0.0.1 is taken by another process; stop it or change the port in \
             DATABASE_URL"
        );
    }
}
