-- One row per call (all legs of one chain), every telephony system: who called, the IVR path,
-- whether the call was contained in the IVR, queued, answered or transferred, the outcome of
-- its last leg (contained, abandoned_ivr, abandoned_queue, answered, timeout), the total queue
-- wait, and why an abandoned call was abandoned (short_abandon: last wait under 5 s;
-- ivr_errors: the caller met IVR no-input/no-match errors, at least 2 for a queue abandon;
-- long_wait otherwise; unknown_wait where only a CDR tells of the abandon), and why the caller
-- left (abandon_cause, inferred from behaviour with the pipeline's journeys.abandon thresholds):
-- `informed` (hung up right after the self-service step read the answer), `short` (left within
-- abandon_short_ivr_secs of dialling in the IVR with no error, or within abandon_short_secs of
-- queueing), `frustrated` (after IVR errors, a wait of abandon_long_wait_secs, or contacting
-- again within abandon_callback_hours), else `unknown`. is_simultaneous: the call overlapped one
-- of the same customer's web sessions (first to last event) or chats (from the thread's start to
-- its last event, or to the end of its queue wait when later), allowing
-- journeys.simultaneous_tolerance_secs of clock difference between the systems.
--
-- outcome_evidence says what queued / answered / outcome rest on: 'queue_log' (Asterisk
-- queue_log visits), 'contact_record' (Amazon Connect Queue and Agent fields), or 'cdr' (an
-- Asterisk call with no queue_log visit, e.g. a site that ships only Master.csv): then a leg
-- whose lastapp is Queue was queued, a queued leg bridged to an agent (dstchannel set,
-- disposition ANSWERED) was answered, and one that was not ended abandoned in the queue. A CDR
-- cannot tell a queue timeout from an abandon, nor the wait (wait_secs is null).
-- Calls with no queue evidence keep the IVR rules: contained when the last app is Hangup.
WITH legs AS (
    SELECT
        source_system,
        chain_id,
        min(started_at) AS started_at,
        max(ended_at) AS ended_at,
        count(*) AS legs,
        first_value(direction ORDER BY started_at, call_id) AS direction,
        first_value(caller_number ORDER BY started_at, call_id) AS caller_number,
        first_value(ivr_path ORDER BY started_at, call_id) FILTER (WHERE ivr_path IS NOT NULL) AS ivr_path,
        max(ivr_errors) AS ivr_errors,
        max(intent) AS intent,
        max(csat_score) AS csat_score,
        last_value(last_app ORDER BY started_at, call_id) AS last_app,
        last_value(disconnect_reason ORDER BY started_at, call_id) AS last_disconnect_reason,
        bool_or(agent_connected_at IS NOT NULL) AS agent_connected,
        sum(coalesce(agent_interaction_secs, 0)) AS talk_secs,
        -- CDR evidence (Asterisk): a leg in the Queue application, and whether an agent took it.
        bool_or(cdr_queued) AS cdr_queued,
        bool_or(cdr_queued AND cdr_bridged) AS cdr_answered,
        count(*) FILTER (WHERE cdr_queued) AS cdr_queue_legs,
        last_value(cdr_bridged ORDER BY started_at, call_id, _source_line) FILTER (WHERE cdr_queued) AS cdr_last_queue_answered,
        -- The endpoint of the agent's channel (PJSIP/jsmith-0000a1f2 -> jsmith).
        last_value(split_part(split_part(dst_channel, '/', 2), '-', 1) ORDER BY started_at, call_id, _source_line)
            FILTER (WHERE cdr_queued AND cdr_bridged) AS cdr_agent
    FROM (
        SELECT
            *,
            source_system = 'asterisk' AND coalesce(last_app = 'Queue', false) AS cdr_queued,
            coalesce(dst_channel <> '', false) AND coalesce(upper(disposition) = 'ANSWERED', false) AS cdr_bridged
        FROM int_calls
    )
    GROUP BY source_system, chain_id
),
queues AS (
    SELECT
        source_system,
        chain_id,
        count(*) AS queue_visits,
        sum(wait_secs) AS wait_secs,
        bool_or(outcome = 'answered') AS answered,
        last_value(outcome ORDER BY enqueued_at, call_id) AS last_outcome,
        last_value(wait_secs ORDER BY enqueued_at, call_id) AS last_wait_secs,
        first_value(agent_id ORDER BY enqueued_at, call_id) FILTER (WHERE agent_id IS NOT NULL) AS agent_id
    FROM fct_queue_visits
    GROUP BY source_system, chain_id
),
evidence AS (
    SELECT
        l.*,
        q.queue_visits,
        q.wait_secs,
        q.last_wait_secs,
        q.agent_id,
        q.answered AS queue_answered,
        q.last_outcome AS queue_last_outcome,
        CASE
            WHEN l.source_system = 'amazon_connect' THEN 'contact_record'
            WHEN coalesce(q.queue_visits, 0) > 0 THEN 'queue_log'
            ELSE 'cdr'
        END AS outcome_evidence
    FROM legs l
    LEFT JOIN queues q ON q.source_system = l.source_system AND q.chain_id = l.chain_id
),
calls AS (
    SELECT
        e.*,
        CASE WHEN e.outcome_evidence = 'cdr' THEN coalesce(e.cdr_queued, false)
             ELSE coalesce(e.queue_visits, 0) > 0 END AS queued,
        coalesce(e.queue_answered, false) OR e.agent_connected
            OR (e.outcome_evidence = 'cdr' AND coalesce(e.cdr_answered, false)) AS answered,
        -- A CDR-only call was transferred when it went through the Queue application more
        -- than once (rows of one call's other steps, e.g. a PBX's ForkCDR rows, are not
        -- transfers).
        CASE WHEN e.outcome_evidence = 'cdr' THEN e.cdr_queue_legs > 1 ELSE e.legs > 1 END AS transferred,
        CASE
            WHEN e.outcome_evidence <> 'cdr' THEN e.queue_last_outcome
            WHEN e.cdr_last_queue_answered THEN 'answered'
            WHEN NOT e.cdr_last_queue_answered THEN 'abandoned'
        END AS last_outcome,
        CASE WHEN e.outcome_evidence = 'cdr' THEN e.cdr_agent ELSE e.agent_id END AS call_agent_id,
        coalesce(e.queue_visits, 0) = 0
            AND NOT coalesce(e.cdr_queued, false)
            AND NOT e.agent_connected
            AND (coalesce(e.last_app = 'Hangup', false)
                 OR coalesce(e.last_disconnect_reason = 'CONTACT_FLOW_DISCONNECT', false)) AS contained
    FROM evidence e
),
scored AS (
SELECT
    c.source_system,
    c.chain_id,
    k.customer_key,
    k.match_type,
    c.started_at,
    c.ended_at,
    CAST(seconds_between(c.started_at, c.ended_at) AS BIGINT) AS duration_secs,
    c.legs,
    c.direction,
    c.caller_number,
    c.ivr_path,
    c.ivr_errors,
    c.intent,
    c.queued,
    c.answered,
    c.transferred,
    c.contained,
    CASE
        WHEN NOT c.queued AND c.contained THEN 'contained'
        WHEN NOT c.queued AND c.answered THEN 'answered'
        WHEN NOT c.queued THEN 'abandoned_ivr'
        WHEN c.last_outcome = 'answered' THEN 'answered'
        WHEN c.last_outcome = 'abandoned' THEN 'abandoned_queue'
        ELSE c.last_outcome
    END AS outcome,
    CASE
        WHEN c.queued AND c.last_outcome = 'abandoned' AND c.last_wait_secs < 5 THEN 'short_abandon'
        WHEN c.queued AND c.last_outcome = 'abandoned' AND coalesce(c.ivr_errors, 0) >= 2 THEN 'ivr_errors'
        -- A CDR does not give the wait, so it cannot tell a short abandon from a long one.
        WHEN c.queued AND c.last_outcome = 'abandoned' AND c.outcome_evidence = 'cdr' THEN 'unknown_wait'
        WHEN c.queued AND c.last_outcome = 'abandoned' THEN 'long_wait'
        WHEN NOT c.queued AND NOT c.contained AND NOT c.answered AND coalesce(c.ivr_errors, 0) >= 1 THEN 'ivr_errors'
    END AS abandon_reason,
    c.wait_secs,
    c.talk_secs,
    c.call_agent_id AS agent_id,
    c.csat_score,
    c.outcome_evidence,
    c.last_wait_secs AS _last_wait_secs
FROM calls c
LEFT JOIN int_customer_keys k ON k.kind = 'call' AND k.id = c.source_system || ':' || c.chain_id
),
next_contact AS (
    -- The next call or chat of the same customer after each call.
    SELECT
        id,
        lead(started_at) OVER (PARTITION BY customer_key ORDER BY started_at, id) AS next_contact_at
    FROM (
        SELECT source_system || ':' || chain_id AS id, customer_key, started_at FROM scored
        UNION ALL
        SELECT 'chat:' || ch.thread_id, k.customer_key, ch.started_at
        FROM int_chats ch
        JOIN int_customer_keys k ON k.kind = 'chat' AND k.id = ch.thread_id
    )
),
simultaneous AS (
    SELECT DISTINCT o.source_system, o.chain_id
    FROM scored o
    JOIN (
        SELECT k.customer_key, s.started_at, s.ended_at, 0 AS extra_secs
        FROM int_web_sessions s
        JOIN int_customer_keys k ON k.kind = 'web' AND k.id = s.session_id
        UNION ALL
        SELECT k.customer_key, ch.started_at, coalesce(ch.ended_at, ch.started_at), coalesce(ch.queue_wait_secs, 0)
        FROM int_chats ch
        JOIN int_customer_keys k ON k.kind = 'chat' AND k.id = ch.thread_id
    ) x ON x.customer_key = o.customer_key
    WHERE greatest(
            seconds_between(o.started_at, x.ended_at),
            seconds_between(o.started_at, x.started_at) + x.extra_secs
        ) >= -setting('simultaneous_tolerance_secs')
        AND seconds_between(x.started_at, o.ended_at) >= -setting('simultaneous_tolerance_secs')
)
SELECT
    o.* EXCLUDE (_last_wait_secs),
    CASE
        WHEN o.outcome NOT IN ('abandoned_ivr', 'abandoned_queue') THEN NULL
        WHEN o.outcome = 'abandoned_ivr' AND o.ivr_path LIKE '%self_service' THEN 'informed'
        WHEN o.outcome = 'abandoned_ivr' AND coalesce(o.ivr_errors, 0) = 0
            AND o.duration_secs <= setting('abandon_short_ivr_secs') THEN 'short'
        WHEN o.outcome = 'abandoned_queue' AND o._last_wait_secs < setting('abandon_short_secs') THEN 'short'
        WHEN o.outcome = 'abandoned_ivr' AND coalesce(o.ivr_errors, 0) >= 1 THEN 'frustrated'
        WHEN o.outcome = 'abandoned_queue'
            AND (o._last_wait_secs >= setting('abandon_long_wait_secs') OR coalesce(o.ivr_errors, 0) >= 2) THEN 'frustrated'
        WHEN seconds_between(o.ended_at, n.next_contact_at) <= setting('abandon_callback_hours') * 3600 THEN 'frustrated'
        ELSE 'unknown'
    END AS abandon_cause,
    sim.chain_id IS NOT NULL AS is_simultaneous
FROM scored o
LEFT JOIN next_contact n ON n.id = o.source_system || ':' || o.chain_id
LEFT JOIN simultaneous sim ON sim.source_system = o.source_system AND sim.chain_id = o.chain_id
