//! Self-test of the test support: the OpenAPI validator and the fake GitHub.
//!
//! Requests go over plain HTTP with hyper-util's client, so what is tested is
//! what any client would see.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::support::fake_github::{
    CI_WORKFLOW, CI_WORKFLOW_PATH, FakeGithub, Fault, IssueBuilder, JobBuilder, Logs, PullBuilder,
    RunBuilder,
};
use crate::support::openapi::{spec, to_json_schema};

// ---------------------------------------------------------------------------
// A bare HTTP client: no redirects followed, no retries.

struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

struct Resp {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

impl Http {
    fn new() -> Http {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = http::Request::builder()
            .method(method)
            .uri(url)
            .header("accept", "application/vnd.github+json")
            .header("user-agent", "ci-medic-selftest");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let payload = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(b).expect("serialise body"))
            }
            None => Bytes::new(),
        };
        let resp = self
            .client
            .request(req.body(Full::new(payload)).expect("request"))
            .await
            .expect("send request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("read body")
            .to_bytes()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }
}

/// A client of one fake, authenticated with its token.
struct Api<'a> {
    fake: &'a FakeGithub,
    http: Http,
}

impl<'a> Api<'a> {
    fn new(fake: &'a FakeGithub) -> Api<'a> {
        Api {
            fake,
            http: Http::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        let path = path.replace("{repo}", self.fake.repo_name());
        format!("{}{path}", self.fake.uri())
    }

    async fn get(&self, path: &str) -> Resp {
        self.http
            .send("GET", &self.url(path), Some(self.fake.token()), None)
            .await
    }

    async fn call(&self, method: &str, path: &str, body: &Value) -> Resp {
        self.http
            .send(method, &self.url(path), Some(self.fake.token()), Some(body))
            .await
    }
}

// ---------------------------------------------------------------------------
// The validator on its own.

/// The operations ci-medic calls (see `scripts/trim-openapi.mjs`).
const OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/rate_limit"),
    ("GET", "/repos/{owner}/{repo}"),
    ("GET", "/repos/{owner}/{repo}/contents/{path}"),
    ("GET", "/repos/{owner}/{repo}/actions/runs"),
    ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}"),
    ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"),
    (
        "GET",
        "/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs",
    ),
    ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/logs"),
    (
        "POST",
        "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs",
    ),
    ("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}"),
    ("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs"),
    ("POST", "/repos/{owner}/{repo}/actions/jobs/{job_id}/rerun"),
    ("GET", "/repos/{owner}/{repo}/actions/workflows"),
    (
        "GET",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
    ),
    ("GET", "/repos/{owner}/{repo}/issues"),
    ("POST", "/repos/{owner}/{repo}/issues"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
    (
        "GET",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    ),
    (
        "PATCH",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
    ),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    (
        "DELETE",
        "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
    ),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/events"),
    ("GET", "/repos/{owner}/{repo}/labels/{name}"),
    ("POST", "/repos/{owner}/{repo}/labels"),
    (
        "GET",
        "/repos/{owner}/{repo}/collaborators/{username}/permission",
    ),
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("POST", "/repos/{owner}/{repo}/git/refs"),
    ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}"),
    ("POST", "/repos/{owner}/{repo}/git/commits"),
    ("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}"),
    ("POST", "/repos/{owner}/{repo}/git/trees"),
    ("POST", "/repos/{owner}/{repo}/git/blobs"),
    ("GET", "/repos/{owner}/{repo}/commits"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}"),
    ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"),
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("GET", "/repos/{owner}/{repo}/compare/{basehead}"),
    ("POST", "/repos/{owner}/{repo}/check-runs"),
    ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
    ("GET", "/repos/{owner}/{repo}/labels"),
    (
        "DELETE",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
    ),
    ("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/cancel"),
    (
        "POST",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
    ),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    (
        "PUT",
        "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch",
    ),
    ("POST", "/repos/{owner}/{repo}/dispatches"),
    (
        "PUT",
        "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals",
    ),
];

#[test]
fn spec_has_exactly_the_operations_ci_medic_calls() {
    let have: BTreeSet<(String, String)> = spec()
        .operations()
        .iter()
        .map(|op| (op.method.clone(), op.template.clone()))
        .collect();
    let want: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(have, want);
}

fn problems(method: &str, path: &str, query: Option<&str>, body: &Value) -> Vec<String> {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).expect("serialise")
    };
    spec().check_request(method, path, query, &bytes).problems
}

#[test]
fn validator_accepts_good_requests() {
    let good = [
        (
            "POST",
            "/repos/o/r/issues",
            None,
            json!({"title": "CI failed", "body": "x", "labels": ["ci"]}),
        ),
        ("POST", "/repos/o/r/issues", None, json!({"title": 42})),
        (
            "PATCH",
            "/repos/o/r/issues/3",
            None,
            json!({"state": "closed", "state_reason": "not_planned"}),
        ),
        // `nullable` without `type`, next to `oneOf`.
        (
            "PATCH",
            "/repos/o/r/issues/3",
            None,
            json!({"milestone": null, "body": null}),
        ),
        (
            "GET",
            "/repos/o/r/issues",
            Some("state=all&labels=a,b&per_page=100&page=2"),
            Value::Null,
        ),
        (
            "GET",
            "/repos/o/r/actions/runs",
            Some("status=failure&branch=main&exclude_pull_requests=true"),
            Value::Null,
        ),
        (
            "GET",
            "/repos/o/r/actions/runs",
            Some("created=%3E%3D2024-05-01"),
            Value::Null,
        ),
        (
            "POST",
            "/repos/o/r/issues/3/labels",
            None,
            json!({"labels": ["flaky"]}),
        ),
        (
            "POST",
            "/repos/o/r/actions/runs/9/rerun-failed-jobs",
            None,
            Value::Null,
        ),
        (
            "POST",
            "/repos/o/r/actions/jobs/9/rerun",
            None,
            json!({"enable_debug_logging": true}),
        ),
        (
            "POST",
            "/repos/o/r/actions/workflows/ci.yml/dispatches",
            None,
            json!({"ref": "main", "inputs": {"sha": "abc"}}),
        ),
        (
            "PATCH",
            "/repos/o/r/git/refs/heads/feature/x",
            None,
            json!({"sha": "abc", "force": true}),
        ),
        (
            "POST",
            "/repos/o/r/git/trees",
            None,
            json!({"base_tree": "t", "tree": [{"path": "a", "mode": "100644", "type": "blob", "sha": null}]}),
        ),
        (
            "GET",
            "/repos/o/r/contents/.github/workflows/ci.yml",
            Some("ref=main"),
            Value::Null,
        ),
        (
            "DELETE",
            "/repos/o/r/issues/3/labels/auto%20heal",
            None,
            Value::Null,
        ),
        ("GET", "/rate_limit", None, Value::Null),
    ];
    for (method, path, query, body) in good {
        let p = problems(method, path, query, &body);
        assert!(p.is_empty(), "{method} {path}: {p:?}");
    }
}

#[test]
fn validator_rejects_bad_requests_with_the_schema_message() {
    let p = problems(
        "POST",
        "/repos/o/r/issues",
        None,
        &json!({"title": {"text": "x"}}),
    );
    assert!(!p.is_empty());
    assert!(p.iter().any(|m| m.contains("/title")), "{p:?}");

    let p = problems(
        "POST",
        "/repos/o/r/issues",
        None,
        &json!({"body": "no title"}),
    );
    assert!(p.iter().any(|m| m.contains("title")), "{p:?}");

    let p = problems("GET", "/repos/o/r/no/such/thing", None, &Value::Null);
    assert!(p[0].contains("unknown operation"), "{p:?}");

    let p = problems("PUT", "/repos/o/r/issues/3", None, &Value::Null);
    assert!(p[0].contains("only has"), "{p:?}");

    let p = problems(
        "GET",
        "/repos/o/r/issues",
        Some("state=bogus"),
        &Value::Null,
    );
    assert!(p.iter().any(|m| m.contains("state")), "{p:?}");

    let p = problems(
        "GET",
        "/repos/o/r/issues",
        Some("per_page=lots"),
        &Value::Null,
    );
    assert!(p.iter().any(|m| m.contains("per_page")), "{p:?}");

    let p = problems("GET", "/repos/o/r/issues", Some("perpage=10"), &Value::Null);
    assert!(p.iter().any(|m| m.contains("perpage")), "{p:?}");

    let p = problems("GET", "/repos/o/r/issues/abc", None, &Value::Null);
    assert!(p.iter().any(|m| m.contains("issue_number")), "{p:?}");

    let p = problems(
        "POST",
        "/repos/o/r/actions/workflows/1/dispatches",
        None,
        &Value::Null,
    );
    assert!(
        p.iter().any(|m| m.contains("requires a JSON body")),
        "{p:?}"
    );

    // The description documents only the object form of add-labels.
    let p = problems(
        "POST",
        "/repos/o/r/issues/3/labels",
        None,
        &json!(["flaky"]),
    );
    assert!(!p.is_empty());

    let p = problems("GET", "/repos/o/r/issues/3", None, &json!({"x": 1}));
    assert!(p.iter().any(|m| m.contains("takes no body")), "{p:?}");
}

#[test]
fn responses_are_checked_too() {
    let op = spec().operation("issues/get").expect("issues/get");
    let problems = spec().check_response(op, 200, &json!({"number": "one"}));
    assert!(problems.iter().any(|p| p.contains("title")), "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("/number")),
        "{problems:?}"
    );
    let problems = spec().check_response(op, 418, &json!({}));
    assert!(
        problems[0].contains("not a documented response"),
        "{problems:?}"
    );
}

#[test]
fn multi_segment_parameters_and_most_specific_template_win() {
    let m = spec()
        .find("GET", "/repos/o/r/git/ref/heads/feature/x")
        .expect("match");
    assert_eq!(m.operation.id, "git/get-ref");
    assert_eq!(m.path_params["ref"], "heads/feature/x");

    let m = spec()
        .find("GET", "/repos/o/r/contents/.github/workflows/ci.yml")
        .expect("match");
    assert_eq!(m.path_params["path"], ".github/workflows/ci.yml");

    let m = spec()
        .find("GET", "/repos/o/r/commits/abc123/pulls")
        .expect("match");
    assert_eq!(
        m.operation.id,
        "repos/list-pull-requests-associated-with-commit"
    );

    let m = spec()
        .find("GET", "/repos/o/r/commits/feature/x")
        .expect("match");
    assert_eq!(m.operation.id, "repos/get-commit");
    assert_eq!(m.path_params["ref"], "feature/x");

    let m = spec()
        .find("DELETE", "/repos/o/r/issues/3/labels/auto%20heal")
        .expect("match");
    assert_eq!(m.path_params["name"], "auto heal");
}

#[test]
fn nullable_becomes_a_null_type() {
    assert_eq!(
        to_json_schema(&json!({"type": "string", "nullable": true})),
        json!({"type": ["string", "null"]})
    );
    assert_eq!(
        to_json_schema(&json!({"type": "string", "enum": ["a"], "nullable": true})),
        json!({"type": ["string", "null"], "enum": ["a", null]})
    );
    assert_eq!(
        to_json_schema(&json!({"$ref": "#/components/schemas/x", "nullable": true})),
        json!({"anyOf": [{"$ref": "#/components/schemas/x"}, {"type": "null"}]})
    );
    assert_eq!(
        to_json_schema(
            &json!({"allOf": [{"type": "object", "nullable": true}], "nullable": true, "example": 1})
        ),
        json!({"anyOf": [{"allOf": [{"type": ["object", "null"]}]}, {"type": "null"}]})
    );
    // A nullable component reached through `$ref` accepts null.
    let op = spec().operation("pulls/get").expect("pulls/get");
    let pr = json!({"auto_merge": null});
    let problems = spec().check_response(op, 200, &pr);
    assert!(
        !problems.iter().any(|p| p.contains("auto_merge")),
        "{problems:?}"
    );
}

// ---------------------------------------------------------------------------
// The fake over HTTP.

#[tokio::test]
async fn default_world_and_authentication() {
    let fake = FakeGithub::start().await;
    let api = Api::new(&fake);

    let repo = api.get("/repos/{repo}").await;
    assert_eq!(repo.status, 200);
    assert_eq!(repo.json()["default_branch"], "main");
    assert_eq!(repo.json()["full_name"], "octo-org/octo-repo");
    assert_eq!(repo.json()["owner"]["type"], "Organization");

    let file = api
        .get("/repos/{repo}/contents/.github/workflows/ci.yml?ref=main")
        .await;
    assert_eq!(file.status, 200);
    let encoded: String = file.json()["content"]
        .as_str()
        .expect("content")
        .split_whitespace()
        .collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    assert_eq!(String::from_utf8(decoded).expect("utf-8"), CI_WORKFLOW);
    assert_eq!(file.json()["sha"].as_str().map(str::len), Some(40));

    let dir = api.get("/repos/{repo}/contents/.github/workflows").await;
    assert_eq!(dir.json()[0]["path"], CI_WORKFLOW_PATH);

    let missing = api.get("/repos/{repo}/contents/nope.txt").await;
    assert_eq!(missing.status, 404);

    let perm = api
        .get("/repos/{repo}/collaborators/octocat/permission")
        .await;
    assert_eq!(perm.json()["permission"], "admin");
    fake.set_permission("triager", "triage");
    let perm = api
        .get("/repos/{repo}/collaborators/triager/permission")
        .await;
    assert_eq!(perm.json()["permission"], "read");
    assert_eq!(perm.json()["role_name"], "triage");

    let limit = api.get("/rate_limit").await;
    assert_eq!(limit.json()["resources"]["core"]["limit"], 5000);
    assert!(limit.header("x-ratelimit-remaining").is_some());

    // No token: 401 and a violation.
    let anonymous = api
        .http
        .send("GET", &api.url("/repos/{repo}"), None, None)
        .await;
    assert_eq!(anonymous.status, 401);
    let violations = fake.take_violations();
    assert!(
        violations
            .iter()
            .any(|v| v.contains("without an Authorization header")),
        "{violations:?}"
    );
    assert_eq!(fake.tokens(), vec![fake.token().to_owned()]);
    fake.assert_clean();
}

#[tokio::test]
async fn bad_requests_are_flagged_and_answered_like_github() {
    let fake = FakeGithub::start().await;
    let api = Api::new(&fake);

    let bad = api
        .call(
            "POST",
            "/repos/{repo}/issues",
            &json!({"title": {"no": "object"}}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(fake.issues().is_empty(), "an invalid request must not land");

    let unknown = api.get("/repos/{repo}/teleport").await;
    assert_eq!(unknown.status, 404);

    let violations = fake.take_violations();
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(violations[0].contains("POST /repos/octo-org/octo-repo/issues"));
    assert!(violations[0].contains("title"));
    assert!(violations[1].contains("unknown operation"));
    fake.assert_clean();
}

#[tokio::test]
async fn issues_comments_labels_and_events() {
    let fake = FakeGithub::start().await;
    let api = Api::new(&fake);
    fake.add_label("ci-failure", "d73a4a", Some("CI is red"));

    let created = api
        .call(
            "POST",
            "/repos/{repo}/issues",
            &json!({"title": "CI failed on main", "body": "<!-- ci-medic:issue:abc -->", "labels": ["ci-failure"]}),
        )
        .await;
    assert_eq!(created.status, 201);
    let issue = created.json();
    let n = issue["number"].as_u64().expect("number");
    assert_eq!(issue["user"]["login"], "github-actions[bot]");
    assert_eq!(issue["user"]["type"], "Bot");
    assert_eq!(issue["labels"][0]["color"], "d73a4a");
    assert!(
        issue["html_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/octo-org/octo-repo/issues/{n}")))
    );

    let comment = api
        .call(
            "POST",
            &format!("/repos/{{repo}}/issues/{n}/comments"),
            &json!({"body": "seen again"}),
        )
        .await;
    assert_eq!(comment.status, 201);
    let comment_id = comment.json()["id"].as_u64().expect("id");
    let edited = api
        .call(
            "PATCH",
            &format!("/repos/{{repo}}/issues/comments/{comment_id}"),
            &json!({"body": "seen twice"}),
        )
        .await;
    assert_eq!(edited.json()["body"], "seen twice");

    let labels = api
        .call(
            "POST",
            &format!("/repos/{{repo}}/issues/{n}/labels"),
            &json!({"labels": ["auto heal"]}),
        )
        .await;
    assert_eq!(labels.json().as_array().map(Vec::len), Some(2));
    let removed = api
        .call(
            "DELETE",
            &format!("/repos/{{repo}}/issues/{n}/labels/auto%20heal"),
            &Value::Null,
        )
        .await;
    assert_eq!(removed.status, 200);
    let gone = api
        .call(
            "DELETE",
            &format!("/repos/{{repo}}/issues/{n}/labels/auto%20heal"),
            &Value::Null,
        )
        .await;
    assert_eq!(gone.status, 404);

    let events = api.get(&format!("/repos/{{repo}}/issues/{n}/events")).await;
    let events = events.json();
    let kinds: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(kinds, ["labeled", "labeled", "unlabeled"]);
    assert_eq!(events[0]["actor"]["login"], "github-actions[bot]");
    let events = fake.issue_events(n);
    assert_eq!(
        events.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["labeled", "labeled", "unlabeled"]
    );
    assert_eq!(events[0].actor, "github-actions[bot]");

    let closed = api
        .call(
            "PATCH",
            &format!("/repos/{{repo}}/issues/{n}"),
            &json!({"state": "closed", "state_reason": "completed"}),
        )
        .await;
    assert_eq!(closed.json()["state"], "closed");

    let label = api.get("/repos/{repo}/labels/ci-failure").await;
    assert_eq!(label.json()["description"], "CI is red");
    let dup = api
        .call(
            "POST",
            "/repos/{repo}/labels",
            &json!({"name": "CI-failure", "color": "ffffff"}),
        )
        .await;
    assert_eq!(dup.status, 422);

    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].state, "closed");
    assert_eq!(issues[0].labels, ["ci-failure"]);
    let comments = fake.comments(n);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body, "seen twice");
    assert_eq!(comments[0].user, "github-actions[bot]");
    fake.assert_clean();
}

#[tokio::test]
async fn issue_lists_paginate_with_link_headers() {
    let fake = FakeGithub::start().await;
    let api = Api::new(&fake);
    for i in 1..=5 {
        fake.add_issue(IssueBuilder::new(&format!("issue {i}")).label("ci"));
    }
    fake.add_issue(IssueBuilder::new("closed one").closed());

    let first = api.get("/repos/{repo}/issues?per_page=2&labels=ci").await;
    let numbers: Vec<u64> = first
        .json()
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i["number"].as_u64())
        .collect();
    assert_eq!(numbers, [5, 4], "newest first");
    let link = first.header("link").expect("link header");
    assert!(link.contains("page=2>; rel=\"next\""), "{link}");
    assert!(link.contains("page=3>; rel=\"last\""), "{link}");
    assert!(link.contains("labels=ci"), "{link}");
    assert!(
        link.starts_with(&format!("<{}/repos/", fake.uri())),
        "{link}"
    );

    let last = api
        .get("/repos/{repo}/issues?per_page=2&labels=ci&page=3")
        .await;
    assert_eq!(last.json().as_array().map(Vec::len), Some(1));
    let link = last.header("link").expect("link header");
    assert!(link.contains("rel=\"prev\"") && link.contains("rel=\"first\""));
    assert!(!link.contains("rel=\"next\""));

    let all = api.get("/repos/{repo}/issues?state=all").await;
    assert_eq!(all.json().as_array().map(Vec::len), Some(6));
    assert!(all.header("link").is_none());
    fake.assert_clean();
}

#[tokio::test]
async fn job_logs_redirect_to_the_blob_host() {
    let fake = FakeGithub::start().await;
    let api = Api::new(&fake);
    let run = fake.add_run(
        RunBuilder::new("CI")
            .job(JobBuilder::new("build").log("all good\n"))
            .job(JobBuilder::failed("test").log("error: test failed\n")),
    );
    let old = fake.add_run(RunBuilder::new("CI").job(JobBuilder::failed("test").logs_expired()));

    let logs = api
        .get(&format!(
            "/repos/{{repo}}/actions/jobs/{}/logs",
            run.jobs[1]
        ))
        .await;
    assert_eq!(logs.status, 302);
    let location = logs.header("location").expect("location");
    assert!(
        location.starts_with(&format!("{}/_blobs/", fake.blob_uri())),
        "{location}"
    );

    // The blob host serves the bytes to a request without the token...
    let blob = api.http.send("GET", &location, None, None).await;
    assert_eq!(blob.status, 200);
    assert_eq!(blob.body, b"error: test failed\n");
    assert!(fake.violations().is_empty());

    // ...and flags a request that carries it.
    let leaked = api
        .http
        .send("GET", &location, Some(fake.token()), None)
        .await;
    assert_eq!(leaked.status, 403);
    let violations = fake.take_violations();
    assert_eq!(violations.len(), 1);
    assert!(violations[0].contains("Authorization header sent to the blob host"));

    // The run's archive holds every job's log.
    let zip = api
        .get(&format!("/repos/{{repo}}/actions/runs/{}/logs", run.id))
        .await;
    assert_eq!(zip.status, 302);
    let location = zip.header("location").expect("location");
    let archive = api.http.send("GET", &location, None, None).await;
    assert_eq!(
        archive.header("content-type").as_deref(),
        Some("application/zip")
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive.body)).expect("zip");
    let mut names: Vec<String> = zip
        .file_names()
        .map(|n| n.expect("entry name").into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["0_build.txt", "1_test.txt"]);
    let mut text = String::new();
    zip.by_name("1_test.txt")
        .expect("entry")
        .read_to_string(&mut text)
        .expect("read");
    assert_eq!(text, "error: test failed\n");

    // Expired logs answer 410.
    let expired = api
        .get(&format!(
            "/repos/{{repo}}/actions/jobs/{}/logs",
            old.jobs[0]
        ))
        .await;
    assert_eq!(expired.status, 410);
    let expired = api
        .get(&format!("/repos/{{repo}}/actions/runs/{}/logs", old.id))
        .await;
    assert_eq!(expired.status, 410);
    fake.assert_clean();
}

#[tokio::test]
async fn runs_jobs_reruns_and_dispatches() {
    let fake = FakeGithub::start().await;
    let api = Api::new(&fake);
    let green = fake.add_run(RunBuilder::new("CI").job(JobBuilder::new("build")));
    let red = fake.add_run(
        RunBuilder::new("CI")
            .job(JobBuilder::new("build"))
            .job(JobBuilder::failed("test").log("boom")),
    );

    let failed = api.get("/repos/{repo}/actions/runs?status=failure").await;
    assert_eq!(failed.json()["total_count"], 1);
    assert_eq!(failed.json()["workflow_runs"][0]["id"], red.id);
    assert_eq!(failed.json()["workflow_runs"][0]["conclusion"], "failure");
    let by_file = api
        .get("/repos/{repo}/actions/workflows/ci.yml/runs?per_page=1")
        .await;
    assert_eq!(by_file.json()["total_count"], 2);
    assert!(by_file.header("link").is_some());
    let jobs = api
        .get(&format!("/repos/{{repo}}/actions/runs/{}/jobs", red.id))
        .await;
    let jobs = jobs.json();
    assert_eq!(jobs["jobs"][1]["conclusion"], "failure");
    assert_eq!(jobs["jobs"][1]["steps"][1]["name"], "Run test");

    // Re-run the failed jobs: a second attempt with the failed job queued.
    let rerun = api
        .call(
            "POST",
            &format!("/repos/{{repo}}/actions/runs/{}/rerun-failed-jobs", red.id),
            &Value::Null,
        )
        .await;
    assert_eq!(rerun.status, 201);
    let run = api
        .get(&format!("/repos/{{repo}}/actions/runs/{}", red.id))
        .await;
    assert_eq!(run.json()["run_attempt"], 2);
    assert_eq!(run.json()["status"], "queued");
    let attempt1 = api
        .get(&format!(
            "/repos/{{repo}}/actions/runs/{}/attempts/1/jobs",
            red.id
        ))
        .await;
    assert_eq!(attempt1.json()["jobs"][1]["conclusion"], "failure");
    let jobs = fake.jobs(red.id);
    assert_eq!(jobs[0].conclusion.as_deref(), Some("success"));
    assert_eq!(jobs[1].status, "queued");
    assert_eq!(fake.reruns().len(), 1);
    assert_eq!(fake.reruns()[0].new_attempt, 2);

    // A green run has nothing to re-run.
    let nothing = api
        .call(
            "POST",
            &format!(
                "/repos/{{repo}}/actions/runs/{}/rerun-failed-jobs",
                green.id
            ),
            &Value::Null,
        )
        .await;
    assert_eq!(nothing.status, 403);

    // Dispatch by file name, with run details.
    fake.set_tag("trunk/abc", &fake.head_sha("main"));
    let dispatched = api
        .call(
            "POST",
            "/repos/{repo}/actions/workflows/ci.yml/dispatches",
            &json!({"ref": "trunk/abc", "inputs": {"reason": "restart"}, "return_run_details": true}),
        )
        .await;
    assert_eq!(dispatched.status, 200);
    let run_id = dispatched.json()["workflow_run_id"].as_u64().expect("id");
    let plain = api
        .call(
            "POST",
            "/repos/{repo}/actions/workflows/ci.yml/dispatches",
            &json!({"ref": "main"}),
        )
        .await;
    assert_eq!(plain.status, 204);
    let dispatches = fake.dispatches();
    assert_eq!(dispatches.len(), 2);
    assert_eq!(dispatches[0].git_ref, "trunk/abc");
    assert_eq!(dispatches[0].inputs["reason"], "restart");
    assert_eq!(dispatches[0].run_id, Some(run_id));
    let new_run = fake.run(run_id).expect("dispatched run");
    assert_eq!(new_run.event, "workflow_dispatch");
    assert_eq!(new_run.head_branch.as_deref(), Some("trunk/abc"));

    let unknown_ref = api
        .call(
            "POST",
            "/repos/{repo}/actions/workflows/ci.yml/dispatches",
            &json!({"ref": "no-such-branch"}),
        )
        .await;
    assert_eq!(unknown_ref.status, 422);
    fake.assert_clean();
}

#[tokio::test]
async fn faults_are_consumed_in_order() {
    let fake = FakeGithub::start().await;
    let api = Api::new(&fake);
    fake.inject(
        "POST",
        r"/issues$",
        Fault::status(429).header("retry-after", "1"),
    );
    fake.inject("POST", r"/issues$", Fault::after_apply(502));
    fake.inject(
        "GET",
        r"^/repos/[^/]+/[^/]+$",
        Fault::secondary_rate_limit(7),
    );
    fake.inject(
        "GET",
        r"^/repos/[^/]+/[^/]+$",
        Fault::rate_limit_exhausted(Duration::from_secs(30)),
    );
    let body = json!({"title": "flaky"});

    let limited = api.call("POST", "/repos/{repo}/issues", &body).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after").as_deref(), Some("1"));
    assert!(
        fake.issues().is_empty(),
        "a fault before applying changes nothing"
    );

    let landed = api.call("POST", "/repos/{repo}/issues", &body).await;
    assert_eq!(landed.status, 502);
    assert_eq!(fake.issues().len(), 1, "the write landed before the 502");

    let normal = api.call("POST", "/repos/{repo}/issues", &body).await;
    assert_eq!(normal.status, 201);
    assert_eq!(fake.issues().len(), 2);

    let secondary = api.get("/repos/{repo}").await;
    assert_eq!(secondary.status, 403);
    assert_eq!(secondary.header("retry-after").as_deref(), Some("7"));
    assert!(
        secondary.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("secondary rate limit"))
    );
    let primary = api.get("/repos/{repo}").await;
    assert_eq!(primary.status, 403);
    assert_eq!(
        primary.header("x-ratelimit-remaining").as_deref(),
        Some("0")
    );
    assert!(primary.header("x-ratelimit-reset").is_some());
    assert_eq!(api.get("/repos/{repo}").await.status, 200);

    // A delayed answer trips a client timeout, but the write still lands.
    fake.inject("POST", r"/comments$", Fault::delay(Duration::from_secs(5)));
    let n = fake.issues()[0].number;
    let slow = tokio::time::timeout(
        Duration::from_millis(200),
        api.call(
            "POST",
            &format!("/repos/{{repo}}/issues/{n}/comments"),
            &json!({"body": "hi"}),
        ),
    )
    .await;
    assert!(slow.is_err(), "the client should have timed out");
    assert_eq!(fake.comments(n).len(), 1);

    let recorded = fake.requests_to("POST", r"/issues$");
    assert_eq!(
        recorded.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 502, 201]
    );
    assert!(recorded[1].fault.is_some());
    fake.assert_clean();
}

#[tokio::test]
async fn unread_writes_and_unused_faults_are_problems() {
    let fake = FakeGithub::start().await;
    let api = Api::new(&fake);
    api.call("POST", "/repos/{repo}/issues", &json!({"title": "x"}))
        .await;
    fake.inject("GET", "/never", Fault::status(500));
    let problems = fake.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("unread write: Issue(1)")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("never triggered")),
        "{problems:?}"
    );

    // Reading the issue marks the write read; only the fault is left.
    assert_eq!(fake.issues().len(), 1);
    let problems = fake.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("never triggered"), "{problems:?}");
    fake.with_world(|w| w.faults.take("GET", "/never"));
    fake.assert_clean();
}

#[tokio::test]
async fn answers_that_break_the_description_are_fake_bugs() {
    let fake = FakeGithub::start().await;
    let api = Api::new(&fake);
    // Seeded data the description does not allow: the fake's answer is wrong,
    // and that is reported as a bug of the fake, not of the client.
    let run =
        fake.add_run(RunBuilder::new("CI").job(JobBuilder::new("build").conclusion("exploded")));
    let job = api
        .get(&format!("/repos/{{repo}}/actions/jobs/{}", run.jobs[0]))
        .await;
    assert_eq!(job.status, 200);
    assert!(fake.violations().is_empty());
    let problems = fake.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("fake GitHub bug: GET /repos/") && p.contains("/conclusion")),
        "{problems:?}"
    );
    fake.with_world(|w| w.log.fake_bugs.clear());
    fake.assert_clean();
}

#[test]
fn drop_panics_when_problems_were_left() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fake = runtime.block_on(FakeGithub::start());
    fake.inject("GET", "/never", Fault::status(500));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(fake)));
    let message = outcome.expect_err("drop must panic");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains("never triggered"), "{text}");
}

#[tokio::test]
async fn git_database_branch_commit_and_pull_request() {
    let fake = FakeGithub::start().await;
    let api = Api::new(&fake);
    let main = fake.head_sha("main");

    let base = api
        .get(&format!("/repos/{{repo}}/git/commits/{main}"))
        .await;
    let base_tree = base.json()["tree"]["sha"]
        .as_str()
        .expect("tree")
        .to_owned();
    let blob = api
        .call(
            "POST",
            "/repos/{repo}/git/blobs",
            &json!({"content": base64::engine::general_purpose::STANDARD.encode("name: CI\n# healed\n"), "encoding": "base64"}),
        )
        .await;
    assert_eq!(blob.status, 201);
    let blob_sha = blob.json()["sha"].as_str().expect("sha").to_owned();
    let tree = api
        .call(
            "POST",
            "/repos/{repo}/git/trees",
            &json!({"base_tree": base_tree, "tree": [
                {"path": CI_WORKFLOW_PATH, "mode": "100644", "type": "blob", "sha": blob_sha},
                {"path": "README.md", "mode": "100644", "type": "blob", "sha": null}
            ]}),
        )
        .await;
    assert_eq!(tree.status, 201);
    let tree_sha = tree.json()["sha"].as_str().expect("sha").to_owned();
    let commit = api
        .call(
            "POST",
            "/repos/{repo}/git/commits",
            &json!({"message": "ci: heal workflow", "tree": tree_sha, "parents": [main]}),
        )
        .await;
    assert_eq!(commit.status, 201);
    let commit_sha = commit.json()["sha"].as_str().expect("sha").to_owned();

    let created = api
        .call(
            "POST",
            "/repos/{repo}/git/refs",
            &json!({"ref": "refs/heads/ci-medic/heal/1", "sha": commit_sha}),
        )
        .await;
    assert_eq!(created.status, 201);
    let again = api
        .call(
            "POST",
            "/repos/{repo}/git/refs",
            &json!({"ref": "refs/heads/ci-medic/heal/1", "sha": commit_sha}),
        )
        .await;
    assert_eq!(again.status, 422);
    let got = api.get("/repos/{repo}/git/ref/heads/ci-medic/heal/1").await;
    assert_eq!(got.json()["object"]["sha"], commit_sha.as_str());
    let backwards = api
        .call(
            "PATCH",
            "/repos/{repo}/git/refs/heads/main",
            &json!({"sha": commit_sha}),
        )
        .await;
    assert_eq!(backwards.status, 200, "main -> child is a fast forward");
    let rewind = api
        .call(
            "PATCH",
            "/repos/{repo}/git/refs/heads/main",
            &json!({"sha": main}),
        )
        .await;
    assert_eq!(rewind.status, 422, "not a fast forward without force");
    let forced = api
        .call(
            "PATCH",
            "/repos/{repo}/git/refs/heads/main",
            &json!({"sha": main, "force": true}),
        )
        .await;
    assert_eq!(forced.status, 200);

    let file = fake.file("ci-medic/heal/1", CI_WORKFLOW_PATH);
    assert_eq!(file.as_deref(), Some("name: CI\n# healed\n"));
    assert_eq!(fake.file("ci-medic/heal/1", "README.md"), None);

    let recursive = api
        .get(&format!("/repos/{{repo}}/git/trees/{tree_sha}?recursive=1"))
        .await;
    let recursive = recursive.json();
    let paths: Vec<&str> = recursive["tree"]
        .as_array()
        .expect("tree")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(paths, [".github", ".github/workflows", CI_WORKFLOW_PATH]);

    let pr = api
        .call(
            "POST",
            "/repos/{repo}/pulls",
            &json!({"title": "Heal CI", "head": "ci-medic/heal/1", "base": "main", "body": "Fixes #1"}),
        )
        .await;
    assert_eq!(pr.status, 201);
    let pr = pr.json();
    assert_eq!(pr["head"]["ref"], "ci-medic/heal/1");
    assert_eq!(pr["commits"], 1);
    assert_eq!(pr["changed_files"], 2);
    let n = pr["number"].as_u64().expect("number");
    let duplicate = api
        .call(
            "POST",
            "/repos/{repo}/pulls",
            &json!({"title": "Heal CI", "head": "octo-org:ci-medic/heal/1", "base": "main"}),
        )
        .await;
    assert_eq!(duplicate.status, 422);
    let listed = api
        .get("/repos/{repo}/pulls?head=octo-org:ci-medic/heal/1")
        .await;
    assert_eq!(listed.json()[0]["number"], n);
    let for_commit = api
        .get(&format!("/repos/{{repo}}/commits/{commit_sha}/pulls"))
        .await;
    assert_eq!(for_commit.json()[0]["number"], n);
    let commit = api
        .get(&format!("/repos/{{repo}}/commits/{commit_sha}"))
        .await;
    assert_eq!(commit.json()["files"].as_array().map(Vec::len), Some(2));
    let history = api
        .get("/repos/{repo}/commits?sha=ci-medic/heal/1&path=README.md")
        .await;
    assert_eq!(history.json().as_array().map(Vec::len), Some(2));

    let closed = api
        .call(
            "PATCH",
            &format!("/repos/{{repo}}/pulls/{n}"),
            &json!({"state": "closed"}),
        )
        .await;
    assert_eq!(closed.json()["state"], "closed");

    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].title, "Heal CI");
    assert_eq!(pulls[0].state, "closed");
    assert_eq!(fake.head_sha("ci-medic/heal/1"), commit_sha);
    assert_eq!(fake.refs().len(), 2);
    fake.assert_clean();
}

/// Calls every operation once and checks each answer against the description
/// (the fake reports any mismatch as a problem of its own).
#[tokio::test]
async fn every_operation_answers_in_github_shapes() {
    let fake = FakeGithub::start().await;
    let api = Api::new(&fake);
    let main = fake.head_sha("main");
    let branch = fake.commit_files("feature/x", &[("src/lib.rs", "pub fn f() {}\n")], "feat: f");
    let pr = fake.add_pull(PullBuilder::new("feature/x", "Add f").label("enhancement"));
    let issue = fake.add_issue(IssueBuilder::new("Old failure").label("ci-failure"));
    let first_comment = fake.add_comment(issue, "octocat", "first");
    let review = fake.add_review(pr, "octocat", "APPROVED");
    let run = fake.add_run(
        RunBuilder::new("CI")
            .event("pull_request")
            .head_branch("feature/x")
            .pull_request(pr)
            .job(JobBuilder::failed("test").log("boom")),
    );
    let wf = fake.workflows()[0].id;
    let job = run.jobs[0];
    let tree = fake.commit(&main).expect("commit").tree;

    let gets = [
        "/rate_limit".to_owned(),
        "/repos/{repo}".to_owned(),
        "/repos/{repo}/contents/README.md".to_owned(),
        "/repos/{repo}/contents/.github".to_owned(),
        "/repos/{repo}/actions/runs".to_owned(),
        format!("/repos/{{repo}}/actions/runs/{}", run.id),
        format!("/repos/{{repo}}/actions/runs/{}/jobs?filter=all", run.id),
        format!("/repos/{{repo}}/actions/runs/{}/attempts/1/jobs", run.id),
        format!("/repos/{{repo}}/actions/runs/{}/logs", run.id),
        format!("/repos/{{repo}}/actions/jobs/{job}"),
        format!("/repos/{{repo}}/actions/jobs/{job}/logs"),
        "/repos/{repo}/actions/workflows".to_owned(),
        format!("/repos/{{repo}}/actions/workflows/{wf}/runs"),
        "/repos/{repo}/issues?state=all".to_owned(),
        format!("/repos/{{repo}}/issues/{issue}"),
        format!("/repos/{{repo}}/issues/{pr}"),
        format!("/repos/{{repo}}/issues/{issue}/comments"),
        format!("/repos/{{repo}}/issues/{issue}/events"),
        "/repos/{repo}/labels/ci-failure".to_owned(),
        "/repos/{repo}/collaborators/someone/permission".to_owned(),
        "/repos/{repo}/git/ref/heads/main".to_owned(),
        format!("/repos/{{repo}}/git/commits/{main}"),
        format!("/repos/{{repo}}/git/trees/{tree}"),
        "/repos/{repo}/commits".to_owned(),
        format!("/repos/{{repo}}/commits/{branch}"),
        format!("/repos/{{repo}}/commits/{branch}/pulls"),
        "/repos/{repo}/pulls".to_owned(),
        format!("/repos/{{repo}}/pulls/{pr}"),
        format!("/repos/{{repo}}/compare/main...{branch}?per_page=1"),
        format!("/repos/{{repo}}/commits/{branch}/check-runs?check_name=Dr.%20CI"),
        format!("/repos/{{repo}}/pulls/{pr}/files"),
        "/repos/{repo}/labels".to_owned(),
        format!("/repos/{{repo}}/commits/{branch}/check-runs?check_name=ci"),
        format!("/repos/{{repo}}/pulls/{pr}/reviews"),
    ];
    for path in &gets {
        let r = api.get(path).await;
        assert!(matches!(r.status, 200 | 302), "GET {path}: {}", r.status);
    }
    let writes = [
        (
            "POST",
            "/repos/{repo}/issues".to_owned(),
            json!({"title": "t", "labels": ["a"]}),
        ),
        (
            "PATCH",
            format!("/repos/{{repo}}/issues/{issue}"),
            json!({"title": "t2", "labels": ["b"]}),
        ),
        (
            "POST",
            format!("/repos/{{repo}}/issues/{issue}/comments"),
            json!({"body": "b"}),
        ),
        (
            "POST",
            format!("/repos/{{repo}}/issues/{issue}/labels"),
            json!({"labels": ["c"]}),
        ),
        (
            "DELETE",
            format!("/repos/{{repo}}/issues/{issue}/labels/c"),
            Value::Null,
        ),
        (
            "POST",
            "/repos/{repo}/labels".to_owned(),
            json!({"name": "d", "color": "#00ff00"}),
        ),
        (
            "POST",
            format!("/repos/{{repo}}/actions/jobs/{job}/rerun"),
            json!({"enable_debug_logging": true}),
        ),
        (
            "POST",
            "/repos/{repo}/git/blobs".to_owned(),
            json!({"content": "x"}),
        ),
        (
            "POST",
            "/repos/{repo}/git/trees".to_owned(),
            json!({"tree": [{"path": "a/b", "mode": "100644", "type": "blob", "content": "x"}]}),
        ),
        (
            "POST",
            "/repos/{repo}/git/commits".to_owned(),
            json!({"message": "m", "tree": tree, "parents": [main], "author": {"name": "A", "email": "a@example.com"}}),
        ),
        (
            "POST",
            "/repos/{repo}/git/refs".to_owned(),
            json!({"ref": "refs/heads/y", "sha": main}),
        ),
        (
            "PATCH",
            "/repos/{repo}/git/refs/heads/y".to_owned(),
            json!({"sha": branch}),
        ),
        (
            "POST",
            "/repos/{repo}/git/refs".to_owned(),
            json!({"ref": "refs/tags/t/1", "sha": main}),
        ),
        (
            "DELETE",
            "/repos/{repo}/git/refs/tags/t/1".to_owned(),
            Value::Null,
        ),
        (
            "POST",
            "/repos/{repo}/pulls".to_owned(),
            json!({"title": "y", "head": "y", "base": "main"}),
        ),
        (
            "PATCH",
            format!("/repos/{{repo}}/pulls/{pr}"),
            json!({"body": "edited"}),
        ),
        (
            "POST",
            format!("/repos/{{repo}}/issues/comments/{first_comment}/reactions"),
            json!({"content": "+1"}),
        ),
        (
            "PUT",
            format!("/repos/{{repo}}/pulls/{pr}/update-branch"),
            json!({"expected_head_sha": branch}),
        ),
        (
            "PUT",
            format!("/repos/{{repo}}/pulls/{pr}/merge"),
            json!({"sha": branch, "merge_method": "squash", "commit_title": "Add f (#1)"}),
        ),
        (
            "POST",
            format!("/repos/{{repo}}/actions/workflows/{wf}/dispatches"),
            json!({"ref": "main"}),
        ),
        (
            "POST",
            "/repos/{repo}/check-runs".to_owned(),
            json!({"name": "ci", "head_sha": branch, "status": "completed", "conclusion": "success", "output": {"title": "t", "summary": "s"}}),
        ),
    ];
    for (method, path, body) in &writes {
        let r = api.call(method, path, body).await;
        assert!(
            (200..300).contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    let comment = fake.comments(issue)[1].id;
    let r = api
        .call(
            "PATCH",
            &format!("/repos/{{repo}}/issues/comments/{comment}"),
            &json!({"body": "e"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = api
        .call(
            "DELETE",
            &format!("/repos/{{repo}}/issues/comments/{comment}"),
            &Value::Null,
        )
        .await;
    assert_eq!(r.status, 204);
    // Once the job's re-run finished, the failed jobs of the run can be re-run.
    fake.update_run(run.id, |run, jobs| {
        run.status = "completed".to_owned();
        run.conclusion = Some("failure".to_owned());
        for j in jobs {
            j.status = "completed".to_owned();
            j.conclusion = Some("failure".to_owned());
            j.logs = Logs::Available(b"boom again".to_vec());
        }
    });
    let r = api
        .call(
            "POST",
            &format!("/repos/{{repo}}/actions/runs/{}/rerun-failed-jobs", run.id),
            &Value::Null,
        )
        .await;
    assert_eq!(r.status, 201);
    let live = fake.add_run(RunBuilder::new("CI").status("in_progress"));
    let r = api
        .call(
            "POST",
            &format!("/repos/{{repo}}/actions/runs/{}/cancel", live.id),
            &Value::Null,
        )
        .await;
    assert_eq!(r.status, 202);

    let r = api
        .call(
            "POST",
            "/repos/{repo}/check-runs",
            &json!({"name": "Dr. CI", "head_sha": branch, "status": "in_progress",
                "output": {"title": "t", "summary": "s"}}),
        )
        .await;
    assert_eq!(r.status, 201);
    let check = fake.check_runs()[0].id;
    let r = api
        .call(
            "PATCH",
            &format!("/repos/{{repo}}/check-runs/{check}"),
            &json!({"conclusion": "success", "output": {"title": "t", "summary": "s2"}}),
        )
        .await;
    assert_eq!(r.status, 200);
    let done = &fake.check_runs()[0];
    assert_eq!(
        (
            done.status.as_str(),
            done.conclusion.as_deref(),
            done.summary.as_deref()
        ),
        ("completed", Some("success"), Some("s2"))
    );
    // An approval can be dismissed once; a second dismissal is refused.
    let dismiss = format!("/repos/{{repo}}/pulls/{pr}/reviews/{review}/dismissals");
    let body = json!({"message": "stale", "event": "DISMISS"});
    let r = api.call("PUT", &dismiss, &body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(fake.reviews(pr)[0].state, "DISMISSED");
    let r = api.call("PUT", &dismiss, &body).await;
    assert_eq!(r.status, 422);

    // A repository_dispatch answers 204 and is kept for the test to read.
    let r = api
        .call(
            "POST",
            "/repos/{repo}/dispatches",
            &json!({"event_type": "crcr-result", "client_payload": {"crcr": 1}}),
        )
        .await;
    assert_eq!(r.status, 204);
    let sent = fake.repository_dispatches(fake.repo_name());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].event_type, "crcr-result");
    assert_eq!(sent[0].client_payload, json!({"crcr": 1}));

    let seen: BTreeSet<String> = fake
        .requests()
        .into_iter()
        .filter_map(|r| r.operation)
        .collect();
    let all: BTreeSet<String> = spec().operations().iter().map(|o| o.id.clone()).collect();
    assert_eq!(seen, all, "every operation was exercised");

    fake.mark_all_read();
    fake.assert_clean();
}
