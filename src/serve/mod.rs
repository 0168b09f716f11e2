//! `irtlab serve`: a calibrated item bank over HTTP, for whatever uses the items — a learning
//! platform predicting answers, an adaptive test scoring them as they come, a dashboard.
//!
//! The bank is loaded once ([`ItemBank`]: an items table, or a project's fit) and answered
//! from by an HTTP/1.1 service on axum and tokio:
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/probabilities` | `{"theta": [..], "items": [..]?}` → category probabilities per θ and item |
//! | `GET /v1/probabilities?theta=0.5&item=Q01` | the same, from the query |
//! | `POST /v1/scores` | `{"responses": [{"id", "answers": {item: category}}], "method"?}` → θ and SE per person |
//! | `GET /v1/items` | the bank: each item's type, categories and IRT form |
//! | `GET /v1/health` | `{"status": "ok", "items": N, ...}` |
//! | `GET /v1/schema`, `GET /v1/schema/{name}` | the JSON Schemas of the request bodies |
//!
//! Every body is checked against a JSON Schema generated from the Rust type that deserialises
//! it ([`schema`]) before any work; every error is JSON with its HTTP status ([`errors`]).
//!
//! # Memory
//!
//! A request's memory follows its size: a body is refused above `max_body` bytes before it is
//! read; arrays and maps are refused above `max_array` entries; an answer above `max_values`
//! numbers is refused before it is computed. Handlers do not wait between parsing a body and
//! answering, so at most one request per worker thread holds a parsed body and its answer.

pub mod api;
mod bank;
pub mod errors;
mod routes;
pub mod schema;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;

pub use bank::{ItemBank, ItemEntry, ItemsAnswer, ScoresAnswer};
pub use errors::{ApiError, common_layers};
pub use routes::router;

use crate::project::ProjectError;

/// What went wrong starting or running the service.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The item bank could not be loaded or is unusable.
    #[error("{0}")]
    Bank(String),
    /// The project behind the bank could not be run.
    #[error(transparent)]
    Project(ProjectError),
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Setting(String),
    /// The address could not be listened on.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The host and port asked for.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The runtime or the listener failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// How the service runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ServeOptions {
    /// Host name or address to listen on.
    pub host: String,
    /// Port (0: any free port, shown once bound).
    pub port: u16,
    /// The largest request body taken, in bytes.
    pub max_body: usize,
    /// The most entries of any array or map in a request (θ values, items, persons, answers).
    pub max_array: usize,
    /// The most numbers in a probabilities answer (θ values × item columns).
    pub max_values: usize,
    /// Worker threads (0: one per core).
    pub workers: usize,
    /// Log one line per request to stderr.
    pub log: bool,
    /// How long a body may take to arrive.
    pub body_timeout: Duration,
    /// After the stop signal, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            host: "127.0.0.1".into(),
            port: 8080,
            max_body: 1_000_000,
            max_array: 10_000,
            max_values: 1_000_000,
            workers: 0,
            log: false,
            body_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl ServeOptions {
    /// Checks the limits are usable.
    pub fn validate(&self) -> Result<(), ServeError> {
        let positive = |value: usize, what: &str| {
            if value == 0 {
                Err(ServeError::Setting(format!("{what} must be at least 1")))
            } else {
                Ok(())
            }
        };
        positive(self.max_body, "the body limit")?;
        positive(self.max_array, "the array limit")?;
        positive(self.max_values, "the answer limit")?;
        if self.workers > 1024 {
            return Err(ServeError::Setting(format!(
                "{} worker threads is more than 1024",
                self.workers
            )));
        }
        Ok(())
    }

    /// The number of worker threads: `workers`, or one per core.
    pub fn worker_threads(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }
}

/// The bank, its compiled schemas and the options: the state every handler shares.
pub struct Service {
    bank: ItemBank,
    schemas: schema::Schemas,
    options: ServeOptions,
    items_json: Vec<u8>,
    health_json: Vec<u8>,
}

impl Service {
    /// Compiles the schemas and prepares the fixed answers.
    pub fn new(bank: ItemBank, options: ServeOptions) -> Result<Service, ServeError> {
        options.validate()?;
        let schemas = schema::Schemas::new(options.max_array).map_err(ServeError::Setting)?;
        let items_json = serde_json::to_vec(&bank.items_answer())
            .map_err(|e| ServeError::Bank(format!("the items cannot be written as JSON: {e}")))?;
        let health_json = serde_json::to_vec(&serde_json::json!({
            "status": "ok",
            "items": bank.len(),
            "version": env!("CARGO_PKG_VERSION"),
        }))
        .unwrap_or_default();
        Ok(Service {
            bank,
            schemas,
            options,
            items_json,
            health_json,
        })
    }

    /// The bank.
    pub fn bank(&self) -> &ItemBank {
        &self.bank
    }

    /// The options.
    pub fn options(&self) -> &ServeOptions {
        &self.options
    }

    /// The published schema called `name` (`probabilities`, `scores`).
    pub fn schema(&self, name: &str) -> Option<&serde_json::Value> {
        self.schemas.document(name)
    }
}

/// Serves on `listener` until `shutdown` resolves, then stops taking connections and lets the
/// requests in flight finish, for at most the options' `shutdown_grace`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let grace = service.options.shutdown_grace;
    let app = router(service);
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = started_tx.send(());
    };
    // Small answers go out at once instead of waiting for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .into_future();
    let drain_limit = async move {
        match started_rx.await {
            Ok(()) => tokio::time::sleep(grace).await,
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        result = server => Ok(result?),
        // Connections still open after the grace period are dropped with the runtime.
        () = drain_limit => Ok(()),
    }
}

/// Runs the service on its own runtime (`workers` threads): binds `host:port`, calls `ready`
/// with the bound address, and serves until `shutdown` resolves (see [`serve`]).
pub fn run(
    bank: ItemBank,
    options: ServeOptions,
    ready: impl FnOnce(SocketAddr, &Service),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let service = Arc::new(Service::new(bank, options)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(service.options.worker_threads())
        .thread_name("irtlab-serve")
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let address = format!("{}:{}", service.options.host, service.options.port);
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|source| ServeError::Bind {
                address: address.clone(),
                source,
            })?;
        let bound = listener.local_addr()?;
        ready(bound, &service);
        serve(listener, service, shutdown).await
    })
}

/// Resolves on Ctrl+C (SIGINT) or SIGTERM: the usual stop signal of [`run`].
pub async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {},
                    _ = terminate.recv() => {},
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Parses a size in bytes: `1MB`, `512KB`, `2MiB`, `1000000` (KB, MB, GB are powers of 1000;
/// KiB, MiB, GiB of 1024).
pub fn parse_byte_size(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let bad = || {
        format!(
            "{} is not a size; use e.g. 1MB, 512KB, 2MiB or a number of bytes",
            crate::text::quoted(text)
        )
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = (value * factor).round();
    if !(1.0..=1e12).contains(&bytes) {
        return Err(format!(
            "{} is out of range (1 byte to 1 TB)",
            crate::text::quoted(text)
        ));
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_byte_size("1MB").unwrap(), 1_000_000);
        assert_eq!(parse_byte_size("512 kb").unwrap(), 512_000);
        assert_eq!(parse_byte_size("2MiB").unwrap(), 2 * 1024 * 1024);
        assert_eq!(parse_byte_size("1048576").unwrap(), 1_048_576);
        assert_eq!(parse_byte_size("1.5MB").unwrap(), 1_500_000);
        assert!(parse_byte_size("MB").is_err());
        assert!(parse_byte_size("0").is_err());
        assert!(parse_byte_size("12 parsecs").is_err());
        assert!(parse_byte_size("1e400").is_err());
    }
}
