//! The offline contract of `ci-medic bot parse`: the command a comment holds,
//! as JSON on stdout, exit 0 whatever the comment says.

use serde_json::{Value, json};

use crate::support::action::{ActionRun, Runner};
use crate::support::fake_github::FakeGithub;

/// Real-looking comments, hostile ones among them.
const COMMENTS: &[&str] = &[
    "@ci-medic merge",
    "LGTM, thanks!\n\n@ci-medic merge -r",
    "@ci-medic merge -f \"trunk is broken upstream, see #123\"",
    "@ci-medic merge -i",
    "@ci-medic merge -f urgent",
    "@ci-medic merge -f",
    "@ci-medic merge -i -f 'known flake'",
    "@ci-medic merge --rebase viable/strict",
    "@CI-Medic revert -m \"Broke test_nn on CUDA 12\" -c nosignal",
    "@ci-medic revert -m 'no classification'",
    "@ci-medic revert -m 'x y' -c because",
    "@ci-medic rebase",
    "@ci-medic rebase -b release/2.1",
    "@ci-medic cherry-pick --onto release/2.1 -c regression --fixes https://github.com/o/r/issues/9",
    "@ci-medic cherry-pick --into release/2.1",
    "@ci-medic label ciflow/trunk 'module: ci'",
    "@ci-medic label",
    "@ci-medic retest",
    "@ci-medic drci",
    "@ci-medic help",
    "@ci-medic --help",
    "@ci-medic mrege",
    "@ci-medic merge -f \"unbalanced",
    "@ci-medic thanks! 🎉",
    "> @ci-medic merge\n\nQuoting the above: why did it not merge?",
    "```\n@ci-medic merge\n```\nThe command above is an example.",
    "    @ci-medic merge",
    "cc @ci-medic merge",
    "@ci-medicbot merge",
    "<!-- ci-medic:analysis {\"k\":1} -->\n@ci-medic retest",
    "@ci-medic label \"##[error]boom\" '::stop-commands::x' '<!-- hidden -->'",
    "@ci-medic revert -m \"@maintainers please look 👀 ##[warning]\" -c weird",
    "@ci-medic label 'ünïcödé/标签' \"it's\" 'a \"quoted\" label'",
    "@ci-medic merge -f \"$(rm -rf /) \\`id\\`\"",
    "",
];

async fn runner() -> (FakeGithub, Runner) {
    let fake = FakeGithub::start().await;
    let runner = Runner::new(&fake).env("GITHUB_ACTIONS", "");
    (fake, runner)
}

async fn parse(runner: &Runner, extra: &[&str]) -> ActionRun {
    let mut args = vec!["bot", "parse", "--format", "json"];
    args.extend_from_slice(extra);
    runner.exec(&args, None).await
}

fn json_of(run: &ActionRun) -> Value {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    // Inside a runner the token's `::add-mask::` line comes first.
    let start = run.stdout.find("\n{").map_or(0, |i| i + 1);
    serde_json::from_str(&run.stdout[start..]).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[tokio::test]
async fn bot_parse_prints_the_command_of_each_comment() {
    let (_fake, runner) = runner().await;
    let mut table = Vec::new();
    for comment in COMMENTS {
        let run = parse(&runner, &["--text", comment]).await;
        table.push(json!({"comment": comment, "parsed": json_of(&run)}));
    }
    assert_json_snap!("bot_parse_table", table);
}

#[tokio::test]
async fn bot_parse_reads_a_file_and_takes_configured_handles() {
    let (_fake, runner) = runner().await;
    let file = runner.path("comment.md");
    std::fs::write(&file, "Rebasing first.\r\n@PyTorchBot merge -r main\r\n").expect("write");
    let file = file.display().to_string();

    let run = parse(&runner, &["--handle", "@pytorchbot", "--file", &file]).await;
    assert_eq!(
        json_of(&run),
        json!({"command": "merge", "force": null, "ignore_current": false, "rebase": "main"})
    );
    // The handle without its `@`, next to the default one.
    let run = parse(
        &runner,
        &[
            "--handle",
            "pytorchbot",
            "--handle",
            "@ci-medic",
            "--file",
            &file,
        ],
    )
    .await;
    assert_eq!(json_of(&run)["command"], "merge");
    // Configured handles replace the default.
    let run = parse(&runner, &["--handle", "@other", "--file", &file]).await;
    assert_eq!(json_of(&run), json!({"command": null}));
}

#[tokio::test]
async fn bot_parse_errors_are_json_and_exit_0() {
    let (_fake, runner) = runner().await;
    let run = parse(&runner, &["--text", "@ci-medic merge -f"]).await;
    assert_eq!(
        json_of(&run),
        json!({"error": "@ci-medic merge: error: argument -f/--force: expected one argument"})
    );
}

#[tokio::test]
async fn bot_parse_output_is_inert_in_a_runner() {
    let fake = FakeGithub::start().await;
    let runner = Runner::new(&fake);
    let comment = "@ci-medic label \"##[error]boom\" '::add-mask::x'";
    let run = parse(&runner, &["--text", comment]).await;
    assert!(!run.stdout.contains("##["), "{}", run.stdout);
    assert!(
        !run.stdout
            .lines()
            .filter(|l| !l.starts_with("::add-mask::ghs_"))
            .any(|l| l.trim_start().starts_with("::")),
        "{}",
        run.stdout
    );
    assert_eq!(
        json_of(&run),
        json!({"command": "label", "labels": ["##[error]boom", "::add-mask::x"]})
    );
}

#[tokio::test]
async fn bot_parse_needs_exactly_one_of_text_and_file() {
    let (_fake, runner) = runner().await;
    assert_eq!(parse(&runner, &[]).await.code, 2);
    let file = runner.path("c.md").display().to_string();
    assert_eq!(
        parse(&runner, &["--text", "x", "--file", &file]).await.code,
        2
    );
    // A file that cannot be read is an error, not "no command".
    let run = parse(&runner, &["--file", &file]).await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[tokio::test]
async fn bot_parse_runs_as_the_binary() {
    let fake = FakeGithub::start().await;
    let runner = Runner::new(&fake).env("GITHUB_ACTIONS", "").binary();
    let run = parse(&runner, &["--text", "@ci-medic retest"]).await;
    assert_eq!(json_of(&run), json!({"command": "retest"}));
}
