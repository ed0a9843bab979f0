-- One row per customer of the identity graph (customer_identity): whether a CRM contact anchors
-- it (`is_known`; anonymous customers are known only by cookies, phones or e-mails), the CRM
-- contact's name and account, how many identifiers of each type it has, and when it was first
-- and last seen.
WITH ids AS (
    SELECT
        customer_key,
        count(*) AS identifiers,
        count(*) FILTER (WHERE id_type = 'crm_id') AS crm_ids,
        count(*) FILTER (WHERE id_type = 'email') AS emails,
        count(*) FILTER (WHERE id_type = 'phone') AS phones,
        count(*) FILTER (WHERE id_type = 'anonymous_id') AS cookies,
        count(*) FILTER (WHERE id_type = 'chat_visitor_id') AS chat_visitors,
        bool_or(is_anchor) AS is_known,
        min(id_value) FILTER (WHERE id_type = 'email') AS email,
        min(id_value) FILTER (WHERE id_type = 'phone') AS phone,
        min(first_seen_at) AS first_seen_at,
        max(last_seen_at) AS last_seen_at
    FROM customer_identity
    WHERE customer_key IS NOT NULL
    GROUP BY customer_key
)
SELECT
    i.customer_key,
    i.is_known,
    CASE WHEN i.is_known THEN i.customer_key END AS crm_contact_id,
    c.first_name,
    c.last_name,
    c.account_id,
    i.email,
    i.phone,
    i.identifiers,
    i.crm_ids,
    i.emails,
    i.phones,
    i.cookies,
    i.chat_visitors,
    i.first_seen_at,
    i.last_seen_at
FROM ids i
LEFT JOIN int_contacts c ON c.contact_id = i.customer_key
