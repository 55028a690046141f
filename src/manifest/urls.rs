//! URLs a manifest writes as plain settings (`baseUrl`, `alertWebhookUrl`):
//! one that carries credentials (`user:password@`) or a query (where
//! tokens hide) would put a secret in plans, state and status in clear, so
//! it is refused. A secret belongs in a source (`fromEnv`, `fromFile`).

use serde_json::Value;

/// `(field path, message)` for every `…Url` field of a spec that carries
/// userinfo or a query; the message never repeats the URL.
pub fn check(spec: &Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    walk(spec, "spec", &mut problems);
    problems
}

fn walk(value: &Value, path: &str, problems: &mut Vec<(String, String)>) {
    let Value::Object(map) = value else { return };
    for (key, inner) in map {
        let inner_path = format!("{path}.{key}");
        match inner {
            Value::String(url) if key.ends_with("Url") => {
                if let Some(what) = carries_secret(url) {
                    problems.push((
                        inner_path,
                        format!("this URL carries {what}, which would be kept in clear in plans, state and status; leave it out of the URL"),
                    ));
                }
            }
            Value::Object(_) => walk(inner, &inner_path, problems),
            _ => {}
        }
    }
}

/// What a URL carries that is no setting: userinfo or a query.
fn carries_secret(url: &str) -> Option<&'static str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Some("credentials (user:password@)");
    }
    rest.contains('?').then_some("a query string")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls_with_userinfo_or_a_query_are_refused_and_plain_ones_pass() {
        let spec = json!({
            "alertWebhookUrl": "https://hooks.example.com/alerts?token=abc",
            "baseUrl": "https://user:pw@proxy.example/api",
            "nested": {"callbackUrl": "https://ok.example/path/with@sign"},
            "fine": {"siteUrl": "https://example.com/a/b"},
        });
        let problems = check(&spec);
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["spec.alertWebhookUrl", "spec.baseUrl"]);
        assert!(problems.iter().all(|(_, m)| !m.contains("abc") && !m.contains("pw")), "{problems:?}");
    }
}
