//! The house rules a reviewer would otherwise have to remember, checked over the whole workspace:
//! every module says what it is for, no function takes an id as a bare `i64`, no HTTP client
//! builder error is swallowed into a client without the configured timeouts, and the payment
//! provider's and currency's SQL/API text is written once (`domain::billing`).

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file of the workspace's crates (sources, tests, benches, build scripts), except
/// compile-fail fixtures, which are inputs for the compiler rather than modules.
fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && name != "compile_fail" {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&workspace().join("crates"), &mut files);
    files.sort();
    assert!(files.len() > 50, "the walk found the workspace's sources");
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Library and binary sources (not tests, benches or build scripts, nor the test kit: its doubles
/// speak Telegram's and OpenAI's wire formats, where ids are the JSON integers they send).
fn is_product_source(path: &Path) -> bool {
    let rel = relative(path);
    rel.contains("/src/") && !rel.contains("/src/bin/") && !rel.starts_with("crates/testkit/")
}

#[test]
fn every_module_starts_with_a_line_saying_what_it_is_for() {
    let missing: Vec<String> = rust_files()
        .into_iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text
                .lines()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.starts_with("//!"))
        })
        .map(|f| relative(&f))
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` line: {missing:#?}"
    );
}

/// The parameter lists of the `fn` items in `text`, each with the line it starts on.
fn parameter_lists(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find("fn ") {
        let start = from + pos;
        from = start + 3;
        let preceded_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if !preceded_ok {
            continue;
        }
        let Some(open) = text[start..].find('(').map(|o| start + o) else {
            break;
        };
        // Only `fn name(` or `fn name<..>(`: the name runs up to the parenthesis.
        if text[start + 3..open].contains(['{', ';', '=']) {
            continue;
        }
        let mut depth = 0usize;
        let mut end = open;
        for (i, c) in text[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let line = text[..start].matches('\n').count() + 1;
        out.push((line, text[open + 1..end].to_string()));
    }
    out
}

/// `user_id: i64`, `id: i64`, `payment_id: i64`...: a parameter named as an id typed as a bare
/// integer. Ids have their own types (`UserId`, `TelegramUserId`, `PaymentId`, ...).
fn bare_id_parameters(params: &str) -> Vec<String> {
    params
        .split(',')
        .filter_map(|p| {
            let (name, ty) = p.split_once(':')?;
            let name = name.trim().trim_start_matches("mut ").trim();
            let ty = ty.trim();
            let is_id = name == "id" || name.ends_with("_id");
            (is_id && (ty == "i64" || ty == "&i64")).then(|| format!("{name}: {ty}"))
        })
        .collect()
}

#[test]
fn the_bare_id_check_catches_what_it_is_meant_to() {
    let found = parameter_lists(
        "pub fn mark(conn: &mut C,\n payment_id: i64) -> R {}\nfn ok(user: UserId, count: i64) {}",
    );
    assert_eq!(found.len(), 2);
    assert_eq!(bare_id_parameters(&found[0].1), ["payment_id: i64"]);
    assert!(bare_id_parameters(&found[1].1).is_empty());
}

#[test]
fn no_function_in_the_product_takes_an_id_as_a_bare_i64() {
    let mut offenders = Vec::new();
    for file in rust_files().into_iter().filter(|f| is_product_source(f)) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, params) in parameter_lists(&text) {
            for p in bare_id_parameters(&params) {
                offenders.push(format!("{}:{line}: {p}", relative(&file)));
            }
        }
    }
    assert!(offenders.is_empty(), "ids as bare integers: {offenders:#?}");
}

#[test]
fn no_client_builder_failure_is_swallowed_by_unwrap_or_default() {
    let mut offenders = Vec::new();
    for file in rust_files().into_iter().filter(|f| is_product_source(f)) {
        let text = std::fs::read_to_string(&file).unwrap();
        let squeezed: String = text.split_whitespace().collect();
        if squeezed.contains(".build().unwrap_or_default()") {
            offenders.push(relative(&file));
        }
    }
    assert!(
        offenders.is_empty(),
        "a builder error turned into a default client (its timeouts lost): {offenders:?}"
    );
}

#[test]
fn the_stars_provider_and_currency_are_written_only_in_domain_billing() {
    let mut offenders = Vec::new();
    for file in rust_files().into_iter().filter(|f| is_product_source(f)) {
        let rel = relative(&file);
        if rel == "crates/domain/src/billing.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("\"telegram_stars\"") || code.contains("\"XTR\"") {
                offenders.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "use domain::Provider / domain::STARS_CURRENCY instead: {offenders:#?}"
    );
}
