//! Inline-button labels.

use super::tr;
use crate::event::Lang;

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
