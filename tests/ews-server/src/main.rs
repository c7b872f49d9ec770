//! Local EWS test server for offline-im (no Exchange can run here).
//!
//! - `POST /EWS/Exchange.asmx`: SOAP 1.1 CreateItem (SendOnly, SaveOnly, SendAndSaveCopy),
//!   FindItem, GetItem, UpdateItem (IsRead), DeleteItem. `Authorization: Bearer <user>-token`.
//! - `POST /_control/faults` (see faults.rs), `DELETE /_control/faults`, `GET /_control/faults`;
//!   `GET /_control/mailboxes/{email}` (JSON view); `GET /_control/users`; `POST /_control/reset`.
//! - `www/` at `/` and the built `pkg/` at `/pkg/`: one origin, as behind a reverse proxy;
//!   `target/bench/` at `/bench/` (the benchmark page that `pkg-scripts/bench` assembles).
//!
//! - Microsoft Graph v1.0 on its own port (`--graph-port`, default port + 1) under `/v1.0`,
//!   another origin than the page, as graph.microsoft.com is: routes in `graph.rs`; CORS as a
//!   browser needs it (preflight `OPTIONS` answered with `Access-Control-Allow-*` for an allowed
//!   origin, nothing for another, so the browser blocks it); `Access-Control-Expose-Headers`
//!   without `Retry-After`, as Graph's (microsoftgraph/microsoft-graph-docs-contrib#2011: a
//!   browser cannot read Graph's Retry-After); 4 requests in flight per mailbox, the fifth
//!   answered 429 `ApplicationThrottled` `MailboxConcurrency` ("Outlook service limits").
//!
//! Usage: `ews-server --help` (`cli.rs`): `[--port 8787] [--graph-port 8788]
//! [--graph-allow-origin <origin>]… [--root <repository>]`. Allowed origins default to the EWS
//! port's own (`http://127.0.0.1:<port>`, `http://localhost:<port>`). Listens on 127.0.0.1 only.

use ews_server::{faults, ops, state};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State as Ax};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use faults::{FaultSpec, Faults, Kind};
use serde_json::json;
use state::State;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower_http::services::ServeDir;

#[derive(Clone)]
struct App(Arc<Mutex<(State, Faults)>>);

impl App {
    fn with<T>(&self, f: impl FnOnce(&mut State, &mut Faults) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (s, fl) = &mut *guard;
        f(s, fl)
    }
}

fn xml(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// Headers go out, then the body fails: the client sees the connection drop (fault `drop`).
fn dropped() -> Response {
    let broken = futures_util::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by fault injection")) });
    (StatusCode::OK, Body::from_stream(broken)).into_response()
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "401 - Unauthorized: Access is denied due to invalid credentials.").into_response()
}

async fn ews(Ax(app): Ax<App>, headers: HeaderMap, body: String) -> Response {
    let fault = app.with(|s, f| {
        s.requests += 1;
        f.take()
    });
    if let Some(spec) = fault {
        match spec.kind {
            Kind::Slow => tokio::time::sleep(Duration::from_millis(spec.delay_ms.unwrap_or(2_000))).await,
            Kind::ServerBusy => {
                let text = "The server cannot service this request right now. Try again later.";
                return xml(500, ops::fault("ErrorServerBusy", text, Some(spec.back_off_ms.unwrap_or(1_000))));
            }
            Kind::Http503 => return (StatusCode::SERVICE_UNAVAILABLE, "<html><body><h1>Service Unavailable</h1></body></html>").into_response(),
            Kind::Http429 => return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, spec.back_off_ms.unwrap_or(1_000).div_ceil(1000).to_string())], "Too Many Requests").into_response(),
            Kind::Http504 => return (StatusCode::GATEWAY_TIMEOUT, "<html><body><h1>Gateway Timeout</h1></body></html>").into_response(),
            Kind::Http500Fault => return xml(500, ops::fault("ErrorInternalServerError", "An internal server error occurred. The operation failed.", None)),
            Kind::Http401 => return unauthorized(),
            Kind::Drop => return dropped(),
            // Rolled per message inside the CreateItem (`take` never returns these).
            Kind::ItemServerBusy | Kind::ItemStoreUnavailable | Kind::ItemTooLarge => {}
        }
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !ews_server::content_type_ok(content_type) {
        let text = format!("Cannot process the message because the content type '{}' was not the expected type 'text/xml; charset=utf-8'.", content_type.unwrap_or(""));
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, text).into_response();
    }
    let token = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    let anchor = headers.get("x-anchormailbox").and_then(|v| v.to_str().ok());
    let (status, reply) = app.with(|s, f| ews_server::handle_with_faults(s, token, anchor, &body, &mut || f.take_item()));
    if status == 401 {
        return unauthorized();
    }
    xml(status, reply)
}

async fn add_fault(Ax(app): Ax<App>, body: String) -> Response {
    match serde_json::from_str::<FaultSpec>(&body) {
        Ok(spec) => {
            app.with(|_, f| f.add(spec));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn clear_faults(Ax(app): Ax<App>) -> StatusCode {
    app.with(|_, f| f.active.clear());
    StatusCode::NO_CONTENT
}

async fn get_faults(Ax(app): Ax<App>) -> Json<serde_json::Value> {
    Json(app.with(|s, f| json!({ "active": f.active.iter().map(|a| &a.spec).collect::<Vec<_>>(), "injected": f.injected, "requests": s.requests })))
}

async fn mailbox(Ax(app): Ax<App>, Path(email): Path<String>) -> Response {
    app.with(|s, _| match s.user(&email) {
        Some(u) => {
            let items: Vec<_> = s.items.iter().filter(|i| i.mailbox == u.email).collect();
            Json(json!({ "email": u.email, "name": u.name, "items": items })).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such mailbox").into_response(),
    })
}

async fn users(Ax(app): Ax<App>) -> Json<serde_json::Value> {
    Json(app.with(|s, _| json!(s.users)))
}

async fn reset(Ax(app): Ax<App>) -> StatusCode {
    app.with(|s, f| {
        s.clear();
        s.requests = 0;
        *f = Faults::default();
    });
    StatusCode::NO_CONTENT
}

/// The Graph endpoint's side of the server: the shared mailboxes and faults, the origins it
/// allows, its own base URL, and requests in flight per mailbox.
#[derive(Clone)]
struct GraphApp {
    app: App,
    origins: Arc<Vec<String>>,
    base: String,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

/// Response headers a browser page may read, as Graph lists them; `Retry-After` is not among
/// them (microsoftgraph/microsoft-graph-docs-contrib#2011).
const EXPOSED: &str = "ETag, Location, Preference-Applied, Content-Range, request-id, client-request-id, ReadWriteConsistencyToken, SdkVersion, WWW-Authenticate, x-ms-client-gcc-tenant";

/// Counts a request in flight for one mailbox while it lives.
struct InFlight(Arc<Mutex<HashMap<String, usize>>>, String);
impl Drop for InFlight {
    fn drop(&mut self) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.1) {
            *n = n.saturating_sub(1);
        }
    }
}

fn graph_response(reply: ews_server::graph::GraphReply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = if reply.body.is_empty() { status.into_response() } else { (status, [(header::CONTENT_TYPE, "application/json")], reply.body).into_response() };
    for (k, v) in reply.headers {
        if let (Ok(k), Ok(v)) = (header::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

fn with_cors(mut r: Response, origin: Option<&str>) -> Response {
    if let Some(o) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    r
}

async fn graph(Ax(g): Ax<GraphApp>, method: Method, uri: Uri, headers: HeaderMap, body: String) -> Response {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let origin = text(header::ORIGIN).filter(|o| g.origins.iter().any(|a| a == o));
    if method == Method::OPTIONS {
        // A preflight from an origin not allowed gets no Access-Control-Allow-* at all: the
        // browser then refuses the request itself.
        let mut r = StatusCode::OK.into_response();
        if origin.is_some() {
            let h = r.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"));
            if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            }
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("3600"));
        }
        return with_cors(r, origin);
    }
    let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let Some(target) = target.strip_prefix("/v1.0").filter(|t| t.starts_with('/')).map(str::to_string) else {
        return with_cors(graph_response(ews_server::graph::error(400, "BadRequest", "Invalid version: the path must start with /v1.0.")), origin);
    };
    let token = text(header::AUTHORIZATION).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("").to_string();
    let _in_flight = {
        let mut m = g.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(token.clone()).or_default();
        if *n >= 4 {
            let mut r = ews_server::graph::error(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.");
            r.headers.push(("Retry-After".into(), "1".into()));
            return with_cors(graph_response(r), origin);
        }
        *n += 1;
        InFlight(g.in_flight.clone(), token.clone())
    };
    let fault = g.app.with(|s, f| {
        s.requests += 1;
        f.take()
    });
    if let Some(spec) = fault {
        match spec.kind {
            Kind::Slow => tokio::time::sleep(Duration::from_millis(spec.delay_ms.unwrap_or(2_000))).await,
            Kind::Drop => return with_cors(dropped(), origin),
            _ => {
                if let Some(r) = ews_server::graph::fault_reply(&spec) {
                    return with_cors(graph_response(r), origin);
                }
            }
        }
    }
    let (ct, prefer) = (text(header::CONTENT_TYPE).map(str::to_string), headers.get("prefer").and_then(|v| v.to_str().ok()).map(str::to_string));
    let reply = g.app.with(|s, f| ews_server::graph::handle(s, &token, method.as_str(), &target, ct.as_deref(), prefer.as_deref(), &body, &g.base, &mut || f.take()));
    with_cors(graph_response(reply), origin)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let options = match ews_server::cli::parse(&argv) {
        Ok(ews_server::cli::Command::Run(o)) => o,
        Ok(ews_server::cli::Command::Help) => {
            print!("{}", ews_server::cli::USAGE);
            return Ok(());
        }
        Err(e) => {
            eprint!("ews-server: {e}\n\n{}", ews_server::cli::USAGE);
            std::process::exit(2);
        }
    };
    if let Err(e) = ews_server::schema::ready() {
        eprintln!("ews-server: {e} (set EWS_SCHEMA_DIR); every request is checked against it, so the server does not start without it");
        std::process::exit(1);
    }
    let (port, root) = (options.port, options.root);
    let app = App(Arc::new(Mutex::new((State::new(), Faults::default()))));
    let router = Router::new()
        .route("/EWS/Exchange.asmx", post(ews))
        .route("/_control/faults", post(add_fault).delete(clear_faults).get(get_faults))
        .route("/_control/mailboxes/{email}", get(mailbox))
        .route("/_control/users", get(users))
        .route("/_control/reset", post(reset))
        .nest_service("/pkg", ServeDir::new(root.join("pkg")))
        .nest_service("/bench", ServeDir::new(root.join("target/bench")))
        .fallback_service(ServeDir::new(root.join("www")))
        .with_state(app.clone());
    let (graph_port, origins) = (options.graph_port, options.graph_allow_origins);
    let graph_app = GraphApp { app: app.clone(), origins: Arc::new(origins), base: format!("http://127.0.0.1:{graph_port}/v1.0"), in_flight: Arc::default() };
    let graph_router = Router::new().fallback(graph).with_state(graph_app);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let graph_listener = tokio::net::TcpListener::bind(("127.0.0.1", graph_port)).await?;
    println!("ews-server listening on http://127.0.0.1:{port}/ (EWS at /EWS/Exchange.asmx), Graph at http://127.0.0.1:{graph_port}/v1.0");
    let shutdown = || async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let (a, b) = tokio::join!(axum::serve(listener, router).with_graceful_shutdown(shutdown()), axum::serve(graph_listener, graph_router).with_graceful_shutdown(shutdown()));
    a.and(b)
}
