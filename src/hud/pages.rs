//! The site's pages: view models built from a [`HudSnapshot`], rendered by
//! minijinja with HTML auto-escaping on for every template, so a string from
//! outside can only ever be text. Links are checked by [`LinkPolicy`] before
//! they reach a template; long tables are cut or paginated so every page
//! stays under [`MAX_PAGE_BYTES`].

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use minijinja::{AutoEscape, Environment, Value, context};
use serde::Serialize;

use super::chart;
use super::downstream::{self, Backend};
use super::links::LinkPolicy;
use super::model::{ActionKind, DownstreamJob, HudSnapshot, JobClass, Outcome};

/// A page's budget (the HUD's promise: each page under 500 KB).
pub const MAX_PAGE_BYTES: usize = 500 * 1024;
/// Characters of a title, job name or log line shown; the rest is cut.
pub const MAX_TEXT_CHARS: usize = 200;
/// Rows of the index's tables.
pub const MAX_ISSUES: usize = 500;
pub const MAX_FINGERPRINTS: usize = 50;
pub const MAX_FLAKY: usize = 50;
pub const MAX_ACTIONS: usize = 100;
/// Commits and signals of one trunk grid.
pub const MAX_TRUNK_COMMITS: usize = 50;
pub const MAX_SIGNALS: usize = 40;
/// Pull requests per page of a backend's matrix, and its job columns.
pub const MATRIX_ROWS_PER_PAGE: usize = 50;
pub const MAX_MATRIX_COLUMNS: usize = 40;
/// Jobs listed on one pull request's page.
pub const MAX_PR_JOBS: usize = 500;

const STYLE: &str = include_str!("templates/style.css");
const SCRIPT: &str = include_str!("templates/sort.js");

/// One file of the site: its path under the output directory and its bytes.
#[derive(Debug, Clone)]
pub struct Page {
    pub path: String,
    pub body: String,
}

/// Cut untrusted text to `max` characters (an ellipsis marks the cut) and
/// drop control and bidirectional-override characters.
pub fn cut(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() && !crate::report::markdown::is_bidi_control(*c))
        .collect();
    if clean.chars().count() <= max {
        return clean;
    }
    let mut s: String = clean.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

fn t(text: &str) -> String {
    cut(text, MAX_TEXT_CHARS)
}

fn time(ts: Option<DateTime<Utc>>) -> String {
    ts.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn short_sha(sha: &str) -> String {
    sha.chars().take(10).collect()
}

fn duration(s: Option<f64>) -> String {
    match s {
        Some(s) if s.is_finite() && s >= 0.0 => {
            let s = s.round() as u64;
            if s >= 3600 {
                format!("{}h {:02}m", s / 3600, s / 60 % 60)
            } else {
                format!("{}m {:02}s", s / 60, s % 60)
            }
        }
        _ => String::new(),
    }
}

/// A status as the pages show it: a symbol and a word (colour is never the
/// only signal), and a CSS class.
#[derive(Debug, Clone, Serialize)]
struct Chip {
    icon: &'static str,
    text: &'static str,
    class: &'static str,
}

fn chip(o: Outcome) -> Chip {
    match o {
        Outcome::Success => Chip {
            icon: "✓",
            text: "pass",
            class: "ok",
        },
        Outcome::Failure => Chip {
            icon: "✗",
            text: "fail",
            class: "bad",
        },
        Outcome::Pending => Chip {
            icon: "…",
            text: "pending",
            class: "wait",
        },
        Outcome::Cancelled => Chip {
            icon: "⊘",
            text: "cancelled",
            class: "off",
        },
        Outcome::Missing => Chip {
            icon: "·",
            text: "no result",
            class: "none",
        },
    }
}

fn class_chip(c: JobClass) -> Chip {
    let (icon, class) = match c {
        JobClass::New | JobClass::Unclassified => ("✗", "bad"),
        JobClass::Flaky | JobClass::BrokenTrunk | JobClass::Unstable => ("≈", "warn"),
        JobClass::Pending | JobClass::AwaitingApproval => ("…", "wait"),
        JobClass::Cancelled => ("⊘", "off"),
        JobClass::Success => ("✓", "ok"),
    };
    Chip {
        icon,
        text: c.as_str(),
        class,
    }
}

struct Render<'a> {
    env: Environment<'static>,
    snap: &'a HudSnapshot,
    links: LinkPolicy,
}

impl<'a> Render<'a> {
    fn new(snap: &'a HudSnapshot) -> Result<Render<'a>> {
        let mut env = Environment::new();
        // Every template escapes, whatever its name.
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, text) in [
            ("base.html", include_str!("templates/base.html")),
            ("index.html", include_str!("templates/index.html")),
            ("trunk.html", include_str!("templates/trunk.html")),
            ("downstream.html", include_str!("templates/downstream.html")),
            ("backend.html", include_str!("templates/backend.html")),
            ("pr.html", include_str!("templates/pr.html")),
        ] {
            env.add_template(name, text)
                .with_context(|| format!("template {name}"))?;
        }
        Ok(Render {
            env,
            links: LinkPolicy::new(&snap.server_url),
            snap,
        })
    }

    fn href(&self, url: Option<&str>) -> Option<String> {
        self.links.href_opt(url)
    }

    fn page(&self, path: &str, template: &str, title: &str, ctx: Value) -> Result<Page> {
        let depth = path.matches('/').count();
        let root = "../".repeat(depth);
        let tmpl = self.env.get_template(template)?;
        let body = tmpl
            .render(context! {
                root => root,
                page_title => title,
                repo => t(&self.snap.repo),
                repo_href => self.href(Some(&format!(
                    "{}/{}",
                    self.snap.server_url.trim_end_matches('/'),
                    self.snap.repo
                ))),
                generated => time(Some(self.snap.generated_at)),
                since_days => self.snap.since_days,
                ..ctx
            })
            .with_context(|| format!("rendering {path}"))?;
        if body.len() > MAX_PAGE_BYTES {
            tracing::warn!("{path} is {} bytes, over {MAX_PAGE_BYTES}", body.len());
        }
        Ok(Page {
            path: path.to_string(),
            body,
        })
    }
}

/// The stylesheet and the script every page links to.
pub fn assets() -> Vec<Page> {
    vec![
        Page {
            path: "style.css".into(),
            body: STYLE.into(),
        },
        Page {
            path: "sort.js".into(),
            body: SCRIPT.into(),
        },
    ]
}

/// Renders one page at a time, for a build that writes each page as soon
/// as its rows are read instead of holding every row (the ClickHouse
/// source). The snapshot it is made with carries what the index, the trunk
/// grid and the pull request pages show; downstream rows are handed to each
/// page.
pub struct Renderer<'a> {
    r: Render<'a>,
}

impl<'a> Renderer<'a> {
    pub fn new(snap: &'a HudSnapshot) -> Result<Renderer<'a>> {
        Ok(Renderer {
            r: Render::new(snap)?,
        })
    }

    pub fn index(&self) -> Result<Page> {
        index(&self.r)
    }

    pub fn trunk(&self) -> Result<Page> {
        trunk(&self.r)
    }

    /// The downstream summary (`None`: the source has no downstream data).
    pub fn downstream_index(&self, backends: Option<&[Backend]>) -> Result<Page> {
        downstream_index(&self.r, backends)
    }

    /// Page `page` (0-based) of `pages` of a backend's matrix: `rows` are the
    /// current jobs of the pull requests on that page; `columns` the job
    /// names of the whole matrix, as [`matrix_columns`] gives them.
    pub fn backend_page(
        &self,
        b: &Backend,
        columns: &[String],
        rows: &[DownstreamJob],
        page: usize,
        pages: usize,
    ) -> Result<Page> {
        let mut prs: BTreeMap<std::cmp::Reverse<u64>, Vec<&DownstreamJob>> = BTreeMap::new();
        for j in rows.iter().filter(|j| j.downstream_repo == b.repo) {
            prs.entry(std::cmp::Reverse(j.pr_number))
                .or_default()
                .push(j);
        }
        let rows: Vec<(u64, Vec<&DownstreamJob>)> =
            prs.into_iter().map(|(k, v)| (k.0, v)).collect();
        backend_page(&self.r, b, columns, &rows, page, pages.max(1))
    }

    /// The page of a pull request of the snapshot, with its downstream jobs
    /// (`None`: the source has no downstream data).
    pub fn pr(&self, number: u64, downstream: Option<&[DownstreamJob]>) -> Result<Page> {
        pr_page(&self.r, number, downstream)
    }
}

/// A matrix's columns from its job names in order of first appearance:
/// each cut for display, the same cut name once, at most
/// [`MAX_MATRIX_COLUMNS`].
pub fn matrix_columns<'s>(names: impl IntoIterator<Item = &'s str>) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for name in names {
        let name = t(name);
        if !columns.contains(&name) && columns.len() < MAX_MATRIX_COLUMNS {
            columns.push(name);
        }
    }
    columns
}

/// The file name of page `i` (0-based) of a backend's matrix.
pub fn backend_page_name(slug: &str, i: usize) -> String {
    if i == 0 {
        format!("{slug}.html")
    } else {
        format!("{slug}-{}.html", i + 1)
    }
}

/// Every page of the site, with its stylesheet and script.
pub fn render(snap: &HudSnapshot) -> Result<Vec<Page>> {
    let r = Render::new(snap)?;
    let downstream = snap
        .downstream
        .as_ref()
        .map(|jobs| downstream::current(jobs, &snap.prs));
    let backends = downstream.as_deref().map(downstream::backends);
    let mut pages = assets();
    pages.extend([
        index(&r)?,
        trunk(&r)?,
        downstream_index(&r, backends.as_deref())?,
    ]);
    if let (Some(jobs), Some(backends)) = (&downstream, &backends) {
        for b in backends {
            pages.extend(backend_pages(&r, b, jobs)?);
        }
    }
    for pr in &snap.prs {
        pages.push(pr_page(&r, pr.number, downstream.as_deref())?);
    }
    Ok(pages)
}

fn index(r: &Render) -> Result<Page> {
    let s = r.snap;
    let mut by_category: BTreeMap<String, usize> = BTreeMap::new();
    for i in &s.issues {
        *by_category.entry(t(&i.category)).or_default() += 1;
    }
    let mut categories: Vec<(String, usize)> = by_category.into_iter().collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let issue_href: HashMap<u64, Option<String>> = s
        .issues
        .iter()
        .map(|i| (i.number, r.href(Some(&i.url))))
        .collect();
    let issues: Vec<Value> = s
        .issues
        .iter()
        .take(MAX_ISSUES)
        .map(|i| {
            context! {
                number => i.number,
                title => t(&i.title),
                href => r.href(Some(&i.url)),
                category => t(&i.category),
                workflow => i.workflow.as_deref().map(t).unwrap_or_default(),
                occurrences => i.occurrences,
                opened => time(i.opened_at),
            }
        })
        .collect();
    let fingerprints: Vec<Value> = s
        .fingerprints
        .iter()
        .take(MAX_FINGERPRINTS)
        .map(|f| {
            context! {
                fingerprint => cut(&f.fingerprint, 40),
                category => t(&f.category),
                rule => f.rule.as_deref().map(t).unwrap_or_default(),
                line => f.line.as_deref().map(t).unwrap_or_default(),
                count => f.count,
                last_seen => time(f.last_seen),
                example => r.href(f.example_url.as_deref()),
                issue => f.issue,
                issue_href => f.issue.and_then(|n| issue_href.get(&n).cloned().flatten()),
            }
        })
        .collect();
    let flaky: Vec<Value> = s
        .flaky
        .iter()
        .take(MAX_FLAKY)
        .map(|f| {
            let rate = if f.runs > 0 {
                100.0 * f.flaky as f64 / f.runs as f64
            } else {
                0.0
            };
            context! {
                workflow => t(&f.workflow),
                name => t(&f.name),
                flaky => f.flaky,
                runs => f.runs,
                rate => format!("{rate:.0}"),
                href => r.href(f.last_url.as_deref()),
            }
        })
        .collect();
    let action_counts: Vec<Value> = ActionKind::ALL
        .iter()
        .map(|k| {
            // The source's counts when it has them, else the actions listed.
            let listed = |dry: bool| {
                s.actions
                    .iter()
                    .filter(|a| a.kind == *k && a.dry_run == dry)
                    .count() as u64
            };
            let (done, dry) = if s.action_totals.is_empty() {
                (listed(false), listed(true))
            } else {
                let of = |t: &BTreeMap<ActionKind, u64>| t.get(k).copied().unwrap_or_default();
                (of(&s.action_totals), of(&s.action_dry_totals))
            };
            context! { kind => k.as_str(), done => done, dry => dry }
        })
        .collect();
    let mut actions: Vec<&super::model::Action> = s.actions.iter().collect();
    actions.sort_by_key(|a| std::cmp::Reverse(a.ts));
    let actions: Vec<Value> = actions
        .into_iter()
        .take(MAX_ACTIONS)
        .map(|a| {
            context! {
                ts => time(Some(a.ts)),
                kind => a.kind.as_str(),
                subject => t(&a.subject),
                reason => t(&a.reason),
                href => r.href(a.url.as_deref()),
                dry_run => a.dry_run,
            }
        })
        .collect();
    let days: Vec<Value> = s
        .daily
        .iter()
        .map(|d| context! { day => d.day.to_string(), jobs => d.jobs, failed => d.failed })
        .collect();
    let failed_total: u64 = s.daily.iter().map(|d| d.failed).sum();
    let jobs_total: u64 = s.daily.iter().map(|d| d.jobs).sum();
    let prs: Vec<Value> = s
        .prs
        .iter()
        .map(|p| {
            let failing = p
                .jobs
                .iter()
                .filter(|j| matches!(j.class, JobClass::New | JobClass::Unclassified))
                .count();
            let unrelated = p
                .jobs
                .iter()
                .filter(|j| {
                    matches!(
                        j.class,
                        JobClass::Flaky | JobClass::BrokenTrunk | JobClass::Unstable
                    )
                })
                .count();
            context! {
                number => p.number,
                title => t(&p.title),
                failing => failing,
                unrelated => unrelated,
                jobs => p.jobs.len(),
            }
        })
        .collect();
    r.page(
        "index.html",
        "index.html",
        "CI health",
        context! {
            open_issues => s.issues.len(),
            issues_shown => issues.len(),
            categories => categories,
            issues => issues,
            chart => Value::from_safe_string(chart::failures_per_day(&s.daily)),
            days => days,
            failed_total => failed_total,
            jobs_total => jobs_total,
            fingerprints => fingerprints,
            flaky => flaky,
            action_counts => action_counts,
            actions => actions,
            prs => prs,
        },
    )
}

fn trunk(r: &Render) -> Result<Page> {
    let grids: Vec<Value> = r
        .snap
        .trunk
        .iter()
        .map(|g| {
            let signals: Vec<String> = g.signals.iter().take(MAX_SIGNALS).map(|s| t(s)).collect();
            let rows: Vec<Value> = g
                .commits
                .iter()
                .take(MAX_TRUNK_COMMITS)
                .map(|c| {
                    let cells: Vec<Value> = (0..signals.len())
                        .map(|i| {
                            let cell = c.cells.get(i);
                            let o = cell.map(|c| c.outcome).unwrap_or(Outcome::Missing);
                            context! {
                                chip => chip(o),
                                restarted => cell.is_some_and(|c| c.restarted),
                                href => cell.and_then(|c| r.href(c.url.as_deref())),
                            }
                        })
                        .collect();
                    context! {
                        sha => short_sha(&c.sha),
                        href => r.href(Some(&format!(
                            "{}/{}/commit/{}",
                            r.snap.server_url.trim_end_matches('/'),
                            r.snap.repo,
                            c.sha
                        ))),
                        title => cut(&c.title, 80),
                        time => time(c.time),
                        cells => cells,
                        decision => c.decision.as_ref().map(|d| context! {
                            action => cut(&d.action, 20),
                            verdict => cut(&d.verdict, 40),
                            reason => t(&d.reason),
                        }),
                    }
                })
                .collect();
            context! { workflow => t(&g.workflow), signals => signals, rows => rows }
        })
        .collect();
    r.page(
        "trunk.html",
        "trunk.html",
        "Trunk",
        context! { grids => grids },
    )
}

fn pass_rate(b: &Backend) -> String {
    b.pass_rate
        .map(|p| format!("{:.0}", p * 100.0))
        .unwrap_or_default()
}

fn downstream_index(r: &Render, backends: Option<&[Backend]>) -> Result<Page> {
    let rows: Option<Vec<Value>> = backends.map(|bs| {
        bs.iter()
            .map(|b| {
                context! {
                    repo => t(&b.repo),
                    slug => b.slug.clone(),
                    levels => b.levels.iter().map(|l| cut(l, 10)).collect::<Vec<_>>().join(", "),
                    prs => b.prs,
                    jobs => b.jobs,
                    passed => b.passed,
                    failed => b.failed,
                    pass_rate => pass_rate(b),
                    pass_rate_value => b.pass_rate.map(|p| p * 100.0).unwrap_or(-1.0),
                    avg => duration(b.avg_duration_s),
                    avg_value => b.avg_duration_s.unwrap_or(-1.0),
                    last_run => time(b.last_run),
                }
            })
            .collect()
    });
    r.page(
        "downstream/index.html",
        "downstream.html",
        "Downstream",
        context! { backends => rows },
    )
}

fn job_cell(r: &Render, j: &DownstreamJob) -> Value {
    context! {
        chip => chip(j.outcome()),
        href => r.href(j.log_url.as_deref()),
        tests => match (j.tests_failed, j.tests_total) {
            (Some(f), Some(t)) => format!("{f}/{t} failed"),
            (None, Some(t)) => format!("{t} tests"),
            _ => String::new(),
        },
        duration => duration(j.duration_s()),
        trusted => j.trusted,
    }
}

fn missing_cell() -> Value {
    context! {
        chip => chip(Outcome::Missing),
        href => None::<String>,
        tests => "",
        duration => "",
        trusted => true,
    }
}

fn backend_pages(r: &Render, b: &Backend, jobs: &[DownstreamJob]) -> Result<Vec<Page>> {
    let mine: Vec<&DownstreamJob> = jobs
        .iter()
        .filter(|j| j.downstream_repo == b.repo)
        .collect();
    let columns = matrix_columns(mine.iter().map(|j| j.job_name.as_str()));
    let mut prs: BTreeMap<std::cmp::Reverse<u64>, Vec<&DownstreamJob>> = BTreeMap::new();
    for j in &mine {
        prs.entry(std::cmp::Reverse(j.pr_number))
            .or_default()
            .push(j);
    }
    let rows: Vec<(u64, Vec<&DownstreamJob>)> = prs.into_iter().map(|(k, v)| (k.0, v)).collect();
    let chunks: Vec<&[(u64, Vec<&DownstreamJob>)]> = if rows.is_empty() {
        vec![&rows[..]]
    } else {
        rows.chunks(MATRIX_ROWS_PER_PAGE).collect()
    };
    let pages = chunks.len();
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| backend_page(r, b, &columns, chunk, i, pages))
        .collect()
}

fn backend_page(
    r: &Render,
    b: &Backend,
    columns: &[String],
    chunk: &[(u64, Vec<&DownstreamJob>)],
    i: usize,
    pages: usize,
) -> Result<Page> {
    let known_prs: std::collections::HashSet<u64> = r.snap.prs.iter().map(|p| p.number).collect();
    let name = |i: usize| backend_page_name(&b.slug, i);
    let rows: Vec<Value> = chunk
        .iter()
        .map(|(pr, js)| {
            let cells: Vec<Value> = columns
                .iter()
                .map(|c| {
                    js.iter()
                        .find(|j| t(&j.job_name) == *c)
                        .map(|j| job_cell(r, j))
                        .unwrap_or_else(missing_cell)
                })
                .collect();
            context! {
                pr => pr,
                known => known_prs.contains(pr),
                head => js.first().map(|j| short_sha(&j.head_sha)).unwrap_or_default(),
                cells => cells,
            }
        })
        .collect();
    r.page(
        &format!("downstream/{}", name(i)),
        "backend.html",
        &format!("Downstream: {}", t(&b.repo)),
        context! {
            backend => t(&b.repo),
            pass_rate => pass_rate(b),
            columns => columns.to_vec(),
            rows => rows,
            page => i + 1,
            pages => pages,
            prev => (i > 0).then(|| name(i - 1)),
            next => (i + 1 < pages).then(|| name(i + 1)),
        },
    )
}

fn pr_page(r: &Render, number: u64, downstream: Option<&[DownstreamJob]>) -> Result<Page> {
    let pr = r
        .snap
        .prs
        .iter()
        .find(|p| p.number == number)
        .context("no such pull request")?;
    let mut jobs: Vec<&super::model::PullJob> = pr.jobs.iter().collect();
    jobs.sort_by(|a, b| a.class.cmp(&b.class).then_with(|| a.name.cmp(&b.name)));
    let mut counts: BTreeMap<JobClass, usize> = BTreeMap::new();
    for j in &jobs {
        *counts.entry(j.class).or_default() += 1;
    }
    let counts: Vec<Value> = counts
        .into_iter()
        .map(|(c, n)| context! { chip => class_chip(c), count => n })
        .collect();
    let rows: Vec<Value> = jobs
        .iter()
        .take(MAX_PR_JOBS)
        .map(|j| {
            context! {
                name => t(&j.name),
                chip => class_chip(j.class),
                reason => t(&j.reason),
                cause => j.cause.as_deref().map(t).unwrap_or_default(),
                href => r.href(j.url.as_deref()),
            }
        })
        .collect();
    let downstream: Option<Vec<Value>> = downstream.map(|all| {
        let mut by: BTreeMap<&str, Vec<&DownstreamJob>> = BTreeMap::new();
        for j in all.iter().filter(|j| j.pr_number == number) {
            by.entry(j.downstream_repo.as_str()).or_default().push(j);
        }
        by.into_iter()
            .map(|(repo, js)| {
                context! {
                    backend => t(repo),
                    slug => downstream::slug(repo),
                    jobs => js.iter().map(|j| context! {
                        name => t(&j.job_name),
                        level => cut(&j.level, 10),
                        cell => job_cell(r, j),
                    }).collect::<Vec<_>>(),
                }
            })
            .collect()
    });
    r.page(
        &format!("pr/{number}.html"),
        "pr.html",
        &format!("Pull request #{number}"),
        context! {
            number => number,
            title => t(&pr.title),
            href => r.href(pr.url.as_deref()),
            head => short_sha(&pr.head_sha),
            counts => counts,
            jobs => rows,
            total_jobs => pr.jobs.len(),
            downstream => downstream,
        },
    )
}
