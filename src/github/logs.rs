//! Log downloads. GitHub answers a log request with a 302 to a short-lived
//! blob URL; that URL is fetched by a separate plain HTTP client so the token
//! is never sent to the blob host. Bodies stream to a temporary file under a
//! size cap, so a huge log costs disk, not memory.

use std::io::Write as _;

use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

use super::{Answer, Client, GithubError, status_error};

/// What went wrong fetching a log; each has an honest analysis downstream.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("the logs have expired (GitHub answered 410 Gone)")]
    Expired,
    #[error("the logs are not available (GitHub answered 404)")]
    Missing,
    #[error("log download failed: {0}")]
    Api(#[from] GithubError),
    #[error("log download from the blob host failed: {0}")]
    Blob(String),
    #[error("cannot store the log: {0}")]
    Io(#[from] std::io::Error),
}

/// A downloaded log in a temporary file (removed on drop).
#[derive(Debug)]
pub struct DownloadedLog {
    pub file: tempfile::NamedTempFile,
    pub bytes: u64,
    /// True when the cap cut the log short.
    pub truncated: bool,
}

impl Client {
    /// The plain-text log of one job.
    pub async fn download_job_log(&self, job_id: u64, cap: u64) -> Result<DownloadedLog, LogError> {
        self.download(
            &self.repo_path(&format!("/actions/jobs/{job_id}/logs")),
            cap,
        )
        .await
    }

    /// The zip archive of all logs of a run (latest attempt).
    pub async fn download_run_logs(
        &self,
        run_id: u64,
        cap: u64,
    ) -> Result<DownloadedLog, LogError> {
        self.download(
            &self.repo_path(&format!("/actions/runs/{run_id}/logs")),
            cap,
        )
        .await
    }

    async fn download(&self, path: &str, cap: u64) -> Result<DownloadedLog, LogError> {
        let reply = match self.get_streaming(path).await? {
            // Some servers answer with the log itself: stream it to the file.
            Answer::Streaming(res) => return stream_to_file(res.into_body(), cap).await,
            Answer::Read(reply) => reply,
        };
        match reply.status {
            StatusCode::GONE => Err(LogError::Expired),
            StatusCode::NOT_FOUND => Err(LogError::Missing),
            s if s.is_redirection() => {
                let location = reply
                    .headers
                    .get(http::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| LogError::Blob("redirect without a Location".into()))?
                    .to_string();
                self.fetch_blob(&location, cap).await
            }
            s if s.is_success() => {
                // Successful answers are streamed above; this one was read
                // under the reply cap.
                let mut out = Sink::new(cap)?;
                out.write(&reply.body)?;
                Ok(out.finish())
            }
            _ => Err(LogError::Api(status_error(&Method::GET, path, &reply))),
        }
    }

    /// GET a blob URL without credentials, streaming to a file.
    async fn fetch_blob(&self, location: &str, cap: u64) -> Result<DownloadedLog, LogError> {
        let uri: http::Uri = location
            .parse()
            .map_err(|e| LogError::Blob(format!("bad blob URL: {e}")))?;
        // Plain http only where the API itself is plain http (a local test server).
        let allow_http = self.api_url().scheme() == "http";
        if uri.scheme_str() != Some("https") && !allow_http {
            return Err(LogError::Blob("refusing a non-https blob URL".into()));
        }
        let client = self.blob_client();
        let mut attempt = 0u32;
        loop {
            let req = Request::get(uri.clone())
                .header(http::header::USER_AGENT, "ci-medic")
                .body(Empty::new())
                .map_err(|e| LogError::Blob(e.to_string()))?;
            let res =
                tokio::time::timeout(std::time::Duration::from_secs(120), client.request(req))
                    .await
                    .map_err(|_| LogError::Blob("timed out".into()))
                    .and_then(|r| r.map_err(|e| LogError::Blob(e.to_string())));
            let retryable = match &res {
                Ok(r) => r.status().is_server_error(),
                Err(_) => true,
            };
            if retryable && attempt + 1 < self.policy().max_attempts {
                tokio::time::sleep(self.policy().backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            let res = res?;
            if !res.status().is_success() {
                return Err(LogError::Blob(format!(
                    "blob host answered {}",
                    res.status()
                )));
            }
            return stream_to_file(res.into_body(), cap).await;
        }
    }
}

/// Streams a body into a temporary file, stopping at `cap` bytes: memory
/// holds one frame at a time, whatever the log's size.
async fn stream_to_file<B>(mut body: B, cap: u64) -> Result<DownloadedLog, LogError>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut out = Sink::new(cap)?;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| LogError::Blob(e.to_string()))?;
        if let Ok(data) = frame.into_data()
            && !out.write(&data)?
        {
            break;
        }
    }
    Ok(out.finish())
}

/// The plain HTTP client for blob URLs: no credentials, compiled-in roots.
pub(crate) type BlobClient = HyperClient<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<bytes::Bytes>,
>;

pub(crate) fn new_blob_client() -> BlobClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    HyperClient::builder(TokioExecutor::new()).build(https)
}

/// A capped writer into a temporary file.
struct Sink {
    file: tempfile::NamedTempFile,
    written: u64,
    cap: u64,
    truncated: bool,
}

impl Sink {
    fn new(cap: u64) -> std::io::Result<Sink> {
        Ok(Sink {
            file: tempfile::NamedTempFile::new()?,
            written: 0,
            cap,
            truncated: false,
        })
    }

    /// Write what fits; `false` once the cap is reached.
    fn write(&mut self, data: &[u8]) -> std::io::Result<bool> {
        let room = self.cap.saturating_sub(self.written) as usize;
        let take = data.len().min(room);
        self.file.write_all(&data[..take])?;
        self.written += take as u64;
        if take < data.len() {
            self.truncated = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn finish(mut self) -> DownloadedLog {
        let _ = self.file.flush();
        DownloadedLog {
            file: self.file,
            bytes: self.written,
            truncated: self.truncated,
        }
    }
}
