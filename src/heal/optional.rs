//! Optional jobs (`heal.optional-jobs`: `arm64`, `experimental`, `nightly`
//! by default): when nothing fixes the failure directly, let that job fail
//! without failing the run, and only that job (or matrix leg).

use regex::Regex;

use super::edit::{self, NewValue};
use super::locate;
use super::pr::code;
use super::yaml::Node;
use super::{Change, Cx, Proposal, Unfixable, safe_name};

/// Where the optional fragment was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// In the job's id or `name:`: the whole job is optional.
    Job(String),
    /// Only in the shown name of a matrix leg (`build (arm64)`).
    Leg(String),
}

fn seen(cx: &Cx<'_>) -> Option<Seen> {
    let id = cx.job.id.to_lowercase();
    let name = cx
        .job
        .node
        .get("name")
        .and_then(Node::str)
        .unwrap_or_default()
        .to_lowercase();
    let shown = cx.facts().job.clone().unwrap_or_default().to_lowercase();
    let frags: Vec<String> = cx
        .input
        .config
        .optional_jobs
        .iter()
        .map(|f| f.trim().to_lowercase())
        .filter(|f| !f.is_empty())
        .collect();
    if let Some(f) = frags
        .iter()
        .find(|f| id.contains(f.as_str()) || name.contains(f.as_str()))
    {
        return Some(Seen::Job(f.clone()));
    }
    frags
        .iter()
        .find(|f| shown.contains(f.as_str()))
        .map(|f| Seen::Leg(f.clone()))
}

/// Whether the failed job is one the config calls optional.
pub fn applies(cx: &Cx<'_>) -> bool {
    seen(cx).is_some()
}

/// The matrix dimension whose values carry `frag`.
fn matrix_key(cx: &Cx<'_>, frag: &str) -> Option<String> {
    let matrix = cx
        .job
        .node
        .get("strategy")
        .and_then(|s| s.get("matrix"))
        .map(|m| cx.doc.resolve(m))?;
    let key_ok = Regex::new(r"^[A-Za-z_][A-Za-z0-9_-]*$").ok()?;
    let mut keys: Vec<String> = matrix
        .mapping()?
        .iter()
        .map(|p| p.key.clone())
        .filter(|k| k != "include" && k != "exclude")
        .collect();
    if let Some(include) = matrix
        .get("include")
        .map(|i| cx.doc.resolve(i))
        .and_then(Node::sequence)
    {
        for entry in include {
            for p in cx.doc.resolve(&entry.node).mapping().unwrap_or(&[]) {
                if !keys.contains(&p.key) {
                    keys.push(p.key.clone());
                }
            }
        }
    }
    keys.into_iter().find(|k| {
        key_ok.is_match(k)
            && locate::matrix_values(cx.doc, cx.job.node, k)
                .iter()
                .any(|v| v.to_lowercase().contains(frag))
    })
}

pub fn propose(cx: &Cx<'_>) -> Result<Proposal, Unfixable> {
    let seen = seen(cx).ok_or_else(|| {
        Unfixable::NotApplicable(format!("job {} is not optional", code(&cx.job.id)))
    })?;
    locate::require_steps(cx.doc, &cx.job)?;
    if let Some(existing) = cx.job.node.get("continue-on-error") {
        return Err(if existing.str() == Some("true") {
            Unfixable::NotApplicable(format!(
                "job {} already has `continue-on-error: true`",
                code(&cx.job.id)
            ))
        } else {
            Unfixable::Unsupported(format!(
                "job {} already sets `continue-on-error`",
                code(&cx.job.id)
            ))
        });
    }
    let (value, title, why) = match &seen {
        Seen::Job(frag) => (
            edit::boolean(true),
            format!(
                "ci: let optional job {} fail without failing the run",
                cx.job.id
            ),
            format!(
                "Added {} to job {}: its name matches {} from `heal.optional-jobs`, so its failures are reported but no longer fail the run.",
                code("continue-on-error: true"),
                code(&cx.job.id),
                code(frag)
            ),
        ),
        Seen::Leg(frag) => {
            if !safe_name(frag, 64) {
                return Err(Unfixable::Unsafe(format!(
                    "the optional-jobs fragment {} does not match the allowed pattern",
                    code(frag)
                )));
            }
            let key = matrix_key(cx, frag).ok_or_else(|| {
                Unfixable::Unsupported(format!(
                    "the failed leg of job {} matches {} but no matrix value does",
                    code(&cx.job.id),
                    code(frag)
                ))
            })?;
            let expr = format!("${{{{ contains(matrix.{key}, '{frag}') }}}}");
            (
                edit::string(&expr)?,
                format!(
                    "ci: let the {frag} legs of job {} fail without failing the run",
                    cx.job.id
                ),
                format!(
                    "Added {} to job {}: the failed leg {} matches {} from `heal.optional-jobs`; only legs whose {} contains it may fail, the others still fail the run.",
                    code(&format!("continue-on-error: {expr}")),
                    code(&cx.job.id),
                    code(cx.facts().job.as_deref().unwrap_or_default()),
                    code(frag),
                    code(&format!("matrix.{key}"))
                ),
            )
        }
    };
    let patch = edit::insert_pair(
        cx.doc,
        cx.job.node,
        &cx.job.path,
        &["runs-on", "name"],
        "continue-on-error",
        NewValue::Scalar(value),
    )?;
    Ok(Proposal::new(title, vec![Change::new(why)], patch))
}
