// The TZ v9.5 bug in its most tempting form: turning Telegram's id into a UserId by its number.
// UserId has no public constructor from an integer: it is read from users.id. It must not compile.
use domain::{TelegramUserId, UserId};

fn main() {
    let tg = TelegramUserId::parse(123_456_789).unwrap();
    let _forged = UserId::parse(tg.get());
}
