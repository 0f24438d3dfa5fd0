//! Run log archives as GitHub serves them (`GET .../runs/{id}/logs`).
//!
//! Two layouts exist, often in the same archive:
//! - one file per job at the top level, `N_jobname.txt` (N is the job's
//!   position; a second file with the same name gets ` (1)`);
//! - one folder per job, `jobname/N_stepname.txt`, one file per step
//!   (N is the step number; `/` in names is dropped by GitHub).

use std::collections::{HashMap, HashSet};
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
///
/// Linear in the number of names (up to the final sorts): folder names and
/// job names are looked up in hash maps, never by scanning the lists built so
/// far, so an archive of many thousand members lists as fast as it is read.
pub fn list_jobs(names: &[String]) -> Vec<ZipJob> {
    let folders: HashSet<&str> = names
        .iter()
        .filter_map(|path| path.split_once('/').map(|(folder, _)| folder))
        .collect();
    let mut jobs: Vec<ZipJob> = Vec::new();
    let mut steps: Vec<(&str, ZipStep)> = Vec::new();
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
                    (base, true) if !folders.contains(rest) => (base, true),
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
                steps.push((folder, step));
            }
        }
    }
    // Files without a collision suffix come first so that a step folder
    // attaches to the real job log rather than to its ` (1)` twin: the first
    // job of each name after this sort is the one a folder belongs to.
    jobs.sort_by(|a, b| a.duplicate.cmp(&b.duplicate).then(a.log.cmp(&b.log)));
    let mut by_name: HashMap<String, usize> = HashMap::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        by_name.entry(job.name.clone()).or_insert(i);
    }
    for (folder, step) in steps {
        let idx = *by_name.entry(folder.to_string()).or_insert_with(|| {
            jobs.push(ZipJob {
                name: folder.to_string(),
                number: None,
                log: None,
                steps: Vec::new(),
                duplicate: false,
            });
            jobs.len() - 1
        });
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

/// Default for `analyze.max-archive-bytes`: decompressed bytes read from one
/// run archive. Logs compress about tenfold, so this is four times what the
/// default `analyze.max-log-bytes` download (256 MiB) usually holds.
pub const DEFAULT_MAX_ARCHIVE_BYTES: u64 = 1024 * 1024 * 1024;

/// Default for `analyze.max-archive-entries`: members of one run archive. A
/// run has at most a few hundred jobs of at most a few hundred steps each.
pub const DEFAULT_MAX_ARCHIVE_ENTRIES: usize = 100_000;

/// What a run archive may cost to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Decompressed bytes read from all members together.
    pub max_bytes: u64,
    /// Members (files and folders) in the archive.
    pub max_entries: usize,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_bytes: DEFAULT_MAX_ARCHIVE_BYTES,
            max_entries: DEFAULT_MAX_ARCHIVE_ENTRIES,
        }
    }
}

/// Why a run archive is refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(
        "the archive has {count} members, more than the {max} allowed (analyze.max-archive-entries)"
    )]
    TooManyEntries { count: usize, max: usize },
    #[error("the archive decompresses to more than {max} bytes (analyze.max-archive-bytes)")]
    TooLarge { max: u64 },
    #[error("the archive has members sharing the same bytes (a zip bomb); refused")]
    Overlapping,
    #[error("not a readable zip archive: {0}")]
    Zip(#[from] zip::result::ZipError),
}

/// A run archive opened under [`ArchiveLimits`]: the member count, the
/// declared sizes and overlapping members are checked when it is opened, and
/// every byte read from a member is counted against the byte limit (declared
/// sizes can lie).
pub struct RunArchive<R> {
    archive: zip::ZipArchive<R>,
    names: Vec<String>,
    max_bytes: u64,
    /// Decompressed bytes still allowed.
    remaining: u64,
}

impl<R: Read + Seek> RunArchive<R> {
    pub fn open(reader: R, limits: ArchiveLimits) -> Result<Self, ArchiveError> {
        let mut archive = zip::ZipArchive::new(reader)?;
        if archive.len() > limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                count: archive.len(),
                max: limits.max_entries,
            });
        }
        let mut declared = 0u64;
        for i in 0..archive.len() {
            declared = declared.saturating_add(archive.by_index_data(i)?.size());
        }
        if declared > limits.max_bytes {
            return Err(ArchiveError::TooLarge {
                max: limits.max_bytes,
            });
        }
        // Members whose data (or headers) share bytes let a small archive
        // decompress to many times its size.
        if archive.has_overlapping_entries()? {
            return Err(ArchiveError::Overlapping);
        }
        let names = entry_names(&archive);
        Ok(RunArchive {
            archive,
            names,
            max_bytes: limits.max_bytes,
            remaining: limits.max_bytes,
        })
    }

    /// Member names, in archive order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The jobs of the archive.
    pub fn jobs(&self) -> Vec<ZipJob> {
        list_jobs(&self.names)
    }

    /// A member's decompressed bytes, counted against the archive's limit:
    /// reading past it fails with [`ArchiveError::TooLarge`] inside an
    /// [`std::io::Error`].
    pub fn entry(&mut self, path: &str) -> Result<impl Read + '_, ArchiveError> {
        let file = self.archive.by_name(path)?;
        Ok(Budgeted {
            inner: file,
            remaining: &mut self.remaining,
            max: self.max_bytes,
        })
    }

    /// Reads each step file's first line so a job log can be split at the
    /// same places (the job log repeats the step files' lines, with
    /// timestamps that may differ in the last digits).
    pub fn step_starts(&mut self, job: &ZipJob) -> Result<Vec<StepStart>> {
        let mut out = Vec::new();
        for step in &job.steps {
            let file = self
                .entry(&step.path)
                .with_context(|| format!("reading {} from the archive", step.path))?;
            let mut reader = LineReader::new(std::io::BufReader::new(file));
            if let Some(first) = reader
                .next_line()
                .with_context(|| format!("reading {} from the archive", step.path))?
            {
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
}

/// A reader that draws every byte it yields from a shared allowance.
struct Budgeted<'a, R> {
    inner: R,
    remaining: &'a mut u64,
    max: u64,
}

impl<R: Read> Read for Budgeted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Ask for one byte more than allowed, so that running out is seen
        // as soon as the allowance is spent, not one read later.
        let want = buf
            .len()
            .min(usize::try_from(self.remaining.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > *self.remaining {
            *self.remaining = 0;
            return Err(std::io::Error::other(ArchiveError::TooLarge {
                max: self.max,
            }));
        }
        *self.remaining -= n as u64;
        Ok(n)
    }
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

    /// A zip of `(name, bytes)` members, deflated.
    fn archive(members: &[(String, Vec<u8>)]) -> Vec<u8> {
        use std::io::Write as _;
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut w = ::zip::ZipWriter::new(&mut buf);
            let opts = ::zip::write::SimpleFileOptions::default()
                .compression_method(::zip::CompressionMethod::Deflated);
            for (name, data) in members {
                w.start_file(name.as_str(), opts).unwrap();
                w.write_all(data).unwrap();
            }
            w.finish().unwrap();
        }
        buf.into_inner()
    }

    fn open(
        bytes: Vec<u8>,
        limits: ArchiveLimits,
    ) -> Result<RunArchive<std::io::Cursor<Vec<u8>>>, ArchiveError> {
        RunArchive::open(std::io::Cursor::new(bytes), limits)
    }

    #[test]
    fn many_members_list_every_job_with_its_steps() {
        // 20,000 jobs with a log and three step files each: an archive of
        // 80,000 members. Listing used to scan the jobs found so far for
        // every step file.
        use std::io::Write as _;
        let jobs = 20_000;
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut w = ::zip::ZipWriter::new(&mut buf);
            let opts = ::zip::write::SimpleFileOptions::default()
                .compression_method(::zip::CompressionMethod::Stored);
            for j in 0..jobs {
                w.start_file(format!("{}_job {j}.txt", j + 1), opts)
                    .unwrap();
                w.write_all(b"log\n").unwrap();
                for s in [3, 1, 2] {
                    w.start_file(format!("job {j}/{s}_step {s}.txt"), opts)
                        .unwrap();
                    w.write_all(b"step\n").unwrap();
                }
            }
            w.finish().unwrap();
        }
        let archive = open(buf.into_inner(), ArchiveLimits::default()).unwrap();
        assert_eq!(archive.names().len(), jobs * 4);
        let listed = archive.jobs();
        assert_eq!(listed.len(), jobs);
        for (j, job) in listed.iter().enumerate() {
            assert_eq!(job.name, format!("job {j}"));
            assert_eq!(job.number, Some(j + 1));
            assert_eq!(
                job.log.as_deref(),
                Some(format!("{}_job {j}.txt", j + 1).as_str())
            );
            assert_eq!(
                job.steps
                    .iter()
                    .map(|s| (s.number, s.path.as_str()))
                    .collect::<Vec<_>>(),
                vec![
                    (1, format!("job {j}/1_step 1.txt").as_str()),
                    (2, format!("job {j}/2_step 2.txt").as_str()),
                    (3, format!("job {j}/3_step 3.txt").as_str()),
                ]
            );
        }
    }

    #[test]
    fn folders_without_a_log_become_jobs_once() {
        let jobs = list_jobs(&names(&[
            "b/2_Two.txt",
            "a/1_One.txt",
            "b/1_One.txt",
            "a/2_Two.txt",
        ]));
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].name, "a");
        assert_eq!(jobs[1].name, "b");
        assert!(jobs.iter().all(|j| j.log.is_none() && j.steps.len() == 2));
    }

    #[test]
    fn archives_within_limits_open_and_read() {
        let bytes = archive(&[
            ("1_build.txt".into(), b"line one\nline two\n".to_vec()),
            ("build/1_Set up job.txt".into(), b"line one\n".to_vec()),
        ]);
        let mut a = open(bytes, ArchiveLimits::default()).unwrap();
        assert_eq!(a.names().len(), 2);
        let jobs = a.jobs();
        assert_eq!(jobs.len(), 1);
        let starts = a.step_starts(&jobs[0]).unwrap();
        assert_eq!(starts[0].first_text, b"line one");
        let mut text = String::new();
        a.entry("1_build.txt")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "line one\nline two\n");
    }

    #[test]
    fn too_many_members_are_refused() {
        let members: Vec<_> = (0..11)
            .map(|i| (format!("{i}_j.txt"), b"x\n".to_vec()))
            .collect();
        let limits = ArchiveLimits {
            max_entries: 10,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            open(archive(&members), limits),
            Err(ArchiveError::TooManyEntries { count: 11, max: 10 })
        ));
        assert!(open(archive(&members[..10]), limits).is_ok());
    }

    #[test]
    fn archives_declaring_more_than_the_byte_limit_are_refused() {
        // 4 MiB of zeros deflate to a few kilobytes.
        let bomb = archive(&[("1_job.txt".into(), vec![0u8; 4 << 20])]);
        assert!(bomb.len() < 64 * 1024);
        let limits = ArchiveLimits {
            max_bytes: 1 << 20,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            open(bomb, limits),
            Err(ArchiveError::TooLarge { max }) if max == 1 << 20
        ));
    }

    #[test]
    fn overlapping_members_are_refused() {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            use std::io::Write as _;
            let mut w = ::zip::ZipWriter::new(&mut buf);
            w.start_file("1_job.txt", ::zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(b"the same bytes, many times\n").unwrap();
            for i in 2..5 {
                w.shallow_copy_file("1_job.txt", &format!("{i}_job.txt"))
                    .unwrap();
            }
            w.finish().unwrap();
        }
        assert!(matches!(
            open(buf.into_inner(), ArchiveLimits::default()),
            Err(ArchiveError::Overlapping)
        ));
    }

    #[test]
    fn an_archive_lying_about_its_sizes_is_stopped_at_the_limit() {
        let mut bytes = archive(&[("1_job.txt".into(), vec![b'a'; 100_000])]);
        // Declare 10 bytes uncompressed in the local and central headers.
        let patch = |bytes: &mut Vec<u8>, magic: &[u8], offset: usize| {
            let at = bytes.windows(4).position(|w| w == magic).unwrap() + offset;
            bytes[at..at + 4].copy_from_slice(&10u32.to_le_bytes());
        };
        patch(&mut bytes, b"PK\x03\x04", 22);
        patch(&mut bytes, b"PK\x01\x02", 24);
        let limits = ArchiveLimits {
            max_bytes: 1000,
            ..ArchiveLimits::default()
        };
        let mut a = open(bytes, limits).unwrap();
        // Either the zip reader (which checks declared sizes) or the byte
        // limit stops it; nothing past the limit is ever handed out.
        let mut out = Vec::new();
        assert!(a.entry("1_job.txt").unwrap().read_to_end(&mut out).is_err());
        assert!(out.len() <= 1000);
    }

    #[test]
    fn bytes_read_count_against_the_limit_whatever_the_headers_say() {
        // The allowance is shared by every member read from one archive.
        let mut remaining = 10u64;
        let mut first = Vec::new();
        Budgeted {
            inner: &b"0123456"[..],
            remaining: &mut remaining,
            max: 10,
        }
        .read_to_end(&mut first)
        .unwrap();
        assert_eq!(first, b"0123456");
        let mut second = Vec::new();
        let err = Budgeted {
            inner: &b"789ab"[..],
            remaining: &mut remaining,
            max: 10,
        }
        .read_to_end(&mut second)
        .unwrap_err();
        assert!(err.to_string().contains("more than 10 bytes"), "{err}");
        assert!(second.len() <= 3);
        // Exactly the allowance is fine.
        let mut exact = 3u64;
        let mut out = Vec::new();
        Budgeted {
            inner: &b"abc"[..],
            remaining: &mut exact,
            max: 3,
        }
        .read_to_end(&mut out)
        .unwrap();
        assert_eq!(out, b"abc");
    }
}
