//! A small content-addressed git database: blobs, nested trees, commits, refs.
//!
//! Object ids are 40 hex digits derived from the content (SHA-256, truncated to
//! the length of a SHA-1), so equal content gives equal ids, as in git.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// File mode of a regular file.
pub const MODE_FILE: &str = "100644";
/// File mode of a directory.
pub const MODE_TREE: &str = "040000";

/// What a tree entry points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Blob,
    Tree,
    Commit,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Blob => "blob",
            EntryKind::Tree => "tree",
            EntryKind::Commit => "commit",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    pub mode: String,
    pub kind: EntryKind,
    pub sha: String,
}

/// Author or committer of a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub email: String,
    pub date: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
    pub author: Signature,
    pub committer: Signature,
}

/// How a file differs between a commit and its first parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// `added`, `removed` or `modified`.
    pub status: &'static str,
    pub sha: Option<String>,
    pub additions: usize,
    pub deletions: usize,
}

#[derive(Default, Debug)]
pub struct GitStore {
    pub blobs: HashMap<String, Vec<u8>>,
    pub trees: HashMap<String, BTreeMap<String, TreeEntry>>,
    pub commits: HashMap<String, Commit>,
    /// Full ref name (`refs/heads/main`, `refs/tags/v1`) to object id.
    pub refs: BTreeMap<String, String>,
}

fn object_id(kind: &str, content: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{kind} {}\0", content.len()).as_bytes());
    hasher.update(content);
    hasher
        .finalize()
        .iter()
        .take(20)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl GitStore {
    pub fn put_blob(&mut self, bytes: Vec<u8>) -> String {
        let sha = object_id("blob", &bytes);
        self.blobs.entry(sha.clone()).or_insert(bytes);
        sha
    }

    pub fn put_tree(&mut self, entries: BTreeMap<String, TreeEntry>) -> String {
        let mut content = Vec::new();
        for (name, e) in &entries {
            content.extend_from_slice(format!("{} {name}\0{}\n", e.mode, e.sha).as_bytes());
        }
        let sha = object_id("tree", &content);
        self.trees.entry(sha.clone()).or_insert(entries);
        sha
    }

    pub fn put_commit(
        &mut self,
        tree: String,
        parents: Vec<String>,
        message: String,
        author: Signature,
        committer: Signature,
    ) -> String {
        let content = format!(
            "tree {tree}\nparents {}\nauthor {} <{}> {}\ncommitter {} <{}> {}\n\n{message}",
            parents.join(" "),
            author.name,
            author.email,
            author.date.timestamp(),
            committer.name,
            committer.email,
            committer.date.timestamp(),
        );
        let sha = object_id("commit", content.as_bytes());
        self.commits.entry(sha.clone()).or_insert(Commit {
            sha: sha.clone(),
            tree,
            parents,
            message,
            author,
            committer,
        });
        sha
    }

    /// Every file under a tree, by full path.
    pub fn flatten(&self, tree: &str) -> BTreeMap<String, TreeEntry> {
        let mut out = BTreeMap::new();
        self.flatten_into(tree, "", &mut out);
        out
    }

    fn flatten_into(&self, tree: &str, prefix: &str, out: &mut BTreeMap<String, TreeEntry>) {
        let Some(entries) = self.trees.get(tree) else {
            return;
        };
        for (name, entry) in entries {
            let path = format!("{prefix}{name}");
            if entry.kind == EntryKind::Tree {
                self.flatten_into(&entry.sha, &format!("{path}/"), out);
            } else {
                out.insert(path, entry.clone());
            }
        }
    }

    /// Builds nested trees from files by full path; returns the root tree id.
    pub fn build_tree(&mut self, files: &BTreeMap<String, TreeEntry>) -> String {
        let mut here: BTreeMap<String, TreeEntry> = BTreeMap::new();
        let mut subdirs: BTreeMap<String, BTreeMap<String, TreeEntry>> = BTreeMap::new();
        for (path, entry) in files {
            match path.split_once('/') {
                Some((dir, rest)) => {
                    subdirs
                        .entry(dir.to_owned())
                        .or_default()
                        .insert(rest.to_owned(), entry.clone());
                }
                None => {
                    here.insert(path.clone(), entry.clone());
                }
            }
        }
        for (dir, files) in subdirs {
            let sha = self.build_tree(&files);
            here.insert(
                dir,
                TreeEntry {
                    mode: MODE_TREE.to_owned(),
                    kind: EntryKind::Tree,
                    sha,
                },
            );
        }
        self.put_tree(here)
    }

    /// Resolves a branch, tag, full ref, `heads/x` / `tags/x`, or a (prefix of a)
    /// commit id to a commit id.
    pub fn resolve(&self, rev: &str) -> Option<String> {
        let candidates = [
            rev.to_owned(),
            format!("refs/{rev}"),
            format!("refs/heads/{rev}"),
            format!("refs/tags/{rev}"),
        ];
        for name in &candidates {
            if let Some(sha) = self.refs.get(name) {
                return Some(sha.clone());
            }
        }
        if self.commits.contains_key(rev) {
            return Some(rev.to_owned());
        }
        if rev.len() >= 7 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut hits = self.commits.keys().filter(|k| k.starts_with(rev));
            if let (Some(one), None) = (hits.next(), hits.next()) {
                return Some(one.clone());
            }
        }
        None
    }

    /// The entry at `path` (a file or a directory) in a commit's tree; the root
    /// for an empty path.
    pub fn entry_at(&self, commit: &str, path: &str) -> Option<TreeEntry> {
        let commit = self.commits.get(commit)?;
        let mut entry = TreeEntry {
            mode: MODE_TREE.to_owned(),
            kind: EntryKind::Tree,
            sha: commit.tree.clone(),
        };
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if entry.kind != EntryKind::Tree {
                return None;
            }
            entry = self.trees.get(&entry.sha)?.get(part)?.clone();
        }
        Some(entry)
    }

    /// The content of a file at a commit.
    pub fn file_at(&self, commit: &str, path: &str) -> Option<&[u8]> {
        let entry = self.entry_at(commit, path)?;
        if entry.kind != EntryKind::Blob {
            return None;
        }
        self.blobs.get(&entry.sha).map(Vec::as_slice)
    }

    /// Commits reachable from `start`, newest first (committer date, then
    /// discovery order), like `git log`.
    pub fn history(&self, start: &str) -> Vec<&Commit> {
        let mut seen = HashSet::new();
        let mut stack = vec![start.to_owned()];
        let mut out = Vec::new();
        while let Some(sha) = stack.pop() {
            if !seen.insert(sha.clone()) {
                continue;
            }
            let Some(commit) = self.commits.get(&sha) else {
                continue;
            };
            out.push(commit);
            for parent in commit.parents.iter().rev() {
                stack.push(parent.clone());
            }
        }
        let order: HashMap<&str, usize> = out
            .iter()
            .enumerate()
            .map(|(i, c)| (c.sha.as_str(), i))
            .collect();
        out.sort_by(|a, b| {
            b.committer
                .date
                .cmp(&a.committer.date)
                .then(order[a.sha.as_str()].cmp(&order[b.sha.as_str()]))
        });
        out
    }

    /// Whether `ancestor` is reachable from `descendant` (or equal to it).
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        self.history(descendant).iter().any(|c| c.sha == ancestor)
    }

    /// Files changed by a commit against its first parent.
    pub fn changes(&self, commit: &str) -> Vec<FileChange> {
        let Some(c) = self.commits.get(commit) else {
            return Vec::new();
        };
        let before = c
            .parents
            .first()
            .and_then(|p| self.commits.get(p))
            .map(|p| p.tree.as_str());
        self.diff_trees(before, &c.tree)
    }

    /// Files that differ between two trees (`None`: the empty tree).
    pub fn diff_trees(&self, before: Option<&str>, after: &str) -> Vec<FileChange> {
        let after = self.flatten(after);
        let before = before.map(|t| self.flatten(t)).unwrap_or_default();
        let lines = |sha: &str| {
            self.blobs
                .get(sha)
                .map(|b| String::from_utf8_lossy(b).lines().count())
                .unwrap_or(0)
        };
        let mut out = Vec::new();
        for (path, entry) in &after {
            match before.get(path) {
                None => out.push(FileChange {
                    path: path.clone(),
                    status: "added",
                    sha: Some(entry.sha.clone()),
                    additions: lines(&entry.sha),
                    deletions: 0,
                }),
                Some(old) if old.sha != entry.sha => out.push(FileChange {
                    path: path.clone(),
                    status: "modified",
                    sha: Some(entry.sha.clone()),
                    additions: lines(&entry.sha),
                    deletions: lines(&old.sha),
                }),
                Some(_) => {}
            }
        }
        for (path, old) in &before {
            if !after.contains_key(path) {
                out.push(FileChange {
                    path: path.clone(),
                    status: "removed",
                    sha: None,
                    additions: 0,
                    deletions: lines(&old.sha),
                });
            }
        }
        out
    }
}
