//! Leader election against a scripted Kubernetes API: of two replicas only
//! the Lease's holder leads.

use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::api::Api;
use kube::client::Body;
use kube::Client;
use seqops::controller::leader::{Attempt, LeaseLock};
use serde_json::{json, Value};

const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/seqops-system/leases/seqops-controller";
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/seqops-system/leases";

fn lock(client: Client) -> LeaseLock {
    LeaseLock::new(Api::namespaced(client, "seqops-system"), "seqops-controller", "replica-a", Duration::from_secs(15))
}

fn rfc3339(offset_seconds: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_seconds);
    at.format(&time::format_description::well_known::Rfc3339).expect("a time")
}

fn lease(holder: &str, renewed: String) -> Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
           "metadata": {"name": "seqops-controller", "namespace": "seqops-system", "resourceVersion": "41"},
           "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renewed, "acquireTime": renewed, "leaseTransitions": 3}})
}

async fn answer(
    handle: &mut tower_test::mock::Handle<Request<Body>, Response<Body>>,
    method: &str,
    path: &str,
    status: StatusCode,
    body: Value,
) -> Value {
    let (request, send) =
        tokio::time::timeout(Duration::from_secs(5), handle.next_request()).await.expect("a request").expect("alive");
    assert_eq!((request.method().as_str(), request.uri().path()), (method, path));
    let sent: Value =
        serde_json::from_slice(&request.into_body().collect_bytes().await.expect("body")).unwrap_or(Value::Null);
    send.send_response(
        Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(&body).expect("json")))
            .expect("response"),
    );
    sent
}

fn not_found() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "leases not found"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_creates_the_missing_lease_and_leads() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let attempt = tokio::spawn(async move { lock(Client::new(service, "default")).try_lead().await });
    answer(&mut handle, "GET", LEASE, StatusCode::NOT_FOUND, not_found()).await;
    let created = answer(&mut handle, "POST", LEASES, StatusCode::CREATED, lease("replica-a", rfc3339(0))).await;
    assert_eq!(created["spec"]["holderIdentity"], "replica-a");
    assert_eq!(created["spec"]["leaseDurationSeconds"], 15);
    assert_eq!(attempt.await.expect("ran").expect("no error"), Attempt::Leading);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_another_replica_renewed_is_left_to_it() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let attempt = tokio::spawn(async move { lock(Client::new(service, "default")).try_lead().await });
    answer(&mut handle, "GET", LEASE, StatusCode::OK, lease("replica-b", rfc3339(-5))).await;
    assert_eq!(attempt.await.expect("ran").expect("no error"), Attempt::HeldBy("replica-b".into()));
    let next = tokio::time::timeout(Duration::from_millis(200), handle.next_request()).await;
    assert!(!matches!(next, Ok(Some(_))), "a follower writes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over_with_its_version_checked() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let attempt = tokio::spawn(async move { lock(Client::new(service, "default")).try_lead().await });
    answer(&mut handle, "GET", LEASE, StatusCode::OK, lease("replica-b", rfc3339(-60))).await;
    let replaced = answer(&mut handle, "PUT", LEASE, StatusCode::OK, lease("replica-a", rfc3339(0))).await;
    assert_eq!(replaced["spec"]["holderIdentity"], "replica-a");
    assert_eq!(replaced["spec"]["leaseTransitions"], 4);
    assert_eq!(replaced["metadata"]["resourceVersion"], "41", "a concurrent takeover makes this write conflict");
    assert_eq!(attempt.await.expect("ran").expect("no error"), Attempt::Leading);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_race_for_an_expired_lease_means_following() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let attempt = tokio::spawn(async move { lock(Client::new(service, "default")).try_lead().await });
    answer(&mut handle, "GET", LEASE, StatusCode::OK, lease("replica-b", rfc3339(-60))).await;
    let conflict = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409, "message": "the object has been modified"});
    answer(&mut handle, "PUT", LEASE, StatusCode::CONFLICT, conflict).await;
    assert!(matches!(attempt.await.expect("ran").expect("no error"), Attempt::HeldBy(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_lease_duration_written_by_someone_else_lasts_an_hour_at_most() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let attempt = tokio::spawn(async move { lock(Client::new(service, "default")).try_lead().await });
    let mut edited = lease("replica-b", rfc3339(-7200));
    // What an API server can hold: 68 years, and the most transitions.
    edited["spec"]["leaseDurationSeconds"] = json!(i32::MAX);
    edited["spec"]["leaseTransitions"] = json!(i32::MAX);
    answer(&mut handle, "GET", LEASE, StatusCode::OK, edited).await;
    // Renewed two hours ago: past the hour a Lease is taken to last at most.
    let replaced = answer(&mut handle, "PUT", LEASE, StatusCode::OK, lease("replica-a", rfc3339(0))).await;
    assert_eq!(replaced["spec"]["leaseTransitions"], json!(i32::MAX));
    assert_eq!(attempt.await.expect("ran").expect("no error"), Attempt::Leading);
}

/// The Lease a replica creates may be taken over fifteen seconds after the
/// create was sent. Answered four seconds late, its renewals then hanging,
/// the replica stops leading at its renew deadline, ten seconds after the
/// create was sent: not after its answer, and not after the renewal that
/// hangs at that moment gives up.
#[tokio::test(start_paused = true)]
async fn a_leader_whose_lease_was_answered_late_stops_before_that_lease_can_expire() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let started = tokio::time::Instant::now();
    let leading = tokio::spawn(async move {
        lock(Client::new(service, "default")).lead(std::future::pending::<()>()).await;
        tokio::time::Instant::now()
    });
    answer(&mut handle, "GET", LEASE, StatusCode::NOT_FOUND, not_found()).await;
    let (request, send) = handle.next_request().await.expect("the create");
    assert_eq!((request.method().as_str(), request.uri().path()), ("POST", LEASES));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let created = serde_json::to_vec(&lease("replica-a", rfc3339(0))).expect("json");
    send.send_response(Response::builder().status(StatusCode::CREATED).body(Body::from(created)).expect("a response"));
    // Renewals are taken and never answered: each hangs until it times out.
    let stopped = leading.await.expect("lead returns");
    let led_for = stopped - started;
    assert!(led_for <= Duration::from_secs(10), "led {led_for:?} after sending the create, past the 10 s deadline");
    drop(handle);
}
