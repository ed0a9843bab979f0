//! HubSpot CRM exports (contacts, companies, deals) → `stg_contacts`, `stg_accounts`,
//! `stg_opportunities`, `source_system = 'hubspot'`.
//!
//! One CSV per object. HubSpot writes two kinds of header, and both are read: the internal
//! property names of the CRM Exports API and of warehouse syncs (`hs_object_id`, `firstname`,
//! `createdate`; a Fivetran-style `property_` prefix is dropped before matching), and the
//! property labels of the UI export (`Record ID`, `First Name`, `Create Date`). Columns are
//! matched as in every headed export (trimmed, case-insensitive, then on letters and digits
//! alone), the first name of each list below that the header has wins; columns not read are
//! not staged, with a warning naming them. The object is told from the file name (`contacts`,
//! `compan`, `deal` in it, as in `hubspot-crm-exports-all-contacts-2026-10-29.csv`) unless the
//! source sets `object:`.
//!
//! | object | staging column ← property name / UI label |
//! |---|---|
//! | contacts | contact_id ← `hs_object_id`, `Record ID`, `vid`, `id`, `Contact ID` (required); account_id ← `associatedcompanyid`, `Associated Company ID`; first_name ← `firstname`, `First Name`; last_name ← `lastname`, `Last Name`; email ← `email`, `Email`; phone ← `phone`, `Phone Number`; mobile_phone ← `mobilephone`, `Mobile Phone Number`; country ← `country`, `Country/Region`; owner_id ← `hubspot_owner_id`, `Contact owner`, `owner_id`; created_at ← `createdate`, `Create Date`; updated_at ← `lastmodifieddate`, `Last Modified Date`; is_deleted ← `archived`, `is_deleted`, `_fivetran_deleted` |
//! | companies | account_id ← `hs_object_id`, `Record ID`, `company_id`, `id`, `Company ID` (required); name ← `name`, `Company name`; type ← `type`, `Type`; industry ← `industry`, `Industry`; phone ← `phone`, `Phone Number`; billing_country ← `country`, `Country/Region`; owner_id ← `hubspot_owner_id`, `Company owner`, `owner_id`; created_at ← `createdate`, `Create Date`; updated_at ← `hs_lastmodifieddate`, `Last Modified Date`; is_deleted as for contacts |
//! | deals | opportunity_id ← `hs_object_id`, `Record ID`, `deal_id`, `id`, `Deal ID` (required); account_id ← `associatedcompanyid`, `Associated Company ID`, `Associated Company IDs`; name ← `dealname`, `Deal Name`; stage_name ← `dealstage`, `Deal Stage`, `deal_pipeline_stage_id` (as exported: internal id such as `closedwon`, or label such as `Closed Won`); amount ← `amount`, `Amount`; probability ← `hs_deal_stage_probability`, `Deal probability` (as exported, 0–1); close_date ← `closedate`, `Close Date` (date part); type ← `dealtype`, `Deal Type`; lead_source ← `hs_analytics_source`, `Original Source`; is_closed ← `hs_is_closed`, `Is Closed`, else told from the stage (`closedwon`/`closedlost`, `Closed Won`/`Closed Lost`); is_won ← `hs_is_closed_won`, `Is Closed Won`, else from the stage; owner_id ← `hubspot_owner_id`, `Deal owner`, `owner_id`; created_at ← `createdate`, `Create Date` (required); updated_at ← `hs_lastmodifieddate`, `Last Modified Date`; is_deleted as for contacts |
//!
//! Values as in the Salesforce reader: booleans `true`/`false`/`1`/`0`/`yes`/`no`; datetimes
//! ISO 8601 with or without `T`, seconds, fraction and zone (`2019-10-30T03:30:17.883Z`,
//! `2024-01-15 10:23`, `2020-12-30 3:15:52`), or epoch milliseconds as the v1 API gives them;
//! zone-less times are in the source's `timezone:`.
//!
//! Labels were taken from HubSpot's property settings as documented; UI exports of other
//! portals can differ (a portal language, a renamed property): map them with the names above or
//! rename the header.

use std::io::BufRead;

use touchstone_core::StagingTable;

use crate::crm::{
    CrmExport, Date, DateTime, Deleted, Number, Ref, Spec, StageClosed, StageWon, Text, read_export,
};
use crate::{Ctx, ExtractError, ReadOptions};

/// The HubSpot objects Touchstone stages; spelled `contacts`, `companies`, `deals` in pipeline
/// YAML (`object: contacts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubspotObject {
    /// Contacts → `stg_contacts`.
    Contacts,
    /// Companies → `stg_accounts`.
    Companies,
    /// Deals → `stg_opportunities`.
    Deals,
}

impl HubspotObject {
    /// Every object, in a stable order.
    pub const ALL: [HubspotObject; 3] = [
        HubspotObject::Contacts,
        HubspotObject::Companies,
        HubspotObject::Deals,
    ];

    /// The name used in pipeline YAML.
    pub fn name(self) -> &'static str {
        match self {
            HubspotObject::Contacts => "contacts",
            HubspotObject::Companies => "companies",
            HubspotObject::Deals => "deals",
        }
    }

    /// Looks an object up by its YAML name.
    pub fn from_name(name: &str) -> Option<HubspotObject> {
        HubspotObject::ALL.into_iter().find(|o| o.name() == name)
    }

    /// The staging table its rows go to.
    pub fn table(self) -> StagingTable {
        match self {
            HubspotObject::Contacts => StagingTable::Contacts,
            HubspotObject::Companies => StagingTable::Accounts,
            HubspotObject::Deals => StagingTable::Opportunities,
        }
    }

    /// Tells the object from a file name or URL: the last path segment, case-insensitive,
    /// containing `contact`, `compan` or `deal`.
    ///
    /// ```
    /// use touchstone_extract::HubspotObject;
    /// assert_eq!(
    ///     HubspotObject::from_file_name("hubspot-crm-exports-all-contacts-2026-10-29.csv"),
    ///     Some(HubspotObject::Contacts)
    /// );
    /// assert_eq!(HubspotObject::from_file_name("s3://b/hubspot/companies.csv.gz"), Some(HubspotObject::Companies));
    /// assert_eq!(HubspotObject::from_file_name("deal_data.csv"), Some(HubspotObject::Deals));
    /// assert_eq!(HubspotObject::from_file_name("tickets.csv"), None);
    /// ```
    pub fn from_file_name(name: &str) -> Option<HubspotObject> {
        let base = name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(name)
            .to_ascii_lowercase();
        let found: Vec<HubspotObject> = [
            ("contact", HubspotObject::Contacts),
            ("compan", HubspotObject::Companies),
            ("deal", HubspotObject::Deals),
        ]
        .into_iter()
        .filter(|(part, _)| base.contains(part))
        .map(|(_, o)| o)
        .collect();
        match found.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    fn spec(self) -> &'static [Spec] {
        match self {
            HubspotObject::Contacts => CONTACTS,
            HubspotObject::Companies => COMPANIES,
            HubspotObject::Deals => DEALS,
        }
    }

    fn export(self) -> &'static str {
        match self {
            HubspotObject::Contacts => "HubSpot contacts",
            HubspotObject::Companies => "HubSpot companies",
            HubspotObject::Deals => "HubSpot deals",
        }
    }

    fn required(self) -> &'static [&'static str] {
        match self {
            HubspotObject::Contacts => &["contact_id"],
            HubspotObject::Companies => &["account_id"],
            HubspotObject::Deals => &["opportunity_id", "created_at"],
        }
    }
}

const fn col(column: &'static str, names: &'static [&'static str], kind: crate::crm::Kind) -> Spec {
    Spec {
        column,
        names,
        kind,
        required: false,
    }
}

const fn id(column: &'static str, names: &'static [&'static str]) -> Spec {
    Spec {
        column,
        names,
        kind: Text,
        required: true,
    }
}

const DELETED: &[&str] = &["archived", "is_deleted", "_fivetran_deleted"];

const CONTACTS: &[Spec] = &[
    id(
        "contact_id",
        &["hs_object_id", "Record ID", "vid", "id", "Contact ID"],
    ),
    col(
        "account_id",
        &["associatedcompanyid", "Associated Company ID"],
        Ref,
    ),
    col("first_name", &["firstname", "First Name"], Text),
    col("last_name", &["lastname", "Last Name"], Text),
    col("email", &["email", "Email"], Text),
    col("phone", &["phone", "Phone Number"], Text),
    col(
        "mobile_phone",
        &["mobilephone", "Mobile Phone Number"],
        Text,
    ),
    col("country", &["country", "Country/Region"], Text),
    col(
        "owner_id",
        &["hubspot_owner_id", "Contact owner", "owner_id"],
        Ref,
    ),
    col("created_at", &["createdate", "Create Date"], DateTime),
    col(
        "updated_at",
        &["lastmodifieddate", "Last Modified Date"],
        DateTime,
    ),
    col("is_deleted", DELETED, Deleted),
];

const COMPANIES: &[Spec] = &[
    id(
        "account_id",
        &[
            "hs_object_id",
            "Record ID",
            "company_id",
            "id",
            "Company ID",
        ],
    ),
    col("name", &["name", "Company name"], Text),
    col("type", &["type", "Type"], Text),
    col("industry", &["industry", "Industry"], Text),
    col("phone", &["phone", "Phone Number"], Text),
    col("billing_country", &["country", "Country/Region"], Text),
    col(
        "owner_id",
        &["hubspot_owner_id", "Company owner", "owner_id"],
        Ref,
    ),
    col("created_at", &["createdate", "Create Date"], DateTime),
    col(
        "updated_at",
        &["hs_lastmodifieddate", "Last Modified Date"],
        DateTime,
    ),
    col("is_deleted", DELETED, Deleted),
];

const DEALS: &[Spec] = &[
    id(
        "opportunity_id",
        &["hs_object_id", "Record ID", "deal_id", "id", "Deal ID"],
    ),
    col(
        "account_id",
        &[
            "associatedcompanyid",
            "Associated Company ID",
            "Associated Company IDs",
        ],
        Ref,
    ),
    col("name", &["dealname", "Deal Name"], Text),
    col(
        "stage_name",
        &["dealstage", "Deal Stage", "deal_pipeline_stage_id"],
        Text,
    ),
    col("amount", &["amount", "Amount"], Number),
    col(
        "probability",
        &["hs_deal_stage_probability", "Deal probability"],
        Number,
    ),
    col("close_date", &["closedate", "Close Date"], Date),
    col("type", &["dealtype", "Deal Type"], Text),
    col(
        "lead_source",
        &["hs_analytics_source", "Original Source"],
        Text,
    ),
    col("is_closed", &["hs_is_closed", "Is Closed"], StageClosed),
    col("is_won", &["hs_is_closed_won", "Is Closed Won"], StageWon),
    col(
        "owner_id",
        &["hubspot_owner_id", "Deal owner", "owner_id"],
        Ref,
    ),
    Spec {
        column: "created_at",
        names: &["createdate", "Create Date"],
        kind: DateTime,
        required: true,
    },
    col(
        "updated_at",
        &["hs_lastmodifieddate", "Last Modified Date"],
        DateTime,
    ),
    col("is_deleted", DELETED, Deleted),
];

pub(crate) fn read(
    opts: &ReadOptions,
    ctx: &mut Ctx<'_, '_>,
    input: &mut dyn BufRead,
) -> Result<(), ExtractError> {
    let file = ctx.lineage.file;
    let object = match opts.hubspot_object {
        Some(o) => o,
        None => HubspotObject::from_file_name(file).ok_or_else(|| {
            ExtractError::UnknownHubspotObject {
                file: file.to_owned(),
            }
        })?,
    };
    let export = CrmExport {
        vendor: "hubspot",
        export: object.export().to_owned(),
        table: object.table(),
        spec: object.spec(),
        required_columns: object.required(),
    };
    read_export(&export, opts, ctx, input, |name| {
        let lower = name.to_ascii_lowercase();
        match lower.strip_prefix("property_") {
            Some(_) => name["property_".len()..].to_owned(),
            None => name.to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use touchstone_core::SourceFormat;

    use super::*;
    use crate::testutil::*;

    fn hs(file: &str, input: &str) -> (crate::FileStats, Collect) {
        run_ok_with(
            SourceFormat::Hubspot,
            &ReadOptions::default(),
            file,
            input.as_bytes(),
        )
    }

    #[test]
    fn internal_names_and_ui_labels_read_alike() {
        let api = "hs_object_id,email,firstname,lastname,phone,mobilephone,associatedcompanyid,hubspot_owner_id,createdate,lastmodifieddate,lifecyclestage\n\
                   901,Jane@Example.com,Jane,Doe,+1 312 555 0143,,77,5001,2026-08-01T14:22:31.883Z,2026-08-02T00:00:00Z,customer\n";
        let ui = "\"Record ID\",\"First Name\",\"Last Name\",\"Email\",\"Phone Number\",\"Associated Company ID\",\"Contact owner\",\"Create Date\",\"Last Modified Date\",\"Lifecycle Stage\"\r\n\
                  \"901\",\"Jane\",\"Doe\",\"Jane@Example.com\",\"+1 312 555 0143\",\"77\",\"5001\",\"2026-08-01 14:22\",\"2026-08-02 00:00\",\"Customer\"\r\n";
        for (file, input) in [
            ("contacts.csv", api),
            ("hubspot-crm-exports-all-contacts-2026-10-29.csv", ui),
        ] {
            let (stats, sink) = hs(file, input);
            assert_eq!((stats.rows_read, stats.rows_staged), (1, 1), "{file}");
            let t = sink.table(StagingTable::Contacts);
            assert_eq!(s(&t, "source_system", 0).as_deref(), Some("hubspot"));
            assert_eq!(s(&t, "contact_id", 0).as_deref(), Some("901"));
            assert_eq!(s(&t, "email", 0).as_deref(), Some("Jane@Example.com"));
            assert_eq!(s(&t, "first_name", 0).as_deref(), Some("Jane"));
            assert_eq!(s(&t, "account_id", 0).as_deref(), Some("77"));
            assert_eq!(s(&t, "owner_id", 0).as_deref(), Some("5001"));
            assert_eq!(b(&t, "is_deleted", 0), Some(false));
            let created = i(&t, "created_at", 0).unwrap_or_default();
            assert_eq!(
                created / 60_000_000,
                ts("2026-08-01T14:22:00Z") / 60_000_000
            );
            // The lifecycle stage is not a staging column: named in a warning.
            assert!(
                stats
                    .warnings
                    .keys()
                    .any(|w| w.contains("Lifecycle") || w.contains("lifecyclestage")),
                "{:?}",
                stats.warnings
            );
        }
    }

    #[test]
    fn deals_tell_closed_and_won_from_the_stage() {
        let input = "hs_object_id,dealname,dealstage,amount,closedate,createdate,pipeline\n\
                     1,A,closedwon,100,2026-09-30T00:00:00Z,2026-08-01T00:00:00Z,default\n\
                     2,B,Closed Lost,,2026-09-30,2026-08-01,default\n\
                     3,C,appointmentscheduled,5.5,,2026-08-01,default\n\
                     4,D,closedwon,1,,,default\n";
        let (stats, sink) = hs("deals.csv", input);
        assert_eq!(
            (stats.rows_read, stats.rows_staged, stats.rows_rejected),
            (4, 3, 1)
        );
        let t = sink.table(StagingTable::Opportunities);
        assert_eq!(
            (b(&t, "is_closed", 0), b(&t, "is_won", 0)),
            (Some(true), Some(true))
        );
        assert_eq!(
            (b(&t, "is_closed", 1), b(&t, "is_won", 1)),
            (Some(true), Some(false))
        );
        assert_eq!(
            (b(&t, "is_closed", 2), b(&t, "is_won", 2)),
            (Some(false), Some(false))
        );
        assert_eq!(i(&t, "close_date", 0), Some(20_726));
        assert_eq!(f(&t, "amount", 2), Some(5.5));
        assert!(sink.rejects[0].reason.contains("'createdate': empty"));
        assert_eq!(sink.rejects[0].line, 5);
    }

    #[test]
    fn object_from_option_or_file_name() {
        let companies = "Record ID,Company name,Country/Region,Create Date\n7,Acme,US,2026-08-01\n";
        let (res, _) = run(
            SourceFormat::Hubspot,
            &ReadOptions::default(),
            "export.csv",
            companies.as_bytes(),
        );
        let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("export.csv") && msg.contains("`object:`"),
            "{msg}"
        );
        let opts = ReadOptions {
            hubspot_object: Some(HubspotObject::Companies),
            ..ReadOptions::default()
        };
        let (stats, sink) = run_ok_with(
            SourceFormat::Hubspot,
            &opts,
            "export.csv",
            companies.as_bytes(),
        );
        assert_eq!(stats.rows_staged, 1);
        let t = sink.table(StagingTable::Accounts);
        assert_eq!(s(&t, "name", 0).as_deref(), Some("Acme"));
        assert_eq!(s(&t, "billing_country", 0).as_deref(), Some("US"));
        assert_eq!(HubspotObject::from_file_name("contact_deals.csv"), None);
    }

    #[test]
    fn missing_id_column_is_a_file_error_naming_the_alternatives() {
        let (res, _) = run(
            SourceFormat::Hubspot,
            &ReadOptions::default(),
            "contacts.csv",
            b"email,firstname\na@b.c,A\n",
        );
        let msg = res.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.starts_with("contacts.csv: missing required column 'hs_object_id'")
                && msg.contains("'Record ID'"),
            "{msg}"
        );
    }
}
