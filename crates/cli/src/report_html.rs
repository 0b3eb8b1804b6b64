//! `soprovod analytics report --html`: the operator's picture as one self-contained HTML page
//! (inline CSS, inline SVG, a few lines of inline script; nothing fetched from anywhere).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use store::analytics::{CohortRow, Hundredths, RetentionCell};
use store::funnel::{FunnelRow, RevenueRow, FUNNEL_STEPS};

/// Everything the page shows, read at one instant.
pub struct ReportData {
    pub made_at: DateTime<Utc>,
    pub funnel: Vec<FunnelRow>,
    pub retention: Vec<RetentionCell>,
    pub cohorts: Vec<CohortRow>,
    pub revenue: Vec<RevenueRow>,
}

const STYLE: &str = r#"
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; }
body { margin: 0 auto; padding: 12px; max-width: 1100px; }
h1 { font-size: 1.4rem; margin: 0.2em 0; }
h2 { font-size: 1.1rem; margin: 1.4em 0 0.4em; }
p.note { color: #4b5563; font-size: 0.85rem; margin: 0.2em 0 0.6em; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; font-size: 0.8rem; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 6px; border: 1px solid #e5e7eb; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; position: sticky; left: 0; background: #fff; }
td.cell { min-width: 3.2em; text-align: center; }
td.empty { background: repeating-linear-gradient(45deg, #fafafa, #fafafa 4px, #f3f4f6 4px, #f3f4f6 8px); }
svg text { font-size: 12px; fill: #1f2937; }
#detail { position: sticky; bottom: 0; background: #111827; color: #fff; padding: 6px 10px;
          border-radius: 6px; font-size: 0.85rem; min-height: 1.2em; }
#detail:empty { display: none; }
"#;

/// Tapping a cell shows its title (phones have no hover).
const SCRIPT: &str = r#"
document.addEventListener('click', function (event) {
  var cell = event.target.closest('[title]');
  var detail = document.getElementById('detail');
  if (detail) { detail.textContent = cell ? cell.getAttribute('title') : ''; }
});
"#;

/// The page for `data`.
pub fn render(data: &ReportData) -> String {
    let made = data.made_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Soprovod analytics, {made}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Soprovod analytics</h1>\n\
         <p class=\"note\">Made <time id=\"made-at\" datetime=\"{}\">{made}</time>. Cohorts are \
         UTC calendar months of signup (the last 12); test users are excluded.</p>\n",
        data.made_at.to_rfc3339()
    );
    funnel_section(&mut page, &data.funnel);
    retention_section(&mut page, &data.retention);
    cohort_section(&mut page, &data.cohorts);
    revenue_section(&mut page, &data.revenue);
    let _ = write!(
        page,
        "<div id=\"detail\" aria-live=\"polite\"></div>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    page
}

/// White to blue; `t` in 0..=1.
fn colour(t: f64) -> (String, &'static str) {
    let t = t.clamp(0.0, 1.0);
    let mix = |from: f64, to: f64| (from + (to - from) * t).round() as u8;
    let background = format!(
        "#{:02x}{:02x}{:02x}",
        mix(239.0, 29.0),
        mix(246.0, 78.0),
        mix(255.0, 216.0)
    );
    let foreground = if t > 0.55 { "#ffffff" } else { "#1f2937" };
    (background, foreground)
}

/// A gradient bar from 0 to `max` percent: the key of a heatmap's colours.
fn legend(page: &mut String, id: &str, max: Hundredths) {
    let (low, _) = colour(0.0);
    let (high, _) = colour(1.0);
    let _ = writeln!(
        page,
        "<svg class=\"legend\" width=\"240\" height=\"34\" viewBox=\"0 0 240 34\" role=\"img\" \
         aria-label=\"colour scale from 0% to {max}%\">\
         <defs><linearGradient id=\"{id}\"><stop offset=\"0\" stop-color=\"{low}\"/>\
         <stop offset=\"1\" stop-color=\"{high}\"/></linearGradient></defs>\
         <rect x=\"0\" y=\"0\" width=\"240\" height=\"14\" fill=\"url(#{id})\" stroke=\"#d1d5db\"/>\
         <text x=\"0\" y=\"30\">0%</text><text x=\"240\" y=\"30\" text-anchor=\"end\">{max}%</text></svg>"
    );
}

fn funnel_section(page: &mut String, rows: &[FunnelRow]) {
    let mut totals = [0i64; 7];
    for r in rows {
        for (t, s) in totals.iter_mut().zip(r.steps) {
            *t += s;
        }
    }
    page.push_str("<section id=\"funnel\">\n<h2>Funnel</h2>\n<p class=\"note\">Users of the 12 cohorts who reached each step (each step needs the ones before it).</p>\n");
    // Each step: its name and figures on one line, the bar under it; 360 units wide, so a phone
    // shows the text at about its nominal size.
    let row = 40;
    let height = row * 7 + 4;
    let _ = writeln!(
        page,
        "<svg width=\"100%\" style=\"max-width:600px\" viewBox=\"0 0 360 {height}\" role=\"img\" aria-label=\"funnel\">"
    );
    let started = totals[0];
    for (k, (step, count)) in FUNNEL_STEPS.iter().zip(totals).enumerate() {
        let share = Hundredths::percent(count, started);
        let width = if started == 0 {
            0.0
        } else {
            358.0 * count as f64 / started as f64
        };
        let y = k as i64 * row;
        let (fill, _) = colour(0.35 + 0.65 * (1.0 - k as f64 / 6.0));
        let shown = share.map_or_else(|| "—".to_string(), |p| format!("{p}%"));
        let label = step.replace('_', " ");
        let _ = writeln!(
            page,
            "<g data-step=\"{step}\" data-users=\"{count}\"><title>{label}: {count} users ({shown} of started)</title>\
             <text x=\"1\" y=\"{}\">{label}: {count} · {shown}</text>\
             <rect x=\"1\" y=\"{}\" width=\"{width:.1}\" height=\"16\" fill=\"{fill}\" rx=\"3\"/></g>",
            y + 14,
            y + 19,
        );
    }
    page.push_str("</svg>\n");

    // Per cohort month, all channels together.
    let mut by_month: BTreeMap<NaiveDate, [i64; 7]> = BTreeMap::new();
    for r in rows {
        let m = by_month.entry(r.cohort_month).or_default();
        for (t, s) in m.iter_mut().zip(r.steps) {
            *t += s;
        }
    }
    page.push_str("<div class=\"scroll\"><table id=\"funnel-table\"><thead><tr><th>cohort</th>");
    for step in FUNNEL_STEPS {
        let _ = write!(page, "<th>{}</th>", step.replace('_', " "));
    }
    page.push_str("</tr></thead><tbody>\n");
    for (month, steps) in by_month.iter().rev() {
        let _ = write!(page, "<tr><td>{}</td>", month.format("%Y-%m"));
        for (step, n) in FUNNEL_STEPS.iter().zip(steps) {
            let _ = write!(
                page,
                "<td title=\"{} {}: {n} users\">{n}</td>",
                month.format("%Y-%m"),
                step.replace('_', " ")
            );
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table></div>\n</section>\n");
}

fn retention_section(page: &mut String, cells: &[RetentionCell]) {
    page.push_str("<section id=\"retention\">\n<h2>Retention</h2>\n<p class=\"note\">Share of each cohort with a completed letter in month N after signup (M0 = the signup month). Hatched cells: months that have not begun yet.</p>\n");
    let max = cells
        .iter()
        .filter_map(|c| c.retention_pct)
        .max()
        .unwrap_or(Hundredths::from_hundredths(10_000))
        .max(Hundredths::from_hundredths(1));
    legend(page, "retention-scale", max);
    let periods = cells
        .iter()
        .map(|c| c.months_after_signup + 1)
        .max()
        .unwrap_or(0);
    let mut cohorts: Vec<(NaiveDate, i64)> = cells
        .iter()
        .map(|c| (c.cohort_month, c.cohort_size))
        .collect();
    cohorts.dedup();
    page.push_str("<div class=\"scroll\"><table id=\"retention-heatmap\" class=\"heatmap\"><thead><tr><th>cohort</th><th>users</th>");
    for n in 0..periods {
        let _ = write!(page, "<th>M{n}</th>");
    }
    page.push_str("</tr></thead><tbody>\n");
    for (month, size) in cohorts.iter().rev() {
        let m = month.format("%Y-%m");
        let _ = write!(page, "<tr><td>{m}</td><td>{size}</td>");
        for n in 0..periods {
            let cell = cells
                .iter()
                .find(|c| c.cohort_month == *month && c.months_after_signup == n);
            match cell.and_then(|c| c.retention_pct.zip(c.retained_users)) {
                Some((pct, users)) => {
                    let (bg, fg) = colour(pct.hundredths() as f64 / max.hundredths() as f64);
                    let _ = write!(
                        page,
                        "<td class=\"cell\" data-cohort=\"{month}\" data-period=\"{n}\" data-pct=\"{pct}\" \
                         style=\"background:{bg};color:{fg}\" title=\"{m} M{n}: {users} of {size} users ({pct}%)\">{pct}</td>"
                    );
                }
                None => {
                    let _ = write!(
                        page,
                        "<td class=\"cell empty\" data-cohort=\"{month}\" data-period=\"{n}\" data-pct=\"\" \
                         title=\"{m} M{n}: not complete yet\"></td>"
                    );
                }
            }
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table></div>\n</section>\n");
}

fn cohort_section(page: &mut String, rows: &[CohortRow]) {
    page.push_str("<section id=\"cohorts\">\n<h2>Cohorts by channel</h2>\n<p class=\"note\">Activated: wrote at least one letter. Premium: premium running now. Colour: activation rate.</p>\n");
    legend(
        page,
        "activation-scale",
        Hundredths::from_hundredths(10_000),
    );
    page.push_str("<div class=\"scroll\"><table id=\"cohort-table\"><thead><tr><th>cohort</th><th>channel</th><th>users</th><th>activated</th><th>premium</th><th>days to 1st letter</th></tr></thead><tbody>\n");
    for r in rows {
        let m = r.cohort_month.format("%Y-%m");
        let channel = text(&r.acquisition_channel);
        let activation = r.activation_pct();
        let style = activation.map_or_else(String::new, |p| {
            let (bg, fg) = colour(p.hundredths() as f64 / 10_000.0);
            format!(" style=\"background:{bg};color:{fg}\"")
        });
        let pct = |p: Option<Hundredths>| p.map_or_else(|| "—".to_string(), |p| format!("{p}%"));
        let _ = writeln!(
            page,
            "<tr><td>{m}</td><td>{channel}</td><td>{}</td><td class=\"cell\"{style} title=\"{m} {}: {} of {} activated\">{}</td>\
             <td title=\"{} premium users\">{}</td><td>{}</td></tr>",
            r.cohort_size,
            attr(&r.acquisition_channel),
            r.activated_users,
            r.cohort_size,
            pct(activation),
            r.premium_users,
            pct(r.premium_pct()),
            r.avg_days_to_first_generation
                .map_or_else(|| "—".to_string(), |d| d.to_string())
        );
    }
    page.push_str("</tbody></table></div>\n</section>\n");
}

/// An amount in minor units: Stars are whole, rubles have kopecks.
pub fn money(currency: &str, minor: i64) -> String {
    match currency {
        "RUB" => format!("{} ₽", Hundredths::from_hundredths(minor)),
        domain::STARS_CURRENCY => format!("{minor} Stars"),
        other => format!("{minor} {other}"),
    }
}

fn revenue_section(page: &mut String, rows: &[RevenueRow]) {
    page.push_str("<section id=\"revenue\">\n<h2>Revenue per cohort</h2>\n<p class=\"note\">Paid payments of each cohort so far; Stars and rubles apart; refunds subtracted from net.</p>\n");
    let mut totals: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for r in rows {
        let t = totals.entry(&r.currency).or_default();
        t.0 += r.gross_minor;
        t.1 += r.net_minor;
    }
    let summary: Vec<String> = totals
        .iter()
        .map(|(c, (gross, net))| format!("{} net ({} gross)", money(c, *net), money(c, *gross)))
        .collect();
    let _ = writeln!(
        page,
        "<p id=\"revenue-total\">{}</p>",
        if summary.is_empty() {
            "No paid payments yet.".to_string()
        } else {
            text(&summary.join(" · ")).to_string()
        }
    );
    page.push_str("<div class=\"scroll\"><table id=\"revenue-table\"><thead><tr><th>cohort</th><th>channel</th><th>currency</th><th>paying users</th><th>payments</th><th>gross</th><th>refunded</th><th>net</th></tr></thead><tbody>\n");
    for r in rows {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.cohort_month.format("%Y-%m"),
            text(&r.acquisition_channel),
            text(&r.currency),
            r.paying_users,
            r.payments,
            money(&r.currency, r.gross_minor),
            money(&r.currency, r.refunded_minor),
            money(&r.currency, r.net_minor)
        );
    }
    page.push_str("</tbody></table></div>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_name_cannot_inject_markup_into_the_page() {
        let data = ReportData {
            made_at: DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            funnel: Vec::new(),
            retention: Vec::new(),
            cohorts: vec![CohortRow {
                cohort_month: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                acquisition_channel: "<script>alert(1)</script>\"".into(),
                cohort_size: 2,
                activated_users: 1,
                premium_users: 0,
                avg_days_to_first_generation: None,
            }],
            revenue: Vec::new(),
        };
        let page = render(&data);
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(page.contains("2026-11-26 10:00 UTC"));
    }

    #[test]
    fn rubles_show_kopecks_and_stars_are_whole() {
        assert_eq!(money("RUB", 19_950), "199.50 ₽");
        assert_eq!(money(domain::STARS_CURRENCY, 150), "150 Stars");
    }
}
