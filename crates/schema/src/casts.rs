//! What retyping a column costs: whether values can be lost or rejected, whether rows are rewritten.

/// The effect of `ALTER COLUMN ... TYPE` from one type to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CastEffect {
    /// Some values may not survive (truncation, rounding, out of range, rejected).
    pub lossy: bool,
    /// PostgreSQL rewrites the table (the new type is not binary compatible).
    pub rewrite: bool,
}

/// A type name split into its base and modifiers: `character varying(10)` -> (`character varying`, [10]).
fn split(t: &str) -> (&str, Vec<i64>) {
    match t.find('(') {
        Some(i) if t.ends_with(')') && !t.ends_with("[]") => {
            let mods = t[i + 1..t.len() - 1]
                .split(',')
                .filter_map(|m| m.trim().parse().ok())
                .collect();
            (t[..i].trim(), mods)
        }
        _ => (t.trim(), Vec::new()),
    }
}

fn int_rank(base: &str) -> Option<u8> {
    match base {
        "smallint" => Some(1),
        "integer" => Some(2),
        "bigint" => Some(3),
        _ => None,
    }
}

fn is_text_like(base: &str) -> bool {
    matches!(base, "text" | "character varying")
}

/// Classifies a type change between two `format_type` renderings.
pub fn cast_effect(from: &str, to: &str) -> CastEffect {
    let safe_rewrite = CastEffect {
        lossy: false,
        rewrite: true,
    };
    let free = CastEffect {
        lossy: false,
        rewrite: false,
    };
    let lossy = CastEffect {
        lossy: true,
        rewrite: true,
    };
    if from == to {
        return free;
    }
    let (fb, fm) = split(from);
    let (tb, tm) = split(to);
    // Text-like widening is binary compatible.
    if is_text_like(fb) && is_text_like(tb) {
        return match (fm.first(), tm.first()) {
            (_, None) => free,
            (Some(a), Some(b)) if b >= a => free,
            _ => CastEffect {
                lossy: true,
                rewrite: true,
            },
        };
    }
    if fb == "character" && is_text_like(tb) && tm.is_empty() {
        return safe_rewrite;
    }
    if tb == "text" {
        return safe_rewrite;
    }
    if fb == "numeric" && tb == "numeric" {
        return match (fm.as_slice(), tm.as_slice()) {
            (_, []) => free,
            ([p1, s1], [p2, s2]) if s1 == s2 && p2 >= p1 => free,
            ([p1], [p2]) if p2 >= p1 => free,
            _ => lossy,
        };
    }
    if let (Some(a), Some(b)) = (int_rank(fb), int_rank(tb)) {
        return if b > a { safe_rewrite } else { lossy };
    }
    match (fb, tb) {
        (f, "numeric") if int_rank(f).is_some() && tm.is_empty() => safe_rewrite,
        ("smallint" | "integer", "double precision") => safe_rewrite,
        ("smallint", "real") => safe_rewrite,
        ("real", "double precision") => safe_rewrite,
        ("timestamp without time zone", "timestamp with time zone") if fm == tm => safe_rewrite,
        ("json", "jsonb") => lossy,
        ("jsonb", "json") => safe_rewrite,
        _ => lossy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_integers_rewrites_without_loss() {
        assert_eq!(
            cast_effect("integer", "bigint"),
            CastEffect {
                lossy: false,
                rewrite: true
            }
        );
        assert_eq!(
            cast_effect("integer", "double precision"),
            CastEffect {
                lossy: false,
                rewrite: true
            }
        );
    }

    #[test]
    fn narrowing_and_float_to_integer_are_lossy() {
        assert!(cast_effect("double precision", "integer").lossy);
        assert!(cast_effect("bigint", "integer").lossy);
        assert!(cast_effect("bigint", "double precision").lossy);
        assert!(cast_effect("text", "character varying(10)").lossy);
    }

    #[test]
    fn longer_varchar_and_text_are_free() {
        assert_eq!(
            cast_effect("character varying(10)", "text"),
            CastEffect {
                lossy: false,
                rewrite: false
            }
        );
        assert_eq!(
            cast_effect("character varying(10)", "character varying(20)"),
            CastEffect {
                lossy: false,
                rewrite: false
            }
        );
        assert_eq!(
            cast_effect("numeric(10,2)", "numeric"),
            CastEffect {
                lossy: false,
                rewrite: false
            }
        );
    }
}
