//! Database URLs without their passwords: one place that knows where a libpq URL can carry one
//! (the user part and a `password=` query parameter), for printing and for `PGPASSWORD`.

use url::Url;

/// The URL with every password replaced by `***`, for printing; anything that is not a URL (a
/// directory of `.sql` files) is returned as it is.
pub fn redact(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            replace_query_password(&mut url, Some("***"));
            url.to_string()
        }
        Err(_) => raw.to_string(),
    }
}

/// The URL without any password, and the password (decoded), so a client tool gets it in its
/// environment instead of on its command line. A password in the user part wins, as in libpq.
pub fn split_password(raw: &str) -> (String, Option<String>) {
    let Ok(mut url) = Url::parse(raw) else {
        return (raw.to_string(), None);
    };
    let in_query = replace_query_password(&mut url, None);
    let in_user = url.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    if in_user.is_some() {
        let _ = url.set_password(None);
    }
    match in_user.or(in_query) {
        Some(password) => (url.to_string(), Some(password)),
        None => (raw.to_string(), None),
    }
}

/// Replaces (`Some`) or removes (`None`) every `password=` query parameter; returns the last
/// value it had.
fn replace_query_password(url: &mut Url, with: Option<&str>) -> Option<String> {
    let mut found = None;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter_map(|(k, v)| {
            if k == "password" {
                found = Some(v.into_owned());
                with.map(|w| (k.into_owned(), w.to_string()))
            } else {
                Some((k.into_owned(), v.into_owned()))
            }
        })
        .collect();
    if found.is_some() {
        if pairs.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{redact, split_password};

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("postgres://u:secret@h:5/db"),
            "postgres://u:***@h:5/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("./schema"), "./schema");
    }

    #[test]
    fn redact_hides_a_password_given_as_a_query_parameter() {
        let shown = redact("postgres://h/db?user=u&password=secret&sslmode=require");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(
            shown.contains("user=u") && shown.contains("sslmode=require"),
            "{shown}"
        );
    }

    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        let (bare, pw) = split_password("postgres://bob:s%40cret@db:5432/app?sslmode=require");
        assert_eq!(bare, "postgres://bob@db:5432/app?sslmode=require");
        assert_eq!(pw.as_deref(), Some("s@cret"));
        // A `+` in the user part is a plus, not a space (that is form encoding only).
        let (_, pw) = split_password("postgres://bob:a+b%20c@db/app");
        assert_eq!(pw.as_deref(), Some("a+b c"));
        let (bare, pw) = split_password("postgres://bob@db/app");
        assert_eq!(bare, "postgres://bob@db/app");
        assert_eq!(pw, None);
    }

    #[test]
    fn a_query_parameter_password_leaves_the_url_too() {
        let (bare, pw) =
            split_password("postgres://db/app?user=bob&password=p%26w&sslmode=require");
        assert_eq!(bare, "postgres://db/app?user=bob&sslmode=require");
        assert_eq!(pw.as_deref(), Some("p&w"));
        let (bare, pw) = split_password("postgres://bob@db/app?password=x");
        assert_eq!(bare, "postgres://bob@db/app");
        assert_eq!(pw.as_deref(), Some("x"));
    }
}
