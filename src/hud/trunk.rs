//! The trunk grid from a trunk snapshot (the one autorevert decides on):
//! one grid per workflow, commits by signals, with autorevert's reading of
//! each suspect.

use std::collections::BTreeMap;

use crate::autorevert::detect::{Params, Verdict};
use crate::autorevert::grid::job_url;
use crate::autorevert::signal::Column;
use crate::history::snapshot::{Outcome as JobOutcome, Snapshot};

use super::model::{Decision, Outcome, TrunkCell, TrunkGrid, TrunkRow};
use super::pages::{MAX_SIGNALS, MAX_TRUNK_COMMITS};

fn action(v: Verdict) -> &'static str {
    match v {
        Verdict::Revert => "revert",
        Verdict::Notify => "notify",
        Verdict::Restart => "restart",
        Verdict::Ineligible => "none",
    }
}

fn cell(snapshot: &Snapshot, server_url: &str, column: &Column, commit: usize) -> TrunkCell {
    let events = column.events_on(commit);
    let outcome = if events.iter().any(|e| e.outcome == JobOutcome::Failure) {
        Outcome::Failure
    } else if events.iter().any(|e| e.outcome == JobOutcome::Success) {
        Outcome::Success
    } else if events.iter().any(|e| e.outcome == JobOutcome::Pending) {
        Outcome::Pending
    } else {
        Outcome::Missing
    };
    let url = events
        .last()
        .and_then(|e| e.jobs.first())
        .and_then(|j| snapshot.jobs.get(*j))
        .map(|j| job_url(&snapshot.repo, server_url, j));
    TrunkCell {
        outcome,
        restarted: events.iter().any(|e| e.restart),
        url,
    }
}

/// One grid per workflow, newest commit first, cut to the page's limits.
pub fn grids(snapshot: &Snapshot, params: &Params, server_url: &str) -> Vec<TrunkGrid> {
    let (signals, detection) = crate::autorevert::analyze(snapshot, params);
    let mut by_workflow: BTreeMap<&str, Vec<&Column>> = BTreeMap::new();
    for c in &signals.columns {
        by_workflow.entry(c.workflow.as_str()).or_default().push(c);
    }
    by_workflow
        .into_iter()
        .map(|(workflow, mut columns)| {
            columns.truncate(MAX_SIGNALS);
            let commits = snapshot
                .commits
                .iter()
                .enumerate()
                .take(MAX_TRUNK_COMMITS)
                .map(|(i, c)| TrunkRow {
                    sha: c.sha.clone(),
                    title: c.title().to_string(),
                    time: Some(c.time),
                    cells: columns
                        .iter()
                        .map(|col| cell(snapshot, server_url, col, i))
                        .collect(),
                    decision: detection
                        .patterns
                        .iter()
                        .find(|p| p.suspect == i && p.workflows.iter().any(|w| w == workflow))
                        .map(|p| Decision {
                            action: action(p.verdict).to_string(),
                            verdict: p.verdict.as_str().to_string(),
                            reason: p.reason.clone(),
                        }),
                })
                .collect();
            TrunkGrid {
                workflow: workflow.to_string(),
                signals: columns.iter().map(|c| c.job.clone()).collect(),
                commits,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmed_fixture_marks_its_suspect_for_revert() {
        let text = include_str!("../../fixtures/autorevert/confirmed.json");
        let snap: Snapshot = serde_json::from_str(text).unwrap();
        let grids = grids(&snap, &Params::default(), "https://github.com");
        let names: Vec<&str> = grids.iter().map(|g| g.workflow.as_str()).collect();
        assert_eq!(names, ["inductor", "pull", "trunk"]);
        for g in &grids {
            assert_eq!(g.commits.len(), snap.commits.len());
            assert!(g.commits.iter().all(|r| r.cells.len() == g.signals.len()));
        }
        let decided: Vec<&TrunkRow> = grids
            .iter()
            .flat_map(|g| &g.commits)
            .filter(|r| r.decision.is_some())
            .collect();
        assert!(!decided.is_empty());
        assert!(
            decided
                .iter()
                .all(|r| r.decision.as_ref().unwrap().verdict == "revert")
        );
        let cells = || grids.iter().flat_map(|g| &g.commits).flat_map(|r| &r.cells);
        assert!(cells().any(|c| c.restarted));
        assert!(cells().any(|c| c.outcome == Outcome::Failure));
    }
}
