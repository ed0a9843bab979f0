-- The identifiers each interaction carries, normalized, before matching: a CRM contact id
-- (IVR authentication, signed-in web or chat visitor, case or order contact), an email, a
-- phone, a browser cookie. `kind` and `id` name the interaction; int_customer_keys finds each
-- one's customer in the identity graph. A survey answer about a case (a Zendesk satisfaction
-- rating: interaction_channel 'case') carries the identifiers of that case.
SELECT
    'call' AS kind,
    source_system || ':' || chain_id AS id,
    max(crm_contact_id) AS crm_id,
    CAST(NULL AS VARCHAR) AS email,
    first_value(normalize_phone(caller_number) ORDER BY started_at, call_id) AS phone,
    CAST(NULL AS VARCHAR) AS anonymous_id
FROM int_calls
GROUP BY source_system, chain_id
UNION ALL
SELECT
    'chat',
    c.thread_id,
    c.crm_contact_id,
    normalize_email(c.customer_email),
    normalize_phone(c.customer_phone),
    c.anonymous_id
FROM int_chats c
UNION ALL
SELECT
    'survey',
    s.response_id,
    c.contact_id,
    normalize_email(coalesce(
        s.customer_email,
        c.supplied_email,
        CASE WHEN s.respondent_type = 'customer' AND c.case_id IS NULL THEN s.respondent_id END
    )),
    normalize_phone(coalesce(s.customer_phone, c.supplied_phone)),
    CAST(NULL AS VARCHAR)
FROM stg_survey_responses s
-- An answer about a case (a Zendesk satisfaction rating) is the case requester's.
LEFT JOIN int_cases c
    ON s.interaction_channel = 'case' AND c.source_system = s.source_system AND c.case_id = s.interaction_id
UNION ALL
SELECT 'web', session_id, user_id, email, CAST(NULL AS VARCHAR), anonymous_id
FROM int_web_sessions
UNION ALL
SELECT 'case', case_id, contact_id, normalize_email(supplied_email), normalize_phone(supplied_phone), CAST(NULL AS VARCHAR)
FROM int_cases
UNION ALL
SELECT 'order', order_id, contact_id, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)
FROM int_orders
