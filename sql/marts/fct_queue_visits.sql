-- One row per queue visit of a telephony leg: when the caller entered the queue, how it ended
-- (answered, abandoned = the caller hung up, timeout = the queue sent the call elsewhere,
-- exit_key / exit_empty, unknown = no exit was logged, e.g. after a crash) and how long the
-- caller waited. Asterisk visits pair each queue_log ENTERQUEUE with the next exit event of the
-- same call and queue (wait = CONNECT holdtime or the exit's waittime); Connect visits are
-- contacts with a Queue (wait = Queue.Duration). The source of abandonment and service-level
-- metrics.
WITH events AS (
    SELECT
        call_id, queue, event, event_at, agent, data1, data3, data4, _source_file, _source_line,
        sum(CASE WHEN event = 'ENTERQUEUE' THEN 1 ELSE 0 END) OVER (
            PARTITION BY call_id, queue ORDER BY event_at, _source_file, _source_line
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS visit_no
    FROM stg_queue_events
    WHERE call_id IS NOT NULL AND queue IS NOT NULL
),
enters AS (
    SELECT call_id, queue, visit_no, min(event_at) AS enqueued_at
    FROM events
    WHERE event = 'ENTERQUEUE'
    GROUP BY call_id, queue, visit_no
),
exits AS (
    SELECT call_id, queue, visit_no, event, event_at, agent, data1, data3, data4
    FROM (
        SELECT
            *,
            row_number() OVER (PARTITION BY call_id, queue, visit_no ORDER BY event_at, _source_file, _source_line) AS exit_rank
        FROM events
        WHERE event IN ('CONNECT', 'ABANDON', 'EXITWITHTIMEOUT', 'EXITWITHKEY', 'EXITEMPTY')
    )
    WHERE exit_rank = 1
),
asterisk_chains AS (
    SELECT call_id, max(chain_id) AS chain_id
    FROM int_calls
    WHERE source_system = 'asterisk'
    GROUP BY call_id
),
visits AS (
    SELECT
        'asterisk' AS source_system,
        e.call_id,
        coalesce(c.chain_id, e.call_id) AS chain_id,
        e.queue,
        e.enqueued_at,
        x.event_at AS dequeued_at,
        CASE x.event
            WHEN 'CONNECT' THEN 'answered'
            WHEN 'ABANDON' THEN 'abandoned'
            WHEN 'EXITWITHTIMEOUT' THEN 'timeout'
            WHEN 'EXITWITHKEY' THEN 'exit_key'
            WHEN 'EXITEMPTY' THEN 'exit_empty'
            ELSE 'unknown'
        END AS outcome,
        CASE x.event
            WHEN 'CONNECT' THEN try_cast(x.data1 AS BIGINT)
            WHEN 'EXITWITHKEY' THEN try_cast(x.data4 AS BIGINT)
            ELSE try_cast(x.data3 AS BIGINT)
        END AS wait_secs,
        CASE WHEN x.event = 'CONNECT' THEN x.agent END AS agent_id
    FROM enters e
    LEFT JOIN exits x ON x.call_id = e.call_id AND x.queue = e.queue AND x.visit_no = e.visit_no
    LEFT JOIN asterisk_chains c ON c.call_id = e.call_id
    UNION ALL
    SELECT
        source_system,
        call_id,
        chain_id,
        queue_name,
        enqueued_at,
        dequeued_at,
        CASE
            WHEN agent_connected_at IS NOT NULL THEN 'answered'
            WHEN disconnect_reason = 'CUSTOMER_DISCONNECT' THEN 'abandoned'
            ELSE 'timeout'
        END,
        coalesce(queue_duration_secs, CAST(seconds_between(enqueued_at, coalesce(agent_connected_at, dequeued_at)) AS BIGINT)),
        agent_id
    FROM int_calls
    WHERE source_system = 'amazon_connect' AND enqueued_at IS NOT NULL
)
SELECT
    v.source_system,
    v.call_id,
    v.chain_id,
    'voice' AS channel,
    v.queue,
    v.enqueued_at,
    v.dequeued_at,
    v.outcome,
    v.wait_secs,
    v.agent_id,
    k.customer_key
FROM visits v
LEFT JOIN int_customer_keys k ON k.kind = 'call' AND k.id = v.source_system || ':' || v.chain_id
