//! The site in a real headless Chromium. The hostile site (`--dump-dom`):
//! the page's own script ran (its sort buttons are in the DOM, so the
//! Content-Security-Policy lets it through) and no hostile string became an
//! element. The demo site, driven through chromedriver (WebDriver) on an
//! emulated 360 px screen: no page logs an error or warning to the console
//! or is wider than the screen, and a click on a column header sorts its
//! rows. Without the browser the tests fail under `CI=true` and say they
//! did not run elsewhere.

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

/// Every `.html` file under `dir`, sorted.
fn pages(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("site dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "html") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Clicks the header of the first column whose rows are not already in
/// order, in the first sortable table with three rows or more; what the
/// column read before and after, and what sorting should give.
const SORT_SCRIPT: &str = r#"
var tables = document.querySelectorAll("table.sortable");
for (var t = 0; t < tables.length; t++) {
  var body = tables[t].tBodies[0];
  if (!body || body.rows.length < 3 || !tables[t].tHead) continue;
  var heads = tables[t].tHead.rows[0].cells;
  for (var i = 0; i < heads.length; i++) {
    var th = heads[i];
    var button = th.querySelector("button");
    if (!button) return {error: "a sortable header without its button"};
    var numeric = th.getAttribute("data-type") === "number";
    var read = function () {
      return Array.prototype.map.call(body.rows, function (r) {
        var c = r.cells[i];
        if (!c) return "";
        var v = c.getAttribute("data-value");
        return v !== null ? v : c.textContent.trim();
      });
    };
    var before = read();
    var expected = before.slice().sort(function (x, y) {
      return numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
    });
    if (JSON.stringify(before) === JSON.stringify(expected)) continue;
    button.click();
    return {column: th.textContent.trim(), before: before, after: read(),
            expected: expected, aria: th.getAttribute("aria-sort")};
  }
}
return {error: "no table to sort"};
"#;

#[tokio::test]
async fn hud_demo_site_in_chromium_at_360px_sorts_and_logs_no_errors() {
    use crate::support::webdriver::{Browser, available};
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = crate::hud_site::build_site(&crate::hud_site::build_demo(), dir.path()).await;
    let browser = Browser::start(360).await;
    let all = pages(&site);
    assert!(all.len() >= 4, "{all:?}");
    // Kept as CI output: what each page looks like on a phone.
    let shots = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/hud-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    for page in &all {
        browser.open(page).await;
        let name = page
            .strip_prefix(&site)
            .unwrap_or(page)
            .display()
            .to_string();
        let png = browser.screenshot().await;
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        std::fs::write(
            shots.join(name.replace('/', "_").replace(".html", ".png")),
            png,
        )
        .expect("screenshot");
        let errors: Vec<String> = browser
            .console()
            .await
            .into_iter()
            .filter(|e| e.starts_with("SEVERE") || e.starts_with("WARNING"))
            .collect();
        assert!(errors.is_empty(), "{name}: console: {errors:?}");
        let width = browser
            .eval(
                "return [document.documentElement.scrollWidth, window.innerWidth, \
                 document.querySelectorAll('script').length];",
            )
            .await;
        // On an emulated phone the layout viewport grows to fit content
        // wider than the screen, so both must stay at 360.
        let (scroll, inner) = (width[0].as_u64(), width[1].as_u64());
        assert!(
            scroll <= Some(360) && inner <= Some(360),
            "{name}: the page is wider than 360 px (content {scroll:?}, viewport {inner:?})"
        );
    }
    // Sorting, on the index: a click on a header orders its rows.
    browser.open(&site.join("index.html")).await;
    let sort = browser.eval(SORT_SCRIPT).await;
    assert!(sort.get("error").is_none(), "{sort}");
    assert_eq!(sort["after"], sort["expected"], "{sort}");
    assert_ne!(sort["after"], sort["before"], "{sort}");
    assert_eq!(sort["aria"], "ascending", "{sort}");
    browser.quit().await;
}
