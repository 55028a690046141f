//! Faults the sandbox makes on purpose (`seqops sandbox serve --faults`),
//! so that what seqops promises under a flaky network (nothing made twice,
//! nothing lost, no secret echoed) can be tried by anyone, in their own CI.
//!
//! A spec is a comma-separated list: `seed=N` and rules
//! `TARGET=MODE@PERCENT`. A target is `*`, an emulator (`orchagent`), or an
//! emulator and a method (`orchagent:POST`, `*:write` for every method but
//! GET). Each request goes through the rules in order, and the first rule
//! whose target matches and whose draw falls under its percentage decides:
//!
//! | mode | what the client sees | did the change happen? |
//! |---|---|---|
//! | `500`, `503` | that status, JSON `detail` | no |
//! | `drop` | the connection closed, no answer | yes |
//! | `502`, `504` | that status with a gateway's HTML page | yes |
//! | `429:DUR` | a storm: every request the rule covers gets 429 with `Retry-After` until DUR has passed | no |
//! | `slow:DUR` | the answer, DUR late | yes |
//! | `echo` | 400 whose body repeats the request's headers and body | no |

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::{Rng, SeedableRng};

/// The largest request body `echo` repeats.
const ECHO_LIMIT: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
#[error("--faults: {rule:?}: {reason}")]
pub struct FaultSpecError {
    rule: String,
    reason: String,
}

/// What a rule does to a request it picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers this status before the emulator sees the request.
    Refuse(u16),
    /// Lets the emulator make the change, then closes the connection.
    Drop,
    /// Lets the emulator make the change, then answers this status with
    /// an HTML page, as a gateway that lost the upstream's answer does.
    Gateway(u16),
    /// 429s with `Retry-After` for as long as this, to every request the
    /// rule covers.
    Storm(Duration),
    /// Answers this much later.
    Slow(Duration),
    /// Answers 400, repeating the request's headers and body.
    Echo,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Refuse(_) => "refused",
            Mode::Drop => "dropped",
            Mode::Gateway(_) => "gateway",
            Mode::Storm(_) => "429",
            Mode::Slow(_) => "slow",
            Mode::Echo => "echo",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Methods {
    Any,
    Writes,
    One(Method),
}

#[derive(Debug)]
struct Rule {
    emulator: Option<String>,
    methods: Methods,
    mode: Mode,
    /// 0.0 to 1.0.
    chance: f64,
}

impl Rule {
    fn covers(&self, emulator: &str, method: &Method) -> bool {
        self.emulator.as_deref().is_none_or(|e| e == emulator)
            && match &self.methods {
                Methods::Any => true,
                Methods::Writes => method != Method::GET,
                Methods::One(one) => one == method,
            }
    }
}

/// A parsed `--faults` spec and what it has done so far.
#[derive(Debug)]
pub struct Faults {
    rules: Vec<Rule>,
    rng: Mutex<rand::rngs::StdRng>,
    /// When each storm rule's storm ends, in [`crate::clock::now_ms`].
    storms: Mutex<BTreeMap<usize, u64>>,
    /// Faults made, by emulator and mode.
    made: Mutex<BTreeMap<String, u64>>,
}

impl Faults {
    pub fn parse(spec: &str) -> Result<Self, FaultSpecError> {
        let mut seed = 0;
        let mut rules = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let error = |reason: &str| FaultSpecError { rule: part.to_string(), reason: reason.to_string() };
            if let Some(value) = part.strip_prefix("seed=") {
                seed = value.parse().map_err(|_| error("the seed is a whole number"))?;
                continue;
            }
            rules.push(parse_rule(part).map_err(|reason| error(&reason))?);
        }
        Ok(Self {
            rules,
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
            storms: Mutex::new(BTreeMap::new()),
            made: Mutex::new(BTreeMap::new()),
        })
    }

    /// Faults made so far, by `emulator mode` (`orchagent dropped`).
    pub fn made(&self) -> BTreeMap<String, u64> {
        self.made.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The fault, if any, for one request.
    fn pick(&self, emulator: &str, method: &Method) -> Option<Mode> {
        let now = crate::clock::now_ms();
        let mut storms = self.storms.lock().unwrap_or_else(|e| e.into_inner());
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        for (index, rule) in self.rules.iter().enumerate().filter(|(_, r)| r.covers(emulator, method)) {
            if let (Mode::Storm(_), Some(&until)) = (rule.mode, storms.get(&index)) {
                if until > now {
                    return Some(Mode::Storm(Duration::from_millis(until - now)));
                }
            }
            if rng.random::<f64>() < rule.chance {
                if let Mode::Storm(length) = rule.mode {
                    storms.insert(index, now.saturating_add(length.as_millis() as u64));
                }
                return Some(rule.mode);
            }
        }
        None
    }

    fn count(&self, emulator: &str, mode: Mode) {
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        *made.entry(format!("{emulator} {}", mode.name())).or_default() += 1;
    }

    /// The middleware: makes the fault, if one is picked, around `next`.
    pub async fn around(self: Arc<Self>, emulator: &'static str, request: Request, next: Next) -> Response {
        let Some(mode) = self.pick(emulator, request.method()) else { return next.run(request).await };
        self.count(emulator, mode);
        tracing::info!(emulator, method = %request.method(), path = request.uri().path(), ?mode, "fault injected");
        match mode {
            Mode::Refuse(status) => json_error(status, &format!("injected {status}")),
            Mode::Storm(left) => {
                let seconds = left.as_secs_f64().ceil().max(1.0) as u64;
                let mut answer = json_error(429, "injected 429: too many requests");
                if let Ok(value) = seconds.to_string().parse() {
                    answer.headers_mut().insert("retry-after", value);
                }
                answer
            }
            Mode::Echo => echo(request).await,
            Mode::Drop => {
                let _made = next.run(request).await;
                // A body that fails before its first byte makes the server
                // close the connection without an answer.
                let failed =
                    futures::stream::once(async { Err::<axum::body::Bytes, _>(std::io::Error::other("dropped")) });
                Response::new(Body::from_stream(failed))
            }
            Mode::Gateway(status) => {
                let _made = next.run(request).await;
                let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                let page = format!("<html><head><title>{code}</title></head><body><h1>{code}</h1></body></html>");
                (code, [("content-type", "text/html")], page).into_response()
            }
            Mode::Slow(delay) => {
                let answer = next.run(request).await;
                crate::clock::sleep(delay).await;
                answer
            }
        }
    }
}

fn parse_rule(rule: &str) -> Result<Rule, String> {
    let (target, action) = rule.split_once('=').ok_or("a rule is TARGET=MODE@PERCENT")?;
    let (mode, percent) = action.rsplit_once('@').ok_or("a rule ends in @PERCENT, e.g. @10%")?;
    let percent: f64 = percent
        .trim_end_matches('%')
        .parse()
        .ok()
        .filter(|p: &f64| (0.0..=100.0).contains(p))
        .ok_or("the percentage is a number from 0 to 100")?;
    let (emulator, methods) = match target.split_once(':') {
        Some((emulator, method)) => (emulator, parse_methods(method)?),
        None => (target, Methods::Any),
    };
    let emulator = (emulator != "*").then(|| emulator.to_string());
    Ok(Rule { emulator, methods, mode: parse_mode(mode)?, chance: percent / 100.0 })
}

fn parse_methods(method: &str) -> Result<Methods, String> {
    match method.to_ascii_uppercase().as_str() {
        "*" => Ok(Methods::Any),
        "WRITE" => Ok(Methods::Writes),
        one @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE") => {
            Method::from_bytes(one.as_bytes()).map(Methods::One).map_err(|e| e.to_string())
        }
        other => Err(format!("{other} is not a method: GET, POST, PUT, PATCH, DELETE, write or *")),
    }
}

fn parse_mode(mode: &str) -> Result<Mode, String> {
    let (name, argument) = match mode.split_once(':') {
        Some((name, argument)) => (name, Some(argument)),
        None => (mode, None),
    };
    let duration = |default: Duration| argument.map_or(Ok(default), parse_duration);
    match name {
        "500" | "503" => Ok(Mode::Refuse(name.parse().unwrap_or(500))),
        "502" | "504" => Ok(Mode::Gateway(name.parse().unwrap_or(502))),
        "drop" => Ok(Mode::Drop),
        "429" => Ok(Mode::Storm(duration(Duration::from_secs(1))?)),
        "slow" => Ok(Mode::Slow(duration(Duration::from_secs(2))?)),
        "echo" => Ok(Mode::Echo),
        other => {
            Err(format!("{other} is not a mode: 500, 503, drop, 502, 504, 429[:DURATION], slow[:DURATION] or echo"))
        }
    }
}

/// `250ms`, or a duration as manifests write it (`3s`, `1m`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    match text.strip_suffix("ms") {
        Some(ms) => ms.parse().map(Duration::from_millis).map_err(|_| format!("{text} is not a duration")),
        None => crate::manifest::duration::Duration::parse(text).map(|d| Duration::from_secs(d.as_secs())),
    }
}

fn json_error(status: u16, text: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({"detail": text, "message": text, "error": {"message": text}});
    (code, axum::Json(body)).into_response()
}

/// A 400 repeating what was sent, in each vendor's error field, as some
/// gateways do: what seqops prints of it must carry no secret.
async fn echo(request: Request) -> Response {
    let headers = format!("{:?}", request.headers());
    let body = axum::body::to_bytes(request.into_body(), ECHO_LIMIT).await.unwrap_or_default();
    json_error(400, &format!("rejected: you sent {headers} and {}", String::from_utf8_lossy(&body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_reads_as_its_rules() {
        let faults =
            Faults::parse("seed=7, orchagent:POST=drop@35%, *=503@5, orsay:write=429:3s@1%, *:GET=slow:250ms@10%")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(faults.rules.len(), 4);
        assert_eq!(faults.rules[0].emulator.as_deref(), Some("orchagent"));
        assert_eq!(faults.rules[0].methods, Methods::One(Method::POST));
        assert_eq!(faults.rules[0].mode, Mode::Drop);
        assert!((faults.rules[0].chance - 0.35).abs() < 1e-9);
        assert_eq!(faults.rules[1].emulator, None);
        assert_eq!(faults.rules[2].mode, Mode::Storm(Duration::from_secs(3)));
        assert_eq!(faults.rules[3].mode, Mode::Slow(Duration::from_millis(250)));
    }

    #[test]
    fn a_bad_rule_is_named_with_what_is_wrong() {
        let error = Faults::parse("seed=1,orsay=explode@5%").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("\"orsay=explode@5%\"") && error.contains("explode is not a mode"), "{error}");
        let error = Faults::parse("orsay=drop@150%").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("from 0 to 100"), "{error}");
        let error = Faults::parse("orsay:FETCH=drop@1%").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("FETCH is not a method"), "{error}");
    }

    #[test]
    fn rules_cover_only_their_emulator_and_methods_and_the_same_seed_picks_the_same_faults() {
        let spec = "seed=3,orchagent:write=drop@50%";
        let picks =
            |faults: &Faults| (0..200).map(|_| faults.pick("orchagent", &Method::POST).is_some()).collect::<Vec<_>>();
        let (one, two) = (
            Faults::parse(spec).unwrap_or_else(|e| panic!("{e}")),
            Faults::parse(spec).unwrap_or_else(|e| panic!("{e}")),
        );
        let first = picks(&one);
        assert_eq!(first, picks(&two));
        let dropped = first.iter().filter(|d| **d).count();
        assert!((60..140).contains(&dropped), "about half of 200 are dropped, not {dropped}");
        assert!((0..50).all(|_| one.pick("orchagent", &Method::GET).is_none()));
        assert!((0..50).all(|_| one.pick("orsay", &Method::POST).is_none()));
    }

    #[test]
    fn a_storm_answers_429_to_everything_it_covers_until_it_passes() {
        let faults = Faults::parse("orsay=429:1h@100%,orsay=503@0%").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(faults.pick("orsay", &Method::GET), Some(Mode::Storm(Duration::from_secs(3600))));
        match faults.pick("orsay", &Method::POST) {
            Some(Mode::Storm(left)) => assert!(left <= Duration::from_secs(3600) && left > Duration::from_secs(3590)),
            other => panic!("the storm goes on, not {other:?}"),
        }
    }
}
