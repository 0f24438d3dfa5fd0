//! Forks. GitHub keeps one object store per fork network: a commit made in
//! a fork can be read through its parent (which is how a fork's pull
//! request shows its commits in the parent) and the parent's objects
//! through the fork, while each repository keeps its own refs. The fake
//! does the same by sharing the objects of a fork and its parent around
//! every request; a fork's pull request into its parent follows the fork's
//! branch. A fork can also refuse every write (403), as it refuses a token
//! that cannot push to it (the workflow's `GITHUB_TOKEN`).

use std::collections::BTreeMap;

use super::FakeGithub;
use super::MAINTAINER;
use super::git::GitStore;
use super::recorder::WriteKind;
use super::world::World;

/// Copy into `to` every object of `from` it lacks.
fn copy_objects(from: &GitStore, to: &mut GitStore) {
    for (k, v) in &from.blobs {
        to.blobs.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, v) in &from.trees {
        to.trees.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, v) in &from.commits {
        to.commits.entry(k.clone()).or_insert_with(|| v.clone());
    }
}

impl World {
    /// `owner`'s fork of `parent` (`owner/name`, the parent's name): its
    /// branches start where the parent's are. Returns the fork's name.
    pub fn add_fork(&mut self, parent: &str, owner: &str) -> String {
        let Some(p) = self.repo(parent) else {
            panic!("the fake has no repository {parent}");
        };
        let (name, default_branch) = (p.name.clone(), p.default_branch.clone());
        let branches: BTreeMap<String, String> = p
            .git
            .refs
            .iter()
            .filter(|(r, _)| r.starts_with("refs/heads/"))
            .map(|(r, s)| (r.clone(), s.clone()))
            .collect();
        let parent_name = p.full_name();
        self.add_repo(owner, &name, &default_branch);
        let full = format!("{owner}/{name}");
        if let Some((_, fork, _)) = self.split(&full) {
            fork.fork_of = Some(parent_name);
            fork.git.refs = branches;
        }
        self.share_fork_objects();
        full
    }

    /// Share the objects of every fork and its parent, and move the head of
    /// each open pull request from a fork to the fork's branch.
    pub fn share_fork_objects(&mut self) {
        let pairs: Vec<(String, String)> = self
            .repos
            .iter()
            .filter_map(|(k, r)| r.fork_of.as_ref().map(|p| (k.clone(), p.to_lowercase())))
            .collect();
        for (fork_key, parent_key) in pairs {
            let Some(fork) = self.repos.remove(&fork_key) else {
                continue;
            };
            let mut fork = fork;
            if let Some(parent) = self.repos.get_mut(&parent_key) {
                copy_objects(&parent.git, &mut fork.git);
                copy_objects(&fork.git, &mut parent.git);
                for pull in parent.pulls.values_mut().filter(|p| {
                    !p.merged
                        && p.fork_owner
                            .as_deref()
                            .is_some_and(|o| o.eq_ignore_ascii_case(&fork.owner))
                }) {
                    if let Some(sha) = fork.git.refs.get(&format!("refs/heads/{}", pull.head_ref)) {
                        pull.head_sha = sha.clone();
                    }
                }
            }
            self.repos.insert(fork_key, fork);
        }
    }
}

impl FakeGithub {
    /// `owner`'s fork of the default repository (`owner/octo-repo`), its
    /// branches where the default repository's are. Pull requests seeded
    /// with [`super::PullBuilder::fork`] for `owner` take their head from
    /// the fork's branch.
    pub fn add_fork(&self, owner: &str) -> String {
        let parent = self.repo_name().to_owned();
        self.with_world(|w| w.add_fork(&parent, owner))
    }

    /// Commits files on a branch of repository `full_name` (a fork),
    /// creating the branch from its default branch if needed.
    pub fn commit_files_in(
        &self,
        full_name: &str,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
    ) -> String {
        self.with_world(|w| {
            let (env, repo, _) = w
                .split(full_name)
                .unwrap_or_else(|| panic!("the fake has no repository {full_name}"));
            let sha = repo.commit_files(env, branch, files, message, MAINTAINER);
            w.share_fork_objects();
            sha
        })
    }

    /// Makes repository `full_name` refuse every write with 403.
    pub fn refuse_writes(&self, full_name: &str) {
        self.with_world(|w| {
            let (_, repo, _) = w
                .split(full_name)
                .unwrap_or_else(|| panic!("the fake has no repository {full_name}"));
            repo.refuses_writes = true;
        });
    }

    /// Head commit of a branch of repository `full_name` (a fork).
    pub fn branch_in(&self, full_name: &str, branch: &str) -> Option<String> {
        let name = format!("refs/heads/{branch}");
        self.with_world(|w| {
            w.log.mark_read(|k| *k == WriteKind::Ref(name.clone()));
            w.repo(full_name)?.git.refs.get(&name).cloned()
        })
    }

    /// Every file (UTF-8, lossy) at a branch or commit of repository
    /// `full_name` (a fork), by path.
    pub fn files_in(&self, full_name: &str, git_ref: &str) -> BTreeMap<String, String> {
        let name = format!("refs/heads/{git_ref}");
        self.with_world(|w| {
            w.log.mark_read(|k| *k == WriteKind::Ref(name.clone()));
            w.repo(full_name)
                .map(|r| super::readers::files_at(r, git_ref))
                .unwrap_or_default()
        })
    }
}
