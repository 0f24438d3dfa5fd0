//! A minimal W3C WebDriver client for the browser tests: Debian's
//! `chromedriver` driving headless `chromium`, over plain HTTP with
//! hyper-util. Only what the tests use: a session, navigation, running a
//! script, and the browser's console log.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser can run here. Under `CI=true` a missing browser is a
/// failure (`.ci/run` installs it); elsewhere the caller says it did not run.
pub fn available() -> bool {
    let present = Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file();
    assert!(
        present || std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and no {CHROMIUM} or {CHROMEDRIVER}: .ci/run installs chromium and chromium-driver"
    );
    if !present {
        eprintln!("no {CHROMIUM} or {CHROMEDRIVER}: the browser test did not run");
    }
    present
}

/// A chromedriver process with one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: Client<HttpConnector, Full<Bytes>>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start chromedriver and a headless Chromium whose viewport is `width`
    /// CSS pixels wide.
    pub async fn start(width: u32) -> Browser {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("address").port()
        };
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let client = Client::builder(TokioExecutor::new()).build_http();
        let base = format!("http://127.0.0.1:{port}");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            client,
            _profile: profile,
        };
        let mut ready = false;
        for _ in 0..100 {
            if let Some(v) = browser.try_send("GET", "/status", None).await
                && v["value"]["ready"] == json!(true)
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not become ready");
        let args = json!([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            format!("--window-size={width},800"),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ]);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // A window cannot be narrower than Chromium's minimum; the
            // emulated device's viewport can.
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args, "mobileEmulation":
                {"deviceMetrics": {"width": width, "height": 800, "pixelRatio": 1.0}}},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let v = browser.send("POST", "/session", Some(&caps)).await;
        browser.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        browser
    }

    async fn try_send(&self, method: &str, path: &str, body: Option<&Value>) -> Option<Value> {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(bytes)))
            .ok()?;
        let resp = self.client.request(req).await.ok()?;
        let body = resp.into_body().collect().await.ok()?.to_bytes();
        serde_json::from_slice(&body).ok()
    }

    async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let v = self
            .try_send(method, path, body)
            .await
            .unwrap_or_else(|| panic!("webdriver {method} {path}: no answer"));
        assert!(
            v["value"].get("error").is_none(),
            "webdriver {method} {path}: {v}"
        );
        v
    }

    /// Open `page` (a file on disk).
    pub async fn open(&self, page: &Path) {
        let url = format!("file://{}", page.display());
        self.send(
            "POST",
            &format!("/session/{}/url", self.session),
            Some(&json!({ "url": url })),
        )
        .await;
    }

    /// Run `script` (a function body) in the page; its return value.
    pub async fn eval(&self, script: &str) -> Value {
        let v = self
            .send(
                "POST",
                &format!("/session/{}/execute/sync", self.session),
                Some(&json!({"script": script, "args": []})),
            )
            .await;
        v["value"].clone()
    }

    /// The browser console's entries since the last call, as
    /// `LEVEL: message`.
    pub async fn console(&self) -> Vec<String> {
        let v = self
            .send(
                "POST",
                &format!("/session/{}/se/log", self.session),
                Some(&json!({"type": "browser"})),
            )
            .await;
        v["value"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e["level"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let v = self
            .send(
                "GET",
                &format!("/session/{}/screenshot", self.session),
                None,
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(v["value"].as_str().unwrap_or_default())
            .expect("a base64 PNG")
    }

    /// End the session (the driver is stopped on drop).
    pub async fn quit(self) {
        let _ = self
            .try_send("DELETE", &format!("/session/{}", self.session), None)
            .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
