//! URLs a manifest writes as plain settings (`baseUrl`): one that carries
//! credentials (`user:password@`) or a query (where tokens hide) would put a
//! secret in plans, state and status in clear, so it is refused. A secret
//! belongs in a source (`fromEnv`, `fromFile`). Each `…Url` string field
//! carries these two rules; the messages never repeat the URL.

use kube::core::Rule;

/// No `user:password@` before the host.
pub fn no_userinfo() -> Rule {
    Rule::new("!self.matches('^([^:/?#]+://)?[^/?#]*@')").message(
        "this URL carries credentials (user:password@), which would be kept in clear in plans, state and status; leave it out of the URL",
    )
}

/// No `?…` query.
pub fn no_query() -> Rule {
    Rule::new("!self.contains('?')").message(
        "this URL carries a query string, which would be kept in clear in plans, state and status; leave it out of the URL",
    )
}

/// An `http://` or `https://` URL, named in the message.
pub fn http() -> Rule {
    Rule::new("self.startsWith('https://') || self.startsWith('http://')")
        .message(kube::core::Message::Expression("'`' + self + '` is not an http(s) URL'".into()))
}
