//! Stale approvals (`stale-approvals:`): a pull request whose author lacks
//! write access has its approvals dismissed when it is reopened (and, with
//! `on-synchronize: true`, when it gets new commits), with one comment
//! saying why, edited in place rather than repeated.
//!
//! Needs `pull_request_target` (`reopened`, `synchronize`) with
//! `pull-requests: write`: a fork's `pull_request` token cannot dismiss.

use anyhow::{Context as _, Result};

use super::{Delivery, Handler};
use crate::app::Ctx;
use crate::automations::stale::{self, Approval, MARKER_KIND};
use crate::config::Config;
use crate::event::Event;
use crate::github::marker::marker;
use crate::plan::{Plan, StepOptions, Write};

pub struct StaleApprovals;

/// The pull request and why it is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleInput {
    pub number: u64,
    pub author: String,
    /// `reopened`, else new commits.
    pub reopened: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleFacts {
    pub input: StaleInput,
    /// The author has write access (then no review is read).
    pub author_may: bool,
    /// The approvals standing now.
    pub approvals: Vec<Approval>,
}

impl Handler for StaleApprovals {
    const NAME: &'static str = "stale-approvals";
    type Input = StaleInput;
    type Facts = StaleFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<StaleInput> {
        let c = config.stale_approvals.as_ref()?;
        let Delivery::Event {
            event: Event::PullRequest(e),
            ..
        } = delivery
        else {
            return None;
        };
        let reopened = match e.action.as_str() {
            "reopened" => true,
            "synchronize" if c.on_synchronize => false,
            _ => return None,
        };
        Some(StaleInput {
            number: e.pull_request.number,
            author: e.pull_request.user.login.clone(),
            reopened,
        })
    }

    async fn gather(ctx: &Ctx, input: StaleInput) -> Result<StaleFacts> {
        let access = ctx
            .permissions()?
            .access(&input.author)
            .await
            .with_context(|| format!("reading the access of {}", input.author))?;
        if access.can_write() {
            return Ok(StaleFacts {
                input,
                author_may: true,
                approvals: Vec::new(),
            });
        }
        let reviews = ctx
            .github()?
            .reviews(input.number)
            .await
            .with_context(|| format!("reading the reviews of #{}", input.number))?;
        let commits: Vec<(u64, Option<String>)> = reviews
            .iter()
            .map(|r| (r.id, r.commit_id.clone()))
            .collect();
        let reviews: Vec<(u64, String, String)> = reviews
            .into_iter()
            .map(|r| (r.id, r.user.map(|u| u.login).unwrap_or_default(), r.state))
            .collect();
        let mut approvals = stale::approvals(&reviews);
        if !input.reopened && !approvals.is_empty() {
            // New commits: the head as it is now, not as the (possibly late
            // or repeated) delivery saw it, tells which approvals came after.
            let head = ctx
                .github()?
                .pull(input.number)
                .await
                .with_context(|| format!("reading #{}", input.number))?
                .head_sha;
            if !head.is_empty() {
                approvals = stale::before_head(approvals, &commits, &head);
            }
        }
        Ok(StaleFacts {
            input,
            author_may: false,
            approvals,
        })
    }

    fn decide(facts: &StaleFacts, _config: &Config) -> Plan {
        let mut plan = Plan::new(Self::NAME);
        let f = &facts.input;
        if facts.author_may {
            plan.note(format!(
                "#{}: its author has write access; approvals stand",
                f.number
            ));
            return plan;
        }
        if facts.approvals.is_empty() {
            plan.note(format!("#{}: no approval to dismiss", f.number));
            return plan;
        }
        let message = stale::dismissal_message(f.reopened);
        let ids: Vec<String> = facts
            .approvals
            .iter()
            .map(|a| {
                plan.push(
                    Write::DismissReview {
                        number: f.number,
                        review_id: a.id,
                        reviewer: a.reviewer.clone(),
                        message: message.clone(),
                    },
                    "an approval given before does not hold for an outside author's pull request now",
                )
            })
            .collect();
        let key = f.number.to_string();
        plan.push_with(
            Write::Comment {
                number: f.number,
                body: format!(
                    "{}\n{}\n",
                    marker(MARKER_KIND, &key),
                    stale::comment_text(f.reopened, &facts.approvals)
                ),
                marker: Some((MARKER_KIND.into(), key)),
            },
            "say why the approvals went",
            StepOptions {
                depends_on: ids,
                ..StepOptions::default()
            },
        );
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(file: &str) -> Delivery {
        crate::handlers::tests::recorded("pull_request", file)
    }

    fn config(yaml: &str) -> Config {
        Config::parse("c.yml", yaml).expect("config")
    }

    #[test]
    fn real_payloads_concern_it_on_reopen_and_with_config_on_new_commits() {
        let on = config("stale-approvals: {}\n");
        let sync = config("stale-approvals:\n  on-synchronize: true\n");
        let reopened = delivery("18-reopened.json");
        let synchronize = delivery("22-synchronize.json");
        assert!(StaleApprovals::subscribe(&reopened, &Config::default()).is_none());
        let input = StaleApprovals::subscribe(&reopened, &on).expect("reopened");
        assert!(input.reopened);
        assert!(StaleApprovals::subscribe(&synchronize, &on).is_none());
        let input = StaleApprovals::subscribe(&synchronize, &sync).expect("synchronize");
        assert!(!input.reopened);
        assert!(StaleApprovals::subscribe(&delivery("08-labeled.json"), &sync).is_none());
    }

    fn facts(author_may: bool, approvals: &[(u64, &str)]) -> StaleFacts {
        StaleFacts {
            input: StaleInput {
                number: 9,
                author: "outsider".into(),
                reopened: true,
            },
            author_may,
            approvals: approvals
                .iter()
                .map(|(id, r)| Approval {
                    id: *id,
                    reviewer: r.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn an_outsiders_approvals_are_dismissed_with_one_marked_comment_after_them() {
        let plan = StaleApprovals::decide(
            &facts(false, &[(11, "alice"), (12, "bob")]),
            &Config::default(),
        );
        let kinds: Vec<&str> = plan.steps.iter().map(|s| s.write.kind()).collect();
        assert_eq!(kinds, ["dismiss-review", "dismiss-review", "comment"]);
        let comment = &plan.steps[2];
        assert_eq!(comment.depends_on.len(), 2);
        let Write::Comment { body, marker, .. } = &comment.write else {
            panic!("{plan:?}");
        };
        assert_eq!(marker.as_ref().map(|m| m.0.as_str()), Some(MARKER_KIND));
        assert!(body.contains("`alice`, `bob`"), "{body}");
    }

    #[test]
    fn a_writers_pull_request_and_one_without_approvals_write_nothing() {
        let plan = StaleApprovals::decide(&facts(true, &[(11, "alice")]), &Config::default());
        assert!(plan.steps.is_empty());
        let plan = StaleApprovals::decide(&facts(false, &[]), &Config::default());
        assert!(plan.steps.is_empty());
    }
}
