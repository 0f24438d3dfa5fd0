//! The world model behind the fake: repositories plus what every repository
//! shares (clock, ids, users, blob host, rate limit).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::faults::FaultQueue;
use super::model::User;
use super::recorder::Recorder;
use super::repo::Repo;

/// Login GitHub reports for the workflow `GITHUB_TOKEN`; every token given to
/// the fake acts as it.
pub const ACTIONS_BOT: &str = "github-actions[bot]";
/// Its account id on github.com.
pub const ACTIONS_BOT_ID: u64 = 41_898_282;

/// The core rate limit GitHub gives an installation token.
pub const CORE_LIMIT: u64 = 5000;

/// Epoch seconds (real time) of the next rate-limit window.
pub fn rate_reset() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + 3600)
        .unwrap_or_default()
}

/// Bytes waiting on the blob host.
#[derive(Clone, Debug)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// What all repositories share.
#[derive(Debug)]
pub struct Env {
    /// Base URL of the API server (no trailing slash).
    pub api_url: String,
    /// Base URL of the blob host (no trailing slash).
    pub blob_url: String,
    /// The fake's clock: moves one second per write.
    pub clock: DateTime<Utc>,
    next_id: u64,
    /// Accounts with a fixed id or kind; others get one derived from the login.
    pub users: BTreeMap<String, User>,
    /// Whether a workflow dispatch also creates a queued run.
    pub dispatch_creates_runs: bool,
    /// Blob host content by token.
    pub blobs: HashMap<String, Blob>,
    /// Core rate limit: requests made so far.
    pub rate_used: u64,
}

impl Env {
    fn new(api_url: String, blob_url: String) -> Env {
        let mut users = BTreeMap::new();
        users.insert(
            ACTIONS_BOT.to_owned(),
            User {
                login: ACTIONS_BOT.to_owned(),
                id: ACTIONS_BOT_ID,
                kind: "Bot".to_owned(),
            },
        );
        Env {
            api_url,
            blob_url,
            clock: Utc
                .with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
                .single()
                .unwrap_or_default(),
            next_id: 100_000,
            users,
            dispatch_creates_runs: true,
            blobs: HashMap::new(),
            rate_used: 0,
        }
    }

    /// A fresh id, unique across every kind of object (so a job id never equals
    /// a run id by accident).
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Advances the clock one second and returns the new time.
    pub fn tick(&mut self) -> DateTime<Utc> {
        self.clock += Duration::seconds(1);
        self.clock
    }

    /// The account for a login: registered, or one with an id derived from the
    /// login (stable across runs). Logins ending in `[bot]` are bots.
    pub fn user(&self, login: &str) -> User {
        if let Some(u) = self.users.get(login) {
            return u.clone();
        }
        let id = login.bytes().fold(1_469_598_103_u64, |h, b| {
            h.wrapping_mul(1_099_511).wrapping_add(u64::from(b))
        }) % 90_000_000
            + 1_000_000;
        let kind = if login.ends_with("[bot]") {
            "Bot"
        } else {
            "User"
        };
        User {
            login: login.to_owned(),
            id,
            kind: kind.to_owned(),
        }
    }

    /// Stores bytes on the blob host; returns the signed URL to redirect to.
    pub fn put_blob(&mut self, bytes: Vec<u8>, content_type: &str) -> String {
        let id = self.next_id();
        let token = format!("{:016x}", id.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        self.blobs.insert(
            token.clone(),
            Blob {
                bytes,
                content_type: content_type.to_owned(),
            },
        );
        let expiry = (self.clock + Duration::minutes(1)).format("%Y-%m-%dT%H%%3A%M%%3A%SZ");
        format!(
            "{}/_blobs/{token}?sv=2021-12-02&spr=https&se={expiry}&sr=b&sp=r&sig=fake{token}",
            self.blob_url
        )
    }
}

/// Everything the fake knows.
#[derive(Debug)]
pub struct World {
    pub env: Env,
    /// By `owner/name`, lower-case (GitHub matches names case-insensitively).
    pub repos: BTreeMap<String, Repo>,
    pub log: Recorder,
    pub faults: FaultQueue,
}

impl World {
    pub fn new(api_url: String, blob_url: String) -> World {
        World {
            env: Env::new(api_url, blob_url),
            repos: BTreeMap::new(),
            log: Recorder::default(),
            faults: FaultQueue::default(),
        }
    }

    /// Adds an empty repository (no commits yet).
    pub fn add_repo(&mut self, owner: &str, name: &str, default_branch: &str) {
        let id = self.env.next_id();
        self.repos.insert(
            format!("{owner}/{name}").to_lowercase(),
            Repo::new(id, owner, name, default_branch),
        );
    }

    pub fn repo(&self, full_name: &str) -> Option<&Repo> {
        self.repos.get(&full_name.to_lowercase())
    }

    /// Disjoint borrows of the shared parts and one repository.
    pub fn split(&mut self, full_name: &str) -> Option<(&mut Env, &mut Repo, &mut Recorder)> {
        let World {
            env, repos, log, ..
        } = self;
        let repo = repos.get_mut(&full_name.to_lowercase())?;
        Some((env, repo, log))
    }
}
