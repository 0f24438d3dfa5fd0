//! Which links a page may carry. A URL from a snapshot, the API or a
//! downstream payload becomes a link only when it is `http(s)` to a host the
//! site trusts (GitHub's web host and the configured server); anything else
//! (`javascript:`, `data:`, other hosts, user info, odd ports) is shown as
//! text or not at all.

use url::Url;

/// Longest URL linked.
pub const MAX_URL_CHARS: usize = 2048;

/// Hosts a link may point to.
#[derive(Debug, Clone)]
pub struct LinkPolicy {
    hosts: Vec<String>,
}

impl LinkPolicy {
    /// `github.com` and the host of `server_url` (a GitHub Enterprise Server).
    pub fn new(server_url: &str) -> LinkPolicy {
        let mut hosts = vec!["github.com".to_string()];
        if let Some(host) = Url::parse(server_url)
            .ok()
            .filter(|u| u.scheme() == "https")
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            && !hosts.contains(&host)
        {
            hosts.push(host);
        }
        LinkPolicy { hosts }
    }

    /// `url` in its normalised form when it may be linked.
    pub fn href(&self, url: &str) -> Option<String> {
        let url = url.trim();
        if url.is_empty() || url.chars().count() > MAX_URL_CHARS {
            return None;
        }
        let parsed = Url::parse(url).ok()?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return None;
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return None;
        }
        if parsed.port().is_some() {
            return None;
        }
        let host = parsed.host_str()?.to_ascii_lowercase();
        if !self.hosts.contains(&host) {
            return None;
        }
        Some(parsed.to_string())
    }

    /// [`href`](Self::href) of an optional URL.
    pub fn href_opt(&self, url: Option<&str>) -> Option<String> {
        url.and_then(|u| self.href(u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_links_to_trusted_hosts_pass() {
        let p = LinkPolicy::new("https://ghe.example.com");
        assert_eq!(
            p.href("https://github.com/o/r/actions/runs/1").as_deref(),
            Some("https://github.com/o/r/actions/runs/1")
        );
        assert!(p.href("https://ghe.example.com/o/r").is_some());
        for bad in [
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "https://evil.example/o/r",
            "https://github.com.evil.example/x",
            "https://user:pw@github.com/x",
            "https://github.com:8443/x",
            "//github.com/x",
            "vbscript:x",
            "",
        ] {
            assert_eq!(p.href(bad), None, "{bad}");
        }
        // A quote cannot end the attribute: the URL parser percent-encodes it.
        let q = p
            .href("https://github.com/o/r\"onmouseover=alert(1)")
            .unwrap();
        assert!(!q.contains('"'), "{q}");
    }
}
