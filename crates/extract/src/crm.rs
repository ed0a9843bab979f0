//! Salesforce data-export CSVs (Account, Contact, Case, Opportunity, Order) → `stg_accounts`,
//! `stg_contacts`, `stg_cases`, `stg_opportunities`, `stg_orders`, `source_system = 'salesforce'`.
//!
//! One CSV per object, headed by API field names, as every Salesforce tool writes them (the
//! weekly Data Export, Data Loader, Workbench, Bulk API, and Fivetran-style snake_case copies):
//! columns are found by name (trimmed, case-insensitive, then on letters and digits alone, so
//! `CreatedDate`, `CREATEDDATE` and `created_date` are one column), in any order. Columns
//! Touchstone does not read are not staged, with one warning per file naming them; a missing
//! optional column is a warning naming it (its staging column is null). A missing required
//! column is a file error ([`ExtractError::MissingColumn`]); a record whose field count differs
//! from the header's, or with a value that does not parse, is a reject naming the column. A
//! header-only file is 0 rows.
//!
//! Values: empty is null; booleans `true`/`false`, `1`/`0` (Data Export), `yes`/`no`, any case;
//! datetimes in every form the tools write — `2026-08-01T14:22:31.000Z`, `+0000` / `+00:00`
//! offsets, with or without `T`, fraction and seconds, `2018-10-13 17:16:45` — where a
//! zone-less datetime is in the source's `timezone:` (default UTC; daylight-saving gaps and
//! overlaps are counted as warnings); a date alone in a datetime column is midnight; dates
//! `2026-08-01` (a datetime in a date column gives its date part as written); numbers as
//! written (`1234.5`). Text is kept exactly as exported (no trimming; emails and phones are
//! normalized later, in SQL). `IsDeleted` empty or absent is `false`. In lookup columns
//! (`AccountId`, `OwnerId`, ...) the Data Export's null reference `000000000000000AAA` is null.
//!
//! | object | required columns | maps |
//! |---|---|---|
//! | Account | Id, Name, CreatedDate | Id→account_id, Name, Type, Industry, Phone, BillingCountry, OwnerId, CreatedDate→created_at, LastModifiedDate→updated_at, IsDeleted |
//! | Contact | Id, CreatedDate | Id→contact_id, AccountId, FirstName, LastName, Email, Phone, MobilePhone, MailingCountry→country, OwnerId, CreatedDate, LastModifiedDate, IsDeleted |
//! | Case | Id, CreatedDate | Id→case_id, CaseNumber, AccountId, ContactId, ParentId, SuppliedEmail, SuppliedPhone, Origin, Type, Reason, Status, IsClosed, IsEscalated, Priority, Subject, OwnerId, CreatedDate, ClosedDate→closed_at, LastModifiedDate, IsDeleted |
//! | Opportunity | Id, CreatedDate | Id→opportunity_id, AccountId, Name, StageName, Amount, Probability, CloseDate (date), Type, LeadSource, IsClosed, IsWon, OwnerId, CreatedDate, LastModifiedDate, IsDeleted |
//! | Order | Id, EffectiveDate, CreatedDate | Id→order_id, AccountId, BillToContactId→contact_id, OrderNumber, Status, EffectiveDate (date), TotalAmount, Product_Category__c→product_category, CreatedDate, LastModifiedDate, IsDeleted |
//!
//! An empty `Id` is a reject, and so is an empty value where the staging column is required
//! (`CreatedDate` of Case, Opportunity and Order; `EffectiveDate` of Order).

use std::io::BufRead;

use touchstone_core::StagingTable;

use crate::header::{Header, read_records, warn_missing, warn_unread};
use crate::input::{CsvReader, shown};
use crate::table::TableBuilder;
use crate::time::{Placed, parse_date_loose, parse_datetime};
use crate::{Ctx, ExtractError, ReadOptions};

/// The Salesforce objects Touchstone stages. Spelled as the object's API name (`Account`) in
/// pipeline YAML (`object: Account`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SalesforceObject {
    /// `Account.csv` → `stg_accounts`.
    Account,
    /// `Contact.csv` → `stg_contacts`.
    Contact,
    /// `Case.csv` → `stg_cases`.
    Case,
    /// `Opportunity.csv` → `stg_opportunities`.
    Opportunity,
    /// `Order.csv` → `stg_orders`.
    Order,
}

impl SalesforceObject {
    /// Every object, in a stable order.
    pub const ALL: [SalesforceObject; 5] = [
        SalesforceObject::Account,
        SalesforceObject::Contact,
        SalesforceObject::Case,
        SalesforceObject::Opportunity,
        SalesforceObject::Order,
    ];

    /// The object's API name, e.g. `Order`.
    pub fn name(self) -> &'static str {
        match self {
            SalesforceObject::Account => "Account",
            SalesforceObject::Contact => "Contact",
            SalesforceObject::Case => "Case",
            SalesforceObject::Opportunity => "Opportunity",
            SalesforceObject::Order => "Order",
        }
    }

    /// The staging table the object's rows go to.
    pub fn table(self) -> StagingTable {
        match self {
            SalesforceObject::Account => StagingTable::Accounts,
            SalesforceObject::Contact => StagingTable::Contacts,
            SalesforceObject::Case => StagingTable::Cases,
            SalesforceObject::Opportunity => StagingTable::Opportunities,
            SalesforceObject::Order => StagingTable::Orders,
        }
    }

    /// Tells the object from a file name or URL, as the weekly export names its files:
    /// the last path segment, without `.gz`/`.zst` and `.csv`, without a `-2` / `_2` part
    /// number, case-insensitive.
    ///
    /// ```
    /// use touchstone_extract::SalesforceObject;
    /// assert_eq!(SalesforceObject::from_file_name("Order.csv"), Some(SalesforceObject::Order));
    /// assert_eq!(SalesforceObject::from_file_name("s3://b/raw/salesforce/Order-2.csv"), Some(SalesforceObject::Order));
    /// assert_eq!(SalesforceObject::from_file_name("order.csv.gz"), Some(SalesforceObject::Order));
    /// assert_eq!(SalesforceObject::from_file_name("OrderItem.csv"), None);
    /// ```
    pub fn from_file_name(name: &str) -> Option<SalesforceObject> {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let mut stem = base.to_ascii_lowercase();
        for ext in [".gz", ".gzip", ".zst", ".zstd", ".csv"] {
            if let Some(s) = stem.strip_suffix(ext) {
                stem.truncate(s.len());
            }
        }
        let trimmed = stem.trim_end_matches(|c: char| c.is_ascii_digit());
        let stem = if trimmed.len() < stem.len() {
            trimmed.strip_suffix(['-', '_']).unwrap_or(stem.as_str())
        } else {
            stem.as_str()
        };
        SalesforceObject::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(stem))
    }

    fn spec(self) -> &'static [Spec] {
        match self {
            SalesforceObject::Account => ACCOUNT,
            SalesforceObject::Contact => CONTACT,
            SalesforceObject::Case => CASE,
            SalesforceObject::Opportunity => OPPORTUNITY,
            SalesforceObject::Order => ORDER,
        }
    }
}

impl std::fmt::Display for SalesforceObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a CRM value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Kept exactly as exported.
    Text,
    /// A reference to another record's id: as text, with Salesforce's null-reference sentinel
    /// (`000000000000000AAA`) read as null.
    Ref,
    /// `true`/`false`, `1`/`0`, `yes`/`no` (any case); empty is null.
    Bool,
    /// Like `Bool`, but empty or absent is `false` (`IsDeleted`).
    Deleted,
    /// A datetime in any form the CRM tools write ([`parse_datetime`]); zone-less ones are in
    /// the source's `timezone:`.
    DateTime,
    /// A date, or a datetime whose date part is taken as written.
    Date,
    /// A number as written (`1234.5`).
    Number,
    /// A deal's closed flag: its own column when present and set, else told from the stage
    /// (`closedwon`, `closedlost`, `Closed Won`, `Closed Lost` are closed).
    StageClosed,
    /// A deal's won flag: its own column, else told from the stage (`closedwon`, `Closed Won`).
    StageWon,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Text | Kind::Ref => "text",
            Kind::Bool | Kind::Deleted | Kind::StageClosed | Kind::StageWon => "true/false or 1/0",
            Kind::DateTime => {
                "a datetime like 2026-08-01T14:22:31.000Z or 2026-08-01 14:22:31 (zone-less \
                 times are in the source's timezone)"
            }
            Kind::Date => "a date like 2026-08-01",
            Kind::Number => "a number like 1234.5",
        }
    }
}

/// One staging column and the export columns it may come from (the first one the header has
/// wins; names are matched trimmed and case-insensitive, then on letters and digits alone, so
/// `CreatedDate` also finds `created_date` and `Created Date`).
pub(crate) struct Spec {
    pub(crate) column: &'static str,
    pub(crate) names: &'static [&'static str],
    pub(crate) kind: Kind,
    /// An empty value is a reject (the staging column is not nullable).
    pub(crate) required: bool,
}

const fn opt(column: &'static str, api: &'static [&'static str], kind: Kind) -> Spec {
    Spec {
        column,
        names: api,
        kind,
        required: false,
    }
}

const fn req(column: &'static str, api: &'static [&'static str], kind: Kind) -> Spec {
    Spec {
        column,
        names: api,
        kind,
        required: true,
    }
}

pub(crate) use Kind::{Bool, Date, DateTime, Deleted, Number, Ref, StageClosed, StageWon, Text};

const ACCOUNT: &[Spec] = &[
    req("account_id", &["Id"], Text),
    opt("name", &["Name"], Text),
    opt("type", &["Type"], Text),
    opt("industry", &["Industry"], Text),
    opt("phone", &["Phone"], Text),
    opt("billing_country", &["BillingCountry"], Text),
    opt("owner_id", &["OwnerId"], Ref),
    opt("created_at", &["CreatedDate"], DateTime),
    opt("updated_at", &["LastModifiedDate"], DateTime),
    opt("is_deleted", &["IsDeleted"], Deleted),
];

const CONTACT: &[Spec] = &[
    req("contact_id", &["Id"], Text),
    opt("account_id", &["AccountId"], Ref),
    opt("first_name", &["FirstName"], Text),
    opt("last_name", &["LastName"], Text),
    opt("email", &["Email"], Text),
    opt("phone", &["Phone"], Text),
    opt("mobile_phone", &["MobilePhone"], Text),
    opt("country", &["MailingCountry"], Text),
    opt("owner_id", &["OwnerId"], Ref),
    opt("created_at", &["CreatedDate"], DateTime),
    opt("updated_at", &["LastModifiedDate"], DateTime),
    opt("is_deleted", &["IsDeleted"], Deleted),
];

const CASE: &[Spec] = &[
    req("case_id", &["Id"], Text),
    opt("case_number", &["CaseNumber"], Text),
    opt("account_id", &["AccountId"], Ref),
    opt("contact_id", &["ContactId"], Ref),
    opt("parent_id", &["ParentId"], Ref),
    opt("supplied_email", &["SuppliedEmail"], Text),
    opt("supplied_phone", &["SuppliedPhone"], Text),
    opt("origin", &["Origin"], Text),
    opt("type", &["Type"], Text),
    opt("reason", &["Reason"], Text),
    opt("status", &["Status"], Text),
    opt("is_closed", &["IsClosed"], Bool),
    opt("is_escalated", &["IsEscalated"], Bool),
    opt("priority", &["Priority"], Text),
    opt("subject", &["Subject"], Text),
    opt("owner_id", &["OwnerId"], Ref),
    req("created_at", &["CreatedDate"], DateTime),
    opt("closed_at", &["ClosedDate"], DateTime),
    opt("updated_at", &["LastModifiedDate"], DateTime),
    opt("is_deleted", &["IsDeleted"], Deleted),
];

const OPPORTUNITY: &[Spec] = &[
    req("opportunity_id", &["Id"], Text),
    opt("account_id", &["AccountId"], Ref),
    opt("name", &["Name"], Text),
    opt("stage_name", &["StageName"], Text),
    opt("amount", &["Amount"], Number),
    opt("probability", &["Probability"], Number),
    opt("close_date", &["CloseDate"], Date),
    opt("type", &["Type"], Text),
    opt("lead_source", &["LeadSource"], Text),
    opt("is_closed", &["IsClosed"], Bool),
    opt("is_won", &["IsWon"], Bool),
    opt("owner_id", &["OwnerId"], Ref),
    req("created_at", &["CreatedDate"], DateTime),
    opt("updated_at", &["LastModifiedDate"], DateTime),
    opt("is_deleted", &["IsDeleted"], Deleted),
];

const ORDER: &[Spec] = &[
    req("order_id", &["Id"], Text),
    opt("account_id", &["AccountId"], Ref),
    opt("contact_id", &["BillToContactId"], Ref),
    opt("order_number", &["OrderNumber"], Text),
    opt("status", &["Status"], Text),
    req("effective_date", &["EffectiveDate"], Date),
    opt("total_amount", &["TotalAmount"], Number),
    opt("product_category", &["Product_Category__c"], Text),
    req("created_at", &["CreatedDate"], DateTime),
    opt("updated_at", &["LastModifiedDate"], DateTime),
    opt("is_deleted", &["IsDeleted"], Deleted),
];

/// One CRM export: the vendor, the object, where its rows go and how its columns map.
pub(crate) struct CrmExport<'a> {
    /// `source_system` of every row.
    pub(crate) vendor: &'static str,
    /// The export's name in messages (`Order`, `HubSpot contacts`).
    pub(crate) export: String,
    pub(crate) table: StagingTable,
    pub(crate) spec: &'a [Spec],
    /// Staging columns whose export column the file must have (a missing one is a file
    /// error); the hint says what else the column may be called.
    pub(crate) required_columns: &'a [&'static str],
}

pub(crate) fn read(
    opts: &ReadOptions,
    ctx: &mut Ctx<'_, '_>,
    input: &mut dyn BufRead,
) -> Result<(), ExtractError> {
    let file = ctx.lineage.file;
    let object = match opts.salesforce_object {
        Some(o) => o,
        None => SalesforceObject::from_file_name(file).ok_or_else(|| {
            ExtractError::UnknownSalesforceObject {
                file: file.to_owned(),
            }
        })?,
    };
    let required: &[&str] = match object {
        SalesforceObject::Account => &["account_id", "name", "created_at"],
        SalesforceObject::Contact => &["contact_id", "created_at"],
        SalesforceObject::Case => &["case_id", "created_at"],
        SalesforceObject::Opportunity => &["opportunity_id", "created_at"],
        SalesforceObject::Order => &["order_id", "effective_date", "created_at"],
    };
    let export = CrmExport {
        vendor: "salesforce",
        export: object.name().to_owned(),
        table: object.table(),
        spec: object.spec(),
        required_columns: required,
    };
    read_export(&export, opts, ctx, input, |name| name.to_owned())
}

/// Reads one CRM export CSV into its staging table. `rename` maps header names before they are
/// matched (HubSpot strips Fivetran's `property_` prefix).
pub(crate) fn read_export(
    export: &CrmExport<'_>,
    opts: &ReadOptions,
    ctx: &mut Ctx<'_, '_>,
    input: &mut dyn BufRead,
    rename: impl Fn(&str) -> String,
) -> Result<(), ExtractError> {
    let file = ctx.lineage.file;
    let mut reader = CsvReader::new(input, b',');
    let Some(header) = Header::read(&mut reader, ctx)? else {
        tracing::warn!(file, export = %export.export, "empty export: no header, no rows");
        return Ok(());
    };
    let names: Vec<String> = (0..header.len()).map(|i| rename(header.name(i))).collect();
    let header = Header::from_names(names, header.line);
    let at: Vec<Option<usize>> = export
        .spec
        .iter()
        .map(|s| header.find_any(s.names))
        .collect();
    for column in export.required_columns {
        let Some(k) = export.spec.iter().position(|s| s.column == *column) else {
            continue;
        };
        if at[k].is_none() {
            let spec = &export.spec[k];
            let others: Vec<String> = spec.names[1..].iter().map(|n| format!("'{n}'")).collect();
            return Err(ExtractError::MissingColumn {
                file: file.to_owned(),
                column: spec.names[0].to_owned(),
                export: export.export.clone(),
                hint: if others.is_empty() {
                    String::new()
                } else {
                    format!(" (also read as {})", others.join(", "))
                },
            });
        }
    }
    let stage = export.spec.iter().position(|s| s.column == "stage_name");
    let tz = opts.timezone;
    let mut notes = Notes::default();
    let read_before = ctx.stats.rows_read;
    read_records(&mut reader, &header, ctx, export.table, |r, tb| {
        let mut row_notes = Notes::default();
        let outcome = row(r, export, &at, stage, tz, tb, &mut row_notes);
        if outcome.is_ok() {
            notes.add(&row_notes);
        }
        outcome
    })?;
    let records = ctx.stats.rows_read - read_before;
    for (s, i) in export.spec.iter().zip(&at) {
        if i.is_none() && !s.required && records > 0 {
            warn_missing(ctx, &export.export, s.names[0], s.column, records);
        }
    }
    warn_unread(ctx, &header, &export.export, records);
    notes.warn(ctx, &export.export);
    Ok(())
}

/// Daylight-saving notes of staged rows, reported once per file.
#[derive(Default)]
pub(crate) struct Notes {
    pub(crate) gaps: u64,
    pub(crate) overlaps: u64,
}

impl Notes {
    pub(crate) fn add(&mut self, other: &Notes) {
        self.gaps += other.gaps;
        self.overlaps += other.overlaps;
    }

    pub(crate) fn note(&mut self, placed: Placed) {
        match placed {
            Placed::Exact => {}
            Placed::Gap => self.gaps += 1,
            Placed::Overlap => self.overlaps += 1,
        }
    }

    pub(crate) fn warn(&self, ctx: &mut Ctx<'_, '_>, export: &str) {
        if self.gaps > 0 {
            ctx.warn(
                format!(
                    "{export} export: local time in a daylight-saving gap (it never happened); \
                     read with the offset before the gap"
                ),
                self.gaps,
            );
        }
        if self.overlaps > 0 {
            ctx.warn(
                format!(
                    "{export} export: local time in a daylight-saving overlap (it happened \
                     twice); the earlier instant taken"
                ),
                self.overlaps,
            );
        }
    }
}

/// Salesforce's null reference: a lookup field with no record, as the weekly Data Export
/// writes it.
fn is_null_reference(v: &str) -> bool {
    matches!(v.trim(), "000000000000000AAA" | "000000000000000")
}

pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    let t = v.trim();
    if t.eq_ignore_ascii_case("true") || t == "1" || t.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") || t == "0" || t.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Whether a deal stage (internal id or label) is closed, and won.
fn stage_flags(stage: &str) -> (bool, bool) {
    let key = crate::header::loose_key(stage);
    match key.as_str() {
        "closedwon" => (true, true),
        "closedlost" => (true, false),
        _ => (false, false),
    }
}

fn row(
    r: &CsvReader<'_>,
    export: &CrmExport<'_>,
    at: &[Option<usize>],
    stage: Option<usize>,
    tz: chrono_tz::Tz,
    tb: &mut TableBuilder,
    notes: &mut Notes,
) -> Result<(), String> {
    tb.str("source_system", Some(export.vendor));
    let stage_value = stage
        .and_then(|k| at[k])
        .map(|i| r.text(i))
        .filter(|v| !v.trim().is_empty());
    for (s, i) in export.spec.iter().zip(at) {
        let name = s.names[0];
        let value = i
            .map(|i| r.text(i))
            .filter(|v| !v.is_empty())
            .filter(|v| !(s.kind == Ref && is_null_reference(v)));
        let Some(v) = value else {
            if s.required {
                return Err(format!(
                    "column '{name}': empty; expected {}",
                    s.kind.expected()
                ));
            }
            match s.kind {
                Text | Ref => tb.str(s.column, None),
                Bool => tb.bool(s.column, None),
                Deleted => tb.bool(s.column, Some(false)),
                StageClosed => tb.bool(s.column, stage_value.map(|v| stage_flags(v).0)),
                StageWon => tb.bool(s.column, stage_value.map(|v| stage_flags(v).1)),
                DateTime => tb.ts(s.column, None),
                Date => tb.date(s.column, None),
                Number => tb.float(s.column, None),
            }
            continue;
        };
        let bad = || {
            format!(
                "column '{name}': expected {}, got {}",
                s.kind.expected(),
                shown(v)
            )
        };
        match s.kind {
            Text | Ref => tb.str(s.column, Some(v)),
            Bool | Deleted | StageClosed | StageWon => {
                tb.bool(s.column, Some(parse_bool(v).ok_or_else(bad)?));
            }
            DateTime => {
                let (t, placed) = parse_datetime(v, tz).ok_or_else(bad)?;
                notes.note(placed);
                tb.ts(s.column, Some(t));
            }
            Date => tb.date(s.column, Some(parse_date_loose(v).ok_or_else(bad)?)),
            Number => {
                let n: f64 = v.trim().parse().map_err(|_| bad())?;
                if !n.is_finite() {
                    return Err(bad());
                }
                tb.float(s.column, Some(n));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    fn sf(file: &str, input: &str) -> (crate::FileStats, Collect) {
        run_ok_with(
            SourceFormat::SalesforceCsv,
            &ReadOptions::default(),
            file,
            input.as_bytes(),
        )
    }

    #[test]
    fn object_from_file_name() {
        use SalesforceObject as O;
        for (name, want) in [
            ("Account.csv", Some(O::Account)),
            ("contact.csv", Some(O::Contact)),
            ("Case-12.csv.zst", Some(O::Case)),
            (
                "memory://x/salesforce/Opportunity_3.csv",
                Some(O::Opportunity),
            ),
            ("C:\\export\\ORDER.CSV.GZ", Some(O::Order)),
            ("Order", Some(O::Order)),
            ("Orders.csv", None),
            ("Foo.csv", None),
            ("-2.csv", None),
        ] {
            assert_eq!(O::from_file_name(name), want, "{name}");
        }
    }

    const ACCOUNTS: &str = "\"Id\",\"IsDeleted\",\"Name\",\"Type\",\"Industry\",\"Phone\",\"BillingCountry\",\"OwnerId\",\"CreatedDate\",\"LastModifiedDate\"\n\
        \"001000000000001AAA\",\"false\",\"Acme, Inc.\",\"Customer\",\"Retail\",\"(312) 555-0143\",\"US\",\"005000000000001AAA\",\"2026-08-01T14:22:31.000Z\",\"2026-08-02T01:00:00.000+0000\"\n\
        \"001000000000002AAA\",\"true\",\"\",\"\",\"\",\"\",\"\",\"\",\"2026-08-01T14:22:31Z\",\"\"\n";

    #[test]
    fn accounts_crlf_and_lf() {
        for input in [ACCOUNTS.to_owned(), crlf(ACCOUNTS)] {
            let (stats, sink) = sf("salesforce/Account.csv", &input);
            assert_eq!((stats.rows_read, stats.rows_staged), (2, 2));
            let t = sink.table(StagingTable::Accounts);
            assert_eq!(s(&t, "source_system", 0).as_deref(), Some("salesforce"));
            assert_eq!(
                s(&t, "account_id", 0).as_deref(),
                Some("001000000000001AAA")
            );
            assert_eq!(s(&t, "name", 0).as_deref(), Some("Acme, Inc."));
            assert_eq!(s(&t, "phone", 0).as_deref(), Some("(312) 555-0143"));
            assert_eq!(s(&t, "billing_country", 0).as_deref(), Some("US"));
            assert_eq!(s(&t, "owner_id", 0).as_deref(), Some("005000000000001AAA"));
            assert_eq!(i(&t, "created_at", 0), Some(ts("2026-08-01T14:22:31Z")));
            assert_eq!(i(&t, "updated_at", 0), Some(ts("2026-08-02T01:00:00Z")));
            assert_eq!(b(&t, "is_deleted", 0), Some(false));
            assert_eq!(b(&t, "is_deleted", 1), Some(true));
            assert_eq!((s(&t, "name", 1), i(&t, "updated_at", 1)), (None, None));
            assert_eq!(i(&t, "_source_line", 1), Some(3));
        }
    }

    #[test]
    fn contacts_keep_raw_text_and_ignore_unknown_columns() {
        let input = "Email,Id,CreatedDate,Custom__c,MailingCountry,AccountId\n\
            \" Jane.Doe@Example.COM \",003A,2026-08-01T00:00:00.000Z,x,US,001A\n";
        let (_, sink) = sf("Contact.csv", input);
        let t = sink.table(StagingTable::Contacts);
        assert_eq!(s(&t, "email", 0).as_deref(), Some(" Jane.Doe@Example.COM "));
        assert_eq!(s(&t, "contact_id", 0).as_deref(), Some("003A"));
        assert_eq!(s(&t, "country", 0).as_deref(), Some("US"));
        assert_eq!(s(&t, "account_id", 0).as_deref(), Some("001A"));
        assert_eq!(s(&t, "first_name", 0), None);
        assert_eq!(b(&t, "is_deleted", 0), Some(false));
    }

    #[test]
    fn cases_with_multiline_subject() {
        let input = "\"Id\",\"CaseNumber\",\"Subject\",\"IsClosed\",\"IsEscalated\",\"CreatedDate\",\"ClosedDate\",\"Origin\"\r\n\
            \"500A\",\"00001001\",\"Refund \"\"urgent\"\"\r\nsecond line\",\"TRUE\",\"false\",\"2026-08-01T10:00:00.000Z\",\"2026-08-01T11:00:00.000Z\",\"Phone\"\r\n\
            \"500B\",\"00001002\",\"x\",\"\",\"\",\"2026-08-01T10:00:00.000Z\",\"\",\"Web\"\r\n";
        let (stats, sink) = sf("Case.csv", input);
        assert_eq!(stats.rows_staged, 2);
        let t = sink.table(StagingTable::Cases);
        assert_eq!(
            s(&t, "subject", 0).as_deref(),
            Some("Refund \"urgent\"\r\nsecond line")
        );
        assert_eq!(b(&t, "is_closed", 0), Some(true));
        assert_eq!(b(&t, "is_escalated", 0), Some(false));
        assert_eq!(i(&t, "closed_at", 0), Some(ts("2026-08-01T11:00:00Z")));
        assert_eq!(b(&t, "is_closed", 1), None);
        assert_eq!(i(&t, "_source_line", 1), Some(4));
    }

    #[test]
    fn opportunities_and_orders() {
        let opp = "Id,Amount,Probability,CloseDate,IsWon,IsClosed,CreatedDate\n006A,1234.5,90,2026-09-30,false,false,2026-08-01T00:00:00Z\n";
        let (_, sink) = sf("Opportunity.csv", opp);
        let t = sink.table(StagingTable::Opportunities);
        assert_eq!(f(&t, "amount", 0), Some(1234.5));
        assert_eq!(f(&t, "probability", 0), Some(90.0));
        assert_eq!(i(&t, "close_date", 0), Some(20_726));
        assert_eq!(b(&t, "is_won", 0), Some(false));

        let order = "\"Id\",\"IsDeleted\",\"AccountId\",\"BillToContactId\",\"OrderNumber\",\"Status\",\"EffectiveDate\",\"TotalAmount\",\"Product_Category__c\",\"CreatedDate\",\"LastModifiedDate\"\n\
            \"801A\",\"false\",\"001A\",\"003A\",\"00000100\",\"Activated\",\"2026-08-01\",\"99.90\",\"Widgets\",\"2026-08-01T14:22:31.000Z\",\"2026-08-01T14:22:31.000Z\"\n";
        let (_, sink) = sf("Order-2.csv", order);
        let t = sink.table(StagingTable::Orders);
        assert_eq!(s(&t, "contact_id", 0).as_deref(), Some("003A"));
        assert_eq!(s(&t, "product_category", 0).as_deref(), Some("Widgets"));
        assert_eq!(i(&t, "effective_date", 0), Some(20_666));
        assert_eq!(f(&t, "total_amount", 0), Some(99.9));
        assert_eq!(s(&t, "order_number", 0).as_deref(), Some("00000100"));
    }

    #[test]
    fn object_option_overrides_file_name() {
        let opts = ReadOptions {
            salesforce_object: Some(SalesforceObject::Account),
            ..ReadOptions::default()
        };
        let (stats, sink) = run_ok_with(
            SourceFormat::SalesforceCsv,
            &opts,
            "export_1.csv",
            ACCOUNTS.as_bytes(),
        );
        assert_eq!(stats.rows_staged, 2);
        assert_eq!(sink.rows(StagingTable::Accounts), 2);
    }

    #[test]
    fn file_errors_name_file_column_and_fix() {
        let (res, _) = run(
            SourceFormat::SalesforceCsv,
            &ReadOptions::default(),
            "salesforce/Order.csv",
            b"Id,CreatedDate\n801A,2026-08-01T00:00:00Z\n",
        );
        let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            msg,
            "salesforce/Order.csv: missing required column 'EffectiveDate'; the Order export must include it"
        );
        let (res, _) = run(
            SourceFormat::SalesforceCsv,
            &ReadOptions::default(),
            "salesforce/Leads.csv",
            b"Id\n",
        );
        let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.starts_with("salesforce/Leads.csv: ") && msg.contains("`object:`"),
            "{msg}"
        );
        let (res, _) = run(
            SourceFormat::SalesforceCsv,
            &ReadOptions::default(),
            "Account.csv",
            b"\"Id\"x,Name\n",
        );
        assert!(matches!(res, Err(ExtractError::BadHeader { line: 1, .. })));
        let (res, sink) = run(
            SourceFormat::SalesforceCsv,
            &ReadOptions::default(),
            "Account.csv",
            b"",
        );
        assert_eq!(res.ok(), Some(crate::FileStats::default()));
        assert!(sink.batches.is_empty());
    }

    #[test]
    fn bad_records_are_rejects() {
        let input = "Id,Name,CreatedDate,IsDeleted\n\
            001A,ok,2026-08-01T00:00:00Z,false\n\
            001B,short\n\
            001C,x,2026-08-01 25:00,false\n\
            001D,x,2026-08-01T00:00:00Z,maybe\n\
            ,x,2026-08-01T00:00:00Z,false\n\
            001F,\"unclosed,2026-08-01T00:00:00Z,false\n\
            001G,ok,2026-08-01T00:00:00Z,false\n";
        let mut bytes = input.as_bytes().to_vec();
        bytes.extend_from_slice(b"001H,\xe9t\xe9,2026-08-01T00:00:00Z,false\n");
        let (stats, sink) = run_ok_with(
            SourceFormat::SalesforceCsv,
            &ReadOptions::default(),
            "Account.csv",
            &bytes,
        );
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (8, 3, 5)
        );
        let r: Vec<_> = sink
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(r[0].0, 3);
        assert!(r[0].1.contains("expected 4 fields") && r[0].1.contains("found 2"));
        assert!(r[1].1.contains("'CreatedDate'") && r[1].1.contains("2026-08-01T14:22:31.000Z"));
        assert!(r[2].1.contains("'IsDeleted'") && r[2].1.contains("true/false or 1/0"));
        assert!(r[3].1.contains("'Id': empty"));
        assert_eq!(r[4].0, 7);
        assert!(
            r[4].1
                .contains("column 'Name': quoted field is never closed"),
            "{}",
            r[4].1
        );
        // Latin-1 bytes under the default UTF-8: repaired, staged, counted.
        assert_eq!(stats.rows_repaired, 1);
        let t = sink.table(StagingTable::Accounts);
        assert_eq!(s(&t, "account_id", 1).as_deref(), Some("001G"));
        assert_eq!(i(&t, "_source_line", 1), Some(8));
        assert_eq!(s(&t, "name", 2).as_deref(), Some("\u{fffd}t\u{fffd}"));
    }

    #[test]
    fn every_form_the_salesforce_tools_write() {
        // Weekly Data Export: all quoted, 0/1, no T, no zone, null-reference sentinel.
        let export = "\"Id\",\"IsDeleted\",\"AccountId\",\"IsClosed\",\"IsEscalated\",\"CreatedDate\",\"ClosedDate\"\n\
            \"500A\",\"0\",\"000000000000000AAA\",\"1\",\"0\",\"2018-10-13 17:16:45\",\"2018-10-14 08:00:00.250\"\n";
        let chicago = ReadOptions {
            timezone: chrono_tz::America::Chicago,
            ..ReadOptions::default()
        };
        for (opts, created) in [
            (ReadOptions::default(), "2018-10-13T17:16:45Z"),
            (chicago, "2018-10-13T22:16:45Z"),
        ] {
            let (stats, sink) = run_ok_with(
                SourceFormat::SalesforceCsv,
                &opts,
                "Case.csv",
                export.as_bytes(),
            );
            assert_eq!(stats.rows_staged, 1);
            let t = sink.table(StagingTable::Cases);
            assert_eq!(i(&t, "created_at", 0), Some(ts(created)));
            assert_eq!(b(&t, "is_closed", 0), Some(true));
            assert_eq!(b(&t, "is_escalated", 0), Some(false));
            assert_eq!(b(&t, "is_deleted", 0), Some(false));
            assert_eq!(s(&t, "account_id", 0), None);
        }
        // Data Loader: upper-case names; Fivetran: snake_case, TRUE/FALSE, midnight close dates.
        let loader = "\"ID\",\"ISDELETED\",\"NAME\",\"CREATEDDATE\"\n\"001x\",\"false\",\"Acme\",\"2006-04-15T03:23:15.000Z\"\n";
        let (_, sink) = sf("Account.csv", loader);
        let t = sink.table(StagingTable::Accounts);
        assert_eq!(i(&t, "created_at", 0), Some(ts("2006-04-15T03:23:15Z")));
        let fivetran = "id,is_deleted,name,stage_name,close_date,is_won,created_date\n\
            006q,TRUE,$1m deal,Closed Won,2018-12-19 00:00:00,TRUE,2018-12-19 19:51:13\n";
        let (_, sink) = sf("Opportunity.csv", fivetran);
        let t = sink.table(StagingTable::Opportunities);
        assert_eq!(i(&t, "close_date", 0), Some(17_884));
        assert_eq!(b(&t, "is_won", 0), Some(true));
        assert_eq!(b(&t, "is_deleted", 0), Some(true));
        assert_eq!(i(&t, "created_at", 0), Some(ts("2018-12-19T19:51:13Z")));
        // A date alone in a datetime column is midnight.
        let (_, sink) = sf("Account.csv", "Id,Name,CreatedDate\n001,x,2026-08-01\n");
        let t = sink.table(StagingTable::Accounts);
        assert_eq!(i(&t, "created_at", 0), Some(ts("2026-08-01T00:00:00Z")));
    }

    #[test]
    fn header_only_files_are_zero_rows_and_drift_is_a_warning() {
        let (stats, sink) = sf(
            "Order.csv",
            "\"Id\",\"EffectiveDate\",\"CreatedDate\",\"Extra__c\"\n",
        );
        assert_eq!((stats.rows_read, stats.rows_staged), (0, 0));
        assert!(sink.batches.is_empty());
        // A renamed optional column (Phone -> PhoneNumber): a warning names both.
        let (stats, sink) = sf(
            "Account.csv",
            "Id,Name,CreatedDate,PhoneNumber\n001,x,2026-08-01T00:00:00Z,555\n001b,y,2026-08-01T00:00:00Z,556\n",
        );
        assert_eq!(stats.rows_staged, 2);
        assert_eq!(s(&sink.table(StagingTable::Accounts), "phone", 0), None);
        let missing = stats
            .warnings
            .iter()
            .find(|(w, _)| w.contains("optional column 'Phone' is missing"));
        assert_eq!(missing.map(|(_, n)| *n), Some(2), "{:?}", stats.warnings);
        assert!(
            stats
                .warnings
                .keys()
                .any(|w| w.contains("'PhoneNumber'") && w.contains("not staged")),
            "{:?}",
            stats.warnings
        );
    }

    #[test]
    fn compressed_input() {
        let (stats, sink) = run_compressed(
            SourceFormat::SalesforceCsv,
            "Account.csv.gz",
            gzip(ACCOUNTS.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 2);
        assert_eq!(sink.rows(StagingTable::Accounts), 2);
        let (stats, _) = run_compressed(
            SourceFormat::SalesforceCsv,
            "Account.csv.zst",
            zstd(ACCOUNTS.as_bytes()),
        );
        assert_eq!(stats.rows_staged, 2);
    }
}
