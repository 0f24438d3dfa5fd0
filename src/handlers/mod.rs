//! Handlers: each says which deliveries concern it ([`Handler::subscribe`],
//! pure) and handles them. [`offer`] gives a delivery to every enabled
//! handler in registry order; one handler's failure is kept apart from the
//! others'.
//!
//! To add a handler: a file here with a type implementing [`Handler`], and
//! one line in the `registry!` invocation below.

use std::process::ExitCode;

use anyhow::Result;

use crate::app::Ctx;
use crate::config::Config;
use crate::event::Event;
use crate::plan::{self, Plan, Report};

pub mod auto_cc;
pub mod auto_label;
pub mod autorevert;
pub mod cancel_on_close;
pub mod ciflow;
pub mod commands;
pub mod crcr_dispatch;
pub mod crcr_result;
pub mod crcr_wake;
pub mod disabled_jobs;
pub mod drci;
pub mod failure_issue;
pub mod heal;
pub mod heal_verify;
pub mod ingest;
pub mod passed_run;
pub mod pending_merge;
pub mod required_labels;
pub mod retry;
mod routing;
pub mod stale_approvals;

pub use routing::{Route, is_restart_result, route};

/// What a run of ci-medic was asked to look at.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A webhook event, with the `command` input that may force a job.
    Event {
        event: Event,
        command: Option<String>,
    },
    /// A request from the command line.
    Request(Request),
}

/// Command-line requests that reach the handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `analyze --run-id N`: re-run what a re-run fixes, then report.
    FailedRun(u64),
    /// `retry --run-id N`: only re-run.
    Retry(u64),
    /// `heal --issue N`.
    Heal(u64),
    /// `ingest --event NAME --payload FILE`: the payload's text.
    Ingest { event: String, payload: String },
}

/// How a handler's work ended, when it did not fail outright.
pub type Verdict = ExitCode;

/// One handler: subscribe (pure), gather (reads only), decide (pure), and
/// report what happened once the merged plan ran.
pub trait Handler {
    /// The name in summaries, errors and the ids of its plan's steps.
    const NAME: &'static str;
    /// What `subscribe` extracts for `gather`.
    type Input: Send;
    /// What `decide` decides from.
    type Facts;

    /// Does this delivery concern the handler? Pure. A handler whose config
    /// section is off subscribes to nothing.
    fn subscribe(delivery: &Delivery, config: &Config) -> Option<Self::Input>;

    /// Read what the decision needs (API, logs, ClickHouse). Writes nothing.
    fn gather(ctx: &Ctx, input: Self::Input) -> impl Future<Output = Result<Self::Facts>>;

    /// The writes to make. Pure.
    fn decide(facts: &Self::Facts, config: &Config) -> Plan;

    /// Tell what happened (stdout, step summary, outputs) from this
    /// handler's part of the executed plan. By default: the plan and its
    /// outcome as every job prints them, failing when a write failed.
    fn report(ctx: &Ctx, _facts: &Self::Facts, plan: &Plan, report: &Report) -> Result<Verdict> {
        crate::jobs::analyze::emit(ctx, plan, report)?;
        Ok(if report.failed() {
            std::process::ExitCode::FAILURE
        } else {
            std::process::ExitCode::SUCCESS
        })
    }
}

/// What one handler did with a delivery.
pub struct HandlerOutcome {
    pub handler: &'static str,
    pub verdict: Result<Verdict>,
}

/// A handler's `report`, holding its facts until the merged plan has run.
type Reporter<'a> = Box<dyn FnOnce(&Ctx, &Plan, &Report) -> Result<Verdict> + 'a>;

/// A handler's plan, waiting for the merged plan to run.
struct Decided<'a> {
    handler: &'static str,
    plan: Plan,
    report: Reporter<'a>,
}

/// Gather and decide for one handler, if the delivery concerns it.
async fn consider<'a, H: Handler + 'a>(
    ctx: &Ctx,
    delivery: &Delivery,
    decided: &mut Vec<Decided<'a>>,
    failed: &mut Vec<HandlerOutcome>,
) {
    let Some(input) = H::subscribe(delivery, &ctx.config) else {
        return;
    };
    tracing::info!(handler = H::NAME, "gathering");
    match H::gather(ctx, input).await {
        Ok(facts) => decided.push(Decided {
            handler: H::NAME,
            plan: H::decide(&facts, &ctx.config),
            report: Box::new(move |ctx, plan, report| H::report(ctx, &facts, plan, report)),
        }),
        Err(e) => failed.push(HandlerOutcome {
            handler: H::NAME,
            verdict: Err(e),
        }),
    }
}

/// Merge the handlers' plans (step ids prefixed with the handler's name),
/// execute once, and let each handler report its part.
async fn execute(ctx: &Ctx, decided: Vec<Decided<'_>>, out: &mut Vec<HandlerOutcome>) {
    let mut merged = Plan::new("run");
    for d in &decided {
        merged.merge_as(d.handler, &d.plan);
    }
    let sinks = ctx.sinks(&merged).await;
    let report = plan::execute(&merged, &sinks, ctx.dry_run).await;
    for d in decided {
        let mut mine = report.for_job(d.handler);
        mine.job = d.plan.job.clone();
        out.push(HandlerOutcome {
            handler: d.handler,
            verdict: (d.report)(ctx, &d.plan, &mine),
        });
    }
}

macro_rules! registry {
    ($($h:ty),* $(,)?) => {
        /// Every handler's name, in the order deliveries are offered.
        pub const NAMES: &[&str] = &[$(<$h as Handler>::NAME),*];

        /// Offer `delivery` to every handler: those it concerns gather and
        /// decide, their plans run as one, and each reports. The outcome of
        /// every handler the delivery concerned, failed ones included.
        pub async fn offer(ctx: &Ctx, delivery: &Delivery) -> Vec<HandlerOutcome> {
            let mut decided = Vec::new();
            let mut out = Vec::new();
            $( consider::<$h>(ctx, delivery, &mut decided, &mut out).await; )*
            if !decided.is_empty() {
                execute(ctx, decided, &mut out).await;
            }
            out
        }
    };
}

registry!(
    retry::Retry,
    failure_issue::FailureIssue,
    passed_run::PassedRun,
    heal::Heal,
    heal_verify::HealVerify,
    autorevert::Autorevert,
    drci::Drci,
    auto_label::AutoLabel,
    required_labels::RequiredLabels,
    auto_cc::AutoCc,
    cancel_on_close::CancelOnClose,
    ciflow::Ciflow,
    stale_approvals::StaleApprovals,
    commands::Commands,
    pending_merge::PendingMerge,
    crcr_dispatch::CrcrDispatch,
    crcr_result::CrcrResult,
    crcr_wake::CrcrWake,
    disabled_jobs::DisabledJobs,
    ingest::Ingest,
);

/// Why no handler took a delivery (printed as "nothing to do: ...").
pub fn why_nothing(delivery: &Delivery, config: &Config) -> String {
    match delivery {
        Delivery::Event { event, command } => match route(event, command.as_deref(), config) {
            Route::Nothing(why) => why,
            Route::Heal { .. } | Route::HealVerify { .. } => {
                "heal is not enabled (`heal.enabled: false`)".into()
            }
            other => format!("{other:?} concerns no enabled handler"),
        },
        Delivery::Request(Request::Retry(_)) => {
            "retry is not enabled (`retry.enabled: false`)".into()
        }
        Delivery::Request(Request::Heal(_)) => "heal is not enabled (`heal.enabled: false`)".into(),
        Delivery::Request(r) => format!("{r:?} concerns no enabled handler"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The delivery of the recorded webhook `fixtures/webhooks/{kind}/{file}`.
    pub(crate) fn recorded(kind: &str, file: &str) -> Delivery {
        let path = format!(
            "{}/fixtures/webhooks/{kind}/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).expect("fixture");
        Delivery::Event {
            event: crate::event::parse(kind, &path, &bytes).expect("event"),
            command: None,
        }
    }

    #[test]
    fn every_handler_is_registered_once() {
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NAMES.len());
        assert!(NAMES.contains(&"heal"));
    }

    /// The GitHub client's and the store's writes, as called.
    const WRITES: &[&str] = &[
        ".rerun_job(",
        ".rerun_failed_jobs(",
        ".create_issue(",
        ".update_issue(",
        ".upsert_comment(",
        ".put_comment(",
        ".ensure_label(",
        ".add_labels(",
        ".remove_label(",
        ".dispatch_workflow(",
        ".upsert_check_run(",
        ".put_check_run(",
        ".create_ref(",
        ".update_ref(",
        ".delete_ref(",
        ".create_pull(",
        ".update_pull(",
        ".commit_files(",
        ".delete_comment(",
        ".cancel_run(",
        ".dismiss_review(",
        ".react_to_comment(",
        ".merge_pull(",
        ".update_branch(",
        ".insert(&TableRows",
        ".insert_rows(",
        ".insert_jobs(",
        ".insert_pushes(",
        ".insert_autorevert_events(",
        ".migrate(",
    ];

    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("source dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Where a write may be called, by file and function: the executor
    /// (`plan.rs`), the composite writes it calls (each must be named in
    /// `plan.rs`, or called there by one that is), the adapters that define
    /// the writes, and the entry points that write outside any plan on
    /// purpose.
    const MAY_WRITE: &[(&str, &[&str])] = &[
        // The executor and the composite writes it carries out.
        ("plan.rs", &["*"]),
        (
            "bot/merge.rs",
            &["update_and_read_back", "update_and_pin", "update_and_merge"],
        ),
        ("bot/reply.rs", &["explain_merge_refusal"]),
        ("bot/act.rs", &["commit_onto"]),
        (
            "bot/rebase.rs",
            &[
                "carry_out",
                "build_and_move",
                "explain",
                "update_head_branch",
            ],
        ),
        // The adapters: a write composed of others.
        ("github/", &["*"]),
        ("store/", &["*"]),
        // Synthetic history for the benchmarks, into a store of their own.
        ("hud/synthetic.rs", &["generate"]),
    ];

    /// Whether `function` of `file` may call a write.
    fn may_write(file: &str, function: &str) -> bool {
        MAY_WRITE.iter().any(|(place, functions)| {
            let here = if place.ends_with('/') {
                file.starts_with(place)
            } else {
                file == *place
            };
            here && functions.iter().any(|f| *f == "*" || *f == function)
        })
    }

    /// The name a line's `fn` item declares, if it declares one.
    fn declared(code: &str) -> Option<&str> {
        let (_, rest) = code.split_once("fn ")?;
        let name = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()?;
        (!name.is_empty()).then_some(name)
    }

    /// Handlers, and everything they gather and decide with (jobs,
    /// services, the bot, downstream CI, automations, decision cores),
    /// write only through plans: across all of `src`, no GitHub or
    /// ClickHouse write is called outside the places [`MAY_WRITE`] lists,
    /// and only `offer` and the command-line entry points execute a plan.
    #[test]
    fn handlers_write_only_through_the_executor() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &mut files);
        // `offer`, and the command-line entry points that run their own
        // plan: once each.
        let executes = [
            "handlers/mod.rs",
            "jobs/autorevert.rs",
            "jobs/clickhouse.rs",
            "crcr/ingest.rs",
        ];
        let mut found = Vec::new();
        let mut runs = Vec::new();
        let mut scanned = std::collections::BTreeSet::new();
        for file in &files {
            let text = std::fs::read_to_string(file).expect("source");
            // The code, not its tests.
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            let name = file
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            scanned.insert(name.split('/').next().unwrap_or_default().to_string());
            let mut function = "";
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if let Some(f) = declared(code) {
                    function = f;
                }
                for w in WRITES {
                    if code.contains(w) && !may_write(&name, function) {
                        found.push(format!("{name}:{} in {function}: {}", n + 1, line.trim()));
                    }
                }
                if code.contains("plan::execute(") {
                    runs.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
            if runs.len() > usize::from(executes.contains(&name.as_str())) {
                found.append(&mut runs);
            }
            runs.clear();
        }
        for dir in ["handlers", "jobs", "bot", "crcr", "automations", "drci"] {
            assert!(scanned.contains(dir), "{dir} not scanned: {scanned:?}");
        }
        assert!(
            found.is_empty(),
            "writes outside the executor:\n{}",
            found.join("\n")
        );
    }

    /// Each composite write [`MAY_WRITE`] lets call writes is one the
    /// executor calls: named in `plan.rs`, or called in its own file by one
    /// that is.
    #[test]
    fn the_composite_writes_allowed_are_the_executors() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let plan = std::fs::read_to_string(root.join("plan.rs")).expect("plan.rs");
        for (file, functions) in MAY_WRITE.iter().filter(|(f, _)| f.starts_with("bot/")) {
            let text = std::fs::read_to_string(root.join(file)).expect("source");
            for f in *functions {
                let called = format!("{f}(");
                let module = file.trim_end_matches(".rs").replace('/', "::");
                let from_plan = plan.contains(&format!("{module}::{called}"));
                let from_sibling = text.matches(&called).count() > 1;
                assert!(
                    from_plan || from_sibling,
                    "{file}: {f} is not the executor's"
                );
            }
        }
    }
}
