//! What a client may run, decided before anything is planned, and the PostgreSQL error codes
//! of what it may not.
//!
//! Reads go through [`touchstone_pipeline::check_read_only_statement`] (the rule `touchstone
//! query` applies); on top of it the session statements PostgreSQL clients send at connect time
//! (`SET`, `SHOW`, `BEGIN`/`COMMIT`/`ROLLBACK`, cursors) are let through, except a `SET` that
//! would change the engine's settings, which every session shares.

use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError};
use touchstone_pipeline::PipelineError;

/// PostgreSQL error codes (SQLSTATE) the server answers with.
pub mod code {
    /// `read_only_sql_transaction`: a statement that would write.
    pub const READ_ONLY: &str = "25006";
    /// `insufficient_privilege`: reaching outside the warehouse, changing engine settings.
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    /// `syntax_error`.
    pub const SYNTAX_ERROR: &str = "42601";
    /// `undefined_table`.
    pub const UNDEFINED_TABLE: &str = "42P01";
    /// `undefined_column`.
    pub const UNDEFINED_COLUMN: &str = "42703";
    /// `undefined_function`.
    pub const UNDEFINED_FUNCTION: &str = "42883";
    /// `syntax_error_or_access_rule_violation`: other planning errors.
    pub const PLANNING: &str = "42000";
    /// `feature_not_supported`; also "cached plan must not change result type".
    pub const NOT_SUPPORTED: &str = "0A000";
    /// `query_canceled`: the statement timeout.
    pub const QUERY_CANCELED: &str = "57014";
    /// `out_of_memory`: the query needs more than the memory limit.
    pub const OUT_OF_MEMORY: &str = "53200";
    /// `too_many_connections`.
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    /// `data_exception`: a runtime error in the data (a cast that fails, division by zero).
    pub const DATA_EXCEPTION: &str = "22000";
    /// `system_error`: reading the warehouse failed.
    pub const SYSTEM_ERROR: &str = "58000";
    /// `internal_error`.
    pub const INTERNAL: &str = "XX000";
}

/// An `ERROR` with `code` and `message`.
pub fn error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        code.to_string(),
        message.into(),
    )))
}

/// How the server treats an allowed statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Run it (a read, or a session statement the PostgreSQL layer answers).
    Run,
    /// A `SET` of a parameter the server does not keep: answered `SET` and otherwise
    /// ignored, as clients send settings (`client_min_messages`, `TimeZone`, ...) that do not
    /// change what a read returns here.
    IgnoredSet,
}

/// The session parameters the PostgreSQL layer keeps per connection (`SET x = ...`).
const SESSION_PARAMETERS: &[&str] = &[
    "statement_timeout",
    "datestyle",
    "bytea_output",
    "intervalstyle",
    "application_name",
    "extra_float_digits",
    "search_path",
];

/// Parses `sql` into statements and checks every one; nothing runs when one is refused.
pub fn check(sql: &str) -> Result<Vec<(Statement, Allowed)>, PgWireError> {
    // DataFusion's own parser knows the statements a PostgreSQL parser does not: CREATE
    // EXTERNAL TABLE, COPY ... TO a file.
    if let Ok(statements) = DFParser::parse_sql_with_dialect(sql, &PostgreSqlDialect {}) {
        for statement in &statements {
            if !matches!(statement, DfStatement::Statement(_)) {
                touchstone_pipeline::check_read_only_df_statement(statement).map_err(refusal)?;
            }
        }
    }
    let statements = PostgresCompatibilityParser::new()
        .parse(sql)
        .map_err(|e| error(code::SYNTAX_ERROR, format!("syntax error: {e}")))?;
    statements
        .into_iter()
        .map(|s| {
            let allowed = check_statement(&s)?;
            Ok((s, allowed))
        })
        .collect()
}

/// Checks one parsed statement.
pub fn check_statement(statement: &Statement) -> Result<Allowed, PgWireError> {
    match statement {
        Statement::Set(set) => check_set(statement, set),
        Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. } => Ok(Allowed::Run),
        Statement::Declare { stmts } => {
            for declare in stmts {
                if let Some(query) = &declare.for_query {
                    touchstone_pipeline::check_read_only_statement(&Statement::Query(
                        query.clone(),
                    ))
                    .map_err(refusal)?;
                }
            }
            Ok(Allowed::Run)
        }
        other => touchstone_pipeline::check_read_only_statement(other)
            .map(|()| Allowed::Run)
            .map_err(refusal),
    }
}

fn check_set(statement: &Statement, set: &Set) -> Result<Allowed, PgWireError> {
    if statement.to_string().to_lowercase().contains("datafusion.") {
        return Err(error(
            code::INSUFFICIENT_PRIVILEGE,
            "the engine's settings (datafusion.*) are the server's, shared by every session, \
             and cannot be changed by a client",
        ));
    }
    match set {
        Set::SingleAssignment {
            scope: None,
            hivevar: false,
            variable,
            values,
        } if !values.is_empty()
            && SESSION_PARAMETERS.contains(&variable.to_string().to_lowercase().as_str()) =>
        {
            Ok(Allowed::Run)
        }
        Set::SetTimeZone { local: false, .. } => Ok(Allowed::Run),
        _ => Ok(Allowed::IgnoredSet),
    }
}

/// The PostgreSQL error for a refused statement.
fn refusal(e: PipelineError) -> PgWireError {
    match e {
        PipelineError::ReadOnly(m) => error(code::READ_ONLY, m),
        PipelineError::OutsideWarehouse(m) => error(code::INSUFFICIENT_PRIVILEGE, m),
        PipelineError::Query(m) => error(code::SYNTAX_ERROR, m),
        other => error(code::INTERNAL, other.to_string()),
    }
}

/// The PostgreSQL error for an engine error (from planning or while rows stream).
pub fn engine_error(e: &datafusion::error::DataFusionError) -> PgWireError {
    use datafusion::error::DataFusionError as E;
    let message = e.strip_backtrace();
    let root = e.find_root();
    let code = match root {
        E::ResourcesExhausted(_) => {
            return error(
                code::OUT_OF_MEMORY,
                format!(
                    "the query needs more memory than the server allows its queries \
                     (--memory-limit-mb); narrow it (filters, fewer columns, LIMIT): {message}"
                ),
            );
        }
        E::SQL(..) => code::SYNTAX_ERROR,
        E::SchemaError(..) => code::UNDEFINED_COLUMN,
        E::Plan(m) if m.contains("not found") && m.contains("table") => code::UNDEFINED_TABLE,
        E::Plan(m)
            if m.contains("Invalid function")
                || m.contains("function") && m.contains("not found") =>
        {
            code::UNDEFINED_FUNCTION
        }
        E::Plan(_) => code::PLANNING,
        E::NotImplemented(_) => code::NOT_SUPPORTED,
        E::Execution(_) | E::ArrowError(..) => code::DATA_EXCEPTION,
        E::ObjectStore(_) | E::IoError(_) | E::ParquetError(_) => code::SYSTEM_ERROR,
        _ => code::INTERNAL,
    };
    error(code, message)
}

/// Maps an error of the PostgreSQL layer: an engine error inside gets its own code.
pub fn map_error(e: PgWireError) -> PgWireError {
    match e {
        PgWireError::ApiError(inner) => {
            match inner.downcast::<datafusion::error::DataFusionError>() {
                Ok(df) => engine_error(&df),
                Err(other) => error(code::INTERNAL, other.to_string()),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(sql: &str) -> String {
        match check(sql) {
            Ok(_) => "ok".into(),
            Err(PgWireError::UserError(info)) => info.code.clone(),
            Err(other) => format!("{other}"),
        }
    }

    #[test]
    fn reads_and_session_statements_pass() {
        for sql in [
            "select 1",
            "select n.nspname from pg_catalog.pg_namespace n where n.nspname !~ '^pg_'",
            "with t as (select 1 as x) select x from t",
            "explain select * from marts.fct_calls",
            "show search_path",
            "begin read only",
            "commit",
            "rollback",
            "SET extra_float_digits = 3",
            "SET application_name = 'PostgreSQL JDBC Driver'",
            "declare c cursor for select 1",
            "select 1; select 2",
        ] {
            assert_eq!(code_of(sql), "ok", "{sql}");
        }
    }

    #[test]
    fn writes_are_refused_as_read_only() {
        for sql in [
            "insert into marts.fct_calls select * from marts.fct_calls",
            "update marts.fct_calls set outcome = 'x'",
            "delete from marts.fct_calls",
            "create table t as select 1",
            "drop table marts.fct_calls",
            "create external table t stored as csv location '/etc/passwd'",
            "copy (select 1) to '/tmp/x.csv'",
            "copy marts.fct_calls to stdout",
            "select * into t2 from marts.fct_calls",
            "select 1; drop table marts.fct_calls",
            "declare c cursor for select * into t3 from marts.fct_calls",
        ] {
            assert_eq!(code_of(sql), code::READ_ONLY, "{sql}");
        }
    }

    #[test]
    fn reaching_outside_or_changing_engine_settings_is_a_privilege_error() {
        for sql in [
            "select pg_read_file('/etc/passwd')",
            "select * from read_parquet('/tmp/x.parquet')",
            "select * from \"/etc/passwd\"",
            "set datafusion.execution.batch_size = 1",
            "set session datafusion.execution.time_zone = 'x'",
        ] {
            assert_eq!(code_of(sql), code::INSUFFICIENT_PRIVILEGE, "{sql}");
        }
    }

    #[test]
    fn unknown_settings_are_ignored_and_known_ones_run() {
        let allowed = |sql: &str| check(sql).unwrap()[0].1;
        assert_eq!(
            allowed("SET client_min_messages = warning"),
            Allowed::IgnoredSet
        );
        assert_eq!(allowed("SET timezone = 'UTC'"), Allowed::IgnoredSet);
        assert_eq!(
            allowed("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"),
            Allowed::IgnoredSet
        );
        assert_eq!(allowed("SET statement_timeout = 1000"), Allowed::Run);
        assert_eq!(allowed("SET TIME ZONE 'UTC'"), Allowed::Run);
    }

    #[test]
    fn malformed_sql_is_a_syntax_error() {
        assert_eq!(code_of("selec 1 from"), code::SYNTAX_ERROR);
        assert_eq!(code_of("select (1"), code::SYNTAX_ERROR);
    }
}
