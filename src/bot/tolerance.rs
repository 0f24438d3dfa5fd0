//! Failures a merge may tolerate: those our own `Dr. CI` check run on the
//! pinned head classifies as FLAKY, BROKEN TRUNK or UNSTABLE, up to
//! `commands.merge.ignorable-failures` of them (PyTorch's
//! `ignore_flaky_failures` turns this on per merge rule).
//!
//! The classification is read from the check run's summary, which is the
//! Dr. CI comment: one `<details>` section per class, one `* \`job\``
//! line per job. A failing workflow run is tolerated only when every job
//! that failed in it is listed in an unrelated class; a NEW or
//! UNCLASSIFIED job anywhere in the summary tolerates nothing, and a check
//! run not written by ci-medic is never read.

use std::collections::BTreeMap;

use crate::drci::Class;
use crate::github::Client;
use crate::github::GithubError;
use crate::github::checks::CheckRunInfo;
use crate::github::types::RunInfo;
use crate::report::markdown::code;

/// What our Dr. CI check run says about the head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrciView {
    /// Each listed job, as the summary renders its name, and its class.
    pub jobs: Vec<(String, Class)>,
    /// Jobs per class, as the section headers count them (a long section
    /// lists only its first jobs).
    pub counts: BTreeMap<Class, usize>,
}

impl DrciView {
    /// Failures Dr. CI says the pull request did not cause.
    pub fn unrelated(&self) -> usize {
        self.counts
            .iter()
            .filter(|(c, _)| c.is_unrelated())
            .map(|(_, n)| n)
            .sum()
    }

    /// Failures that are the pull request's, or cannot be told apart.
    pub fn blocking(&self) -> usize {
        self.counts
            .iter()
            .filter(|(c, _)| matches!(c, Class::New | Class::Unclassified))
            .map(|(_, n)| n)
            .sum()
    }

    /// The class of the job the summary renders as `rendered`.
    fn class_of(&self, rendered: &str) -> Option<Class> {
        self.jobs
            .iter()
            .find(|(name, _)| name == rendered)
            .map(|(_, c)| *c)
    }
}

/// The class a section title starts with.
fn class_of_title(title: &str) -> Option<Class> {
    let head = title.split(':').next().unwrap_or_default().trim();
    Some(match head {
        "NEW FAILURES" => Class::New,
        "UNCLASSIFIED" => Class::Unclassified,
        "FLAKY" => Class::Flaky,
        "BROKEN TRUNK" => Class::BrokenTrunk,
        "UNSTABLE" => Class::Unstable,
        "PENDING" => Class::Pending,
        "AWAITING APPROVAL" => Class::AwaitingApproval,
        "CANCELLED" => Class::Cancelled,
        _ => return None,
    })
}

/// Read a Dr. CI summary. Pure; text it does not recognise is skipped.
pub fn read_summary(summary: &str) -> DrciView {
    let mut view = DrciView::default();
    let mut section: Option<Class> = None;
    for line in summary.lines() {
        if let Some(rest) = line.strip_prefix("<details")
            && let Some((_, after)) = rest.split_once("<summary><b>")
        {
            section = None;
            let Some((title, tail)) = after.split_once("</b>") else {
                continue;
            };
            let Some(class) = class_of_title(title) else {
                continue;
            };
            let count = tail
                .trim_start()
                .strip_prefix('(')
                .and_then(|t| t.split_once(')'))
                .and_then(|(n, _)| n.parse::<usize>().ok());
            let Some(count) = count else { continue };
            *view.counts.entry(class).or_default() += count;
            section = Some(class);
            continue;
        }
        if line.starts_with("</details>") {
            section = None;
            continue;
        }
        let Some(class) = section else { continue };
        let Some(item) = line.strip_prefix("* ") else {
            continue;
        };
        let item = item.strip_prefix('[').unwrap_or(item);
        let Some(inner) = item.strip_prefix('`').and_then(|t| t.split_once('`')) else {
            continue;
        };
        view.jobs.push((format!("`{}`", inner.0), class));
    }
    view
}

/// Our completed Dr. CI check run named `name` among `check_runs`, read.
pub fn own_view(client: &Client, check_runs: &[CheckRunInfo], name: &str) -> Option<DrciView> {
    check_runs
        .iter()
        .filter(|r| r.name == name && r.status.is_completed() && client.is_own_check_run(r))
        .max_by_key(|r| r.id)
        .and_then(|r| r.output.summary.as_deref())
        .map(read_summary)
}

/// The name of the Dr. CI check run in this configuration.
pub fn check_name(config: &crate::config::Config) -> String {
    config
        .drci
        .as_ref()
        .map(|d| d.check_name.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| crate::drci::settings::DEFAULT_CHECK_NAME.to_string())
}

/// What a tolerant merge is decided from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// The Dr. CI check run's view, when ours is there and completed.
    pub drci: Option<DrciView>,
    /// The jobs that failed in each failing workflow run, by run name.
    pub failed_jobs: BTreeMap<String, Vec<String>>,
}

/// Read what tolerating `failing` needs: our Dr. CI view and, only when
/// there is one, the failed jobs of each failing workflow run.
pub async fn gather(
    client: &Client,
    config: &crate::config::Config,
    runs: &[RunInfo],
    check_runs: &[CheckRunInfo],
    failing: &[String],
) -> Result<Inputs, GithubError> {
    let mut inputs = Inputs::default();
    if failing.is_empty() {
        return Ok(inputs);
    }
    let Some(view) = own_view(client, check_runs, &check_name(config)) else {
        return Ok(inputs);
    };
    if view.unrelated() > 0 && view.blocking() == 0 {
        for (name, failures) in super::merge::failed_jobs(client, runs, failing).await? {
            let jobs = failures.into_iter().filter_map(|f| f.job).collect();
            inputs.failed_jobs.insert(name, jobs);
        }
    }
    inputs.drci = Some(view);
    Ok(inputs)
}

/// The failing checks split into those that block and those tolerated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gate {
    pub blocking: Vec<String>,
    pub tolerated: Vec<String>,
    /// Why nothing was tolerated, when Dr. CI counted too many.
    pub over: Option<String>,
}

/// Split `failing` (check names, as `merge::checks` gives them), tolerating
/// at most `threshold` unrelated failures. Pure.
pub fn gate(failing: &[String], inputs: &Inputs, threshold: u32, drci_name: &str) -> Gate {
    let mut g = Gate::default();
    let view = match &inputs.drci {
        Some(v) if threshold > 0 && v.blocking() == 0 => v,
        _ => {
            g.blocking = failing.to_vec();
            return g;
        }
    };
    for name in failing {
        let tolerated = name != drci_name
            && match inputs.failed_jobs.get(name) {
                // A workflow run: every failed job unrelated.
                Some(jobs) => {
                    !jobs.is_empty()
                        && jobs.iter().all(|j| {
                            view.class_of(&code(&format!("{name} / {j}")))
                                .is_some_and(Class::is_unrelated)
                        })
                }
                // A job's own check run: the jobs it can be, all unrelated.
                None => {
                    let inner = code(name);
                    let suffix = format!(" / {}", inner.trim_start_matches('`'));
                    let matching: Vec<Class> = view
                        .jobs
                        .iter()
                        .filter(|(n, _)| *n == inner || n.ends_with(&suffix))
                        .map(|(_, c)| *c)
                        .collect();
                    !matching.is_empty() && matching.iter().all(|c| c.is_unrelated())
                }
            };
        if tolerated {
            g.tolerated.push(name.clone());
        } else {
            g.blocking.push(name.clone());
        }
    }
    let unrelated = view.unrelated();
    if !g.tolerated.is_empty() && unrelated > threshold as usize {
        g.over = Some(format!(
            "Dr. CI classifies {unrelated} failures as flaky, broken trunk or unstable: more than the {threshold} a merge tolerates (`commands.merge.ignorable-failures`), so none is tolerated."
        ));
        g.blocking.append(&mut g.tolerated);
        g.blocking.sort();
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drci::Verdict;

    fn verdict(name: &str, class: Class) -> Verdict {
        Verdict {
            name: name.into(),
            class,
            reason: "r".into(),
            fingerprint: None,
            evidence: None,
            url: Some("https://example.com/job".into()),
            cause: None,
            attempt: 1,
        }
    }

    fn view_of(verdicts: &[Verdict]) -> DrciView {
        let body = crate::drci::comment::render(Some(1), "abc", "def", verdicts);
        read_summary(&body)
    }

    #[test]
    fn the_rendered_comment_reads_back_by_class() {
        let v = view_of(&[
            verdict("CI / test (`1`)", Class::Flaky),
            verdict("CI / lint", Class::BrokenTrunk),
            verdict("CI / build", Class::Pending),
        ]);
        assert_eq!(v.unrelated(), 2);
        assert_eq!(v.blocking(), 0);
        assert_eq!(
            v.class_of(&code("CI / test (`1`)")),
            Some(Class::Flaky),
            "{v:?}"
        );
        assert_eq!(v.class_of(&code("CI / lint")), Some(Class::BrokenTrunk));
        let new = view_of(&[verdict("CI / a", Class::New)]);
        assert_eq!(new.blocking(), 1);
    }

    fn inputs(verdicts: &[Verdict], jobs: &[(&str, &[&str])]) -> Inputs {
        Inputs {
            drci: Some(view_of(verdicts)),
            failed_jobs: jobs
                .iter()
                .map(|(r, js)| (r.to_string(), js.iter().map(|j| j.to_string()).collect()))
                .collect(),
        }
    }

    #[test]
    fn only_failures_every_job_of_which_is_unrelated_are_tolerated() {
        let i = inputs(
            &[
                verdict("CI / test", Class::Flaky),
                verdict("Lint / ruff", Class::Flaky),
            ],
            &[("CI", &["test"]), ("Lint", &["ruff", "mypy"])],
        );
        let g = gate(&["CI".into(), "Lint".into()], &i, 10, "Dr. CI");
        assert_eq!(g.tolerated, ["CI"]);
        assert_eq!(g.blocking, ["Lint"]);
        // Off: nothing tolerated.
        let g = gate(&["CI".into()], &i, 0, "Dr. CI");
        assert_eq!(g.blocking, ["CI"]);
        // Too many: nothing tolerated, and why.
        let g = gate(&["CI".into()], &i, 1, "Dr. CI");
        assert_eq!(g.blocking, ["CI"]);
        assert!(g.over.is_some());
    }

    #[test]
    fn a_new_failure_anywhere_tolerates_nothing() {
        let i = inputs(
            &[
                verdict("CI / test", Class::Flaky),
                verdict("CI / other", Class::New),
            ],
            &[("CI", &["test"])],
        );
        let g = gate(&["CI".into()], &i, 10, "Dr. CI");
        assert_eq!(g.blocking, ["CI"]);
        assert!(g.tolerated.is_empty());
    }
}
