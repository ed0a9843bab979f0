-- One row per web session (the sessions of int_web_events), from the native sort-once operator
-- web_sessions(): when, how much, what went wrong, and the last userId and normalized email the
-- session itself carried. int_web_sessions adds what the cookie is known by from other sessions.
-- touchstone: cache
SELECT * FROM web_sessions('int_web_unique_events')
