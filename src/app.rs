//! One run of ci-medic for one event: the context every handler shares, and
//! [`run`], which offers the event to every enabled handler.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tokio::sync::OnceCell;

use crate::cli::Format;
use crate::config::Config;
use crate::event::Event;
use crate::github::{Client, Identity};
use crate::handlers::{self, Delivery};
use crate::jobs::analyze::RunFacts;
use crate::jobs::retry::RetryFacts;
use crate::permissions::{self, Permissions};
use crate::plan::{Plan, Sinks};
use crate::report::markdown::inline;
use crate::runtime::Env;
use crate::store::{Store, StoreConfig};

/// What every handler may use: built once by the CLI.
pub struct Ctx {
    /// The API client; `None` offline.
    pub github: Option<Client>,
    /// The repository's config, read from its default branch.
    pub config: Config,
    /// The runner's environment (inputs, outputs, summary).
    pub env: Env,
    /// Print plans; write nothing (GitHub and ClickHouse alike).
    pub dry_run: bool,
    pub format: Format,
    /// ClickHouse, connected on first use.
    store: OnceCell<Store>,
    /// Facts several handlers of one delivery read, gathered once.
    pub memo: Memo,
    /// Who has which access, asked once per login per run.
    access: permissions::Cache,
    /// The client for writes to other repositories (downstream CI
    /// dispatches), from the `crcr-token` input; `None` without it.
    pub relay: Option<Client>,
}

/// Facts shared by the handlers of one delivery (a failed run's analyzed
/// jobs are read by retry and by the failure issue).
#[derive(Default)]
pub struct Memo {
    pub run: OnceCell<Arc<RunFacts>>,
    pub retry: OnceCell<Arc<RetryFacts>>,
    /// A downstream CI result, verified once: recorded by `crcr-result`,
    /// and waking the merges waiting for it (`crcr-wake`).
    pub crcr_result: OnceCell<Arc<crate::crcr::receive::ResultFacts>>,
}

impl Ctx {
    pub fn new(
        github: Option<Client>,
        config: Config,
        env: Env,
        dry_run: bool,
        format: Format,
    ) -> Ctx {
        Ctx {
            github,
            config,
            env,
            dry_run,
            format,
            store: OnceCell::new(),
            memo: Memo::default(),
            access: permissions::Cache::default(),
            relay: None,
        }
    }

    /// The API client, or an error saying what is missing.
    pub fn github(&self) -> Result<&Client> {
        self.github
            .as_ref()
            .context("no token: pass --token, set the `token` input, or GITHUB_TOKEN")
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// Who the action writes as: the workflow token's bot, and the
    /// `bot-login` input's login (a GitHub App or personal token).
    pub fn identity(&self) -> Identity {
        match &self.github {
            Some(c) => c.identity().clone(),
            None => Identity::new(self.env.input("bot-login")),
        }
    }

    /// The permissions service: who may do what, who applied a label. Every
    /// handler of the run shares what it has looked up.
    pub fn permissions(&self) -> Result<Permissions<'_>> {
        Ok(Permissions::new(self.github()?, &self.access))
    }

    /// The store settings: the config's `clickhouse` section, overridden by the
    /// `clickhouse-url` / `clickhouse-user` inputs; the password only ever comes
    /// from the `clickhouse-password` input (a secret) or `CLICKHOUSE_PASSWORD`.
    pub fn store_config(&self) -> Result<StoreConfig> {
        let section = self.config.clickhouse.clone().unwrap_or_default();
        let url = self
            .env
            .input("clickhouse-url")
            .or_else(|| (!section.url.is_empty()).then(|| section.url.clone()))
            .context("ClickHouse is not configured: set `clickhouse.url` in the config or the `clickhouse-url` input")?;
        let password = self
            .env
            .input("clickhouse-password")
            .or_else(|| self.env.var("CLICKHOUSE_PASSWORD").map(str::to_string));
        Ok(StoreConfig {
            url,
            user: self.env.input("clickhouse-user").or(Some(section.user)),
            password,
            database: section.database,
        })
    }

    /// Where `plan`'s writes go: the client, and the store when the plan
    /// writes to it for real (connected now; a failure to connect is what
    /// its store writes report).
    pub async fn sinks(&self, plan: &Plan) -> Sinks<'_> {
        let mut sinks = Sinks::github(self.github.as_ref());
        sinks.relay = self.relay.as_ref();
        if plan.writes_to_store() && !self.dry_run {
            match self.store().await {
                Ok(store) => sinks.store = Some(store),
                Err(e) => sinks.store_error = Some(format!("{e:#}")),
            }
        }
        sinks
    }

    /// ClickHouse, connected once per run.
    pub async fn store(&self) -> Result<&Store> {
        self.store
            .get_or_try_init(|| async {
                let config = self.store_config()?;
                // Masked once, when it is first used (the settings are also
                // read just to ask whether ClickHouse is configured).
                if let Some(p) = &config.password {
                    self.env.mask(p);
                }
                Store::connect(&config).await
            })
            .await
    }
}

/// Offer `event` to every enabled handler that subscribes to it. A handler
/// that fails is reported (step summary, annotation, exit code) and does not
/// stop the others.
pub async fn run(ctx: &Ctx, event: &Event) -> Result<ExitCode> {
    let delivery = Delivery::Event {
        event: event.clone(),
        command: ctx.env.input("command"),
    };
    offer(ctx, &delivery).await
}

/// Offer a delivery (an event, or a request from the command line).
pub async fn offer(ctx: &Ctx, delivery: &Delivery) -> Result<ExitCode> {
    let outcomes = handlers::offer(ctx, delivery).await;
    if outcomes.is_empty() {
        let why = handlers::why_nothing(delivery, &ctx.config);
        tracing::info!("no handler took the delivery: {why}");
        // The reason may quote a workflow name: echoed as untrusted text.
        ctx.env
            .echo_untrusted(&format!("ci-medic: nothing to do: {why}"));
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = Vec::new();
    let mut unfixable = false;
    for o in &outcomes {
        match &o.verdict {
            Ok(code) if *code == ExitCode::SUCCESS => {}
            Ok(code) if *code == ExitCode::from(crate::cli::EXIT_UNFIXABLE) => unfixable = true,
            Ok(_) => failed.push(format!("{}: a write failed", o.handler)),
            Err(e) => {
                let msg = format!("{}: {e:#}", o.handler);
                // The chain may quote payload values: it goes out inert.
                ctx.env
                    .report_error(&format!("ci-medic {}", o.handler), &msg);
                failed.push(msg);
            }
        }
    }
    if !failed.is_empty() && outcomes.len() > 1 {
        let mut md = String::from("## ci-medic: handlers that failed\n\n");
        for f in &failed {
            md.push_str(&format!("- {}\n", inline(f)));
        }
        ctx.env.append_summary(&md)?;
    }
    Ok(if !failed.is_empty() {
        ExitCode::FAILURE
    } else if unfixable {
        ExitCode::from(crate::cli::EXIT_UNFIXABLE)
    } else {
        ExitCode::SUCCESS
    })
}
