//! ciflow triggers (`ciflow:`): an allowed `ciflow/*` label on a pull
//! request is pushed as tag `ciflow/<x>/<number>` at its head, moved on new
//! commits, deleted with the label or when the pull request closes; or, with
//! `mode: dispatch`, starts `ciflow.workflows` with the head SHA as input.
//! Tags are set only when the author has write access (asked of GitHub,
//! never read from the payload's association) or the `pull_request` runs of
//! that exact commit were approved; others keep the label and get one
//! comment, and the approved run's `workflow_run` tags the run's commit,
//! never a newer head. A tag already at the commit is not written again.
//! Needs `pull_request_target` and `workflow_run` with `contents: write`
//! (`actions: write` to dispatch), and a token other than the workflow's
//! for tags to start workflows.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use super::{Delivery, Handler};
use crate::app::Ctx;
use crate::automations::ciflow::{self, Change, Mode, RefWrite};
use crate::config::Config;
use crate::event::Event;
use crate::github::marker::{has_marker, marker};
use crate::permissions::Action;
use crate::plan::{Plan, StepOptions, Write};
use crate::report::markdown::code;

/// The marker kind of the comment about labels that set no tag.
const MARKER_KIND: &str = "ciflow";

/// `pull_request` runs of one commit read to see whether they were approved.
const MAX_RUNS_READ: usize = 100;

pub struct Ciflow;

/// The pull request and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiflowInput {
    pub number: u64,
    pub author: String,
    /// The commit tags go to: the head, or the approved run's commit.
    pub head_sha: String,
    /// The base branch (`dispatch` mode runs the workflow from it).
    pub base_ref: String,
    pub labels: Vec<String>,
    pub change: Change,
}

/// What a delivery is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CiflowSubject {
    Pull(CiflowInput),
    /// A `pull_request` run not waiting for approval: its commit's runs
    /// may have just been approved.
    Run {
        sha: String,
        branch: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct CiflowFacts {
    /// `None` when there is nothing to decide (see `note`).
    pub input: Option<CiflowInput>,
    pub note: Option<String>,
    /// A tag may be set: the author has write access, or the
    /// `pull_request` runs of the commit were approved.
    pub may: bool,
    /// Where each tag that may be set points now (`tag` mode).
    pub tags: BTreeMap<String, Option<String>>,
    /// `dispatch` mode: our ciflow comment on the pull request (id and
    /// body), read when something may be dispatched or said; it records
    /// what was dispatched.
    pub comment: Option<(u64, String)>,
}

impl CiflowFacts {
    fn nothing(note: String) -> CiflowFacts {
        CiflowFacts {
            input: None,
            note: Some(note),
            may: false,
            tags: BTreeMap::new(),
            comment: None,
        }
    }
}

/// Whether the `pull_request` runs of `sha` were approved.
async fn approved(ctx: &Ctx, sha: &str) -> Result<bool> {
    let runs = ctx
        .github()?
        .runs(&format!("head_sha={sha}&event=pull_request"), MAX_RUNS_READ)
        .await
        .with_context(|| format!("reading the runs of {sha}"))?;
    Ok(ciflow::runs_approved(
        runs.iter().map(|r| r.conclusion.as_ref()),
    ))
}

/// The open pull request of a run's commit and branch, with its labels.
async fn pull_of_run(ctx: &Ctx, sha: &str, branch: Option<&str>) -> Result<Option<CiflowInput>> {
    let pulls = ctx
        .github()?
        .commit_pulls(sha)
        .await
        .with_context(|| format!("reading the pull requests of {sha}"))?;
    Ok(pulls
        .into_iter()
        .find(|p| p.state == "open" && !p.merged && branch.is_none_or(|b| b == p.head_ref))
        .map(|p| CiflowInput {
            number: p.number,
            author: p.user.map(|u| u.login).unwrap_or_default(),
            head_sha: sha.to_string(),
            base_ref: p.base_ref,
            labels: p.labels.into_iter().map(|l| l.name).collect(),
            change: Change::Approved,
        }))
}

/// Reads for the ref decision: the pull request, the author's access or
/// the commit's approval, and where the tags point.
async fn gather_refs(
    ctx: &Ctx,
    c: &ciflow::CiflowConfig,
    subject: CiflowSubject,
) -> Result<CiflowFacts> {
    let c = c.clone();

    let input = match subject {
        CiflowSubject::Pull(input) => input,
        CiflowSubject::Run { sha, branch } => {
            match pull_of_run(ctx, &sha, branch.as_deref()).await? {
                Some(input) => input,
                None => {
                    return Ok(CiflowFacts::nothing(format!(
                        "no open pull request has run commit {sha} as its head"
                    )));
                }
            }
        }
    };
    let mut input = input;
    if c.mode == Mode::Tag
        && input.change != Change::Approved
        && !ciflow::decide(&c, input.number, &input.change, &input.labels, true)
            .refs
            .is_empty()
    {
        // Tags are about to change: the pull request as it is now decides,
        // so a late or repeated delivery never undoes a newer one.
        let pull = ctx
            .github()?
            .pull(input.number)
            .await
            .with_context(|| format!("reading #{}", input.number))?;
        let now = ciflow::PullNow {
            open: pull.state == "open",
            head_sha: pull.head_sha,
            labels: pull.labels.into_iter().map(|l| l.name).collect(),
        };
        if let Some(why) = ciflow::stale(&input.change, &input.head_sha, &now) {
            return Ok(CiflowFacts::nothing(format!(
                "#{}: no tag changes: {why}",
                input.number
            )));
        }
        input.labels = now.labels;
    }
    if !ciflow::needs_access(&c, &input.change, &input.labels) {
        return Ok(CiflowFacts {
            input: Some(input),
            note: None,
            may: false,
            tags: BTreeMap::new(),
            comment: None,
        });
    }
    let p = ctx.permissions()?;
    // The action's own pull requests are no writer's: `ours_may` is
    // false for restricted labels, so they are asked like anyone's.
    let author_may = p
        .may(&input.author, Action::AddRestrictedLabel)
        .await
        .with_context(|| format!("reading the access of {}", input.author))?;
    if input.change == Change::Approved && author_may {
        // A writer's tags follow the head with every push; an approved
        // run of an older commit must not move them back.
        return Ok(CiflowFacts::nothing(format!(
            "#{}: its author has write access; its tags follow the head",
            input.number
        )));
    }
    let may = author_may || approved(ctx, &input.head_sha).await?;
    let mut tags = BTreeMap::new();
    if may && c.mode == Mode::Tag {
        let d = ciflow::decide(&c, input.number, &input.change, &input.labels, true);
        for w in d.refs {
            if let RefWrite::Set(tag) = w {
                let now = ctx
                    .github()?
                    .get_ref(&format!("refs/{tag}"))
                    .await
                    .with_context(|| format!("reading {tag}"))?;
                tags.insert(tag, now);
            }
        }
    }
    Ok(CiflowFacts {
        input: Some(input),
        note: None,
        may,
        tags,
        comment: None,
    })
}

/// Our ciflow comment on pull request `number`: only one the action's
/// identity wrote counts.
async fn own_comment(ctx: &Ctx, number: u64) -> Result<Option<(u64, String)>> {
    let client = ctx.github()?;
    let key = number.to_string();
    Ok(client
        .comments(number)
        .await
        .with_context(|| format!("reading the comments of #{number}"))?
        .into_iter()
        .find_map(|cm| {
            let body = cm.body?;
            (client.identity().is_ours(&cm.user.login) && has_marker(&body, MARKER_KIND, &key))
                .then_some((cm.id, body))
        }))
}

impl Handler for Ciflow {
    const NAME: &'static str = "ciflow";
    type Input = CiflowSubject;
    type Facts = CiflowFacts;

    fn subscribe(delivery: &Delivery, config: &Config) -> Option<CiflowSubject> {
        config.ciflow.as_ref()?;
        let Delivery::Event { event, .. } = delivery else {
            return None;
        };
        let e = match event {
            Event::PullRequest(e) => e,
            Event::WorkflowRun(e) => {
                let run = &e.workflow_run;
                return (run.event == "pull_request"
                    && run.conclusion != Some(crate::event::Conclusion::ActionRequired))
                .then(|| CiflowSubject::Run {
                    sha: run.head_sha.clone(),
                    branch: run.head_branch.clone(),
                });
            }
            _ => return None,
        };
        let pr = &e.pull_request;
        let labels: Vec<String> = pr.labels.iter().map(|l| l.name.clone()).collect();
        let label = e.label.as_ref().map(|l| l.name.clone());
        let change = match (e.action.as_str(), label) {
            ("labeled", Some(l)) => Change::Labeled(l),
            ("unlabeled", Some(l)) => Change::Unlabeled(l),
            ("synchronize" | "reopened", _) => Change::Moved,
            ("closed", _) => Change::Closed,
            _ => return None,
        };
        let concerns = match &change {
            Change::Labeled(l) | Change::Unlabeled(l) => ciflow::is_ciflow(l),
            Change::Moved | Change::Closed | Change::Approved => {
                labels.iter().any(|l| ciflow::is_ciflow(l))
            }
        };
        concerns.then(|| {
            CiflowSubject::Pull(CiflowInput {
                number: pr.number,
                author: pr.user.login.clone(),
                head_sha: pr.head.sha.clone(),
                base_ref: pr.base.ref_name.clone(),
                labels,
                change,
            })
        })
    }

    async fn gather(ctx: &Ctx, subject: CiflowSubject) -> Result<CiflowFacts> {
        let c = ctx.config.ciflow.clone().unwrap_or_default();
        let mut facts = gather_refs(ctx, &c, subject).await?;
        if c.mode == Mode::Dispatch
            && let Some(f) = &facts.input
        {
            let d = ciflow::decide(&c, f.number, &f.change, &f.labels, facts.may);
            let sets = d.refs.iter().any(|w| matches!(w, RefWrite::Set(_)));
            if sets || !d.waiting.is_empty() || !d.unknown.is_empty() {
                facts.comment = own_comment(ctx, f.number).await?;
            }
        }
        Ok(facts)
    }

    fn decide(facts: &CiflowFacts, config: &Config) -> Plan {
        let mut plan = Plan::new(Self::NAME);
        let (Some(c), Some(f)) = (&config.ciflow, &facts.input) else {
            if let Some(n) = &facts.note {
                plan.note(n.clone());
            }
            return plan;
        };
        let d = ciflow::decide(c, f.number, &f.change, &f.labels, facts.may);
        let mut dispatch = false;
        for w in &d.refs {
            match (w, c.mode) {
                (RefWrite::Set(_), Mode::Dispatch) => dispatch = true,
                (RefWrite::Delete(_), Mode::Dispatch) => {}
                (RefWrite::Set(tag), Mode::Tag) => {
                    if facts
                        .tags
                        .get(tag)
                        .is_some_and(|at| at.as_deref() == Some(&f.head_sha))
                    {
                        plan.note(format!("{tag} already points at {}", f.head_sha));
                        continue;
                    }
                    let git_ref = format!("refs/{tag}");
                    let sha = f.head_sha.clone();
                    // Absent when read: only create it. Creating a ref is
                    // GitHub's one atomic claim: another delivery that
                    // created it since gets a 422, counted as done, and
                    // writes nothing more.
                    let write = if facts.tags.get(tag) == Some(&None) {
                        Write::CreateRef { git_ref, sha }
                    } else {
                        Write::SetRef { git_ref, sha }
                    };
                    plan.push(
                        write,
                        if f.change == Change::Approved {
                            format!("#{}: its runs were approved for this commit", f.number)
                        } else {
                            format!("#{}: its ciflow label follows the head", f.number)
                        },
                    );
                }
                (RefWrite::Delete(tag), Mode::Tag) => {
                    plan.push(
                        Write::DeleteRef {
                            git_ref: format!("refs/{tag}"),
                        },
                        format!("#{}: the label went or the pull request closed", f.number),
                    );
                }
            }
        }
        // `dispatch` mode: what our comment records as already started.
        let mut record = facts
            .comment
            .as_ref()
            .map(|(_, body)| ciflow::Dispatched::read(body))
            .unwrap_or_default();
        let before = record.clone();
        let mut started = Vec::new();
        let mut dispatch_ids = Vec::new();
        if dispatch {
            if c.workflows.is_empty() {
                plan.note("ciflow.mode is dispatch but ciflow.workflows names no workflow");
            }
            for wf in &c.workflows {
                if record.contains(&f.head_sha, wf) {
                    plan.note(format!(
                        "#{}: {wf} was already dispatched for {}",
                        f.number, f.head_sha
                    ));
                    continue;
                }
                let mut inputs = serde_json::Map::new();
                inputs.insert(c.sha_input().to_string(), f.head_sha.clone().into());
                dispatch_ids.push(plan.push(
                    Write::DispatchWorkflow {
                        workflow: wf.clone(),
                        git_ref: f.base_ref.clone(),
                        inputs,
                    },
                    format!("#{}: a ciflow label asks for this workflow", f.number),
                ));
                record.add(&f.head_sha, wf);
                started.push(code(wf));
            }
        }
        let mut lines = Vec::new();
        if !d.waiting.is_empty() {
            let names: Vec<String> = d.waiting.iter().map(|l| code(l)).collect();
            lines.push(format!(
                "{}: no tag yet. The author of this pull request lacks write access, so ciflow waits for approval: once a maintainer approves the workflows of this pull request, the approved commit is tagged.",
                names.join(", ")
            ));
        }
        if !d.unknown.is_empty() {
            let names: Vec<String> = d.unknown.iter().map(|l| code(l)).collect();
            let known: Vec<String> = c.labels.iter().map(|l| code(l)).collect();
            lines.push(format!(
                "{}: not a ciflow label of this repository, so no tag. Known: {}.",
                names.join(", "),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
        let key = f.number.to_string();
        if c.mode == Mode::Dispatch {
            if !started.is_empty() {
                lines.push(format!(
                    "Started {} for commit {} (from {}).",
                    started.join(", "),
                    code(&f.head_sha),
                    code(&f.base_ref)
                ));
            }
            if !lines.is_empty() || record != before {
                let body = format!(
                    "{}\n{}\n\n{}\n",
                    marker(MARKER_KIND, &key),
                    lines.join("\n\n"),
                    record.line()
                );
                let existing = facts.comment.as_ref().map(|(id, _)| *id);
                if facts.comment.as_ref().map(|(_, b)| b.as_str()) != Some(body.as_str()) {
                    // Written once the dispatches landed: a failed dispatch
                    // is not recorded, so the next delivery tries it again.
                    plan.push_with(
                        Write::PutComment {
                            number: f.number,
                            existing,
                            body,
                            marker: (MARKER_KIND.into(), key),
                        },
                        if dispatch_ids.is_empty() {
                            "say why a ciflow label started nothing"
                        } else {
                            "record the dispatches, so a delivery seen twice starts them once"
                        },
                        StepOptions {
                            depends_on: dispatch_ids,
                            ..StepOptions::default()
                        },
                    );
                }
            }
        } else if !lines.is_empty() {
            plan.push(
                Write::Comment {
                    number: f.number,
                    body: format!("{}\n{}\n", marker(MARKER_KIND, &key), lines.join("\n\n")),
                    marker: Some((MARKER_KIND.into(), key)),
                },
                "say why a ciflow label set no tag",
            );
        }
        if plan.steps.is_empty() {
            plan.note(format!("#{}: no ciflow tag to change", f.number));
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(file: &str, label: Option<&str>, labels: &[&str]) -> Delivery {
        let path = format!(
            "{}/fixtures/webhooks/pull_request/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).expect("fixture");
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        if let Some(l) = label {
            v["label"] = serde_json::json!({"name": l, "id": 1, "color": "fff"});
        }
        v["pull_request"]["labels"] = labels
            .iter()
            .map(|l| serde_json::json!({"name": l, "id": 1, "color": "fff"}))
            .collect();
        let bytes = serde_json::to_vec(&v).expect("json");
        Delivery::Event {
            event: crate::event::parse("pull_request", &path, &bytes).expect("event"),
            command: None,
        }
    }

    fn on() -> Config {
        Config::parse("c.yml", "ciflow:\n  labels: [ciflow/trunk]\n").expect("config")
    }

    fn fixture_with(action: &str) -> Option<String> {
        let dir = format!(
            "{}/fixtures/webhooks/pull_request",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("fixtures")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(&format!("-{action}.json")))
            .collect();
        names.sort();
        names.into_iter().next()
    }

    #[test]
    fn real_payloads_concern_it_only_with_ciflow_labels_and_the_section_on() {
        let labeled = fixture_with("labeled").expect("a labeled fixture");
        let d = delivery(&labeled, Some("ciflow/trunk"), &["ciflow/trunk"]);
        assert!(Ciflow::subscribe(&d, &Config::default()).is_none());
        let Some(CiflowSubject::Pull(input)) = Ciflow::subscribe(&d, &on()) else {
            panic!("concerns");
        };
        assert_eq!(input.change, Change::Labeled("ciflow/trunk".into()));
        let d = delivery(&labeled, Some("bug"), &["bug"]);
        assert!(Ciflow::subscribe(&d, &on()).is_none());
        let sync = fixture_with("synchronize").expect("a synchronize fixture");
        assert!(Ciflow::subscribe(&delivery(&sync, None, &[]), &on()).is_none());
        let Some(CiflowSubject::Pull(input)) =
            Ciflow::subscribe(&delivery(&sync, None, &["ciflow/trunk"]), &on())
        else {
            panic!("concerns");
        };
        assert_eq!(input.change, Change::Moved);
    }

    #[test]
    fn an_unknown_label_is_named_escaped_in_one_marked_comment() {
        let facts = CiflowFacts {
            input: Some(CiflowInput {
                number: 5,
                author: "alice".into(),
                head_sha: "abc".into(),
                base_ref: "main".into(),
                labels: vec![],
                change: Change::Labeled("ciflow/`x` <b>".into()),
            }),
            note: None,
            may: true,
            tags: BTreeMap::new(),
            comment: None,
        };
        let plan = Ciflow::decide(&facts, &on());
        assert_eq!(plan.steps.len(), 1);
        let Write::Comment { body, marker, .. } = &plan.steps[0].write else {
            panic!("not a comment: {:?}", plan.steps[0].write);
        };
        assert_eq!(marker.as_ref().map(|m| m.0.as_str()), Some(MARKER_KIND));
        // The label stays inside one code span: its backticks cannot end it.
        assert!(body.contains("`ciflow/'x' <b>`"), "{body}");
        assert!(body.contains("`ciflow/trunk`"), "{body}");
    }

    fn input(change: Change, labels: &[&str]) -> CiflowInput {
        CiflowInput {
            number: 5,
            author: "outsider".into(),
            head_sha: "abc".into(),
            base_ref: "main".into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            change,
        }
    }

    #[test]
    fn a_tag_already_at_the_commit_is_not_written_again() {
        let mut tags = BTreeMap::new();
        tags.insert("tags/ciflow/trunk/5".to_string(), Some("abc".to_string()));
        let facts = CiflowFacts {
            input: Some(input(
                Change::Labeled("ciflow/trunk".into()),
                &["ciflow/trunk"],
            )),
            note: None,
            may: true,
            tags: tags.clone(),
            comment: None,
        };
        assert!(Ciflow::decide(&facts, &on()).steps.is_empty());
        // Absent when read: created only, never forced over another
        // delivery's tag.
        tags.insert("tags/ciflow/trunk/5".to_string(), None);
        let plan = Ciflow::decide(
            &CiflowFacts {
                tags: tags.clone(),
                ..facts.clone()
            },
            &on(),
        );
        assert!(
            matches!(&plan.steps[..], [s] if s.write == Write::CreateRef { git_ref: "refs/tags/ciflow/trunk/5".into(), sha: "abc".into() }),
            "{plan:?}"
        );
        tags.insert("tags/ciflow/trunk/5".to_string(), Some("old".to_string()));
        let plan = Ciflow::decide(&CiflowFacts { tags, ..facts }, &on());
        assert!(
            matches!(&plan.steps[..], [s] if s.write == Write::SetRef { git_ref: "refs/tags/ciflow/trunk/5".into(), sha: "abc".into() }),
            "{plan:?}"
        );
    }

    #[test]
    fn waiting_says_approval_and_an_approved_run_tags_its_own_commit() {
        let waiting = CiflowFacts {
            input: Some(input(
                Change::Labeled("ciflow/trunk".into()),
                &["ciflow/trunk"],
            )),
            note: None,
            may: false,
            tags: BTreeMap::new(),
            comment: None,
        };
        let plan = Ciflow::decide(&waiting, &on());
        let Write::Comment { body, .. } = &plan.steps[0].write else {
            panic!("{plan:?}");
        };
        assert!(body.contains("waits for approval"), "{body}");
        let approved = CiflowFacts {
            input: Some(input(Change::Approved, &["ciflow/trunk", "bug"])),
            may: true,
            ..waiting
        };
        let plan = Ciflow::decide(&approved, &on());
        assert_eq!(plan.steps.len(), 1, "{plan:?}");
        assert_eq!(
            plan.steps[0].write,
            Write::SetRef {
                git_ref: "refs/tags/ciflow/trunk/5".into(),
                sha: "abc".into()
            }
        );
    }

    #[test]
    fn dispatch_mode_starts_each_workflow_once_with_the_sha_and_deletes_nothing() {
        let config = Config::parse(
            "c.yml",
            "ciflow:\n  labels: [ciflow/trunk, ciflow/periodic]\n  mode: dispatch\n  workflows: [trunk.yml, slow.yml]\n",
        )
        .expect("config");
        let facts = CiflowFacts {
            input: Some(input(Change::Moved, &["ciflow/trunk", "ciflow/periodic"])),
            note: None,
            may: true,
            tags: BTreeMap::new(),
            comment: None,
        };
        let plan = Ciflow::decide(&facts, &config);
        let got: Vec<(String, String, String)> = plan
            .steps
            .iter()
            .filter_map(|s| match &s.write {
                Write::DispatchWorkflow {
                    workflow,
                    git_ref,
                    inputs,
                } => Some((workflow.clone(), git_ref.clone(), inputs["sha"].to_string())),
                _ => None,
            })
            .collect();
        assert_eq!(
            got,
            [
                ("trunk.yml".into(), "main".into(), "\"abc\"".into()),
                ("slow.yml".into(), "main".into(), "\"abc\"".into())
            ]
        );
        // The record comes last, once both dispatches landed.
        let [.., last] = &plan.steps[..] else {
            panic!("{plan:?}");
        };
        let Write::PutComment { body, existing, .. } = &last.write else {
            panic!("{plan:?}");
        };
        assert_eq!(*existing, None);
        assert_eq!(
            last.depends_on,
            [plan.steps[0].id.clone(), plan.steps[1].id.clone()]
        );
        assert!(
            body.contains("Started `trunk.yml`, `slow.yml` for commit `abc`"),
            "{body}"
        );

        // Delivered again, with that comment on the pull request: nothing.
        let again = CiflowFacts {
            comment: Some((9, body.clone())),
            ..facts.clone()
        };
        let plan = Ciflow::decide(&again, &config);
        assert!(plan.steps.is_empty(), "{plan:?}");
        // A new head is dispatched again, and the record edited in place.
        let mut moved = again.clone();
        if let Some(i) = moved.input.as_mut() {
            i.head_sha = "def".into();
        }
        let plan = Ciflow::decide(&moved, &config);
        assert_eq!(plan.steps.len(), 3, "{plan:?}");
        assert!(matches!(
            &plan.steps[2].write,
            Write::PutComment {
                existing: Some(9),
                ..
            }
        ));

        let closed = CiflowFacts {
            input: Some(input(Change::Closed, &["ciflow/trunk"])),
            ..facts
        };
        assert!(Ciflow::decide(&closed, &config).steps.is_empty());
    }

    #[test]
    fn a_run_concerns_it_unless_it_waits_for_approval() {
        let path = format!(
            "{}/fixtures/webhooks/workflow_run/00-completed.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).expect("fixture");
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        v["workflow_run"]["event"] = "pull_request".into();
        v["workflow_run"]["conclusion"] = "success".into();
        let d = |v: &serde_json::Value| Delivery::Event {
            event: crate::event::parse(
                "workflow_run",
                &path,
                &serde_json::to_vec(v).expect("json"),
            )
            .expect("event"),
            command: None,
        };
        let sha = v["workflow_run"]["head_sha"]
            .as_str()
            .expect("sha")
            .to_string();
        assert!(matches!(
            Ciflow::subscribe(&d(&v), &on()),
            Some(CiflowSubject::Run { sha: s, .. }) if s == sha
        ));
        v["workflow_run"]["conclusion"] = "action_required".into();
        assert!(Ciflow::subscribe(&d(&v), &on()).is_none());
        v["workflow_run"]["conclusion"] = "success".into();
        v["workflow_run"]["event"] = "push".into();
        assert!(Ciflow::subscribe(&d(&v), &on()).is_none());
    }
}
