//! Salesforce data-export CSVs: Account, Contact, Case, Opportunity and Order.

use crate::SynthError;
use crate::model::ChunkRecords;
use crate::time::{SEC, date_utc, sf_datetime, sf_export_datetime};
use crate::world::World;

use super::{CsvPart, Rendered, paths};

pub(crate) const ACCOUNT_HEADER: &[&str] = &[
    "Id",
    "IsDeleted",
    "Name",
    "Type",
    "Industry",
    "Phone",
    "BillingCountry",
    "OwnerId",
    "CreatedDate",
    "LastModifiedDate",
];
pub(crate) const CONTACT_HEADER: &[&str] = &[
    "Id",
    "IsDeleted",
    "AccountId",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "MailingCountry",
    "OwnerId",
    "CreatedDate",
    "LastModifiedDate",
];
pub(crate) const CASE_HEADER: &[&str] = &[
    "Id",
    "IsDeleted",
    "CaseNumber",
    "AccountId",
    "ContactId",
    "ParentId",
    "SuppliedEmail",
    "SuppliedPhone",
    "Origin",
    "Type",
    "Reason",
    "Status",
    "IsClosed",
    "IsEscalated",
    "Priority",
    "Subject",
    "OwnerId",
    "CreatedDate",
    "ClosedDate",
    "LastModifiedDate",
];
pub(crate) const OPPORTUNITY_HEADER: &[&str] = &[
    "Id",
    "IsDeleted",
    "AccountId",
    "Name",
    "StageName",
    "Amount",
    "Probability",
    "CloseDate",
    "Type",
    "LeadSource",
    "IsClosed",
    "IsWon",
    "OwnerId",
    "CreatedDate",
    "LastModifiedDate",
];
pub(crate) const ORDER_HEADER: &[&str] = &[
    "Id",
    "IsDeleted",
    "AccountId",
    "BillToContactId",
    "OrderNumber",
    "Status",
    "EffectiveDate",
    "TotalAmount",
    "Product_Category__c",
    "CreatedDate",
    "LastModifiedDate",
];

/// A Salesforce data-export CSV writer: every field quoted, CRLF.
pub(crate) fn salesforce_csv() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .has_headers(false)
        .from_writer(Vec::new())
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// A boolean as the weekly Data Export writes it.
fn export_bool(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

/// An empty lookup as the weekly Data Export writes it: Salesforce's null reference.
fn export_ref(id: Option<&str>) -> &str {
    id.unwrap_or("000000000000000AAA")
}

pub(super) fn salesforce(
    world: &World,
    recs: &ChunkRecords,
    out: &mut Rendered,
) -> Result<(), SynthError> {
    let end = world.end_us - SEC;
    let clamp = |created: i64, modified: i64| modified.min(end).max(created);

    let mut accounts: Vec<_> = recs.accounts.iter().collect();
    accounts.sort_by(|a, b| (a.created_us, &a.id).cmp(&(b.created_us, &b.id)));
    let mut w = CsvPart::new(salesforce_csv(), "Account");
    for a in &accounts {
        let country = if a.id.ends_with(['A', 'B', 'C']) {
            "US"
        } else {
            "United States"
        };
        w.row(&[
            &a.id,
            bool_str(a.deleted),
            &a.name,
            a.kind,
            a.industry.unwrap_or(""),
            &a.phone,
            country,
            &a.owner,
            &sf_datetime(a.created_us),
            &sf_datetime(clamp(a.created_us, a.modified_us)),
        ])?;
    }
    *out.part(paths::ACCOUNT) = w.finish()?;

    let mut contacts: Vec<_> = recs.contacts.iter().collect();
    contacts.sort_by(|a, b| (a.created_us, &a.id).cmp(&(b.created_us, &b.id)));
    let mut w = CsvPart::new(salesforce_csv(), "Contact");
    for c in &contacts {
        w.row(&[
            &c.id,
            bool_str(c.deleted),
            &c.account_id,
            c.first,
            c.last,
            &c.email,
            &c.phone,
            &c.mobile,
            "United States",
            &c.owner,
            &sf_datetime(c.created_us),
            &sf_datetime(clamp(c.created_us, c.modified_us)),
        ])?;
    }
    *out.part(paths::CONTACT) = w.finish()?;

    // Zendesk tickets are written by the Zendesk renderer, not as Salesforce Cases.
    let mut cases: Vec<_> = recs
        .cases
        .iter()
        .filter(|c| c.system == crate::model::CaseSystem::Salesforce)
        .collect();
    cases.sort_by(|a, b| (a.created_us, &a.id).cmp(&(b.created_us, &b.id)));
    // Case.csv comes from the weekly Data Export (Setup → Data Export), not from the API
    // extract the other objects come from: datetimes `2026-08-01 14:22:31` (UTC, no `T`, no
    // zone), booleans 0/1, empty lookups as the null reference `000000000000000AAA`.
    let mut w = CsvPart::new(salesforce_csv(), "Case");
    for c in &cases {
        let closed = c.closed_us.map(sf_export_datetime).unwrap_or_default();
        w.row(&[
            &c.id,
            export_bool(c.deleted),
            &c.number,
            export_ref(c.account_id.as_deref()),
            export_ref(c.contact_id.as_deref()),
            export_ref(c.parent_id.as_deref()),
            c.supplied_email.as_deref().unwrap_or(""),
            c.supplied_phone.as_deref().unwrap_or(""),
            c.origin,
            c.case_type,
            c.reason,
            c.status,
            export_bool(c.closed_us.is_some()),
            export_bool(c.escalated),
            c.priority,
            c.subject,
            &c.owner,
            &sf_export_datetime(c.created_us),
            &closed,
            &sf_export_datetime(clamp(c.created_us, c.modified_us)),
        ])?;
    }
    *out.part(paths::CASE) = w.finish()?;

    let mut opps: Vec<_> = recs.opportunities.iter().collect();
    opps.sort_by(|a, b| (a.created_us, &a.id).cmp(&(b.created_us, &b.id)));
    let mut w = CsvPart::new(salesforce_csv(), "Opportunity");
    for o in &opps {
        w.row(&[
            &o.id,
            "false",
            &o.account_id,
            &o.name,
            o.stage,
            &format!("{:.2}", o.amount),
            &o.probability.to_string(),
            &date_utc(o.close_date_us),
            o.opp_type,
            o.lead_source,
            bool_str(o.closed),
            bool_str(o.won),
            &o.owner,
            &sf_datetime(o.created_us),
            &sf_datetime(clamp(o.created_us, o.modified_us)),
        ])?;
    }
    *out.part(paths::OPPORTUNITY) = w.finish()?;

    let mut orders: Vec<_> = recs.orders.iter().collect();
    orders.sort_by(|a, b| (a.at_us, &a.id).cmp(&(b.at_us, &b.id)));
    let mut w = CsvPart::new(salesforce_csv(), "Order");
    for o in &orders {
        let created = sf_datetime(o.at_us);
        w.row(&[
            &o.id,
            "false",
            &o.account_id,
            &o.contact_id,
            &o.number,
            "Activated",
            &date_utc(o.at_us),
            &format!("{:.2}", o.amount),
            o.category,
            &created,
            &created,
        ])?;
    }
    *out.part(paths::ORDER) = w.finish()?;
    Ok(())
}
