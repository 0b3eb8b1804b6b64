//! Reading what the bot sent: the messages of a chat, a message by its text, a button's data.

use super::{Call, FakeBotApi};

/// Waits for a message to `chat` whose text contains `needle`, after the first `skip` messages.
pub async fn message_containing(api: &FakeBotApi, chat: i64, skip: usize, needle: &str) -> Call {
    let calls = api
        .wait_until(
            &format!("a message to {chat} containing {needle:?}"),
            |calls| {
                sent_to(calls, chat)
                    .into_iter()
                    .skip(skip)
                    .any(|c| c.text().contains(needle))
            },
        )
        .await;
    sent_to(&calls, chat)
        .into_iter()
        .skip(skip)
        .find(|c| c.text().contains(needle))
        .unwrap()
}

/// Messages actually delivered to `chat` (not the ones answered 429).
pub fn sent_to(calls: &[Call], chat: i64) -> Vec<Call> {
    calls
        .iter()
        .filter(|c| c.method == "sendMessage" && c.chat_id() == Some(chat) && !c.throttled)
        .cloned()
        .collect()
}

/// The callback data of the button of `call` whose data starts with `prefix`.
pub fn button(call: &Call, prefix: &str) -> String {
    call.callback_data()
        .into_iter()
        .find(|d| d.starts_with(prefix))
        .unwrap_or_else(|| {
            panic!(
                "no button {prefix:?} under {:?}: {:?}",
                call.text(),
                call.buttons()
            )
        })
}
