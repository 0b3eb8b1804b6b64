//! Payments and subscriptions: their ids (read from rows, never made from an integer), their
//! statuses as the text values the SQL checks allow, the Stars provider and currency, and the
//! invoice payload.

use std::fmt;

use sqlx::encode::IsNull;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

use crate::UserId;

/// Telegram Stars' currency code (no provider token, amounts in whole stars).
pub const STARS_CURRENCY: &str = "XTR";

/// An enum stored as one of the text values of a `CHECK (x IN (...))` column.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in the order of the SQL check.
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            /// The value stored in SQL.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The value read from SQL; `None` for anything the check would not allow.
            pub fn parse(raw: &str) -> Option<Self> {
                match raw {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Type<Postgres> for $name {
            fn type_info() -> PgTypeInfo {
                <&str as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as Type<Postgres>>::compatible(ty)
            }
        }

        impl Encode<'_, Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut PgArgumentBuffer,
            ) -> Result<IsNull, sqlx::error::BoxDynError> {
                <&str as Encode<Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $name {
            fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let raw = <&str as Decode<Postgres>>::decode(value)?;
                Self::parse(raw).ok_or_else(|| {
                    format!(concat!("not a ", stringify!($name), ": {:?}"), raw).into()
                })
            }
        }
    };
}

text_enum! {
    /// `payments.provider`.
    Provider {
        TelegramStars = "telegram_stars",
    }
}

text_enum! {
    /// `payments.status`.
    PaymentStatus {
        Pending = "pending",
        Succeeded = "succeeded",
        Canceled = "canceled",
        Failed = "failed",
        Refunded = "refunded",
    }
}

text_enum! {
    /// `subscriptions.status`: one active row per user; the others ended.
    SubscriptionStatus {
        Active = "active",
        Expired = "expired",
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// `refunds.state`: where an admin's refund stands.
    RefundState {
        /// Asked of Telegram; it may or may not have refunded yet.
        Requested = "requested",
        /// Refunded and the days revoked.
        Refunded = "refunded",
    }
}

text_enum! {
    /// `letter_sessions.status`.
    SessionStatus {
        Started = "started",
        Generating = "generating",
        Completed = "completed",
        Failed = "failed",
        Abandoned = "abandoned",
    }
}

/// `payments.id`: read from a row, never made from an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct PaymentId(i64);

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "payment#{}", self.0)
    }
}

/// `subscriptions.id`: read from a row, never made from an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct SubscriptionId(i64);

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscription#{}", self.0)
    }
}

/// A Stars invoice's payload: who is to pay, how much, for how many days of premium. It comes
/// back from Telegram as text anyone could have written, so it does not hand out a [`UserId`]:
/// it only says whether it names a given one ([`InvoicePayload::is_for`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicePayload {
    user: i64,
    price_stars: u32,
    days: i64,
}

/// Why a payload is not one of our invoices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a premium invoice payload of this bot")]
pub struct InvoicePayloadError;

/// Premium is sold for 1 to 366 days at a time.
const DAYS: std::ops::RangeInclusive<i64> = 1..=366;

impl InvoicePayload {
    pub fn new(user: UserId, price_stars: u32, days: i64) -> Self {
        Self {
            user: user.get(),
            price_stars,
            days,
        }
    }

    /// `premium:<user>:<price>:<days>`, exactly.
    pub fn parse(raw: &str) -> Result<Self, InvoicePayloadError> {
        let mut parts = raw.split(':');
        let mut next = || parts.next().ok_or(InvoicePayloadError);
        if next()? != "premium" {
            return Err(InvoicePayloadError);
        }
        let user = next()?.parse().map_err(|_| InvoicePayloadError)?;
        let price_stars = next()?.parse().map_err(|_| InvoicePayloadError)?;
        let days = next()?
            .parse()
            .ok()
            .filter(|d| DAYS.contains(d))
            .ok_or(InvoicePayloadError)?;
        if parts.next().is_some() {
            return Err(InvoicePayloadError);
        }
        Ok(Self {
            user,
            price_stars,
            days,
        })
    }

    /// Does the payload name this user?
    pub fn is_for(&self, user: UserId) -> bool {
        self.user == user.get()
    }

    pub fn price_stars(&self) -> u32 {
        self.price_stars
    }

    pub fn days(&self) -> i64 {
        self.days
    }
}

impl fmt::Display for InvoicePayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "premium:{}:{}:{}",
            self.user, self.price_stars, self.days
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::testing::user_id;

    #[test]
    fn payloads_round_trip_and_junk_is_refused() {
        let p = InvoicePayload::new(user_id(42), 150, 30);
        let back = InvoicePayload::parse(&p.to_string()).unwrap();
        assert_eq!(back, p);
        assert!(back.is_for(user_id(42)) && !back.is_for(user_id(43)));
        assert_eq!((back.price_stars(), back.days()), (150, 30));
        for junk in [
            "",
            "premium:42:150",
            "premium:x:150:30",
            "premium:42:150:30:extra",
            "other:42:150:30",
            "premium:42:150:0",
            "premium:42:-1:30",
        ] {
            assert_eq!(
                InvoicePayload::parse(junk),
                Err(InvoicePayloadError),
                "{junk}"
            );
        }
    }

    #[test]
    fn statuses_read_back_what_they_write_and_nothing_else() {
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(*s));
        }
        for s in SubscriptionStatus::ALL {
            assert_eq!(SubscriptionStatus::parse(s.as_str()), Some(*s));
        }
        for s in SessionStatus::ALL {
            assert_eq!(SessionStatus::parse(s.as_str()), Some(*s));
        }
        for s in RefundState::ALL {
            assert_eq!(RefundState::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Provider::TelegramStars.as_str(), "telegram_stars");
        assert_eq!(PaymentStatus::parse("Succeeded"), None);
    }
}
