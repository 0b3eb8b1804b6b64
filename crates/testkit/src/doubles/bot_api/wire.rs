//! The Bot API's wire format as the fake needs it: method names, answers, request bodies (JSON,
//! form, multipart), and the text Telegram hands back.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{BOT_ID, BOT_USERNAME};

/// Telegram matches method names case-insensitively (teloxide sends `SendMessage`); calls are
/// recorded under the documented spelling.
pub(super) fn canonical(name: &str) -> String {
    const KNOWN: &[&str] = &[
        "getUpdates",
        "getMe",
        "sendMessage",
        "sendChatAction",
        "answerCallbackQuery",
        "sendInvoice",
        "answerPreCheckoutQuery",
        "setMyCommands",
        "getFile",
        "refundStarPayment",
        "setWebhook",
        "deleteWebhook",
        "editMessageReplyMarkup",
        "editMessageText",
        "deleteMessage",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(|k| k.to_string())
        .unwrap_or_else(|| name.to_string())
}

pub(super) fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "result": result})),
    )
        .into_response()
}

pub(super) fn err(code: u16, description: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        axum::Json(json!({"ok": false, "error_code": code, "description": description})),
    )
        .into_response()
}

pub(super) fn num(body: &Value, key: &str) -> Option<i64> {
    match body.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// JSON bodies as they are; form bodies (urlencoded) as an object of strings.
pub(super) fn parse_body(headers: &HeaderMap, body: &[u8]) -> Value {
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if body.is_empty() {
        return json!({});
    }
    if ctype.starts_with("application/x-www-form-urlencoded") {
        let map: serde_json::Map<String, Value> = url_pairs(body)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return Value::Object(map);
    }
    if let Some(boundary) = ctype
        .strip_prefix("multipart/form-data")
        .and_then(|rest| rest.split("boundary=").nth(1))
    {
        return multipart_fields(body, boundary.trim_matches('"'));
    }
    serde_json::from_slice(body).unwrap_or_else(|_| json!({"_raw": String::from_utf8_lossy(body)}))
}

/// The text fields of a multipart body (teloxide sends methods that could carry files this way).
pub(super) fn multipart_fields(body: &[u8], boundary: &str) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut map = serde_json::Map::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let parsed = serde_json::from_str::<Value>(value)
            .ok()
            .filter(|v| v.is_array() || v.is_object());
        map.insert(
            name.to_string(),
            parsed.unwrap_or_else(|| Value::String(value.to_string())),
        );
    }
    Value::Object(map)
}

pub(super) fn url_pairs(body: &[u8]) -> Vec<(String, String)> {
    let s = String::from_utf8_lossy(body);
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Сопровод", "username": BOT_USERNAME})
}

pub(super) fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Telegram returns the text with the HTML markup parsed away.
pub(super) fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

pub(super) fn short(s: &str) -> String {
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}

/// The first path segment of `FakeBotApi::url_for_process`, before the process number.
pub(super) const PROCESS_PREFIX: &str = "process-";

/// Splits `/process-<n>/rest` into `(Some(n), "/rest")`; any other path is left as it is.
pub(super) fn process_of(path: &str) -> (Option<usize>, &str) {
    let tagged = path
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(PROCESS_PREFIX));
    match tagged.and_then(|p| p.split_once('/')) {
        Some((n, rest)) => match n.parse() {
            Ok(n) => (Some(n), &path[path.len() - rest.len() - 1..]),
            Err(_) => (None, path),
        },
        None => (None, path),
    }
}
