//! The analytics event types of `user_events.event_type`: the one place that lists them.

/// A product analytics event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Start,
    VacancySent,
    ResumeSent,
    LetterGenerated,
    LetterFailed,
    LetterImproved,
    FeedbackGiven,
    LimitReached,
    PremiumOfferShown,
    InvoiceSent,
    PaymentSucceeded,
    PaymentRefunded,
    DataDeleted,
}

impl EventType {
    pub const ALL: [EventType; 13] = [
        Self::Start,
        Self::VacancySent,
        Self::ResumeSent,
        Self::LetterGenerated,
        Self::LetterFailed,
        Self::LetterImproved,
        Self::FeedbackGiven,
        Self::LimitReached,
        Self::PremiumOfferShown,
        Self::InvoiceSent,
        Self::PaymentSucceeded,
        Self::PaymentRefunded,
        Self::DataDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::VacancySent => "vacancy_sent",
            Self::ResumeSent => "resume_sent",
            Self::LetterGenerated => "letter_generated",
            Self::LetterFailed => "letter_failed",
            Self::LetterImproved => "letter_improved",
            Self::FeedbackGiven => "feedback_given",
            Self::LimitReached => "limit_reached",
            Self::PremiumOfferShown => "premium_offer_shown",
            Self::InvoiceSent => "invoice_sent",
            Self::PaymentSucceeded => "payment_succeeded",
            Self::PaymentRefunded => "payment_refunded",
            Self::DataDeleted => "data_deleted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == raw)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_event_type_round_trips_and_names_are_unique() {
        let names: std::collections::HashSet<_> =
            super::EventType::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(names.len(), super::EventType::ALL.len());
        for e in super::EventType::ALL {
            assert_eq!(super::EventType::parse(e.as_str()), Some(e));
        }
    }
}
