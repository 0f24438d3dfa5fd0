//! Downstream (out-of-tree) results: the latest attempt of each job on each
//! pull request's current head, summed up per backend.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use super::model::{DownstreamJob, Outcome, PullView};

/// One backend's summary row.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub repo: String,
    pub slug: String,
    pub levels: Vec<String>,
    pub prs: usize,
    pub jobs: usize,
    pub passed: usize,
    pub failed: usize,
    /// Passed of completed jobs, 0..=1; `None` when none completed.
    pub pass_rate: Option<f64>,
    pub avg_duration_s: Option<f64>,
    pub last_run: Option<DateTime<Utc>>,
}

/// The file name (without `.html`) of a backend's page: letters, digits and
/// dashes from its name, and a hash of the whole name so two names that
/// read alike never share a page.
pub fn slug(repo: &str) -> String {
    let mut s: String = repo
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    s = s.trim_matches('-').to_string();
    let digest = Sha256::digest(repo.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    if s.is_empty() {
        hex
    } else {
        format!("{s}-{hex}")
    }
}

/// When a pull request's latest result came, and on which head.
type Latest<'a> = (Option<DateTime<Utc>>, &'a str);

fn when(j: &DownstreamJob) -> Option<DateTime<Utc>> {
    j.completed_at.or(j.started_at)
}

/// The jobs that count: on each pull request's current head (the open pull
/// request's head when the snapshot has it, else the head of its latest
/// result), the latest attempt of each job.
pub fn current(jobs: &[DownstreamJob], prs: &[PullView]) -> Vec<DownstreamJob> {
    let heads: HashMap<u64, &str> = prs
        .iter()
        .filter(|p| !p.head_sha.is_empty())
        .map(|p| (p.number, p.head_sha.as_str()))
        .collect();
    let mut latest_head: HashMap<(&str, u64), Latest> = HashMap::new();
    for j in jobs {
        let e = latest_head
            .entry((j.downstream_repo.as_str(), j.pr_number))
            .or_insert((when(j), j.head_sha.as_str()));
        if when(j) > e.0 {
            *e = (when(j), j.head_sha.as_str());
        }
    }
    let mut best: BTreeMap<(&str, u64, &str, &str), &DownstreamJob> = BTreeMap::new();
    for j in jobs {
        let head = heads
            .get(&j.pr_number)
            .copied()
            .or_else(|| {
                latest_head
                    .get(&(j.downstream_repo.as_str(), j.pr_number))
                    .map(|e| e.1)
            })
            .unwrap_or_default();
        if !j.head_sha.is_empty() && !head.is_empty() && j.head_sha != head {
            continue;
        }
        let key = (
            j.downstream_repo.as_str(),
            j.pr_number,
            j.workflow_name.as_str(),
            j.job_name.as_str(),
        );
        match best.get(&key) {
            Some(b) if (b.run_attempt, b.run_id, when(b)) >= (j.run_attempt, j.run_id, when(j)) => {
            }
            _ => {
                best.insert(key, j);
            }
        }
    }
    best.into_values().cloned().collect()
}

/// Backends sorted by pass rate (best first; none completed last), then name.
pub fn backends(current: &[DownstreamJob]) -> Vec<Backend> {
    let mut by: BTreeMap<&str, Vec<&DownstreamJob>> = BTreeMap::new();
    for j in current {
        by.entry(j.downstream_repo.as_str()).or_default().push(j);
    }
    let mut out: Vec<Backend> = by
        .into_iter()
        .map(|(repo, jobs)| {
            let passed = jobs
                .iter()
                .filter(|j| j.outcome() == Outcome::Success)
                .count();
            let failed = jobs
                .iter()
                .filter(|j| j.outcome() == Outcome::Failure)
                .count();
            let completed = jobs
                .iter()
                .filter(|j| matches!(j.outcome(), Outcome::Success | Outcome::Failure))
                .count();
            let durations: Vec<f64> = jobs.iter().filter_map(|j| j.duration_s()).collect();
            Backend {
                repo: repo.to_string(),
                slug: slug(repo),
                levels: jobs
                    .iter()
                    .map(|j| j.level.clone())
                    .filter(|l| !l.is_empty())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                prs: jobs
                    .iter()
                    .map(|j| j.pr_number)
                    .collect::<BTreeSet<_>>()
                    .len(),
                jobs: jobs.len(),
                passed,
                failed,
                pass_rate: (completed > 0).then(|| passed as f64 / completed as f64),
                avg_duration_s: (!durations.is_empty())
                    .then(|| durations.iter().sum::<f64>() / durations.len() as f64),
                last_run: jobs.iter().filter_map(|j| when(j)).max(),
            }
        })
        .collect();
    sort(&mut out);
    out
}

/// The summary's order: by pass rate (best first; none completed last),
/// then name.
pub fn sort(backends: &mut [Backend]) {
    backends.sort_by(|a, b| {
        let ka = a.pass_rate.unwrap_or(-1.0);
        let kb = b.pass_rate.unwrap_or(-1.0);
        kb.total_cmp(&ka).then_with(|| a.repo.cmp(&b.repo))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(repo: &str, pr: u64, sha: &str, name: &str, attempt: u64, concl: &str) -> DownstreamJob {
        DownstreamJob {
            downstream_repo: repo.into(),
            level: "L2".into(),
            pr_number: pr,
            head_sha: sha.into(),
            workflow_name: "ci".into(),
            job_name: name.into(),
            run_id: 1,
            run_attempt: attempt,
            status: Some("completed".into()),
            conclusion: Some(concl.into()),
            started_at: None,
            completed_at: None,
            execution_time_s: Some(60.0),
            tests_total: None,
            tests_failed: None,
            log_url: None,
            trusted: true,
        }
    }

    #[test]
    fn only_the_latest_attempt_on_the_current_head_counts() {
        let jobs = vec![
            job("a/npu", 1, "old", "test", 1, "failure"),
            job("a/npu", 1, "new", "test", 1, "failure"),
            job("a/npu", 1, "new", "test", 2, "success"),
            job("b/xpu", 1, "new", "build", 1, "failure"),
        ];
        let prs = vec![PullView {
            number: 1,
            title: String::new(),
            head_sha: "new".into(),
            url: None,
            jobs: vec![],
        }];
        let cur = current(&jobs, &prs);
        assert_eq!(cur.len(), 2);
        let b = backends(&cur);
        assert_eq!(b[0].repo, "a/npu");
        assert_eq!(b[0].pass_rate, Some(1.0));
        assert_eq!(b[1].pass_rate, Some(0.0));
        assert_eq!(b[0].avg_duration_s, Some(60.0));
    }

    #[test]
    fn slugs_are_file_names_and_do_not_collide() {
        let a = slug("../../etc/passwd");
        assert!(
            a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{a}"
        );
        assert_ne!(slug("a/b"), slug("a-b"));
        assert!(!slug("<>").is_empty());
    }
}
