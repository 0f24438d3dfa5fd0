//! The offline contract of `ci-medic crcr allowlist --check FILE`: the
//! repositories as JSON (`{"repos": [...]}`) or text, exit 0; or every error
//! with its line (`{"errors": [...]}`), exit 1.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::action::{ActionRun, Runner};
use crate::support::fake_github::FakeGithub;

/// PyTorch's published allowlist (see fixtures/crcr/README.md).
const PYTORCH: &str = include_str!("../../fixtures/crcr/pytorch-allowlist.yml");

struct Offline {
    _fake: FakeGithub,
    runner: Runner,
}

impl Offline {
    async fn new() -> Offline {
        Offline::start(false).await
    }

    async fn in_actions() -> Offline {
        Offline::start(true).await
    }

    async fn start(in_actions: bool) -> Offline {
        let fake = FakeGithub::start().await;
        let runner = match in_actions {
            true => Runner::new(&fake),
            false => Runner::new(&fake).env("GITHUB_ACTIONS", ""),
        };
        Offline {
            _fake: fake,
            runner,
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.runner.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    /// `crcr allowlist --check FILE` on `text`, then `extra`.
    async fn check(&self, text: &str, extra: &[&str]) -> ActionRun {
        let path = self.write("allowlist.yml", text);
        let mut args = vec![
            "crcr",
            "allowlist",
            "--check",
            path.to_str().expect("utf-8 path"),
        ];
        args.extend_from_slice(extra);
        self.runner.exec(&args, None).await
    }
}

/// Inside a runner the token is masked first (`::add-mask::`); the result follows.
fn result(out: &ActionRun) -> &str {
    out.stdout
        .strip_prefix("::add-mask::")
        .and_then(|r| r.split_once('\n'))
        .map_or(out.stdout.as_str(), |(_, rest)| rest)
}

fn json(out: &ActionRun) -> Value {
    serde_json::from_str(result(out)).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

#[tokio::test]
async fn pytorchs_allowlist_lists_every_repository_as_json() {
    let o = Offline::new().await;
    let out = o.check(PYTORCH, &["--format", "json"]).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v = json(&out);
    let repos = v["repos"].as_array().expect("repos");
    assert_eq!(repos.len(), 10);
    assert_eq!(repos[9]["device"], "crcr-test");
    assert_eq!(repos[0]["device"], Value::Null);
    assert_json_snap!("crcr_allowlist_pytorch_json", v);
}

#[tokio::test]
async fn every_error_comes_with_its_line_and_exit_1() {
    let o = Offline::new().await;
    let text = "\
L1:
  - ok/one
  - not-a-repo
L2:
  - OK/One
L3:
  npu:
    vendor/npu: 'alice, not a login'
L5:
  - x/y
";
    let out = o.check(text, &["--format", "json"]).await;
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let v = json(&out);
    let lines: Vec<u64> = v["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["line"].as_u64())
        .collect();
    assert_eq!(lines, [3, 5, 8, 9]);
    assert_json_snap!("crcr_allowlist_errors_json", v);
}

#[tokio::test]
async fn text_names_file_line_and_item() {
    let o = Offline::new().await;
    let out = o.check("L4:\n  - nope\n", &[]).await;
    assert_eq!(out.code, 1);
    let path = o.runner.path("allowlist.yml");
    assert_eq!(
        out.stdout,
        format!("{}:2:5: L4: `nope` is not owner/repo\n", path.display())
    );

    let out = o.check(PYTORCH, &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(&format!(
            "{}: 10 allowlisted repositories\nL1 riseproject-dev/pytorch-ci\n",
            path.display()
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with(
            "L3 pytorch/crcr-test (ciflow/crcr/crcr-test) on-call: atalman, can-gaa-hou, fffrog, jewelkm89, KarhouTam, subinz1\n"
        ),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn an_empty_file_is_an_empty_allowlist() {
    let o = Offline::new().await;
    let out = o.check("# nobody yet\n", &["--format", "json"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out), serde_json::json!({"repos": []}));
}

#[tokio::test]
async fn a_missing_file_is_an_error_not_an_empty_allowlist() {
    let o = Offline::new().await;
    let out = o
        .runner
        .exec(
            &[
                "crcr",
                "allowlist",
                "--check",
                "no-such-file.yml",
                "--format",
                "json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains("cannot read no-such-file.yml"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn hostile_items_are_inert_in_a_runner() {
    let o = Offline::in_actions().await;
    let text = "L1:\n  - \"x\\n::error::pwned\"\n  - '##[error]pwned'\n";
    let out = o.check(text, &[]).await;
    assert_eq!(out.code, 1);
    // Text output goes out between stop-commands markers.
    let body = result(&out);
    assert!(body.starts_with("::stop-commands::"), "{body}");
    assert!(!body.lines().any(|l| l.starts_with("::error::")), "{body}");
    // JSON output holds no workflow command either.
    let out = o.check(text, &["--format", "json"]).await;
    assert_eq!(out.code, 1);
    assert!(!result(&out).contains("##["), "{}", out.stdout);
    assert!(
        !result(&out)
            .lines()
            .any(|l| l.trim_start().starts_with("::"))
    );
    assert_eq!(json(&out)["errors"].as_array().map(Vec::len), Some(2));
}
