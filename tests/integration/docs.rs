//! The marts' documentation reaches their Delta metadata: the table's description (the leading
//! comment of its SQL model) and each column's `comment` (sql/marts/schema.yaml), as the Python
//! `deltalake` package reads them; an edited description shows up on the next run; and every
//! column of every shipped mart is documented.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use touchstone_pipeline::{Prepared, Run};

use crate::common::*;

/// Each mart's `metadata().description` and its columns' `comment` metadata, as the Python
/// `deltalake` package reads them.
const READ_DOCS: &str = r#"
import json, os, sys
import deltalake

root, names = sys.argv[1], sys.argv[2].split(",")
out = {}
for name in names:
    table = deltalake.DeltaTable(f"{root}/marts/{name}")
    out[name] = {
        "description": table.metadata().description,
        "comments": {f.name: (f.metadata or {}).get("comment") for f in table.schema().fields},
        "version": table.version(),
    }
print(json.dumps(out), flush=True)
os._exit(0)
"#;

fn read_docs(warehouse: &str, marts: &[&str]) -> serde_json::Value {
    python_json(READ_DOCS, &[warehouse, &marts.join(",")])
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// The default pipeline over `raw` into `warehouse`, reading a copy of the models in `dir/sql`
/// that the test may edit.
fn editable_pipeline(dir: &Path, raw: &Path, warehouse: &str) -> std::path::PathBuf {
    copy_dir(&repo_root().join("sql"), &dir.join("sql"));
    let file = pipeline_file(dir, raw, warehouse);
    let text = std::fs::read_to_string(&file).expect("pipeline");
    assert!(text.contains("\nmodels: sql\n"), "{text}");
    let text = text.replace(
        "\nmodels: sql\n",
        &format!("\nmodels: {}\n", dir.join("sql").display()),
    );
    std::fs::write(&file, text).expect("write pipeline");
    file
}

async fn run(file: &Path, date: NaiveDate) -> Prepared {
    let prepared = prepare(file).await;
    Run::new(&prepared).with_date(date).await.expect("run");
    prepared
}

#[tokio::test(flavor = "multi_thread")]
async fn mart_descriptions_and_column_comments_reach_deltalake_and_follow_edits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    generate(&raw, 150, 7, 17);
    let warehouse = dir.path().join("wh").to_string_lossy().to_string();
    let file = editable_pipeline(&dir.path().join("p"), &raw, &warehouse);
    let date = NaiveDate::from_ymd_opt(2026, 8, 7).expect("date");
    let prepared = run(&file, date).await;

    // Every mart carries its model's description; fct_journeys every column's comment.
    let marts: Vec<&str> = prepared.materialized().map(|m| m.name.as_str()).collect();
    assert_eq!(marts.len(), 23, "{marts:?}");
    let seen = read_docs(&warehouse, &marts);
    for model in prepared.materialized() {
        let description = model.description();
        assert!(!description.is_empty(), "{} has no description", model.name);
        assert_eq!(
            seen[&model.name]["description"].as_str(),
            Some(description.as_str()),
            "{}",
            model.name
        );
    }
    let documented = prepared.docs.columns("fct_journeys");
    assert!(documented.len() >= 20, "{documented:?}");
    let comments: BTreeMap<String, Option<String>> =
        serde_json::from_value(seen["fct_journeys"]["comments"].clone()).expect("comments");
    assert_eq!(
        comments.keys().collect::<Vec<_>>(),
        documented.keys().collect::<Vec<_>>()
    );
    for (column, text) in &documented {
        assert_eq!(
            comments[column].as_ref(),
            Some(text),
            "fct_journeys.{column}"
        );
    }

    // Edit the table description and a column's, run again: both show up, each table still
    // one data commit after its metadata.
    let sql_file = dir.path().join("p/sql/marts/fct_journeys.sql");
    let sql = std::fs::read_to_string(&sql_file).expect("sql");
    std::fs::write(
        &sql_file,
        format!("-- Edited: journeys, re-described.\n{sql}"),
    )
    .expect("edit");
    let docs_file = dir.path().join("p/sql/marts/schema.yaml");
    let docs = std::fs::read_to_string(&docs_file).expect("docs");
    let old = "description: Touches (calls, chats, web sessions, cases) in the journey, 1 or more.";
    assert!(
        docs.contains(old),
        "the test edits this line of schema.yaml"
    );
    std::fs::write(
        &docs_file,
        docs.replace(old, "description: Steps of the journey (edited)."),
    )
    .expect("edit");
    let prepared = run(&file, date).await;
    let again = read_docs(&warehouse, &["fct_journeys", "fct_calls"]);
    let description = again["fct_journeys"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        description.starts_with("Edited: journeys, re-described. One row per customer journey"),
        "{description}"
    );
    assert_eq!(
        again["fct_journeys"]["comments"]["steps"].as_str(),
        Some("Steps of the journey (edited).")
    );
    assert_eq!(
        again["fct_journeys"]["comments"]["journey_id"].as_str(),
        Some(documented["journey_id"].as_str())
    );
    // The description took a metadata commit before the data; an unchanged table did not.
    let version = |v: &serde_json::Value, t: &str| v[t]["version"].as_u64().expect("version");
    assert_eq!(
        version(&again, "fct_journeys"),
        version(&seen, "fct_journeys") + 2
    );
    assert_eq!(
        version(&again, "fct_calls"),
        version(&seen, "fct_calls") + 1
    );
    assert_eq!(
        again["fct_calls"]["description"],
        seen["fct_calls"]["description"]
    );
    assert!(prepared.undocumented.is_empty());
}

#[tokio::test]
async fn every_column_of_every_shipped_mart_is_documented() {
    let prepared = prepare(&repo_root().join("pipelines/customer_success.yaml")).await;
    let undocumented: Vec<String> = prepared
        .undocumented
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        undocumented.is_empty(),
        "describe these in sql/marts/schema.yaml:\n{}",
        undocumented.join("\n")
    );
    for model in prepared.materialized() {
        assert!(
            !model.description().is_empty(),
            "{} needs a leading comment",
            model.display
        );
        let columns = prepared.docs.columns(&model.name);
        assert!(!columns.is_empty(), "{} is not documented", model.name);
        for (column, text) in columns {
            // A description says more than the name does.
            assert!(
                text.split_whitespace().count() >= 3,
                "{}.{column}: '{text}'",
                model.name
            );
        }
    }
}

#[test]
fn stale_column_documentation_fails_validation_with_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&repo_root().join("sql"), &dir.path().join("sql"));
    let docs_file = dir.path().join("sql/marts/schema.yaml");
    let docs = std::fs::read_to_string(&docs_file).expect("docs");
    let docs = docs.replacen("      - name: talk_secs\n", "      - name: talk_sec\n", 1);
    std::fs::write(&docs_file, &docs).expect("edit");
    let line = docs
        .lines()
        .position(|l| l == "      - name: talk_sec")
        .expect("edited line")
        + 1;
    let file = editable_pipeline_file(dir.path());
    let output = touchstone()
        .arg("validate")
        .arg(&file)
        .output()
        .expect("validate");
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    let want = format!(
        "{}:{line}:15: error[E2006]: column 'talk_sec' is documented for model 'fct_calls', \
         which does not produce it\n  help: did you mean 'talk_secs'?",
        docs_file.display()
    );
    assert!(err.contains(&want), "{err}");
}

/// The default pipeline reading the models in `dir/sql` (for `touchstone validate`).
fn editable_pipeline_file(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("pipeline.yaml");
    let text = std::fs::read_to_string(repo_root().join("pipelines/customer_success.yaml"))
        .expect("default pipeline")
        .replace(
            "\nmodels: sql\n",
            &format!("\nmodels: {}\n", dir.join("sql").display()),
        );
    std::fs::write(&file, text).expect("write pipeline");
    file
}
