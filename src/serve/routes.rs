//! The endpoints: routing, reading and checking a request, and the answer.
//!
//! A body is taken only as `application/json` (else 415) with a `Content-Length` (else 411)
//! of at most the configured maximum (else 413, before any of it is read); it is parsed (400
//! on malformed JSON), checked against its published schema (400 naming the path), and only
//! then deserialised and computed (404 for an unknown item, 422 for what cannot be computed).
//! Between reading the body and writing the answer a handler does not wait on anything, so
//! at most one request per worker thread holds a parsed body or a computed answer at a time.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Service;
use super::api::{ProbabilitiesRequest, ScoresRequest};
use super::errors::{ApiError, common_layers, json_response};
use super::schema::SCHEMA_NAMES;

/// The service's routes, with the common layers (log, JSON errors, panic catching).
pub fn router(service: Arc<Service>) -> Router {
    let log = service.options.log;
    let routes = Router::new()
        .route(
            "/v1/probabilities",
            get(get_probabilities).post(post_probabilities),
        )
        .route("/v1/scores", post(post_scores))
        .route("/v1/items", get(get_items))
        .route("/v1/health", get(get_health))
        .route("/v1/schema", get(list_schemas))
        .route("/v1/schema/{name}", get(get_schema))
        .fallback(not_found)
        .with_state(service);
    common_layers(routes, log)
}

async fn not_found() -> ApiError {
    ApiError::not_found(super::errors::default_message(StatusCode::NOT_FOUND))
}

fn ok_json(body: Vec<u8>) -> Response {
    json_response(StatusCode::OK, body)
}

async fn get_health(State(service): State<Arc<Service>>) -> Response {
    ok_json(service.health_json.clone())
}

async fn get_items(State(service): State<Arc<Service>>) -> Response {
    ok_json(service.items_json.clone())
}

async fn list_schemas() -> Response {
    let names: Vec<String> = SCHEMA_NAMES
        .iter()
        .map(|n| format!("/v1/schema/{n}"))
        .collect();
    ok_json(serde_json::to_vec(&serde_json::json!({ "schemas": names })).unwrap_or_default())
}

async fn get_schema(
    State(service): State<Arc<Service>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let document = service.schemas.document(&name).ok_or_else(|| {
        ApiError::not_found(format!(
            "no schema called {}; there are: {}",
            crate::text::quoted(&name),
            SCHEMA_NAMES.join(", ")
        ))
    })?;
    Ok(ok_json(
        serde_json::to_vec_pretty(document).unwrap_or_default(),
    ))
}

async fn post_probabilities(
    State(service): State<Arc<Service>>,
    request: Request,
) -> Result<Response, ApiError> {
    let body = read_json_body(&service, request).await?;
    let request: ProbabilitiesRequest = checked(&service, "probabilities", body)?;
    Ok(ok_json(service.bank.probabilities_json(
        &request,
        service.options.max_values,
    )?))
}

async fn get_probabilities(
    State(service): State<Arc<Service>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let body = query_as_body(query.as_deref().unwrap_or(""), service.options.max_array)?;
    let request: ProbabilitiesRequest = checked(&service, "probabilities", body)?;
    Ok(ok_json(service.bank.probabilities_json(
        &request,
        service.options.max_values,
    )?))
}

async fn post_scores(
    State(service): State<Arc<Service>>,
    request: Request,
) -> Result<Response, ApiError> {
    let body = read_json_body(&service, request).await?;
    let request: ScoresRequest = checked(&service, "scores", body)?;
    let answer = service.bank.scores(&request)?;
    let bytes = serde_json::to_vec(&answer)
        .map_err(|e| ApiError::unprocessable(format!("the scores cannot be written: {e}")))?;
    Ok(ok_json(bytes))
}

/// Checks `body` against the schema `name`, then deserialises it.
fn checked<T: DeserializeOwned>(service: &Service, name: &str, body: Value) -> Result<T, ApiError> {
    service.schemas.check(name, &body)?;
    // The schema was generated from T, so this cannot fail on a body that passed it; if it
    // does anyway, the client still gets serde's words and a 400.
    serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("body: {e}")))
}

/// Whether the headers declare a JSON body (`application/json`, any parameters).
fn is_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON with the header Content-Type: application/json",
        ));
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let essence = text.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the body must be application/json, got Content-Type {}",
                crate::text::quoted(&text)
            ),
        ))
    }
}

/// Reads a JSON body within the service's limits and parses it.
async fn read_json_body(service: &Service, request: Request) -> Result<Value, ApiError> {
    let options = &service.options;
    is_json(request.headers())?;
    let Some(length) = request.headers().get(header::CONTENT_LENGTH) else {
        return Err(ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "the request needs a Content-Length header (a body sent in chunks is not taken)",
        ));
    };
    let length: u64 = length
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError::bad_request("the Content-Length header is not a number"))?;
    if length > options.max_body as u64 {
        return Err(too_large(length, options.max_body));
    }
    let read = axum::body::to_bytes(request.into_body(), options.max_body);
    let bytes = match tokio::time::timeout(options.body_timeout, read).await {
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} s",
                    options.body_timeout.as_secs_f64()
                ),
            ));
        }
        Ok(Err(error)) => {
            return Err(ApiError::bad_request(format!(
                "the body could not be read: {error}"
            )));
        }
        Ok(Ok(bytes)) => bytes,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the body is empty; expected a JSON object",
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

fn too_large(length: u64, limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the body is {} bytes; this service takes at most {} bytes (--max-body)",
            crate::text::count(length.min(usize::MAX as u64) as usize),
            crate::text::count(limit)
        ),
    )
}

/// Reads the query of `GET /v1/probabilities` (`theta=0.5&theta=1,2&item=Q01&item=Q02`) into
/// the body shape, so it passes the same schema check. At most `max_array` + 1 values of a
/// kind are kept: enough for the schema to say there are too many.
fn query_as_body(query: &str, max_array: usize) -> Result<Value, ApiError> {
    let mut thetas: Vec<Value> = Vec::new();
    let mut items: Vec<Value> = Vec::new();
    let mut saw_items = false;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "theta" => {
                for part in value.split(',') {
                    if thetas.len() > max_array {
                        break;
                    }
                    let at = thetas.len();
                    let number: f64 = part.trim().parse().map_err(|_| {
                        ApiError::bad_request(format!(
                            "/theta/{at}: expected a number, got {}",
                            crate::text::quoted(part)
                        ))
                    })?;
                    if !number.is_finite() {
                        return Err(ApiError::bad_request(format!(
                            "/theta/{at}: expected a finite number, got {}",
                            crate::text::quoted(part)
                        )));
                    }
                    thetas.push(number.into());
                }
            }
            "item" => {
                saw_items = true;
                if items.len() <= max_array {
                    items.push(Value::String(value.into_owned()));
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {}; use theta (repeated or comma-separated) and item (repeated)",
                    crate::text::quoted(other)
                )));
            }
        }
    }
    let mut body = serde_json::Map::new();
    if !thetas.is_empty() {
        body.insert("theta".into(), Value::Array(thetas));
    }
    if saw_items {
        body.insert("items".into(), Value::Array(items));
    }
    Ok(Value::Object(body))
}
