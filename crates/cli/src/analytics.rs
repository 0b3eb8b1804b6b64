//! `soprovod analytics …`: the operator reports over the analytics views, as a table, CSV or JSON.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Color, Table};
use serde::Serialize;
use sqlx::Connection;
use store::analytics::{self as reports, Hundredths};
use store::funnel::{self, FUNNEL_STEPS};

use crate::report_html;

use crate::dbsource::{redact, DbSource};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// Monthly signup cohorts per acquisition channel (view user_cohorts_basic): the 12 UTC
    /// months ending with the current one; with activation and premium rates.
    Cohorts(FormatArg),
    /// User counts: total and created in the last 1, 7 and 30 days (view user_stats).
    Users(FormatArg),
    /// Letter sessions of the last 30 days per status and model (view session_stats).
    Sessions(FormatArg),
    /// LLM requests, tokens, latency and success rate per UTC day and model, last 30 days
    /// (view openai_usage).
    Usage(FormatArg),
    /// Active users and events per UTC day, last 30 days (view user_activity).
    Activity(FormatArg),
    /// Monthly retention triangle: the share of each cohort with a completed letter in month N
    /// after signup; months that have not begun yet are empty (view user_retention_monthly).
    Retention(FormatArg),
    /// Funnel per cohort month and channel: users who reached each step from /start to a paid
    /// plan, each step needing the ones before it (view user_funnel).
    Funnel(FormatArg),
    /// Paid money per cohort month and channel, Stars and rubles apart, refunds subtracted
    /// (view user_cohort_revenue; amounts in Stars or kopecks).
    Revenue(FormatArg),
    /// Write the funnel, the retention heatmap, the cohorts and the revenue as one self-contained
    /// HTML page (no network needed to open it).
    Report(ReportArgs),
    /// Recompute the analytics summaries from the base tables. `db up` and `db apply` do it after a
    /// migration adds the summaries to a database with users; triggers keep them exact afterwards.
    Rebuild,
}

#[derive(Debug, Args)]
pub struct FormatArg {
    /// Output format: a table for people, CSV or JSON for scripts.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The HTML file to write (replaced if it exists).
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub async fn run(cmd: AnalyticsCommand, source: &DbSource) -> anyhow::Result<Outcome> {
    let url = source.ensure_url().await?;
    let pool = store::connect(&url, 2)
        .await
        .with_context(|| format!("connecting to {}", redact(&url)))?;
    let report = match cmd {
        AnalyticsCommand::Cohorts(f) => {
            let rows = reports::cohorts(&pool)
                .await
                .context("reading user_cohorts_basic")?;
            (f.format, cohort_report(&rows))
        }
        AnalyticsCommand::Users(f) => {
            let s = reports::user_stats(&pool)
                .await
                .context("reading user_stats")?;
            let report = Report {
                headers: vec!["total_users", "users_today", "users_week", "users_month"],
                rows: vec![vec![
                    Value::Int(s.total_users),
                    Value::Int(s.users_today),
                    Value::Int(s.users_week),
                    Value::Int(s.users_month),
                ]],
            };
            (f.format, report)
        }
        AnalyticsCommand::Sessions(f) => {
            let rows = reports::session_stats(&pool)
                .await
                .context("reading session_stats")?;
            let report = Report {
                headers: vec![
                    "status",
                    "model_used",
                    "sessions",
                    "avg_generation_time_seconds",
                    "avg_letter_length",
                    "avg_resume_length",
                    "avg_job_description_length",
                ],
                rows: rows
                    .iter()
                    .map(|r| {
                        vec![
                            Value::Text(r.status.clone()),
                            r.model_used.clone().map_or(Value::Null, Value::Text),
                            Value::Int(r.sessions),
                            Value::float(r.avg_generation_time_seconds),
                            Value::float(r.avg_letter_length),
                            Value::float(r.avg_resume_length),
                            Value::float(r.avg_job_description_length),
                        ]
                    })
                    .collect(),
            };
            (f.format, report)
        }
        AnalyticsCommand::Usage(f) => {
            let rows = reports::openai_usage(&pool)
                .await
                .context("reading openai_usage")?;
            let report = Report {
                headers: vec![
                    "date",
                    "model",
                    "requests",
                    "prompt_tokens",
                    "completion_tokens",
                    "total_tokens",
                    "avg_response_time_ms",
                    "success_rate_pct",
                ],
                rows: rows
                    .iter()
                    .map(|r| {
                        vec![
                            Value::Text(r.date.to_string()),
                            Value::Text(r.model.clone()),
                            Value::Int(r.requests),
                            Value::Int(r.prompt_tokens),
                            Value::Int(r.completion_tokens),
                            Value::Int(r.total_tokens),
                            Value::Dec(r.avg_response_time_ms),
                            Value::Dec(r.success_rate),
                        ]
                    })
                    .collect(),
            };
            (f.format, report)
        }
        AnalyticsCommand::Activity(f) => {
            let rows = reports::user_activity(&pool)
                .await
                .context("reading user_activity")?;
            let report = Report {
                headers: vec!["date", "active_users", "total_events"],
                rows: rows
                    .iter()
                    .map(|r| {
                        vec![
                            Value::Text(r.date.to_string()),
                            Value::Int(r.active_users),
                            Value::Int(r.total_events),
                        ]
                    })
                    .collect(),
            };
            (f.format, report)
        }
        AnalyticsCommand::Retention(f) => {
            let cells = reports::retention(&pool)
                .await
                .context("reading user_retention_monthly")?;
            if f.format == Format::Table {
                print!(
                    "{}",
                    retention_triangle(&cells, std::io::stdout().is_terminal())
                );
                return Ok(Outcome::Ok);
            }
            (f.format, retention_report(&cells))
        }
        AnalyticsCommand::Funnel(f) => {
            let rows = funnel::funnel(&pool).await.context("reading user_funnel")?;
            (f.format, funnel_report(&rows))
        }
        AnalyticsCommand::Revenue(f) => {
            let rows = funnel::revenue(&pool)
                .await
                .context("reading user_cohort_revenue")?;
            (f.format, revenue_report(&rows))
        }
        AnalyticsCommand::Report(args) => {
            let data = read_report_data(&pool).await?;
            std::fs::write(&args.html, report_html::render(&data))
                .with_context(|| format!("writing {}", args.html.display()))?;
            eprintln!("report written to {}", args.html.display());
            return Ok(Outcome::Ok);
        }
        AnalyticsCommand::Rebuild => {
            reports::rebuild_summaries(&pool)
                .await
                .context("rebuilding the analytics summaries")?;
            eprintln!("analytics summaries rebuilt from the base tables");
            return Ok(Outcome::Ok);
        }
    };
    let (format, report) = report;
    print!("{}", report.render(format)?);
    Ok(Outcome::Ok)
}

/// The four reports of the HTML page, read in one snapshot (REPEATABLE READ), with its now().
async fn read_report_data(pool: &sqlx::PgPool) -> anyhow::Result<report_html::ReportData> {
    let mut conn = pool.acquire().await.context("connecting")?;
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let made_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let funnel = funnel::funnel(&mut *tx)
        .await
        .context("reading user_funnel")?;
    let retention = reports::retention(&mut *tx)
        .await
        .context("reading user_retention_monthly")?;
    let cohorts = reports::cohorts(&mut *tx)
        .await
        .context("reading user_cohorts_basic")?;
    let revenue = funnel::revenue(&mut *tx)
        .await
        .context("reading user_cohort_revenue")?;
    tx.commit().await?;
    Ok(report_html::ReportData {
        made_at,
        funnel,
        retention,
        cohorts,
        revenue,
    })
}

fn funnel_report(rows: &[funnel::FunnelRow]) -> Report {
    let mut headers = vec!["cohort_month", "acquisition_channel"];
    headers.extend(FUNNEL_STEPS);
    Report {
        headers,
        rows: rows
            .iter()
            .map(|r| {
                let mut row = vec![
                    Value::Text(r.cohort_month.to_string()),
                    Value::Text(r.acquisition_channel.clone()),
                ];
                row.extend(r.steps.iter().map(|n| Value::Int(*n)));
                row
            })
            .collect(),
    }
}

fn revenue_report(rows: &[funnel::RevenueRow]) -> Report {
    Report {
        headers: vec![
            "cohort_month",
            "acquisition_channel",
            "currency",
            "paying_users",
            "payments",
            "gross_minor",
            "refunded_minor",
            "net_minor",
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Value::Text(r.cohort_month.to_string()),
                    Value::Text(r.acquisition_channel.clone()),
                    Value::Text(r.currency.clone()),
                    Value::Int(r.paying_users),
                    Value::Int(r.payments),
                    Value::Int(r.gross_minor),
                    Value::Int(r.refunded_minor),
                    Value::Int(r.net_minor),
                ]
            })
            .collect(),
    }
}

fn cohort_report(rows: &[reports::CohortRow]) -> Report {
    Report {
        headers: vec![
            "cohort_month",
            "acquisition_channel",
            "cohort_size",
            "activated_users",
            "activation_pct",
            "premium_users",
            "premium_pct",
            "avg_days_to_first_generation",
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Value::Text(r.cohort_month.to_string()),
                    Value::Text(r.acquisition_channel.clone()),
                    Value::Int(r.cohort_size),
                    Value::Int(r.activated_users),
                    Value::dec(r.activation_pct()),
                    Value::Int(r.premium_users),
                    Value::dec(r.premium_pct()),
                    Value::dec(r.avg_days_to_first_generation),
                ]
            })
            .collect(),
    }
}

/// The triangle as a table for people (one row per cohort, one column per month after signup,
/// percentages); as one row per cell for CSV and JSON.
fn retention_report(cells: &[reports::RetentionCell]) -> Report {
    Report {
        headers: vec![
            "cohort_month",
            "cohort_size",
            "months_after_signup",
            "retained_users",
            "retention_pct",
        ],
        rows: cells
            .iter()
            .map(|c| {
                vec![
                    Value::Text(c.cohort_month.to_string()),
                    Value::Int(c.cohort_size),
                    Value::Int(i64::from(c.months_after_signup)),
                    c.retained_users.map_or(Value::Null, Value::Int),
                    Value::dec(c.retention_pct),
                ]
            })
            .collect(),
    }
}

/// The triangle as a table; with `colour` (stdout is a terminal) each cell's background is a
/// heatmap of its percentage against the largest one, white to blue.
fn retention_triangle(cells: &[reports::RetentionCell], colour: bool) -> String {
    let max = cells
        .iter()
        .filter_map(|c| c.retention_pct)
        .max()
        .map_or(1, |m| m.hundredths().max(1));
    let width = cells
        .iter()
        .map(|c| c.months_after_signup + 1)
        .max()
        .unwrap_or(0);
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    if colour {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    let mut header = vec![Cell::new("cohort"), Cell::new("users")];
    header.extend((0..width).map(|n| Cell::new(format!("M{n}"))));
    table.set_header(header);
    let mut months: Vec<_> = cells
        .iter()
        .map(|c| (c.cohort_month, c.cohort_size))
        .collect();
    months.dedup();
    for (month, size) in months {
        let mut row = vec![
            Cell::new(month.to_string()),
            Cell::new(size).set_alignment(CellAlignment::Right),
        ];
        for n in 0..width {
            let pct = cells
                .iter()
                .find(|c| c.cohort_month == month && c.months_after_signup == n)
                .and_then(|c| c.retention_pct);
            let shown = pct.map(|p| format!("{p}%")).unwrap_or_default();
            let mut cell = Cell::new(shown).set_alignment(CellAlignment::Right);
            if let (true, Some(p)) = (colour, pct) {
                let t = p.hundredths() as f64 / max as f64;
                let mix = |from: f64, to: f64| (from + (to - from) * t).round() as u8;
                cell = cell
                    .bg(Color::Rgb {
                        r: mix(239.0, 29.0),
                        g: mix(246.0, 78.0),
                        b: mix(255.0, 216.0),
                    })
                    .fg(if t > 0.55 { Color::White } else { Color::Black });
            }
            row.push(cell);
        }
        table.add_row(row);
    }
    format!("{table}\n")
}

/// A report cell: kept typed so JSON gets numbers and null, CSV an empty field.
#[derive(Debug, Clone)]
enum Value {
    Null,
    Int(i64),
    Dec(Hundredths),
    Float(f64),
    Text(String),
}

impl Value {
    fn dec(v: Option<Hundredths>) -> Self {
        v.map_or(Value::Null, Value::Dec)
    }

    fn float(v: Option<f64>) -> Self {
        v.map_or(Value::Null, Value::Float)
    }

    fn text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Int(i) => i.to_string(),
            Value::Dec(d) => d.to_string(),
            Value::Float(f) => format!("{f:.2}"),
            Value::Text(t) => t.clone(),
        }
    }

    fn is_number(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Dec(_) | Value::Float(_))
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_none(),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Dec(d) => d.serialize(serializer),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::Text(t) => serializer.serialize_str(t),
        }
    }
}

struct Report {
    headers: Vec<&'static str>,
    rows: Vec<Vec<Value>>,
}

impl Report {
    fn render(&self, format: Format) -> anyhow::Result<String> {
        Ok(match format {
            Format::Table => {
                let mut table = Table::new();
                table.load_preset(UTF8_FULL_CONDENSED);
                table.set_header(self.headers.iter().map(|h| Cell::new(h.replace('_', " "))));
                for row in &self.rows {
                    table.add_row(row.iter().map(|v| {
                        let cell = Cell::new(v.text());
                        if v.is_number() {
                            cell.set_alignment(CellAlignment::Right)
                        } else {
                            cell
                        }
                    }));
                }
                if self.rows.is_empty() {
                    format!("{table}\n(no rows)\n")
                } else {
                    format!("{table}\n")
                }
            }
            Format::Csv => {
                let mut writer = csv::Writer::from_writer(Vec::new());
                writer.write_record(&self.headers)?;
                for row in &self.rows {
                    writer.write_record(row.iter().map(Value::text))?;
                }
                String::from_utf8(writer.into_inner()?)?
            }
            Format::Json => {
                let objects: Vec<JsonRow<'_>> = self
                    .rows
                    .iter()
                    .map(|row| JsonRow {
                        headers: &self.headers,
                        values: row,
                    })
                    .collect();
                format!("{}\n", serde_json::to_string_pretty(&objects)?)
            }
        })
    }
}

/// One row as a JSON object whose keys keep the column order.
struct JsonRow<'a> {
    headers: &'a [&'static str],
    values: &'a [Value],
}

impl Serialize for JsonRow<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.headers.len()))?;
        for (h, v) in self.headers.iter().zip(self.values) {
            map.serialize_entry(h, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_separators_are_quoted() {
        let report = Report {
            headers: vec!["a", "b", "c", "d"],
            rows: vec![vec![
                Value::Text("plain".into()),
                Value::Text("a,b".into()),
                Value::Text("say \"hi\"".into()),
                Value::Null,
            ]],
        };
        assert_eq!(
            report.render(Format::Csv).unwrap(),
            "a,b,c,d\nplain,\"a,b\",\"say \"\"hi\"\"\",\n"
        );
    }

    fn cells() -> Vec<reports::RetentionCell> {
        let month = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        (0..3)
            .map(|n| reports::RetentionCell {
                cohort_month: month,
                cohort_size: 4,
                months_after_signup: n,
                retained_users: (n < 2).then_some(2 - i64::from(n)),
                retention_pct: (n < 2)
                    .then(|| Hundredths::from_hundredths(5000 - 2500 * i64::from(n))),
            })
            .collect()
    }

    #[test]
    fn the_retention_triangle_is_coloured_only_for_a_terminal() {
        let coloured = retention_triangle(&cells(), true);
        assert!(coloured.contains("\u{1b}["), "{coloured}");
        assert!(coloured.contains("50.00%") && coloured.contains("25.00%"));
        let plain = retention_triangle(&cells(), false);
        assert!(!plain.contains('\u{1b}'), "{plain}");
        assert!(plain.contains("50.00%") && plain.contains("25.00%"));
    }

    #[test]
    fn json_keeps_numbers_and_nulls_typed() {
        let report = Report {
            headers: vec!["a", "b", "c", "d"],
            rows: vec![vec![
                Value::Int(3),
                Value::Dec(Hundredths::from_hundredths(1250)),
                Value::Null,
                Value::Text("x".into()),
            ]],
        };
        let text = report.render(Format::Json).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([{ "a": 3, "b": 12.5, "c": null, "d": "x" }])
        );
        let positions: Vec<usize> = ["\"a\"", "\"b\"", "\"c\"", "\"d\""]
            .iter()
            .map(|k| text.find(k).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "keys in column order: {text}"
        );
    }
}
