//! What a run did: per-source counts, per-table rows and Delta versions, elapsed time. Printed
//! at the end of `touchstone run` (its `Display` is the text summary, `--json` its JSON) and
//! recorded in the ledger.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use touchstone_core::text::thousands;

/// A run's report.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Run id.
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Logical date.
    pub date: String,
    /// Warehouse URL.
    pub warehouse: String,
    /// Per source, in pipeline order.
    pub sources: Vec<SourceReport>,
    /// Per written table, in commit order.
    pub tables: Vec<TableReport>,
    /// Wall time in seconds.
    pub elapsed_secs: f64,
    /// A hash of each definition the run's outputs depend on (`sources`, `value`, `metrics`,
    /// `model:<name>`), so the ledger can tell whether a later run would compute the same
    /// thing (`touchstone backfill` skips dates committed under the same definitions).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub definitions: BTreeMap<String, String>,
    /// Wall time of each step, in order: `stage <source>`, `cache <view>` (a view marked
    /// `-- touchstone: cache` written to the spill directory), `model <mart>`, `metrics`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepReport>,
    /// Files the engine spilled to (`spill_dir`) because memory ran short of `memory_limit_mb`.
    #[serde(default)]
    pub spill_files: u64,
    /// Bytes the engine wrote to spill files.
    #[serde(default)]
    pub spilled_bytes: u64,
}

/// How long one step of a run took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// `stage <source>`, `cache <view>`, `model <mart>` or `metrics`.
    pub step: String,
    /// Wall time in seconds.
    pub secs: f64,
}

/// One source's counts: `rows_read = rows_staged + rows_rejected + duplicates`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReport {
    /// Source name.
    pub name: String,
    /// Its format.
    pub format: String,
    /// Files read.
    pub files: u64,
    /// Records read.
    pub rows_read: u64,
    /// Bytes of the files read (as stored, compressed or not).
    #[serde(default)]
    pub bytes_read: u64,
    /// Records staged.
    pub rows_staged: u64,
    /// Records rejected.
    pub rows_rejected: u64,
    /// Records delivered twice (at-least-once streams), counted and not staged again.
    #[serde(default)]
    pub duplicates: u64,
    /// Staged records whose text was repaired (invalid bytes replaced).
    #[serde(default)]
    pub rows_repaired: u64,
    /// Files unchanged since an earlier run staged them (same size, ETag or modification time):
    /// not read again, their rows kept.
    #[serde(default)]
    pub files_unchanged: u64,
    /// Files that could not be read; each is a reject row (line 0) naming it and why, and the
    /// records after the failure are unread.
    #[serde(default)]
    pub files_rejected: u64,
    /// Files next to the source's files that its pattern does not match (not read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files_ignored: Vec<String>,
    /// What the readers noticed, with the number of records concerned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub warnings: BTreeMap<String, u64>,
}

/// One committed table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableReport {
    /// `staging/<name>`, `marts/<name>`, `rejects/<source>`.
    pub table: String,
    /// Rows the run wrote to it (for staging: the rows of this run's sources).
    pub rows: u64,
    /// The Delta version the commit created.
    #[serde(default)]
    pub version: u64,
}

impl RunReport {
    /// Rows read, staged and rejected over every source.
    pub fn totals(&self) -> (u64, u64, u64) {
        self.sources.iter().fold((0, 0, 0), |(r, s, j), x| {
            (r + x.rows_read, s + x.rows_staged, j + x.rows_rejected)
        })
    }

    /// The table report of `table` (`marts/fct_calls`), if the run wrote it.
    pub fn table(&self, table: &str) -> Option<&TableReport> {
        self.tables.iter().find(|t| t.table == table)
    }
}

impl fmt::Display for RunReport {
    /// The end-of-run summary: a line on the run, a table of sources, a table of tables, and
    /// where to look when rows were rejected.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (read, staged, rejected) = self.totals();
        writeln!(
            out,
            "Run of '{}' for {} finished in {:.1} s (run id {})",
            self.pipeline, self.date, self.elapsed_secs, self.run_id
        )?;
        writeln!(out, "Warehouse: {}", self.warehouse)?;
        writeln!(out)?;
        let width = self
            .sources
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let row = |out: &mut fmt::Formatter<'_>, cells: [&str; 5]| {
            writeln!(
                out,
                "  {:width$}  {:>6}  {:>12}  {:>12}  {:>9}",
                cells[0], cells[1], cells[2], cells[3], cells[4]
            )
        };
        row(out, ["source", "files", "read", "staged", "rejected"])?;
        for s in &self.sources {
            row(
                out,
                [
                    &s.name,
                    &s.files.to_string(),
                    &thousands(s.rows_read),
                    &thousands(s.rows_staged),
                    &thousands(s.rows_rejected),
                ],
            )?;
        }
        row(
            out,
            [
                "total",
                "",
                &thousands(read),
                &thousands(staged),
                &thousands(rejected),
            ],
        )?;
        writeln!(out)?;
        let width = self
            .tables
            .iter()
            .map(|t| t.table.len())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(
            out,
            "  {:width$}  {:>12}  {:>8}",
            "table", "rows", "version"
        )?;
        let mut tables: Vec<&TableReport> = self.tables.iter().collect();
        tables.sort_by_key(|t| order_key(&t.table));
        for t in tables {
            writeln!(
                out,
                "  {:width$}  {:>12}  {:>8}",
                t.table,
                thousands(t.rows),
                t.version
            )?;
        }
        let notes: Vec<String> = self
            .sources
            .iter()
            .flat_map(|s| {
                let mut notes = Vec::new();
                if s.duplicates > 0 {
                    notes.push(format!(
                        "{}: {} duplicate deliveries counted, not staged again",
                        s.name,
                        thousands(s.duplicates)
                    ));
                }
                if s.rows_repaired > 0 {
                    notes.push(format!(
                        "{}: {} records staged with invalid text replaced (see `encoding:`)",
                        s.name,
                        thousands(s.rows_repaired)
                    ));
                }
                if s.files_rejected > 0 {
                    notes.push(format!(
                        "{}: {} file(s) could not be read; see rejects_{} (line 0)",
                        s.name, s.files_rejected, s.name
                    ));
                }
                for f in &s.files_ignored {
                    notes.push(format!(
                        "{}: {f} does not match the source's path; not read",
                        s.name
                    ));
                }
                for (w, n) in &s.warnings {
                    notes.push(format!("{}: {w} ({} records)", s.name, thousands(*n)));
                }
                notes
            })
            .collect();
        if !notes.is_empty() {
            writeln!(out)?;
            writeln!(out, "Warnings:")?;
            for n in notes {
                writeln!(out, "  {n}")?;
            }
        }
        if self.spill_files > 0 {
            writeln!(out)?;
            writeln!(
                out,
                "Memory ran short of memory_limit_mb: the engine spilled {} MB to disk in {} files (spill_dir).",
                thousands(self.spilled_bytes.div_ceil(1_000_000)),
                thousands(self.spill_files)
            )?;
        }
        if rejected > 0 {
            writeln!(out)?;
            writeln!(
                out,
                "{rejected} rows were rejected; each is in rejects/<source> with file, line and reason, e.g.\n  touchstone query \"select _source_file, _source_line, reason from rejects_{} limit 10\"",
                self.sources
                    .iter()
                    .find(|s| s.rows_rejected > 0)
                    .map_or("SOURCE", |s| s.name.as_str())
            )?;
        }
        Ok(())
    }
}

fn order_key(table: &str) -> (u8, String) {
    let rank = match table.split('/').next() {
        Some("staging") => 0,
        Some("marts") => 1,
        _ => 2,
    };
    (rank, table.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_sources_and_tables_in_order() {
        let report = RunReport {
            run_id: "r".into(),
            pipeline: "p".into(),
            date: "2026-10-29".into(),
            warehouse: "memory://w/".into(),
            sources: vec![SourceReport {
                name: "web".into(),
                format: "segment_events".into(),
                files: 2,
                rows_read: 1200,
                rows_staged: 1199,
                rows_rejected: 1,
                ..SourceReport::default()
            }],
            tables: vec![
                TableReport {
                    table: "marts/fct_calls".into(),
                    rows: 5,
                    version: 3,
                },
                TableReport {
                    table: "staging/stg_web_events".into(),
                    rows: 1199,
                    version: 0,
                },
            ],
            elapsed_secs: 1.25,
            ..RunReport::default()
        };
        let text = report.to_string();
        assert!(text.contains("  web          2         1,200         1,199          1"));
        let staging = text.find("staging/stg_web_events").unwrap();
        let marts = text.find("marts/fct_calls").unwrap();
        assert!(staging < marts, "{text}");
        assert!(text.contains("from rejects_web"), "{text}");
        assert_eq!(report.totals(), (1200, 1199, 1));
    }
}
