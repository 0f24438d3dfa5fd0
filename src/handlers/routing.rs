//! Which job an event concerns. Pure: every event type is tested. The
//! handlers' `subscribe` functions read it.

use crate::config::{self, Config};
use crate::event::Event;

/// What `run` decided to do with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Re-run what a re-run fixes, then analyze and report the run.
    FailedRun { run_id: u64 },
    /// A run passed: close the issues its earlier failures opened.
    PassedRun { run_id: u64 },
    /// Heal the workflow-failure issue.
    Heal { issue: u64 },
    /// A run on a heal branch finished: report it on the fix's pull request.
    HealVerify { run_id: u64 },
    /// Look at trunk.
    Autorevert,
    /// Nothing to do, and why.
    Nothing(String),
}

/// The job a dispatch's `command` input, else the action's `command`
/// input, forces.
fn forced_command(event: &Event, input: Option<&str>) -> Option<String> {
    if let Event::WorkflowDispatch(d) = event
        && let Some(c) = d.input("command")
    {
        return Some(c);
    }
    input.map(str::to_string)
}

/// Decide where an event goes; `command` is the action's `command` input.
pub fn route(event: &Event, command: Option<&str>, config: &Config) -> Route {
    let forced = forced_command(event, command);
    match (event, forced.as_deref()) {
        (Event::WorkflowDispatch(d), Some("heal")) | (Event::WorkflowDispatch(d), None)
            if d.input("issue").is_some() =>
        {
            match d
                .input("issue")
                .and_then(|s| s.trim_start_matches('#').parse().ok())
            {
                Some(issue) => Route::Heal { issue },
                None => Route::Nothing("the `issue` input is not an issue number".into()),
            }
        }
        (Event::WorkflowDispatch(d), Some("analyze" | "retry")) => {
            match d.input("run-id").and_then(|s| s.parse().ok()) {
                Some(run_id) => Route::FailedRun { run_id },
                None => Route::Nothing("the `run-id` input is not a run id".into()),
            }
        }
        (Event::WorkflowDispatch(_) | Event::Schedule(_), Some("autorevert") | None) => {
            if config.autorevert.enabled {
                Route::Autorevert
            } else {
                Route::Nothing("autorevert is not enabled (set `autorevert.enabled: true`)".into())
            }
        }
        // autorevert's own workflow hears of completed runs only to look
        // at a restart's result; the other jobs have their workflows.
        (Event::WorkflowRun(e), Some("autorevert")) => {
            if !config.autorevert.enabled {
                Route::Nothing("autorevert is not enabled (set `autorevert.enabled: true`)".into())
            } else if is_restart_result(event, config) {
                Route::Autorevert
            } else {
                Route::Nothing(format!(
                    "run {} is not the result of an autorevert restart of a watched workflow; \
                     the schedule reads it",
                    e.workflow_run.id
                ))
            }
        }
        (Event::WorkflowRun(e), _) => {
            let run = &e.workflow_run;
            let name = run.name.clone().unwrap_or_default();
            if e.action != "completed" {
                return Route::Nothing(format!("workflow_run {} (not completed)", e.action));
            }
            if run
                .head_branch
                .as_deref()
                .is_some_and(|b| crate::jobs::heal::is_heal_branch(config, b))
            {
                return if config.heal.enabled && config.heal.verify {
                    Route::HealVerify { run_id: run.id }
                } else {
                    Route::Nothing("a run on a heal branch; verification is off".into())
                };
            }
            if e.is_failure() {
                let watched =
                    config::workflow_selected(&config.analyze.workflows, &name, e.workflow_path())
                        || config::workflow_selected(
                            &config.retry.workflows,
                            &name,
                            e.workflow_path(),
                        );
                if !watched {
                    return Route::Nothing(format!("workflow {name:?} is not watched"));
                }
                Route::FailedRun { run_id: run.id }
            } else if run.conclusion == Some(crate::event::Conclusion::Success) {
                Route::PassedRun { run_id: run.id }
            } else {
                Route::Nothing(format!(
                    "run {} concluded {}",
                    run.id,
                    run.conclusion
                        .as_ref()
                        .map_or("without a conclusion", |c| c.as_str())
                ))
            }
        }
        (Event::Issues(e), _) => {
            let labels: Vec<&str> = e.issue.labels.iter().map(|l| l.name.as_str()).collect();
            let relevant = matches!(e.action.as_str(), "opened" | "labeled" | "reopened");
            let tagged = labels.contains(&config::LABEL_AUTO_HEAL)
                && labels.contains(&config::LABEL_WORKFLOW_FAILURE);
            if e.issue.pull_request.is_some() {
                Route::Nothing("a pull request, not an issue".into())
            } else if !relevant {
                Route::Nothing(format!("issues {} needs no action", e.action))
            } else if !tagged {
                Route::Nothing(format!(
                    "issue #{} lacks the `{}` and `{}` labels",
                    e.issue.number,
                    config::LABEL_AUTO_HEAL,
                    config::LABEL_WORKFLOW_FAILURE
                ))
            } else if labels.contains(&config::LABEL_NEEDS_MANUAL_FIX) {
                Route::Nothing(format!("issue #{} needs a manual fix", e.issue.number))
            } else {
                Route::Heal {
                    issue: e.issue.number,
                }
            }
        }
        (other, _) => Route::Nothing(format!("event {} is not handled", other.name())),
    }
}

/// A restart's result: a completed `workflow_dispatch` run of a watched
/// trunk workflow on the restart tag of its own commit. It wakes autorevert
/// in autorevert's own workflow, so the next round of restarts waits for
/// the run rather than for the schedule. Push runs are left to the
/// schedule: waking on each of them too brought reverts little sooner for
/// more restarts (the simulator's figures in the README).
pub fn is_restart_result(event: &Event, config: &Config) -> bool {
    let Event::WorkflowRun(e) = event else {
        return false;
    };
    let run = &e.workflow_run;
    config.autorevert.enabled
        && e.action == "completed"
        && run.event == crate::autorevert::RESTART_EVENT
        && run
            .head_branch
            .as_deref()
            .is_some_and(|b| crate::autorevert::is_restart_branch(b, &run.head_sha))
        && config::workflow_selected(
            &config.autorevert.workflows,
            run.name.as_deref().unwrap_or_default(),
            e.workflow_path(),
        )
}
