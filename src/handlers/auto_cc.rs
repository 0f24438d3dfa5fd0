//! Auto-cc (`labels.subscriptions-issue: N`): people subscribe to labels in
//! the body of issue N (`* label @user @org/team`); when a label is added
//! to an issue or pull request, the subscribers of all its labels (not its
//! author) are merged into one `cc @a @b` line of its body. Nothing is
//! written when everyone is cc'd already; a bad subscription line is an
//! error in the step summary that names it, and the other lines still count.
//!
//! Needs `issues` and `pull_request_target` (`labeled`) with `issues: write`
//! and `pull-requests: write`.

use anyhow::{Context as _, Result};

use super::auto_label::{Target, target};
use super::{Delivery, Handler};
use crate::app::Ctx;
use crate::automations::cc;
use crate::config::Config;
use crate::plan::{Plan, Write};
use crate::report::markdown::code;

pub struct AutoCc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcFacts {
    pub target: Target,
    /// The subscriptions issue's number and body.
    pub issue: u64,
    pub subscriptions: String,
    /// The labels and body of the target as they are now.
    pub labels: Vec<String>,
    pub body: String,
}

impl Handler for AutoCc {
    const NAME: &'static str = "auto-cc";
    type Input = Target;
    type Facts = CcFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<Target> {
        let issue = config.labels.subscriptions_issue?;
        let Delivery::Event { event, .. } = delivery else {
            return None;
        };
        // The subscriptions issue is not cc'd on its own labels.
        target(event, &["labeled"], &["labeled"]).filter(|t| t.number != issue)
    }

    async fn gather(ctx: &Ctx, t: Target) -> Result<CcFacts> {
        let issue = ctx
            .config
            .labels
            .subscriptions_issue
            .context("labels.subscriptions-issue is not set")?;
        let c = ctx.github()?;
        let subscriptions = c
            .issue(issue)
            .await
            .with_context(|| format!("reading the subscriptions issue #{issue}"))?
            .body
            .unwrap_or_default();
        // Labels and body as they are now: a repeated delivery sees its own
        // cc line and writes nothing.
        let now = c
            .issue(t.number)
            .await
            .with_context(|| format!("reading #{}", t.number))?;
        Ok(CcFacts {
            target: t,
            issue,
            subscriptions,
            labels: now.labels.into_iter().map(|l| l.name).collect(),
            body: now.body.unwrap_or_default(),
        })
    }

    fn decide(facts: &CcFacts, _config: &Config) -> Plan {
        let mut plan = Plan::new(Self::NAME);
        let n = facts.target.number;
        let (subs, errors) = cc::parse(&facts.subscriptions);
        for e in &errors {
            plan.note(format!("error: {}", e.describe(facts.issue)));
        }
        let handles = subs.for_labels(&facts.labels, &facts.target.author);
        match cc::merged_body(&facts.body, &handles) {
            Some(body) => {
                let labels: Vec<String> = facts.labels.iter().map(|l| code(l)).collect();
                plan.push(
                    Write::UpdateIssueBody { number: n, body },
                    format!(
                        "cc the subscribers of {} (subscriptions issue #{})",
                        labels.join(", "),
                        facts.issue
                    ),
                );
            }
            None => plan.note(format!("#{n}: no one new to cc")),
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(kind: &str, file: &str) -> Delivery {
        crate::handlers::tests::recorded(kind, file)
    }

    fn on() -> Config {
        Config::parse("c.yml", "labels:\n  subscriptions-issue: 100\n").expect("config")
    }

    #[test]
    fn real_labeled_payloads_of_issues_and_pull_requests_concern_it() {
        for (kind, file) in [
            ("pull_request", "08-labeled.json"),
            ("issues", "09-labeled.json"),
        ] {
            let d = delivery(kind, file);
            assert!(
                AutoCc::subscribe(&d, &Config::default()).is_none(),
                "{file}"
            );
            let t = AutoCc::subscribe(&d, &on()).expect(file);
            assert_eq!(t.is_pull, kind == "pull_request");
        }
        assert!(AutoCc::subscribe(&delivery("pull_request", "25-unlabeled.json"), &on()).is_none());
        assert!(AutoCc::subscribe(&delivery("issues", "15-opened.json"), &on()).is_none());
        // Labels on the subscriptions issue itself cc no one (it is #1 here).
        let own = Config::parse("c.yml", "labels:\n  subscriptions-issue: 1\n").expect("config");
        assert!(AutoCc::subscribe(&delivery("issues", "09-labeled.json"), &own).is_none());
    }

    fn facts(subscriptions: &str, labels: &[&str], body: &str) -> CcFacts {
        CcFacts {
            target: Target {
                number: 5,
                is_pull: true,
                draft: false,
                author: "alice".into(),
                head_sha: "abc".into(),
            },
            issue: 1,
            subscriptions: subscriptions.into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            body: body.into(),
        }
    }

    #[test]
    fn subscribers_of_every_label_but_the_author_are_cc_d_once() {
        let subs = "* module: nn @alice @bob\n* oncall: jit @carol @bob\n* other @dave\n";
        let plan = AutoCc::decide(
            &facts(subs, &["module: nn", "oncall: jit"], "Body."),
            &Config::default(),
        );
        assert_eq!(plan.steps.len(), 1);
        let Write::UpdateIssueBody { number, body } = &plan.steps[0].write else {
            panic!("{plan:?}");
        };
        assert_eq!(*number, 5);
        assert_eq!(body, "Body.\n\ncc @bob @carol");
        let again = AutoCc::decide(
            &facts(subs, &["module: nn", "oncall: jit"], body),
            &Config::default(),
        );
        assert!(again.steps.is_empty(), "{again:?}");
    }

    #[test]
    fn a_bad_line_is_a_note_naming_it_never_a_panic() {
        let plan = AutoCc::decide(
            &facts("* bug @ok\n* `bug` <b> @x!y\n", &["bug"], ""),
            &Config::default(),
        );
        assert_eq!(plan.steps.len(), 1);
        assert!(
            plan.notes
                .iter()
                .any(|n| n.starts_with("error: subscriptions issue #1, line 2:")),
            "{:?}",
            plan.notes
        );
    }
}
