"""The work of Touchstone's default pipeline, as a data team would write it with DuckDB.

Run by bench/pipeline.py (`make bench`) on the same exports, with 2 threads and the same memory
limit. Stages, each timed (wall seconds), printed as JSON on stdout:

- stage: every export read to Parquet (zstd), one file per source table (every source of the
  default pipeline but the calendar, a YAML file of a few events DuckDB cannot read);
- identity: every identifier of every live CRM contact (CRM id, email, phone normalized), the
  earliest contact owning each; every interaction matched on CRM id, then email, then phone;
- journeys: web events deduplicated on messageId and sessionized (per cookie, 30-minute gap:
  LAG + running SUM, then GROUP BY session), calls, chats and sessions as touchpoints with
  their customer;
- value: RFM per customer from the orders (frequency, recency, T, monetary value);
- metrics: daily contact-center and web metrics (calls, abandon rate, talk time, chats,
  CSAT, sessions).

`--stage-cdr FILE` only reads one CDR file to Parquet (the big-CSV staging comparison).
"""

import argparse
import glob
import json
import os
import time

import duckdb

CDR_COLUMNS = ["accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
               "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
               "disposition", "amaflags", "uniqueid", "userfield", "peeraccount", "linkedid",
               "sequence"]


QUEUE_LOG_COLUMNS = ", ".join(
    [f"'{c}': 'VARCHAR'" for c in ["time", "callid", "queue", "agent", "event"]]
    + [f"'data{i}': 'VARCHAR'" for i in range(1, 6)])


# The branch site's cdr_custom layout (pipelines/customer_success.yaml, asterisk_branch).
BRANCH_CDR_COLUMNS = ["clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp",
                      "lastdata", "start", "answer", "end", "duration", "billsec", "disposition",
                      "amaflags", "accountcode", "uniqueid", "userfield", "linkedid", "sequence"]


def cdr_reader(path, columns=CDR_COLUMNS):
    cols = ", ".join(f"'{c}': 'VARCHAR'" for c in columns)
    return (f"read_csv('{path}', header = false, delim = ',', quote = '\"', escape = '\"', "
            f"columns = {{{cols}}}, null_padding = true, encoding = 'latin-1')")


def files(raw, pattern):
    """The files under `raw` matching `pattern`, in order."""
    return sorted(glob.glob(os.path.join(raw, pattern), recursive=True))


def ctr_days(raw):
    """The day directories of the Connect CTR stream, in order."""
    files = glob.glob(os.path.join(raw, "connect/ctr/**/*.json"), recursive=True)
    return sorted({os.path.dirname(f) for f in files})


def sources(raw):
    """(source name, [(table, reader SQL)]) in the pipeline's order."""
    sf = os.path.join(raw, "salesforce")
    return [
        ("salesforce", [("sf_" + obj.lower(), f"read_csv('{sf}/{obj}.csv', header = true, all_varchar = false)")
                        for obj in ["Account", "Contact", "Case", "Opportunity", "Order"]]),
        ("asterisk_cdr", [("cdr", cdr_reader(os.path.join(raw, "asterisk/Master.csv")))]),
        ("asterisk_queue_log", [("queue_log", (
            f"read_csv('{raw}/asterisk/queue_log', header = false, delim = '|', "
            f"columns = {{{QUEUE_LOG_COLUMNS}}}, null_padding = true, quote = '', auto_detect = false)"))]),
        # Firehose files hold records one per line, pretty-printed or back to back, or in
        # arrays: DuckDB's 'auto' format tells them apart per file. Read a day at a time: over
        # every hourly file at once (2,160 at 100k customers) DuckDB 2.0 runs out of 2 GiB.
        ("connect_ctr", [("ctr", [f"read_json('{day}/*.json', format = 'auto', "
                                  f"union_by_name = true, sample_size = -1)"
                                  for day in ctr_days(raw)])]),
        # One file at a time: over every day's file at once DuckDB 2.0 runs out of 2 GiB
        # merging the nested schemas (union_by_name).
        ("livechat", [("chats", [f"read_json('{f}', format = 'newline_delimited', sample_size = -1)"
                                 for f in sorted(glob.glob(os.path.join(raw, "livechat/*.jsonl")))])]),
        ("surveys", [("surveys", f"read_csv('{raw}/surveys/responses.csv', header = true)")]),
        # Qualtrics puts two more header rows (question text, import ids) under the column ids.
        ("qualtrics", [("qualtrics", [f"(SELECT * FROM read_csv('{f}', header = true, all_varchar = true) OFFSET 2)"
                                      for f in files(raw, "surveys/qualtrics/*.csv")])]),
        ("hubspot", [("hs_" + os.path.basename(f).split(".")[0].replace("-", "_"),
                      f"read_csv('{f}', header = true)")
                     for f in files(raw, "hubspot/*.csv")]),
        ("agent_reviews", [("agent_reviews", f"read_csv('{raw}/agent_reviews/reviews.csv', header = true)")]),
        # Zendesk and Intercom API pages and webhooks, one file at a time (see livechat).
        ("zendesk", [("zendesk", [f"read_json('{f}', format = 'auto', sample_size = -1)"
                                  for f in files(raw, "zendesk/**/*.json")])]),
        ("intercom", [("intercom", [f"read_json('{f}', format = 'auto', sample_size = -1)"
                                    for f in files(raw, "intercom/*.json*")])]),
        ("asterisk_branch", [("cdr_branch", cdr_reader(os.path.join(raw, "asterisk/branch/Master.csv"),
                                                         BRANCH_CDR_COLUMNS))]),
        # One day's file at a time: over all 90 at once (union_by_name) DuckDB 2.0 runs out of
        # 2 GiB at 30k customers.
        ("web", [("web", [f"read_json('{f}', format = 'newline_delimited', sample_size = -1)"
                          for f in sorted(glob.glob(os.path.join(raw, "web/*.ndjson"))
                                          + glob.glob(os.path.join(raw, "web/*.ndjson.gz")))])]),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw")
    ap.add_argument("--out", required=True)
    ap.add_argument("--memory-mb", type=int, default=2048)
    ap.add_argument("--date", default="2026-10-29")
    ap.add_argument("--stage-cdr")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"SET memory_limit = '{args.memory_mb}MB'")
    con.execute(f"SET temp_directory = '{args.out}/tmp'")
    con.execute("SET preserve_insertion_order = false")
    out = args.out

    def copy(sql, name):
        con.execute(f"COPY ({sql}) TO '{out}/{name}.parquet' "
                    f"(FORMAT parquet, COMPRESSION zstd)")

    if args.stage_cdr:
        copy(f"SELECT * FROM {cdr_reader(args.stage_cdr)}", "cdr")
        print(json.dumps({}))
        return

    stages = {}
    per_source = {}
    t0 = time.monotonic()
    for name, tables in sources(args.raw):
        t = time.monotonic()
        for table, reader in tables:
            if isinstance(reader, list):
                # One Parquet file per part, read back as one table.
                os.makedirs(f"{out}/{table}", exist_ok=True)
                for i, part in enumerate(reader):
                    copy(f"SELECT * FROM {part}", f"{table}/part-{i:05}")
            else:
                copy(f"SELECT * FROM {reader}", table)
        per_source[name] = {"secs": time.monotonic() - t}
    stages["stage"] = time.monotonic() - t0

    def view(name, parts=False):
        source = (f"read_parquet('{out}/{name}/*.parquet', union_by_name = true)" if parts
                  else f"'{out}/{name}.parquet'")
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {source}")

    for _, tables in sources(args.raw):
        for table, reader in tables:
            view(table, isinstance(reader, list))

    phone = ("CASE WHEN length(regexp_replace({x}, '[^0-9]', '', 'g')) >= 10 THEN '+1' || "
             "right(regexp_replace({x}, '[^0-9]', '', 'g'), 10) END")

    def p(x):
        return phone.format(x=x)

    t = time.monotonic()
    con.execute(f"""
        COPY (
            SELECT id_type, id_value, arg_min(Id, CreatedDate) AS customer_key
            FROM (
                SELECT 'crm_id' AS id_type, Id AS id_value, Id, CreatedDate FROM sf_contact WHERE NOT IsDeleted
                UNION ALL SELECT 'email', lower(trim(Email)), Id, CreatedDate FROM sf_contact WHERE NOT IsDeleted
                UNION ALL SELECT 'phone', {p('CAST(Phone AS VARCHAR)')}, Id, CreatedDate FROM sf_contact WHERE NOT IsDeleted
                UNION ALL SELECT 'phone', {p('CAST(MobilePhone AS VARCHAR)')}, Id, CreatedDate FROM sf_contact WHERE NOT IsDeleted
            ) WHERE id_value IS NOT NULL
            GROUP BY id_type, id_value
        ) TO '{out}/identifiers.parquet' (FORMAT parquet)""")
    view("identifiers")
    con.execute(f"""
        COPY (
            SELECT anonymousId AS anonymous_id,
                   arg_max(userId, "timestamp") FILTER (WHERE userId IS NOT NULL) AS user_id,
                   arg_max(lower(trim(context.traits.email)), "timestamp")
                       FILTER (WHERE context.traits.email IS NOT NULL) AS email
            FROM web WHERE anonymousId IS NOT NULL GROUP BY anonymousId
        ) TO '{out}/web_identity.parquet' (FORMAT parquet)""")
    view("web_identity")
    con.execute(f"""
        COPY (
            WITH t AS (
                SELECT 'call' AS kind, CAST(linkedid AS VARCHAR) AS id, NULL::VARCHAR AS crm_id,
                       NULL::VARCHAR AS email, {p('CAST(src AS VARCHAR)')} AS phone,
                       NULL::VARCHAR AS anonymous_id
                FROM cdr
                UNION ALL
                SELECT 'contact', ContactId::VARCHAR, Attributes.crm_contact_id::VARCHAR, NULL,
                       {p('CustomerEndpoint.Address')}, NULL
                FROM (SELECT * FROM ctr QUALIFY row_number() OVER (PARTITION BY ContactId ORDER BY LastUpdateTimestamp DESC) = 1)
                UNION ALL
                SELECT 'chat', c.id::VARCHAR, NULL, lower(trim(u.email)), NULL, NULL
                FROM (SELECT id, unnest(users) AS u FROM chats) c(id, u) WHERE u.type = 'customer'
                UNION ALL
                SELECT 'case', Id::VARCHAR, ContactId::VARCHAR, lower(trim(SuppliedEmail)), {p('CAST(SuppliedPhone AS VARCHAR)')}, NULL
                FROM sf_case
                UNION ALL
                SELECT 'web', anonymous_id::VARCHAR, user_id::VARCHAR, email, NULL, anonymous_id::VARCHAR
                FROM web_identity
            )
            SELECT t.kind, t.id,
                   coalesce(c.customer_key, e.customer_key, ph.customer_key,
                            'anon:email:' || t.email, 'anon:phone:' || t.phone,
                            'anon:web:' || t.anonymous_id, 'anon:' || t.kind || ':' || t.id) AS customer_key
            FROM t
            LEFT JOIN identifiers c ON c.id_type = 'crm_id' AND c.id_value = t.crm_id
            LEFT JOIN identifiers e ON e.id_type = 'email' AND e.id_value = t.email
            LEFT JOIN identifiers ph ON ph.id_type = 'phone' AND ph.id_value = t.phone
        ) TO '{out}/customer_keys.parquet' (FORMAT parquet)""")
    view("customer_keys")
    stages["identity"] = time.monotonic() - t

    t = time.monotonic()
    con.execute(f"""
        COPY (
            WITH e AS (
                SELECT coalesce(anonymousId::VARCHAR, 'user:' || userId) AS visitor_id, messageId,
                       "timestamp" AS occurred_at, type, anonymousId::VARCHAR AS anonymousId
                FROM web
                WHERE coalesce(anonymousId::VARCHAR, userId::VARCHAR) IS NOT NULL
                QUALIFY row_number() OVER (PARTITION BY messageId ORDER BY "timestamp") = 1
            ), g AS (
                SELECT *, CASE WHEN lag(occurred_at) OVER w IS NULL
                                 OR occurred_at - lag(occurred_at) OVER w > INTERVAL 30 MINUTE
                               THEN 1 ELSE 0 END AS new_session
                FROM e WINDOW w AS (PARTITION BY visitor_id ORDER BY occurred_at, messageId)
            ), s AS (
                SELECT *, visitor_id || '#' || CAST(sum(new_session) OVER (
                    PARTITION BY visitor_id ORDER BY occurred_at, messageId
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS VARCHAR) AS session_id
                FROM g
            )
            SELECT session_id, visitor_id, max(anonymousId) AS anonymous_id,
                   min(occurred_at) AS started_at, max(occurred_at) AS ended_at,
                   count(*) AS events, count(*) FILTER (WHERE type = 'page') AS page_views
            FROM s GROUP BY session_id, visitor_id
        ) TO '{out}/web_sessions.parquet' (FORMAT parquet)""")
    view("web_sessions")
    con.execute(f"""
        COPY (
            SELECT coalesce(k.customer_key, 'anon:web:' || s.anonymous_id) AS customer_key,
                   'web' AS channel, s.session_id AS id, s.started_at AS occurred_at
            FROM web_sessions s LEFT JOIN customer_keys k ON k.kind = 'web' AND k.id = s.anonymous_id
            UNION ALL
            SELECT k.customer_key, 'voice', k.id, NULL FROM customer_keys k WHERE k.kind IN ('call', 'contact')
            UNION ALL
            SELECT k.customer_key, 'chat', k.id, NULL FROM customer_keys k WHERE k.kind = 'chat'
            UNION ALL
            SELECT k.customer_key, 'case', k.id, NULL FROM customer_keys k WHERE k.kind = 'case'
            ORDER BY customer_key, occurred_at
        ) TO '{out}/touchpoints.parquet' (FORMAT parquet)""")
    stages["journeys"] = time.monotonic() - t

    t = time.monotonic()
    con.execute(f"""
        COPY (
            WITH tx AS (
                SELECT BillToContactId AS customer_key, CAST(EffectiveDate AS DATE) AS d,
                       sum(TotalAmount) AS amount
                FROM sf_order WHERE NOT IsDeleted AND TotalAmount > 0
                  AND CAST(EffectiveDate AS DATE) <= DATE '{args.date}'
                GROUP BY 1, 2
            ), r AS (SELECT *, row_number() OVER (PARTITION BY customer_key ORDER BY d) AS n FROM tx)
            SELECT customer_key, count(*) - 1 AS frequency, max(d) - min(d) AS recency,
                   DATE '{args.date}' - min(d) AS "T",
                   coalesce(avg(amount) FILTER (WHERE n > 1), 0) AS monetary_value,
                   ntile(5) OVER (ORDER BY max(d)) AS r_score,
                   ntile(5) OVER (ORDER BY count(*)) AS f_score,
                   ntile(5) OVER (ORDER BY sum(amount)) AS m_score
            FROM r GROUP BY customer_key
        ) TO '{out}/customer_rfm.parquet' (FORMAT parquet)""")
    stages["value"] = time.monotonic() - t

    t = time.monotonic()
    con.execute(f"""
        COPY (
            SELECT 'calls' AS metric, CAST(CAST(start AS TIMESTAMP) AS DATE) AS day, count(*)::DOUBLE AS value FROM cdr GROUP BY 2
            UNION ALL
            SELECT 'abandon_rate', CAST(CAST(start AS TIMESTAMP) AS DATE),
                   avg(CASE WHEN disposition = 'ANSWERED' THEN 0 ELSE 1 END) FROM cdr GROUP BY 2
            UNION ALL
            SELECT 'talk_time_avg', CAST(CAST(start AS TIMESTAMP) AS DATE), avg(CAST(billsec AS INTEGER)) FROM cdr GROUP BY 2
            UNION ALL
            SELECT 'connect_contacts', CAST(CAST(InitiationTimestamp AS TIMESTAMP) AS DATE), count(*) FROM ctr GROUP BY 2
            UNION ALL
            SELECT 'chats', CAST(CAST(threads[1].created_at AS TIMESTAMP) AS DATE), count(*) FROM chats GROUP BY 2
            UNION ALL
            SELECT 'csat_pct', CAST(CAST("Responded At" AS TIMESTAMP) AS DATE),
                   100 * avg(CASE WHEN Score >= 4 THEN 1 ELSE 0 END)
            FROM surveys WHERE Metric = 'csat' GROUP BY 2
            UNION ALL
            SELECT 'web_sessions', CAST(started_at AS DATE), count(*) FROM web_sessions GROUP BY 2
        ) TO '{out}/metric_values.parquet' (FORMAT parquet)""")
    stages["metrics"] = time.monotonic() - t
    print(json.dumps({"stages": stages, "sources": per_source}))


if __name__ == "__main__":
    main()
