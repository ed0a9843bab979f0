use super::graph::*;
use touchstone_core::config::IdentitySettings;

/// (record, type, value, observed, anchor)
type Row<'a> = (&'a str, &'a str, &'a str, i64, bool);

fn resolve_with(settings: &IdentitySettings, rows: &[Row], previous: &PreviousKeys) -> Resolution {
    let mut b = GraphBuilder::new(settings).unwrap();
    for (rec, t, v, at, anchor) in rows {
        b.add(("r", rec), t, v, Some(*at), *anchor).unwrap();
    }
    b.resolve(previous)
}

fn resolve(rows: &[Row]) -> Resolution {
    resolve_with(&IdentitySettings::default(), rows, &PreviousKeys::default())
}

fn previous_of(r: &Resolution) -> PreviousKeys {
    let mut p = PreviousKeys::default();
    for row in &r.rows {
        if let Some(k) = r.customer_key(row) {
            p.insert(r.id_type(row), r.value(row), k);
        }
    }
    p
}

fn contact<'a>(id: &'a str, email: &'a str, phone: &'a str, at: i64) -> Vec<Row<'a>> {
    vec![
        (id, "crm_id", id, at, true),
        (id, "email", email, at, true),
        (id, "phone", phone, at, true),
    ]
}

#[test]
fn identifiers_seen_together_are_one_customer_named_after_the_crm_contact() {
    let mut rows = contact("003A", "jane@example.com", "+13125550101", 10);
    rows.extend([
        // A call from her mobile, a survey from her e-mail with the same phone.
        ("call1", "phone", "+13125550101", 20, true),
        ("survey1", "email", "jane@example.com", 30, true),
        ("survey1", "phone", "+13125550101", 30, true),
        // A cookie that signed in as her.
        ("web1", "anonymous_id", "ck1", 40, true),
        ("web2", "anonymous_id", "ck1", 41, true),
        ("web2", "crm_id", "003A", 41, true),
        // A stranger's cookie that never signed in.
        ("web3", "anonymous_id", "ck9", 50, true),
    ]);
    let r = resolve(&rows);
    for (t, v) in [
        ("crm_id", "003A"),
        ("email", "jane@example.com"),
        ("phone", "+13125550101"),
        ("anonymous_id", "ck1"),
    ] {
        assert_eq!(r.key_of(t, v), Some("003A"), "{t} {v}");
    }
    // A customer known only by a cookie gets a stable anonymous key of that cookie.
    assert_eq!(
        r.key_of("anonymous_id", "ck9"),
        Some(anonymous_key("anonymous_id", "ck9").as_str())
    );
    assert_eq!(r.customers(), 2);
    let row = r.row("crm_id", "003A").unwrap();
    assert!(row.is_anchor);
    assert_eq!(row.customer_identifiers, 4);
    assert_eq!(row.first_seen, Some(10));
    assert_eq!(row.last_seen, Some(41));
}

#[test]
fn a_household_landline_and_a_switchboard_link_none_of_their_owners() {
    let mut rows = Vec::new();
    // Two household members share a landline on their CRM records.
    rows.extend(contact("003A", "a@example.com", "+13125550100", 1));
    rows.extend(contact("003B", "b@example.com", "+13125550100", 2));
    // Forty contacts carry the office switchboard.
    let ids: Vec<String> = (0..40).map(|i| format!("003S{i:02}")).collect();
    let emails: Vec<String> = (0..40).map(|i| format!("s{i}@example.com")).collect();
    for (id, email) in ids.iter().zip(&emails) {
        rows.extend(contact(id, email, "+16465550000", 3));
    }
    // A call from the landline with nothing else, and one authenticated as B.
    rows.push(("call1", "phone", "+13125550100", 5, true));
    rows.push(("call2", "phone", "+13125550100", 6, true));
    rows.push(("call2", "crm_id", "003B", 6, true));
    let r = resolve(&rows);
    assert_eq!(r.key_of("crm_id", "003A"), Some("003A"));
    assert_eq!(r.key_of("crm_id", "003B"), Some("003B"));
    for phone in ["+13125550100", "+16465550000"] {
        let row = r.row("phone", phone).unwrap();
        assert_eq!(row.status, Status::Capped, "{phone}");
        assert_eq!(r.customer_key(row), None);
        assert!(
            row.reason.as_deref().unwrap().contains("links none"),
            "{:?}",
            row.reason
        );
    }
    assert_eq!(r.row("phone", "+16465550000").unwrap().degree, 40);
    assert_eq!(r.row("phone", "+13125550100").unwrap().degree, 2);
    // 42 contacts, 42 customers: nobody merged.
    assert_eq!(r.customers(), 42);
}

#[test]
fn duplicate_crm_contacts_of_one_person_merge_through_their_email() {
    let mut rows = contact("003A", "jane@example.com", "+13125550101", 10);
    rows.extend(contact("003Z", "jane@example.com", "+13125550101", 99));
    let r = resolve(&rows);
    // The earlier contact names the customer.
    assert_eq!(r.key_of("crm_id", "003Z"), Some("003A"));
    assert_eq!(r.key_of("phone", "+13125550101"), Some("003A"));
    assert_eq!(r.row("email", "jane@example.com").unwrap().degree, 2);
    // A deleted contact never names a customer, even if it was created first.
    let mut rows = contact("003A", "jane@example.com", "+13125550101", 10);
    rows.extend(
        contact("003Y", "jane@example.com", "+13125550101", 1)
            .into_iter()
            .map(|(a, b, c, d, _)| (a, b, c, d, false)),
    );
    let r = resolve(&rows);
    assert_eq!(r.key_of("crm_id", "003Y"), Some("003A"));
}

#[test]
fn role_mailboxes_placeholders_and_blocklisted_values_link_nothing() {
    let mut rows = contact("003A", "a@example.com", "+13125550101", 1);
    rows.extend(contact("003B", "b@example.com", "+13125550102", 2));
    rows.extend([
        ("case1", "crm_id", "003A", 3, true),
        ("case1", "email", "info@office.example.net", 3, true),
        ("case2", "email", "info@office.example.net", 4, true),
        ("case2", "phone", "+13125550102", 4, true),
        ("chat1", "email", "test@test.com", 5, true),
        ("chat1", "phone", "0000000000", 5, true),
        ("chat2", "email", "test@test.com", 6, true),
        ("chat2", "crm_id", "003B", 6, true),
        ("web1", "anonymous_id", "null", 7, true),
        ("web1", "crm_id", "003A", 7, true),
        ("web2", "anonymous_id", "null", 8, true),
        ("web2", "crm_id", "003B", 8, true),
    ]);
    let r = resolve(&rows);
    assert_eq!(r.customers(), 2);
    for (t, v) in [
        ("email", "info@office.example.net"),
        ("email", "test@test.com"),
        ("phone", "0000000000"),
        ("anonymous_id", "null"),
    ] {
        let row = r.row(t, v).unwrap();
        assert_eq!(row.status, Status::Blocked, "{v}");
        assert_eq!(r.customer_key(row), None);
        assert_eq!(row.reason.as_deref(), Some("on the identity blocklist"));
    }
}

#[test]
fn a_cookie_two_people_signed_in_on_links_neither() {
    let mut rows = contact("003A", "a@example.com", "+13125550101", 1);
    rows.extend(contact("003B", "b@example.com", "+13125550102", 2));
    rows.extend([
        ("e1", "anonymous_id", "shared", 3, true),
        ("e2", "anonymous_id", "shared", 4, true),
        ("e2", "crm_id", "003A", 4, true),
        ("e3", "anonymous_id", "shared", 5, true),
        ("e3", "crm_id", "003B", 5, true),
    ]);
    let r = resolve(&rows);
    assert_eq!(
        r.row("anonymous_id", "shared").unwrap().status,
        Status::Capped
    );
    assert_eq!(r.key_of("crm_id", "003A"), Some("003A"));
    assert_eq!(r.key_of("crm_id", "003B"), Some("003B"));
}

#[test]
fn same_type_identifiers_do_not_join_customers_stronger_ones_keep_apart() {
    let mut rows = contact("003A", "a@example.com", "+13125550101", 1);
    rows.extend(contact("003B", "b@example.com", "+13125550102", 2));
    // One record with both people's mobiles (a forwarded number typed into a form).
    rows.push(("form", "phone", "+13125550101", 3, true));
    rows.push(("form", "phone", "+13125550102", 3, true));
    let r = resolve(&rows);
    assert_eq!(r.customers(), 2);
    // Two same-type identifiers with no stronger ones do join.
    let r = resolve(&[
        ("chat", "anonymous_id", "c1", 1, true),
        ("chat", "anonymous_id", "c2", 1, true),
    ]);
    assert_eq!(r.customers(), 1);
}

#[test]
fn max_customer_identifiers_drops_the_link_that_would_exceed_it() {
    let settings = IdentitySettings {
        max_customer_identifiers: 3,
        ..IdentitySettings::default()
    };
    let mut rows = contact("003A", "a@example.com", "+13125550101", 1);
    rows.push(("w1", "anonymous_id", "c1", 2, true));
    rows.push(("w1", "crm_id", "003A", 2, true));
    let r = resolve_with(&settings, &rows, &PreviousKeys::default());
    let row = r.row("anonymous_id", "c1").unwrap();
    assert_eq!(row.status, Status::SizeLimited);
    assert!(
        row.reason
            .as_deref()
            .unwrap()
            .contains("max_customer_identifiers 3")
    );
    assert_ne!(r.key_of("anonymous_id", "c1"), Some("003A"));
    assert_eq!(r.row("crm_id", "003A").unwrap().customer_identifiers, 3);
}

#[test]
fn types_the_settings_do_not_list_link_after_the_listed_ones() {
    let mut rows = contact("003A", "a@example.com", "+13125550101", 1);
    rows.extend([
        ("hs1", "hubspot_contact_id", "hs-9", 2, true),
        ("hs1", "email", "a@example.com", 2, true),
        ("zz1", "loyalty_card", "L-1", 3, true),
        ("zz1", "email", "a@example.com", 3, true),
    ]);
    let r = resolve(&rows);
    assert_eq!(r.key_of("hubspot_contact_id", "hs-9"), Some("003A"));
    assert_eq!(r.key_of("loyalty_card", "L-1"), Some("003A"));
    // Eight types are listed by default; the unlisted one comes ninth.
    assert_eq!(r.row("loyalty_card", "L-1").unwrap().priority, 9);
}

#[test]
fn the_result_does_not_depend_on_row_order() {
    let mut rows = Vec::new();
    for i in 0..50 {
        let id = format!("003{i:03}");
        let email = format!("p{}@example.com", i / 2);
        let phone = format!("+1312555{:04}", i % 7);
        rows.push((id.clone(), "crm_id", id.clone(), i));
        rows.push((id.clone(), "email", email, i));
        rows.push((id, "phone", phone, i));
    }
    let run = |order: &[usize]| {
        let mut b = GraphBuilder::new(&IdentitySettings::default()).unwrap();
        for &i in order {
            let (rec, t, v, at) = &rows[i];
            b.add(("r", rec), t, v, Some(*at), true).unwrap();
        }
        let r = b.resolve(&PreviousKeys::default());
        let mut out: Vec<(String, String, Option<String>, &str)> = r
            .rows
            .iter()
            .map(|row| {
                (
                    r.id_type(row).to_string(),
                    r.value(row).to_string(),
                    r.customer_key(row).map(str::to_string),
                    row.status.name(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let forward: Vec<usize> = (0..rows.len()).collect();
    let mut backward = forward.clone();
    backward.reverse();
    let mut shuffled = forward.clone();
    shuffled.sort_by_key(|i| (i * 7919) % 151);
    assert_eq!(run(&forward), run(&backward));
    assert_eq!(run(&forward), run(&shuffled));
}

#[test]
fn keys_are_stable_when_data_is_added_and_merges_and_splits_are_logged() {
    // Run 1: a CRM customer, and an anonymous browser.
    let mut day1 = contact("003A", "jane@example.com", "+13125550101", 1);
    day1.push(("w1", "anonymous_id", "ck1", 2, true));
    day1.extend(contact("003B", "bob@example.com", "+13125550102", 3));
    let r1 = resolve(&day1);
    let anon = anonymous_key("anonymous_id", "ck1");
    assert_eq!(r1.key_of("anonymous_id", "ck1"), Some(anon.as_str()));
    assert!(r1.merges.is_empty());

    // Run 2: more data, nothing links differently: no key changes, nothing logged.
    let mut day2 = day1.clone();
    day2.push(("call9", "phone", "+13125550101", 9, true));
    day2.push(("w9", "anonymous_id", "ck2", 9, true));
    let r2 = resolve_with(&IdentitySettings::default(), &day2, &previous_of(&r1));
    for row in &r1.rows {
        assert_eq!(
            r2.key_of(r1.id_type(row), r1.value(row)),
            r1.customer_key(row),
            "{}",
            r1.value(row)
        );
    }
    assert!(r2.merges.is_empty(), "{:?}", r2.merges);
    assert_eq!(
        r2.row("crm_id", "003A").unwrap().customer_identifiers,
        3,
        "the call's phone was already hers"
    );

    // Run 3: the browser signs in as Jane: the anonymous customer is identified.
    let mut day3 = day2.clone();
    day3.push(("w10", "anonymous_id", "ck1", 10, true));
    day3.push(("w10", "crm_id", "003A", 10, true));
    let r3 = resolve_with(&IdentitySettings::default(), &day3, &previous_of(&r2));
    assert_eq!(r3.key_of("anonymous_id", "ck1"), Some("003A"));
    assert_eq!(
        r3.merges,
        vec![MergeEvent {
            event: "identified",
            customer_key: "003A".into(),
            previous_key: anon.clone(),
            identifiers: 1,
        }]
    );
    assert_eq!(
        r3.previous_key(r3.row("anonymous_id", "ck1").unwrap()),
        Some(anon.as_str())
    );

    // Run 4: Bob writes from Jane's e-mail once: the customers merge; Jane's key survives
    // (the earliest anchor), Bob's is logged as merged.
    let mut day4 = day3.clone();
    day4.push(("case1", "crm_id", "003B", 11, true));
    day4.push(("case1", "email", "jane@example.com", 11, true));
    let r4 = resolve_with(&IdentitySettings::default(), &day4, &previous_of(&r3));
    assert_eq!(r4.key_of("crm_id", "003B"), Some("003A"));
    assert_eq!(r4.merges.len(), 1);
    assert_eq!(r4.merges[0].event, "merge");
    assert_eq!(r4.merges[0].previous_key, "003B");
    assert_eq!(r4.merges[0].identifiers, 3);

    // Run 5: that case is corrected: the customers split again; the part holding 003B gets
    // its own key back as a new customer, logged as a split from Jane's key.
    let r5 = resolve_with(&IdentitySettings::default(), &day3, &previous_of(&r4));
    assert_eq!(r5.key_of("crm_id", "003A"), Some("003A"));
    assert_eq!(r5.key_of("crm_id", "003B"), Some("003B"));
    assert_eq!(r5.merges.len(), 1, "{:?}", r5.merges);
    assert_eq!(r5.merges[0].event, "split");
    assert_eq!(r5.merges[0].customer_key, "003B");
    assert_eq!(r5.merges[0].previous_key, "003A");
}

#[test]
fn a_split_keeps_the_key_with_the_anchor_and_never_reuses_a_key() {
    // Previously one customer "003A" held an anchor and two cookies.
    let mut prev = PreviousKeys::default();
    for (t, v) in [
        ("crm_id", "003A"),
        ("anonymous_id", "c1"),
        ("anonymous_id", "c2"),
    ] {
        prev.insert(t, v, "003A");
    }
    // Now the cookies are on their own (the sign-in record was deleted).
    let rows = vec![
        ("a", "crm_id", "003A", 1, true),
        ("b", "anonymous_id", "c1", 2, true),
        ("b", "anonymous_id", "c2", 2, true),
    ];
    let r = resolve_with(&IdentitySettings::default(), &rows, &prev);
    assert_eq!(r.key_of("crm_id", "003A"), Some("003A"));
    let other = r.key_of("anonymous_id", "c1").unwrap();
    assert_ne!(other, "003A");
    assert_eq!(r.merges.len(), 1);
    assert_eq!(r.merges[0].event, "split");
    assert_eq!(r.merges[0].identifiers, 2);
}

#[test]
fn blank_values_are_ignored_and_an_identifier_shared_by_thousands_is_capped() {
    let mut rows: Vec<(String, &str, String, i64)> = Vec::new();
    for i in 0..3000 {
        let id = format!("003{i:05}");
        rows.push((id.clone(), "crm_id", id.clone(), i));
        rows.push((id.clone(), "phone", "+18005550199".to_string(), i));
        rows.push((id, "email", String::new(), i));
    }
    let mut b = GraphBuilder::new(&IdentitySettings::default()).unwrap();
    for (rec, t, v, at) in &rows {
        b.add(("r", rec), t, v, Some(*at), true).unwrap();
    }
    let r = b.resolve(&PreviousKeys::default());
    assert_eq!(r.customers(), 3000);
    let row = r.row("phone", "+18005550199").unwrap();
    assert_eq!(row.status, Status::Capped);
    assert_eq!(row.degree, 3000);
    assert!(r.row("email", "").is_none());
}
