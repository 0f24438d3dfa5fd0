//! Runs ci-medic the way the Actions runner does: event payload in a file,
//! inputs as `INPUT_*`, outputs and summary in files. In this process by
//! default (`ci_medic::cli::run_args` over an environment of its own), or as
//! the real binary with [`Runner::binary`].

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
    binary: bool,
}

impl Runner {
    pub fn new(fake: &FakeGithub) -> Runner {
        Runner {
            dir: tempfile::tempdir().expect("temp dir"),
            api: fake.uri(),
            token: fake.token().to_string(),
            env: Vec::new(),
            binary: false,
        }
    }

    /// Start the real binary instead of running in this process.
    pub fn binary(mut self) -> Runner {
        self.binary = true;
        self
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

    /// The environment the runner gives the action.
    fn vars(&self, event: Option<(&str, &Path)>) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("GITHUB_ACTIONS".into(), "true".into()),
            ("GITHUB_REPOSITORY".into(), format!("{OWNER}/{REPO}")),
            ("GITHUB_API_URL".into(), self.api.clone()),
            ("INPUT_TOKEN".into(), self.token.clone()),
            (
                "GITHUB_OUTPUT".into(),
                self.path("output.txt").display().to_string(),
            ),
            (
                "GITHUB_STEP_SUMMARY".into(),
                self.path("summary.md").display().to_string(),
            ),
        ];
        if let Ok(filter) = std::env::var("CI_MEDIC_LOG") {
            vars.push(("CI_MEDIC_LOG".into(), filter));
        }
        if let Some((name, path)) = event {
            vars.push(("GITHUB_EVENT_NAME".into(), name.into()));
            vars.push(("GITHUB_EVENT_PATH".into(), path.display().to_string()));
        }
        vars.extend(self.env.iter().cloned());
        vars
    }

    /// Run ci-medic with `args` in the Actions environment.
    pub async fn exec(&self, args: &[&str], event: Option<(&str, &Path)>) -> ActionRun {
        let out = self.path("output.txt");
        let summary = self.path("summary.md");
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(&summary);
        let (code, stdout, stderr) = if self.binary {
            self.exec_binary(args, event).await
        } else {
            self.exec_in_process(args, event).await
        };
        ActionRun {
            code,
            stdout,
            stderr,
            outputs: parse_outputs(&std::fs::read_to_string(&out).unwrap_or_default()),
            summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        }
    }

    async fn exec_in_process(
        &self,
        args: &[&str],
        event: Option<(&str, &Path)>,
    ) -> (i32, String, String) {
        let mut vars = self.vars(event);
        // The binary runs in the workspace; relative paths (the autorevert
        // cache) must land there in this process too.
        if !vars.iter().any(|(k, _)| k == "CI_MEDIC_AUTOREVERT_CACHE") {
            vars.push((
                "CI_MEDIC_AUTOREVERT_CACHE".into(),
                self.path(".ci-medic/autorevert-cache.json")
                    .display()
                    .to_string(),
            ));
        }
        let (env, captured) = ci_medic::runtime::Env::from_pairs(vars).capturing();
        let argv = std::iter::once("ci-medic").chain(args.iter().copied());
        let code = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            ci_medic::cli::run_args(argv, env),
        )
        .await
        .expect("ci-medic did not finish in 120 s");
        let code = (0..=255u8)
            .find(|n| std::process::ExitCode::from(*n) == code)
            .map_or(-1, i32::from);
        let c = captured.lock().expect("captured output").clone();
        (code, c.stdout, c.stderr)
    }

    async fn exec_binary(
        &self,
        args: &[&str],
        event: Option<(&str, &Path)>,
    ) -> (i32, String, String) {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_ci-medic"));
        cmd.args(args)
            .env_clear()
            .envs(self.vars(event))
            .current_dir(self.dir.path())
            .kill_on_drop(true);
        let output = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
            .await
            .expect("ci-medic did not finish in 120 s")
            .expect("ci-medic runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
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
