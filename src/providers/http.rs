//! The one HTTP layer every provider uses: authentication, pacing, waiting
//! out 429s, retrying what is safe to retry, and errors that say what to fix.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::account::{AccountSettings, Usage};
use super::ratelimit::{now_ms, BudgetHandle, Priority, RateLimiter};
use super::ProviderError;

/// How one vendor's API speaks beyond HTTP itself.
#[derive(Clone, Copy)]
pub struct Dialect {
    /// The human-readable message in an error body.
    pub error_detail: fn(&[u8]) -> String,
    /// Whether an error body says the call may be retried (orchagent's
    /// `is_retryable`); `None` when the body does not say.
    pub retryable: fn(&[u8]) -> Option<bool>,
    /// Whether responses carry `X-RateLimit-Remaining` and `-Reset`.
    pub rate_limit_headers: bool,
    /// Whether a 429 is a request rate to wait out; Orqis's is a monthly
    /// run limit, which waiting does not cure.
    pub wait_out_429: bool,
    /// The longest Retry-After waited out in place. The caller's choice
    /// more than the vendor's: a CLI run waits (up to an hour); the
    /// controller gives the call up ([`ProviderError::Throttled`]) and
    /// requeues the object, so that no worker is held.
    pub longest_wait: Duration,
}

/// Orsay's and Orqis's `{"detail": "..."}` errors, no retry hints.
pub const DETAIL_DIALECT: Dialect = Dialect {
    error_detail: detail_field,
    retryable: |_| None,
    rate_limit_headers: false,
    wait_out_429: true,
    longest_wait: Duration::from_secs(3600),
};

/// Orqis: `{"detail"}` errors, and a 429 that means the month's runs are
/// spent.
pub const ORQIS_DIALECT: Dialect = Dialect { wait_out_429: false, ..DETAIL_DIALECT };

/// Where the HTTP layer reports waits (rate limits) and retries.
pub type Notifier = Arc<dyn Fn(String) + Send + Sync>;

/// How many times one call is attempted before its error is returned.
const MAX_ATTEMPTS: u32 = 5;

/// One call being attempted.
struct Call<'a> {
    method: &'a Method,
    path: &'a str,
    /// Counted from 1.
    attempt: u32,
}

impl Call<'_> {
    /// Whether a failure without an answer may be retried: not a POST,
    /// whose lost answer may hide a created object, and not past the last
    /// attempt.
    fn may_retry(&self) -> bool {
        *self.method != Method::POST && self.attempt < MAX_ATTEMPTS
    }
}

/// What comes of one attempt.
enum Next {
    Done(Result<Response, ProviderError>),
    Again,
}

#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    /// Kept to take it out of whatever an API answers.
    credential: super::Secret,
    account: String,
    credential_source: String,
    base_url: String,
    headers: HeaderMap,
    /// The account's budget, with the priority its requests go at.
    budget: BudgetHandle,
    usage: Arc<Usage>,
    dialect: Dialect,
    notify: Notifier,
}

/// A successful answer.
pub struct Response {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| e.to_string())
    }
}

impl HttpClient {
    pub fn new(
        settings: &AccountSettings,
        limiter: Arc<RateLimiter>,
        usage: Arc<Usage>,
        dialect: Dialect,
        notify: Notifier,
    ) -> Self {
        let mut headers = HeaderMap::new();
        if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", settings.credential.expose())) {
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        // Checked when the manifest was loaded: names that are not headers
        // or that seqops sets itself never get here.
        for (name, value) in &settings.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                headers.insert(name, value);
            }
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("seqops/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .redirect(super::destination::same_origin_redirects())
            .build()
            .unwrap_or_default();
        Self {
            client,
            credential: settings.credential.clone(),
            account: settings.label(),
            credential_source: settings.credential_source.clone(),
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            headers,
            budget: BudgetHandle::new(limiter, Priority::Change),
            usage,
            dialect,
            notify,
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ProviderError> {
        let response = self.send(Method::GET, path, None).await?;
        self.decode(&Method::GET, path, &response)
    }

    pub fn decode<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        response: &Response,
    ) -> Result<T, ProviderError> {
        response.json().map_err(|reason| ProviderError::Decode {
            account: self.account.clone(),
            method: method.to_string(),
            path: path.to_string(),
            reason,
        })
    }

    /// The same client, its requests at `priority`, with a budget handle
    /// of its own (so a check's reserved slot is its own).
    pub fn at_priority(&self, priority: Priority) -> Self {
        HttpClient { budget: BudgetHandle::new(self.budget.limiter().clone(), priority), ..self.clone() }
    }

    /// The account's budget as this client spends it.
    pub fn budget(&self) -> &BudgetHandle {
        &self.budget
    }

    /// Sends one call. GET, PUT, PATCH and DELETE are retried on network
    /// errors and 5xx with jittered backoff; POST is not, since a lost answer
    /// may hide a created object: it ends in [`ProviderError::Unanswered`].
    /// A 429 is waited out, as Retry-After asks, for every method.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Response, ProviderError> {
        let url = format!("{}{}", self.base_url, path);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let call = Call { method: &method, path, attempt };
            if let Next::Done(result) = self.attempt(&call, &url, body).await {
                return result;
            }
        }
    }

    /// One attempt at a call: sent within the request budget, its answer
    /// read whole, then judged.
    async fn attempt(&self, call: &Call<'_>, url: &str, body: Option<&Value>) -> Next {
        let response = match self.exchange(call, url, body).await {
            Ok(response) => response,
            Err(error) => return self.unanswered(call, &error).await,
        };
        let status = response.status();
        self.usage.record_answer(Some(status.as_u16()));
        self.observe_rate_headers(response.headers());
        let retry_after =
            response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(parse_retry_after);
        match response.bytes().await {
            Ok(body) => self.judge(call, status, retry_after, &body).await,
            Err(error) if call.may_retry() => {
                self.back_off(call.attempt, call.method, call.path, &error.to_string()).await;
                Next::Again
            }
            Err(error) => Next::Done(Err(ProviderError::Unanswered {
                account: self.account.clone(),
                method: call.method.to_string(),
                path: call.path.to_string(),
                reason: error.to_string(),
            })),
        }
    }

    /// Sends the request once its turn in the budget comes, counting it.
    async fn exchange(
        &self,
        call: &Call<'_>,
        url: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let (method, path) = (call.method, call.path);
        let account = &self.account;
        let limiter = self.budget.limiter();
        let counted = self
            .budget
            .acquire(|wait| {
                if let Some(rate) = limiter.rate().filter(|_| wait >= Duration::from_secs(1)) {
                    (self.notify)(format!("{account}: waiting {} for the request budget ({rate})", human(wait)))
                }
            })
            .await;
        let mut request = self.client.request(method.clone(), url).headers(self.headers.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        self.usage.record();
        tracing::debug!(account = %self.account, %method, path, "request");
        let outcome = request.send().await;
        limiter.settle(counted);
        outcome
    }

    /// A call that got no answer: retried when that is safe, else an error
    /// that says whether it may have reached the API.
    async fn unanswered(&self, call: &Call<'_>, error: &reqwest::Error) -> Next {
        self.usage.record_answer(None);
        let reason = with_causes(error);
        if call.may_retry() {
            self.back_off(call.attempt, call.method, call.path, &reason).await;
            return Next::Again;
        }
        let (account, method, path) = (self.account.clone(), call.method.to_string(), call.path.to_string());
        Next::Done(Err(if error.is_connect() {
            ProviderError::Network { account, method, path, reason }
        } else {
            ProviderError::Unanswered { account, method, path, reason }
        }))
    }

    /// An API that says what is left of its budget paces the next calls.
    fn observe_rate_headers(&self, headers: &HeaderMap) {
        if !self.dialect.rate_limit_headers {
            return;
        }
        let header =
            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        if let (Some(remaining), Some(reset)) = (header("x-ratelimit-remaining"), header("x-ratelimit-reset")) {
            self.budget.limiter().observe_server(remaining, header("x-ratelimit-limit"), reset);
        }
    }

    /// What an answer means: done, or worth another attempt.
    async fn judge(&self, call: &Call<'_>, status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Next {
        if status.is_success() {
            return Next::Done(Ok(Response { status, body: body.to_vec() }));
        }
        if status == StatusCode::TOO_MANY_REQUESTS && self.dialect.wait_out_429 {
            return self.wait_out_429(call, retry_after);
        }
        let (method, path) = (call.method, call.path);
        // An API that says whether a failure may be retried is believed,
        // whatever the method.
        match (self.dialect.retryable)(body) {
            Some(true) if call.attempt < MAX_ATTEMPTS => {
                self.back_off(call.attempt, method, path, &format!("{status}, retryable")).await;
                return Next::Again;
            }
            Some(_) => return Next::Done(Err(self.error_for(method, path, status, body))),
            None => {}
        }
        if status.is_server_error() && call.may_retry() {
            self.back_off(call.attempt, method, path, &format!("{status}")).await;
            return Next::Again;
        }
        Next::Done(Err(self.error_for(method, path, status, body)))
    }

    /// A 429 blocks the account's budget for as long as Retry-After asks.
    fn wait_out_429(&self, call: &Call<'_>, retry_after: Option<Duration>) -> Next {
        if call.attempt >= MAX_ATTEMPTS {
            return Next::Done(Err(ProviderError::RateLimited {
                account: self.account.clone(),
                attempts: call.attempt,
            }));
        }
        // A server asking for more than an hour is capped: the budget
        // it counts in is an hour long.
        let wait = retry_after.unwrap_or(Duration::from_secs(60)).min(Duration::from_secs(3600));
        self.budget.limiter().block_until(now_ms().saturating_add(wait.as_millis() as u64));
        if wait > self.dialect.longest_wait {
            return Next::Done(Err(ProviderError::Throttled { account: self.account.clone(), retry_after: wait }));
        }
        (self.notify)(format!(
            "{}: rate limited by the API (429); waiting {} as its Retry-After asks",
            self.account,
            human(wait)
        ));
        Next::Again
    }

    async fn back_off(&self, attempt: u32, method: &Method, path: &str, reason: &str) {
        let base = 250u64 * 2u64.pow(attempt - 1);
        let jitter = rand::rng().random_range(0..=base / 2);
        let wait = Duration::from_millis(base + jitter);
        (self.notify)(format!("{}: {method} {path} failed ({reason}); retrying in {}", self.account, human(wait)));
        tokio::time::sleep(wait).await;
    }

    fn error_for(&self, method: &Method, path: &str, status: StatusCode, body: &[u8]) -> ProviderError {
        // An API (or a gateway before it) may echo the request's headers.
        let detail = (self.dialect.error_detail)(body);
        let detail = super::sources::scrub(&detail, &Default::default(), Some(&self.credential));
        if matches!(status.as_u16(), 401 | 403) && method != Method::GET {
            // A key that may read but not write: the other writes of this
            // account in the run are not tried (the API said why).
            self.usage.refuse(format!("{} refused {method} {path} ({status}: {detail})", self.account));
        }
        let (account, method, path) = (self.account.clone(), method.to_string(), path.to_string());
        match status.as_u16() {
            400 | 422 => ProviderError::BadRequest { account, method, path, detail },
            401 => ProviderError::Unauthorized { account, source_name: self.credential_source.clone(), detail },
            404 => ProviderError::NotFound { account, method, path, detail },
            500..=599 if method == "POST" => {
                ProviderError::Unanswered { account, method, path, reason: format!("{status} {detail}") }
            }
            code => ProviderError::Status { account, method, path, status: code, detail },
        }
    }
}

/// An error and what caused it, in one line: reqwest puts what matters (a
/// refused redirect, a TLS failure) in the causes.
fn with_causes(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        text.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    text
}

/// `Retry-After` is either delta-seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Duration {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Duration::from_secs(seconds);
    }
    time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc2822)
        .ok()
        .map(|at| (at - time::OffsetDateTime::now_utc()).whole_seconds().max(1) as u64)
        .map_or(Duration::from_secs(60), Duration::from_secs)
}

/// `a%20b`: a value as one path segment or query value.
pub fn segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// `1h2m`, `3m5s`, `12s`: for messages.
pub fn human(duration: Duration) -> String {
    let total = duration.as_secs_f64().ceil() as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// The `{"detail": "..."}` error body that Orsay and Orqis use.
pub fn detail_field(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Detail {
        detail: Value,
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .and_then(|v| <Detail as serde::Deserialize>::deserialize(&v).ok())
        .map(|d| d.detail.as_str().map_or_else(|| d.detail.to_string(), str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect())
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_detail_is_read_from_an_object_and_anything_else_is_shown_as_it_came() {
        assert_eq!(detail_field(br#"{"detail": "no such sequence"}"#), "no such sequence");
        assert_eq!(detail_field(br#"["boom"]"#), r#"["boom"]"#);
    }

    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("30"), Duration::from_secs(30));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Duration::from_secs(1));
        assert_eq!(parse_retry_after("soon"), Duration::from_secs(60));
    }

    #[test]
    fn ids_from_servers_are_one_path_segment_whatever_they_hold() {
        assert_eq!(segment("seq_run_0001"), "seq_run_0001");
        assert_eq!(segment("../admin?x=1"), "..%2Fadmin%3Fx%3D1");
    }

    #[test]
    fn waits_are_written_for_people() {
        assert_eq!(human(Duration::from_secs(12)), "12s");
        assert_eq!(human(Duration::from_secs(185)), "3m5s");
        assert_eq!(human(Duration::from_secs(3720)), "1h2m");
    }
}
