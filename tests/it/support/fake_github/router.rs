//! The API server's single responder: record, authenticate, validate against
//! the description, inject faults, run the operation's handler, check the
//! fake's own answer.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use wiremock::{Request, Respond, ResponseTemplate};

use super::faults::{Fault, Stage};
use super::handlers::{self, Body, Ctx, Reply};
use super::recorder::{Host, RecordedRequest};
use super::world::{ACTIONS_BOT, CORE_LIMIT, World, rate_reset};
use crate::support::openapi::{RequestCheck, spec};

/// API version GitHub reports by default.
const API_VERSION: &str = "2022-11-28";

pub fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A request as received by one of the fake's servers (not answered yet).
pub fn record_of(host: Host, req: &Request) -> RecordedRequest {
    RecordedRequest {
        host,
        method: req.method.as_str().to_uppercase(),
        path: req.url.path().to_owned(),
        query: req.url.query().map(str::to_owned),
        // Header names lower-cased, values lossy.
        headers: req
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: req.body.clone(),
        operation: None,
        status: 0,
        fault: None,
    }
}

/// The token of `Authorization: Bearer <t>` or `token <t>`.
fn token_of(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    (known && !token.is_empty()).then_some(token)
}

/// The fault that answers instead of the handler (a delay only slows the
/// handler's answer down).
fn answering(fault: Option<&Fault>) -> Option<&Fault> {
    fault.filter(|f| f.stage != Stage::Delay)
}

/// Turns a reply into wiremock's response, with GitHub's usual headers.
fn template(world: &World, reply: &Reply, fault: Option<&Fault>) -> ResponseTemplate {
    let (status, headers, body) = match answering(fault) {
        Some(f) => (f.status, &f.headers, Body::Json(f.body_or_default())),
        None => (reply.status, &reply.headers, reply.body.clone()),
    };
    let used = world.env.rate_used;
    let mut t = ResponseTemplate::new(status)
        .insert_header("x-github-api-version-selected", API_VERSION)
        .insert_header("x-github-request-id", format!("FAKE:{used:08X}"))
        .insert_header("x-ratelimit-limit", CORE_LIMIT.to_string())
        .insert_header(
            "x-ratelimit-remaining",
            CORE_LIMIT.saturating_sub(used).to_string(),
        )
        .insert_header("x-ratelimit-used", used.to_string())
        .insert_header("x-ratelimit-reset", rate_reset().to_string())
        .insert_header("x-ratelimit-resource", "core");
    for (k, v) in headers {
        t = t.insert_header(k.as_str(), v.as_str());
    }
    t = match body {
        Body::None => t,
        Body::Json(v) => t.set_body_raw(
            serde_json::to_vec(&v).unwrap_or_default(),
            "application/json; charset=utf-8",
        ),
        Body::Bytes {
            bytes,
            content_type,
        } => t.set_body_raw(bytes, &content_type),
    };
    if let Some(d) = fault.and_then(|f| f.delay) {
        t = t.set_delay(d);
    }
    t
}

/// The API server.
pub struct ApiResponder {
    pub world: Arc<Mutex<World>>,
}

impl Respond for ApiResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut world = lock(&self.world);
        let mut record = record_of(Host::Api, req);
        let line = format!("{} {}", record.method, record.path);
        let (reply, fault) = serve(&mut world, &mut record, &line);
        let response = template(&world, &reply, fault.as_ref());
        record.status = answering(fault.as_ref()).map_or(reply.status, |f| f.status);
        record.fault = fault.map(|f| f.describe());
        world.log.requests.push(record);
        response
    }
}

fn serve(world: &mut World, record: &mut RecordedRequest, line: &str) -> (Reply, Option<Fault>) {
    let auth = record.header("authorization").map(str::to_owned);
    let token = match auth.as_deref().map(token_of) {
        Some(Some(t)) => t.to_owned(),
        Some(None) => {
            world.log.violation(
                line,
                "Authorization header is neither `Bearer <token>` nor `token <token>`",
            );
            return (Reply::error(401, "Bad credentials"), None);
        }
        None => {
            world
                .log
                .violation(line, "request to the API without an Authorization header");
            return (Reply::error(401, "Requires authentication"), None);
        }
    };
    world.log.saw_token(&token);

    let RequestCheck {
        matched,
        problems,
        invalid_body,
        query,
        body,
    } = spec().check_request(
        &record.method,
        &record.path,
        record.query.as_deref(),
        &record.body,
    );
    for problem in &problems {
        world.log.violation(line, problem);
    }
    let Some(matched) = matched else {
        return (Reply::not_found(), None);
    };
    let op = matched.operation;
    record.operation = Some(op.id.clone());
    world.env.rate_used += 1;

    let fault = world.faults.take(&record.method, &record.path);
    if fault.as_ref().is_some_and(|f| f.stage == Stage::Before) {
        // The handler never runs; `template` answers with the fault itself.
        return (Reply::no_content(), fault);
    }
    if invalid_body {
        let message = format!("Invalid request.\n\n{}", problems.join("\n"));
        return (Reply::error(422, &message), fault);
    }

    let ctx = Ctx {
        op: &op.id,
        params: &matched.path_params,
        query,
        body,
        actor: ACTIONS_BOT.to_owned(),
        line: line.to_owned(),
        path: record.path.clone(),
    };
    let reply = handlers::handle(world, &ctx).unwrap_or_else(|e| e);
    if (200..300).contains(&reply.status) {
        let body = match &reply.body {
            Body::Json(v) => v,
            _ => &Value::Null,
        };
        for p in spec().check_response(op, reply.status, body) {
            world.log.fake_bugs.push(format!("{line}: {p}"));
        }
    }
    (reply, fault)
}
