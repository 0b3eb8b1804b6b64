//! The conversation's texts: greeting, the two steps, input errors, progress, the letter and
//! its improvements, hints for input out of turn, /cancel and /delete_me.

use domain::InputError;

use super::*;
use crate::event::{Lang, Media};
use crate::reply::escape_html;

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

/// `generations`: the limit of generations per 5 minutes when a generation was refused; `None`
/// when a command was.
pub fn rate_limited(l: Lang, wait: i64, generations: Option<usize>) -> String {
    match (l, generations) {
        (Lang::Ru, None) => format!("⏱ Слишком много команд подряд. Попробуйте через {wait} сек."),
        (Lang::Ru, Some(max)) => format!("⏱ Слишком много генераций подряд: не больше {max} за 5 минут. Попробуйте через {wait} сек."),
        (Lang::En, None) => format!("⏱ Too many commands in a row. Try again in {wait} s."),
        (Lang::En, Some(max)) => format!("⏱ Too many generations in a row: at most {max} in 5 minutes. Try again in {wait} s."),
    }
}

/// What the bot expects now, for input it cannot use.
pub fn hint(l: Lang, state: store::conversation::State, media: Option<Media>) -> String {
    use store::conversation::State as S;
    let not_text = media.is_some();
    match state {
        S::AwaitingResume if media == Some(Media::UnreadableDocument) => tr(
            l,
            "Не получилось прочитать этот файл: он повреждён, это скан или он слишком сложный. Скопируйте текст резюме и пришлите его сообщением.",
            "I could not read this file: it is damaged, a scan, or too complex. Copy the text of your resume and send it as a message.",
        ),
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
