//! How an error reaches the operator: each cause said once, and a one-line hint for the mistakes
//! people make (server not running, wrong password, missing database, schema not there yet).

use std::fmt::Write as _;

/// `error: <context>: <cause>` with every cause printed once, then a `hint:` line when one fits.
pub fn render(error: &anyhow::Error) -> String {
    let mut out = format!("error: {}", chain(error));
    if let Some(hint) = hint(error) {
        let _ = write!(out, "\nhint: {hint}");
    }
    out
}

/// The messages of the chain, outermost first, leaving out a cause whose text the message before
/// it already holds (library errors often print their source inside their own message).
fn chain(error: &anyhow::Error) -> String {
    let mut said: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || said.iter().any(|s| s.contains(&text)) {
            continue;
        }
        said.push(text);
    }
    said.join(": ")
}

/// What to do about the most common causes, found anywhere in the chain.
fn hint(error: &anyhow::Error) -> Option<&'static str> {
    for cause in error.chain() {
        if cause.is::<crate::settings::SettingError>()
            || cause.is::<llm::SettingsError>()
            || cause.is::<bot::ConfigError>()
        {
            return Some("fix that variable (in the environment or .env) or unset it for its default; README.md, \"Configuration\", lists them");
        }
        if let Some(schema::SchemaError::ScratchDb(e)) = cause.downcast_ref::<schema::SchemaError>()
        {
            if sqlstate(e).as_deref() == Some("42501") {
                return Some(NO_CREATEDB);
            }
        }
        if let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() {
            if let Some(h) = db.code().as_deref().and_then(hint_for_sqlstate) {
                return Some(h);
            }
        }
        // Library errors that wrap sqlx transparently expose PostgreSQL's error directly.
        if let Some(pg) = cause.downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            if let Some(h) = hint_for_sqlstate(pg.code()) {
                return Some(h);
            }
        }
        if let Some(db) = cause.downcast_ref::<Box<dyn sqlx::error::DatabaseError>>() {
            if let Some(h) = db.code().as_deref().and_then(hint_for_sqlstate) {
                return Some(h);
            }
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if let Some(h) = hint_for_io(io.kind()) {
                return Some(h);
            }
        }
        if let Some(sqlx::Error::Io(io)) = cause.downcast_ref::<sqlx::Error>() {
            if let Some(h) = hint_for_io(io.kind()) {
                return Some(h);
            }
        }
    }
    None
}

/// Loading SQL files needs a scratch database; a role without CREATEDB cannot make one.
const NO_CREATEDB: &str = "loading a target of .sql files (the declared schema too) needs a scratch database on that server: give the role CREATEDB (ALTER ROLE <name> CREATEDB), connect as one that has it, or compare with a live database (--target postgres://…)";

fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

fn hint_for_io(kind: std::io::ErrorKind) -> Option<&'static str> {
    match kind {
        std::io::ErrorKind::ConnectionRefused => Some(
            "no PostgreSQL server answers at that address: start it, check host and port in the URL, or drop --database-url/DATABASE_URL to use the embedded database (`soprovod db up`)",
        ),
        _ => None,
    }
}

/// Hints by SQLSTATE (PostgreSQL's error codes, appendix A of its manual).
fn hint_for_sqlstate(code: &str) -> Option<&'static str> {
    Some(match code {
        "28P01" | "28000" => "the server refused the user name or password in the URL; check them",
        "3D000" => "that database does not exist on the server; create it (createdb NAME) or fix the name in the URL",
        "42501" => "the database user lacks a privilege this command needs; connect as the owner of the schema or a superuser",
        "42P01" | "3F000" => "the database is not at Soprovod's schema yet; run `soprovod db up` (embedded) or `soprovod db apply` (a server of yours)",
        "53300" => "the server has no free connections; try again, or raise max_connections",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("database error: {0}")]
    struct Wrapper(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_its_parents_message_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = anyhow::Error::new(Wrapper(io)).context("introspecting the database");
        assert_eq!(
            render(&e).lines().next().unwrap(),
            "error: introspecting the database: database error: Connection refused"
        );
    }

    #[test]
    fn a_refused_connection_gets_a_hint_that_says_what_to_do() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = anyhow::Error::new(Wrapper(io)).context("connecting");
        let text = render(&e);
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("hint: no PostgreSQL server answers"));
    }

    #[test]
    fn an_error_without_a_known_cause_has_no_hint() {
        let e = anyhow::anyhow!("something odd");
        assert_eq!(render(&e), "error: something odd");
    }

    #[test]
    fn sqlstates_of_common_mistakes_have_hints_and_others_do_not() {
        for code in ["28P01", "3D000", "42501", "42P01"] {
            assert!(hint_for_sqlstate(code).is_some(), "{code}");
        }
        assert!(hint_for_sqlstate("23505").is_none());
    }
}
