//! Errors as the service answers them, and the layers every request passes through: one log
//! line per request, every error answered as JSON, and no panic reaching a client.
//!
//! Every error is `{"error_message": "...", "result": CODE}` with CODE the HTTP status: 400 for
//! malformed JSON or a schema violation, 404 for an unknown route or item, 405 for a wrong
//! method, 408 for a body that does not arrive in time, 411 for a body without a length, 413
//! for a body above the limit, 415 for a body that is not JSON, 422 for a valid request that
//! cannot be computed. A 500 would mean a bug: the panic layer turns a panicking handler into
//! one rather than a dropped connection.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::Poll;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer: an HTTP status and one line saying what and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// One line for the client.
    pub message: String,
}

/// The JSON body of every error.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error_message: &'a str,
    result: u16,
}

impl ApiError {
    /// An error with any status; the message is made one line and capped.
    pub fn new(status: StatusCode, message: impl AsRef<str>) -> ApiError {
        ApiError {
            status,
            message: crate::text::one_line(message.as_ref(), 1000),
        }
    }

    /// 400: malformed JSON or a schema violation.
    pub fn bad_request(message: impl AsRef<str>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: no such route, item or schema.
    pub fn not_found(message: impl AsRef<str>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 422: a valid request that cannot be computed.
    pub fn unprocessable(message: impl AsRef<str>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 500: a bug in the service (never expected).
    pub fn internal(message: impl AsRef<str>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            serde_json::to_vec(&ErrorBody {
                error_message: &self.message,
                result: self.status.as_u16(),
            })
            .unwrap_or_default(),
        )
    }
}

/// A response with a JSON body.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Wraps `router` in the layers every request passes: the request log (when `log` is on,
/// outermost, so it sees the final status), errors made JSON, and panics caught.
pub fn common_layers(router: Router, log: bool) -> Router {
    let router = router
        .layer(middleware::from_fn(catch_panics))
        .layer(middleware::map_response(errors_as_json));
    if log {
        router.layer(middleware::from_fn(log_request))
    } else {
        router
    }
}

/// Runs the rest of the stack, turning a panic into a 500 JSON answer. The panic message has
/// already gone to stderr through the panic hook.
async fn catch_panics(request: Request, next: Next) -> Response {
    let mut future = Box::pin(next.run(request));
    let outcome = std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(response)) => Poll::Ready(Ok(response)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    })
    .await;
    match outcome {
        Ok(response) => response,
        Err(payload) => ApiError::internal(format!(
            "internal error: {}; the request was not completed",
            panic_text(payload.as_ref())
        ))
        .into_response(),
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        crate::text::shorten(text, 200)
    } else if let Some(text) = payload.downcast_ref::<String>() {
        crate::text::shorten(text, 200)
    } else {
        "a panic".to_string()
    }
}

/// Gives an error response that is not JSON (from the router or a framework rejection) the
/// JSON error body, keeping its status and headers (`Allow` on a 405).
async fn errors_as_json(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = if text.trim().is_empty() {
        default_message(status)
    } else {
        text.trim().to_string()
    };
    let error = ApiError::new(status, message).into_response();
    let (error_parts, error_body) = error.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        error_parts
            .headers
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("application/json")),
    );
    Response::from_parts(parts, error_body)
}

/// The message of a bare status.
pub fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "no such route; see GET /v1/health and the README".into(),
        StatusCode::METHOD_NOT_ALLOWED => "this route does not take that method".into(),
        other => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    }
}

/// Writes `METHOD PATH STATUS MICROSECONDSµs` to stderr once the answer is ready.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = crate::text::shorten(request.uri().path(), 200);
    let response = next.run(request).await;
    let micros = started.elapsed().as_micros();
    eprintln!("{method} {path} {} {micros}µs", response.status().as_u16());
    response
}
