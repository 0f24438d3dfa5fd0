//! Seeding and reading what the comment commands touch: reviews,
//! reactions, merges, branch protection.

use super::FakeGithub;
use super::model::{Reaction, Review};
use super::recorder::WriteKind;
use super::shapes::pulls::head_sha;
use super::world::World;

impl FakeGithub {
    /// Seeds a review of pull request `number` on its current head; returns
    /// its id.
    pub fn add_review(&self, number: u64, login: &str, state: &str) -> u64 {
        let name = self.repo_name().to_owned();
        self.with_world(|w: &mut World| {
            let (env, repo, _) = w.split(&name).expect("repo");
            let pull = repo
                .pulls
                .get(&number)
                .expect("seed the pull request first");
            let commit_id = head_sha(repo, pull);
            let id = env.next_id();
            let submitted_at = env.tick();
            repo.reviews.push(Review {
                id,
                pull_number: number,
                user: login.to_owned(),
                state: state.to_owned(),
                body: String::new(),
                commit_id,
                submitted_at,
            });
            id
        })
    }

    /// The reviews of pull request `number`, oldest first (marks their
    /// dismissals as read).
    pub fn reviews(&self, number: u64) -> Vec<Review> {
        let name = self.repo_name().to_owned();
        self.with_world(|w: &mut World| {
            let reviews: Vec<Review> = w
                .repo(&name)
                .map(|r| {
                    r.reviews
                        .iter()
                        .filter(|x| x.pull_number == number)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            w.log.mark_read(
                |k| matches!(k, WriteKind::Dismissal(id) if reviews.iter().any(|r| r.id == *id)),
            );
            reviews
        })
    }

    /// Makes branch protection refuse every merge with `why` (405).
    pub fn block_merges(&self, why: &str) {
        let name = self.repo_name().to_owned();
        self.with_world(|w: &mut World| {
            if let Some((_, repo, _)) = w.split(&name) {
                repo.merge_blocked = Some(why.to_owned());
            }
        });
    }

    /// Reactions to comment `comment_id`, oldest first.
    pub fn reactions(&self, comment_id: u64) -> Vec<Reaction> {
        let name = self.repo_name().to_owned();
        self.with_world(|w: &mut World| {
            w.log.mark_read(|k| *k == WriteKind::Reaction(comment_id));
            w.repo(&name)
                .map(|r| {
                    r.reactions
                        .iter()
                        .filter(|x| x.comment_id == comment_id)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// The reaction contents on comment `comment_id`.
    pub fn reaction_contents(&self, comment_id: u64) -> Vec<String> {
        self.reactions(comment_id)
            .into_iter()
            .map(|r| r.content)
            .collect()
    }

    /// The merge commit of pull request `number`, when it was merged
    /// (marks its merge as read).
    pub fn merge_commit(&self, number: u64) -> Option<String> {
        let name = self.repo_name().to_owned();
        self.with_world(|w: &mut World| {
            w.log.mark_read(|k| *k == WriteKind::Merge(number));
            let repo = w.repo(&name)?;
            let p = repo.pulls.get(&number)?;
            if p.merged {
                p.merge_commit_sha.clone()
            } else {
                None
            }
        })
    }

    /// `GET /pulls/{number}` as it answers now: a stale read to replay
    /// later through a fault (the head a command saw before a push).
    pub fn pull_json(&self, number: u64) -> serde_json::Value {
        let name = self.repo_name().to_owned();
        self.with_world(|w: &mut World| {
            let (env, repo, _) = w.split(&name).expect("repo");
            let (i, p) = (&repo.issues[&number], &repo.pulls[&number]);
            super::shapes::pulls::pull(env, repo, i, p, true)
        })
    }
}
