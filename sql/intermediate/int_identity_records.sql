-- The edges of the identity graph: one row per identifier a record carries, normalized the way
-- they are matched (e-mail trimmed and lowercased, phone in E.164). Identifiers on one record are
-- linked by the identity_graph() operator (customer_identity). `anchor` is false on a deleted
-- CRM contact's id: it may join its customer but never names one. Web events are read as their
-- distinct (cookie, userId, e-mail) combinations: what links is which identifiers were seen
-- together, not how often.
-- touchstone: cache
WITH web AS (
    SELECT
        coalesce(anonymous_id, '') || '|' || coalesce(user_id, '') || '|' || coalesce(email, '') AS record_id,
        anonymous_id,
        user_id,
        email,
        min(occurred_at) AS observed_at
    FROM (
        SELECT anonymous_id, user_id, normalize_email(email) AS email, occurred_at
        FROM stg_web_events
    )
    GROUP BY anonymous_id, user_id, email
)
SELECT record_kind, record_id, id_type, id_value, observed_at, anchor
FROM (
    SELECT 'contact' AS record_kind, contact_id AS record_id, 'crm_id' AS id_type, contact_id AS id_value,
        created_at AS observed_at, NOT coalesce(is_deleted, false) AS anchor
    FROM int_contacts
    UNION ALL
    SELECT 'contact', contact_id, 'email', normalize_email(email), created_at, true FROM int_contacts
    UNION ALL
    SELECT 'contact', contact_id, 'phone', normalize_phone(phone), created_at, true FROM int_contacts
    UNION ALL
    SELECT 'contact', contact_id, 'phone', normalize_phone(mobile_phone), created_at, true FROM int_contacts
    UNION ALL
    SELECT 'call', source_system || ':' || chain_id, 'phone', normalize_phone(caller_number), started_at, true
    FROM int_calls
    UNION ALL
    SELECT 'call', source_system || ':' || chain_id, 'crm_id', crm_contact_id, started_at, true FROM int_calls
    UNION ALL
    SELECT 'chat', thread_id, 'chat_visitor_id', customer_user_id, started_at, true FROM int_chats
    UNION ALL
    SELECT 'chat', thread_id, 'anonymous_id', anonymous_id, started_at, true FROM int_chats
    UNION ALL
    SELECT 'chat', thread_id, 'email', normalize_email(customer_email), started_at, true FROM int_chats
    UNION ALL
    SELECT 'chat', thread_id, 'phone', normalize_phone(customer_phone), started_at, true FROM int_chats
    UNION ALL
    SELECT 'chat', thread_id, 'crm_id', crm_contact_id, started_at, true FROM int_chats
    UNION ALL
    SELECT 'web', record_id, 'anonymous_id', anonymous_id, observed_at, true FROM web
    UNION ALL
    SELECT 'web', record_id, 'crm_id', user_id, observed_at, true FROM web
    UNION ALL
    SELECT 'web', record_id, 'email', email, observed_at, true FROM web
    UNION ALL
    SELECT 'survey', response_id, 'email',
        normalize_email(coalesce(customer_email, CASE WHEN respondent_type = 'customer' THEN respondent_id END)),
        responded_at, true
    FROM stg_survey_responses
    UNION ALL
    SELECT 'survey', response_id, 'phone', normalize_phone(customer_phone), responded_at, true FROM stg_survey_responses
    UNION ALL
    SELECT 'case', case_id, 'crm_id', contact_id, created_at, true FROM int_cases
    UNION ALL
    SELECT 'case', case_id, 'email', normalize_email(supplied_email), created_at, true FROM int_cases
    UNION ALL
    SELECT 'case', case_id, 'phone', normalize_phone(supplied_phone), created_at, true FROM int_cases
    UNION ALL
    SELECT 'order', order_id, 'crm_id', contact_id, created_at, true FROM int_orders
)
WHERE id_value IS NOT NULL AND id_value <> ''
