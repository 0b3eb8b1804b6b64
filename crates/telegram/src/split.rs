//! Splitting long Telegram-HTML texts into messages Telegram accepts: at most 4096 UTF-16 units
//! after entity parsing, that is of the text the reader sees (tags do not count, `&amp;` is one).
//! The one splitter of the product: the engine hands over whole letters.
//!
//! Letters are cut on paragraph boundaries when possible, then on lines, sentences and words;
//! never inside an HTML entity or tag. Tags left open at a cut are closed at the end of the part
//! and reopened at the start of the next one, so every part is valid HTML on its own (and, since
//! tags do not count, no room has to be kept for them).

/// Telegram's limit on a message's text, after entity parsing.
pub const MESSAGE_LIMIT: usize = 4096;

/// What a character of our HTML adds to the length Telegram counts, given whether it is inside a
/// tag or an entity; updates those states.
fn units(c: char, in_tag: &mut bool, in_entity: &mut bool) -> usize {
    if *in_tag {
        *in_tag = c != '>';
        0
    } else if c == '<' {
        *in_tag = true;
        0
    } else if *in_entity {
        *in_entity = c != ';';
        0
    } else if c == '&' {
        // An entity shows as one character (every one `escape_html` makes is in the BMP).
        *in_entity = true;
        1
    } else {
        c.len_utf16()
    }
}

/// Length as Telegram counts it: UTF-16 code units of the text after entity parsing.
pub fn telegram_len(html: &str) -> usize {
    let (mut in_tag, mut in_entity) = (false, false);
    html.chars()
        .map(|c| units(c, &mut in_tag, &mut in_entity))
        .sum()
}

/// Splits `html` into parts of at most `max` units each, as [`telegram_len`] counts them.
pub fn split_html(html: &str, max: usize) -> Vec<String> {
    let html = html.trim();
    if telegram_len(html) <= max {
        return vec![html.to_string()];
    }
    let mut raw_parts = Vec::new();
    let mut current = String::new();
    for para in html.split("\n\n") {
        for piece in cut_to_fit(para, max) {
            let joined_len = if current.is_empty() {
                telegram_len(&piece)
            } else {
                telegram_len(&current) + 2 + telegram_len(&piece)
            };
            if joined_len <= max {
                if !current.is_empty() {
                    current.push_str("\n\n");
                }
                current.push_str(&piece);
            } else {
                if !current.is_empty() {
                    raw_parts.push(std::mem::take(&mut current));
                }
                current = piece;
            }
        }
    }
    if !current.trim().is_empty() {
        raw_parts.push(current);
    }
    balance_tags(raw_parts)
}

/// One paragraph cut into pieces of at most `budget` units: on lines, then sentence ends, then
/// spaces, then anywhere that is not inside a tag or an entity.
fn cut_to_fit(para: &str, budget: usize) -> Vec<String> {
    if telegram_len(para) <= budget {
        return vec![para.to_string()];
    }
    let mut out = Vec::new();
    let mut rest = para;
    while telegram_len(rest) > budget {
        let limit = byte_index_at_units(rest, budget);
        let window = &rest[..limit];
        let cut = ["\n", ". ", "! ", "? ", "; ", ", ", " "]
            .iter()
            .filter_map(|sep| window.rfind(sep).map(|i| i + sep.len()))
            .find(|&i| i > limit / 3 && safe_cut(rest, i))
            .unwrap_or_else(|| last_safe_cut(rest, limit));
        let (head, tail) = rest.split_at(cut);
        out.push(head.trim_end().to_string());
        rest = tail.trim_start();
    }
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

/// The byte index in `s` after at most `max` units as Telegram counts them, on a char boundary.
fn byte_index_at_units(s: &str, max: usize) -> usize {
    let (mut used, mut in_tag, mut in_entity) = (0, false, false);
    for (i, c) in s.char_indices() {
        used += units(c, &mut in_tag, &mut in_entity);
        if used > max {
            return i;
        }
    }
    s.len()
}

/// Is cutting before byte `i` outside any `<...>` tag and `&...;` entity?
fn safe_cut(s: &str, i: usize) -> bool {
    let head = &s[..i];
    let in_tag = head
        .rfind('<')
        .is_some_and(|lt| head.rfind('>').is_none_or(|gt| gt < lt));
    let in_entity = head.rfind('&').is_some_and(|amp| {
        let after = &head[amp..];
        !after.contains(';') && !after.contains(char::is_whitespace) && after.len() < 10
    });
    !in_tag && !in_entity
}

fn last_safe_cut(s: &str, limit: usize) -> usize {
    let mut i = limit;
    while i > 0 {
        if s.is_char_boundary(i) && safe_cut(s, i) {
            return i;
        }
        i -= 1;
    }
    // Only reachable when the window ends inside a tag that starts it; cut where it fits.
    limit.max(s.char_indices().nth(1).map(|(i, _)| i).unwrap_or(s.len()))
}

/// Closes the tags each part leaves open and reopens them in the next part.
fn balance_tags(parts: Vec<String>) -> Vec<String> {
    let mut open: Vec<(String, String)> = Vec::new(); // (name, full opening tag)
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        let mut text: String = open.iter().map(|(_, tag)| tag.as_str()).collect();
        text.push_str(&part);
        let mut rest = part.as_str();
        while let Some(lt) = rest.find('<') {
            let Some(gt) = rest[lt..].find('>') else {
                break;
            };
            let tag = &rest[lt..lt + gt + 1];
            let inner = tag.trim_start_matches('<').trim_end_matches('>');
            if let Some(name) = inner.strip_prefix('/') {
                let name = name.trim().to_ascii_lowercase();
                if let Some(pos) = open.iter().rposition(|(n, _)| *n == name) {
                    open.remove(pos);
                }
            } else if !inner.ends_with('/') {
                let name = inner
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if !name.is_empty() {
                    open.push((name, tag.to_string()));
                }
            }
            rest = &rest[lt + gt + 1..];
        }
        for (name, _) in open.iter().rev() {
            text.push_str(&format!("</{name}>"));
        }
        out.push(text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paragraph(n: usize, len: usize) -> String {
        let mut p = format!("Абзац {n}. ");
        while p.chars().count() < len {
            p.push_str("Слово за словом складывается текст. ");
        }
        p.trim_end().to_string()
    }

    #[test]
    fn a_short_text_stays_one_message() {
        assert_eq!(
            split_html("Привет", MESSAGE_LIMIT),
            vec!["Привет".to_string()]
        );
    }

    #[test]
    fn a_long_letter_is_cut_between_paragraphs_and_nothing_is_lost() {
        let paras: Vec<String> = (0..6).map(|i| paragraph(i, 1500)).collect();
        let text = paras.join("\n\n");
        let parts = split_html(&text, MESSAGE_LIMIT);
        assert!(parts.len() >= 3, "{} parts", parts.len());
        for p in &parts {
            assert!(telegram_len(p) <= MESSAGE_LIMIT);
            // Every part starts where a paragraph starts.
            assert!(
                p.starts_with("Абзац "),
                "part starts mid-paragraph: {:?}",
                &p[..40]
            );
        }
        assert_eq!(parts.join("\n\n"), text);
    }

    #[test]
    fn a_paragraph_longer_than_a_message_is_cut_between_words() {
        let text = paragraph(1, 9000);
        let parts = split_html(&text, MESSAGE_LIMIT);
        assert!(parts.len() >= 3);
        for p in &parts {
            assert!(telegram_len(p) <= MESSAGE_LIMIT);
            assert!(!p.starts_with(' ') && !p.ends_with(' '));
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let rejoined: Vec<String> = parts
            .iter()
            .flat_map(|p| p.split_whitespace().map(str::to_string))
            .collect();
        assert_eq!(rejoined, words);
    }

    #[test]
    fn entities_and_open_tags_survive_a_cut() {
        let body = "Мы &amp; вы &lt;вместе&gt; ".repeat(400);
        let text = format!("<b>{body}</b>");
        let parts = split_html(&text, MESSAGE_LIMIT);
        assert!(parts.len() >= 2);
        for p in &parts {
            assert!(telegram_len(p) <= MESSAGE_LIMIT);
            assert!(
                p.starts_with("<b>") && p.ends_with("</b>"),
                "unbalanced part"
            );
            // No entity was cut in half: every '&' starts a whole entity.
            for (i, _) in p.match_indices('&') {
                let tail = &p[i..];
                assert!(
                    tail.starts_with("&amp;")
                        || tail.starts_with("&lt;")
                        || tail.starts_with("&gt;"),
                    "cut entity"
                );
            }
        }
    }

    #[test]
    fn tags_and_entities_count_as_telegram_shows_them() {
        assert_eq!(telegram_len("<b>R&amp;D</b> &lt;x&gt;"), "R&D <x>".len());
        assert_eq!(
            telegram_len("<a href=\"https://x.y/?a=1&amp;b=2\">ok</a>"),
            2
        );
        assert_eq!(telegram_len("😀"), 2);
    }

    #[test]
    fn a_letter_that_fits_once_parsed_is_not_cut_for_its_markup() {
        // 3 000 visible characters, over 12 000 bytes of HTML: Telegram takes it in one message.
        let text = format!("<b>{}</b>", "&amp;&lt;&gt;".repeat(1000));
        assert!(text.chars().count() > MESSAGE_LIMIT);
        assert_eq!(split_html(&text, MESSAGE_LIMIT), vec![text]);
    }

    #[test]
    fn emoji_count_double_as_telegram_counts_them() {
        let text = "😀".repeat(3000);
        let parts = split_html(&text, MESSAGE_LIMIT);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| telegram_len(p) <= MESSAGE_LIMIT));
        assert_eq!(parts.concat(), text);
    }
}
