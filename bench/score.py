"""Scores a Touchstone warehouse against the generator's truth/ (for `make bench`).

The same measures as the end-to-end test (tests/integration/e2e.rs), computed here with DuckDB
over the Delta tables as the `deltalake` package reads them, so the bench can print them at any
size:

- identity: pairwise "same customer" precision over every personal identifier and recall over
  the linkable ones (truth/identifiers), from marts/customer_identity;
- simultaneous calls: precision of fct_calls.is_simultaneous against truth/overlaps, recall over
  the overlaps whose two sides can be tied to one customer (and over all of them);
- abandon cause: accuracy of fct_calls.abandon_cause against truth/calls, and of
  fct_chats.abandon_cause against truth/chats where the export records the queue wait (and over
  every missed chat).

Usage: score.py --warehouse DIR --truth DIR  (prints JSON on stdout)
"""

import argparse
import json
import os

import duckdb
from deltalake import DeltaTable


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--truth", required=True)
    args = ap.parse_args()
    con = duckdb.connect()
    con.execute("SET threads = 2")
    columns = {
        "customer_identity": ["id_type", "id_value", "customer_key"],
        "fct_calls": ["chain_id", "abandon_cause", "is_simultaneous", "match_type"],
        "fct_chats": ["chat_id", "abandon_cause", "queue_wait_secs"],
    }
    for name, cols in columns.items():
        table = DeltaTable(os.path.join(args.warehouse, "marts", name)).to_pyarrow_table(
            columns=cols)
        con.register(name, table)
    for name in ["identifiers", "overlaps", "calls", "chats"]:
        path = os.path.join(args.truth, f"{name}.parquet")
        con.execute(f"CREATE VIEW truth_{name} AS SELECT * FROM read_parquet('{path}')")

    def one(sql):
        return con.execute(sql).fetchone()[0]

    scored = """
        with t as (
            select id_type, id_value, customer_id, linkable from truth_identifiers
            where role = 'personal'),
        p as (
            select t.*, coalesce(ci.customer_key,
                                 'unlinked:' || t.id_type || ':' || t.id_value) as predicted
            from t left join customer_identity ci
              on ci.id_type = t.id_type and ci.id_value = t.id_value)"""

    def pairs_of(group, where=""):
        return one(f"{scored} select coalesce(sum(n * (n - 1) / 2), 0) from "
                   f"(select count(*) as n from p {where} group by {group})")

    predicted = pairs_of("predicted")
    correct = pairs_of("predicted, customer_id")
    linkable = pairs_of("customer_id", "where linkable")
    found = pairs_of("predicted, customer_id", "where linkable")
    identity = {
        "precision": correct / predicted if predicted else None,
        "recall": found / linkable if linkable else None,
        "pairs_predicted": int(predicted), "pairs_linkable": int(linkable),
    }

    counts = dict(con.execute("""
        with truth as (
            select o.call_id,
                   bool_or((o.channel = 'chat' or coalesce(i.linkable, false))
                           and coalesce(c.match_type <> 'unmatched', false)) as identifiable
            from truth_overlaps o
            left join truth_identifiers i
              on i.id_type = 'anonymous_id' and i.id_value = o.anonymous_id
            left join fct_calls c on c.chain_id = o.call_id
            group by o.call_id),
        flagged as (select distinct chain_id from fct_calls where is_simultaneous)
        select 'truth', count(*) from truth
        union all select 'identifiable', count(*) from truth where identifiable
        union all select 'flagged', count(*) from flagged
        union all select 'both', count(*) from flagged f join truth t on t.call_id = f.chain_id
        union all select 'both_identifiable', count(*) from flagged f
            join truth t on t.call_id = f.chain_id where t.identifiable""").fetchall())
    overlaps = {
        "precision": counts["both"] / counts["flagged"] if counts["flagged"] else None,
        "recall": (counts["both_identifiable"] / counts["identifiable"]
                   if counts["identifiable"] else None),
        "recall_all": counts["both"] / counts["truth"] if counts["truth"] else None,
        "planted": counts["truth"], "flagged": counts["flagged"],
    }

    def accuracy(sql):
        rows = con.execute(sql).fetchall()
        total = sum(n for _, _, n in rows)
        right = sum(n for t, p, n in rows if t == p)
        matrix = {f"{t} -> {p or '-'}": n for t, p, n in rows}
        return {"accuracy": right / total if total else None, "scored": total, "matrix": matrix}

    calls = accuracy("""
        select t.abandon_cause, c.abandon_cause, count(*)
        from truth_calls t join fct_calls c on c.chain_id = t.call_id
        where t.abandon_cause is not null group by all order by 1, 2""")
    chats = accuracy("""
        select t.abandon_cause, c.abandon_cause, count(*)
        from truth_chats t join fct_chats c on c.chat_id = t.chat_id
        where t.abandon_cause is not null and c.queue_wait_secs is not null
        group by all order by 1, 2""")
    chats["accuracy_all"] = one("""
        select avg(case when t.abandon_cause = c.abandon_cause then 1.0 else 0.0 end)
        from truth_chats t join fct_chats c on c.chat_id = t.chat_id
        where t.abandon_cause is not null""")
    print(json.dumps({"identity": identity, "overlaps": overlaps,
                      "abandon_calls": calls, "abandon_chats": chats}))


if __name__ == "__main__":
    main()
