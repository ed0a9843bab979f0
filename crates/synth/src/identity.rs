//! Who every identifier belongs to (`truth/identifiers.parquet`).
//!
//! One row per identifier and owner, normalized the way the pipeline normalizes them (e-mail
//! trimmed and lowercased, phones in E.164, ids as written):
//!
//! | role | owner | |
//! |---|---|---|
//! | `personal` | one customer | a CRM contact id (also a duplicate contact's), e-mail, mobile, browser cookie, chat visitor id (as the chat product exports it) |
//! | `household_landline` | each customer of the household | a trap: the landline on every household member's CRM record |
//! | `switchboard` | each customer of the office | a trap: an office number on dozens of CRM records |
//! | `role_mailbox` | each customer writing from it | a trap: `info@`, `support@`... shared by several customers |
//! | `visitor` | nobody (not a customer) | cookies, chat visitor ids and e-mails of visitors who never bought |
//! | `placeholder` | nobody | junk typed into forms (`test@test.com`, `000-000-0000`) |
//!
//! `linkable` says whether the exports tie a personal identifier to its customer's CRM contact
//! at all: it is in the same connected component as the contact id when every record's
//! personal identifiers are linked and shared or placeholder identifiers are left out. A
//! cookie whose browser never signed in (and never chatted with an e-mail) is personal but not
//! linkable: no resolver can know whose it is. Identity recall is measured on linkable
//! identifiers; precision on every personal one.

use std::collections::{BTreeMap, HashMap};

use crate::model::{ChunkRecords, WebKind};
use crate::world::System;

/// One row of `truth/identifiers.parquet`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct IdentifierRow {
    pub(crate) id_type: &'static str,
    pub(crate) value: String,
    pub(crate) customer: Option<u64>,
    pub(crate) role: &'static str,
    pub(crate) linkable: bool,
}

/// An e-mail as the pipeline matches it: trimmed, lowercased.
fn email(raw: &str) -> String {
    raw.trim().to_ascii_lowercase()
}

/// A North American number in any spelling, as E.164.
fn phone(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let national = match digits.len() {
        11 if digits.starts_with('1') => &digits[1..],
        _ => &digits,
    };
    format!("+1{national}")
}

type Key = (&'static str, String);

#[derive(Default)]
struct Owners {
    /// Role and owners of every identifier seen.
    roles: BTreeMap<Key, (&'static str, Vec<Option<u64>>)>,
}

impl Owners {
    fn add(&mut self, key: Key, role: &'static str, customer: Option<u64>) {
        let entry = self.roles.entry(key).or_insert((role, Vec::new()));
        // A shared or junk role wins over what one of its owners would make it.
        if entry.0 == "personal" || entry.0 == "visitor" {
            entry.0 = role;
        }
        if !entry.1.contains(&customer) {
            entry.1.push(customer);
        }
    }

    /// Whether `key` is a personal identifier of `customer`.
    fn personal_of(&self, key: &Key, customer: u64) -> bool {
        self.roles
            .get(key)
            .is_some_and(|(role, owners)| *role == "personal" && owners == &[Some(customer)])
    }
}

/// Union-find over identifier keys.
#[derive(Default)]
struct Links {
    index: HashMap<Key, usize>,
    parent: Vec<usize>,
}

impl Links {
    fn id(&mut self, key: &Key) -> usize {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        let i = self.parent.len();
        self.parent.push(i);
        self.index.insert(key.clone(), i);
        i
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, keys: &[Key]) {
        let Some(first) = keys.first() else { return };
        let a = self.id(first);
        for k in &keys[1..] {
            let b = self.id(k);
            let (ra, rb) = (self.find(a), self.find(b));
            self.parent[rb] = ra;
        }
    }

    fn same(&mut self, a: &Key, b: &Key) -> bool {
        match (self.index.get(a).copied(), self.index.get(b).copied()) {
            (Some(x), Some(y)) => self.find(x) == self.find(y),
            _ => a == b,
        }
    }
}

/// Every identifier of a chunk with its owner, role and whether it is linkable.
pub(crate) fn identifiers(recs: &ChunkRecords) -> Vec<IdentifierRow> {
    let mut owners = Owners::default();
    for p in &recs.persons {
        let c = Some(p.index);
        owners.add(("crm_id", p.contact_id.clone()), "personal", c);
        if let Some(d) = &p.duplicate_contact_id {
            owners.add(("crm_id", d.clone()), "personal", c);
        }
        owners.add(("email", p.email.clone()), "personal", c);
        owners.add(("phone", phone(&p.phone)), "personal", c);
        for a in &p.anon_ids {
            owners.add(("anonymous_id", a.clone()), "personal", c);
        }
        if let Some(l) = &p.landline {
            owners.add(("phone", phone(l)), p.landline_kind.role(), c);
        }
        if let Some(r) = &p.role_mailbox {
            owners.add(("email", email(r)), "role_mailbox", c);
        }
    }
    for chat in &recs.chats {
        let role = if chat.customer.is_some() {
            "personal"
        } else {
            "visitor"
        };
        owners.add(
            ("chat_visitor_id", chat.exported_visitor_id()),
            role,
            chat.customer,
        );
        if chat.customer.is_none() {
            owners.add(("anonymous_id", chat.anon_id.clone()), "visitor", None);
            if let Some(e) = &chat.email {
                owners.add(("email", email(e)), "visitor", None);
            }
        }
    }
    for e in recs.web.iter().filter(|e| e.customer.is_none()) {
        owners.add(("anonymous_id", e.anon_id.clone()), "visitor", None);
    }
    for (t, v) in &recs.placeholders {
        let value = if *t == "email" { email(v) } else { phone(v) };
        owners.add((t, value), "placeholder", None);
    }

    // Link each record's personal identifiers of its own customer.
    let mut links = Links::default();
    let mut record = |customer: u64, ids: Vec<Key>| {
        let mine: Vec<Key> = ids
            .into_iter()
            .filter(|k| owners.personal_of(k, customer))
            .collect();
        for k in &mine {
            links.id(k);
        }
        links.union(&mine);
    };
    for c in &recs.contacts {
        let mut ids = vec![("crm_id", c.id.clone()), ("email", email(&c.email))];
        for p in [&c.phone, &c.mobile] {
            if !p.is_empty() {
                ids.push(("phone", phone(p)));
            }
        }
        record(c.customer, ids);
    }
    for c in &recs.cases {
        let mut ids = Vec::new();
        if let Some(id) = &c.contact_id {
            ids.push(("crm_id", id.clone()));
        }
        if let Some(e) = &c.supplied_email {
            ids.push(("email", email(e)));
        }
        if let Some(p) = &c.supplied_phone {
            ids.push(("phone", phone(p)));
        }
        record(c.customer, ids);
    }
    for o in &recs.orders {
        record(o.customer, vec![("crm_id", o.contact_id.clone())]);
    }
    for call in &recs.calls {
        let mut ids = Vec::new();
        if let Some(d) = &call.caller_digits {
            ids.push(("phone", phone(d)));
        }
        // Only Amazon Connect carries the contact the IVR authenticated.
        if call.authenticated && call.system == System::Connect {
            ids.push(("crm_id", call.crm_contact_id.clone()));
        }
        record(call.customer, ids);
    }
    for chat in &recs.chats {
        let Some(customer) = chat.customer else {
            continue;
        };
        // What the chat product's export carries, and nothing more.
        let mut ids = vec![("chat_visitor_id", chat.exported_visitor_id())];
        if chat.exports_cookie() {
            ids.push(("anonymous_id", chat.anon_id.clone()));
        }
        if let Some(e) = &chat.email {
            ids.push(("email", email(e)));
        }
        if let Some(c) = chat
            .crm_contact_id
            .as_ref()
            .filter(|_| chat.exports_crm_id())
        {
            ids.push(("crm_id", c.clone()));
        }
        record(customer, ids);
    }
    for e in &recs.web {
        let Some(customer) = e.customer else {
            continue;
        };
        let mut ids = vec![("anonymous_id", e.anon_id.clone())];
        if let Some(u) = &e.user_id {
            ids.push(("crm_id", u.clone()));
        }
        if let WebKind::Identify(address) = &e.kind {
            ids.push(("email", email(address)));
        }
        record(customer, ids);
    }
    for s in &recs.surveys {
        if s.respondent_type != "customer" {
            continue;
        }
        let mut ids = Vec::new();
        if let Some(e) = &s.email {
            ids.push(("email", email(e)));
        }
        if let Some(p) = &s.phone {
            ids.push(("phone", phone(p)));
        }
        record(s.customer, ids);
    }

    let anchors: HashMap<u64, Key> = recs
        .persons
        .iter()
        .map(|p| (p.index, ("crm_id", p.contact_id.clone())))
        .collect();
    let mut rows = Vec::new();
    for (key, (role, customers)) in &owners.roles {
        for customer in customers {
            let linkable = *role == "personal"
                && customer
                    .and_then(|c| anchors.get(&c))
                    .is_some_and(|anchor| links.same(key, anchor));
            rows.push(IdentifierRow {
                id_type: key.0,
                value: key.1.clone(),
                customer: *customer,
                role,
                linkable,
            });
        }
    }
    rows.sort();
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_normalize_like_the_pipeline() {
        assert_eq!(phone("(312) 555-0143"), "+13125550143");
        assert_eq!(phone("+1 312 555 0143"), "+13125550143");
        assert_eq!(phone("13125550143"), "+13125550143");
        assert_eq!(email(" Jane.Doe@Example.COM "), "jane.doe@example.com");
    }
}
