//! Reading an improvement request as people write it ("короче и проще", "убери Django",
//! "make it more formal", "highlight the Kubernetes migration") into the changes it asks for.

use super::text::lower;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Shorter,
    Longer,
    Formal,
    Informal,
    Plain,
    Drop(String),
    Stress(String),
    Add(String),
}

fn has(l: &str, keys: &[&str]) -> bool {
    keys.iter().any(|k| l.contains(k))
}

/// What follows a trigger word, up to the end of that request ("убери Django, и короче").
fn object_after(request: &str, triggers: &[&str]) -> Option<String> {
    let l = lower(request);
    for t in triggers {
        if let Some(pos) = l.find(t) {
            let rest = &request[pos + t.len()..];
            let rest = rest
                .split([',', '.', ';', '!', '\n'])
                .next()
                .unwrap_or("")
                .split(" и ")
                .next()
                .unwrap_or("")
                .split(" and ")
                .next()
                .unwrap_or("");
            let rest = rest
                .trim()
                .trim_start_matches(|c: char| !c.is_alphanumeric())
                .trim_end_matches(|c: char| !c.is_alphanumeric() && c != '+' && c != '#');
            let mut ws: Vec<&str> = rest.split_whitespace().collect();
            // "упоминание Django", "the part about Kafka", "опыт с Kafka": the object is the rest.
            while ws.len() > 1
                && [
                    "упоминание",
                    "упоминания",
                    "про",
                    "о",
                    "об",
                    "опыт",
                    "с",
                    "со",
                    "на",
                    "мой",
                    "мою",
                    "моё",
                    "мои",
                    "the",
                    "part",
                    "about",
                    "mention",
                    "of",
                    "my",
                    "experience",
                    "with",
                    "that",
                    "i",
                ]
                .contains(&lower(ws[0]).as_str())
            {
                ws.remove(0);
            }
            let obj = ws.join(" ");
            if !obj.is_empty() {
                return Some(obj);
            }
        }
    }
    None
}

/// The changes a request asks for, in the order they are applied.
pub fn parse(request: &str) -> Vec<Op> {
    let l = lower(request);
    let mut ops = Vec::new();
    let plain = has(
        &l,
        &[
            "канцеляр",
            "проще",
            "попроще",
            "простым языком",
            "штамп",
            "plain",
            "simpler",
            "jargon",
            "clich",
            "buzzword",
            "stiff",
        ],
    );
    if plain {
        ops.push(Op::Plain);
    }
    let less_formal = has(
        &l,
        &[
            "менее формал",
            "неформал",
            "менее официал",
            "живее",
            "дружелюб",
            "теплее",
            "less formal",
            "informal",
            "casual",
            "friendlier",
            "warmer",
        ],
    );
    if less_formal {
        ops.push(Op::Informal);
    } else if has(
        &l,
        &[
            "формальн",
            "официальн",
            "делов",
            "строже",
            "formal",
            "professional",
        ],
    ) {
        ops.push(Op::Formal);
    }
    if has(
        &l,
        &[
            "корот",
            "короч",
            "сократ",
            "кратк",
            "меньше слов",
            "покороче",
            "shorter",
            "shorten",
            "concise",
            "brief",
            "trim",
            "cut it down",
        ],
    ) {
        ops.push(Op::Shorter);
    }
    if has(
        &l,
        &[
            "длинн",
            "подробн",
            "расширь",
            "развёрнут",
            "развернут",
            "longer",
            "more detail",
            "expand",
            "elaborate",
        ],
    ) {
        ops.push(Op::Longer);
    }
    if !plain {
        if let Some(x) = object_after(
            request,
            &[
                "убери ",
                "удали ",
                "уберите ",
                "не упоминай ",
                "без ",
                "remove ",
                "drop ",
                "delete ",
                "without ",
                "don't mention ",
                "do not mention ",
            ],
        ) {
            ops.push(Op::Drop(x));
        }
    }
    if let Some(x) = object_after(
        request,
        &[
            "подчеркни ",
            "сделай акцент на ",
            "акцент на ",
            "выдели ",
            "упор на ",
            "emphasise ",
            "emphasize ",
            "highlight ",
            "stress ",
            "focus on ",
        ],
    ) {
        ops.push(Op::Stress(x));
    }
    if let Some(x) = object_after(
        request,
        &[
            "добавь ",
            "упомяни ",
            "расскажи про ",
            "расскажи о ",
            "добавьте ",
            "add ",
            "mention ",
            "include ",
        ],
    ) {
        ops.push(Op::Add(x));
    }
    ops
}
