-- One row per chat thread: who, when, the queue wait, whether it was missed (the visitor left
-- before any agent message), the first response time (first agent message minus first customer
-- message, seconds) and the rating.
--
-- abandon_cause says why the visitor of a missed chat left, inferred from behaviour with the
-- pipeline's journeys.abandon thresholds: `informed` (the help bot answered them while they
-- waited: a bot search with results by the chat's browser between the chat's start and a
-- minute after it ended), `short` (left within abandon_short_chat_secs of queueing, for
-- reasons of their own), `frustrated` (waited longer with no answer, or wrote again while
-- waiting), else `unknown`: exports that do not record how long the visitor waited before
-- leaving (Zendesk Chat and Intercom conversations have no queue wait, and an unanswered
-- Intercom conversation is simply open) leave only `informed` and `frustrated` to evidence.
-- Null for chats an agent answered.
WITH chats AS (
    SELECT
        c.*,
        k.customer_key,
        k.match_type
    FROM int_chats c
    LEFT JOIN int_customer_keys k ON k.kind = 'chat' AND k.id = c.thread_id
),
informed AS (
    -- A bot search with results by the chat's browser (its events carry the cookie the chat
    -- carries) while the visitor waited.
    SELECT DISTINCT c.thread_id
    FROM chats c
    JOIN int_web_unique_events e ON e.anonymous_id = c.anonymous_id
    WHERE c.agent_message_count = 0
        AND e.search_result_count > 0
        AND e.occurred_at >= c.started_at
        AND e.occurred_at <= coalesce(c.ended_at, c.started_at) + INTERVAL '60 seconds'
)
SELECT
    c.source_system,
    c.chat_id,
    c.thread_id,
    c.customer_key,
    c.match_type,
    c.started_at,
    c.ended_at,
    c.agent_id,
    c.group_id,
    c.tags,
    c.queue_wait_secs,
    c.agent_message_count = 0 AS is_missed,
    CASE
        WHEN c.first_agent_message_at >= c.first_customer_message_at
        THEN seconds_between(c.first_customer_message_at, c.first_agent_message_at)
    END AS first_response_secs,
    c.customer_message_count,
    c.agent_message_count,
    c.rating_score,
    c.rating_comment,
    c.last_page_url,
    CASE
        WHEN c.agent_message_count > 0 THEN NULL
        WHEN i.thread_id IS NOT NULL THEN 'informed'
        WHEN c.queue_wait_secs < setting('abandon_short_chat_secs') AND coalesce(c.customer_message_count, 1) <= 1 THEN 'short'
        WHEN c.queue_wait_secs IS NOT NULL OR c.customer_message_count >= 2 THEN 'frustrated'
        ELSE 'unknown'
    END AS abandon_cause
FROM chats c
LEFT JOIN informed i ON i.thread_id = c.thread_id
