//! Git database objects, REST commits and repository contents.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{enc, repo_api, repo_html, ts, user};
use crate::support::fake_github::git::{Commit, EntryKind, FileChange, Signature, TreeEntry};
use crate::support::fake_github::repo::Repo;
use crate::support::fake_github::world::Env;

fn signature(s: &Signature) -> Value {
    json!({ "name": s.name, "email": s.email, "date": ts(s.date) })
}

fn unsigned() -> Value {
    json!({
        "verified": false,
        "reason": "unsigned",
        "signature": null,
        "payload": null,
        "verified_at": null
    })
}

/// A `git-ref`.
pub fn git_ref(env: &Env, repo: &Repo, name: &str, sha: &str) -> Value {
    let kind = if repo.git.commits.contains_key(sha) {
        "commit"
    } else {
        "tag"
    };
    json!({
        "ref": name,
        "node_id": format!("REF_kwDO{}", enc(name).replace(['/', '%'], "_")),
        "url": format!("{}/git/{}", repo_api(env, repo), enc(name)),
        "object": {
            "type": kind,
            "sha": sha,
            "url": format!("{}/git/commits/{sha}", repo_api(env, repo))
        }
    })
}

/// A `git-commit`.
pub fn git_commit(env: &Env, repo: &Repo, c: &Commit) -> Value {
    let api = repo_api(env, repo);
    json!({
        "sha": c.sha,
        "node_id": format!("C_kwDO{}", &c.sha[..c.sha.len().min(24)]),
        "url": format!("{api}/git/commits/{}", c.sha),
        "html_url": format!("{}/commit/{}", repo_html(repo), c.sha),
        "author": signature(&c.author),
        "committer": signature(&c.committer),
        "tree": { "sha": c.tree, "url": format!("{api}/git/trees/{}", c.tree) },
        "message": c.message,
        "parents": c.parents.iter().map(|p| json!({
            "sha": p,
            "url": format!("{api}/git/commits/{p}"),
            "html_url": format!("{}/commit/{p}", repo_html(repo))
        })).collect::<Vec<_>>(),
        "verification": unsigned()
    })
}

/// One entry of a `git-tree`.
fn tree_entry(env: &Env, repo: &Repo, path: &str, e: &TreeEntry) -> Value {
    let api = repo_api(env, repo);
    let mut v = json!({
        "path": path,
        "mode": e.mode,
        "type": e.kind.as_str(),
        "sha": e.sha,
    });
    match e.kind {
        EntryKind::Blob => {
            v["size"] = json!(repo.git.blobs.get(&e.sha).map_or(0, Vec::len));
            v["url"] = json!(format!("{api}/git/blobs/{}", e.sha));
        }
        EntryKind::Tree => v["url"] = json!(format!("{api}/git/trees/{}", e.sha)),
        EntryKind::Commit => {}
    }
    v
}

/// A `git-tree`; `recursive` lists every level (trees included), as
/// `?recursive=1` does.
pub fn git_tree(env: &Env, repo: &Repo, sha: &str, recursive: bool) -> Value {
    let mut entries = Vec::new();
    collect_tree(env, repo, sha, "", recursive, &mut entries);
    json!({
        "sha": sha,
        "url": format!("{}/git/trees/{sha}", repo_api(env, repo)),
        "tree": entries,
        "truncated": false
    })
}

fn collect_tree(
    env: &Env,
    repo: &Repo,
    sha: &str,
    prefix: &str,
    recursive: bool,
    out: &mut Vec<Value>,
) {
    let Some(tree) = repo.git.trees.get(sha) else {
        return;
    };
    for (name, e) in tree {
        let path = format!("{prefix}{name}");
        out.push(tree_entry(env, repo, &path, e));
        if recursive && e.kind == EntryKind::Tree {
            collect_tree(env, repo, &e.sha, &format!("{path}/"), true, out);
        }
    }
}

/// A `short-blob`.
pub fn short_blob(env: &Env, repo: &Repo, sha: &str) -> Value {
    json!({ "url": format!("{}/git/blobs/{sha}", repo_api(env, repo)), "sha": sha })
}

/// A `diff-entry`.
fn diff_entry(env: &Env, repo: &Repo, commit: &str, f: &FileChange) -> Value {
    json!({
        "sha": f.sha,
        "filename": f.path,
        "status": f.status,
        "additions": f.additions,
        "deletions": f.deletions,
        "changes": f.additions + f.deletions,
        "blob_url": format!("{}/blob/{commit}/{}", repo_html(repo), enc(&f.path)),
        "raw_url": format!("{}/raw/{commit}/{}", repo_html(repo), enc(&f.path)),
        "contents_url": format!("{}/contents/{}?ref={commit}", repo_api(env, repo), enc(&f.path))
    })
}

/// The account GitHub links a commit signature to: a login equal to the
/// signature's name, as the fake's own commits use.
fn linked_user(env: &Env, s: &Signature) -> Value {
    if s.name.is_empty() || s.name.contains(' ') {
        Value::Null
    } else {
        user(env, &s.name)
    }
}

/// A REST `commit`; `with_files` adds `stats` and `files` (single-commit GET).
pub fn commit(env: &Env, repo: &Repo, c: &Commit, with_files: bool) -> Value {
    let api = repo_api(env, repo);
    let mut v = json!({
        "url": format!("{api}/commits/{}", c.sha),
        "sha": c.sha,
        "node_id": format!("C_kwDO{}", &c.sha[..c.sha.len().min(24)]),
        "html_url": format!("{}/commit/{}", repo_html(repo), c.sha),
        "comments_url": format!("{api}/commits/{}/comments", c.sha),
        "commit": {
            "url": format!("{api}/git/commits/{}", c.sha),
            "author": signature(&c.author),
            "committer": signature(&c.committer),
            "message": c.message,
            "comment_count": 0,
            "tree": { "sha": c.tree, "url": format!("{api}/git/trees/{}", c.tree) },
            "verification": unsigned()
        },
        "author": linked_user(env, &c.author),
        "committer": linked_user(env, &c.committer),
        "parents": c.parents.iter().map(|p| json!({
            "sha": p,
            "url": format!("{api}/commits/{p}"),
            "html_url": format!("{}/commit/{p}", repo_html(repo))
        })).collect::<Vec<_>>()
    });
    if with_files {
        let files = repo.git.changes(&c.sha);
        let additions: usize = files.iter().map(|f| f.additions).sum();
        let deletions: usize = files.iter().map(|f| f.deletions).sum();
        v["stats"] = json!({
            "additions": additions,
            "deletions": deletions,
            "total": additions + deletions
        });
        v["files"] = files
            .iter()
            .map(|f| diff_entry(env, repo, &c.sha, f))
            .collect::<Vec<_>>()
            .into();
    }
    v
}

/// Base64 in lines of 60 characters, as the contents API sends it.
fn wrapped_base64(bytes: &[u8]) -> String {
    let flat = STANDARD.encode(bytes);
    let mut out = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for (i, ch) in flat.chars().enumerate() {
        if i > 0 && i % 60 == 0 {
            out.push('\n');
        }
        out.push(ch);
    }
    out.push('\n');
    out
}

fn content_links(env: &Env, repo: &Repo, path: &str, git_ref: &str, e: &TreeEntry) -> Value {
    let api = repo_api(env, repo);
    let is_dir = e.kind == EntryKind::Tree;
    let self_url = format!("{api}/contents/{}?ref={}", enc(path), enc(git_ref));
    let git_url = if is_dir {
        format!("{api}/git/trees/{}", e.sha)
    } else {
        format!("{api}/git/blobs/{}", e.sha)
    };
    let html_url = format!(
        "{}/{}/{}/{}",
        repo_html(repo),
        if is_dir { "tree" } else { "blob" },
        enc(git_ref),
        enc(path)
    );
    let download_url = (!is_dir).then(|| {
        format!(
            "https://raw.githubusercontent.com/{}/{}/{}",
            repo.full_name(),
            enc(git_ref),
            enc(path)
        )
    });
    let name = path.rsplit('/').next().unwrap_or(path);
    let size = repo.git.blobs.get(&e.sha).map_or(0, Vec::len);
    json!({
        "type": if is_dir { "dir" } else { "file" },
        "size": if is_dir { 0 } else { size },
        "name": name,
        "path": path,
        "sha": e.sha,
        "url": self_url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": download_url,
        "_links": { "self": self_url, "git": git_url, "html": html_url }
    })
}

/// A `content-file` with its base64 content.
pub fn content_file(env: &Env, repo: &Repo, path: &str, git_ref: &str, e: &TreeEntry) -> Value {
    let mut v = content_links(env, repo, path, git_ref, e);
    let bytes = repo.git.blobs.get(&e.sha).cloned().unwrap_or_default();
    v["encoding"] = json!("base64");
    v["content"] = json!(wrapped_base64(&bytes));
    v
}

/// A `content-directory`: the entries of a directory.
pub fn content_dir(env: &Env, repo: &Repo, path: &str, git_ref: &str, tree: &str) -> Value {
    let entries = repo.git.trees.get(tree).into_iter().flatten();
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    };
    entries
        .map(|(name, e)| content_links(env, repo, &format!("{prefix}{name}"), git_ref, e))
        .collect::<Vec<_>>()
        .into()
}
