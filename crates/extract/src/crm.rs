//! Salesforce data-export CSVs (Account, Contact, Case, Opportunity, Order) → `stg_accounts`,
//! `stg_contacts`, `stg_cases`, `stg_opportunities`, `stg_orders`, `source_system = 'salesforce'`.
//!
//! One CSV per object, headed by API field names; columns are found by name (trimmed,
//! case-insensitive), in any order, and unknown columns are ignored. A missing required column
//! is a file error ([`ExtractError::MissingColumn`]); a record whose field count differs from the
//! header's, or with a value that does not parse, is a reject naming the column.
//!
//! Values: empty is null; booleans `true`/`false` (any case); datetimes
//! `2026-08-01T14:22:31.000Z` (also `+0000` / `+00:00` offsets and no milliseconds); dates
//! `2026-08-01`; numbers as written (`1234.5`). Text is kept exactly as exported (no trimming;
//! emails and phones are normalized later, in SQL). `IsDeleted` empty or absent is `false`.
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

use crate::header::{Header, read_records};
use crate::input::{CsvReader, shown};
use crate::table::TableBuilder;
use crate::time::{parse_date, parse_instant};
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

    fn required_columns(self) -> &'static [&'static str] {
        match self {
            SalesforceObject::Account => &["Id", "Name", "CreatedDate"],
            SalesforceObject::Order => &["Id", "EffectiveDate", "CreatedDate"],
            _ => &["Id", "CreatedDate"],
        }
    }
}

impl std::fmt::Display for SalesforceObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bool,
    /// `IsDeleted`: a boolean that is `false` when empty or absent.
    Deleted,
    DateTime,
    Date,
    Number,
}

/// One staging column and the API field it comes from.
struct Spec {
    column: &'static str,
    api: &'static str,
    kind: Kind,
    /// An empty value is a reject (the staging column is not nullable).
    required: bool,
}

const fn opt(column: &'static str, api: &'static str, kind: Kind) -> Spec {
    Spec {
        column,
        api,
        kind,
        required: false,
    }
}

const fn req(column: &'static str, api: &'static str, kind: Kind) -> Spec {
    Spec {
        column,
        api,
        kind,
        required: true,
    }
}

use Kind::{Bool, Date, DateTime, Deleted, Number, Text};

const ACCOUNT: &[Spec] = &[
    req("account_id", "Id", Text),
    opt("name", "Name", Text),
    opt("type", "Type", Text),
    opt("industry", "Industry", Text),
    opt("phone", "Phone", Text),
    opt("billing_country", "BillingCountry", Text),
    opt("owner_id", "OwnerId", Text),
    opt("created_at", "CreatedDate", DateTime),
    opt("updated_at", "LastModifiedDate", DateTime),
    opt("is_deleted", "IsDeleted", Deleted),
];

const CONTACT: &[Spec] = &[
    req("contact_id", "Id", Text),
    opt("account_id", "AccountId", Text),
    opt("first_name", "FirstName", Text),
    opt("last_name", "LastName", Text),
    opt("email", "Email", Text),
    opt("phone", "Phone", Text),
    opt("mobile_phone", "MobilePhone", Text),
    opt("country", "MailingCountry", Text),
    opt("owner_id", "OwnerId", Text),
    opt("created_at", "CreatedDate", DateTime),
    opt("updated_at", "LastModifiedDate", DateTime),
    opt("is_deleted", "IsDeleted", Deleted),
];

const CASE: &[Spec] = &[
    req("case_id", "Id", Text),
    opt("case_number", "CaseNumber", Text),
    opt("account_id", "AccountId", Text),
    opt("contact_id", "ContactId", Text),
    opt("parent_id", "ParentId", Text),
    opt("supplied_email", "SuppliedEmail", Text),
    opt("supplied_phone", "SuppliedPhone", Text),
    opt("origin", "Origin", Text),
    opt("type", "Type", Text),
    opt("reason", "Reason", Text),
    opt("status", "Status", Text),
    opt("is_closed", "IsClosed", Bool),
    opt("is_escalated", "IsEscalated", Bool),
    opt("priority", "Priority", Text),
    opt("subject", "Subject", Text),
    opt("owner_id", "OwnerId", Text),
    req("created_at", "CreatedDate", DateTime),
    opt("closed_at", "ClosedDate", DateTime),
    opt("updated_at", "LastModifiedDate", DateTime),
    opt("is_deleted", "IsDeleted", Deleted),
];

const OPPORTUNITY: &[Spec] = &[
    req("opportunity_id", "Id", Text),
    opt("account_id", "AccountId", Text),
    opt("name", "Name", Text),
    opt("stage_name", "StageName", Text),
    opt("amount", "Amount", Number),
    opt("probability", "Probability", Number),
    opt("close_date", "CloseDate", Date),
    opt("type", "Type", Text),
    opt("lead_source", "LeadSource", Text),
    opt("is_closed", "IsClosed", Bool),
    opt("is_won", "IsWon", Bool),
    opt("owner_id", "OwnerId", Text),
    req("created_at", "CreatedDate", DateTime),
    opt("updated_at", "LastModifiedDate", DateTime),
    opt("is_deleted", "IsDeleted", Deleted),
];

const ORDER: &[Spec] = &[
    req("order_id", "Id", Text),
    opt("account_id", "AccountId", Text),
    opt("contact_id", "BillToContactId", Text),
    opt("order_number", "OrderNumber", Text),
    opt("status", "Status", Text),
    req("effective_date", "EffectiveDate", Date),
    opt("total_amount", "TotalAmount", Number),
    opt("product_category", "Product_Category__c", Text),
    req("created_at", "CreatedDate", DateTime),
    opt("updated_at", "LastModifiedDate", DateTime),
    opt("is_deleted", "IsDeleted", Deleted),
];

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
    let mut reader = CsvReader::new(input, b',');
    let Some(header) = Header::read(&mut reader, ctx)? else {
        tracing::warn!(file, "empty Salesforce export: no header, no rows");
        return Ok(());
    };
    for column in object.required_columns() {
        header.require(column, object.name(), file)?;
    }
    let spec = object.spec();
    let at: Vec<Option<usize>> = spec.iter().map(|s| header.find(s.api)).collect();
    read_records(&mut reader, &header, ctx, object.table(), |r, tb| {
        row(r, spec, &at, tb)
    })
}

fn row(
    r: &CsvReader<'_>,
    spec: &[Spec],
    at: &[Option<usize>],
    tb: &mut TableBuilder,
) -> Result<(), String> {
    tb.str("source_system", Some("salesforce"));
    for (s, i) in spec.iter().zip(at) {
        let value = i.map(|i| r.text(i)).filter(|v| !v.is_empty());
        let expected = match s.kind {
            Text => "text",
            Bool | Deleted => "true or false",
            DateTime => "a datetime like 2026-08-01T14:22:31.000Z",
            Date => "a date like 2026-08-01",
            Number => "a number like 1234.5",
        };
        let Some(v) = value else {
            if s.required {
                return Err(format!("column '{}': empty; expected {expected}", s.api));
            }
            match s.kind {
                Text => tb.str(s.column, None),
                Bool => tb.bool(s.column, None),
                Deleted => tb.bool(s.column, Some(false)),
                DateTime => tb.ts(s.column, None),
                Date => tb.date(s.column, None),
                Number => tb.float(s.column, None),
            }
            continue;
        };
        let bad = || format!("column '{}': expected {expected}, got {}", s.api, shown(v));
        match s.kind {
            Text => tb.str(s.column, Some(v)),
            Bool | Deleted => {
                let b = if v.trim().eq_ignore_ascii_case("true") {
                    true
                } else if v.trim().eq_ignore_ascii_case("false") {
                    false
                } else {
                    return Err(bad());
                };
                tb.bool(s.column, Some(b));
            }
            DateTime => tb.ts(s.column, Some(parse_instant(v).ok_or_else(bad)?)),
            Date => tb.date(s.column, Some(parse_date(v).ok_or_else(bad)?)),
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
            001C,x,2026-08-01,false\n\
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
            (8, 2, 6)
        );
        let r: Vec<_> = sink
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(r[0].0, 3);
        assert!(r[0].1.contains("expected 4 fields") && r[0].1.contains("found 2"));
        assert!(r[1].1.contains("'CreatedDate'") && r[1].1.contains("2026-08-01T14:22:31.000Z"));
        assert!(r[2].1.contains("'IsDeleted'") && r[2].1.contains("true or false"));
        assert!(r[3].1.contains("'Id': empty"));
        assert_eq!(r[4].0, 7);
        assert!(
            r[4].1
                .contains("column 'Name': quoted field is never closed"),
            "{}",
            r[4].1
        );
        assert!(r[5].1.contains("'Name': invalid UTF-8"), "{}", r[5].1);
        let t = sink.table(StagingTable::Accounts);
        assert_eq!(s(&t, "account_id", 1).as_deref(), Some("001G"));
        assert_eq!(i(&t, "_source_line", 1), Some(8));
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
