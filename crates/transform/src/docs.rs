//! Column documentation of SQL models, read from the `*.yaml` files beside them
//! (`sql/<layer>/schema.yaml`, the shape of dbt's `schema.yml`; see
//! [`touchstone_core::config::ModelDocsFile`]) and checked against what each model produces.
//!
//! A model's own description stays the leading comment of its SQL file
//! ([`Model::description`]); these are its columns'. A documented model or column that does
//! not exist is an error (`E2006`): documentation that names nothing is stale. A mart column
//! described nowhere is a warning ([`Undocumented`]): a pipeline of one's own need not document
//! every column, while the shipped marts are tested to document all of theirs.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use datafusion::prelude::SessionContext;
use touchstone_core::config::parse_model_docs;
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode, Span};

use crate::models::Model;

/// One column's description and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDoc {
    /// The column, as the model's SELECT names it.
    pub name: String,
    /// What it means.
    pub description: String,
    /// Its `name:` in the documentation file.
    pub span: Span,
}

/// One model's column descriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDoc {
    /// The model.
    pub name: String,
    /// Its `name:` in the documentation file.
    pub span: Span,
    /// Its columns, in the file's order.
    pub columns: Vec<ColumnDoc>,
}

/// The column descriptions of every documented model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelDocs {
    models: BTreeMap<String, ModelDoc>,
}

impl ModelDocs {
    /// The documentation of `model`, if any.
    pub fn model(&self, model: &str) -> Option<&ModelDoc> {
        self.models.get(model)
    }

    /// Column name to description for `model` (empty when it is not documented).
    pub fn columns(&self, model: &str) -> BTreeMap<String, String> {
        self.models
            .get(model)
            .map(|m| {
                m.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.description.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every documented model, by name.
    pub fn iter(&self) -> impl Iterator<Item = &ModelDoc> {
        self.models.values()
    }
}

/// Reads every `*.yaml` / `*.yml` file in the layer directories below `dir` (where
/// [`crate::load_models`] finds the `*.sql` files), in path order. Paths in messages are shown
/// relative to `display_base`. A file that does not parse, a model documented twice and a
/// column documented twice for one model are reported together.
pub fn load_docs(dir: &Path, display_base: &Path) -> Result<ModelDocs, Diagnostics> {
    // The models' own load reports unreadable directories; docs are only looked for there.
    let files = crate::models::layer_files(dir, &["yaml", "yml"])
        .map(|(files, _)| files)
        .unwrap_or_default();

    let mut docs = ModelDocs::default();
    let mut problems = Vec::new();
    for path in files {
        let display = crate::models::display_path(&path, display_base);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(
                    Diagnostic::new(ErrorCode::Unreadable, format!("cannot read {display}: {e}"))
                        .at(Span::new(&display, 1, 1)),
                );
                continue;
            }
        };
        let parsed = match parse_model_docs(&display, &text) {
            Ok(parsed) => parsed,
            Err(d) => {
                problems.push(d);
                continue;
            }
        };
        for model in parsed.models {
            let span = Span::of(&display, &model.name);
            let name = model.name.value.trim().to_lowercase();
            if let Some(description) = &model.description {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::UnknownKey,
                        format!("model '{name}' has a description here"),
                    )
                    .at(Span::of(&display, description))
                    .with_help(
                        "a model's description is the leading `--` comment of its SQL file; \
                         move the text there and keep only `columns:` here",
                    ),
                );
            }
            if let Some(first) = docs.models.get(&name) {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::DuplicateName,
                        format!(
                            "model '{name}' is documented twice (also at {})",
                            first.span
                        ),
                    )
                    .at(span)
                    .with_help("keep one entry per model and put all its columns there"),
                );
                continue;
            }
            let mut columns: Vec<ColumnDoc> = Vec::new();
            for column in model.columns {
                let column_span = Span::of(&display, &column.name);
                let column_name = column.name.value.trim().to_string();
                if let Some(first) = columns.iter().find(|c| c.name == column_name) {
                    problems.push(
                        Diagnostic::new(
                            ErrorCode::DuplicateName,
                            format!(
                                "column '{column_name}' of model '{name}' is documented twice \
                                 (also at {})",
                                first.span
                            ),
                        )
                        .at(column_span)
                        .with_help("keep one description per column"),
                    );
                    continue;
                }
                let description = column.description.value.trim().to_string();
                if description.is_empty() {
                    problems.push(
                        Diagnostic::new(
                            ErrorCode::InvalidValue,
                            format!("column '{column_name}' of model '{name}' has an empty description"),
                        )
                        .at(Span::of(&display, &column.description))
                        .with_help("say what the column means (unit, how it is computed, when it is null), or remove the entry"),
                    );
                    continue;
                }
                columns.push(ColumnDoc {
                    name: column_name,
                    description,
                    span: column_span,
                });
            }
            docs.models.insert(
                name.clone(),
                ModelDoc {
                    name,
                    span,
                    columns,
                },
            );
        }
    }
    Diagnostics::check(problems)?;
    Ok(docs)
}

/// The columns of a mart that no documentation describes: a warning of `touchstone validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undocumented {
    /// The mart.
    pub model: String,
    /// Its columns without a description, in the model's order.
    pub columns: Vec<String>,
    /// Where to add them: the mart's entry in a documentation file, else its SQL file.
    pub span: Span,
    /// Whether the mart has an entry in a documentation file at all.
    pub has_entry: bool,
}

impl fmt::Display for Undocumented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_entry {
            write!(
                f,
                "{}: warning: mart '{}' has no description for {} {}; add {} under its `columns:`",
                self.span,
                self.model,
                if self.columns.len() == 1 {
                    "column"
                } else {
                    "columns"
                },
                self.columns.join(", "),
                if self.columns.len() == 1 {
                    "it"
                } else {
                    "them"
                },
            )
        } else {
            let dir = Path::new(&self.span.file)
                .parent()
                .map(|p| p.join("schema.yaml").to_string_lossy().into_owned())
                .unwrap_or_else(|| "schema.yaml".into());
            let n = self.columns.len();
            write!(
                f,
                "{}: warning: mart '{}' has no column descriptions ({n} column{}); describe \
                 them in {dir} (`models: - name: {}` with `columns:` of `name:` and \
                 `description:`) so that its Delta table and BI tools show them",
                self.span,
                self.model,
                if n == 1 { "" } else { "s" },
                self.model,
            )
        }
    }
}

/// Checks `docs` against `models`, which must be planned and registered in `ctx` (see
/// [`crate::plan_models`]): every documented model must exist and every documented column must
/// be one its SELECT produces (errors, all reported together, with a "did you mean"). Returns
/// the marts' columns that no documentation describes.
pub async fn check_docs(
    ctx: &SessionContext,
    models: &[Model],
    docs: &ModelDocs,
) -> Result<Vec<Undocumented>, Diagnostics> {
    let by_name: HashMap<&str, &Model> = models.iter().map(|m| (m.name.as_str(), m)).collect();
    let mut problems = Vec::new();
    let mut undocumented = Vec::new();
    for doc in docs.iter() {
        if !by_name.contains_key(doc.name.as_str()) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::ModelDocs,
                    format!(
                        "documentation for model '{}', which is not a model",
                        doc.name
                    ),
                )
                .at(doc.span.clone())
                .suggest(&doc.name, by_name.keys().copied())
                .with_default_help(
                    "a model is a sql/<layer>/<name>.sql file; fix the name or remove the entry",
                ),
            );
        }
    }
    for model in models {
        let doc = docs.model(&model.name);
        if doc.is_none() && !model.materialized() {
            continue;
        }
        let Ok(table) = ctx.table(model.name.as_str()).await else {
            // Not planned: its own error is already reported.
            continue;
        };
        let produced: Vec<String> = table
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        if let Some(doc) = doc {
            for column in &doc.columns {
                if !produced.contains(&column.name) {
                    problems.push(
                        Diagnostic::new(
                            ErrorCode::ModelDocs,
                            format!(
                                "column '{}' is documented for model '{}', which does not produce it",
                                column.name, model.name
                            ),
                        )
                        .at(column.span.clone())
                        .suggest(&column.name, produced.iter().map(String::as_str))
                        .with_default_help(format!(
                            "remove the entry, or fix its name to one of the columns of {}",
                            model.display
                        )),
                    );
                }
            }
        }
        if model.materialized() {
            let missing: Vec<String> = produced
                .iter()
                .filter(|c| doc.is_none_or(|d| !d.columns.iter().any(|dc| &dc.name == *c)))
                .cloned()
                .collect();
            if !missing.is_empty() {
                undocumented.push(Undocumented {
                    model: model.name.clone(),
                    span: doc.map_or_else(|| Span::new(&model.display, 1, 1), |d| d.span.clone()),
                    has_entry: doc.is_some(),
                    columns: missing,
                });
            }
        }
    }
    Diagnostics::check(problems)?;
    Ok(undocumented)
}

trait DefaultHelp {
    fn with_default_help(self, help: impl Into<String>) -> Self;
}

impl DefaultHelp for Diagnostic {
    /// Sets the help line unless a "did you mean" already did.
    fn with_default_help(self, help: impl Into<String>) -> Self {
        if self.help.is_some() {
            self
        } else {
            self.with_help(help)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::{
        SessionOptions, input_tables, load_models, new_session, order_models, plan_models,
        register_empty_staging, register_run_context,
    };

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    async fn check(dir: &Path) -> Result<Vec<Undocumented>, Diagnostics> {
        let ctx = new_session(&SessionOptions::default()).unwrap();
        register_empty_staging(&ctx).unwrap();
        register_run_context(&ctx, "r", "p", NaiveDate::from_ymd_opt(2026, 8, 1).unwrap()).unwrap();
        let models = load_models(dir, dir, &ctx.state()).unwrap();
        let models = order_models(models, &input_tables()).unwrap();
        plan_models(&ctx, &models).await.unwrap();
        let docs = load_docs(dir, dir)?;
        check_docs(&ctx, &models, &docs).await
    }

    #[tokio::test]
    async fn documented_columns_must_exist_and_undocumented_ones_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "marts/calls.sql",
            "-- Calls.\nselect call_id, duration_secs, billsec from stg_calls",
        );
        write(dir.path(), "marts/plain.sql", "select 1 as n");
        write(
            dir.path(),
            "marts/schema.yaml",
            "models:\n  - name: calls\n    columns:\n      - name: call_id\n        description: The call.\n      - name: duration_sec\n        description: Seconds.\n  - name: callz\n    columns: []\n",
        );
        let err = check(dir.path()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "marts/schema.yaml:6:15: error[E2006]: column 'duration_sec' is documented for model 'calls', which does not produce it\n  \
               help: did you mean 'duration_secs'?\n\
             marts/schema.yaml:8:11: error[E2006]: documentation for model 'callz', which is not a model\n  \
               help: did you mean 'calls'?"
        );

        write(
            dir.path(),
            "marts/schema.yaml",
            "models:\n  - name: calls\n    columns:\n      - name: call_id\n        description: The call.\n",
        );
        let undocumented = check(dir.path()).await.unwrap();
        let lines: Vec<String> = undocumented.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "marts/schema.yaml:2:11: warning: mart 'calls' has no description for columns \
                 duration_secs, billsec; add them under its `columns:`",
                "marts/plain.sql:1:1: warning: mart 'plain' has no column descriptions (1 \
                 column); describe them in marts/schema.yaml (`models: - name: plain` with \
                 `columns:` of `name:` and `description:`) so that its Delta table and BI tools \
                 show them"
            ]
        );
    }

    #[test]
    fn a_file_that_does_not_parse_names_file_line_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "marts/schema.yaml",
            "models:\n  - name: calls\n    columns:\n      - name: wait\n        description: Seconds: in queue\n",
        );
        let err = load_docs(dir.path(), dir.path()).unwrap_err();
        assert_eq!(err.codes(), [ErrorCode::YamlSyntax], "{err}");
        let d = &err.0[0];
        assert_eq!(
            d.span.as_ref().map(|s| (s.file.as_str(), s.line)),
            Some(("marts/schema.yaml", 5)),
            "{err}"
        );
        assert!(
            d.help
                .as_deref()
                .unwrap_or_default()
                .contains("double quotes"),
            "{err}"
        );
    }

    #[test]
    fn duplicates_empty_descriptions_and_model_descriptions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "marts/a.yml",
            "models:\n  - name: calls\n    description: Calls.\n    columns:\n      - name: x\n        description: X.\n      - name: x\n        description: Again.\n      - name: y\n        description: ''\n",
        );
        write(dir.path(), "marts/b.yaml", "models:\n  - name: Calls\n");
        let err = load_docs(dir.path(), dir.path()).unwrap_err();
        assert_eq!(
            err.codes(),
            [
                ErrorCode::UnknownKey,
                ErrorCode::DuplicateName,
                ErrorCode::InvalidValue,
                ErrorCode::DuplicateName
            ],
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains("leading `--` comment"), "{text}");
        assert!(
            text.contains("marts/b.yaml:2:11: error[E1007]: model 'calls' is documented twice (also at marts/a.yml:2:11)"),
            "{text}"
        );
    }
}
