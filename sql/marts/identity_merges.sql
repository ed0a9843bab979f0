-- The log of customers merged and split by the identity graph: every run appends the changes
-- relative to the previous run's customer_identity (`merge`: two previous customers are one now,
-- the surviving key is customer_key; `identified`: an anonymous customer now has a CRM contact;
-- `split`: identifiers of previous_customer_key now form customer_key), with the run that caused
-- them and how many identifiers moved.
SELECT * FROM identity_graph_merges('int_identity_records', 'previous_customer_identity', 'previous_identity_merges')
