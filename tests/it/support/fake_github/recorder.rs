//! What the fake saw: every request, every rule the client broke, every write
//! it made (and whether the test looked at it).

use serde_json::Value;

/// Which of the fake's two servers a request reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// The REST API.
    Api,
    /// The blob host that serves logs after a redirect.
    Blob,
}

/// One request, as received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub host: Host,
    pub method: String,
    /// URL path, percent-encoded as sent.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: Option<String>,
    /// Header names are lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The `operationId` the request matched, if any.
    pub operation: Option<String>,
    /// The status the fake answered with.
    pub status: u16,
    /// The injected fault that answered, if any.
    pub fault: Option<String>,
}

impl RecordedRequest {
    /// First value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`None` when empty or not JSON).
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// `METHOD /path?query`.
    pub fn line(&self) -> String {
        match &self.query {
            Some(q) => format!("{} {}?{q}", self.method, self.path),
            None => format!("{} {}", self.method, self.path),
        }
    }
}

/// A write the client made that a test is expected to look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// Created or changed issue (title, body, state, labels) by number.
    Issue(u64),
    /// Created or edited comment, by issue number.
    Comment(u64),
    /// Created repository label, by name.
    Label(String),
    /// Created or changed pull request, by number.
    Pull(u64),
    /// Created or moved ref, by full name.
    Ref(String),
    /// Re-run of a workflow run, by run id.
    Rerun(u64),
    /// Dispatch of a workflow, by workflow id.
    Dispatch(u64),
    /// Created or updated check run, by id.
    CheckRun(u64),
    /// Cancelled workflow run, by run id.
    Cancel(u64),
    /// Reaction to an issue comment, by comment id.
    Reaction(u64),
    /// Merge of a pull request (or an update of its branch), by number.
    Merge(u64),
    /// A `repository_dispatch`, by the receiving repository's full name.
    RepositoryDispatch(String),
    /// Dismissed pull-request review, by review id.
    Dismissal(u64),
}

#[derive(Clone, Debug)]
pub struct Write {
    pub kind: WriteKind,
    /// The request line that made it.
    pub by: String,
    pub read: bool,
}

#[derive(Debug)]
pub struct Recorder {
    pub requests: Vec<RecordedRequest>,
    /// Rules the client broke (unknown operation, schema, auth, token leak).
    pub violations: Vec<String>,
    /// Responses of the fake that do not match GitHub's description (bugs in the
    /// fake or in seeded data).
    pub fake_bugs: Vec<String>,
    pub writes: Vec<Write>,
    /// Tokens seen in `Authorization` headers, in order of first use.
    pub tokens: Vec<String>,
    /// Whether unread writes count as a problem.
    pub require_reads: bool,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            requests: Vec::new(),
            violations: Vec::new(),
            fake_bugs: Vec::new(),
            writes: Vec::new(),
            tokens: Vec::new(),
            require_reads: true,
        }
    }
}

impl Recorder {
    pub fn violation(&mut self, line: &str, message: impl std::fmt::Display) {
        self.violations.push(format!("{line}: {message}"));
    }

    pub fn wrote(&mut self, kind: WriteKind, by: &str) {
        self.writes.push(Write {
            kind,
            by: by.to_owned(),
            read: false,
        });
    }

    pub fn mark_read(&mut self, matches: impl Fn(&WriteKind) -> bool) {
        for w in self.writes.iter_mut().filter(|w| matches(&w.kind)) {
            w.read = true;
        }
    }

    pub fn saw_token(&mut self, token: &str) {
        if !self.tokens.iter().any(|t| t == token) {
            self.tokens.push(token.to_owned());
        }
    }

    /// Everything wrong, one line each; empty when clean.
    pub fn problems(&self, pending_faults: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self
            .violations
            .iter()
            .map(|v| format!("violation: {v}"))
            .collect();
        out.extend(
            self.fake_bugs
                .iter()
                .map(|b| format!("fake GitHub bug: {b}")),
        );
        if self.require_reads {
            out.extend(
                self.writes
                    .iter()
                    .filter(|w| !w.read)
                    .map(|w| format!("unread write: {:?} made by {}", w.kind, w.by)),
            );
        }
        out.extend(
            pending_faults
                .iter()
                .map(|f| format!("injected fault never triggered: {f}")),
        );
        out
    }
}
