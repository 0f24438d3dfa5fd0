//! GitHub's REST description (trimmed, see `openapi/README.md`) as a request
//! validator.
//!
//! [`spec()`] loads `openapi/github-rest.json` once. [`Spec::check_request`] finds
//! the operation a request calls (templated path segments; `{ref}` and `{path}` may
//! span several segments, as `heads/feature/x` does) and checks the path
//! parameters, the query parameters and the JSON body against the description.
//! [`Spec::check_response`] does the same for a response body, which is how the
//! fake GitHub checks its own shapes.
//!
//! The description is OpenAPI 3.0: schemas are draft-4-like, with `nullable: true`
//! instead of null types. Each schema is rewritten into plain JSON Schema (null
//! types added, examples and extensions dropped) when the description is loaded,
//! and compiled on first use (once per test binary) with every component schema
//! embedded under the same `#/components/schemas/...` pointers, so the
//! description's own `$ref`s resolve unchanged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{LazyLock, OnceLock};

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

/// Path of the description, relative to the crate root.
pub const SPEC_PATH: &str = "openapi/github-rest.json";

/// Path parameters that may contain `/` (a git ref such as `heads/feature/x`, a
/// file path such as `.github/workflows/ci.yml`).
const MULTI_SEGMENT_PARAMS: &[&str] = &["ref", "path"];

/// Query parameters documented as `date-time` that GitHub actually parses as
/// search qualifiers (`created=>=2024-05-01`, `a..b`): their format is not
/// checked.
const SEARCH_QUALIFIER_PARAMS: &[&str] = &["created"];

static SPEC: LazyLock<Spec> = LazyLock::new(|| {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SPEC_PATH);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    Spec::from_document(&doc)
});

/// The trimmed GitHub REST description, loaded once per test binary.
pub fn spec() -> &'static Spec {
    &SPEC
}

/// A parsed OpenAPI description.
pub struct Spec {
    operations: Vec<Operation>,
    /// `{"schemas": {...}}` with every schema already rewritten to JSON Schema.
    components: Value,
}

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamIn {
    Path,
    Query,
    Header,
}

/// A schema rewritten to JSON Schema, compiled the first time it is used.
pub struct Schema {
    pub json: Value,
    compiled: OnceLock<Result<Validator, String>>,
}

impl Schema {
    fn new(json: Value) -> Schema {
        Schema {
            json,
            compiled: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.json.fmt(f)
    }
}

/// One parameter of an operation, with its schema rewritten to JSON Schema.
#[derive(Debug)]
pub struct Param {
    pub name: String,
    pub location: ParamIn,
    pub required: bool,
    pub schema: Schema,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param { name: String, multi: bool },
}

/// One operation (`METHOD template`) of the description.
pub struct Operation {
    /// GitHub's `operationId`, such as `issues/create`.
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template, such as `/repos/{owner}/{repo}/issues`.
    pub template: String,
    pub params: Vec<Param>,
    /// JSON request body: whether it is required, and its schema.
    pub body: Option<(bool, Schema)>,
    /// JSON response schema by status code (`None`: the status has no JSON body).
    pub responses: BTreeMap<String, Option<Schema>>,
    segments: Vec<Segment>,
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.template, self.id)
    }
}

/// A request matched to an operation.
#[derive(Debug)]
pub struct Matched<'a> {
    pub operation: &'a Operation,
    /// Path parameters, percent-decoded.
    pub path_params: BTreeMap<String, String>,
}

/// The outcome of checking a request: the operation (when one matched) and every
/// problem found. An empty `problems` means the request is valid.
#[derive(Debug)]
pub struct RequestCheck<'a> {
    pub matched: Option<Matched<'a>>,
    pub problems: Vec<String>,
    /// Whether the body (rather than the path or query) broke the description;
    /// GitHub answers such requests with 422 without acting on them.
    pub invalid_body: bool,
    /// The query string, decoded (empty when no operation matched).
    pub query: Vec<(String, String)>,
    /// The body as JSON; `Null` when blank, not JSON, or no operation matched.
    pub body: Value,
}

impl Spec {
    /// Builds the validator from a parsed OpenAPI 3.0 document.
    pub fn from_document(doc: &Value) -> Spec {
        let mut schemas = Map::new();
        if let Some(all) = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in all {
                schemas.insert(name.clone(), to_json_schema(schema));
            }
        }
        let components = json!({ "schemas": schemas });
        let mut operations = Vec::new();
        let paths = doc.get("paths").and_then(Value::as_object);
        for (template, item) in paths.into_iter().flatten() {
            let Some(item) = item.as_object() else {
                continue;
            };
            let shared_params = item.get("parameters");
            for (method, op) in item {
                if !is_http_method(method) {
                    continue;
                }
                operations.push(Operation::parse(doc, template, method, op, shared_params));
            }
        }
        Spec {
            operations,
            components,
        }
    }

    /// Every operation of the description.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The operation with this `operationId`.
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.id == id)
    }

    /// Finds the operation a request calls. `path` is the raw (percent-encoded) URL
    /// path. When several templates match, the one with the most literal segments
    /// wins (`commits/{sha}/pulls` over `commits/{ref}`).
    pub fn find(&self, method: &str, path: &str) -> Result<Matched<'_>, String> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut best: Option<(usize, &Operation, BTreeMap<String, String>)> = None;
        let mut methods_for_path = Vec::new();
        for op in &self.operations {
            let mut params = BTreeMap::new();
            if !match_segments(&op.segments, &segments, &mut params) {
                continue;
            }
            if !op.method.eq_ignore_ascii_case(method) {
                methods_for_path.push(format!("{} {}", op.method, op.template));
                continue;
            }
            let literals = op
                .segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count();
            if best.as_ref().is_none_or(|(n, _, _)| literals > *n) {
                best = Some((literals, op, params));
            }
        }
        match best {
            Some((_, operation, path_params)) => Ok(Matched {
                operation,
                path_params,
            }),
            None if methods_for_path.is_empty() => Err(format!(
                "unknown operation {} {path}: no path of the description matches",
                method.to_uppercase()
            )),
            None => Err(format!(
                "unknown operation {} {path}: the description only has {}",
                method.to_uppercase(),
                methods_for_path.join(", ")
            )),
        }
    }

    /// Checks a request: operation, path parameters, query parameters and body.
    /// `query` is the raw query string (without `?`).
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> RequestCheck<'_> {
        let matched = match self.find(method, path) {
            Ok(m) => m,
            Err(problem) => {
                return RequestCheck {
                    matched: None,
                    problems: vec![problem],
                    invalid_body: false,
                    query: Vec::new(),
                    body: Value::Null,
                };
            }
        };
        let op = matched.operation;
        let mut problems = Vec::new();

        for param in op.params.iter().filter(|p| p.location == ParamIn::Path) {
            match matched.path_params.get(&param.name) {
                Some(raw) => self.check_value(
                    &param.schema,
                    &coerce(raw, &param.schema.json),
                    &format!("path parameter `{}`", param.name),
                    &mut problems,
                ),
                None => problems.push(format!("path parameter `{}` is missing", param.name)),
            }
        }

        let pairs: Vec<(String, String)> = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        for (name, raw) in &pairs {
            let Some(param) = op
                .params
                .iter()
                .find(|p| p.location == ParamIn::Query && &p.name == name)
            else {
                problems.push(format!(
                    "query parameter `{name}` is not a parameter of {} {}",
                    op.method, op.template
                ));
                continue;
            };
            self.check_value(
                &param.schema,
                &coerce(raw, &param.schema.json),
                &format!("query parameter `{name}`"),
                &mut problems,
            );
        }
        for param in op
            .params
            .iter()
            .filter(|p| p.location == ParamIn::Query && p.required)
        {
            if !pairs.iter().any(|(n, _)| n == &param.name) {
                problems.push(format!(
                    "required query parameter `{}` is missing",
                    param.name
                ));
            }
        }

        let before_body = problems.len();
        // `None`: nothing but whitespace was sent.
        let parsed = (!body.iter().all(u8::is_ascii_whitespace))
            .then(|| serde_json::from_slice::<Value>(body));
        match (&op.body, &parsed) {
            (Some((true, _)), None) => problems.push(format!(
                "{} {} requires a JSON body; none was sent",
                op.method, op.template
            )),
            (Some(_), Some(Err(e))) => problems.push(format!("body is not JSON: {e}")),
            (Some((_, schema)), Some(Ok(value))) => {
                self.check_value(schema, value, "body", &mut problems);
            }
            (None, Some(sent)) => {
                let harmless = match sent {
                    Ok(Value::Null) => true,
                    Ok(Value::Object(m)) => m.is_empty(),
                    _ => false,
                };
                if !harmless {
                    problems.push(format!(
                        "{} {} takes no body, but one was sent",
                        op.method, op.template
                    ));
                }
            }
            (Some((false, _)), None) | (None, None) => {}
        }

        let invalid_body = problems.len() > before_body;
        RequestCheck {
            matched: Some(matched),
            problems,
            invalid_body,
            query: pairs,
            body: parsed.and_then(Result::ok).unwrap_or(Value::Null),
        }
    }

    /// Checks a response body against the operation's schema for `status`.
    /// A status the description does not list is a problem; a status without a
    /// JSON schema accepts anything.
    pub fn check_response(&self, op: &Operation, status: u16, body: &Value) -> Vec<String> {
        let Some(schema) = op.responses.get(&status.to_string()) else {
            return vec![format!(
                "status {status} is not a documented response of {} {}",
                op.method, op.template
            )];
        };
        let Some(schema) = schema else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        self.check_value(schema, body, "response", &mut problems);
        problems
    }

    fn check_value(&self, schema: &Schema, value: &Value, what: &str, problems: &mut Vec<String>) {
        let compiled = schema.compiled.get_or_init(|| self.compile(&schema.json));
        let validator = match compiled {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("cannot compile the schema of {what}: {e}"));
                return;
            }
        };
        for error in validator.iter_errors(value) {
            let at = error.instance_path().to_string();
            let at = if at.is_empty() {
                String::new()
            } else {
                format!(" at {at}")
            };
            problems.push(format!("{what}{at}: {error}"));
        }
    }

    /// Compiles a schema with the component schemas its `$ref`s point at.
    fn compile(&self, schema: &Value) -> Result<Validator, String> {
        let root = json!({
            "allOf": [schema],
            "components": self.components,
        });
        jsonschema::options()
            .with_draft(Draft::Draft4)
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&root)
            .map_err(|e| e.to_string())
    }
}

impl Operation {
    fn parse(
        doc: &Value,
        template: &str,
        method: &str,
        op: &Value,
        shared_params: Option<&Value>,
    ) -> Operation {
        let mut params = Vec::new();
        let declared = shared_params
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(
                op.get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
        for p in declared {
            let p = resolve(doc, p);
            let location = match p.get("in").and_then(Value::as_str) {
                Some("path") => ParamIn::Path,
                Some("query") => ParamIn::Query,
                _ => ParamIn::Header,
            };
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            params.retain(|q: &Param| !(q.name == name && q.location == location));
            let mut schema = to_json_schema(p.get("schema").unwrap_or(&json!({})));
            if location == ParamIn::Query
                && SEARCH_QUALIFIER_PARAMS.contains(&name)
                && let Some(obj) = schema.as_object_mut()
            {
                obj.remove("format");
            }
            params.push(Param {
                name: name.to_owned(),
                location,
                required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                schema: Schema::new(schema),
            });
        }

        let body = op.get("requestBody").map(|b| {
            let b = resolve(doc, b);
            let required = b.get("required").and_then(Value::as_bool).unwrap_or(false);
            let schema = b
                .pointer("/content/application~1json/schema")
                .map_or_else(|| json!({}), to_json_schema);
            (required, Schema::new(schema))
        });

        let mut responses = BTreeMap::new();
        if let Some(all) = op.get("responses").and_then(Value::as_object) {
            for (status, response) in all {
                let response = resolve(doc, response);
                let schema = response
                    .pointer("/content/application~1json/schema")
                    .map(|s| Schema::new(to_json_schema(s)));
                responses.insert(status.clone(), schema);
            }
        }

        let segments = template
            .trim_start_matches('/')
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => Segment::Param {
                        name: name.to_owned(),
                        multi: MULTI_SEGMENT_PARAMS.contains(&name),
                    },
                    None => Segment::Literal(s.to_owned()),
                },
            )
            .collect();

        Operation {
            id: op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            method: method.to_uppercase(),
            template: template.to_owned(),
            params,
            body,
            responses,
            segments,
        }
    }
}

fn is_http_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
    )
}

/// Follows a local `$ref` (`#/components/...`) to its target.
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..8 {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(target) = reference.strip_prefix('#').and_then(|p| doc.pointer(p)) else {
            break;
        };
        node = target;
    }
    node
}

fn match_segments(
    template: &[Segment],
    path: &[&str],
    params: &mut BTreeMap<String, String>,
) -> bool {
    let Some((first, rest)) = template.split_first() else {
        return path.is_empty();
    };
    match first {
        Segment::Literal(lit) => {
            path.first().is_some_and(|s| s == lit) && match_segments(rest, &path[1..], params)
        }
        Segment::Param { name, multi: false } => match path.split_first() {
            Some((value, tail)) if !value.is_empty() && match_segments(rest, tail, params) => {
                params.insert(name.clone(), percent_decode(value));
                true
            }
            _ => false,
        },
        Segment::Param { name, multi: true } => {
            // Longest first: a multi-segment parameter is always last or followed
            // by literals, so the first fit is the intended one.
            for take in (1..=path.len()).rev() {
                if path[..take].iter().any(|s| s.is_empty()) {
                    continue;
                }
                if match_segments(rest, &path[take..], params) {
                    let joined = path[..take].join("/");
                    params.insert(name.clone(), percent_decode(&joined));
                    return true;
                }
            }
            false
        }
    }
}

/// Percent-decodes a path segment (`auto%20heal` -> `auto heal`).
pub fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Turns a raw parameter string into the JSON value its schema expects, so that
/// `per_page=abc` fails as "not an integer" rather than passing as a string.
fn coerce(raw: &str, schema: &Value) -> Value {
    let ty = schema.get("type").and_then(|t| match t {
        Value::String(s) => Some(s.as_str()),
        Value::Array(all) => all.iter().filter_map(Value::as_str).find(|s| *s != "null"),
        _ => None,
    });
    match ty {
        Some("integer") => raw
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(raw.to_owned())),
        Some("number") => raw
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
            .unwrap_or_else(|| Value::String(raw.to_owned())),
        Some("boolean") => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(raw.to_owned()),
        },
        Some("array") => Value::Array(
            raw.split(',')
                .map(|item| coerce(item, schema.get("items").unwrap_or(&Value::Null)))
                .collect(),
        ),
        _ => Value::String(raw.to_owned()),
    }
}

/// Rewrites an OpenAPI 3.0 schema into JSON Schema:
/// - `nullable: true` becomes a `"null"` member of `type` (and of `enum`), or,
///   where there is no single `type` to extend (`$ref`, `allOf`, `oneOf`...), an
///   `anyOf` with `{"type": "null"}`;
/// - annotations that mean nothing to a validator (`example`, `x-*`...) go.
pub fn to_json_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "nullable" | "example" | "examples" | "discriminator" | "externalDocs" | "xml"
            | "deprecated" | "readOnly" | "writeOnly" => {}
            k if k.starts_with("x-") => {}
            "properties" | "patternProperties" => {
                let props = value
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), to_json_schema(v)))
                            .collect::<Map<_, _>>()
                    })
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(key.clone(), to_json_schema(value));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let all = value
                    .as_array()
                    .map(|a| a.iter().map(to_json_schema).collect())
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Array(all));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if map.get("nullable") != Some(&Value::Bool(true)) {
        return Value::Object(out);
    }
    let single_type = match out.get("type") {
        Some(Value::String(t)) if !out.contains_key("$ref") => Some(t.clone()),
        _ => None,
    };
    match single_type {
        Some(t) => {
            out.insert("type".into(), json!([t, "null"]));
            if let Some(Value::Array(values)) = out.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
            Value::Object(out)
        }
        None => json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
    }
}
