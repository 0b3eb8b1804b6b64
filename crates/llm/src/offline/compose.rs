//! Writing the letter: greeting, an opening that names the role and the company, the candidate's
//! strongest matching facts woven into sentences, the shared tools and the vacancy's tasks, and
//! a closing signed with the candidate's name — 200–300 words in the vacancy's language.
//!
//! Every statement about the candidate is a resume clause quoted whole; the composer's own words
//! carry no numbers and no gendered verb forms (the resume does not say the candidate's gender).

use super::matching::{rank, Matched};
use super::resume::{self, tech_words, Resume};
use super::text::{join_list, lower, lower_first, stems, word_count};
use super::vacancy::{self, Vacancy};

pub const MIN_WORDS: usize = 200;
pub const MAX_WORDS: usize = 300;

/// Everything a letter is written from.
pub struct Inputs {
    pub ru: bool,
    pub vacancy: Vacancy,
    pub resume: Resume,
    pub matched: Matched,
    pub corpus: String,
    pub resume_ru: bool,
    pub corpus_resume: String,
}

impl Inputs {
    pub fn read(vacancy_text: &str, resume_text: &str) -> Self {
        let ru = super::vacancy_is_russian(vacancy_text);
        let vacancy = vacancy::parse(vacancy_text);
        let resume = resume::parse(resume_text);
        let matched = rank(&vacancy, vacancy_text, &resume, resume_text);
        Inputs {
            ru,
            resume_ru: resume::is_russian(resume_text),
            corpus: format!("{vacancy_text}\n{resume_text}"),
            corpus_resume: resume_text.to_string(),
            vacancy,
            resume,
            matched,
        }
    }

    /// A fact as a sentence of the letter, with a connector chosen by `k`.
    pub fn fact_sentence(&self, fact: usize, k: usize) -> String {
        let f = &self.resume.facts[fact];
        // The first fact is always introduced as an example; later ones vary with `k` and never
        // repeat the first connector.
        let pick = |len: usize| {
            if k == 0 || len < 2 {
                0
            } else {
                1 + (k - 1) % (len - 1)
            }
        };
        let same_language = self.ru == self.resume_ru;
        if !same_language {
            return if self.ru {
                format!("{} «{}».", RU_QUOTE_FACT[pick(RU_QUOTE_FACT.len())], f.text)
            } else {
                format!("{} “{}”.", EN_QUOTE_FACT[pick(EN_QUOTE_FACT.len())], f.text)
            };
        }
        let text = f.text.trim_end_matches(['.', '!', ';']);
        if f.verb {
            let body = lower_first(text, &self.corpus);
            if self.ru {
                format!("{} я {body}.", RU_VERB[pick(RU_VERB.len())])
            } else {
                format!("{} I {body}.", EN_VERB[pick(EN_VERB.len())])
            }
        } else {
            let text = lower_first(text, &self.corpus);
            if self.ru {
                format!("{} {text}.", RU_NOUN[pick(RU_NOUN.len())])
            } else {
                format!("{} {text}.", EN_NOUN[pick(EN_NOUN.len())])
            }
        }
    }
}

const RU_VERB: &[&str] = &["Например,", "Кроме того,", "Также", "Помимо этого,", "Ещё"];
const EN_VERB: &[&str] = &[
    "For example,",
    "In addition,",
    "Also,",
    "Beyond that,",
    "Besides,",
];
const RU_NOUN: &[&str] = &[
    "Из моего опыта:",
    "Ещё один пример из моей работы:",
    "Отдельно отмечу:",
    "Есть в моём опыте и такое:",
    "И ещё:",
];
const EN_NOUN: &[&str] = &[
    "From my experience:",
    "Another example from my work:",
    "I would also point to this:",
    "Also on my record:",
    "And one more:",
];
const RU_QUOTE_FACT: &[&str] = &[
    "Из моего резюме:",
    "Ещё один результат, как он записан в резюме:",
    "Также в резюме:",
];
const EN_QUOTE_FACT: &[&str] = &[
    "From my resume:",
    "Another result, as my resume puts it:",
    "Also in my resume:",
];

/// Sentences that state no fact about the candidate, to give a sparse letter its shape.
const RU_FILL: &[&str] = &[
    "Мне интересно, как устроена работа вашей команды и какие задачи для этой роли сейчас самые срочные.",
    "Мне важно, чтобы работа давала заметный результат, и по описанию вакансии видно, что у вас это ценят.",
    "Если у вас есть тестовое задание или вопросы по моему резюме, с удовольствием на них отвечу.",
    "Я понимаю, что в новой команде многое предстоит узнать, и отношусь к этому как к интересной части работы.",
    "Хорошее знакомство с продуктом и людьми для меня важнее быстрых обещаний, поэтому мне интересен подробный разговор.",
    "Мне нравится работать там, где решения обсуждают открыто и вместе договариваются о приоритетах.",
    "Описание вакансии показалось мне понятным и честным, поэтому этот отклик я пишу с настоящим интересом.",
    "Надеюсь, это письмо поможет понять, подхожу ли я вам, ещё до собеседования.",
];
const EN_FILL: &[&str] = &[
    "I would like to learn how your team works and which problems matter most for this role right now.",
    "I care about work that makes a visible difference, and your description suggests your team values the same.",
    "If you have a test assignment or questions about my resume, I will gladly answer them.",
    "I know a new team means a lot to learn, and I see that as one of the interesting parts of the job.",
    "Getting to know the product and the people matters more to me than quick promises, so I would welcome a proper conversation.",
    "I enjoy working where decisions are discussed openly and priorities are agreed on together.",
    "Your description reads clear and honest, which is part of why I am writing with real interest.",
    "I hope this letter helps you judge the fit even before an interview.",
];

const RU_CLOSE: &[&str] = &[
    "С удовольствием расскажу подробнее о своём опыте на собеседовании. Спасибо, что уделили время моему отклику!",
    "Если мой опыт вам подходит, давайте договоримся о созвоне: отвечу на вопросы и расскажу о проектах подробнее. Спасибо за внимание!",
    "Спасибо, что рассмотрели мою кандидатуру. С удовольствием продолжу разговор на собеседовании.",
];
const EN_CLOSE: &[&str] = &[
    "I would be glad to tell you more about my work in an interview. Thank you for your time.",
    "If my background looks like a fit, I would welcome a call to answer your questions and go into detail. Thank you for considering my application.",
    "Thank you for reading my application. I look forward to continuing the conversation in an interview.",
];

fn an(word: &str) -> &'static str {
    let vowel = word
        .chars()
        .next()
        .is_some_and(|c| "aeiouAEIOU".contains(c));
    if vowel {
        "an"
    } else {
        "a"
    }
}

/// "курьер" → "Курьер" for a role named in quotes.
fn capitalized(s: &str) -> String {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) => c.to_uppercase().chain(cs).collect(),
        None => String::new(),
    }
}

fn greeting(i: &Inputs, variant: usize) -> String {
    match (i.ru, &i.vacancy.company) {
        (true, _) => ["Здравствуйте!", "Добрый день!", "Здравствуйте!"][variant % 3].to_string(),
        (false, Some(c)) => [
            format!("Dear {c} team,"),
            format!("Dear {c} hiring team,"),
            "Dear hiring manager,".to_string(),
        ][variant % 3]
            .clone(),
        (false, None) => {
            ["Dear hiring team,", "Dear hiring manager,", "Hello,"][variant % 3].to_string()
        }
    }
}

fn opening(i: &Inputs, variant: usize) -> String {
    let role = i
        .vacancy
        .role
        .as_ref()
        .map(|(r, c)| (capitalized(r), c.clone()));
    let role = role.as_ref();
    let company = i.vacancy.company.as_deref();
    if i.ru {
        let what = match (role, company) {
            (Some((r, _)), Some(c)) => format!("вакансия «{r}» в компании «{c}»"),
            (Some((r, ctx)), None) => match ctx {
                Some(ctx) => format!("вакансия «{r}» {ctx}"),
                None => format!("вакансия «{r}»"),
            },
            (None, Some(c)) => format!("вакансия в компании «{c}»"),
            (None, None) => "ваша вакансия".to_string(),
        };
        // The same phrase in the genitive and accusative: only "вакансия"/"ваша" change.
        let acc = what
            .replacen("вакансия", "вакансию", 1)
            .replacen("ваша", "вашу", 1);
        let gen = what
            .replacen("вакансия", "вакансии", 1)
            .replacen("ваша", "вашей", 1);
        match variant % 3 {
            0 => format!("Меня заинтересовала {what}, и я хочу предложить свою кандидатуру."),
            1 => format!("Откликаюсь на {acc} и коротко расскажу, чем мой опыт может быть полезен вашей команде."),
            _ => format!("Пишу вам по поводу {gen}: мне хочется рассказать, что я могу предложить."),
        }
    } else {
        let at = company.map(|c| format!(" at {c}")).unwrap_or_default();
        match (role, variant % 3) {
            (Some((r, _)), 0) => format!("I am writing to apply for the {r} position{at}."),
            (Some((r, _)), 1) => format!("I would like to be considered for the {r} role{at}, and here is briefly what I can bring to it."),
            (Some((r, _)), _) => format!("Your {r} opening{at} caught my attention, and I would like to show how my experience fits it."),
            (None, 0) => format!("I am writing to apply for the position you advertised{at}."),
            (None, 1) => format!("I would like to be considered for your opening{at}, and here is briefly what I can bring to it."),
            (None, _) => format!("Your opening{at} caught my attention, and I would like to show how my experience fits it."),
        }
    }
}

fn headline(i: &Inputs, variant: usize) -> Option<String> {
    let h = i.resume.headline.as_deref()?;
    let h = h.trim_end_matches(['.', '!']);
    if i.ru != i.resume_ru {
        return Some(if i.ru {
            format!("Коротко о себе: «{h}».")
        } else {
            format!("In brief: “{h}”.")
        });
    }
    let starts_with_verb = h
        .split_whitespace()
        .next()
        .is_some_and(super::text::looks_like_verb);
    let h = lower_first(h, &i.corpus);
    Some(if i.ru {
        [
            format!("Коротко о себе: {h}."),
            format!("Пара слов о себе: {h}."),
            if starts_with_verb {
                format!("Если коротко о себе: {h}.")
            } else {
                format!("Если коротко, я — {h}.")
            },
        ][variant % 3]
            .clone()
    } else {
        [
            format!("In brief: {h}."),
            format!("A line about me: {h}."),
            format!("To introduce myself: {h}."),
        ][variant % 3]
            .clone()
    })
}

/// The honest sentence for a career changer: no experience in the role yet, what carries over.
fn transferable(i: &Inputs) -> Option<String> {
    if i.matched.same_field {
        return None;
    }
    let role = capitalized(&i.vacancy.role.as_ref()?.0);
    Some(if i.ru {
        format!("Скажу честно: опыта работы в роли «{role}» у меня пока нет. Зато в моей работе есть то, что переносится на ваши задачи, — об этом ниже.")
    } else {
        format!("To be candid, I have not yet worked in {} {role} role; what I bring is experience that carries over to your work, described below.", an(&role))
    })
}

fn tech_sentence(i: &Inputs, mentioned: &str) -> Option<String> {
    let l = lower(mentioned);
    let rest: Vec<String> = i
        .matched
        .shared_tech
        .iter()
        .filter(|t| !l.contains(&lower(t)))
        .take(5)
        .cloned()
        .collect();
    if rest.is_empty() {
        return None;
    }
    let list = join_list(&rest, i.ru);
    Some(if i.ru {
        format!("Из инструментов, которые вы называете, в моём резюме есть также {list}.")
    } else {
        format!("Of the tools you name, my resume also lists {list}.")
    })
}

/// Requirements the resume visibly answers (a shared technology, or two shared word stems).
fn covered_sentence(i: &Inputs) -> Option<String> {
    let resume_stems = stems(&i.corpus_resume);
    let resume_l = lower(&i.corpus_resume);
    let covered: Vec<String> = i
        .vacancy
        .requirements
        .iter()
        .filter(|r| word_count(r) <= 10 && !r.contains(['«', '»', '“', '”']))
        .filter(|r| {
            let tech = tech_words(r);
            let tech_ok = !tech.is_empty() && tech.iter().all(|t| resume_l.contains(&lower(t)));
            let shared = stems(r).iter().filter(|s| resume_stems.contains(s)).count();
            tech_ok || (i.matched.same_field && shared >= 2)
        })
        .take(2)
        .map(|r| {
            if i.ru {
                format!("«{}»", lower_first(r, &i.corpus))
            } else {
                format!("“{}”", lower_first(r, &i.corpus))
            }
        })
        .collect();
    if covered.is_empty() {
        return None;
    }
    let list = join_list(&covered, i.ru);
    Some(if i.ru {
        format!("Судя по описанию, вам важны {list} — примеры из моей работы выше как раз об этом.")
    } else {
        format!("Your description puts weight on {list}; the examples above speak to exactly that.")
    })
}

fn tasks_sentence(i: &Inputs) -> Option<String> {
    let tasks: Vec<String> = i
        .vacancy
        .tasks
        .iter()
        .filter(|t| word_count(t) <= 8 && !t.contains(['«', '»', '“', '”']))
        .take(3)
        .map(|t| {
            if i.ru {
                format!("«{}»", lower_first(t, &i.corpus))
            } else {
                format!("“{}”", lower_first(t, &i.corpus))
            }
        })
        .collect();
    if tasks.is_empty() {
        return None;
    }
    let list = join_list(&tasks, i.ru);
    Some(if i.ru {
        format!("Мне интересны задачи, о которых вы пишете: {list}.")
    } else {
        format!("The work you describe appeals to me: {list}.")
    })
}

fn words_of(paras: &[Vec<String>]) -> usize {
    paras.iter().flatten().map(|s| word_count(s)).sum::<usize>()
}

/// The facts of a variant: the strongest few, another selection and order for each variant.
pub fn facts_for(i: &Inputs, variant: usize, n: usize) -> Vec<usize> {
    let pool: Vec<usize> = i.matched.ranked.iter().take(6).copied().collect();
    if pool.is_empty() {
        return pool;
    }
    let n = n.min(pool.len());
    let mut out: Vec<usize> = match variant % 3 {
        0 => pool.iter().take(n).copied().collect(),
        // The same strongest facts in another order: the second strongest leads.
        1 => {
            let mut o: Vec<usize> = pool.iter().take(n).copied().collect();
            if o.len() > 1 {
                o.swap(0, 1);
                o[1..].reverse();
            }
            o
        }
        // The strongest fact still leads; then the facts the first letter left out.
        _ => {
            let mut o = vec![pool[0]];
            o.extend(pool.iter().skip(n).copied());
            let mut rest: Vec<usize> = pool.iter().take(n).skip(1).copied().collect();
            if rest.len() > 1 {
                rest.rotate_left(1);
            }
            o.extend(rest);
            o.truncate(n);
            o
        }
    };
    // A later round of variants rotates further.
    let round = variant / 3;
    if round > 0 && !out.is_empty() {
        let k = round % out.len();
        out.rotate_left(k);
        if pool.len() > n {
            let extra = pool[(n + round) % pool.len()];
            if !out.contains(&extra) {
                out.pop();
                out.insert(0, extra);
            }
        }
    }
    out
}

/// The letter as paragraphs of sentences (greeting and signature are paragraphs too).
pub fn paragraphs(i: &Inputs, variant: usize, fact_count: usize) -> Vec<Vec<String>> {
    let v = variant;
    let mut intro = vec![opening(i, v)];
    if let Some(h) = headline(i, v) {
        intro.push(h);
    }
    if let Some(t) = transferable(i) {
        intro.push(t);
    }
    let facts = facts_for(i, v, fact_count);
    let mut body: Vec<String> = facts
        .iter()
        .enumerate()
        .map(|(k, &f)| i.fact_sentence(f, if k == 0 { 0 } else { k + v }))
        .collect();
    if body.is_empty() {
        body.push(if i.ru {
            "Подробности моего опыта — в резюме; с удовольствием расскажу, как он пригодится в ваших задачах.".to_string()
        } else {
            "The details of my experience are in my resume; I would be glad to explain how they fit your needs.".to_string()
        });
    }
    let said = format!("{} {}", intro.join(" "), body.join(" "));
    let mut interest: Vec<String> = Vec::new();
    if let Some(t) = covered_sentence(i) {
        interest.push(t);
    }
    if let Some(t) = tech_sentence(i, &said) {
        interest.push(t);
    }
    if let Some(t) = tasks_sentence(i) {
        interest.push(t);
    }
    let mut paras = vec![vec![greeting(i, v)], intro, body];
    if !interest.is_empty() {
        paras.push(interest);
    }
    let close = if i.ru { RU_CLOSE } else { EN_CLOSE };
    let closing = vec![close[v % close.len()].to_string()];
    let sign = vec![signature(i)];
    // Fill a sparse letter with sentences that claim nothing, in an order that depends on the variant.
    let fill = if i.ru { RU_FILL } else { EN_FILL };
    let mut extra: Vec<String> = Vec::new();
    let mut k = v;
    let total = |extra: &Vec<String>, paras: &Vec<Vec<String>>| {
        words_of(paras) + words_of(&[extra.clone(), closing.clone(), sign.clone()])
    };
    while total(&extra, &paras) < MIN_WORDS + 15 && extra.len() < fill.len() {
        extra.push(fill[k % fill.len()].to_string());
        k += 1;
    }
    if let Some(wish) = company_wish(i) {
        if total(&extra, &paras) < MIN_WORDS + 15 {
            extra.push(wish);
        }
    }
    if !extra.is_empty() {
        paras.push(extra);
    }
    paras.push(closing);
    paras.push(sign);
    paras
}

/// The claim-free sentences a sparse letter is filled with.
pub fn fill_sentences(ru: bool) -> &'static [&'static str] {
    if ru {
        RU_FILL
    } else {
        EN_FILL
    }
}

/// A wish to work at the named company (no claim about the candidate).
pub fn company_wish(i: &Inputs) -> Option<String> {
    let company = i.vacancy.company.as_ref()?;
    Some(if i.ru {
        format!("Мне хотелось бы применить свой опыт в компании «{company}» и расти вместе с вашей командой.")
    } else {
        format!(
            "I would like to bring my experience to {company} and grow together with your team."
        )
    })
}

fn signature(i: &Inputs) -> String {
    let name = i.resume.name.clone().unwrap_or_else(|| {
        if i.ru {
            "[Ваше имя]".to_string()
        } else {
            "[Your name]".to_string()
        }
    });
    if i.ru {
        format!("С уважением,\n{name}")
    } else {
        format!("Best regards,\n{name}")
    }
}

pub fn render(paras: &[Vec<String>]) -> String {
    paras
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The letter for a variant: as many strong facts as fit in 200–300 words.
pub fn letter(i: &Inputs, variant: usize) -> String {
    // Facts before filler: the most facts that keep the letter within the limit.
    for n in (1..=5).rev() {
        let paras = paragraphs(i, variant, n);
        if words_of(&paras) <= MAX_WORDS - 10 {
            return render(&paras);
        }
    }
    render(&paragraphs(i, variant, 1))
}
