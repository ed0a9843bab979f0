-- The customer_key of every interaction: the CRM contact found by the first exact match on its
-- CRM id, then email, then phone (see int_identifiers). An interaction that matches no contact
-- keeps a stable key of its own strongest identifier (`anon:email:...`, `anon:phone:...`,
-- `anon:web:<cookie>`), or of itself, so every interaction has a customer_key.
-- touchstone: cache
SELECT
    t.kind,
    t.id,
    coalesce(
        by_crm.customer_key,
        by_email.customer_key,
        by_phone.customer_key,
        'anon:email:' || t.email,
        'anon:phone:' || t.phone,
        'anon:web:' || t.anonymous_id,
        'anon:' || t.kind || ':' || t.id
    ) AS customer_key,
    CASE
        WHEN by_crm.customer_key IS NOT NULL THEN 'crm_id'
        WHEN by_email.customer_key IS NOT NULL THEN 'email'
        WHEN by_phone.customer_key IS NOT NULL THEN 'phone'
        ELSE 'unmatched'
    END AS match_type
FROM int_touchpoint_identifiers t
LEFT JOIN int_identifiers by_crm ON by_crm.id_type = 'crm_id' AND by_crm.id_value = t.crm_id
LEFT JOIN int_identifiers by_email ON by_email.id_type = 'email' AND by_email.id_value = t.email
LEFT JOIN int_identifiers by_phone ON by_phone.id_type = 'phone' AND by_phone.id_value = t.phone
