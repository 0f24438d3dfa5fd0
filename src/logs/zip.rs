//! Run log archives as GitHub serves them (`GET .../runs/{id}/logs`).
//!
//! Two layouts exist, often in the same archive:
//! - one file per job at the top level, `N_jobname.txt` (N is the job's
//!   position; a second file with the same name gets ` (1)`);
//! - one folder per job, `jobname/N_stepname.txt`, one file per step
//!   (N is the step number; `/` in names is dropped by GitHub).

use std::io::{Read, Seek};

use anyhow::{Context, Result};

use super::clean;
use super::reader::LineReader;
use super::scan::StepStart;

/// A step file inside a job folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipStep {
    pub number: usize,
    pub name: String,
    /// Path inside the archive.
    pub path: String,
}

/// One job of a run archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipJob {
    /// Job name as the archive spells it (collision suffix removed).
    pub name: String,
    /// Position from the `N_` prefix of the top-level file, if any.
    pub number: Option<usize>,
    /// Path of the top-level job log, if the archive has one.
    pub log: Option<String>,
    /// Per-step files, ordered by step number.
    pub steps: Vec<ZipStep>,
    /// The top-level file carried a ` (k)` collision suffix.
    pub duplicate: bool,
}

/// Splits `N_rest` into `(N, rest)`.
fn numbered(name: &str) -> Option<(usize, &str)> {
    let (n, rest) = name.split_once('_')?;
    if n.is_empty() || !n.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((n.parse().ok()?, rest))
}

/// Removes a ` (k)` collision suffix.
fn strip_collision(name: &str) -> (&str, bool) {
    if let Some(open) = name.rfind(" (") {
        let inner = &name[open + 2..];
        if let Some(digits) = inner.strip_suffix(')')
            && !digits.is_empty()
            && digits.bytes().all(|c| c.is_ascii_digit())
        {
            return (&name[..open], true);
        }
    }
    (name, false)
}

/// Lists the jobs of an archive from its entry names.
pub fn list_jobs(names: &[String]) -> Vec<ZipJob> {
    let mut folders: Vec<&str> = Vec::new();
    for path in names {
        if let Some((folder, _)) = path.split_once('/')
            && !folders.contains(&folder)
        {
            folders.push(folder);
        }
    }
    let mut jobs: Vec<ZipJob> = Vec::new();
    let mut steps: Vec<(String, ZipStep)> = Vec::new();
    for path in names {
        if path.ends_with('/') {
            continue;
        }
        let Some(stem) = path.strip_suffix(".txt") else {
            continue;
        };
        match stem.split_once('/') {
            None => {
                let (number, rest) = match numbered(stem) {
                    Some((n, r)) => (Some(n), r),
                    None => (None, stem),
                };
                // A matrix job can be named `test (3)`: only treat ` (k)` as a
                // collision suffix when no folder carries the full name.
                let (name, duplicate) = match strip_collision(rest) {
                    (base, true) if !folders.contains(&rest) => (base, true),
                    _ => (rest, false),
                };
                jobs.push(ZipJob {
                    name: name.to_string(),
                    number,
                    log: Some(path.clone()),
                    steps: Vec::new(),
                    duplicate,
                });
            }
            Some((folder, file)) => {
                if file.contains('/') {
                    continue;
                }
                let (number, name) = numbered(file).unwrap_or((usize::MAX, file));
                let step = ZipStep {
                    number,
                    name: name.to_string(),
                    path: path.clone(),
                };
                steps.push((folder.to_string(), step));
            }
        }
    }
    // Files without a collision suffix come first so that a step folder
    // attaches to the real job log rather than to its ` (1)` twin.
    jobs.sort_by(|a, b| a.duplicate.cmp(&b.duplicate).then(a.log.cmp(&b.log)));
    for (folder, step) in steps {
        let idx = match jobs.iter().position(|j| j.name == folder) {
            Some(i) => i,
            None => {
                jobs.push(ZipJob {
                    name: folder,
                    number: None,
                    log: None,
                    steps: Vec::new(),
                    duplicate: false,
                });
                jobs.len() - 1
            }
        };
        if let Some(job) = jobs.get_mut(idx) {
            job.steps.push(step);
        }
    }
    for job in &mut jobs {
        job.steps
            .sort_by(|a, b| a.number.cmp(&b.number).then(a.path.cmp(&b.path)));
    }
    jobs.sort_by(|a, b| {
        a.number
            .unwrap_or(usize::MAX)
            .cmp(&b.number.unwrap_or(usize::MAX))
            .then(a.log.is_none().cmp(&b.log.is_none()))
            .then(a.name.cmp(&b.name))
            .then(a.duplicate.cmp(&b.duplicate))
            .then(a.log.cmp(&b.log))
    });
    jobs
}

/// Entry names of an archive (lossy for non-UTF-8 names).
pub fn entry_names<R: Read + Seek>(archive: &zip::ZipArchive<R>) -> Vec<String> {
    archive
        .file_names_raw()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect()
}

/// Reads each step file's first line so a job log can be split at the same
/// places (the job log repeats the step files' lines, with timestamps that
/// may differ in the last digits).
pub fn step_starts<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    job: &ZipJob,
) -> Result<Vec<StepStart>> {
    let mut out = Vec::new();
    for step in &job.steps {
        let file = archive
            .by_name(&step.path)
            .with_context(|| format!("reading {} from the archive", step.path))?;
        let mut reader = LineReader::new(std::io::BufReader::new(file));
        if let Some(first) = reader.next_line()? {
            let text = clean::clean_gha_line(first.bytes);
            if !text.is_empty() {
                out.push(StepStart {
                    number: step.number,
                    name: step.name.clone(),
                    first_text: text,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn both_layouts_and_collisions() {
        let jobs = list_jobs(&names(&[
            "build/9_Complete job.txt",
            "build/4_Build with Maven.txt",
            "build/",
            "1_build.txt",
            "1_build (1).txt",
            "build/1_Set up job.txt",
            "lint/2_Run ruff.txt",
            "lint/1_Set up job.txt",
        ]));
        assert_eq!(jobs.len(), 3);
        assert_eq!(jobs[0].name, "build");
        assert_eq!(jobs[0].log.as_deref(), Some("1_build.txt"));
        assert_eq!(
            jobs[0].steps.iter().map(|s| s.number).collect::<Vec<_>>(),
            vec![1, 4, 9]
        );
        assert_eq!(jobs[1].log.as_deref(), Some("1_build (1).txt"));
        assert!(jobs[1].steps.is_empty());
        assert_eq!(jobs[2].name, "lint");
        assert_eq!(jobs[2].log, None);
        assert_eq!(jobs[2].steps[1].name, "Run ruff");
    }

    #[test]
    fn collision_suffix() {
        assert_eq!(strip_collision("build (1)"), ("build", true));
        assert_eq!(strip_collision("build (ubuntu)"), ("build (ubuntu)", false));
        let jobs = list_jobs(&names(&["1_test (3).txt", "test (3)/1_Set up job.txt"]));
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].name, "test (3)");
        assert_eq!(numbered("12_x_y"), Some((12, "x_y")));
        assert_eq!(numbered("x_y"), None);
    }
}
