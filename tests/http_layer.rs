//! The HTTP layer against a scripted server on loopback: orchagent's
//! `is_retryable` decides retries whatever the method, and its
//! `X-RateLimit-*` headers feed the account's budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::any;
use axum::{Json, Router};
use reqwest::Method;
use seqops::providers::account::Secret;
use seqops::providers::{self, Account, AccountSettings, ProviderError};
use serde_json::json;

/// A server that answers each call with the next scripted answer, counting
/// the calls.
async fn scripted(answers: Vec<(u16, serde_json::Value)>) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(Mutex::new(answers.into_iter()));
    let counter = calls.clone();
    let app = Router::new().route(
        "/{*path}",
        any(move || {
            let script = script.clone();
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let (status, body) = script.lock().expect("script").next().unwrap_or((200, json!({"data": {}})));
                let mut response = (StatusCode::from_u16(status).expect("status"), Json(body)).into_response();
                let headers = response.headers_mut();
                headers.insert("x-ratelimit-limit", "1000".parse().expect("header"));
                headers.insert("x-ratelimit-remaining", "321".parse().expect("header"));
                headers.insert("x-ratelimit-reset", "1".parse().expect("header"));
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{addr}"), calls)
}

fn account(base_url: String) -> Arc<Account> {
    let settings = AccountSettings {
        name: "oa".into(),
        provider_type: seqops::providers::orchagent::TYPE,
        base_url,
        credential: Secret::new("sk_test_key"),
        credential_source: "the test".into(),
        rate: None,
        headers: Default::default(),
        budget_file: None,
    };
    Account::connect(settings, providers::dialect(seqops::providers::orchagent::TYPE), Arc::new(|_| {}))
}

fn failure(retryable: bool) -> (u16, serde_json::Value) {
    (
        503,
        json!({"error": {"code": "UNAVAILABLE", "message": "try later", "is_retryable": retryable}, "metadata": {"request_id": "r"}}),
    )
}

#[tokio::test]
async fn a_post_the_api_calls_retryable_is_sent_again() {
    let (url, calls) = scripted(vec![failure(true), failure(true), (201, json!({"data": {"id": "x"}}))]).await;
    let account = account(url);
    let response = account.http.send(Method::POST, "/workspaces", Some(&json!({"name": "a"}))).await;
    assert!(response.is_ok(), "{:?}", response.err());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_get_the_api_calls_not_retryable_is_not_sent_again() {
    let (url, calls) = scripted(vec![failure(false)]).await;
    let account = account(url);
    let error = account.http.send(Method::GET, "/workspaces", None).await.err();
    assert!(matches!(error, Some(ProviderError::Status { status: 503, .. })), "{error:?}");
    assert!(error.map(|e| e.to_string()).unwrap_or_default().contains("UNAVAILABLE: try later"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rate_limit_headers_feed_the_budget_the_plan_reports() {
    let (url, _) = scripted(vec![(200, json!({"data": []}))]).await;
    let account = account(url);
    account.http.send(Method::GET, "/workspaces", None).await.expect("an answer");
    assert_eq!(account.limiter.remaining(), Some(321));
    assert_eq!(account.limiter.server_limit(), Some(1000));
}
