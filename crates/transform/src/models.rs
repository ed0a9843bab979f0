//! SQL models: `sql/<layer>/<table>.sql`, one SELECT per file, the file stem is the table name.
//!
//! Dependencies are read from the parsed SQL (the tables a query reads, CTE names excluded),
//! never declared by hand. Models in the `marts` layer are materialized as tables; the others
//! are views that later models inline.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use datafusion::execution::context::SessionState;
use datafusion::sql::parser::Statement as DfStatement;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, Statement, TableFactor, Value, Visit, Visitor,
};
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode, Span, first_line};

/// The layer whose models are written to the warehouse.
pub const MATERIALIZED_LAYER: &str = "marts";

/// The header line that marks a view as computed once per run ([`Model::cached`]).
pub const CACHE_DIRECTIVE: &str = "touchstone: cache";

/// One SQL model.
#[derive(Debug, Clone)]
pub struct Model {
    /// Table name: the file stem.
    pub name: String,
    /// Directory below `sql/` (`intermediate`, `marts`).
    pub layer: String,
    /// The file.
    pub path: PathBuf,
    /// The file as shown in messages (relative to the working directory when possible).
    pub display: String,
    /// The SQL text.
    pub sql: String,
    /// Tables the query reads (lowercased, CTEs excluded), sorted.
    pub references: Vec<String>,
}

impl Model {
    /// Whether the model is written to the warehouse (`marts` layer) rather than a view.
    pub fn materialized(&self) -> bool {
        self.layer == MATERIALIZED_LAYER
    }

    /// Whether a view is computed once per run and held in memory rather than recomputed
    /// inside every model that reads it: its leading comment block has the line
    /// `-- touchstone: cache`. Worth it for a view several models read whose result is much
    /// smaller than its inputs (identity resolution, sessions); not for a row-level copy of a
    /// staging table, whose readers each need only some of its columns.
    pub fn cached(&self) -> bool {
        self.header().any(|l| l == CACHE_DIRECTIVE)
    }

    /// The lines of the leading `--` comment block, trimmed.
    fn header(&self) -> impl Iterator<Item = &str> {
        self.sql
            .lines()
            .map_while(|l| l.trim_start().strip_prefix("--"))
            .map(str::trim)
    }

    /// The leading `--` comment block (directives left out): the model's documentation.
    pub fn description(&self) -> String {
        self.header()
            .filter(|l| !l.starts_with("touchstone:"))
            .collect::<Vec<_>>()
            .join(" ")
            .trim()
            .to_string()
    }

    /// The place of the first mention of `word` in the SQL (for diagnostics).
    pub fn span_of(&self, word: &str) -> Span {
        let lower = word.to_lowercase();
        for (i, line) in self.sql.lines().enumerate() {
            if line.trim_start().starts_with("--") {
                continue;
            }
            let l = line.to_lowercase();
            let mut from = 0;
            while let Some(pos) = l[from..].find(&lower) {
                let start = from + pos;
                let end = start + lower.len();
                let boundary =
                    |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
                if boundary(l[..start].chars().last()) && boundary(l[end..].chars().next()) {
                    return Span::new(
                        &self.display,
                        i as u64 + 1,
                        l[..start].chars().count() as u64 + 1,
                    );
                }
                from = end;
            }
        }
        Span::new(&self.display, 1, 1)
    }
}

/// The files with one of `extensions` in the layer directories below `dir` (one level:
/// `<dir>/<layer>/<file>`), in path order, with a diagnostic for each layer directory that
/// cannot be read; an unreadable `dir` is an error.
pub(crate) fn layer_files(
    dir: &Path,
    extensions: &[&str],
) -> Result<(Vec<PathBuf>, Vec<Diagnostic>), Diagnostic> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let layers = std::fs::read_dir(dir).map_err(|e| unreadable(dir, e))?;
    for layer in layers.filter_map(Result::ok) {
        let layer_path = layer.path();
        if !layer_path.is_dir() {
            continue;
        }
        let entries = match std::fs::read_dir(&layer_path) {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(unreadable(&layer_path, e));
                continue;
            }
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path
                .extension()
                .is_some_and(|e| extensions.iter().any(|x| e == *x))
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok((files, problems))
}

/// A file or directory of the models that cannot be read.
fn unreadable(path: &Path, e: std::io::Error) -> Diagnostic {
    Diagnostic::new(
        ErrorCode::Unreadable,
        format!("cannot read {}: {e}", path.display()),
    )
    .with_help("set 'models:' in the pipeline to the directory holding <layer>/<table>.sql files")
}

/// `path` as shown in messages: relative to `base` when below it.
pub(crate) fn display_path(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// Reads every `*.sql` file below `dir` (one directory level: the layer), parses it and finds
/// its table references. Paths in messages are shown relative to `display_base`.
pub fn load_models(
    dir: &Path,
    display_base: &Path,
    state: &SessionState,
) -> Result<Vec<Model>, Diagnostics> {
    let (files, mut problems) = layer_files(dir, &["sql"])?;

    let mut models = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for path in files {
        let display = display_path(&path, display_base);
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let layer = path
            .parent()
            .and_then(Path::file_name)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(first) = seen.get(&name) {
            problems.push(
                Diagnostic::new(
                    ErrorCode::DuplicateName,
                    format!("model '{name}' is defined twice (also in {first})"),
                )
                .at(Span::new(&display, 1, 1))
                .with_help("table names are file stems and must be unique across layers"),
            );
            continue;
        }
        seen.insert(name.clone(), display.clone());
        let sql = match std::fs::read_to_string(&path) {
            Ok(sql) => sql,
            Err(e) => {
                problems.push(unreadable(&path, e).at(Span::new(&display, 1, 1)));
                continue;
            }
        };
        match parse(&display, &sql, state) {
            Ok(references) => models.push(Model {
                name,
                layer,
                path,
                display,
                sql,
                references,
            }),
            Err(d) => problems.push(d),
        }
    }
    Diagnostics::check(problems)?;
    Ok(models)
}

fn parse(display: &str, sql: &str, state: &SessionState) -> Result<Vec<String>, Diagnostic> {
    let statement = state.sql_to_statement(sql, &state.config().options().sql_parser.dialect).map_err(|e| {
        let message = e.strip_backtrace();
        let (line, column) = parser_position(&message)
            .or_else(|| message.contains("found: EOF").then(|| end_of(sql)))
            .unwrap_or((1, 1));
        Diagnostic::new(ErrorCode::SqlSyntax, first_line(&message))
            .at(Span::new(display, line, column))
            .with_help("each model file holds one SELECT (WITH ... SELECT allowed), no trailing statements")
    })?;
    let is_query = matches!(&statement, DfStatement::Statement(s) if matches!(s.as_ref(), Statement::Query(_)));
    if !is_query {
        return Err(Diagnostic::new(
            ErrorCode::NotASelect,
            "a model must be a single SELECT query",
        )
        .at(Span::new(display, 1, 1))
        .with_help("write the query that produces the table; Touchstone creates and writes it"));
    }
    let references = state.resolve_table_references(&statement).map_err(|e| {
        Diagnostic::new(ErrorCode::SqlSyntax, first_line(&e.strip_backtrace()))
            .at(Span::new(display, 1, 1))
    })?;
    // A table function is not a table; the tables it reads are its quoted arguments.
    let functions = state.table_functions();
    let mut names: Vec<String> = references
        .iter()
        .map(|r| r.table().to_lowercase())
        .filter(|name| !functions.contains_key(name))
        .collect();
    if let DfStatement::Statement(inner) = &statement {
        let mut visitor = FunctionArguments {
            functions: functions.keys().cloned().collect(),
            tables: Vec::new(),
        };
        let _ = inner.visit(&mut visitor);
        names.extend(visitor.tables);
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Collects the quoted arguments of table-function calls (`customer_value_model('customer_rfm')`).
struct FunctionArguments {
    functions: BTreeSet<String>,
    tables: Vec<String>,
}

impl Visitor for FunctionArguments {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        let (name, args) = match factor {
            TableFactor::Table {
                name,
                args: Some(args),
                ..
            } => (name, &args.args),
            TableFactor::Function { name, args, .. } => (name, args),
            _ => return ControlFlow::Continue(()),
        };
        let function = name.to_string().to_lowercase();
        if self.functions.contains(&function) {
            for arg in args {
                if let FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Value(v))) = arg
                    && let Value::SingleQuotedString(table) = &v.value
                {
                    self.tables.push(table.to_lowercase());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Orders models so that every model comes after the models it reads. `inputs` are the tables
/// that exist before any model runs (staging tables, run context). Unknown tables and cycles
/// are reported with their place.
pub fn order_models(
    models: Vec<Model>,
    inputs: &BTreeSet<String>,
) -> Result<Vec<Model>, Diagnostics> {
    let names: BTreeSet<String> = models.iter().map(|m| m.name.clone()).collect();
    let mut problems = Vec::new();
    for m in &models {
        for r in &m.references {
            if !names.contains(r) && !inputs.contains(r) {
                let known = names.iter().chain(inputs.iter()).map(String::as_str);
                problems.push(
                    Diagnostic::new(
                        ErrorCode::UnknownTable,
                        format!(
                            "model '{}' reads table '{r}', which no source or model provides",
                            m.name
                        ),
                    )
                    .at(m.span_of(r))
                    .suggest(r, known),
                );
            }
        }
    }
    Diagnostics::check(problems)?;

    // Kahn's algorithm, smallest name first, so the order is stable.
    let mut pending: BTreeMap<String, BTreeSet<String>> = models
        .iter()
        .map(|m| {
            let deps = m
                .references
                .iter()
                .filter(|r| names.contains(*r) && **r != m.name)
                .cloned()
                .collect();
            (m.name.clone(), deps)
        })
        .collect();
    let mut problems = Vec::new();
    let self_refs: Vec<&Model> = models
        .iter()
        .filter(|m| m.references.contains(&m.name))
        .collect();
    for m in &self_refs {
        problems.push(
            Diagnostic::new(
                ErrorCode::DependencyCycle,
                format!("model '{}' reads itself", m.name),
            )
            .at(m.span_of(&m.name))
            .with_help("a model cannot read its own output; read the tables it is built from"),
        );
    }
    Diagnostics::check(problems)?;
    let mut by_name: HashMap<String, Model> =
        models.into_iter().map(|m| (m.name.clone(), m)).collect();
    let mut ordered = Vec::new();
    loop {
        let ready: Vec<String> = pending
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            break;
        }
        for name in ready {
            pending.remove(&name);
            for deps in pending.values_mut() {
                deps.remove(&name);
            }
            if let Some(m) = by_name.remove(&name) {
                ordered.push(m);
            }
        }
    }
    if !pending.is_empty() {
        let cycle: Vec<String> = pending.keys().cloned().collect();
        let problems = cycle
            .iter()
            .filter_map(|name| by_name.get(name))
            .map(|m| {
                let deps: Vec<&str> = pending
                    .get(&m.name)
                    .map(|d| d.iter().map(String::as_str).collect())
                    .unwrap_or_default();
                Diagnostic::new(
                    ErrorCode::DependencyCycle,
                    format!(
                        "model '{}' is part of a dependency cycle (reads {})",
                        m.name,
                        deps.join(", ")
                    ),
                )
                .at(m.span_of(deps.first().copied().unwrap_or(&m.name)))
                .with_help(format!(
                    "models in the cycle: {}; break it by reading a staging table",
                    cycle.join(", ")
                ))
            })
            .collect();
        return Err(Diagnostics(problems));
    }
    Ok(ordered)
}

/// The position just after the last non-blank character.
fn end_of(sql: &str) -> (u64, u64) {
    let trimmed = sql.trim_end();
    let line = trimmed.lines().count().max(1) as u64;
    let column = trimmed.lines().last().map_or(0, |l| l.chars().count()) as u64 + 1;
    (line, column)
}

/// `Line: 3, Column: 7` in sqlparser messages.
pub(crate) fn parser_position(message: &str) -> Option<(u64, u64)> {
    let at = message.find("Line: ")?;
    let rest = &message[at + "Line: ".len()..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    fn write(dir: &Path, rel: &str, sql: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, sql).unwrap();
    }

    fn inputs() -> BTreeSet<String> {
        ["stg_a".to_string()].into_iter().collect()
    }

    #[test]
    fn orders_by_references_and_ignores_ctes() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "marts/c.sql",
            "-- C is the top.\nselect * from b join int_x using (id)",
        );
        write(
            dir.path(),
            "marts/b.sql",
            "with t as (select * from int_x) select * from t",
        );
        write(
            dir.path(),
            "intermediate/int_x.sql",
            "-- X, once.\n--   touchstone: cache\nselect * from stg_a -- touchstone: cache",
        );
        let state = SessionContext::new().state();
        let models = load_models(dir.path(), dir.path(), &state).unwrap();
        let b = models.iter().find(|m| m.name == "b").unwrap();
        assert_eq!(b.references, ["int_x"]);
        assert!(b.materialized());
        let ordered = order_models(models, &inputs()).unwrap();
        let names: Vec<_> = ordered.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["int_x", "b", "c"]);
        assert_eq!(ordered[2].description(), "C is the top.");
        // The directive marks int_x as cached and is not part of its description.
        assert!(ordered[0].cached() && !ordered[1].cached() && !ordered[2].cached());
        assert_eq!(ordered[0].description(), "X, once.");
    }

    #[test]
    fn unknown_table_is_located_and_suggested() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "marts/b.sql", "select *\nfrom   stg_aa");
        let state = SessionContext::new().state();
        let models = load_models(dir.path(), dir.path(), &state).unwrap();
        let err = order_models(models, &inputs()).unwrap_err();
        assert_eq!(err.codes(), [ErrorCode::UnknownTable]);
        let text = err.to_string();
        assert!(text.starts_with("marts/b.sql:2:8: error[E2002]"), "{text}");
        assert!(text.contains("did you mean 'stg_a'?"), "{text}");
    }

    #[test]
    fn cycles_syntax_and_non_selects_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "marts/a.sql", "select * from b");
        write(dir.path(), "marts/b.sql", "select * from a");
        let state = SessionContext::new().state();
        let models = load_models(dir.path(), dir.path(), &state).unwrap();
        let err = order_models(models, &inputs()).unwrap_err();
        assert_eq!(
            err.codes(),
            [ErrorCode::DependencyCycle, ErrorCode::DependencyCycle]
        );

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "marts/a.sql", "select 1 from t\nwhere ) x");
        write(dir.path(), "marts/b.sql", "insert into t values (1)");
        let err = load_models(dir.path(), dir.path(), &state).unwrap_err();
        assert_eq!(err.codes(), [ErrorCode::SqlSyntax, ErrorCode::NotASelect]);
        assert!(
            err.0[0]
                .span
                .as_ref()
                .is_some_and(|s| s.line == 2 && s.column == 7),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "marts/a.sql", "select 1 from t\nwhere\n");
        let err = load_models(dir.path(), dir.path(), &state).unwrap_err();
        assert_eq!(err.0[0].span, Some(Span::new("marts/a.sql", 2, 6)), "{err}");
    }
}
