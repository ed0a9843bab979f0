//! HubSpot: the marketing team's CRM. A third of the customers are also HubSpot contacts
//! (created after their Salesforce contact, from the same e-mail), with their companies and
//! deals, plus leads who never bought. Contacts come from the UI export (property labels,
//! portal time zone America/Chicago, no seconds); companies and deals from the CRM Exports API
//! (internal property names, UTC).
//!
//! Everything here is derived from the simulated records without a random draw, so adding
//! HubSpot changes no other export.

use std::collections::{BTreeMap, BTreeSet};

use crate::SynthError;
use crate::model::ChunkRecords;
use crate::people::{FIRST_NAMES, LAST_NAMES, PhoneStyle, fmt_phone};
use crate::rng::text_fraction;
use crate::time::{DAY, MIN, SEC, hubspot_local, iso_utc};
use crate::world::World;

use super::{CsvPart, Rendered, paths};

pub(crate) const CONTACT_HEADER: &[&str] = &[
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Associated Company ID",
    "Contact owner",
    "Lifecycle Stage",
    "Create Date",
    "Last Modified Date",
];
pub(crate) const COMPANY_HEADER: &[&str] = &[
    "hs_object_id",
    "name",
    "domain",
    "industry",
    "phone",
    "country",
    "hubspot_owner_id",
    "createdate",
    "hs_lastmodifieddate",
];
pub(crate) const DEAL_HEADER: &[&str] = &[
    "hs_object_id",
    "dealname",
    "pipeline",
    "dealstage",
    "amount",
    "closedate",
    "createdate",
    "hs_lastmodifieddate",
    "hubspot_owner_id",
    "associatedcompanyid",
];

/// HubSpot's CSV writer: every field quoted, CRLF (as the UI export writes it).
pub(crate) fn hubspot_csv() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .has_headers(false)
        .from_writer(Vec::new())
}

/// Whether a customer is also a HubSpot contact.
pub(crate) fn in_hubspot(customer: u64) -> bool {
    customer % 10 < 3
}

/// The HubSpot Record ID of a customer's contact.
pub(crate) fn contact_record_id(customer: u64) -> String {
    (70_000_000_000 + customer).to_string()
}

/// HubSpot owner ids (marketing and sales reps).
const OWNERS: [&str; 4] = ["35252170", "35252171", "35252172", "35252173"];

fn owner(key: &str) -> &'static str {
    OWNERS[(text_fraction(key, 0x0A) * OWNERS.len() as f64) as usize % OWNERS.len()]
}

fn deal_stage(stage: &str) -> &'static str {
    match stage {
        "Closed Won" => "closedwon",
        "Closed Lost" => "closedlost",
        "Qualification" => "qualifiedtobuy",
        "Proposal/Price Quote" => "presentationscheduled",
        "Negotiation/Review" => "decisionmakerboughtin",
        _ => "appointmentscheduled",
    }
}

pub(super) fn hubspot(
    world: &World,
    chunk: u64,
    recs: &ChunkRecords,
    out: &mut Rendered,
) -> Result<(), SynthError> {
    let end = world.end_us - MIN;
    let live_contacts: BTreeMap<&str, (i64, bool)> = recs
        .contacts
        .iter()
        .map(|c| (c.id.as_str(), (c.created_us, c.deleted)))
        .collect();
    let accounts: BTreeMap<&str, &crate::model::AccountRec> =
        recs.accounts.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut companies: BTreeMap<&str, String> = BTreeMap::new();
    let mut contacts = CsvPart::new(hubspot_csv(), "HubSpot contacts");
    for p in &recs.persons {
        let Some(&(sf_created, deleted)) = live_contacts.get(p.contact_id.as_str()) else {
            continue;
        };
        // A customer whose Salesforce contact was deleted is left out: HubSpot would then own
        // their e-mail in identity resolution, which is not what this sample plants.
        if !in_hubspot(p.index) || deleted {
            continue;
        }
        let n = companies.len() as u64;
        let company = companies
            .entry(p.account_id.as_str())
            .or_insert_with(|| (90_000_000_000 + chunk * 1_000_000 + n).to_string())
            .clone();
        let created =
            (sf_created + (1 + (p.index % 20) as i64) * DAY + (p.index % 600) as i64 * MIN)
                .min(end)
                .max(sf_created + MIN);
        let modified = (created + (p.index % 9) as i64 * DAY).min(end).max(created);
        contacts.row(&[
            &contact_record_id(p.index),
            p.first,
            p.last,
            &p.email,
            &fmt_phone(&p.phone, PhoneStyle::Intl),
            &company,
            owner(&p.email),
            "Customer",
            &hubspot_local(created),
            &hubspot_local(modified),
        ])?;
    }
    // Leads: people who filled a form and never bought.
    let leads = (recs.persons.len() as u64 / 10).max(1);
    for k in 0..leads {
        let key = format!("lead-{chunk}-{k}");
        let u = text_fraction(&key, 0x1EAD);
        let first = FIRST_NAMES[(u * FIRST_NAMES.len() as f64) as usize % FIRST_NAMES.len()];
        let last = LAST_NAMES
            [(text_fraction(&key, 0x1EAE) * LAST_NAMES.len() as f64) as usize % LAST_NAMES.len()];
        let created = world.start_us + ((u * world.days as f64 * DAY as f64) as i64 / SEC) * SEC;
        let created = created.min(end);
        contacts.row(&[
            &(80_000_000_000 + chunk * 1_000_000 + k).to_string(),
            first,
            last,
            &format!(
                "{}.{}.{k}{chunk}@leads.example.org",
                first.to_lowercase(),
                last.to_lowercase()
            ),
            "",
            "",
            owner(&key),
            if u < 0.5 {
                "Lead"
            } else {
                "Marketing Qualified Lead"
            },
            &hubspot_local(created),
            &hubspot_local(created),
        ])?;
    }
    *out.part(paths::HUBSPOT_CONTACTS) = contacts.finish()?;

    let mut w = CsvPart::new(hubspot_csv(), "HubSpot companies");
    let mut in_hs: BTreeSet<&str> = BTreeSet::new();
    for (account_id, company) in &companies {
        let Some(a) = accounts.get(account_id) else {
            continue;
        };
        in_hs.insert(account_id);
        let created = (a.created_us + 2 * DAY).min(end);
        let domain = format!(
            "{}.example.com",
            a.name
                .to_lowercase()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        );
        w.row(&[
            company,
            &a.name,
            &domain,
            a.industry.unwrap_or(""),
            &fmt_phone(&a.phone, PhoneStyle::Plain),
            "United States",
            owner(account_id),
            &iso_utc(created, crate::time::Frac::Millis),
            &iso_utc(
                created.max(a.modified_us.min(end)),
                crate::time::Frac::Millis,
            ),
        ])?;
    }
    *out.part(paths::HUBSPOT_COMPANIES) = w.finish()?;

    let mut w = CsvPart::new(hubspot_csv(), "HubSpot deals");
    let mut k = 0u64;
    for o in &recs.opportunities {
        if !in_hs.contains(o.account_id.as_str()) {
            continue;
        }
        let Some(company) = companies.get(o.account_id.as_str()) else {
            continue;
        };
        k += 1;
        let created = o.created_us.min(end);
        w.row(&[
            &(60_000_000_000 + chunk * 1_000_000 + k).to_string(),
            &o.name,
            "default",
            deal_stage(o.stage),
            &format!("{:.2}", o.amount),
            &iso_utc(o.close_date_us, crate::time::Frac::Millis),
            &iso_utc(created, crate::time::Frac::Millis),
            &iso_utc(
                o.modified_us.min(end).max(created),
                crate::time::Frac::Millis,
            ),
            owner(&o.id),
            company,
        ])?;
    }
    *out.part(paths::HUBSPOT_DEALS) = w.finish()?;
    Ok(())
}
