//! Why the offline composer did not apply an improvement request, and what it can do.

use llm::Unapplied;

use crate::event::Lang;
use crate::reply::escape_html;

/// One or two sentences for the user; the request's words are escaped here.
pub fn unapplied(l: Lang, why: &Unapplied) -> String {
    let ru = l == Lang::Ru;
    let can = if ru {
        "Без ИИ я умею: короче, длиннее, формальнее, проще (без канцелярита), «подчеркни X», «убери X», «добавь X» — где X есть в резюме."
    } else {
        "Offline I can make it shorter, longer, more or less formal, plainer, \"stress X\", \"drop X\", \"add X\" (X from your resume)."
    };
    let reason = match (why, ru) {
        (Unapplied::Unknown, true) => {
            "Эту просьбу офлайн-составитель выполнить не может.".to_string()
        }
        (Unapplied::Unknown, false) => {
            "The offline composer cannot apply this request.".to_string()
        }
        (Unapplied::NothingToCut, true) => {
            "Письмо уже настолько короткое, насколько можно без потери сути.".to_string()
        }
        (Unapplied::NothingToCut, false) => {
            "The letter is already as short as it can be without losing its point.".to_string()
        }
        (Unapplied::NothingToAdd, true) => {
            "В резюме не осталось фактов, которых нет в письме, — длиннее не сделать.".to_string()
        }
        (Unapplied::NothingToAdd, false) => {
            "Your resume has no facts left that the letter does not use, so it cannot get longer."
                .to_string()
        }
        (Unapplied::AlreadyFormal, true) => "Письмо уже написано в деловом тоне.".to_string(),
        (Unapplied::AlreadyFormal, false) => "The letter is already formal.".to_string(),
        (Unapplied::AlreadyInformal, true) => "Письмо уже написано неформально.".to_string(),
        (Unapplied::AlreadyInformal, false) => "The letter is already informal.".to_string(),
        (Unapplied::NoBureaucratese, true) => {
            "Канцелярских оборотов, которые я умею заменять, в письме нет.".to_string()
        }
        (Unapplied::NoBureaucratese, false) => {
            "The letter has no stiff phrases I know how to replace.".to_string()
        }
        (Unapplied::NotInLetter(x), true) => format!("В письме нет «{x}» — убирать нечего."),
        (Unapplied::NotInLetter(x), false) => {
            format!("The letter does not mention \"{x}\", so there is nothing to drop.")
        }
        (Unapplied::NotInResume(x), true) => {
            format!("В резюме нет «{x}», а придумывать я не буду.")
        }
        (Unapplied::NotInResume(x), false) => {
            format!("Your resume does not mention \"{x}\", and I will not make it up.")
        }
    };
    escape_html(&format!("{reason} {can}"))
}
