//! Pacing to Gary's 60 requests a minute, proven on the virtual clock (see
//! tests/common/paced.rs).

mod common;

use seqops::manifest::provider::Rate;

const ENROLLMENTS: usize = 150;

fn manifests(count: usize) -> String {
    let mut text = "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: gary\nspec:\n  type: gary\n  credentials:\n    env: GARY_API_KEY\n".to_string();
    for n in 1..=count {
        text.push_str(&format!(
            "---\napiVersion: gary.seqops.dev/v1alpha1\nkind: Enrollment\nmetadata:\n  name: lead-{n}\nspec:\n  sequence: {{id: seq_EXAMPLE_aaaa}}\n  contactId: con_sandbox_{n:04}\n"
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_150_enrollments_under_60_a_minute_gets_no_429_and_takes_no_longer_than_the_rate_allows() {
    let paced = common::paced::apply(
        seqops::providers::gary::TYPE,
        "gary",
        "gc_live_pacing_test",
        Rate::per_minute(60),
        &manifests(ENROLLMENTS),
    )
    .await;

    assert_eq!(paced.changes, ENROLLMENTS);
    assert_eq!(paced.requests as usize, ENROLLMENTS + 1, "one list, then one POST per enrollment");
    assert_eq!(paced.refused_with_429, None, "no request was refused");
    let allowed_ms = paced.requests as f64 / 60.0 * 60_000.0 * 1.02;
    println!(
        "{} requests paced to 60/min in {:.1} s of sandbox time (bound {:.1} s)",
        paced.requests,
        paced.elapsed_ms as f64 / 1000.0,
        allowed_ms / 1000.0
    );
    assert!(
        (paced.elapsed_ms as f64) <= allowed_ms,
        "{} ms for {} requests at 60 a minute",
        paced.elapsed_ms,
        paced.requests
    );
    assert!(
        paced.elapsed_ms >= 120_000,
        "151 requests at 60 a minute need two full windows of waiting, not {} ms",
        paced.elapsed_ms
    );
    assert_eq!(paced.served as usize, ENROLLMENTS + 1);
}
