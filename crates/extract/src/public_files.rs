//! The JSON readers on public files this project did not write: vendor documentation examples,
//! vendor SDK test fixtures and API responses recorded by other projects' test suites, kept in
//! `tests/fixtures/public/<vendor>/` (each directory's README gives every file's source, licence
//! and the facts asserted here). Each test names its source.

use touchstone_core::{SourceFormat, StagingTable};

use crate::testutil::*;

fn total(stats: &[crate::FileStats]) -> crate::FileStats {
    let mut t = crate::FileStats::default();
    for s in stats {
        t.add(s);
    }
    t
}

/// (read, staged, rejected, duplicates)
fn counts(s: &crate::FileStats) -> (u64, u64, u64, u64) {
    (s.rows_read, s.rows_staged, s.rows_rejected, s.duplicates)
}

// ------------------------------------------------------------------ Amazon Connect CTR

/// Source: the "CTR Samples" page saved in `tests/fixtures/public/amazon_connect/` (three
/// deliveries of contact 6fe40d2a... and the author's pretty-printed copy of the first).
#[test]
fn connect_pretty_printed_ctr_is_one_record() {
    let (stats, sink) = run_files(
        SourceFormat::AmazonConnectCtr,
        &[(
            "ctr_6fe40d2a_pretty.json",
            &public("amazon_connect/ctr_6fe40d2a_pretty.json"),
        )],
    );
    assert_eq!(counts(&stats[0]), (1, 1, 0, 0));
    let t = sink.table(StagingTable::Calls);
    assert_eq!(
        s(&t, "call_id", 0).as_deref(),
        Some("6fe40d2a-1a89-4d73-bfcf-5d9c33894f47")
    );
    assert_eq!(s(&t, "queue_name", 0).as_deref(), Some("TCC Refrig AC LLA"));
    assert_eq!(i(&t, "queue_duration_secs", 0), Some(346));
    assert_eq!(s(&t, "agent_id", 0).as_deref(), Some("Steve.Lusk"));
    assert_eq!(i(&t, "agent_interaction_secs", 0), Some(239));
    assert_eq!(i(&t, "customer_hold_secs", 0), Some(221));
    assert_eq!(i(&t, "acw_secs", 0), Some(5));
    assert_eq!(
        i(&t, "record_updated_at", 0),
        Some(ts("2022-01-05T17:48:35Z"))
    );
}

fn deliveries() -> [Vec<u8>; 3] {
    [1, 2, 3].map(|n| {
        let mut b = public(&format!(
            "amazon_connect/ctr_6fe40d2a_delivery{n}_compact.json"
        ));
        while b.last() == Some(&b'\n') {
            b.pop();
        }
        b
    })
}

/// Source: as above. Kinesis Firehose writes records back to back with no separator; the three
/// deliveries of one contact carry later and later LastUpdateTimestamps.
#[test]
fn connect_firehose_concatenation_and_redeliveries() {
    let [d1, d2, d3] = deliveries();
    let firehose: Vec<u8> = [d1.clone(), d2.clone(), d3.clone()].concat();
    let pretty = public("amazon_connect/ctr_6fe40d2a_pretty.json");
    let (stats, sink) = run_files(
        SourceFormat::AmazonConnectCtr,
        &[("firehose-1.json", &firehose), ("pretty.json", &pretty)],
    );
    // Each later version is staged (the models keep the latest); the pretty copy has the first
    // delivery's LastUpdateTimestamp, so it is the same version again: a duplicate.
    assert_eq!(counts(&stats[0]), (3, 3, 0, 0));
    assert_eq!(counts(&stats[1]), (1, 0, 0, 1));
    let t = sink.table(StagingTable::Calls);
    let updated: Vec<_> = (0..3).map(|r| i(&t, "record_updated_at", r)).collect();
    assert_eq!(
        updated,
        vec![
            Some(ts("2022-01-05T17:48:35Z")),
            Some(ts("2022-01-11T03:41:32Z")),
            Some(ts("2022-01-11T04:09:47Z"))
        ]
    );
    // The latest delivery keeps both attribute spellings it was sent with.
    let attrs = s(&t, "attributes", 2).unwrap_or_default();
    assert!(attrs.contains("\"GreetingPlayed\"") && attrs.contains("\"greetingPlayed\""));

    // Delivered newest first, the older versions are duplicates: only the latest is staged.
    let newest_first: Vec<u8> = [d3, d2, d1].join(&b'\n');
    let (stats, sink) = run_files(
        SourceFormat::AmazonConnectCtr,
        &[("firehose-2.json", &newest_first)],
    );
    assert_eq!(counts(&stats[0]), (3, 1, 0, 2));
    assert_eq!(
        i(&sink.table(StagingTable::Calls), "record_updated_at", 0),
        Some(ts("2022-01-11T04:09:47Z"))
    );
}

/// Source: as above, the three deliveries written as a JSON array, one record per line.
#[test]
fn connect_array_of_records() {
    let [d1, d2, d3] = deliveries();
    let mut array = b"[\n".to_vec();
    for d in [&d1, &d2, &d3] {
        array.extend_from_slice(d);
        array.extend_from_slice(b",\n");
    }
    array.extend_from_slice(b"]\n");
    let (stats, sink) = run_files(SourceFormat::AmazonConnectCtr, &[("ctr.json", &array)]);
    assert_eq!(counts(&stats[0]), (3, 3, 0, 0));
    let lines: Vec<_> = (0..3)
        .map(|r| i(&sink.table(StagingTable::Calls), "_source_line", r))
        .collect();
    assert_eq!(lines, vec![Some(2), Some(3), Some(4)]);
}

// ------------------------------------------------------------------ LiveChat

/// Source: `livechat/livechat-public-docs:payloads/messaging/v3.6/agent-chat-api/other-structures/chat.json`
/// (a pretty-printed Chat object).
#[test]
fn livechat_pretty_printed_chat() {
    let (stats, sink) = run_files(
        SourceFormat::Livechat,
        &[(
            "chat.json",
            &public("livechat/agent_chat_api_v3.6_chat.json"),
        )],
    );
    assert_eq!(counts(&stats[0]), (1, 1, 0, 0));
    let t = sink.table(StagingTable::Chats);
    assert_eq!(s(&t, "chat_id", 0).as_deref(), Some("PJ0MRSHTDG"));
    assert_eq!(s(&t, "thread_id", 0).as_deref(), Some("QA37PVJ75B"));
    assert_eq!(
        s(&t, "previous_thread_id", 0).as_deref(),
        Some("QA078URPJL")
    );
    assert_eq!(
        s(&t, "tags", 0).as_deref(),
        Some("support,positive feedback")
    );
    assert_eq!(
        s(&t, "customer_user_id", 0).as_deref(),
        Some("b7eff798-f8df-4364-8059-649c35c9ed0c")
    );
    assert_eq!(sink.rows(StagingTable::ChatMessages), 1);
    // The published object misspells `properties` as `properites`: not a near-miss of a field
    // read at the chat's top level, so no warning; the rating is simply absent.
    assert_eq!(i(&t, "rating_score", 0), None);
}

/// Source: `livechat/livechat-public-docs:src/pages/messaging/agent-chat-api/index.mdx`, the
/// "List Archives" response (an API list envelope; the documentation's `//` comments removed).
#[test]
fn livechat_list_archives_envelope() {
    let page = strip_comments(&public(
        "livechat/agent_chat_api_list_archives_response.jsonc",
    ));
    let (stats, sink) = run_files(SourceFormat::Livechat, &[("archives.json", &page)]);
    // One chat: `found_chats` (42) and the page ids are not records.
    assert_eq!(counts(&stats[0]), (1, 1, 0, 0));
    let t = sink.table(StagingTable::Chats);
    assert_eq!(s(&t, "chat_id", 0).as_deref(), Some("PJ0MRSHTDG"));
    assert_eq!(s(&t, "thread_id", 0).as_deref(), Some("K600PKZON8"));
    let m = sink.table(StagingTable::ChatMessages);
    assert_eq!(m.num_rows(), 1);
    assert_eq!(s(&m, "text", 0).as_deref(), Some("Hello there"));

    // As published (with comments) it is not JSON: one reject naming the file's first line,
    // nothing lost silently.
    let raw = public("livechat/agent_chat_api_list_archives_response.jsonc");
    let (stats, sink) = run_files(SourceFormat::Livechat, &[("archives.jsonc", &raw)]);
    assert_eq!(stats[0].rows_staged, 0);
    assert!(stats[0].rows_rejected >= 1);
    assert!(sink.rejects.iter().all(|r| r.reason.contains("expected")));
}

/// Source: `livechat/livechat-public-docs:src/pages/management/webhooks/index.mdx`, the
/// `incoming_chat` and `thread_summary_set` sample webhooks.
#[test]
fn livechat_webhooks() {
    // `incoming_chat` holds a chat at /payload/chat (whose thread the sample leaves empty: a
    // reject that names the record's pointer).
    let incoming = strip_comments(&public("livechat/webhook_incoming_chat.jsonc"));
    let summary = public("livechat/webhook_thread_summary_set.json");
    let (stats, sink) = run_files(
        SourceFormat::Livechat,
        &[("incoming.json", &incoming), ("summary.json", &summary)],
    );
    assert_eq!(counts(&stats[0]), (1, 0, 1, 0));
    assert!(
        sink.rejects[0]
            .reason
            .starts_with("record /payload/chat: threads[0]: field 'id': missing"),
        "{}",
        sink.rejects[0].reason
    );
    // `thread_summary_set` carries no chat: not a record, a warning.
    assert_eq!(counts(&stats[1]), (0, 0, 0, 0));
    assert_eq!(
        stats[1]
            .warnings
            .get("LiveChat webhooks with action 'thread_summary_set' carry no chat; not read"),
        Some(&1)
    );
}

// ------------------------------------------------------------------ Segment, RudderStack

/// Source: `segmentio/analytics-go:fixtures/*.json` (MIT): `/v1/batch` payloads.
#[test]
fn segment_batches_and_duplicate_message_ids() {
    let (stats, sink) = run_files(
        SourceFormat::SegmentEvents,
        &[
            (
                "many-track.json",
                &public("segment/analytics_go_test-many-track.json"),
            ),
            (
                "enqueue-identify.json",
                &public("segment/analytics_go_test-enqueue-identify.json"),
            ),
            (
                "enqueue-page.json",
                &public("segment/analytics_go_test-enqueue-page.json"),
            ),
            (
                "messageid-track.json",
                &public("segment/analytics_go_test-messageid-track.json"),
            ),
        ],
    );
    // Three `track` events share the messageId "I'm unique": one is kept.
    assert_eq!(counts(&stats[0]), (3, 1, 0, 2));
    // The same id on an identify and a page: different event types, both kept.
    assert_eq!(counts(&stats[1]), (1, 1, 0, 0));
    assert_eq!(counts(&stats[2]), (1, 1, 0, 0));
    assert_eq!(counts(&stats[3]), (1, 1, 0, 0));
    let t = sink.table(StagingTable::WebEvents);
    assert_eq!(s(&t, "message_id", 0).as_deref(), Some("I'm unique"));
    assert_eq!(
        s(&t, "properties", 0).as_deref(),
        Some(r#"{"application":"Segment Desktop","version":0}"#)
    );
    assert_eq!(s(&t, "event_type", 2).as_deref(), Some("page"));
    assert_eq!(s(&t, "event_name", 2).as_deref(), Some("A"));
    assert_eq!(s(&t, "message_id", 3).as_deref(), Some("abc"));
}

/// Source: `segmentio/segment-docs:src/connections/spec/{track,identify}.md`, the "complete
/// example" of each call (single pretty-printed events).
#[test]
fn segment_pretty_printed_single_events() {
    let (stats, sink) = run_files(
        SourceFormat::SegmentEvents,
        &[
            (
                "track.json",
                &public("segment/segment_docs_spec_track_complete_example.json"),
            ),
            (
                "identify.json",
                &public("segment/segment_docs_spec_identify_complete_example.json"),
            ),
        ],
    );
    assert_eq!(counts(&total(&stats)), (2, 2, 0, 0));
    let t = sink.table(StagingTable::WebEvents);
    assert_eq!(
        s(&t, "message_id", 0).as_deref(),
        Some("ajs-f8ca1e4de5024d9430b3928bd8ac6b96")
    );
    assert_eq!(s(&t, "event_name", 0).as_deref(), Some("Course Clicked"));
    assert_eq!(
        i(&t, "occurred_at", 0),
        Some(ts("2015-12-12T19:11:01.249Z"))
    );
    assert_eq!(s(&t, "user_id", 1).as_deref(), Some("97980cfea0067"));
}

/// Source: `rudderlabs/rudder-server:regulation-worker/cmd/testData/original100.json.gz` (first
/// 34 lines) and `gateway/testdata/batch.json`.
#[test]
fn rudderstack_duplicates_by_message_id_and_by_content() {
    let ndjson = public("rudderstack/regulation_worker_original100_head.ndjson");
    let batch = public("rudderstack/gateway_testdata_batch.json");
    let (stats, sink) = run_files(
        SourceFormat::SegmentEvents,
        &[("original100.ndjson", &ndjson), ("batch.json", &batch)],
    );
    // messageId 912754 is delivered three times: 32 distinct ids in 34 lines.
    assert_eq!(counts(&stats[0]), (34, 32, 0, 2));
    // Twelve byte-identical events without a messageId: their content is their id.
    assert_eq!(counts(&stats[1]), (12, 1, 0, 11));
    assert!(
        stats[1]
            .warnings
            .keys()
            .any(|w| w.contains("without a messageId"))
    );
    let t = sink.table(StagingTable::WebEvents);
    assert_eq!(s(&t, "source_system", 0).as_deref(), Some("rudderstack"));
    assert_eq!(s(&t, "message_id", 0).as_deref(), Some("912535"));
    assert_eq!(s(&t, "message_id", 31).as_deref(), Some("912508"));
    assert!(s(&t, "message_id", 32).is_some_and(|id| id.starts_with("content:")));
    assert_eq!(s(&t, "event_name", 32).as_deref(), Some("Push___Received"));
}

// ------------------------------------------------------------------ Zendesk

/// Source: `zendesk/zendesk_api_client_rb:spec/fixtures/cassettes/...` (Apache-2.0): the
/// recorded body of GET /api/v2/tickets and of GET /api/v2/satisfaction_ratings.
#[test]
fn zendesk_list_pages_of_tickets_and_ratings() {
    let (stats, sink) = run_files(
        SourceFormat::Zendesk,
        &[
            (
                "tickets.json",
                &public("zendesk/zendesk_api_client_rb_tickets_list_page1.json"),
            ),
            (
                "satisfaction_ratings.json",
                &public("zendesk/zendesk_api_client_rb_satisfaction_ratings_list.json"),
            ),
        ],
    );
    // 100 tickets in the page; its `count` (6040) is the size of the whole list, not a record.
    assert_eq!(counts(&stats[0]), (100, 100, 0, 0));
    let t = sink.table(StagingTable::Cases);
    assert_eq!(s(&t, "case_id", 0).as_deref(), Some("1"));
    assert_eq!(s(&t, "status", 0).as_deref(), Some("pending"));
    assert_eq!(s(&t, "origin", 0).as_deref(), Some("web"));
    assert_eq!(s(&t, "source_system", 0).as_deref(), Some("zendesk"));
    assert_eq!(
        s(&t, "subject", 0).as_deref(),
        Some("This is a sample ticket requested and submitted by you")
    );
    assert_eq!(i(&t, "created_at", 0), Some(ts("2012-09-06T20:15:09Z")));
    let statuses: Vec<_> = (0..100).filter_map(|r| s(&t, "status", r)).collect();
    assert_eq!(statuses.iter().filter(|s| *s == "new").count(), 99);
    // 65 ratings: one answer (good), 64 offered invitations that are not answers.
    assert_eq!(counts(&stats[1]), (65, 65, 0, 0));
    let a = sink.table(StagingTable::SurveyResponses);
    assert_eq!(a.num_rows(), 1);
    assert_eq!(s(&a, "response_id", 0).as_deref(), Some("20001907"));
    assert_eq!(s(&a, "interaction_id", 0).as_deref(), Some("35"));
    assert_eq!(s(&a, "comment", 0).as_deref(), Some("Satisfaction!"));
    assert_eq!(f(&a, "score", 0), Some(1.0));
    let inv = sink.table(StagingTable::SurveyInvitations);
    assert_eq!(inv.num_rows(), 64);
    assert!((0..64).all(|r| s(&inv, "status", r).as_deref() == Some("offered")));
}

/// Source: `facetoe/zenpy:tests/test_api/betamax/TicketsIncrementalTest.*.json` (GPL-3.0):
/// the time-based and cursor-based incremental exports of one account, and two pages of a
/// paginated time-based export.
#[test]
fn zendesk_incremental_exports() {
    let (stats, sink) = run_files(
        SourceFormat::Zendesk,
        &[
            (
                "time_based.json",
                &public("zendesk/zenpy_incremental_tickets_time_based_start0.json"),
            ),
            (
                "cursor.json",
                &public("zendesk/zenpy_incremental_tickets_cursor_start0.json"),
            ),
        ],
    );
    assert_eq!(counts(&stats[0]), (87, 87, 0, 0));
    // The cursor export holds the same 87 tickets (in another order): all delivered again.
    assert_eq!(counts(&stats[1]), (87, 0, 0, 87));
    let t = sink.table(StagingTable::Cases);
    let deleted: Vec<_> = (0..87)
        .filter(|&r| b(&t, "is_deleted", r) == Some(true))
        .filter_map(|r| s(&t, "case_id", r))
        .collect();
    assert_eq!(deleted, vec!["4034".to_owned()]);

    let (stats, _) = run_files(
        SourceFormat::Zendesk,
        &[
            (
                "page1.json",
                &public("zendesk/zenpy_incremental_tickets_per_page1_page1.json"),
            ),
            (
                "page2.json",
                &public("zendesk/zenpy_incremental_tickets_per_page1_page2.json"),
            ),
        ],
    );
    assert_eq!(counts(&stats[0]), (7, 7, 0, 0));
    assert_eq!(counts(&stats[1]), (6, 6, 0, 0));
}

/// Source: `airbytehq/airbyte:.../source-zendesk-chat/unit_tests/resource/http/response/chats.json`
/// (MIT): the Chat API incremental export shape with one offline message.
#[test]
fn zendesk_chat_incremental_export() {
    let (stats, sink) = run_files(
        SourceFormat::Zendesk,
        &[(
            "chats.json",
            &public("zendesk/airbyte_zendesk_chat_incremental_chats.json"),
        )],
    );
    assert_eq!(counts(&stats[0]), (1, 1, 0, 0));
    let t = sink.table(StagingTable::Chats);
    assert_eq!(
        s(&t, "chat_id", 0).as_deref(),
        Some("2104.10414779.SVhDCJ9flq79a")
    );
    assert_eq!(s(&t, "customer_name", 0).as_deref(), Some("Jiny"));
    assert_eq!(
        s(&t, "customer_email", 0).as_deref(),
        Some("visitor_jiny@doe.com")
    );
    assert_eq!(i(&t, "customer_message_count", 0), Some(1));
    assert_eq!(i(&t, "agent_message_count", 0), Some(0));
    let m = sink.table(StagingTable::ChatMessages);
    assert_eq!(s(&m, "text", 0).as_deref(), Some("Hi there!"));
    assert_eq!(s(&m, "author_type", 0).as_deref(), Some("customer"));
}

// ------------------------------------------------------------------ Intercom

/// Source: `intercom/intercom-java:intercom-java/src/test/resources/{conversation,conversations,notification}.json`
/// (Apache-2.0).
#[test]
fn intercom_java_client_fixtures() {
    let (stats, sink) = run_files(
        SourceFormat::Intercom,
        &[
            (
                "conversation.json",
                &public("intercom/intercom_java_conversation.json"),
            ),
            (
                "conversations.json",
                &public("intercom/intercom_java_conversations.json"),
            ),
            (
                "notification.json",
                &public("intercom/intercom_java_notification.json"),
            ),
        ],
    );
    assert_eq!(counts(&stats[0]), (1, 1, 0, 0));
    // The list page repeats conversation 5143511111 without its parts, with the same
    // `updated_at`: a duplicate.
    assert_eq!(counts(&stats[1]), (3, 2, 0, 1));
    // A `user.created` notification holds no conversation.
    assert_eq!(counts(&stats[2]), (0, 0, 0, 0));
    assert!(
        stats[2]
            .warnings
            .keys()
            .any(|w| w.contains("'user.created'"))
    );
    let t = sink.table(StagingTable::Chats);
    assert_eq!(s(&t, "chat_id", 0).as_deref(), Some("5143511111"));
    assert_eq!(i(&t, "started_at", 0), Some(ts("2016-06-23T17:32:12Z")));
    assert_eq!(
        s(&t, "customer_user_id", 0).as_deref(),
        Some("576c1a139d0baad1010001111")
    );
    assert_eq!(s(&t, "tags", 0).as_deref(), Some("Tag 1,Tag 2"));
    // The opening message (by a lead) and the user's comment are customer messages; the admin
    // replied once.
    assert_eq!(i(&t, "customer_message_count", 0), Some(2));
    assert_eq!(i(&t, "agent_message_count", 0), Some(1));
    assert_eq!(s(&t, "agent_id", 0).as_deref(), Some("358111"));
    assert_eq!(
        s(&t, "last_page_url", 0).as_deref(),
        Some("https://intercom.com/")
    );
    let m = sink.table(StagingTable::ChatMessages);
    let ids: Vec<_> = (0..3).filter_map(|r| s(&m, "event_id", r)).collect();
    assert_eq!(ids, vec!["33954111", "142533411", "142533511"]);
}

/// Source: `intercom/intercom-go:fixtures/{conversation,conversations,notification}.json`
/// (Apache-2.0; tab-indented) and `zulip/zulip:zerver/webhooks/intercom/fixtures/conversation_admin_closed.json`
/// (Apache-2.0; a real webhook delivery).
#[test]
fn intercom_go_client_and_a_real_webhook() {
    let (stats, sink) = run_files(
        SourceFormat::Intercom,
        &[
            (
                "conversation.json",
                &public("intercom/intercom_go_conversation.json"),
            ),
            (
                "conversations.json",
                &public("intercom/intercom_go_conversations.json"),
            ),
            (
                "notification.json",
                &public("intercom/intercom_go_notification.json"),
            ),
            (
                "webhook.json",
                &public("intercom/zulip_webhook_conversation_admin_closed.json"),
            ),
        ],
    );
    assert_eq!(counts(&stats[0]), (1, 1, 0, 0));
    assert_eq!(counts(&stats[1]), (1, 0, 0, 1));
    assert_eq!(counts(&stats[2]), (0, 0, 0, 0));
    assert_eq!(counts(&stats[3]), (1, 1, 0, 0));
    let t = sink.table(StagingTable::Chats);
    // Conversation 147 was opened by an admin; the user answered.
    assert_eq!(s(&t, "chat_id", 0).as_deref(), Some("147"));
    assert_eq!(i(&t, "agent_message_count", 0), Some(1));
    assert_eq!(i(&t, "customer_message_count", 0), Some(1));
    assert_eq!(i(&t, "ended_at", 0), Some(ts("2014-05-23T15:04:54Z")));
    assert_eq!(s(&t, "chat_id", 1).as_deref(), Some("21322009097"));
    assert_eq!(
        s(&t, "customer_email", 1).as_deref(),
        Some("jerryguitarist@gmail.com")
    );
    let m = sink.table(StagingTable::ChatMessages);
    let closes: Vec<_> = (0..m.num_rows())
        .filter(|&r| s(&m, "event_type", r).as_deref() == Some("close"))
        .filter_map(|r| s(&m, "event_id", r))
        .collect();
    assert_eq!(closes, vec!["2824395628".to_owned()]);
}
