//! GitHub's JSON shapes, rendered from the world model.
//!
//! Each function returns what GitHub returns for one kind of object: every field
//! the description marks required, plus the optional ones clients commonly read.
//! API URLs point at the fake (so a client can follow them); `html_url`s point at
//! github.com, as they would in production.

pub mod actions;
pub mod git;
pub mod issues;
pub mod pulls;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::repo::Repo;
use super::world::Env;

/// Web host of `html_url`s.
pub const HTML: &str = "https://github.com";

/// ISO 8601 in UTC with a `Z`, as GitHub writes timestamps.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Optional timestamp.
pub fn ts_opt(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(ts(t)))
}

/// Percent-encodes a path (keeps `/` and unreserved characters).
pub fn enc(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A GraphQL-looking node id.
pub fn node_id(prefix: &str, id: u64) -> String {
    format!("{prefix}_kwDO{id:08X}")
}

/// `https://<fake>/repos/{owner}/{repo}`.
pub fn repo_api(env: &Env, repo: &Repo) -> String {
    format!("{}/repos/{}/{}", env.api_url, repo.owner, repo.name)
}

/// `https://github.com/{owner}/{repo}`.
pub fn repo_html(repo: &Repo) -> String {
    format!("{HTML}/{}/{}", repo.owner, repo.name)
}

/// A `simple-user`.
pub fn user(env: &Env, login: &str) -> Value {
    let u = env.user(login);
    let api = format!("{}/users/{}", env.api_url, enc(&u.login));
    let html = match u.login.strip_suffix("[bot]") {
        Some(app) => format!("{HTML}/apps/{app}"),
        None => format!("{HTML}/{}", u.login),
    };
    json!({
        "login": u.login,
        "id": u.id,
        "node_id": node_id(if u.kind == "Bot" { "BOT" } else { "U" }, u.id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", u.id),
        "gravatar_id": "",
        "url": api,
        "html_url": html,
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": u.kind,
        "user_view_type": "public",
        "site_admin": false
    })
}

/// URL fields of a repository, as suffixes of its API URL.
const REPO_URLS: &[(&str, &str)] = &[
    ("archive_url", "/{archive_format}{/ref}"),
    ("assignees_url", "/assignees{/user}"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("branches_url", "/branches{/branch}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("comments_url", "/comments{/number}"),
    ("commits_url", "/commits{/sha}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("contents_url", "/contents/{+path}"),
    ("contributors_url", "/contributors"),
    ("deployments_url", "/deployments"),
    ("downloads_url", "/downloads"),
    ("events_url", "/events"),
    ("forks_url", "/forks"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("hooks_url", "/hooks"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("issue_events_url", "/issues/events{/number}"),
    ("issues_url", "/issues{/number}"),
    ("keys_url", "/keys{/key_id}"),
    ("labels_url", "/labels{/name}"),
    ("languages_url", "/languages"),
    ("merges_url", "/merges"),
    ("milestones_url", "/milestones{/number}"),
    (
        "notifications_url",
        "/notifications{?since,all,participating}",
    ),
    ("pulls_url", "/pulls{/number}"),
    ("releases_url", "/releases{/id}"),
    ("stargazers_url", "/stargazers"),
    ("statuses_url", "/statuses/{sha}"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("tags_url", "/tags"),
    ("teams_url", "/teams"),
    ("trees_url", "/git/trees{/sha}"),
];

/// A `minimal-repository` (as embedded in workflow runs).
pub fn minimal_repo(env: &Env, repo: &Repo) -> Value {
    let api = repo_api(env, repo);
    let mut v = json!({
        "id": repo.id,
        "node_id": node_id("R", repo.id),
        "name": repo.name,
        "full_name": repo.full_name(),
        "private": repo.private,
        "owner": user(env, &repo.owner),
        "html_url": repo_html(repo),
        "description": repo.description,
        "fork": false,
        "url": api,
        "visibility": if repo.private { "private" } else { "public" }
    });
    for (key, suffix) in REPO_URLS {
        v[*key] = Value::String(format!("{api}{suffix}"));
    }
    v
}

/// A `full-repository` (also a valid `repository`, as embedded in pull
/// requests).
pub fn full_repo(env: &Env, repo: &Repo) -> Value {
    let mut v = minimal_repo(env, repo);
    let pushed = ts(repo.last_push().unwrap_or(env.clock));
    let open_issues = repo.issues.values().filter(|i| i.state == "open").count();
    let extra = json!({
        "clone_url": format!("{}.git", repo_html(repo)),
        "git_url": format!("git://github.com/{}.git", repo.full_name()),
        "ssh_url": format!("git@github.com:{}.git", repo.full_name()),
        "svn_url": repo_html(repo),
        "mirror_url": null,
        "homepage": null,
        "language": "Rust",
        "default_branch": repo.default_branch,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers": 0,
        "watchers_count": 0,
        "subscribers_count": 0,
        "network_count": 0,
        "size": 1,
        "open_issues": open_issues,
        "open_issues_count": open_issues,
        "has_issues": true,
        "has_projects": true,
        "has_wiki": false,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "archived": false,
        "disabled": false,
        "is_template": false,
        "allow_forking": true,
        "web_commit_signoff_required": false,
        "topics": [],
        "license": null,
        "pushed_at": pushed,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": pushed,
        "permissions": {
            "admin": false, "maintain": false, "push": true, "triage": true, "pull": true
        }
    });
    if let (Some(base), Value::Object(extra)) = (v.as_object_mut(), extra) {
        base.extend(extra);
    }
    v
}

/// `author_association` of a login on a repository.
pub fn association(repo: &Repo, login: &str) -> &'static str {
    if login.eq_ignore_ascii_case(&repo.owner) {
        return "OWNER";
    }
    match repo.permissions.get(login).map(String::as_str) {
        Some("admin" | "maintain" | "write") => "MEMBER",
        Some("triage" | "read") => "COLLABORATOR",
        _ => "NONE",
    }
}
