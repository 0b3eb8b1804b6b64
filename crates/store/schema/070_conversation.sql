-- Conversation state of the engine, so any replica (or a restarted process) continues every
-- conversation where it was, and the ids of processed events, so a re-delivered event is a no-op.
CREATE TABLE conversations (
    user_id               bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    state                 text NOT NULL DEFAULT 'idle'
                          CHECK (state IN ('idle', 'awaiting_vacancy', 'awaiting_resume', 'generating',
                                           'ready', 'awaiting_feedback', 'awaiting_improvement')),
    session_id            uuid REFERENCES letter_sessions (id) ON DELETE SET NULL,
    generation_started_at timestamptz,
    -- The letter taken from the quota for the generation in flight, given back if it fails.
    grant_subscription_id bigint,
    grant_window_start    timestamptz,
    delete_requested_at   timestamptz,
    -- Times of recent commands and generations, for the per-user rate limits.
    command_times         timestamptz[] NOT NULL DEFAULT '{}',
    generation_times      timestamptz[] NOT NULL DEFAULT '{}',
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE processed_events (
    event_id     text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX processed_events_processed_at_idx ON processed_events (processed_at);
