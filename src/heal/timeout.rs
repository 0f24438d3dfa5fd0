//! `timeout`: raise `timeout-minutes` from what the run really took.

use super::edit::{self, NewValue, Patch};
use super::locate;
use super::pr::code;
use super::yaml::Node;
use super::{Change, Cx, Proposal, Unfixable};

/// GitHub-hosted runners stop any job after 6 hours; `timeout-minutes`
/// cannot usefully go higher.
pub const MAX_MINUTES: u64 = 360;

/// The new limit: twice the observed minutes, above the old limit, capped.
pub fn proposed(observed_minutes: u64, current: Option<u64>) -> u64 {
    let twice = observed_minutes.saturating_mul(2).max(1);
    let above = current.map_or(0, |c| c.saturating_add(1));
    twice.max(above).min(MAX_MINUTES)
}

/// A literal `timeout-minutes` (integer or number); `Err` for expressions.
fn literal(n: &Node) -> Result<u64, Unfixable> {
    let text = n.str().unwrap_or_default().trim();
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v.ceil() as u64),
        _ => Err(Unfixable::Unsupported(format!(
            "`timeout-minutes` is {}, not a number ci-medic can raise",
            code(text)
        ))),
    }
}

fn minutes(secs: u64) -> u64 {
    secs.div_ceil(60).max(1)
}

pub fn propose(cx: &Cx<'_>) -> Result<Proposal, Unfixable> {
    let rule = cx.facts().rule();
    let limit = cx
        .facts()
        .capture("minutes")
        .and_then(|m| m.parse::<u64>().ok());
    if rule == "gha-step-timeout" {
        return step(cx, limit);
    }
    if !rule.is_empty() && !rule.starts_with("gha-") {
        return Err(Unfixable::NotApplicable(format!(
            "the time limit hit is the tool's own ({}), not the workflow's `timeout-minutes`",
            code(rule)
        )));
    }
    job(cx, limit)
}

fn job(cx: &Cx<'_>, limit: Option<u64>) -> Result<Proposal, Unfixable> {
    locate::require_steps(cx.doc, &cx.job)?;
    let current = match cx.job.node.get("timeout-minutes") {
        Some(n) => Some((n, literal(n)?)),
        None => None,
    };
    let observed = cx
        .facts()
        .duration_secs
        .map(minutes)
        .or(limit)
        .or(current.map(|(_, c)| c))
        .ok_or_else(|| Unfixable::NotApplicable("how long the job ran is unknown".into()))?;
    let took = match cx.facts().duration_secs {
        Some(s) => format!("the failed run took {} minute(s)", minutes(s)),
        None => format!("the job was stopped after {observed} minute(s)"),
    };
    match current {
        Some((_, c)) if c >= MAX_MINUTES => Err(Unfixable::NotApplicable(format!(
            "job {} already has the {MAX_MINUTES}-minute maximum; it needs to be made faster or split",
            code(&cx.job.id)
        ))),
        Some((node, c)) => {
            let new = proposed(observed, Some(c));
            let patch = edit::replace_scalar(
                cx.doc,
                node,
                &edit::key(&cx.job.path, "timeout-minutes"),
                &edit::int(new),
            )?;
            Ok(Proposal::new(
                format!(
                    "ci: raise the timeout of job {} to {new} minutes",
                    cx.job.id
                ),
                vec![Change::new(format!(
                    "Raised {} of job {} from {c} to {new}: {took} and hit the {c}-minute limit; {new} is twice that (at most {MAX_MINUTES}).",
                    code("timeout-minutes"),
                    code(&cx.job.id)
                ))],
                patch,
            ))
        }
        None if observed.saturating_add(5) >= MAX_MINUTES => {
            Err(Unfixable::NotApplicable(format!(
                "job {} ran into GitHub's {MAX_MINUTES}-minute limit; it needs to be made faster or split",
                code(&cx.job.id)
            )))
        }
        None => {
            let new = proposed(observed, None);
            let patch = edit::insert_pair(
                cx.doc,
                cx.job.node,
                &cx.job.path,
                &["runs-on", "name"],
                "timeout-minutes",
                NewValue::Scalar(edit::int(new)),
            )?;
            Ok(Proposal::new(
                format!("ci: set a {new}-minute timeout on job {}", cx.job.id),
                vec![Change::new(format!(
                    "Added {} to job {}: it had none, {took}, and {new} is twice that (at most {MAX_MINUTES}).",
                    code(&format!("timeout-minutes: {new}")),
                    code(&cx.job.id)
                ))],
                patch,
            ))
        }
    }
}

fn step(cx: &Cx<'_>, limit: Option<u64>) -> Result<Proposal, Unfixable> {
    // The log names the step ("The action 'Run tests' has timed out").
    let named = match cx.facts().capture("step") {
        Some(name) => locate::find_step(cx.doc, &cx.job, Some(name), None)?,
        None => None,
    };
    let step = match named.as_ref() {
        Some(s) => s,
        None => cx.need_step()?,
    };
    let node = step.node.get("timeout-minutes").ok_or_else(|| {
        Unfixable::NotApplicable(format!(
            "step {} sets no `timeout-minutes`; the limit it hit is not in the workflow",
            code(&step.display)
        ))
    })?;
    let current = literal(node)?;
    if current >= MAX_MINUTES {
        return Err(Unfixable::NotApplicable(format!(
            "step {} already has the {MAX_MINUTES}-minute maximum",
            code(&step.display)
        )));
    }
    let new = proposed(limit.unwrap_or(current).max(current), Some(current));
    let mut patch = Patch::default();
    patch.add(edit::replace_scalar(
        cx.doc,
        node,
        &edit::key(&step.path, "timeout-minutes"),
        &edit::int(new),
    )?);
    let mut changes = vec![Change::new(format!(
        "Raised {} of step {} from {current} to {new}: the step was stopped at its {current}-minute limit; {new} is twice that (at most {MAX_MINUTES}).",
        code("timeout-minutes"),
        code(&step.display)
    ))];
    // A job limit below the step's new one would stop the job first.
    if let Some(job_node) = cx.job.node.get("timeout-minutes")
        && let Ok(job_limit) = literal(job_node)
        && job_limit < new
    {
        patch.add(edit::replace_scalar(
            cx.doc,
            job_node,
            &edit::key(&cx.job.path, "timeout-minutes"),
            &edit::int(new),
        )?);
        changes.push(Change::new(format!(
            "Raised {} of job {} from {job_limit} to {new}, so the job's limit does not cut the step short.",
            code("timeout-minutes"),
            code(&cx.job.id)
        )));
    }
    Ok(Proposal::new(
        format!(
            "ci: raise the timeout of step {} to {new} minutes",
            step.display
        ),
        changes,
        patch,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twice_observed_above_current_capped() {
        assert_eq!(proposed(14, None), 28);
        assert_eq!(proposed(10, Some(10)), 20);
        assert_eq!(proposed(3, Some(30)), 31);
        assert_eq!(proposed(300, Some(200)), MAX_MINUTES);
        assert_eq!(proposed(0, None), 1);
    }
}
