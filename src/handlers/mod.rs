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

pub mod autorevert;
pub mod failure_issue;
pub mod heal;
pub mod heal_verify;
pub mod passed_run;
pub mod retry;
mod routing;

pub use routing::{Route, route, watches_trunk_run};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `analyze --run-id N`: re-run what a re-run fixes, then report.
    FailedRun(u64),
    /// `retry --run-id N`: only re-run.
    Retry(u64),
    /// `heal --issue N`.
    Heal(u64),
}

/// How a handler's work ended, when it did not fail outright.
pub type Verdict = ExitCode;

/// One handler.
pub trait Handler {
    /// The name in summaries and errors.
    const NAME: &'static str;
    /// What `subscribe` extracts for `handle`.
    type Input: Send;

    /// Does this delivery concern the handler? Pure. A disabled handler
    /// (its config section off) is never offered anything.
    fn subscribe(delivery: &Delivery, config: &Config) -> Option<Self::Input>;

    /// Do the work: gather facts, decide a plan, execute it, report.
    fn handle(ctx: &Ctx, input: Self::Input) -> impl Future<Output = Result<Verdict>>;
}

/// What one handler did with a delivery.
pub struct HandlerOutcome {
    pub handler: &'static str,
    pub verdict: Result<Verdict>,
}

macro_rules! registry {
    ($($h:ty),* $(,)?) => {
        /// Every handler's name, in the order deliveries are offered.
        pub const NAMES: &[&str] = &[$(<$h as Handler>::NAME),*];

        /// Offer `delivery` to every handler; the outcomes of those it concerned.
        pub async fn offer(ctx: &Ctx, delivery: &Delivery) -> Vec<HandlerOutcome> {
            let mut out = Vec::new();
            $(
                if let Some(input) = <$h as Handler>::subscribe(delivery, &ctx.config) {
                    tracing::info!(handler = <$h as Handler>::NAME, "handling");
                    out.push(HandlerOutcome {
                        handler: <$h as Handler>::NAME,
                        verdict: <$h as Handler>::handle(ctx, input).await,
                    });
                }
            )*
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
mod tests {
    use super::*;

    #[test]
    fn every_handler_is_registered_once() {
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NAMES.len());
        assert!(NAMES.contains(&"heal"));
    }
}
