-- Taking over the Python bot's database: the data steps (the schema engine's directive format;
-- README, "Taking over the Python bot's database"). Each @when is evaluated on the database as it
-- is before the plan runs, and names something only the old bot's database has (a column the
-- declared schema drops, like users.consent_given or subscriptions.is_active, or lacks, or a value
-- its checks forbid); a query naming a missing table or column is false. So on a fresh or an
-- already migrated database every step is false and the plan is empty. Steps run in the
-- before-constraints phase: new and renamed columns exist, old ones are not dropped yet.

-- @step users_test_accounts
-- @when SELECT EXISTS (SELECT consent_given FROM public.users WHERE telegram_user_id = 678674926)
-- @rows SELECT count(*) FROM public.users WHERE telegram_user_id = 678674926
-- The old bot's hard-coded test account (/test_premium, its test webhook) is a test user here.
UPDATE public.users SET is_test = true WHERE telegram_user_id = 678674926;

-- @step users_marketing_consent
-- @when SELECT EXISTS (SELECT 1 FROM public.users WHERE marketing_consent IS NULL)
-- @rows SELECT count(*) FROM public.users WHERE marketing_consent IS NULL
-- @resolves not-null public.users (marketing_consent)
-- Never asked is not consent.
UPDATE public.users SET marketing_consent = false WHERE marketing_consent IS NULL;

-- @step subscriptions_premium_past_end
-- @when SELECT EXISTS (SELECT is_active FROM public.subscriptions WHERE plan_type = 'premium' AND status = 'active' AND period_end <= now())
-- @rows SELECT count(*) FROM public.subscriptions WHERE plan_type = 'premium' AND status = 'active' AND period_end <= now()
-- The old bot never expired premium: a paid period that is over is expired.
UPDATE public.subscriptions SET status = 'expired'
 WHERE plan_type = 'premium' AND status = 'active' AND period_end <= now();

-- @step subscriptions_one_active
-- @when SELECT EXISTS (SELECT 1 FROM public.subscriptions WHERE status = 'active' GROUP BY user_id HAVING count(*) > 1)
-- @rows SELECT count(*) FROM public.subscriptions s WHERE status = 'active' AND EXISTS (SELECT 1 FROM public.subscriptions o WHERE o.user_id = s.user_id AND o.status = 'active' AND o.id <> s.id)
-- @resolves unique public.subscriptions (user_id)
-- One active plan per user: a premium still paid wins, else the newest row (created_at, then id);
-- the others are cancelled, not deleted, so their history stays.
UPDATE public.subscriptions s SET status = 'cancelled'
  FROM (SELECT id, row_number() OVER (PARTITION BY user_id
                                     ORDER BY (plan_type = 'premium') DESC, created_at DESC NULLS LAST, id DESC) AS rank
          FROM public.subscriptions WHERE status = 'active') r
 WHERE s.id = r.id AND r.rank > 1;

-- @step subscriptions_quota_windows
-- @when SELECT EXISTS (SELECT is_active FROM public.subscriptions)
-- @rows SELECT count(*) FROM public.subscriptions
-- The old period_start/period_end was both the paid period and the quota window. A free row's is
-- its quota window (so a free user keeps what is left of this month) and it has no paid period
-- (the old value read as "paid period over" would lock the user out). A premium row keeps its paid
-- period; its window is the UTC day its counter last moved (today's count stays, an older one
-- resets on first use). letters_used below zero or null is 0.
UPDATE public.subscriptions SET
    quota_window_start = CASE
        WHEN plan_type = 'free' AND period_start < period_end THEN period_start
        WHEN plan_type = 'free' THEN date_trunc('month', coalesce(updated_at, created_at, now()) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
        ELSE date_trunc('day', coalesce(updated_at, created_at, now()) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' END,
    quota_window_end = CASE
        WHEN plan_type = 'free' AND period_start < period_end THEN period_end
        WHEN plan_type = 'free' THEN (date_trunc('month', coalesce(updated_at, created_at, now()) AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
        ELSE (date_trunc('day', coalesce(updated_at, created_at, now()) AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC' END,
    period_start = CASE WHEN plan_type = 'free' THEN NULL ELSE period_start END,
    period_end = CASE WHEN plan_type = 'free' THEN NULL ELSE period_end END,
    letters_used = greatest(coalesce(letters_used, 0), 0),
    letters_limit = coalesce(letters_limit, CASE WHEN plan_type = 'premium' THEN 20 ELSE 3 END),
    plan_type = coalesce(plan_type, 'free'),
    status = coalesce(status, 'active'),
    created_at = coalesce(created_at, updated_at, now()),
    updated_at = coalesce(updated_at, created_at, now());

-- @step payments_paid_is_succeeded
-- @when SELECT EXISTS (SELECT 1 FROM public.payments WHERE status = 'paid')
-- @rows SELECT count(*) FROM public.payments WHERE status = 'paid'
-- @resolves check public.payments (payments_status_check)
-- 'paid' (before v10.1.1) is what YooKassa and the declared schema call 'succeeded'.
UPDATE public.payments SET status = 'succeeded' WHERE status = 'paid';

-- @step payments_provider
-- @when SELECT EXISTS (SELECT 1 FROM public.payments WHERE provider IS NULL OR provider NOT IN ('telegram_stars', 'yookassa', 'manual') OR metadata IS NULL OR currency IS NULL)
-- @rows SELECT count(*) FROM public.payments WHERE provider IS NULL OR provider NOT IN ('telegram_stars', 'yookassa', 'manual') OR metadata IS NULL OR currency IS NULL
-- @resolves not-null public.payments (provider)
-- @resolves not-null public.payments (metadata)
-- @resolves not-null public.payments (currency)
-- @resolves check public.payments (payments_provider_check)
-- The provider from the payment's era: a YooKassa payment (v10.1 on) says so in payment_method or
-- in its metadata; anything else was typed in by hand. A provider name outside the declared list
-- is kept in metadata.legacy_provider.
UPDATE public.payments p SET
    metadata = CASE WHEN p.provider IS NOT NULL AND p.provider NOT IN ('telegram_stars', 'yookassa', 'manual')
                    THEN coalesce(p.metadata, '{}') || jsonb_build_object('legacy_provider', p.provider)
                    ELSE coalesce(p.metadata, '{}') END,
    provider = CASE WHEN p.provider IN ('telegram_stars', 'yookassa', 'manual') THEN p.provider
                    WHEN lower(p.provider) = 'yookassa'
                      OR to_jsonb(p) ->> 'payment_method' = 'yookassa'
                      OR p.metadata ? 'yookassa_payment_id' THEN 'yookassa'
                    ELSE 'manual' END,
    currency = coalesce(p.currency, 'RUB')
 WHERE p.provider IS NULL OR p.provider NOT IN ('telegram_stars', 'yookassa', 'manual')
    OR p.metadata IS NULL OR p.currency IS NULL;

-- @step acquisition_first_touch
-- @when SELECT EXISTS (SELECT 1 FROM public.acquisition_channels GROUP BY user_id HAVING count(*) > 1)
-- @rows SELECT count(*) FROM public.acquisition_channels a WHERE EXISTS (SELECT 1 FROM public.acquisition_channels b WHERE b.user_id = a.user_id AND (b.created_at, b.id) < (a.created_at, a.id))
-- @resolves unique public.acquisition_channels (user_id)
-- The old bot added a row on every /start with a payload; a user came from the first one.
DELETE FROM public.acquisition_channels a USING public.acquisition_channels b
 WHERE b.user_id = a.user_id AND (b.created_at, b.id) < (a.created_at, a.id);

-- @step openai_requests_provider
-- @when SELECT NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'openai_requests' AND column_name = 'provider') AND EXISTS (SELECT 1 FROM public.openai_requests)
-- @rows SELECT count(*) FROM public.openai_requests
-- @resolves not-null public.openai_requests (provider)
-- The old bot called OpenAI, or Anthropic for Claude models.
UPDATE public.openai_requests SET provider = CASE WHEN model ILIKE 'claude%' THEN 'anthropic' ELSE 'openai' END
 WHERE provider IS NULL;

-- @step openai_requests_success
-- @when SELECT EXISTS (SELECT 1 FROM public.openai_requests WHERE success IS NULL)
-- @rows SELECT count(*) FROM public.openai_requests WHERE success IS NULL
-- @resolves not-null public.openai_requests (success)
UPDATE public.openai_requests SET success = (error_message IS NULL) WHERE success IS NULL;

-- @step user_events_event_data
-- @when SELECT EXISTS (SELECT 1 FROM public.user_events WHERE event_data IS NULL)
-- @rows SELECT count(*) FROM public.user_events WHERE event_data IS NULL
-- @resolves not-null public.user_events (event_data)
-- An event logged without data has empty data.
UPDATE public.user_events SET event_data = '{}' WHERE event_data IS NULL;

-- @step letter_sessions_max_iterations
-- @when SELECT EXISTS (SELECT 1 FROM public.letter_sessions WHERE max_iterations IS NULL OR status IS NULL)
-- @rows SELECT count(*) FROM public.letter_sessions WHERE max_iterations IS NULL OR status IS NULL
-- @resolves not-null public.letter_sessions (max_iterations)
-- @resolves not-null public.letter_sessions (status)
-- The old defaults: 3 improvements, status 'started'.
UPDATE public.letter_sessions SET max_iterations = coalesce(max_iterations, 3), status = coalesce(status, 'started')
 WHERE max_iterations IS NULL OR status IS NULL;
