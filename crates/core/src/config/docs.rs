//! Column documentation files of SQL models: `sql/<layer>/*.yaml`.

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, ErrorCode};
use crate::yaml;

/// A documentation file of SQL models, beside them in `sql/<layer>/` (any `*.yaml` or `*.yml`
/// name; the shipped one is `sql/marts/schema.yaml`), in the shape of dbt's `schema.yml`:
///
/// ```yaml
/// models:
///   - name: fct_calls                # the model: its SQL file's stem
///     columns:
///       - name: wait_secs
///         description: Seconds the caller waited in queue; null when the call never
///           reached a queue.
/// ```
///
/// A model's own description is the leading `--` comment of its SQL file, not a key here.
/// Each run writes both into the mart's Delta table: the table's description, and `comment` in
/// each column's metadata (what Spark, Databricks and `touchstone serve` show). `touchstone
/// validate` fails on a model or column named here that does not exist, and warns for a mart
/// column described nowhere.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDocsFile {
    /// The documented models.
    #[serde(default)]
    pub models: Vec<ModelDocFile>,
}

/// One model's entry: `- name: fct_calls` and its `columns:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDocFile {
    /// The model: the stem of its SQL file.
    pub name: Spanned<String>,
    /// Not accepted: a model's description is the leading comment of its SQL file. Read only
    /// to say so.
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    /// Its columns, each with a description.
    #[serde(default)]
    pub columns: Vec<ColumnDocFile>,
}

/// One column: `- { name: wait_secs, description: Seconds the caller waited in queue. }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDocFile {
    /// The column, as the model's SELECT names it.
    pub name: Spanned<String>,
    /// What it means: unit, how it is computed, when it is null.
    pub description: Spanned<String>,
}

/// What to write when a documentation file does not parse at all.
const SHAPE_HELP: &str = "write `models:`, a list of `- name: <model>` entries each with \
     `columns:`, a list of `- name: <column>` and `description: <text>`; put a description \
     that contains ': ' or ' #', or starts with a quote or a backtick, in double quotes";

/// Parses the text of the documentation file `file` (named so in messages). A file that is not
/// YAML of this shape is one diagnostic at its place, with the fix.
///
/// ```
/// use touchstone_core::config::parse_model_docs;
/// let docs = parse_model_docs(
///     "sql/marts/schema.yaml",
///     "models:\n  - name: fct_calls\n    columns:\n      - name: wait_secs\n        description: Seconds in queue.\n",
/// ).unwrap();
/// assert_eq!(docs.models[0].columns[0].description.value, "Seconds in queue.");
/// let bad = parse_model_docs("sql/marts/schema.yaml", "models:\n  - name: x\n    colums: []\n");
/// assert_eq!(
///     bad.unwrap_err().to_string(),
///     "sql/marts/schema.yaml:3:5: error[E1002]: unknown field `colums`, expected one of name, description, columns\n  help: did you mean 'columns'?"
/// );
/// ```
pub fn parse_model_docs(file: &str, text: &str) -> Result<ModelDocsFile, Diagnostic> {
    yaml::parse::<ModelDocsFile>(file, text).map_err(|d| match d.code {
        ErrorCode::YamlSyntax | ErrorCode::InvalidValue if d.help.is_none() => {
            d.with_help(SHAPE_HELP)
        }
        _ => d,
    })
}
