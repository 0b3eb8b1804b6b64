// Payment and subscription ids are read from rows: a bare integer cannot become one, and an
// invoice payload (text from outside) does not hand out the user id it names.
use domain::{InvoicePayload, PaymentId, SubscriptionId, UserId};

fn main() {
    let _payment = PaymentId(42);
    let _subscription = SubscriptionId(42);
    let payload = InvoicePayload::parse("premium:42:150:30").unwrap();
    let _user: UserId = payload.user;
}
