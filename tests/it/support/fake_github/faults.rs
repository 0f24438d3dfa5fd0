//! Fault injection: queued wrong answers, consumed in order by matching requests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use regex::Regex;
use serde_json::{Value, json};

use super::world::CORE_LIMIT;

/// When a fault strikes relative to the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Answer instead of the handler: the world does not change.
    Before,
    /// Run the handler (the write lands), then answer with the fault instead.
    AfterApply,
    /// Answer normally, only late.
    Delay,
}

/// A wrong answer to inject with [`super::FakeGithub::inject`].
#[derive(Clone, Debug)]
pub struct Fault {
    pub(crate) stage: Stage,
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Value>,
    pub(crate) delay: Option<Duration>,
}

impl Fault {
    /// Answers `status` without touching the world (a 502 before the write, a
    /// plain 429...). Add headers with [`Fault::header`].
    pub fn status(status: u16) -> Fault {
        Fault {
            stage: Stage::Before,
            status,
            headers: Vec::new(),
            body: None,
            delay: None,
        }
    }

    /// Applies the request (the issue is created, the comment posted), then
    /// answers `status`: a client that retries a POST blindly duplicates it.
    pub fn after_apply(status: u16) -> Fault {
        Fault {
            stage: Stage::AfterApply,
            ..Fault::status(status)
        }
    }

    /// GitHub's secondary rate limit: 403 with the usual message and
    /// `retry-after`.
    pub fn secondary_rate_limit(retry_after_secs: u64) -> Fault {
        Fault::status(403)
            .header("retry-after", &retry_after_secs.to_string())
            .body(json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
                "documentation_url": "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                "status": "403"
            }))
    }

    /// The primary rate limit used up: 403 with `x-ratelimit-remaining: 0` and
    /// `x-ratelimit-reset` (epoch seconds) `reset_after` from now.
    pub fn rate_limit_exhausted(reset_after: Duration) -> Fault {
        let reset = SystemTime::now()
            .checked_add(reset_after)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
            .unwrap_or_default();
        Fault::status(403)
            .header("x-ratelimit-limit", &CORE_LIMIT.to_string())
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-used", &CORE_LIMIT.to_string())
            .header("x-ratelimit-reset", &reset.to_string())
            .header("x-ratelimit-resource", "core")
            .body(json!({
                "message": "API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID.",
                "documentation_url": "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
                "status": "403"
            }))
    }

    /// Answers normally, but only after `delay` (to trip a client timeout). The
    /// handler runs at once: a write lands even if the client gives up.
    pub fn delay(delay: Duration) -> Fault {
        Fault {
            stage: Stage::Delay,
            status: 0,
            headers: Vec::new(),
            body: None,
            delay: Some(delay),
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Fault {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the default JSON body (`{"message": ...}`).
    pub fn body(mut self, body: Value) -> Fault {
        self.body = Some(body);
        self
    }

    /// The body to send: the one given, or GitHub's usual error shape.
    pub(crate) fn body_or_default(&self) -> Value {
        self.body.clone().unwrap_or_else(|| {
            let reason = http::StatusCode::from_u16(self.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error");
            json!({
                "message": reason,
                "documentation_url": "https://docs.github.com/rest",
                "status": self.status.to_string()
            })
        })
    }

    pub(crate) fn describe(&self) -> String {
        match self.stage {
            Stage::Before => format!("status {}", self.status),
            Stage::AfterApply => format!("status {} after applying", self.status),
            Stage::Delay => format!("delay {:?}", self.delay.unwrap_or_default()),
        }
    }
}

#[derive(Debug)]
struct Queued {
    method: String,
    path: Regex,
    fault: Fault,
}

/// Faults waiting for their request, in injection order.
#[derive(Debug, Default)]
pub struct FaultQueue {
    queue: Vec<Queued>,
}

impl FaultQueue {
    /// Queues a fault for requests whose method matches (case-insensitive; `*`
    /// for any) and whose path matches `path_regex`.
    pub fn push(&mut self, method: &str, path_regex: &str, fault: Fault) {
        let path =
            Regex::new(path_regex).unwrap_or_else(|e| panic!("bad path regex {path_regex:?}: {e}"));
        self.queue.push(Queued {
            method: method.to_uppercase(),
            path,
            fault,
        });
    }

    /// Takes the first queued fault that matches the request.
    pub fn take(&mut self, method: &str, path: &str) -> Option<Fault> {
        let at = self.queue.iter().position(|q| {
            (q.method == "*" || q.method.eq_ignore_ascii_case(method)) && q.path.is_match(path)
        })?;
        Some(self.queue.remove(at).fault)
    }

    /// Faults not yet consumed, described.
    pub fn pending(&self) -> Vec<String> {
        self.queue
            .iter()
            .map(|q| format!("{} {} -> {}", q.method, q.path, q.fault.describe()))
            .collect()
    }
}
