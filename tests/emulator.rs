//! The Orsay emulator behaves as the vendor documents it.

mod common;

use common::{Server, KEY};
use serde_json::json;

#[test]
fn requests_without_a_valid_bearer_key_are_refused_with_401() {
    let server = Server::start(&[]);
    let (status, body) = server.call("GET", &format!("{}/sequences", server.orsay_url()), None, "not-a-key");
    assert_eq!(status, 401);
    assert_eq!(body, json!({"detail": "Invalid or missing API key"}));
}

#[test]
fn a_create_fills_in_defaults_and_derives_channel_and_type_from_the_trigger() {
    let server = Server::start(&[]);
    let (status, created) =
        server.orsay("POST", "/sequences", Some(json!({"name": "New", "trigger": "CONTACT_CREATED"})));
    assert_eq!(status, 201);
    let (status, full) =
        server.orsay("GET", &format!("/sequences/{}", created["id"].as_str().unwrap_or_default()), None);
    assert_eq!(status, 200);
    assert_eq!((full["channel"].clone(), full["type"].clone()), (json!("WHATSAPP"), json!("OUTBOUND")));
    assert_eq!(
        (full["inbound_response_delay"].clone(), full["inbound_response_delay_unit"].clone()),
        (json!(5), json!("MINUTES"))
    );
    assert_eq!((full["active"].clone(), full["enable_agent_on_conversation"].clone()), (json!(false), json!(true)));
    assert_eq!(full["flow"], json!([]));
}

#[test]
fn a_bad_trigger_or_a_missing_name_is_a_400_saying_which() {
    let server = Server::start(&[]);
    let (status, body) = server.orsay("POST", "/sequences", Some(json!({"name": "X", "trigger": "FAX"})));
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("Invalid trigger 'FAX'")), "{body}");
    let (status, body) = server.orsay("POST", "/sequences", Some(json!({"trigger": "WHATSAPP_MESSAGE"})));
    assert_eq!(status, 400);
    assert_eq!(body["detail"], "Missing required field: name");
}

#[test]
fn lists_return_summaries_and_put_changes_only_the_fields_sent() {
    let server = Server::start(&[]);
    let (_, created) = server.orsay(
        "POST",
        "/sequences",
        Some(json!({"name": "S", "trigger": "INSTAGRAM_COMMENT", "keywords": ["a"]})),
    );
    let id = created["id"].as_str().unwrap_or_default().to_string();
    let (_, list) = server.orsay("GET", "/sequences", None);
    assert_eq!(
        list,
        json!([{"id": id, "name": "S", "trigger": "INSTAGRAM_COMMENT", "channel": "INSTAGRAM", "active": false}])
    );
    let (status, answer) =
        server.orsay("PUT", &format!("/sequences/{id}"), Some(json!({"active": true, "trigger": "WHATSAPP_MESSAGE"})));
    assert_eq!((status, answer), (200, json!({"id": id, "status": "updated"})));
    let (_, full) = server.orsay("GET", &format!("/sequences/{id}"), None);
    assert_eq!(
        (full["active"].clone(), full["channel"].clone(), full["keywords"].clone()),
        (json!(true), json!("WHATSAPP"), json!(["a"]))
    );
}

#[test]
fn missing_sequences_are_404() {
    let server = Server::start(&[]);
    assert_eq!(server.orsay("GET", "/sequences/nope", None).0, 404);
    assert_eq!(server.orsay("PUT", "/sequences/nope", Some(json!({"active": true}))).0, 404);
    assert_eq!(server.orsay("DELETE", "/sequences/nope", None).0, 404);
}

#[test]
fn each_key_is_its_own_organization_seeded_with_the_documented_agent_and_profiles() {
    let server = Server::start(&[]);
    server.orsay("POST", "/sequences", Some(json!({"name": "Mine", "trigger": "WHATSAPP_MESSAGE"})));
    let (_, theirs) = server.call("GET", &format!("{}/sequences", server.orsay_url()), None, "sk_live_other");
    assert_eq!(theirs, json!([]));
    let (_, agents) = server.orsay("GET", "/agents", None);
    assert_eq!(agents[0]["name"], "Sales Agent");
    let (_, profiles) = server.orsay("GET", "/profiles", None);
    assert_eq!(
        (profiles["instagram"][0]["username"].clone(), profiles["whatsapp"][0]["name"].clone()),
        (json!("mybusiness"), json!("My WhatsApp"))
    );
}

#[test]
fn past_the_hourly_limit_requests_get_429_with_retry_after() {
    let server = Server::start(&["--requests-per-hour", "3"]);
    for _ in 0..3 {
        assert_eq!(server.orsay("GET", "/agents", None).0, 200);
    }
    let (status, body) = server.call("GET", &format!("{}/agents", server.orsay_url()), None, KEY);
    assert_eq!(status, 429);
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("Rate limit exceeded")), "{body}");
    // Another organization has its own budget.
    assert_eq!(server.call("GET", &format!("{}/agents", server.orsay_url()), None, "sk_live_other").0, 200);
    assert_eq!(server.orsay_requests(), 5);
}

#[test]
fn a_429_carries_how_long_to_wait() {
    let server = Server::start(&["--requests-per-hour", "1"]);
    server.orsay("GET", "/agents", None);
    let response = server.raw_get(&format!("{}/agents", server.orsay_url()));
    assert_eq!(response.0, 429);
    let wait: u64 = response.1.parse().unwrap_or(0);
    assert!((3500..=3600).contains(&wait), "Retry-After: {}", response.1);
}
