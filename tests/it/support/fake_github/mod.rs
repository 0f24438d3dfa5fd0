//! A stateful fake GitHub for end-to-end tests.
//!
//! [`FakeGithub::start`] runs two in-process wiremock servers over one shared
//! [`World`]: the REST API and a blob host for log downloads. Every request is
//! recorded, authenticated, checked against GitHub's OpenAPI description, and
//! answered by a handler that changes the world as GitHub would (create an
//! issue and it gets the next number; re-run a job and the run gets a new
//! attempt). Tests seed the world (`seed.rs`), inject faults, and read what the
//! client wrote (`readers.rs`).
//!
//! A test fails if the client broke a rule or left a write unread: call
//! [`FakeGithub::assert_clean`], or let `Drop` do it.
//!
//! ```ignore
//! let fake = FakeGithub::start().await;
//! let run = fake.add_run(RunBuilder::new("CI").job(JobBuilder::failed("test").log("boom")));
//! // ... point the client at fake.uri() with fake.token() and run the job ...
//! assert_eq!(fake.issues().len(), 1);
//! fake.assert_clean();
//! ```

mod blobs;
mod commands;
mod faults;
mod forks;
mod git;
mod handlers;
mod model;
mod pagination;
mod readers;
mod recorder;
mod repo;
mod router;
mod seed;
mod shapes;
mod world;

use std::sync::{Arc, Mutex};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

// The test-facing API: not every test binary module uses every item.
#[allow(unused_imports)]
pub use faults::Fault;
#[allow(unused_imports)]
pub use git::{Commit, EntryKind, Signature, TreeEntry};
#[allow(unused_imports)]
pub use model::{
    CheckRun, Comment, Dispatch, Issue, IssueEvent, Job, Label, Logs, PullData, PullRequest,
    Reaction, Rerun, Review, Run, Step, User, Workflow,
};
#[allow(unused_imports)]
pub use recorder::{Host, RecordedRequest, WriteKind};
#[allow(unused_imports)]
pub use repo::Repo;
#[allow(unused_imports)]
pub use seed::{IssueBuilder, JobBuilder, PullBuilder, RunBuilder, SeededRun};
#[allow(unused_imports)]
pub use world::{ACTIONS_BOT, World};

use blobs::BlobResponder;
use router::{ApiResponder, lock};

/// Owner of the default repository.
pub const OWNER: &str = "octo-org";
/// Name of the default repository.
pub const REPO: &str = "octo-repo";
/// Its default branch.
pub const DEFAULT_BRANCH: &str = "main";
/// The workflow file of the default repository.
pub const CI_WORKFLOW_PATH: &str = ".github/workflows/ci.yml";
/// A token to hand the client (any `Bearer`/`token` is accepted).
pub const TOKEN: &str = "ghs_fakeTokenForTests000000000000000000";
/// A maintainer of the default repository (admin).
pub const MAINTAINER: &str = "octocat";

/// The workflow committed on the default branch.
pub const CI_WORKFLOW: &str = "\
name: CI
on:
  push:
    branches: [main]
  pull_request:
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: cargo build --locked
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: cargo test --locked
";

/// The fake GitHub: servers, world, and the test-facing API.
pub struct FakeGithub {
    api: MockServer,
    blobs: MockServer,
    world: Arc<Mutex<World>>,
    repo: String,
}

impl FakeGithub {
    /// Starts the fake with the default repository `octo-org/octo-repo`: branch
    /// `main` with one commit holding `.github/workflows/ci.yml` (workflow
    /// "CI") and a README, and `octocat` as admin.
    pub async fn start() -> FakeGithub {
        let api = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let blobs = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let world = Arc::new(Mutex::new(World::new(api.uri(), blobs.uri())));
        Mock::given(any())
            .respond_with(ApiResponder {
                world: Arc::clone(&world),
            })
            .mount(&api)
            .await;
        Mock::given(any())
            .respond_with(BlobResponder {
                world: Arc::clone(&world),
            })
            .mount(&blobs)
            .await;

        let fake = FakeGithub {
            api,
            blobs,
            world,
            repo: format!("{OWNER}/{REPO}"),
        };
        fake.add_repo(OWNER, REPO, DEFAULT_BRANCH);
        fake.with_world(|w| {
            w.env.users.insert(
                OWNER.to_owned(),
                User {
                    login: OWNER.to_owned(),
                    id: 9_919,
                    kind: "Organization".to_owned(),
                },
            );
        });
        fake.commit_files(
            DEFAULT_BRANCH,
            &[
                (CI_WORKFLOW_PATH, CI_WORKFLOW),
                ("README.md", "# octo-repo\n"),
            ],
            "Initial commit",
        );
        fake.add_workflow("CI", CI_WORKFLOW_PATH);
        fake.set_permission(MAINTAINER, "admin");
        fake
    }

    /// Base URL of the API (`http://127.0.0.1:<port>`), to use instead of
    /// `https://api.github.com`.
    pub fn uri(&self) -> String {
        self.api.uri()
    }

    /// Base URL of the blob host that log redirects point at.
    pub fn blob_uri(&self) -> String {
        self.blobs.uri()
    }

    /// A token to give the client.
    pub fn token(&self) -> &'static str {
        TOKEN
    }

    /// `owner/name` of the default repository.
    pub fn repo_name(&self) -> &str {
        &self.repo
    }

    /// Runs `f` with the world locked: the escape hatch for anything the
    /// seeding and reading helpers do not cover (other repositories, odd
    /// states). Writes made by the client are not marked read by this.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut lock(&self.world))
    }

    /// Queues a fault for the next request whose method matches (`"*"` for
    /// any) and whose path matches `path_regex` (matched against the URL path,
    /// e.g. `r"/issues$"`). Faults are consumed in injection order; one that
    /// never fires is reported by [`FakeGithub::assert_clean`].
    pub fn inject(&self, method: &str, path_regex: &str, fault: Fault) {
        self.with_world(|w| w.faults.push(method, path_regex, fault));
    }

    /// Stops counting unread writes as problems for this fake.
    pub fn allow_unread_writes(&self) {
        self.with_world(|w| w.log.require_reads = false);
    }

    /// Marks every write made so far as read.
    pub fn mark_all_read(&self) {
        self.with_world(|w| w.log.mark_read(|_| true));
    }

    /// Everything wrong so far: violations by the client, bugs of the fake,
    /// unread writes, faults that never fired.
    pub fn problems(&self) -> Vec<String> {
        self.with_world(|w| {
            let pending = w.faults.pending();
            w.log.problems(&pending)
        })
    }

    /// Rules the client broke (unknown operation, schema, auth, token leak).
    pub fn violations(&self) -> Vec<String> {
        self.with_world(|w| w.log.violations.clone())
    }

    /// Forgets the violations recorded so far (for tests that provoke them on
    /// purpose). Returns them.
    pub fn take_violations(&self) -> Vec<String> {
        self.with_world(|w| std::mem::take(&mut w.log.violations))
    }

    /// Panics with a list of [`FakeGithub::problems`] if there are any.
    #[track_caller]
    pub fn assert_clean(&self) {
        let problems = self.problems();
        if !problems.is_empty() {
            let mut out = format!("the fake GitHub saw {} problem(s):\n", problems.len());
            for p in &problems {
                out.push_str("  - ");
                out.push_str(p);
                out.push('\n');
            }
            panic!("{out}");
        }
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.assert_clean();
        }
    }
}
