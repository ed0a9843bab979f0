-- The customer_key of every interaction: the customer of the identity graph (customer_identity)
-- that its strongest linked identifier belongs to: its CRM contact id, then e-mail, then phone,
-- then browser cookie. Identifiers the guards kept from linking (blocked placeholders and role
-- mailboxes, capped household landlines and switchboards) identify nobody; an interaction with
-- no linked identifier keeps a stable key of its own (`anon:<kind>:<id>`), so every interaction
-- has a customer_key. match_type says which identifier found the customer (`unmatched`: none).
-- touchstone: cache
SELECT
    t.kind,
    t.id,
    coalesce(
        by_crm.customer_key,
        by_email.customer_key,
        by_phone.customer_key,
        by_cookie.customer_key,
        'anon:' || t.kind || ':' || t.id
    ) AS customer_key,
    CASE
        WHEN by_crm.customer_key IS NOT NULL THEN 'crm_id'
        WHEN by_email.customer_key IS NOT NULL THEN 'email'
        WHEN by_phone.customer_key IS NOT NULL THEN 'phone'
        WHEN by_cookie.customer_key IS NOT NULL THEN 'anonymous_id'
        ELSE 'unmatched'
    END AS match_type
FROM int_touchpoint_identifiers t
LEFT JOIN customer_identity by_crm
    ON by_crm.id_type = 'crm_id' AND by_crm.id_value = t.crm_id AND by_crm.customer_key IS NOT NULL
LEFT JOIN customer_identity by_email
    ON by_email.id_type = 'email' AND by_email.id_value = t.email AND by_email.customer_key IS NOT NULL
LEFT JOIN customer_identity by_phone
    ON by_phone.id_type = 'phone' AND by_phone.id_value = t.phone AND by_phone.customer_key IS NOT NULL
LEFT JOIN customer_identity by_cookie
    ON by_cookie.id_type = 'anonymous_id' AND by_cookie.id_value = t.anonymous_id AND by_cookie.customer_key IS NOT NULL
