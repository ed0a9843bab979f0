-- One row per chat thread: who, when, the queue wait, whether it was missed (the visitor left
-- before any agent message), the first response time (first agent message minus first customer
-- message, seconds) and the rating.
SELECT
    c.source_system,
    c.chat_id,
    c.thread_id,
    k.customer_key,
    k.match_type,
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
    c.last_page_url
FROM int_chats c
LEFT JOIN int_customer_keys k ON k.kind = 'chat' AND k.id = c.thread_id
