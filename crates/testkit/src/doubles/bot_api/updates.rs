//! Update builders: what Telegram sends when a user writes, presses a button or pays.

use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{json, Value};

use super::wire::{bot_user, chrono_now};

/// A Telegram user as the tests play it.
#[derive(Debug, Clone)]
pub struct TgUser {
    pub id: i64,
    pub first_name: String,
    pub language_code: String,
}

impl TgUser {
    pub fn new(id: i64) -> Self {
        Self {
            id,
            first_name: "Анна".into(),
            language_code: "ru".into(),
        }
    }

    pub fn json(&self) -> Value {
        json!({"id": self.id, "is_bot": false, "first_name": self.first_name, "language_code": self.language_code})
    }

    fn chat(&self) -> Value {
        json!({"id": self.id, "type": "private", "first_name": self.first_name})
    }

    fn message(&self, extra: Value) -> Value {
        static NEXT: AtomicI64 = AtomicI64::new(500_000);
        let mut m = json!({
            "message_id": NEXT.fetch_add(1, Ordering::SeqCst),
            "from": self.json(),
            "chat": self.chat(),
            "date": chrono_now(),
        });
        for (k, v) in extra.as_object().expect("object").iter() {
            m[k] = v.clone();
        }
        json!({"message": m})
    }

    pub fn text(&self, text: &str) -> Value {
        let mut extra = json!({"text": text});
        if text.starts_with('/') {
            let cmd_len = text
                .split_whitespace()
                .next()
                .map(|w| w.encode_utf16().count())
                .unwrap_or(0);
            extra["entities"] = json!([{"offset": 0, "length": cmd_len, "type": "bot_command"}]);
        }
        self.message(extra)
    }

    pub fn photo(&self) -> Value {
        self.message(json!({"photo": [
            {"file_id": "photo-small", "file_unique_id": "ps", "width": 90, "height": 90, "file_size": 1200},
            {"file_id": "photo-big", "file_unique_id": "pb", "width": 800, "height": 800, "file_size": 64000}
        ]}))
    }

    pub fn sticker(&self) -> Value {
        self.message(json!({"sticker": {
            "file_id": "sticker-1", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512,
            "is_animated": false, "is_video": false, "emoji": "😀"
        }}))
    }

    pub fn voice(&self) -> Value {
        self.message(json!({"voice": {"file_id": "voice-1", "file_unique_id": "v1", "duration": 3, "mime_type": "audio/ogg"}}))
    }

    pub fn document(&self, file_id: &str, file_name: &str, mime: &str, size: usize) -> Value {
        self.message(json!({"document": {
            "file_id": file_id, "file_unique_id": format!("u{file_id}"), "file_name": file_name,
            "mime_type": mime, "file_size": size
        }}))
    }

    /// A press of an inline button on the bot's message `message_id`.
    pub fn press(&self, data: &str, message_id: i64) -> Value {
        static NEXT: AtomicI64 = AtomicI64::new(1);
        json!({"callback_query": {
            "id": format!("cb{}", NEXT.fetch_add(1, Ordering::SeqCst)),
            "from": self.json(),
            "message": {
                "message_id": message_id, "from": bot_user(), "chat": self.chat(),
                "date": chrono_now(), "text": "…"
            },
            "chat_instance": format!("ci{}", self.id),
            "data": data
        }})
    }

    pub fn pre_checkout(&self, id: &str, payload: &str, total: i64) -> Value {
        json!({"pre_checkout_query": {
            "id": id, "from": self.json(), "currency": "XTR", "total_amount": total, "invoice_payload": payload
        }})
    }

    pub fn successful_payment(&self, charge_id: &str, payload: &str, total: i64) -> Value {
        self.message(json!({"successful_payment": {
            "currency": "XTR", "total_amount": total, "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id, "provider_payment_charge_id": ""
        }}))
    }
}
