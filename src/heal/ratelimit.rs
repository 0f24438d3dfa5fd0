//! `rate-limit`: give the step that hit unauthenticated API limits the
//! workflow's token, or, when it already has one, retry it a bounded number
//! of times with back-off (in the shell: no third-party action).

use super::edit::{self, NewValue};
use super::locate::{self, Os};
use super::pr::code;
use super::yaml::Node;
use super::{Change, Cx, Proposal, Unfixable};

/// Attempts of the retry loop, and the back-off step in seconds.
const ATTEMPTS: u32 = 3;
const BACKOFF_SECS: u32 = 60;

/// Token variables tools read.
const TOKEN_VARS: &[&str] = &["GITHUB_TOKEN", "GH_TOKEN"];
/// Inputs actions take a token by.
const TOKEN_INPUTS: &[&str] = &[
    "token",
    "github-token",
    "github_token",
    "repo-token",
    "repo_token",
];

fn has_token_env(n: &Node) -> bool {
    n.get("env")
        .and_then(Node::mapping)
        .is_some_and(|pairs| pairs.iter().any(|p| TOKEN_VARS.contains(&p.key.as_str())))
}

pub fn propose(cx: &Cx<'_>) -> Result<Proposal, Unfixable> {
    let step = cx.need_step()?;
    let with_token = step
        .node
        .get("with")
        .and_then(Node::mapping)
        .is_some_and(|p| p.iter().any(|p| TOKEN_INPUTS.contains(&p.key.as_str())));
    let token = [step.node, cx.job.node, &cx.doc.root]
        .into_iter()
        .any(has_token_env)
        || with_token;
    let why = format!(
        "the step hit a GitHub API rate limit ({})",
        code(cx.facts().text().trim())
    );
    if !token {
        let value = edit::string("${{ github.token }}")?;
        let (patch, what) = match step.node.get("env") {
            Some(env) if env.mapping().is_some() => (
                edit::insert_pair(
                    cx.doc,
                    env,
                    &edit::key(&step.path, "env"),
                    &[],
                    "GITHUB_TOKEN",
                    NewValue::Scalar(value),
                )?,
                "Added `GITHUB_TOKEN: ${{ github.token }}` to the `env` of step",
            ),
            Some(_) => {
                return Err(Unfixable::Unsupported(format!(
                    "the `env` of step {} is not a plain mapping",
                    code(&step.display)
                )));
            }
            None => (
                edit::insert_pair(
                    cx.doc,
                    step.node,
                    &step.path,
                    &[],
                    "env",
                    NewValue::Map(vec![("GITHUB_TOKEN".into(), value)]),
                )?,
                "Added `env: GITHUB_TOKEN: ${{ github.token }}` to step",
            ),
        };
        return Ok(Proposal::new(
            format!("ci: pass GITHUB_TOKEN to step {}", step.display),
            vec![Change::new(format!(
                "{what} {} of job {}: {why}. Unauthenticated calls share a limit of 60 an hour per IP address; with the workflow's token the limit is the repository's (1,000 an hour or more), and tools such as `gh` read the token from this variable.",
                code(&step.display),
                code(&cx.job.id)
            ))],
            patch,
        ));
    }
    // The token is there: retry the command with back-off.
    let Some(run_pair) = step.node.pair("run") else {
        return Err(Unfixable::NotApplicable(format!(
            "step {} already passes a token and runs an action; it cannot be retried from the workflow without a third-party action",
            code(&step.display)
        )));
    };
    let script = cx
        .string_at(&edit::key(&step.path, "run"))
        .unwrap_or_default()
        .trim()
        .to_string();
    if script.is_empty() || script.contains('\n') {
        return Err(Unfixable::NotApplicable(format!(
            "step {} already passes a token and runs a multi-line script; a retry has to be written by hand",
            code(&step.display)
        )));
    }
    let shell = step
        .node
        .get("shell")
        .and_then(Node::str)
        .unwrap_or_default();
    let posix = matches!(shell, "bash" | "sh") || shell.starts_with("bash ");
    let oses = locate::runner_os(cx.doc, cx.job.node);
    if !posix && (!shell.is_empty() || oses.iter().any(|o| matches!(o, Os::Windows | Os::Unknown)))
    {
        return Err(Unfixable::Unsupported(format!(
            "step {} may not run in a POSIX shell; a retry loop cannot be added safely",
            code(&step.display)
        )));
    }
    let lines = vec![
        format!("for attempt in $(seq 1 {ATTEMPTS}); do"),
        format!("  if {script}; then exit 0; fi"),
        format!(
            "  echo \"::warning::attempt $attempt of {ATTEMPTS} failed (API rate limit?); retrying\""
        ),
        format!("  [ \"$attempt\" -lt {ATTEMPTS} ] && sleep $((attempt * {BACKOFF_SECS}))"),
        "done".to_string(),
        "exit 1".to_string(),
    ];
    let patch = edit::replace_with_block(cx.doc, run_pair, &edit::key(&step.path, "run"), &lines)?;
    Ok(Proposal::new(
        format!("ci: retry step {} with back-off", step.display),
        vec![Change::new(format!(
            "Wrapped the command {} of step {} of job {} in a loop of at most {ATTEMPTS} attempts, waiting {BACKOFF_SECS}s, then {}s between them: {why}, and the step already has a token, so the limit is a burst that passes.",
            code(&script),
            code(&step.display),
            code(&cx.job.id),
            2 * BACKOFF_SECS
        ))],
        patch,
    ))
}
