//! The hostile site in a real headless Chromium (`--dump-dom`): the page's
//! own script ran (its sort buttons are in the DOM, so the
//! Content-Security-Policy lets it through) and no hostile string became an
//! element. Without Chromium the test fails under `CI=true` and is a no-op
//! on a developer's machine, saying so.

use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

fn dump_dom(page: &Path, profile: &Path) -> String {
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=360,800",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn hud_hostile_site_is_inert_in_chromium() {
    if !Path::new(CHROMIUM).is_file() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and no {CHROMIUM}: .ci/run installs chromium"
        );
        eprintln!("no {CHROMIUM}: the browser test did not run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = crate::hud_site::build_site(&crate::hud_site::hostile_snapshot(), dir.path()).await;
    for page in [
        "index.html",
        "trunk.html",
        "downstream/index.html",
        "pr/667.html",
    ] {
        let profile = tempfile::tempdir().unwrap();
        let dom = dump_dom(&site.join(page), profile.path());
        assert!(dom.contains("</html>"), "{page}: no DOM");
        assert!(
            !dom.contains("<img"),
            "{page}: a hostile img became an element"
        );
        assert_eq!(
            dom.matches("<script").count(),
            1,
            "{page}: a hostile script became an element"
        );
        assert!(
            !dom.contains("href=\"javascript:"),
            "{page}: a javascript: link"
        );
        if page != "trunk.html" {
            assert!(
                dom.contains("<th scope=\"col\"") && dom.contains("<button type=\"button\">"),
                "{page}: sort.js did not run"
            );
        }
    }
}
