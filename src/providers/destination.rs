//! Where an account's key may be sent: to the vendor's own host over
//! https, to a loopback address (the sandbox), or to a host the operator
//! allowed (`--allow-base-url`, `SEQOPS_ALLOWED_HOSTS`). A manifest cannot
//! allow a host: a pull request that edits `baseUrl` must not receive the
//! key in its plan's first request. The check reads the URL's literal host,
//! before any DNS lookup.

use std::net::IpAddr;

use reqwest::Url;

/// Whether `base_url` may receive the key of a `vendor` account whose
/// documented base URL is `vendor_url`; the refusal names the host and how
/// to allow it.
pub fn check(vendor: &str, vendor_url: &str, base_url: &str, allowed: &[String]) -> Result<(), String> {
    let url = Url::parse(base_url).map_err(|e| format!("baseUrl `{base_url}` is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(format!(
            "baseUrl `{}` carries credentials or a query; give the key in `credentials`, never in a URL",
            redacted(&url)
        ));
    }
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']).to_ascii_lowercase();
    if is_loopback(&host) {
        return Ok(());
    }
    if url.scheme() != "https" {
        return Err(format!(
            "baseUrl `{base_url}`: http:// only reaches a loopback address (the sandbox); a key goes to {host} over https only"
        ));
    }
    let vendor_host = Url::parse(vendor_url).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let operator_allows = allowed.iter().any(|a| a.trim().eq_ignore_ascii_case(&host));
    if vendor_host.as_deref() == Some(host.as_str()) || operator_allows {
        return Ok(());
    }
    Err(format!(
        "baseUrl host {host} is not {vendor}'s ({}); the API key is sent only to the vendor. If {host} is yours (a proxy, a regional endpoint), allow it where the manifest cannot: --allow-base-url {host}, or SEQOPS_ALLOWED_HOSTS={host}",
        vendor_host.as_deref().unwrap_or("unknown")
    ))
}

/// 127.0.0.0/8, `::1` and `localhost`, as written (no lookup).
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A URL for a message, without what it should not have carried.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.to_string()
}

/// A redirect policy that follows only redirects to the same origin: a key
/// is never carried to another host by a redirect.
pub fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(Url::origin);
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if first.is_some_and(|origin| origin == attempt.url().origin()) {
            attempt.follow()
        } else {
            let to = attempt.url().host_str().unwrap_or_default().to_string();
            attempt.error(format!("refused a redirect to another host ({to}): the key goes only where it was allowed"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORSAY: &str = "https://client.api.prod.orsay.ai/api/v1";

    #[test]
    fn the_vendors_host_and_loopback_addresses_need_no_flag() {
        for url in [
            ORSAY,
            "http://127.0.0.1:8787/orsay/api/v1",
            "http://127.9.9.9/x",
            "http://[::1]:80/x",
            "http://localhost/x",
        ] {
            assert_eq!(check("orsay", ORSAY, url, &[]), Ok(()), "{url}");
        }
    }

    #[test]
    fn other_hosts_need_the_operator_and_https() {
        let evil = "https://client.api.prod.orsay.ai.evil.example/api/v1";
        assert!(check("orsay", ORSAY, evil, &[]).is_err());
        assert_eq!(check("orsay", ORSAY, evil, &["client.api.prod.orsay.ai.evil.example".into()]), Ok(()));
        assert!(check("orsay", ORSAY, "http://proxy.example/x", &["proxy.example".into()]).is_err());
        assert!(check("orsay", ORSAY, "http://127.0.0.1.nip.example/x", &[]).is_err(), "a name is no address");
    }

    #[test]
    fn a_url_with_userinfo_or_a_query_is_refused_without_echoing_them() {
        let refused = check("orsay", ORSAY, "https://user:pw@client.api.prod.orsay.ai/api/v1?token=abc", &[]);
        let message = refused.err().unwrap_or_default();
        assert!(message.contains("carries credentials or a query"), "{message}");
        assert!(!message.contains("pw") && !message.contains("abc"), "{message}");
    }
}
