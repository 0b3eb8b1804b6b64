//! The prompts: a system message with the task and the rules, and a user message with the inputs.

use domain::TextLanguage;

use crate::Task;

const SYSTEM_RU: &str = "Ты пишешь сопроводительные письма к откликам на вакансии.
Правила:
1. Пиши на русском языке — на языке вакансии.
2. Объём — 200–300 слов: короткое вступление, два-три абзаца о том, как опыт кандидата закрывает задачи вакансии, и завершение с предложением обсудить детали.
3. Опирайся только на факты из резюме. Не придумывай опыт, компании, цифры, навыки или образование, которых в резюме нет. Если требованию вакансии нечего противопоставить, не упоминай его.
4. Используй ключевые слова вакансии там, где они правдивы для кандидата. Без штампов и извинений.
5. Ответ — только текст письма: без вступлений вроде «Вот ваше письмо», без пояснений после, без Markdown и блоков кода. Подпись — «С уважением,» и строка с именем кандидата из резюме; если имени в резюме нет — «[Ваше имя]».
6. Обращайся к компании и называй должность, если вакансия их называет. Пиши связным текстом, без списков.";

const SYSTEM_EN: &str = "You write cover letters for job applications.
Rules:
1. Write in English, the language of the vacancy.
2. Length: 200-300 words: a short opening, two or three paragraphs on how the candidate's experience meets the vacancy's needs, and a closing that invites a conversation.
3. Use only facts from the resume. Never invent experience, employers, numbers, skills or education the resume does not contain. If nothing in the resume answers a requirement, leave that requirement out.
4. Use the vacancy's keywords where they are true of the candidate. No cliches, no apologies.
5. Reply with the letter text only: no preamble such as \"Here is your letter\", no notes after it, no Markdown or code blocks. Sign off with \"Best regards,\" and a line with the candidate's name from the resume, or \"[Your name]\" when the resume gives none.
6. Address the company and name the role when the vacancy names them. Write connected prose, no bullet lists.";

fn block(label: &str, text: &str) -> String {
    format!("{label}:\n<<<\n{text}\n>>>\n\n")
}

/// (system, user) messages for a task.
pub fn messages(task: &Task<'_>) -> (String, String) {
    let lang = TextLanguage::detect(task.vacancy());
    let ru = lang == TextLanguage::Russian;
    let system = if ru { SYSTEM_RU } else { SYSTEM_EN }.to_string();
    let user = match *task {
        Task::Letter {
            vacancy,
            resume,
            variant,
        } => {
            let mut u = block(if ru { "ВАКАНСИЯ" } else { "VACANCY" }, vacancy);
            u += &block(
                if ru {
                    "РЕЗЮМЕ КАНДИДАТА"
                } else {
                    "CANDIDATE'S RESUME"
                },
                resume,
            );
            u += if ru {
                "Напиши сопроводительное письмо."
            } else {
                "Write the cover letter."
            };
            if variant > 0 {
                u += if ru {
                    " Это другой вариант: начни иначе и выбери другие примеры из резюме, чем в самом очевидном письме."
                } else {
                    " This is another variant: open differently and pick other examples from the resume than the most obvious letter would."
                };
            }
            u
        }
        Task::Improve {
            vacancy,
            resume,
            latest,
            request,
        } => {
            let mut u = block(if ru { "ВАКАНСИЯ" } else { "VACANCY" }, vacancy);
            u += &block(
                if ru {
                    "РЕЗЮМЕ КАНДИДАТА"
                } else {
                    "CANDIDATE'S RESUME"
                },
                resume,
            );
            u += &block(
                if ru {
                    "ТЕКУЩАЯ ВЕРСИЯ ПИСЬМА"
                } else {
                    "CURRENT VERSION OF THE LETTER"
                },
                latest,
            );
            u += &block(
                if ru {
                    "ЧТО ИЗМЕНИТЬ"
                } else {
                    "WHAT TO CHANGE"
                },
                request,
            );
            u += if ru {
                "Перепиши текущую версию письма с учётом пожелания. Сохрани то, чего пожелание не касается, и соблюдай все правила."
            } else {
                "Rewrite the current version as asked. Keep what the request does not touch, and follow every rule."
            };
            u
        }
    };
    (system, user)
}
