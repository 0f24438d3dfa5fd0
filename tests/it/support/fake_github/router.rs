//! The API server's single responder: record, authenticate, validate against
//! the description, inject faults, run the operation's handler, check the
//! fake's own answer.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use wiremock::{Request, Respond, ResponseTemplate};

use super::faults::{Fault, Stage};
use super::handlers::{self, Body, Ctx, Reply};
use super::recorder::{Host, RecordedRequest};
use super::world::{CORE_LIMIT, World, rate_reset};
use crate::support::openapi::spec;

/// API version GitHub reports by default.
const API_VERSION: &str = "2022-11-28";

pub fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Header names lower-cased, values lossy.
pub fn headers_of(req: &Request) -> Vec<(String, String)> {
    req.headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The token of `Authorization: Bearer <t>` or `token <t>`.
fn token_of(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    (known && !token.is_empty()).then_some(token)
}

/// Turns a reply into wiremock's response, with GitHub's usual headers.
pub fn template(world: &World, reply: &Reply, fault: Option<&Fault>) -> ResponseTemplate {
    let status = fault
        .filter(|f| f.stage != Stage::Delay)
        .map_or(reply.status, |f| f.status);
    let mut t = ResponseTemplate::new(status);
    let used = world.env.rate_used;
    let limit = CORE_LIMIT;
    t = t
        .insert_header("x-github-api-version-selected", API_VERSION)
        .insert_header("x-github-request-id", format!("FAKE:{:08X}", used))
        .insert_header("x-ratelimit-limit", limit.to_string())
        .insert_header(
            "x-ratelimit-remaining",
            limit.saturating_sub(used).to_string(),
        )
        .insert_header("x-ratelimit-used", used.to_string())
        .insert_header("x-ratelimit-reset", rate_reset().to_string())
        .insert_header("x-ratelimit-resource", "core");
    let (headers, body) = match fault.filter(|f| f.stage != Stage::Delay) {
        Some(f) => (f.headers.clone(), Body::Json(f.body_or_default())),
        None => (reply.headers.clone(), reply.body.clone()),
    };
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
        let method = req.method.as_str().to_uppercase();
        let path = req.url.path().to_owned();
        let query = req.url.query().map(str::to_owned);
        let line = format!("{method} {path}");
        let mut record = RecordedRequest {
            host: Host::Api,
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            headers: headers_of(req),
            body: req.body.clone(),
            operation: None,
            status: 0,
            fault: None,
        };
        let (reply, fault) = serve(&mut world, req, &mut record, &line);
        let response = template(&world, &reply, fault.as_ref());
        record.status = match &fault {
            Some(f) if f.stage != Stage::Delay => f.status,
            _ => reply.status,
        };
        record.fault = fault.map(|f| f.describe());
        world.log.requests.push(record);
        response
    }
}

fn serve(
    world: &mut World,
    req: &Request,
    record: &mut RecordedRequest,
    line: &str,
) -> (Reply, Option<Fault>) {
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

    let check = spec().check_request(
        &record.method,
        &record.path,
        record.query.as_deref(),
        &req.body,
    );
    for problem in &check.problems {
        world.log.violation(line, problem);
    }
    let Some(matched) = check.matched else {
        return (Reply::not_found(), None);
    };
    let op = matched.operation;
    record.operation = Some(op.id.clone());
    world.env.rate_used += 1;

    let fault = world.faults.take(&record.method, &record.path);
    if let Some(f) = fault.as_ref().filter(|f| f.stage == Stage::Before) {
        // The handler never runs; `template` answers with the fault itself.
        return (Reply::no_content(), Some(f.clone()));
    }
    if check.invalid_body {
        let message = format!("Invalid request.\n\n{}", check.problems.join("\n"));
        return (Reply::error(422, &message), fault);
    }

    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let query: Vec<(String, String)> = record
        .query
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let ctx = Ctx {
        op: &op.id,
        params: &matched.path_params,
        query,
        body,
        actor: world.env.actor_for(Some(&token)),
        line: line.to_owned(),
        path: record.path.clone(),
    };
    let reply = handlers::handle(world, &ctx).unwrap_or_else(|e| e);
    if (200..300).contains(&reply.status) {
        let problems = match &reply.body {
            Body::Json(v) => spec().check_response(op, reply.status, v),
            _ => spec().check_response(op, reply.status, &Value::Null),
        };
        for p in problems {
            world.log.fake_bugs.push(format!("{line}: {p}"));
        }
    }
    (reply, fault)
}
