//! The information commands (/help, /about, /support, /privacy, /terms) and the command menu's
//! descriptions.

use super::*;
use crate::commands::Command;
use crate::event::Lang;
use crate::reply::escape_html;

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
