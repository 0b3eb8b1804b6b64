//! Every text the bot sends, in Russian and English. User and model text passed in here is
//! escaped by the caller or here; the templates themselves are trusted HTML.

use chrono::{DateTime, Utc};
use domain::{InputError, Plan};

use crate::commands::Command;
use crate::event::{Lang, Media};
use crate::reply::escape_html;

fn tr(l: Lang, ru: &str, en: &str) -> String {
    match l {
        Lang::Ru => ru.to_string(),
        Lang::En => en.to_string(),
    }
}

pub fn date(t: DateTime<Utc>) -> String {
    t.format("%d.%m.%Y").to_string()
}

pub fn quota_line(l: Lang, plan: Plan, left: i32, limit: i32) -> String {
    let dot = if left == 0 {
        "🔴"
    } else if left * 3 <= limit {
        "🟡"
    } else {
        "🟢"
    };
    match (l, plan) {
        (Lang::Ru, Plan::Free) => {
            format!("{dot} Писем осталось в этом месяце: <b>{left}/{limit}</b>")
        }
        (Lang::Ru, Plan::Premium) => {
            format!("{dot} Писем осталось сегодня: <b>{left}/{limit}</b> (Premium)")
        }
        (Lang::En, Plan::Free) => format!("{dot} Letters left this month: <b>{left}/{limit}</b>"),
        (Lang::En, Plan::Premium) => {
            format!("{dot} Letters left today: <b>{left}/{limit}</b> (Premium)")
        }
    }
}

pub fn greeting(l: Lang, first_name: Option<&str>, quota: &str) -> String {
    let name = first_name
        .map(|n| format!(", {}", escape_html(n)))
        .unwrap_or_default();
    match l {
        Lang::Ru => format!(
            "Привет{name}! 👋\nЯ пишу сопроводительные письма под конкретную вакансию.\nПришлите вакансию и резюме — через минуту письмо будет готово.\n\n{quota}\n\n{}",
            ask_vacancy(l)
        ),
        Lang::En => format!(
            "Hi{name}! 👋\nI write cover letters tailored to a specific vacancy.\nSend the vacancy and your resume, and the letter is ready in a minute.\n\n{quota}\n\n{}",
            ask_vacancy(l)
        ),
    }
}

/// The greeting without the request for a vacancy (the quota is used up).
pub fn greeting_only(l: Lang, first_name: Option<&str>) -> String {
    let name = first_name
        .map(|n| format!(", {}", escape_html(n)))
        .unwrap_or_default();
    match l {
        Lang::Ru => {
            format!("Привет{name}! 👋\nЯ пишу сопроводительные письма под конкретную вакансию.")
        }
        Lang::En => format!("Hi{name}! 👋\nI write cover letters tailored to a specific vacancy."),
    }
}

pub fn ask_vacancy(l: Lang) -> String {
    tr(
        l,
        "<b>Шаг 1 из 2.</b> Пришлите текст вакансии одним сообщением.",
        "<b>Step 1 of 2.</b> Send the vacancy text in one message.",
    )
}

pub fn ask_resume(l: Lang, consent_notice: bool) -> String {
    let mut s = tr(
        l,
        "✅ Вакансия получена.\n\n<b>Шаг 2 из 2.</b> Пришлите резюме: текстом или файлом (.txt, .pdf, .docx до 5 МБ).",
        "✅ Got the vacancy.\n\n<b>Step 2 of 2.</b> Send your resume as text or as a file (.txt, .pdf, .docx up to 5 MB).",
    );
    if consent_notice {
        s += &tr(
            l,
            "\n\n<i>Отправляя резюме, вы соглашаетесь с обработкой данных: /privacy</i>",
            "\n\n<i>By sending your resume you agree to the processing of your data: /privacy</i>",
        );
    }
    s
}

fn input_error(l: Lang, what_ru: &str, what_en: &str, e: &InputError) -> String {
    match (l, e) {
        (Lang::Ru, InputError::Empty) => format!("Пришлите {what_ru} текстом."),
        (Lang::En, InputError::Empty) => format!("Please send the {what_en} as text."),
        (Lang::Ru, InputError::TooShort { chars, min }) => {
            format!("Слишком коротко для {what_ru}: {chars} {}, нужно не меньше {min}. Пришлите полный текст.", plural(*chars as u64, "символ", "символа", "символов"))
        }
        (Lang::En, InputError::TooShort { chars, min }) => {
            format!("That is too short for the {what_en}: {chars} characters, at least {min} are needed. Please send the full text.")
        }
        (Lang::Ru, InputError::TooLong { chars, max }) => {
            format!("Слишком длинно: {chars} {}, максимум {max}. Сократите текст и пришлите снова.", plural(*chars as u64, "символ", "символа", "символов"))
        }
        (Lang::En, InputError::TooLong { chars, max }) => {
            format!("That is too long: {chars} characters, at most {max}. Please shorten it and send it again.")
        }
        (Lang::Ru, InputError::TooLarge { .. }) => {
            "Сообщение больше 50 КБ — такой текст я не принимаю. Пришлите текст покороче."
                .to_string()
        }
        (Lang::En, InputError::TooLarge { .. }) => {
            "The message is over 50 KB, which is more than I accept. Please send a shorter text."
                .to_string()
        }
        (Lang::Ru, InputError::FileHostLink { host }) => {
            format!("По ссылке на {host} я не могу открыть файл. Скопируйте текст и вставьте его сообщением.")
        }
        (Lang::En, InputError::FileHostLink { host }) => {
            format!(
                "I cannot open files behind a {host} link. Please paste the text itself instead."
            )
        }
        (Lang::Ru, InputError::NulByte) => format!(
            "В тексте есть нулевой байт — так выглядят двоичные файлы, а не текст. Пришлите {what_ru} обычным текстом."
        ),
        (Lang::En, InputError::NulByte) => format!(
            "The text holds a NUL byte, as binary files do. Please send the {what_en} as plain text."
        ),
        (Lang::Ru, InputError::TooFewWords { words, min }) => format!(
            "В тексте {words} {} — для {what_ru} нужно хотя бы {min}: эмодзи и символы не в счёт. Пришлите текст {what_ru} словами.",
            plural(*words as u64, "слово", "слова", "слов")
        ),
        (Lang::En, InputError::TooFewWords { words, min }) => format!(
            "That text has {words} words; the {what_en} needs at least {min} (emoji and symbols do not count). Please send the {what_en} in words."
        ),
    }
}

fn letters_word(n: i32) -> &'static str {
    plural(u64::try_from(n).unwrap_or(0), "письмо", "письма", "писем")
}

fn days_word(n: i64) -> &'static str {
    plural(u64::try_from(n).unwrap_or(0), "день", "дня", "дней")
}

/// Russian noun form for a count: 1 символ, 2 символа, 54 символа, 11 символов.
pub fn plural<'a>(n: u64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    llm::plural_ru(n, one, few, many)
}

pub fn vacancy_error(l: Lang, e: &InputError) -> String {
    input_error(l, "вакансии", "vacancy", e)
}

pub fn resume_error(l: Lang, e: &InputError) -> String {
    input_error(l, "резюме", "resume", e)
}

pub fn improvement_error(l: Lang, e: &InputError) -> String {
    input_error(l, "пожелания", "request", e)
}

pub fn progress(l: Lang, improvement: bool) -> String {
    match (l, improvement) {
        (Lang::Ru, false) => "✍️ Пишу письмо… Обычно это занимает до минуты.".into(),
        (Lang::Ru, true) => "✍️ Переписываю письмо с учётом пожелания…".into(),
        (Lang::En, false) => "✍️ Writing your letter… This usually takes up to a minute.".into(),
        (Lang::En, true) => "✍️ Rewriting the letter as you asked…".into(),
    }
}

fn seconds(s: f64) -> String {
    format!("{s:.1}")
}

/// Every variant the offline composer can write for these texts is already sent; nothing charged.
pub fn no_new_variant(l: Lang) -> String {
    tr(
        l,
        "Новых вариантов без ИИ больше не получится: все, что я могу составить из этих текстов, уже отправлены. Письмо не списано. Попробуйте ✏️ Улучшить или /new.",
        "The offline composer has no new variant left for these texts: every one it can write was sent. No letter was used. Try ✏️ Improve or /new.",
    )
}

pub fn letter_ready(l: Lang, secs: f64, quota: &str, offline: bool) -> String {
    let mut s = match l {
        Lang::Ru => format!("🎉 Письмо готово за {} сек.\n{quota}", seconds(secs)),
        Lang::En => format!("🎉 Your letter is ready in {} s.\n{quota}", seconds(secs)),
    };
    if offline {
        s += &tr(
            l,
            "\n\n<i>Это офлайн-черновик: ИИ не подключён (нет OPENAI_API_KEY).</i>",
            "\n\n<i>This is an offline draft: no AI is connected (OPENAI_API_KEY is not set).</i>",
        );
    }
    s
}

pub fn improved(l: Lang, n: i32, remaining: i32, secs: f64) -> String {
    match l {
        Lang::Ru => format!(
            "✏️ Версия {}: готово за {} сек. Осталось улучшений: <b>{remaining}</b>.",
            n + 1,
            seconds(secs)
        ),
        Lang::En => format!(
            "✏️ Version {}: ready in {} s. Improvements left: <b>{remaining}</b>.",
            n + 1,
            seconds(secs)
        ),
    }
}

pub fn generation_failed(l: Lang) -> String {
    tr(
        l,
        "😔 Не получилось написать письмо: сервис генерации сейчас не отвечает. Письмо из лимита не списано — нажмите «Повторить» чуть позже.",
        "😔 I could not write the letter: the writing service is not answering right now. Nothing was taken from your quota. Press “Retry” a bit later.",
    )
}

pub fn improvement_failed(l: Lang) -> String {
    tr(
        l,
        "😔 Не получилось переписать письмо: сервис генерации не ответил. Улучшение не списано — попробуйте ещё раз.",
        "😔 I could not rewrite the letter: the writing service did not answer. The improvement was not used; please try again.",
    )
}

pub fn interrupted(l: Lang) -> String {
    tr(
        l,
        "Предыдущая генерация прервалась. Письмо из лимита не списано.",
        "The previous generation was interrupted. Nothing was taken from your quota.",
    )
}

pub fn limit_reached(l: Lang, plan: Plan, limit: i32, resets: DateTime<Utc>, price: u32) -> String {
    match (l, plan) {
        (Lang::Ru, Plan::Free) => format!(
            "🔴 Лимит исчерпан: {limit}/{limit} писем в этом месяце. Новые письма — {}.\n\n💎 <b>Premium</b>: до 20 писем в день на 30 дней за {price} ⭐.",
            date(resets)
        ),
        (Lang::Ru, Plan::Premium) => format!("🔴 Лимит на сегодня исчерпан: {limit}/{limit}. Новые письма — {} (UTC).", date(resets)),
        (Lang::En, Plan::Free) => format!(
            "🔴 You have used all {limit} letters of this month. New letters on {}.\n\n💎 <b>Premium</b>: up to 20 letters a day for 30 days for {price} ⭐.",
            date(resets)
        ),
        (Lang::En, Plan::Premium) => format!("🔴 You have used all {limit} letters of today. New letters on {} (UTC).", date(resets)),
    }
}

pub fn premium(l: Lang, free: i32, premium_per_day: i32, price: u32, days: i64) -> String {
    match l {
        Lang::Ru => format!(
            "💎 <b>Premium</b>\n\nБесплатно: {free} {} в месяц, 2 улучшения на письмо.\nPremium: {premium_per_day} {} в день, 3 улучшения на письмо, {days} {} за {price} ⭐.\n\nОплата — Telegram Stars. Повторная оплата продлевает Premium ещё на {days} {}.",
            letters_word(free),
            letters_word(premium_per_day),
            days_word(days),
            days_word(days)
        ),
        Lang::En => format!(
            "💎 <b>Premium</b>\n\nFree: {free} letters a month, 2 improvements per letter.\nPremium: {premium_per_day} letters a day, 3 improvements per letter, {days} days for {price} ⭐.\n\nPaid with Telegram Stars. Paying again extends Premium by another {days} days."
        ),
    }
}

pub fn subscription(
    l: Lang,
    plan: Plan,
    quota: &str,
    period_end: Option<DateTime<Utc>>,
    window_end: DateTime<Utc>,
) -> String {
    match (l, plan) {
        (Lang::Ru, Plan::Free) => format!(
            "📋 План: <b>бесплатный</b>\n{quota}\nЛимит обновится {}.",
            date(window_end)
        ),
        (Lang::En, Plan::Free) => format!(
            "📋 Plan: <b>free</b>\n{quota}\nThe quota renews on {}.",
            date(window_end)
        ),
        (Lang::Ru, Plan::Premium) => {
            format!(
                "📋 План: <b>Premium</b>\n{quota}\nДействует до {}.",
                period_end.map(date).unwrap_or_else(|| "—".into())
            )
        }
        (Lang::En, Plan::Premium) => {
            format!(
                "📋 Plan: <b>Premium</b>\n{quota}\nValid until {}.",
                period_end.map(date).unwrap_or_else(|| "—".into())
            )
        }
    }
}

pub fn help(l: Lang) -> String {
    let steps = tr(
        l,
        "Как это работает:\n1. Пришлите текст вакансии.\n2. Пришлите резюме — текстом или файлом.\n3. Получите письмо; его можно улучшить (✏️) или попросить другой вариант (🔄).",
        "How it works:\n1. Send the vacancy text.\n2. Send your resume as text or a file.\n3. Get the letter; improve it (✏️) or ask for another variant (🔄).",
    );
    let commands: Vec<String> = crate::commands::menu(l)
        .into_iter()
        .map(|(name, description)| format!("/{name} — {description}"))
        .collect();
    format!("{steps}\n\n{}", commands.join("\n"))
}

pub fn about(l: Lang) -> String {
    tr(
        l,
        "Сопровод пишет сопроводительное письмо под конкретную вакансию по вашему резюме — на языке вакансии, 200–300 слов, без выдуманного опыта.",
        "Soprovod writes a cover letter for a specific vacancy from your resume: in the vacancy's language, 200-300 words, with no invented experience.",
    )
}

pub fn support(l: Lang, contact: Option<&str>) -> String {
    match contact {
        Some(c) => match l {
            Lang::Ru => format!("Если что-то не работает или есть вопрос об оплате, напишите: {}", escape_html(c)),
            Lang::En => format!("If something does not work or you have a question about payment, write to {}", escape_html(c)),
        },
        None => tr(
            l,
            "Если что-то не работает, попробуйте /cancel и /new. Вопросы об оплате решает администратор бота.",
            "If something does not work, try /cancel and /new. Payment questions are handled by the bot's administrator.",
        ),
    }
}

pub fn privacy(l: Lang) -> String {
    tr(
        l,
        "🔒 <b>Какие данные хранятся</b>\nВаш Telegram id, имя и язык; тексты вакансий и резюме, которые вы прислали, и написанные письма; оценки писем; сведения об оплатах.\n\n<b>Зачем</b>\nЧтобы писать и улучшать письма, считать лимиты и подтверждать оплату.\n\n<b>Сколько</b>\nПока вы пользуетесь ботом. Команда /delete_me после подтверждения удаляет все вакансии, резюме и письма; в статистике остаются только обезличенные записи.\n\nТексты не попадают в журналы работы бота.",
        "🔒 <b>What is stored</b>\nYour Telegram id, name and language; the vacancies and resumes you sent and the letters written; your ratings; payment records.\n\n<b>Why</b>\nTo write and improve letters, count quotas and confirm payments.\n\n<b>For how long</b>\nAs long as you use the bot. /delete_me, after a confirmation, erases all your vacancies, resumes and letters; statistics keep only anonymous ids.\n\nTexts never go into the bot's logs.",
    )
}

pub fn terms(l: Lang) -> String {
    tr(
        l,
        "📄 <b>Условия</b>\nБот помогает составить письмо; проверяйте текст перед отправкой. Бесплатный план — ограниченное число писем в месяц. Premium оплачивается Telegram Stars и действует 30 дней с оплаты; возврат возможен через поддержку (/support), оплаченные дни при этом отзываются.",
        "📄 <b>Terms</b>\nThe bot helps you draft a letter; check it before sending. The free plan has a limited number of letters a month. Premium is paid with Telegram Stars and lasts 30 days from payment; refunds are possible through /support, and the paid days are then revoked.",
    )
}

pub fn cancelled(l: Lang) -> String {
    tr(
        l,
        "Письмо отменено. /new — начать новое.",
        "The letter is cancelled. /new starts a new one.",
    )
}

pub fn unknown_command(l: Lang) -> String {
    tr(
        l,
        "Не знаю такой команды. Список команд — /help.",
        "I do not know that command. See /help.",
    )
}

pub fn closed(l: Lang) -> String {
    tr(
        l,
        "Это письмо уже закрыто. Новое — /new.",
        "This letter is closed. /new starts a new one.",
    )
}

pub fn still_generating(l: Lang) -> String {
    tr(
        l,
        "⏳ Ещё пишу письмо, подождите немного. Отменить — /cancel.",
        "⏳ Still writing the letter, please wait a little. /cancel to stop.",
    )
}

pub fn rate_limited(l: Lang, wait: i64, generations: bool) -> String {
    match (l, generations) {
        (Lang::Ru, false) => format!("⏱ Слишком много команд подряд. Попробуйте через {wait} сек."),
        (Lang::Ru, true) => format!("⏱ Слишком много генераций подряд: не больше 3 за 5 минут. Попробуйте через {wait} сек."),
        (Lang::En, false) => format!("⏱ Too many commands in a row. Try again in {wait} s."),
        (Lang::En, true) => format!("⏱ Too many generations in a row: at most 3 in 5 minutes. Try again in {wait} s."),
    }
}

/// What the bot expects now, for input it cannot use.
pub fn hint(l: Lang, state: store::conversation::State, media: Option<Media>) -> String {
    use store::conversation::State as S;
    let not_text = media.is_some();
    match state {
        S::Idle => tr(l, "Чтобы написать письмо, отправьте /new.", "To write a letter, send /new."),
        S::AwaitingVacancy if not_text => tr(
            l,
            "Я читаю только текст. Скопируйте текст вакансии и пришлите его сообщением.",
            "I only read text. Copy the vacancy text and send it as a message.",
        ),
        S::AwaitingVacancy => ask_vacancy(l),
        S::AwaitingResume if not_text => tr(
            l,
            "Пришлите резюме текстом или файлом .txt, .pdf или .docx (до 5 МБ).",
            "Send your resume as text or as a .txt, .pdf or .docx file (up to 5 MB).",
        ),
        S::AwaitingResume => ask_resume(l, false),
        S::Generating => still_generating(l),
        S::Ready => tr(l, "Нажмите «Повторить» под сообщением выше или начните заново: /new.", "Press “Retry” above or start over with /new."),
        S::AwaitingFeedback => tr(
            l,
            "Используйте кнопки под письмом: ✏️ Улучшить или 🔄 Ещё вариант. Новое письмо — /new.",
            "Use the buttons under the letter: ✏️ Improve or 🔄 Another variant. /new for a new letter.",
        ),
        S::AwaitingImprovement => tr(
            l,
            "Напишите текстом, что изменить в письме.",
            "Write in a message what to change in the letter.",
        ),
    }
}

pub fn ask_improvement(l: Lang, remaining: i32) -> String {
    match l {
        Lang::Ru => format!("Что изменить в письме? Например: «короче», «больше про опыт с PostgreSQL», «официальнее».\nОсталось улучшений: <b>{remaining}</b>."),
        Lang::En => format!("What should change in the letter? For example: “shorter”, “more about PostgreSQL”, “more formal”.\nImprovements left: <b>{remaining}</b>."),
    }
}

pub fn no_improvements_left(l: Lang, premium: bool) -> String {
    match (l, premium) {
        (Lang::Ru, false) => "Улучшения для этого письма закончились. В Premium — 3 улучшения на письмо: /premium. Или попросите 🔄 другой вариант.".into(),
        (Lang::Ru, true) => "Улучшения для этого письма закончились. Попросите 🔄 другой вариант или начните новое: /new.".into(),
        (Lang::En, false) => "No improvements left for this letter. Premium gives 3 per letter: /premium. Or ask for 🔄 another variant.".into(),
        (Lang::En, true) => "No improvements left for this letter. Ask for 🔄 another variant or start over: /new.".into(),
    }
}

/// After ❤️/👎; a 👎 points to ✏️ only while improvements are left.
pub fn feedback_thanks(l: Lang, like: bool, improvements_left: bool) -> String {
    match (l, like, improvements_left) {
        (Lang::Ru, true, _) => "❤️ Спасибо! Удачи с откликом.".into(),
        (Lang::Ru, false, true) => "Понял. Нажмите ✏️ Улучшить и напишите, что поправить.".into(),
        (Lang::Ru, false, false) => {
            "Понял. Улучшения этого письма закончились: попросите 🔄 другой вариант или начните заново — /new.".into()
        }
        (Lang::En, true, _) => "❤️ Thanks! Good luck with the application.".into(),
        (Lang::En, false, true) => "Got it. Press ✏️ Improve and tell me what to fix.".into(),
        (Lang::En, false, false) => {
            "Got it. This letter has no improvements left: ask for 🔄 another variant or start over with /new.".into()
        }
    }
}

pub fn delete_confirm(l: Lang) -> String {
    tr(
        l,
        "Удалить все ваши вакансии, резюме и письма? Это нельзя отменить.",
        "Delete all your vacancies, resumes and letters? This cannot be undone.",
    )
}

pub fn delete_done(l: Lang, letters: u64) -> String {
    match l {
        Lang::Ru => format!("🗑 Готово: удалено писем — {letters}, вместе с вакансиями и резюме."),
        Lang::En => format!("🗑 Done: {letters} letters deleted, with their vacancies and resumes."),
    }
}

pub fn delete_kept(l: Lang) -> String {
    tr(l, "Ничего не удалено.", "Nothing was deleted.")
}

pub fn delete_expired(l: Lang) -> String {
    tr(
        l,
        "Этот запрос устарел. Отправьте /delete_me ещё раз.",
        "This request has expired. Send /delete_me again.",
    )
}

pub fn unavailable(l: Lang) -> String {
    tr(
        l,
        "⚠️ Сервис временно недоступен. Попробуйте через минуту — письма из лимита не списаны.",
        "⚠️ The service is temporarily unavailable. Please try again in a minute; nothing was taken from your quota.",
    )
}

pub fn payment_done(l: Lang, end: DateTime<Utc>, per_day: i32) -> String {
    match l {
        Lang::Ru => format!(
            "💎 Premium активен до <b>{}</b>: до {per_day} {} в день. Спасибо!",
            date(end),
            letters_word(per_day)
        ),
        Lang::En => format!(
            "💎 Premium is active until <b>{}</b>: up to {per_day} letters a day. Thank you!",
            date(end)
        ),
    }
}

/// A payment in a currency or amount no invoice of ours asked for: nothing granted automatically.
pub fn payment_unexpected(l: Lang) -> String {
    match l {
        Lang::Ru => "Платёж получен, но его сумма или валюта не совпадает со счётом, поэтому Premium не включён автоматически. Напишите в /support — мы разберёмся.".into(),
        Lang::En => "The payment arrived, but its amount or currency does not match the invoice, so Premium was not turned on automatically. Please write to /support and we will sort it out.".into(),
    }
}

pub fn invoice_title(l: Lang, days: i64) -> String {
    match l {
        Lang::Ru => format!("Premium на {days} {}", days_word(days)),
        Lang::En => format!("Premium for {days} days"),
    }
}

pub fn invoice_description(l: Lang, per_day: i32) -> String {
    match l {
        Lang::Ru => format!(
            "До {per_day} {} в день и 3 улучшения на письмо.",
            letters_word(per_day)
        ),
        Lang::En => format!("Up to {per_day} letters a day and 3 improvements per letter."),
    }
}

pub fn pre_checkout_refused(l: Lang) -> String {
    tr(
        l,
        "Этот счёт устарел. Откройте /premium и оплатите заново.",
        "This invoice is out of date. Open /premium and pay again.",
    )
}

pub mod buttons {
    use super::*;

    pub fn like(l: Lang) -> String {
        tr(l, "❤️ Нравится", "❤️ Like")
    }
    pub fn dislike(l: Lang) -> String {
        tr(l, "👎 Не то", "👎 Not quite")
    }
    pub fn improve(l: Lang, left: i32) -> String {
        match l {
            Lang::Ru => format!("✏️ Улучшить ({left})"),
            Lang::En => format!("✏️ Improve ({left})"),
        }
    }
    pub fn variant(l: Lang) -> String {
        tr(l, "🔄 Ещё вариант", "🔄 Another variant")
    }
    pub fn retry(l: Lang) -> String {
        tr(l, "🔁 Повторить", "🔁 Retry")
    }
    pub fn buy(l: Lang, price: u32) -> String {
        match l {
            Lang::Ru => format!("💎 Купить Premium — {price} ⭐"),
            Lang::En => format!("💎 Buy Premium — {price} ⭐"),
        }
    }
    pub fn new_letter(l: Lang) -> String {
        tr(l, "🆕 Новое письмо", "🆕 New letter")
    }
    pub fn write_now(l: Lang) -> String {
        tr(l, "✍️ Написать письмо", "✍️ Write the letter")
    }
    pub fn delete_yes(l: Lang) -> String {
        tr(l, "🗑 Да, удалить", "🗑 Yes, delete")
    }
    pub fn delete_no(l: Lang) -> String {
        tr(l, "Отмена", "Cancel")
    }
}

/// The commands to register with the transport (Telegram's setMyCommands), with descriptions.
pub fn command_description(l: Lang, c: Command) -> String {
    let (ru, en) = match c {
        Command::Start => ("Начать и написать письмо", "Start and write a letter"),
        Command::New => ("Новое письмо", "A new letter"),
        Command::Cancel => ("Отменить текущее письмо", "Cancel the current letter"),
        Command::Subscription => ("Мой план и лимиты", "My plan and quota"),
        Command::Premium => ("Больше писем с Premium", "More letters with Premium"),
        Command::Help => ("Как это работает", "How it works"),
        Command::About => ("О боте", "About the bot"),
        Command::Support => ("Поддержка", "Support"),
        Command::Privacy => ("Какие данные хранятся", "What data is stored"),
        Command::Terms => ("Условия", "Terms"),
        Command::DeleteMe => ("Удалить мои данные", "Delete my data"),
        Command::Refund => (
            "Вернуть Stars за платёж (администратор)",
            "Refund a Stars payment (admin)",
        ),
    };
    tr(l, ru, en)
}
