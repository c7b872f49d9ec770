//! Local EWS test server for offline-im (no Exchange can run here).
//!
//! - `POST /EWS/Exchange.asmx`: SOAP 1.1 CreateItem (SendOnly, SaveOnly, SendAndSaveCopy),
//!   FindItem, GetItem, UpdateItem (IsRead), DeleteItem. `Authorization: Bearer <user>-token`.
//! - `POST /_control/faults` (see faults.rs), `DELETE /_control/faults`, `GET /_control/faults`;
//!   `GET /_control/mailboxes/{email}` (JSON view); `GET /_control/users`; `POST /_control/reset`.
//! - `www/` at `/` and the built `pkg/` at `/pkg/`: one origin, as behind a reverse proxy;
//!   `target/bench/` at `/bench/` (the benchmark page that `pkg-scripts/bench` assembles).
//!
//! Usage: `ews-server [--port 8787] [--root <repository>]`. Listens on 127.0.0.1 only.

use ews_server::{faults, ops, state};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State as Ax};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use faults::{FaultSpec, Faults, Kind};
use serde_json::json;
use state::State;
use std::path::PathBuf;
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
            Kind::Http500Fault => return xml(500, ops::fault("ErrorInternalServerError", "An internal server error occurred. The operation failed.", None)),
            Kind::Http401 => return unauthorized(),
            Kind::Drop => {
                // Headers go out, then the body fails: the client sees the connection drop.
                let broken = futures_util::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by fault injection")) });
                return (StatusCode::OK, Body::from_stream(broken)).into_response();
            }
        }
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !ews_server::content_type_ok(content_type) {
        let text = format!("Cannot process the message because the content type '{}' was not the expected type 'text/xml; charset=utf-8'.", content_type.unwrap_or(""));
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, text).into_response();
    }
    let token = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    let anchor = headers.get("x-anchormailbox").and_then(|v| v.to_str().ok());
    let (status, reply) = app.with(|s, _| ews_server::handle_with(s, token, anchor, &body));
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

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    if let Err(e) = ews_server::schema::ready() {
        eprintln!("ews-server: {e} (set EWS_SCHEMA_DIR); every request is checked against it, so the server does not start without it");
        std::process::exit(1);
    }
    let port: u16 = arg("--port").and_then(|p| p.parse().ok()).unwrap_or(8787);
    let root = PathBuf::from(arg("--root").unwrap_or_else(|| ".".into()));
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
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("ews-server listening on http://127.0.0.1:{port}/ (EWS at /EWS/Exchange.asmx)");
    axum::serve(listener, router).with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
