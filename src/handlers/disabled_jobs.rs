//! Disabled and unstable jobs (`disabled-jobs:`): an issue titled
//! `DISABLED <job>` or `UNSTABLE <job>` is validated when opened, edited or
//! reopened. By someone with write access (or by ci-medic itself) it gets
//! one sticky comment saying which jobs of recent runs it matches, or what
//! is wrong with the title, and the `disabled-jobs.label` label while it is
//! valid; by anyone else it is closed with a comment saying why.
//!
//! The open, labelled issues are read by retry, the failure issue and
//! autorevert through [`open_markings`]: one request per event.
//!
//! Needs `issues` events with `issues: write` (and `actions: read` for the
//! recent runs).

use std::collections::BTreeSet;

use anyhow::{Context as _, Result};

use super::{Delivery, Handler};
use crate::app::Ctx;
use crate::automations::disabled::{
    self, MARKER_KIND, MAX_MARKINGS, MAX_RECENT_RUNS, Marking, Parsed, SeenJob, TitleError,
};
use crate::config::Config;
use crate::event::Event;
use crate::github::Client;
use crate::github::api::encode_segment;
use crate::github::marker::has_marker;
use crate::github::types::{IssueInfo, RunInfo};
use crate::plan::{Plan, Write};

/// Issue actions after which the title is validated.
const ACTIONS: &[&str] = &["opened", "edited", "reopened"];

/// The colour of the label ci-medic creates when the repository lacks it.
const LABEL_COLOR: &str = "fbca04";

pub struct DisabledJobs;

/// The issue as it is now, and what was found about it.
#[derive(Debug, Clone, PartialEq)]
pub struct DisabledFacts {
    pub number: u64,
    pub title: String,
    pub author: String,
    pub open: bool,
    pub labels: Vec<String>,
    /// The author has write access, or is ci-medic.
    pub allowed: bool,
    /// `None`: the title (as it is now) is not a marking title.
    pub parsed: Option<Result<Parsed, TitleError>>,
    /// Jobs of the latest run of each recent workflow (read only for a
    /// valid issue by a writer).
    pub seen: Vec<SeenJob>,
    /// How many workflows `seen` covers.
    pub workflows: usize,
    /// Our validation comment (id and body), read only when the title no
    /// longer parses: it is corrected, never created.
    pub comment: Option<(u64, String)>,
}

impl Handler for DisabledJobs {
    const NAME: &'static str = "disabled-jobs";
    type Input = u64;
    type Facts = DisabledFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<u64> {
        disabled::enabled(config)?;
        let Delivery::Event {
            event: Event::Issues(e),
            ..
        } = delivery
        else {
            return None;
        };
        if !ACTIONS.contains(&e.action.as_str()) || e.issue.pull_request.is_some() {
            return None;
        }
        // An edit concerns it only when it changed the title (`changes.title`
        // is in the payload then), whatever the issue was before: never
        // labelled, labelled, or edited away and back. A body edit, or a
        // payload without `changes`, costs nothing.
        let was = if e.action == "edited" {
            let from = e.changes.as_ref()?.title.as_ref()?.from.as_deref()?;
            disabled::parse_title(from).is_some()
        } else {
            false
        };
        // Other titles cost nothing, unless the issue carries the label or
        // was a marking title before this edit: the label and the
        // validation comment must say it marks no job any more.
        let section = disabled::enabled(config)?;
        let label = section.label.trim();
        let labelled = !label.is_empty() && e.issue.labels.iter().any(|l| l.name == label);
        (disabled::parse_title(&e.issue.title).is_some() || labelled || was)
            .then_some(e.issue.number)
    }

    async fn gather(ctx: &Ctx, number: u64) -> Result<DisabledFacts> {
        let section = disabled::enabled(&ctx.config).context("disabled-jobs is off")?;
        let c = ctx.github()?;
        let issue = c
            .issue(number)
            .await
            .with_context(|| format!("reading #{number}"))?;
        let author = issue.user.login.clone();
        let parsed = disabled::parse_title(&issue.title);
        let open = issue.state != "closed";
        let allowed = if !open || parsed.is_none() {
            false
        } else if c.identity().is_ours(&author) {
            true
        } else {
            ctx.permissions()?
                .access(&author)
                .await
                .with_context(|| format!("reading the access of {author}"))?
                .can_write()
        };
        let comment = if open && parsed.is_none() {
            let key = number.to_string();
            c.comments(number)
                .await
                .with_context(|| format!("reading the comments of #{number}"))?
                .into_iter()
                .find_map(|cm| {
                    let body = cm.body?;
                    (c.identity().is_ours(&cm.user.login) && has_marker(&body, MARKER_KIND, &key))
                        .then_some((cm.id, body))
                })
        } else {
            None
        };
        let (seen, workflows) = if allowed && matches!(parsed, Some(Ok(_))) {
            recent_jobs(c, section.recent_workflows).await?
        } else {
            (Vec::new(), 0)
        };
        Ok(DisabledFacts {
            number,
            title: issue.title,
            author,
            open,
            labels: issue.labels.into_iter().map(|l| l.name).collect(),
            allowed,
            parsed,
            seen,
            workflows,
            comment,
        })
    }

    fn decide(facts: &DisabledFacts, config: &Config) -> Plan {
        let mut plan = Plan::new(Self::NAME);
        let n = facts.number;
        let Some(section) = disabled::enabled(config) else {
            return plan;
        };
        let label = section.label.trim();
        let labelled = !label.is_empty() && facts.labels.iter().any(|l| l == label);
        let marker = Some((MARKER_KIND.to_string(), n.to_string()));
        let unlabel = |plan: &mut Plan, why: &str| {
            if labelled {
                plan.push(
                    Write::RemoveLabel {
                        number: n,
                        label: label.to_string(),
                    },
                    why,
                );
            }
        };
        if !facts.open {
            plan.note(format!("#{n} is closed: it marks no job"));
            return plan;
        }
        let Some(parsed) = &facts.parsed else {
            unlabel(&mut plan, "the title no longer marks jobs");
            if let Some((id, body)) = &facts.comment {
                let now = disabled::retired_body(n, &facts.title);
                if *body != now {
                    plan.push(
                        Write::PutComment {
                            number: n,
                            existing: Some(*id),
                            body: now,
                            marker: (MARKER_KIND.to_string(), n.to_string()),
                        },
                        "the validation comment must not confirm a title that is gone",
                    );
                }
            }
            if plan.steps.is_empty() {
                plan.note(format!("#{n} does not mark jobs"));
            }
            return plan;
        };
        if !facts.allowed {
            plan.push(
                Write::Comment {
                    number: n,
                    body: disabled::refusal_body(n, &facts.author),
                    marker,
                },
                "the author lacks write access",
            );
            unlabel(&mut plan, "only writers' issues mark jobs");
            plan.push(
                Write::CloseIssue { number: n },
                "only writers may disable jobs or mark them unstable",
            );
            return plan;
        }
        match parsed {
            Err(e) => {
                plan.push(
                    Write::Comment {
                        number: n,
                        body: disabled::error_body(n, &facts.title, e),
                        marker,
                    },
                    format!("the title is invalid: {e}"),
                );
                unlabel(&mut plan, "an invalid title marks no job");
            }
            Ok(p) => {
                plan.push(
                    Write::Comment {
                        number: n,
                        body: disabled::confirm_body(n, p, &facts.seen, facts.workflows),
                        marker,
                    },
                    "confirm what the issue matches",
                );
                if !labelled && !label.is_empty() {
                    plan.push(
                        Write::EnsureLabel {
                            name: label.to_string(),
                            color: LABEL_COLOR.into(),
                            description: "Marks CI jobs disabled or unstable (ci-medic)".into(),
                        },
                        "labels must exist before they are applied",
                    );
                    plan.push(
                        Write::AddLabels {
                            number: n,
                            labels: vec![label.to_string()],
                        },
                        "only labelled issues mark jobs",
                    );
                }
            }
        }
        plan
    }
}

/// The jobs of the latest run of each of the `max_workflows` most recently
/// run workflows: one request for the runs, one per workflow.
async fn recent_jobs(c: &Client, max_workflows: usize) -> Result<(Vec<SeenJob>, usize)> {
    let runs: Vec<RunInfo> = c
        .runs("status=completed", MAX_RECENT_RUNS)
        .await
        .context("listing recent runs")?;
    let mut workflows = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for run in runs {
        if workflows.len() >= max_workflows {
            break;
        }
        if !workflows.insert(run.workflow_id) {
            continue;
        }
        let name = run.name.clone().unwrap_or_default();
        let jobs = c
            .run_jobs(run.id, run.run_attempt)
            .await
            .with_context(|| format!("reading the jobs of run {}", run.id))?;
        for j in jobs {
            seen.insert(SeenJob {
                workflow: name.clone(),
                job: j.name,
            });
        }
    }
    Ok((seen.into_iter().collect(), workflows.len()))
}

/// The open issues that mark jobs, when `disabled-jobs` is on: those with
/// the section's label and a valid title. One request, at most
/// [`MAX_MARKINGS`] issues.
pub async fn open_markings(c: &Client, config: &Config) -> Result<Vec<Marking>> {
    let Some(section) = disabled::enabled(config) else {
        return Ok(Vec::new());
    };
    let label = section.label.trim();
    if label.is_empty() {
        return Ok(Vec::new());
    }
    let issues: Vec<IssueInfo> = c
        .get_all(
            &c.repo_path(&format!(
                "/issues?state=open&labels={}&per_page={MAX_MARKINGS}",
                encode_segment(label, false)
            )),
            None,
            MAX_MARKINGS,
        )
        .await
        .context("listing the open DISABLED/UNSTABLE issues")?;
    Ok(disabled::markings(
        issues
            .iter()
            .filter(|i| i.pull_request.is_none())
            .map(|i| (i.number, i.title.as_str())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::parse("c.yml", "disabled-jobs: {}\n").expect("config")
    }

    fn facts(title: &str, allowed: bool, labels: &[&str]) -> DisabledFacts {
        DisabledFacts {
            number: 12,
            title: title.into(),
            author: "someone".into(),
            open: true,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            allowed,
            parsed: disabled::parse_title(title),
            seen: vec![SeenJob {
                workflow: "CI".into(),
                job: "test (windows-latest)".into(),
            }],
            workflows: 1,
            comment: None,
        }
    }

    fn kinds(plan: &Plan) -> Vec<&'static str> {
        plan.steps.iter().map(|s| s.write.kind()).collect()
    }

    fn payload(title: &str, action: &str) -> Delivery {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/webhooks/issues/15-opened.json"
        );
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("json");
        v["issue"]["title"] = title.into();
        v["action"] = action.into();
        if action == "edited" {
            // As GitHub sends a title edit: the previous title in `changes`.
            v["changes"] = serde_json::json!({"title": {"from": "Some older title"}});
        }
        let bytes = serde_json::to_vec(&v).expect("bytes");
        Delivery::Event {
            event: crate::event::parse("issues", path, &bytes).expect("event"),
            command: None,
        }
    }

    /// An `issues.edited` delivery of the real fixture (`changes` as GitHub
    /// sends it) for an issue titled `title` with `labels`.
    fn edited(title: &str, changes: serde_json::Value, labels: &[&str]) -> Delivery {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/webhooks/issues/00-edited.json"
        );
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("json");
        assert_eq!(v["action"], "edited");
        v["issue"]["title"] = title.into();
        v["issue"]["labels"] = labels
            .iter()
            .map(|l| serde_json::json!({"name": l}))
            .collect();
        v["changes"] = changes;
        let bytes = serde_json::to_vec(&v).expect("bytes");
        Delivery::Event {
            event: crate::event::parse("issues", path, &bytes).expect("event"),
            command: None,
        }
    }

    #[test]
    fn subscribes_to_marking_titles_when_on() {
        let d = payload("UNSTABLE CI / test", "opened");
        assert!(DisabledJobs::subscribe(&d, &Config::default()).is_none());
        assert!(DisabledJobs::subscribe(&d, &config()).is_some());
        assert!(DisabledJobs::subscribe(&payload("DISABLED", "edited"), &config()).is_some());
        assert!(DisabledJobs::subscribe(&payload("UNSTABLE x", "labeled"), &config()).is_none());
        assert!(DisabledJobs::subscribe(&payload("A bug", "opened"), &config()).is_none());
    }

    #[test]
    fn an_edit_concerns_it_only_when_it_changed_the_title() {
        use serde_json::json;
        let c = config();
        let title = |from: &str| json!({"title": {"from": from}});
        // Never labelled, edited into the grammar.
        let d = edited("DISABLED CI / build", title("CI / build is broken"), &[]);
        assert_eq!(DisabledJobs::subscribe(&d, &c), Some(1));
        // Labelled, its pattern edited.
        let d = edited(
            "DISABLED CI / test",
            title("DISABLED CI / build"),
            &["unstable"],
        );
        assert!(DisabledJobs::subscribe(&d, &c).is_some());
        // Edited away from the grammar, unlabelled: the comment may need
        // correcting.
        let d = edited("CI / build is broken", title("DISABLED CI / build"), &[]);
        assert!(DisabledJobs::subscribe(&d, &c).is_some());
        // Never a marking title.
        let d = edited("CI / build is broken", title("build is broken"), &[]);
        assert!(DisabledJobs::subscribe(&d, &c).is_none());
        // The body alone, or no `changes` at all (the recorded fixture's
        // `{}`): nothing, labelled or not.
        let body = json!({"body": {"from": "old text"}});
        for labels in [&[][..], &["unstable"][..]] {
            let d = edited("DISABLED CI / build", body.clone(), labels);
            assert!(DisabledJobs::subscribe(&d, &c).is_none());
            let d = edited("DISABLED CI / build", json!({}), labels);
            assert!(DisabledJobs::subscribe(&d, &c).is_none());
        }
    }

    #[test]
    fn a_writers_valid_issue_is_confirmed_and_labelled() {
        let plan = DisabledJobs::decide(&facts("UNSTABLE CI / test", true, &[]), &config());
        assert_eq!(kinds(&plan), ["comment", "ensure-label", "add-labels"]);
        let Write::Comment { body, .. } = &plan.steps[0].write else {
            panic!("{plan:?}");
        };
        assert!(body.contains("`test (windows-latest)`"), "{body}");
        // Already labelled: the comment only (unchanged, it writes nothing).
        let plan =
            DisabledJobs::decide(&facts("UNSTABLE CI / test", true, &["unstable"]), &config());
        assert_eq!(kinds(&plan), ["comment"]);
    }

    #[test]
    fn a_writers_invalid_issue_is_explained_and_unlabelled() {
        let plan = DisabledJobs::decide(&facts("DISABLED CI / *", true, &["unstable"]), &config());
        assert_eq!(kinds(&plan), ["comment", "remove-label"]);
        let Write::Comment { body, .. } = &plan.steps[0].write else {
            panic!("{plan:?}");
        };
        assert!(body.contains("not wildcards"), "{body}");
    }

    #[test]
    fn a_title_edited_away_loses_the_label_and_the_comment_says_so() {
        // A labelled issue concerns it whatever its title now.
        let d = payload("Flaky builds on Windows", "edited");
        assert!(DisabledJobs::subscribe(&d, &config()).is_none());
        let d = labelled_payload("Flaky builds on Windows", "edited", "unstable");
        assert!(DisabledJobs::subscribe(&d, &config()).is_some());
        let d = labelled_payload("Flaky builds on Windows", "edited", "bug");
        assert!(DisabledJobs::subscribe(&d, &config()).is_none());

        let confirmed = disabled::confirm_body(
            12,
            &disabled::parse_title("UNSTABLE CI / test")
                .expect("title")
                .expect("valid"),
            &[],
            1,
        );
        let mut f = facts("Flaky builds on <b>Windows</b> @team", true, &["unstable"]);
        f.comment = Some((77, confirmed));
        let plan = DisabledJobs::decide(&f, &config());
        assert_eq!(kinds(&plan), ["remove-label", "put-comment"]);
        let Write::PutComment { body, existing, .. } = &plan.steps[1].write else {
            panic!("{plan:?}");
        };
        assert_eq!(*existing, Some(77));
        assert!(body.contains("no longer names a job"), "{body}");
        assert!(
            body.contains("`Flaky builds on <b>Windows</b> @team`"),
            "{body}"
        );
        // Done already: nothing more.
        let done = DisabledFacts {
            labels: vec![],
            comment: Some((77, body.clone())),
            ..f.clone()
        };
        assert!(DisabledJobs::decide(&done, &config()).steps.is_empty());
        // No comment of ours: none is created for an issue that never was one.
        let plain = DisabledFacts { comment: None, ..f };
        assert_eq!(
            kinds(&DisabledJobs::decide(&plain, &config())),
            ["remove-label"]
        );
    }

    fn labelled_payload(title: &str, action: &str, label: &str) -> Delivery {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/webhooks/issues/15-opened.json"
        );
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("json");
        v["issue"]["title"] = title.into();
        v["issue"]["labels"] = serde_json::json!([{"name": label}]);
        v["action"] = action.into();
        if action == "edited" {
            v["changes"] = serde_json::json!({"title": {"from": "Flaky builds"}});
        }
        let bytes = serde_json::to_vec(&v).expect("bytes");
        Delivery::Event {
            event: crate::event::parse("issues", path, &bytes).expect("event"),
            command: None,
        }
    }

    #[test]
    fn anyone_elses_issue_is_closed_with_a_reason() {
        let plan = DisabledJobs::decide(
            &facts("DISABLED CI / test", false, &["unstable"]),
            &config(),
        );
        assert_eq!(kinds(&plan), ["comment", "remove-label", "close-issue"]);
        let mut closed = facts("DISABLED CI / test", false, &[]);
        closed.open = false;
        assert!(DisabledJobs::decide(&closed, &config()).steps.is_empty());
    }
}
