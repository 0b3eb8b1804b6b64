//! Cutting SQL text into statements at their top-level semicolons, for loading a target file one
//! statement at a time.
//!
//! A file is normally sent whole, which PostgreSQL runs as one implicit transaction; a file with a
//! statement that cannot run in a transaction block (`CREATE INDEX CONCURRENTLY`) or that uses an
//! enum label added earlier in it needs each statement on its own. This is a lexer, not a parser:
//! it knows where quotes, dollar quotes and comments start and end, and that a `CREATE FUNCTION …
//! BEGIN ATOMIC … END` body holds semicolons (the way psql tells: in a statement that starts with
//! CREATE, `BEGIN` and `CASE` open a block that `END` closes), and that a rule's `DO (…; …)` does
//! too (no statement ends inside parentheses).
//!
//! Not a crate: `pg_query` splits with PostgreSQL's own scanner, but it builds libpg_query's C
//! sources with bindgen (libclang at build time, minutes on a 2-core machine, for one function);
//! sqlparser parses a dialect approximation and cannot hand back a statement's original text
//! when it does not parse. Dollar quotes, comments and block bodies are all a split needs.

/// One statement of a text: where it starts (byte offset) and its text without the semicolon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement<'a> {
    pub offset: usize,
    pub text: &'a str,
}

/// The statements of `sql`, blank ones (only whitespace and comments) left out.
pub(crate) fn statements(sql: &str) -> Vec<Statement<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    // Words of the current statement seen so far (only the first matters) and the block depth.
    let mut words = 0usize;
    let mut creates = false;
    let mut depth = 0usize;
    // Parentheses: a rule's `DO (…; …)` holds semicolons too.
    let mut parens = 0usize;
    let mut has_code = false;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = block_comment_end(bytes, i);
                continue;
            }
            b'\'' => {
                let escapes = i > 0
                    && matches!(bytes[i - 1], b'e' | b'E')
                    && (i < 2 || !is_word(bytes[i - 2]));
                i = quoted_end(bytes, i, b'\'', escapes);
                has_code = true;
                continue;
            }
            b'"' => {
                i = quoted_end(bytes, i, b'"', false);
                has_code = true;
                continue;
            }
            b'$' if i == 0 || !is_word(bytes[i - 1]) => {
                if let Some(end) = dollar_quote_end(sql, i) {
                    i = end;
                    has_code = true;
                    continue;
                }
            }
            b'(' => parens += 1,
            b')' => parens = parens.saturating_sub(1),
            b';' if depth == 0 && parens == 0 => {
                if has_code {
                    out.push(Statement {
                        offset: start,
                        text: &sql[start..i],
                    });
                }
                i += 1;
                start = i;
                words = 0;
                creates = false;
                depth = 0;
                parens = 0;
                has_code = false;
                continue;
            }
            c if is_word_start(c) => {
                let end = i + bytes[i..].iter().take_while(|b| is_word(**b)).count();
                let word = &sql[i..end];
                if words == 0 {
                    creates = word.eq_ignore_ascii_case("create");
                } else if creates
                    && (word.eq_ignore_ascii_case("begin") || word.eq_ignore_ascii_case("case"))
                {
                    depth += 1;
                } else if word.eq_ignore_ascii_case("end") {
                    depth = depth.saturating_sub(1);
                }
                words += 1;
                has_code = true;
                i = end;
                continue;
            }
            _ => {}
        }
        if !c.is_ascii_whitespace() {
            has_code = true;
        }
        i += 1;
    }
    if has_code {
        out.push(Statement {
            offset: start,
            text: &sql[start..],
        });
    }
    out
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_word(c: u8) -> bool {
    is_word_start(c) || c.is_ascii_digit() || c == b'$'
}

/// The index after a `/* … */` comment starting at `i` (they nest).
fn block_comment_end(bytes: &[u8], mut i: usize) -> usize {
    let mut level = 0usize;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            level += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            level -= 1;
            i += 2;
            if level == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// The index after a quoted string or identifier starting at `i`; a doubled quote is part of it,
/// and in an `E'…'` string so is a backslash-escaped one.
fn quoted_end(bytes: &[u8], mut i: usize, quote: u8, escapes: bool) -> usize {
    i += 1;
    while i < bytes.len() {
        if escapes && bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// If a dollar quote (`$$` or `$tag$`) opens at `i`, the index after it closes.
fn dollar_quote_end(sql: &str, i: usize) -> Option<usize> {
    let bytes = sql.as_bytes();
    let tag_len = bytes[i + 1..]
        .iter()
        .take_while(|b| is_word(**b) && **b != b'$')
        .count();
    if bytes.get(i + 1 + tag_len) != Some(&b'$')
        || bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit())
    {
        return None;
    }
    let tag = &sql[i..i + tag_len + 2];
    let body = i + tag.len();
    Some(
        sql[body..]
            .find(tag)
            .map_or(sql.len(), |n| body + n + tag.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::statements;

    fn texts(sql: &str) -> Vec<&str> {
        statements(sql).iter().map(|s| s.text.trim()).collect()
    }

    #[test]
    fn semicolons_inside_quotes_comments_and_dollar_quotes_do_not_end_a_statement() {
        let sql = "SELECT 'a;b', \"c;d\", E'it\\'s;'; -- x;y\n\
                   CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;\n\
                   /* one; /* nested; */ still; */ SELECT $$;$$;";
        assert_eq!(
            texts(sql),
            vec![
                "SELECT 'a;b', \"c;d\", E'it\\'s;'",
                "-- x;y\nCREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$",
                "/* one; /* nested; */ still; */ SELECT $$;$$",
            ]
        );
    }

    #[test]
    fn a_begin_atomic_body_is_one_statement_and_a_transaction_begin_is_not_a_block() {
        let sql = "BEGIN; CREATE FUNCTION g(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC \
                   SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END; SELECT 2; END; COMMIT;";
        assert_eq!(
            texts(sql),
            vec![
                "BEGIN",
                "CREATE FUNCTION g(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC \
                 SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END; SELECT 2; END",
                "COMMIT",
            ]
        );
    }

    #[test]
    fn offsets_point_at_each_statement_and_blank_ones_are_left_out() {
        let sql = "SELECT 1;\n  ;\n-- only a comment;\nSELECT $1, a$b;";
        let s = statements(sql);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].offset, 0);
        assert_eq!(&sql[s[1].offset..s[1].offset + s[1].text.len()], s[1].text);
        assert!(s[1].text.ends_with("\nSELECT $1, a$b"), "{s:?}");
    }
}
