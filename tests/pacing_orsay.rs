//! Pacing to Orsay's 200 requests an hour, proven on the virtual clock (see
//! tests/common/paced.rs): 1,000 creates take five hours of sandbox time
//! and no test time. Its own binary: the virtual clock is global.

mod common;

use seqops::manifest::provider::Rate;

const CREATES: usize = 1_000;

fn manifests(count: usize) -> String {
    let mut text = "apiVersion: seqops.dev/v1alpha1\nkind: Provider\nmetadata:\n  name: orsay\nspec:\n  type: orsay\n  credentials:\n    env: ORSAY_API_KEY\n".to_string();
    for n in 0..count {
        text.push_str(&format!(
            "---\napiVersion: orsay.seqops.dev/v1alpha1\nkind: Sequence\nmetadata:\n  name: s{n}\nspec:\n  name: Paced {n}\n  trigger: WHATSAPP_MESSAGE\n"
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_1000_orsay_creates_under_200_an_hour_gets_no_429_and_takes_no_longer_than_the_rate_allows() {
    let paced = common::paced::apply(
        seqops::providers::orsay::TYPE,
        "orsay",
        "sk_pacing_test",
        Rate::per_hour(200),
        &manifests(CREATES),
    )
    .await;

    assert_eq!(paced.changes, CREATES);
    assert_eq!(paced.requests as usize, CREATES + 1, "one list, then one POST per sequence");
    assert_eq!(paced.refused_with_429, None, "no request was refused");
    let allowed_ms = paced.requests as f64 / 200.0 * 3_600_000.0 * 1.02;
    println!(
        "{} requests paced to 200/h in {:.2} h of sandbox time (bound {:.2} h)",
        paced.requests,
        paced.elapsed_ms as f64 / 3_600_000.0,
        allowed_ms / 3_600_000.0
    );
    assert!(
        (paced.elapsed_ms as f64) <= allowed_ms,
        "{} ms for {} requests at 200 an hour",
        paced.elapsed_ms,
        paced.requests
    );
    assert!(
        paced.elapsed_ms >= 4 * 3_600_000,
        "1,001 requests at 200 an hour need five windows, not {} ms",
        paced.elapsed_ms
    );
    assert_eq!(paced.served as usize, CREATES + 1);
}
