-- The identifiers each interaction carries, normalized, before matching: a CRM contact id
-- (IVR authentication, signed-in web or chat visitor, case or order contact), an email, a
-- phone, a browser cookie. `kind` and `id` name the interaction; int_customer_keys finds each
-- one's customer in the identity graph.
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
    response_id,
    CAST(NULL AS VARCHAR),
    normalize_email(coalesce(customer_email, CASE WHEN respondent_type = 'customer' THEN respondent_id END)),
    normalize_phone(customer_phone),
    CAST(NULL AS VARCHAR)
FROM stg_survey_responses
UNION ALL
SELECT 'web', session_id, user_id, email, CAST(NULL AS VARCHAR), anonymous_id
FROM int_web_sessions
UNION ALL
SELECT 'case', case_id, contact_id, normalize_email(supplied_email), normalize_phone(supplied_phone), CAST(NULL AS VARCHAR)
FROM int_cases
UNION ALL
SELECT 'order', order_id, contact_id, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)
FROM int_orders
