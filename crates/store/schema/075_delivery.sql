-- Delivery that survives crashes, for any number of replicas. An update is recorded here before
-- Telegram is told it arrived; the replies to it are kept until they are sent; a generation holds
-- a lease. Each row names its owner: the key of the replica handling it, which holds a session
-- advisory lock on (1397706834, key) while it lives. A row whose owner no longer holds that lock
-- (the process died, its connections closed) is taken over by another replica at once.
CREATE TABLE update_inbox (
    update_id   bigint PRIMARY KEY,
    -- Updates of one lane (the Telegram user; a pre-checkout query has one of its own, minus its
    -- id) are handled in update order, whichever replicas received them.
    lane        bigint NOT NULL,
    -- The update as Telegram sent it; cleared when it is done (it holds the user's texts).
    payload     jsonb,
    -- The replica handling it; NULL while it waits (for an earlier update of its lane handled
    -- elsewhere, or for a retry after `not_before`) and once it is done.
    owner       bigint,
    attempts    integer NOT NULL DEFAULT 0,
    not_before  timestamptz NOT NULL DEFAULT now(),
    received_at timestamptz NOT NULL DEFAULT now(),
    done_at     timestamptz
);

-- Unfinished updates by lane: a replica records an update as its own only when no earlier update
-- of the same lane is handled elsewhere, and whoever finishes one takes the next that waited.
CREATE INDEX update_inbox_pending_lane_idx ON update_inbox (lane, update_id) WHERE done_at IS NULL;
CREATE INDEX update_inbox_done_at_idx ON update_inbox (done_at);

-- What the bot answered to an event, or a letter it wrote, until Telegram has taken it.
CREATE TABLE reply_outbox (
    id         text PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The Telegram chat (the user's id); NULL for replies of an update, which are re-sent by
    -- handling the update again.
    chat_id    bigint,
    -- Cleared once sent (letters are personal data).
    replies    jsonb,
    owner      bigint,
    attempts   integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);

CREATE INDEX reply_outbox_unsent_idx ON reply_outbox (user_id) WHERE sent_at IS NULL;
CREATE INDEX reply_outbox_created_at_idx ON reply_outbox (created_at);

-- The generation a replica is writing for a user; renewed by the writer.
CREATE TABLE generation_leases (
    user_id    bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    session_id uuid NOT NULL,
    owner      bigint NOT NULL,
    renewed_at timestamptz NOT NULL
);

-- Refunds as a state machine: requested (Telegram may or may not have refunded yet), then
-- refunded (the days revoked, once).
CREATE TABLE refunds (
    payment_id   bigint PRIMARY KEY REFERENCES payments (id) ON DELETE CASCADE,
    state        text NOT NULL CHECK (state IN ('requested', 'refunded')),
    requested_at timestamptz NOT NULL DEFAULT now(),
    refunded_at  timestamptz
);
