//! One retry policy for every GitHub call.
//!
//! octocrab's own retry is switched off: it re-sends a POST at once after a
//! 502 even when the first one landed, and ignores `Retry-After`. Here a
//! response is classified once, and the caller decides whether the request
//! may be sent again (see `Client::send`).

use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// How often and how long to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First back-off delay; doubled on each retry.
    pub base_delay: Duration,
    /// The longest single wait. A rate limit that resets later than this is
    /// reported instead of slept through: an Actions job pays for idle minutes.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(120),
        }
    }
}

/// What a response means for the request that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Done (success or an error no retry can fix).
    Final,
    /// Rejected before it was processed (rate limits): safe to send again
    /// after the wait, even a POST.
    Rejected { wait: Duration },
    /// The server failed; the request may or may not have taken effect.
    Failed { wait: Duration },
}

impl RetryPolicy {
    /// Back-off before retry number `retry` (0-based), capped.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(16));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Classify a response. `now_epoch` is the current Unix time, for
    /// `x-ratelimit-reset`.
    pub fn classify(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &str,
        retry: u32,
        now_epoch: u64,
    ) -> Verdict {
        let hinted = || wait_from_headers(headers, now_epoch);
        match status.as_u16() {
            429 => Verdict::Rejected {
                wait: hinted().unwrap_or_else(|| self.backoff(retry)),
            },
            403 if is_rate_limited(headers, body) => Verdict::Rejected {
                // GitHub asks for at least a minute after a secondary limit
                // when it sends no header; tests send `retry-after`.
                wait: hinted().unwrap_or_else(|| self.backoff(retry).max(Duration::from_secs(60))),
            },
            500 | 502 | 503 | 504 => Verdict::Failed {
                wait: hinted().unwrap_or_else(|| self.backoff(retry)),
            },
            _ => Verdict::Final,
        }
    }
}

/// A 403 that is a rate limit, not a permission problem.
pub fn is_rate_limited(headers: &HeaderMap, body: &str) -> bool {
    let exhausted = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    let lower = body.to_ascii_lowercase();
    exhausted || lower.contains("secondary rate limit") || lower.contains("rate limit exceeded")
}

/// The wait GitHub asks for: `retry-after` seconds, else until `x-ratelimit-reset`.
pub fn wait_from_headers(headers: &HeaderMap, now_epoch: u64) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if let Some(secs) = header("retry-after") {
        return Some(Duration::from_secs(secs));
    }
    let remaining_zero = header("x-ratelimit-remaining") == Some(0);
    match header("x-ratelimit-reset") {
        Some(reset) if remaining_zero => Some(Duration::from_secs(reset.saturating_sub(now_epoch))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        h
    }

    #[test]
    fn retry_after_wins() {
        let p = RetryPolicy::default();
        let v = p.classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "7")]),
            "",
            0,
            0,
        );
        assert_eq!(
            v,
            Verdict::Rejected {
                wait: Duration::from_secs(7)
            }
        );
    }

    #[test]
    fn primary_limit_waits_for_reset() {
        let p = RetryPolicy::default();
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1030"),
        ]);
        let v = p.classify(
            StatusCode::FORBIDDEN,
            &h,
            "API rate limit exceeded",
            0,
            1000,
        );
        assert_eq!(
            v,
            Verdict::Rejected {
                wait: Duration::from_secs(30)
            }
        );
    }

    #[test]
    fn plain_403_is_final() {
        let p = RetryPolicy::default();
        let v = p.classify(
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            "Resource not accessible by integration",
            0,
            0,
        );
        assert_eq!(v, Verdict::Final);
    }

    #[test]
    fn server_errors_back_off_exponentially() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.classify(StatusCode::BAD_GATEWAY, &HeaderMap::new(), "", 2, 0),
            Verdict::Failed {
                wait: Duration::from_secs(4)
            }
        );
        assert_eq!(p.backoff(30), p.max_delay);
    }
}
