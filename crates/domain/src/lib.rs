//! Soprovod's domain types: identities, user input, plans and events, with no I/O.
//!
//! Every type here is built by parsing (`X::parse(raw) -> Result<X, XError>`), so code that holds
//! one never has to check it again.

pub mod acquisition;
pub mod billing;
pub mod clock;
pub mod events;
pub mod ids;
pub mod input;
pub mod plan;
pub mod ratelimit;

pub use acquisition::{Acquisition, PayloadError, StartPayload};
pub use billing::{
    InvoicePayload, InvoicePayloadError, PaymentId, PaymentStatus, Provider, RefundState,
    SessionStatus, SubscriptionId, SubscriptionStatus, STARS_CURRENCY,
};
pub use clock::{Clock, FakeClock, SystemClock};
pub use events::EventType;
pub use ids::{EventId, EventIdError, IdError, SessionId, TelegramUserId, UserId};
pub use input::{ImprovementRequest, InputError, Resume, TextLanguage, Vacancy};
pub use plan::{Plan, QuotaRules, QuotaWindow};
