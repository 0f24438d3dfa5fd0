//! Charts as inline SVG, written here by hand.
//!
//! A plotting crate's SVG backend (plotters) draws at a fixed pixel size,
//! sets text in fonts it measures itself and has no way to give the figure a
//! title and description for screen readers; the HUD needs one bar chart
//! that scales with the page (`viewBox`), carries `role="img"` with a
//! `<title>`, and patterns as well as colours. That is a hundred lines, so
//! they are written here. Only numbers and dates reach the SVG, and the
//! labels are escaped all the same.

use std::fmt::Write as _;

use super::model::DayCount;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 36.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

/// Text made safe for SVG/HTML content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A bar per day: all jobs (light, plain) and failed jobs (dark, hatched) in
/// front, with a y axis in jobs. An empty series gives a short note instead.
pub fn failures_per_day(days: &[DayCount]) -> String {
    if days.is_empty() {
        return "<p>No jobs in this window.</p>".to_string();
    }
    let max = days
        .iter()
        .map(|d| d.jobs.max(d.failed))
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_w = WIDTH - LEFT - 4.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / days.len() as f64;
    let bar = (slot * 0.8).max(1.0);
    let y = |v: u64| TOP + plot_h - plot_h * v as f64 / max as f64;
    let total_failed: u64 = days.iter().map(|d| d.failed).sum();
    let total_jobs: u64 = days.iter().map(|d| d.jobs).sum();
    let first = days.first().map(|d| d.day.to_string()).unwrap_or_default();
    let last = days.last().map(|d| d.day.to_string()).unwrap_or_default();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">"#
    );
    let _ = write!(
        s,
        r#"<title id="chart-title">Failed jobs per day</title><desc id="chart-desc">{} failed of {} jobs from {} to {}; the table below has every day.</desc>"#,
        total_failed,
        total_jobs,
        escape(&first),
        escape(&last)
    );
    s.push_str(
        r#"<defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="4" height="4" class="bar-failed"/><line x1="0" y1="0" x2="0" y2="4" class="hatch-line"/></pattern></defs>"#,
    );
    // Axis and a mid gridline, labelled in jobs.
    let _ = write!(
        s,
        r#"<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{}"/><line class="axis" x1="{LEFT}" y1="{0}" x2="{WIDTH}" y2="{0}"/>"#,
        TOP + plot_h
    );
    for v in [max, max / 2] {
        let _ = write!(
            s,
            r#"<text class="tick" x="{}" y="{:.1}" text-anchor="end">{v}</text><line class="grid" x1="{LEFT}" y1="{:.1}" x2="{WIDTH}" y2="{:.1}"/>"#,
            LEFT - 4.0,
            y(v) + 4.0,
            y(v),
            y(v)
        );
    }
    for (i, d) in days.iter().enumerate() {
        let x = LEFT + 2.0 + slot * i as f64 + (slot - bar) / 2.0;
        let label = escape(&format!(
            "{}: {} failed of {} jobs",
            d.day, d.failed, d.jobs
        ));
        let _ = write!(
            s,
            r#"<g><title>{label}</title><rect class="bar-jobs" x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{:.1}"/><rect fill="url(#hatch)" class="bar-failed" x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{:.1}"/></g>"#,
            y(d.jobs),
            TOP + plot_h - y(d.jobs),
            y(d.failed),
            TOP + plot_h - y(d.failed),
        );
    }
    let _ = write!(
        s,
        r#"<text class="tick" x="{LEFT}" y="{}">{}</text><text class="tick" x="{WIDTH}" y="{}" text-anchor="end">{}</text>"#,
        HEIGHT - 6.0,
        escape(&first),
        HEIGHT - 6.0,
        escape(&last)
    );
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(d: u32, jobs: u64, failed: u64) -> DayCount {
        DayCount {
            day: NaiveDate::from_ymd_opt(2026, 11, d).unwrap(),
            jobs,
            failed,
        }
    }

    #[test]
    fn one_bar_pair_per_day_with_a_title_a_reader_can_hear() {
        let svg = failures_per_day(&[day(1, 10, 2), day(2, 0, 0), day(3, 4, 4)]);
        assert_eq!(svg.matches("class=\"bar-jobs\"").count(), 3);
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("<title id=\"chart-title\">Failed jobs per day</title>"));
        assert!(svg.contains("6 failed of 14 jobs from 2026-11-01 to 2026-11-03"));
        assert!(svg.contains("2026-11-03: 4 failed of 4 jobs"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn no_days_is_a_sentence_not_an_empty_chart() {
        assert!(!failures_per_day(&[]).contains("<svg"));
    }
}
