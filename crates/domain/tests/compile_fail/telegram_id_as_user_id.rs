// The TZ v9.5 bug: Telegram's id passed where the internal user id belongs. It must not compile.
use domain::{TelegramUserId, UserId};

fn check_user_limits(_user: UserId) {}

fn main() {
    let from_telegram = TelegramUserId::parse(987_654_321).unwrap();
    check_user_limits(from_telegram);
}
