//! One concrete GitHub client over octocrab.
//!
//! Requests go through octocrab's transport (auth, base URI, timeouts), with
//! its retry switched off: [`Client::send`] owns the one retry policy.
//! Responses are read as plain JSON into the small structs of [`types`], so
//! only the fields we use must be present.

pub mod api;
pub mod checks;
pub mod git;
pub mod logs;
pub mod marker;
pub mod pr;
pub mod pulls;
pub mod retry;
pub mod types;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt as _;
use octocrab::Octocrab;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use retry::RetryPolicy;
use retry::Verdict;

/// The public GitHub API; GitHub Enterprise Server and tests pass their own.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// GitHub's page size maximum for list endpoints.
pub const PER_PAGE: usize = 100;

/// `owner/name` of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl RepoName {
    pub fn parse(s: &str) -> anyhow::Result<RepoName> {
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes().any(|b| b != b'.')
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        match s.trim().split_once('/') {
            Some((o, n)) if ok(o) && ok(n) => Ok(RepoName {
                owner: o.to_string(),
                name: n.to_string(),
            }),
            _ => anyhow::bail!("repository must be OWNER/NAME, got {s:?}"),
        }
    }

    pub fn full(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

impl std::fmt::Display for RepoName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// The login of the workflow token (`GITHUB_TOKEN`); `GET /user` answers
/// 403 to that token, so the name is known rather than asked for.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// The logins ci-medic writes as: the workflow token's, plus the login
/// behind an App or personal token when the action is given one (the
/// `bot-login` input). What these wrote is ci-medic's own: only there are
/// its markers and analysis blocks believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    logins: Vec<String>,
}

impl Identity {
    /// The workflow token's identity and `extra` logins (blank ones ignored).
    pub fn new(extra: impl IntoIterator<Item = String>) -> Identity {
        let mut logins = vec![ACTIONS_BOT.to_string()];
        for l in extra {
            let l = l.trim();
            if !l.is_empty() && !logins.iter().any(|x| x.eq_ignore_ascii_case(l)) {
                logins.push(l.to_string());
            }
        }
        Identity { logins }
    }

    /// Whether `login` is one ci-medic writes as (logins ignore case).
    pub fn is_ours(&self, login: &str) -> bool {
        self.logins.iter().any(|l| l.eq_ignore_ascii_case(login))
    }

    pub fn logins(&self) -> &[String] {
        &self.logins
    }
}

impl Default for Identity {
    fn default() -> Identity {
        Identity::new(None)
    }
}

/// A failed GitHub call. Callers branch on the status (404 means absent,
/// 410 expired, 403 a missing permission).
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub answered {status} to {method} {path}: {message}")]
    Status {
        status: u16,
        method: String,
        path: String,
        message: String,
    },
    #[error("{method} {path} failed: {message}")]
    Transport {
        method: String,
        path: String,
        message: String,
    },
    #[error("unexpected answer to {method} {path}: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },
    #[error(
        "{method} {path} failed with {status} and may have been applied; \
         it cannot be checked, so it is not sent again"
    )]
    Unconfirmed {
        status: u16,
        method: String,
        path: String,
    },
    #[error("GitHub rate limit: {method} {path} would have to wait {wait_secs}s; giving up")]
    RateLimited {
        method: String,
        path: String,
        wait_secs: u64,
    },
}

impl GithubError {
    /// The HTTP status, when GitHub answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GithubError::Status { status, .. } | GithubError::Unconfirmed { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// How a request may be repeated after a server failure.
pub enum Repeat<'a> {
    /// Repeating has the same effect (GET, PUT, PATCH, DELETE).
    Safe,
    /// Not idempotent, and there is no way to see whether it landed.
    Never,
    /// Not idempotent; before repeating, this looks for what the first try
    /// would have made and returns it if it landed.
    Check(&'a (dyn Fn() -> BoxedCheck<'a> + Sync)),
}

/// Largest API answer read into memory, in bytes. The largest answers
/// ci-medic reads are pages of 100 issues or comments (bodies of up to
/// 65,536 characters each) and file contents (served inline up to 1 MB,
/// base64-encoded); a larger answer is refused rather than held in memory.
/// Logs are not read this way: they stream to a file under their own cap.
pub const MAX_REPLY_BYTES: usize = 32 * 1024 * 1024;

/// The body of an answer as octocrab's transport yields it.
pub(crate) type ReplyBody = http_body_util::combinators::BoxBody<Bytes, octocrab::Error>;

/// An answer, read or left for the caller to stream.
pub(crate) enum Answer {
    Read(Reply),
    Streaming(http::Response<ReplyBody>),
}

/// A response read whole (at most [`MAX_REPLY_BYTES`]).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A landed-check's future: finds what a first try would have made.
pub type BoxedCheck<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<Value>, GithubError>> + Send + 'a>,
>;

/// The client: one repository, one token, one retry policy.
#[derive(Clone)]
pub struct Client {
    octo: Octocrab,
    repo: RepoName,
    api_url: url::Url,
    policy: RetryPolicy,
    /// Who ci-medic writes as, to tell its own writings from lookalikes.
    identity: Identity,
    /// The repository's default branch, read once per client.
    default_branch: std::sync::Arc<tokio::sync::OnceCell<String>>,
    /// Built on the first log download and shared by the rest.
    blob: std::sync::Arc<std::sync::OnceLock<logs::BlobClient>>,
}

impl Client {
    /// A client for `repo` at `api_url` with `token`. The token stays a
    /// [`SecretString`] inside the transport, which reads it only to build
    /// the `Authorization` header.
    pub fn new(
        api_url: &str,
        token: impl Into<SecretString>,
        repo: RepoName,
        policy: RetryPolicy,
    ) -> anyhow::Result<Client> {
        let parsed = url::Url::parse(api_url)
            .map_err(|e| anyhow::anyhow!("invalid API URL {api_url:?}: {e}"))?;
        // octocrab is built without its `retry` feature: no hidden re-sends.
        let octo = Octocrab::builder()
            .base_uri(api_url.trim_end_matches('/'))
            .map_err(|e| anyhow::anyhow!("invalid API URL {api_url:?}: {e}"))?
            .personal_token(token.into())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(60)))
            .set_write_timeout(Some(Duration::from_secs(60)))
            .add_header(
                http::header::ACCEPT,
                "application/vnd.github+json".to_string(),
            )
            .add_header(
                http::HeaderName::from_static("x-github-api-version"),
                "2022-11-28".to_string(),
            )
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the GitHub client: {e}"))?;
        Ok(Client {
            octo,
            repo,
            api_url: parsed,
            policy,
            identity: Identity::default(),
            default_branch: Default::default(),
            blob: Default::default(),
        })
    }

    pub fn repo(&self) -> &RepoName {
        &self.repo
    }

    /// The same client, acting as `identity` (the default is the workflow
    /// token's `github-actions[bot]` alone).
    pub fn with_identity(mut self, identity: Identity) -> Client {
        self.identity = identity;
        self
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The same client (token, policy, identity) aimed at another
    /// repository: a pull request's fork, whose branch a rebase writes.
    pub fn for_repo(&self, repo: RepoName) -> Client {
        Client {
            repo,
            default_branch: Default::default(),
            ..self.clone()
        }
    }

    /// `/repos/OWNER/NAME` + `rest`.
    pub fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.repo.owner, self.repo.name)
    }

    /// The API URL's path prefix (`/api/v3` on GitHub Enterprise Server).
    fn prefix(&self) -> &str {
        self.api_url.path().trim_end_matches('/')
    }

    /// Send one request and return the answer with its body unread.
    async fn open_once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<http::Response<ReplyBody>, GithubError> {
        let uri = format!("{}{path}", self.prefix());
        let res = match *method {
            Method::GET => self.octo._get(uri).await,
            Method::POST => self.octo._post(uri, body).await,
            Method::PATCH => self.octo._patch(uri, body).await,
            Method::PUT => self.octo._put(uri, body).await,
            Method::DELETE => self.octo._delete(uri, body).await,
            _ => {
                return Err(GithubError::Transport {
                    method: method.to_string(),
                    path: path.to_string(),
                    message: "unsupported method".into(),
                });
            }
        };
        res.map_err(|e| transport_error(method, path, e))
    }

    /// Send a request under the retry policy. A non-success final answer is
    /// returned as `Ok` so callers can read 302s and 404s; use
    /// [`Client::request`] for the usual success-or-error form. Bodies are
    /// read up to [`MAX_REPLY_BYTES`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        repeat: Repeat<'_>,
    ) -> Result<Reply, GithubError> {
        match self
            .send_inner(method.clone(), path, body, repeat, false)
            .await?
        {
            Answer::Read(reply) => Ok(reply),
            Answer::Streaming(res) => read_reply(&method, path, res).await,
        }
    }

    /// A GET under the retry policy whose successful answer is returned
    /// with its body unread, for the caller to stream (log downloads);
    /// other answers are read as [`Client::send`] reads them.
    pub(crate) async fn get_streaming(&self, path: &str) -> Result<Answer, GithubError> {
        self.send_inner(Method::GET, path, None, Repeat::Safe, true)
            .await
    }

    async fn send_inner(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        repeat: Repeat<'_>,
        stream_success: bool,
    ) -> Result<Answer, GithubError> {
        let mut retry = 0u32;
        loop {
            let outcome = match self.open_once(&method, path, body).await {
                Ok(res) if stream_success && res.status().is_success() => {
                    return Ok(Answer::Streaming(res));
                }
                Ok(res) => read_reply(&method, path, res).await,
                Err(e) => Err(e),
            };
            let verdict = match &outcome {
                Ok(reply) => self.policy.classify(
                    reply.status,
                    &reply.headers,
                    &String::from_utf8_lossy(&reply.body),
                    retry,
                    now_epoch(),
                ),
                // A timeout or a dropped connection: the request may have landed.
                Err(GithubError::Transport { .. }) => Verdict::Failed {
                    wait: self.policy.backoff(retry),
                },
                Err(_) => Verdict::Final,
            };
            let (wait, maybe_landed) = match verdict {
                Verdict::Final => return outcome.map(Answer::Read),
                Verdict::Rejected { wait } => (wait, false),
                Verdict::Failed { wait } => (wait, true),
            };
            if retry + 1 >= self.policy.max_attempts {
                return outcome.map(Answer::Read);
            }
            if wait > self.policy.max_delay {
                return Err(GithubError::RateLimited {
                    method: method.to_string(),
                    path: path.to_string(),
                    wait_secs: wait.as_secs(),
                });
            }
            if maybe_landed {
                match &repeat {
                    Repeat::Safe => {}
                    Repeat::Never => {
                        let status = outcome.as_ref().map(|r| r.status.as_u16()).unwrap_or(0);
                        return Err(GithubError::Unconfirmed {
                            status,
                            method: method.to_string(),
                            path: path.to_string(),
                        });
                    }
                    Repeat::Check(check) => {
                        tokio::time::sleep(wait).await;
                        if let Some(found) = check().await? {
                            tracing::info!(%method, path, "first attempt had landed; not repeating");
                            return Ok(Answer::Read(Reply {
                                status: StatusCode::OK,
                                headers: HeaderMap::new(),
                                body: Bytes::from(found.to_string()),
                            }));
                        }
                        retry += 1;
                        continue;
                    }
                }
            }
            tracing::warn!(%method, path, wait_ms = wait.as_millis() as u64, "retrying GitHub call");
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    /// Send and require a 2xx answer.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        repeat: Repeat<'_>,
    ) -> Result<Reply, GithubError> {
        let reply = self.send(method.clone(), path, body, repeat).await?;
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(status_error(&method, path, &reply))
        }
    }

    /// GET and decode JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, GithubError> {
        let reply = self.request(Method::GET, path, None, Repeat::Safe).await?;
        decode(&Method::GET, path, &reply.body)
    }

    /// GET, or `None` on 404.
    pub async fn get_optional<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, GithubError> {
        match self.get_json(path).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every item of a paginated list, following `Link: rel="next"`, up to
    /// `max_items`. `key` names the array in wrapped answers
    /// (`{"total_count": n, "jobs": [...]}`).
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        key: Option<&str>,
        max_items: usize,
    ) -> Result<Vec<T>, GithubError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(if path.contains("per_page=") {
            path.to_string()
        } else {
            format!("{path}{sep}per_page={PER_PAGE}")
        });
        let mut items = Vec::new();
        while let Some(page) = next.take() {
            let reply = self.request(Method::GET, &page, None, Repeat::Safe).await?;
            let value: Value = decode(&Method::GET, &page, &reply.body)?;
            let list = match key {
                Some(k) => value.get(k).cloned().unwrap_or(Value::Null),
                None => value,
            };
            let batch: Vec<T> =
                serde_path_to_error::deserialize(list).map_err(|e| GithubError::Decode {
                    method: "GET".into(),
                    path: page.clone(),
                    message: located(e),
                })?;
            let got = batch.len();
            items.extend(batch);
            if items.len() >= max_items || got == 0 {
                items.truncate(max_items);
                break;
            }
            next = next_link(&reply.headers).and_then(|u| self.relative(&u));
        }
        Ok(items)
    }

    /// A `Link` URL as a path below the API URL; `None` for other hosts, so
    /// the token is never sent elsewhere.
    fn relative(&self, link: &str) -> Option<String> {
        let u = url::Url::parse(link).ok()?;
        if u.origin() != self.api_url.origin() {
            return None;
        }
        let path = u.path().strip_prefix(self.prefix()).unwrap_or(u.path());
        Some(match u.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        })
    }

    pub(crate) fn api_url(&self) -> &url::Url {
        &self.api_url
    }

    pub(crate) fn blob_client(&self) -> &logs::BlobClient {
        self.blob.get_or_init(logs::new_blob_client)
    }

    pub(crate) fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

/// Reads an answer's body, refusing one larger than [`MAX_REPLY_BYTES`]
/// before it is all in memory.
async fn read_reply(
    method: &Method,
    path: &str,
    res: http::Response<ReplyBody>,
) -> Result<Reply, GithubError> {
    read_reply_capped(method, path, res, MAX_REPLY_BYTES).await
}

async fn read_reply_capped(
    method: &Method,
    path: &str,
    res: http::Response<ReplyBody>,
    cap: usize,
) -> Result<Reply, GithubError> {
    let too_large = || GithubError::Decode {
        method: method.to_string(),
        path: path.to_string(),
        message: format!("the answer is larger than {cap} bytes; refused"),
    };
    let (parts, mut body) = res.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| transport_error(method, path, e))?;
        if let Ok(data) = frame.into_data() {
            if data.len() > cap.saturating_sub(buf.len()) {
                return Err(too_large());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body: buf.freeze(),
    })
}

/// A transport failure. Only connection-level failures may be retried; a
/// request that cannot even be built (a bad URI) fails at once.
fn transport_error(method: &Method, path: &str, e: octocrab::Error) -> GithubError {
    match e {
        octocrab::Error::Service { .. } | octocrab::Error::Hyper { .. } => GithubError::Transport {
            method: method.to_string(),
            path: path.to_string(),
            message: transport_message(&e),
        },
        other => GithubError::Decode {
            method: method.to_string(),
            path: path.to_string(),
            message: transport_message(&other),
        },
    }
}

/// The error for a final non-success reply, with GitHub's message.
pub fn status_error(method: &Method, path: &str, reply: &Reply) -> GithubError {
    let text = reply.text();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect());
    GithubError::Status {
        status: reply.status.as_u16(),
        method: method.to_string(),
        path: path.to_string(),
        message,
    }
}

pub fn decode<T: DeserializeOwned>(
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<T, GithubError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| GithubError::Decode {
        method: method.to_string(),
        path: path.to_string(),
        message: located(e),
    })
}

/// A decoding error with the field it is about (`[2].started_at: ...`), so
/// a value GitHub sent in an unexpected shape is named, not just refused.
fn located(e: serde_path_to_error::Error<serde_json::Error>) -> String {
    let at = e.path().to_string();
    if at.is_empty() || at == "." {
        e.into_inner().to_string()
    } else {
        format!("at `{at}`: {}", e.into_inner())
    }
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(http::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == r#"rel="next""#)
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// octocrab's transport errors, without anything that could hold the token.
fn transport_message(e: &octocrab::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_timestamp_in_an_answer_is_an_error_naming_the_field() {
        let good = br#"[{"id":1,"run_id":2,"name":"build","status":"completed",
            "conclusion":"success","started_at":"2024-05-01T11:30:00Z"}]"#;
        let jobs: Vec<types::JobInfo> = decode(&Method::GET, "/jobs", good).unwrap();
        assert_eq!(
            jobs[0].started_at.map(|t| t.timestamp()),
            Some(1_714_563_000)
        );
        let bad = br#"[{"id":1,"run_id":2,"name":"build","status":"completed",
            "conclusion":"success","started_at":"yesterday"}]"#;
        let err = decode::<Vec<types::JobInfo>>(&Method::GET, "/jobs", bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("GET /jobs"), "{err}");
        assert!(err.contains("at `[0].started_at`"), "{err}");
    }

    #[test]
    fn repo_names() {
        assert!(RepoName::parse("octo-org/octo-repo").is_ok());
        assert!(RepoName::parse("octo-org").is_err());
        assert!(RepoName::parse("a/b/c").is_err());
        assert!(RepoName::parse("../x").is_err());
    }

    #[test]
    fn identity_is_the_actions_bot_and_the_given_logins() {
        let id = Identity::new(Some("ci-medic-app[bot]".to_string()));
        assert!(id.is_ours(ACTIONS_BOT));
        assert!(id.is_ours("CI-Medic-App[bot]"));
        assert!(!id.is_ours("mallory"));
        assert!(!id.is_ours(""));
        assert_eq!(Identity::new(Some("  ".to_string())), Identity::default());
        assert_eq!(Identity::default().logins(), &[ACTIONS_BOT.to_string()]);
    }

    #[test]
    fn link_header() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::LINK,
            http::HeaderValue::from_static(
                r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last""#,
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/x?page=2")
        );
    }
}
