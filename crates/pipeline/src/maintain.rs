//! Housekeeping: `touchstone maintain` (compact and vacuum every table, under the pipeline's
//! lock) and the literal-secret check of `touchstone validate`.

use std::sync::Arc;

use touchstone_core::clock::Clock;
use touchstone_load::{Maintained, Warehouse};

use crate::lease::{DEFAULT_LEASE_TTL, RunLease};
use crate::{PipelineError, Prepared};

/// Compacts small files and vacuums versions older than the pipeline's `retention_days` in
/// every table of its warehouse. Holds the pipeline's lock meanwhile (it commits to the tables
/// a run writes), so it fails with [`PipelineError::LockHeld`] while a run is going on.
pub async fn maintain(
    prepared: &Prepared,
    clock: Arc<dyn Clock>,
) -> Result<Vec<Maintained>, PipelineError> {
    let pipeline = &prepared.pipeline;
    let warehouse = Warehouse::open(&pipeline.warehouse)
        .map_err(PipelineError::storage("opening the warehouse"))?;
    let id = format!(
        "{}-maintain-{}",
        pipeline.name,
        clock.now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let lease = RunLease::acquire(
        &warehouse,
        &pipeline.name,
        &id,
        clock,
        DEFAULT_LEASE_TTL,
        None,
    )
    .await?;
    let result = warehouse
        .maintain(chrono::Duration::days(i64::from(pipeline.retention_days)))
        .await
        .map_err(PipelineError::storage("maintaining the warehouse"));
    lease.release().await;
    result
}

/// What `touchstone maintain` did, as it prints it: one line per table (files compacted,
/// written and deleted) under a header, then the number of tables and the retention.
///
/// ```
/// use touchstone_pipeline::{MaintainTable, Maintained};
/// let done = [Maintained {
///     table: "marts/fct_calls".into(),
///     files_compacted: 4,
///     files_written: 1,
///     files_deleted: 3,
/// }];
/// let text = MaintainTable { tables: &done, retention_days: 7 }.to_string();
/// assert_eq!(text.lines().nth(1), Some(
///     "  marts/fct_calls                               4        1        3"));
/// assert!(text.ends_with("1 tables maintained; versions of the last 7 days kept\n"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MaintainTable<'a> {
    /// What [`maintain`] returned.
    pub tables: &'a [Maintained],
    /// The pipeline's `retention_days`.
    pub retention_days: u32,
}

impl std::fmt::Display for MaintainTable<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            out,
            "  {:36}  {:>9}  {:>7}  {:>7}",
            "table", "compacted", "written", "deleted"
        )?;
        for m in self.tables {
            writeln!(
                out,
                "  {:36}  {:>9}  {:>7}  {:>7}",
                m.table, m.files_compacted, m.files_written, m.files_deleted
            )?;
        }
        writeln!(
            out,
            "{} tables maintained; versions of the last {} days kept",
            self.tables.len(),
            self.retention_days
        )
    }
}

/// Literal secrets in a pipeline file's text, as `file:line: warning: ...` lines: credentials
/// belong in the environment (`${VAR}`) or the cloud provider's credential chain, not in YAML
/// that is committed to a repository. Looks for AWS access key ids, Azure account keys and
/// SAS signatures, passwords in URLs, and keys named like secrets with a literal value.
pub fn secret_warnings(file: &str, text: &str) -> Vec<String> {
    const KEYS: [&str; 8] = [
        "password",
        "secret",
        "token",
        "access_key",
        "account_key",
        "sas_key",
        "api_key",
        "private_key",
    ];
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or(line);
        if code.trim_start().starts_with('#') {
            continue;
        }
        let mut why = None;
        if aws_key_id(code) {
            why = Some("an AWS access key id");
        } else if code.contains("AccountKey=") || code.contains("SharedAccessSignature=") {
            why = Some("an Azure storage key");
        } else if code.contains("sig=") && code.contains("://") {
            why = Some("a signed URL (SAS) signature");
        } else if password_in_url(code) {
            why = Some("a password in a URL");
        } else if let Some((key, value)) = code.split_once(':') {
            let key = key.trim().trim_start_matches("- ").to_ascii_lowercase();
            let value = value.trim();
            if KEYS.iter().any(|k| key.contains(k)) && !value.is_empty() && !value.starts_with("${")
            {
                why = Some("a literal value for a secret");
            }
        }
        if let Some(why) = why {
            out.push(format!(
                "{file}:{}: warning: {why} is written in the file; read it from the environment \
                 (`${{VAR}}`) or the provider's credential chain (AWS_*, AZURE_*, GOOGLE_*) instead",
                i + 1
            ));
        }
    }
    out
}

/// `AKIA` or `ASIA` followed by 16 upper-case letters or digits.
fn aws_key_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    (0..bytes.len()).any(|i| {
        (text[i..].starts_with("AKIA") || text[i..].starts_with("ASIA"))
            && bytes.len() >= i + 20
            && bytes[i + 4..i + 20]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    })
}

/// `scheme://user:password@host`.
fn password_in_url(text: &str) -> bool {
    text.split("://").skip(1).any(|rest| {
        let authority = rest.split('/').next().unwrap_or("");
        authority
            .split_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':') && !userinfo.contains("${"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_secrets_are_named_by_line_and_variables_are_not() {
        let text = "name: p\n\
            warehouse: s3://AKIAIOSFODNN7EXAMPLE@bucket/wh\n\
            # password: in a comment is fine\n\
            sources:\n\
            \x20 - name: a\n\
            \x20   path: https://acct.blob.core.windows.net/c/x.csv?sv=2024&sig=abc%3D\n\
            \x20 - name: b\n\
            \x20   path: sftp://me:hunter2@host/exports\n\
            \x20 - name: c\n\
            \x20   path: ${RAW}/c.csv\n\
            \x20   api_key: ${API_KEY}\n\
            \x20   token: abc123\n\
            conn: DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9v\n";
        let warnings = secret_warnings("p.yaml", text);
        let lines: Vec<&str> = warnings
            .iter()
            .map(|w| w.split(": warning").next().unwrap())
            .collect();
        assert_eq!(
            lines,
            ["p.yaml:2", "p.yaml:6", "p.yaml:8", "p.yaml:12", "p.yaml:13"],
            "{warnings:#?}"
        );
        assert!(warnings[0].contains("AWS access key id"));
        assert!(warnings[0].contains("environment"));
    }
}
