//! Runs the real `ci-medic` binary the way the Actions runner does: event
//! payload in a file, inputs as `INPUT_*`, outputs and summary in files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::fake_github::{FakeGithub, OWNER, REPO};

/// What one run of the action produced.
#[derive(Debug)]
pub struct ActionRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub outputs: BTreeMap<String, String>,
    pub summary: String,
}

/// A workspace for running the action: temp dir with event, output, summary files.
pub struct Runner {
    dir: tempfile::TempDir,
    api: String,
    token: String,
    env: Vec<(String, String)>,
}

impl Runner {
    pub fn new(fake: &FakeGithub) -> Runner {
        Runner {
            dir: tempfile::tempdir().expect("temp dir"),
            api: fake.uri(),
            token: fake.token().to_string(),
            env: Vec::new(),
        }
    }

    /// Set an extra environment variable (an input: `INPUT_DRY-RUN`...).
    pub fn env(mut self, k: &str, v: &str) -> Runner {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run `ci-medic run` for `event` with `payload`.
    pub async fn run_event(&self, event: &str, payload: &Value) -> ActionRun {
        let event_path = self.path("event.json");
        std::fs::write(&event_path, serde_json::to_vec(payload).expect("json")).expect("write");
        self.exec(&["run"], Some((event, &event_path))).await
    }

    /// Run the binary with `args` in the Actions environment.
    pub async fn exec(&self, args: &[&str], event: Option<(&str, &Path)>) -> ActionRun {
        let out = self.path("output.txt");
        let summary = self.path("summary.md");
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(&summary);
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_ci-medic"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}"))
            .env("GITHUB_API_URL", &self.api)
            .env("INPUT_TOKEN", &self.token)
            .env("GITHUB_OUTPUT", &out)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .current_dir(self.dir.path())
            .kill_on_drop(true);
        if let Ok(filter) = std::env::var("CI_MEDIC_LOG") {
            cmd.env("CI_MEDIC_LOG", filter);
        }
        if let Some((name, path)) = event {
            cmd.env("GITHUB_EVENT_NAME", name)
                .env("GITHUB_EVENT_PATH", path);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let output = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
            .await
            .expect("ci-medic did not finish in 120 s")
            .expect("ci-medic runs");
        ActionRun {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            outputs: parse_outputs(&std::fs::read_to_string(&out).unwrap_or_default()),
            summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        }
    }
}

/// Read `$GITHUB_OUTPUT` records (`name<<DELIM ... DELIM` and `name=value`).
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((k, v)) = line.split_once('=') {
            out.insert(k.to_string(), v.to_string());
        }
    }
    out
}

/// A real `workflow_run` payload (GitHub's example) pointed at a seeded run.
pub fn workflow_run_payload(
    run_id: u64,
    workflow: &str,
    path: &str,
    conclusion: &str,
    branch: &str,
    head_sha: &str,
) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhooks/workflow_run/01-completed.json"
    ))
    .expect("fixture");
    let mut v: Value = serde_json::from_str(&text).expect("fixture json");
    v["action"] = "completed".into();
    let r = &mut v["workflow_run"];
    r["id"] = run_id.into();
    r["name"] = workflow.into();
    r["path"] = path.into();
    r["conclusion"] = conclusion.into();
    r["status"] = "completed".into();
    r["head_branch"] = branch.into();
    r["head_sha"] = head_sha.into();
    v["repository"]["full_name"] = format!("{OWNER}/{REPO}").into();
    v
}
