//! The admin HTTP server (ZooKeeper's AdminServer): `/commands` lists the commands,
//! `/commands/<name>` answers one in JSON with ZooKeeper's field names ([`commands`]),
//! `/commands/snapshot` (ZooKeeper 3.9's, not listed: the listing is 3.8's) streams an online
//! backup ([`snapshot`]), and
//! `/metrics` serves Prometheus' text format ([`crate::metrics::prometheus`]). A second
//! listener may serve `/metrics` alone, where ZooKeeper's Prometheus provider would listen.
//!
//! Answers are computed on the blocking pool: they walk the data dir for its size and read
//! the state, as the four-letter words do, and must not hold up the client connections.

pub mod authorization;
pub mod commands;
pub mod snapshot;

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::Path;
use axum::extract::State;
use axum::http::header;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::fourlw::Word;
use crate::node::Node;

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    /// `/commands`, `/commands/<name>` and `/metrics` (the admin port).
    Admin,
    /// `/metrics` only (metricsProvider.httpPort).
    MetricsOnly,
}

/// Binds `addr`; `None` (with a warning, as ZooKeeper logs "Problem starting AdminServer"
/// and goes on serving clients) if it cannot.
pub async fn bind(addr: SocketAddr, what: &str) -> Option<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => {
            let bound = l.local_addr().map_or(addr, |a| a);
            tracing::info!(addr = %bound, "serving the {what}");
            Some(l)
        }
        Err(e) => {
            tracing::warn!(%addr, error = %e, "cannot serve the {what}; going on without it");
            None
        }
    }
}

/// Serves `routes` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    routes: Routes,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut app = Router::new().route("/metrics", get(metrics));
    if routes == Routes::Admin {
        let limiter = Arc::new(snapshot::Limiter::new(
            node.settings.admin_snapshot_interval,
        ));
        let snap = move |node: State<Arc<Node>>,
                         peer: axum::extract::ConnectInfo<SocketAddr>,
                         headers: axum::http::HeaderMap,
                         query: axum::extract::RawQuery| {
            snapshot::snapshot(node, peer, headers, query, limiter.clone())
        };
        app = app
            .route("/commands/snapshot", get(snap.clone()))
            .route("/commands/snap", get(snap))
            .route("/commands", get(list))
            .route("/commands/", get(list))
            .route("/commands/{name}", get(command));
    }
    let app = app.with_state(node);
    let mut stop = shutdown.clone();
    // The snapshot command's `ip` auth needs the caller's address.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move { crate::shutdown::stopped(&mut shutdown).await });
    // A request still running at shutdown gets a moment, not a say in when the node stops.
    let grace = async move {
        crate::shutdown::stopped(&mut stop).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = std::future::IntoFuture::into_future(server) => {
            if let Err(e) = served {
                tracing::warn!(error = %e, "admin HTTP server stopped");
            }
        }
        () = grace => tracing::warn!("admin HTTP requests still running at shutdown; dropped"),
    }
}

/// How long shutdown waits for admin HTTP requests in progress.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// ZooKeeper's listing: a link per command, in HTML.
async fn list() -> Response {
    let mut body = String::new();
    for c in commands::COMMANDS {
        let _ = writeln!(body, "<a href=\"/commands/{0}\">{0}</a>\n<br/>", c.name);
    }
    ([(header::CONTENT_TYPE, "text/html")], body).into_response()
}

async fn command(State(node): State<Arc<Node>>, Path(name): Path<String>) -> Response {
    let answer = tokio::task::spawn_blocking(move || commands::run(&name, &node)).await;
    match answer.map(|v| serde_json::to_string_pretty(&v)) {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Ok(Err(e)) => internal(&e.to_string()),
        Err(e) => internal(&e.to_string()),
    }
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    let page = tokio::task::spawn_blocking(move || {
        let stats = crate::admin::gather(Word::Mntr, &node, None);
        let changes = node.stats.raft.leader_changes.load(Ordering::Relaxed);
        crate::metrics::prometheus::render(&stats, &node.raft_facts(), changes)
    })
    .await;
    match page {
        Ok(Ok(body)) => (
            [(
                header::CONTENT_TYPE,
                crate::metrics::prometheus::CONTENT_TYPE,
            )],
            body,
        )
            .into_response(),
        Ok(Err(e)) => internal(&e.to_string()),
        Err(e) => internal(&e.to_string()),
    }
}

pub(crate) fn internal(why: &str) -> Response {
    tracing::warn!(error = why, "admin HTTP request failed");
    (StatusCode::INTERNAL_SERVER_ERROR, why.to_string()).into_response()
}
