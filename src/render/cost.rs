//! What an apply of a plan will cost: its requests per account and, under
//! each account's budget, about how long they take, so nobody approves a
//! plan that runs all afternoon without knowing it.

use std::collections::BTreeMap;

use crate::engine::Plan;
use crate::external::AccountUsage;

/// One account's share of an apply.
#[derive(Debug, PartialEq)]
pub struct Cost {
    pub account: String,
    pub requests: u64,
    /// Seconds the requests past what is left of the budget wait for it;
    /// `None` when the account has no budget.
    pub wait_seconds: Option<u64>,
    /// `200/h`, when there is a budget.
    pub rate: Option<String>,
    pub remaining: Option<u32>,
}

/// Each account's cost, for the accounts the plan writes to.
pub fn costs(plan: &Plan) -> Vec<Cost> {
    let mut requests: BTreeMap<&str, u64> = BTreeMap::new();
    for change in &plan.changes {
        *requests.entry(change.provider.as_str()).or_default() += change.requests;
    }
    requests
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(provider, n)| {
            let usage = plan.usage.iter().find(|u| u.account.rsplit('/').next() == Some(provider));
            cost(usage.map_or(provider, |u| u.account.as_str()), n, usage)
        })
        .collect()
}

fn cost(account: &str, requests: u64, usage: Option<&AccountUsage>) -> Cost {
    let budget = usage.and_then(|u| Some((u.limit?, u.window_seconds?, u.remaining.unwrap_or(0))));
    let Some((limit, window, remaining)) = budget.filter(|(limit, window, _)| *limit > 0 && *window > 0) else {
        // A budget only the API's headers told of has no known window.
        let remaining = usage.and_then(|u| u.remaining);
        return Cost { account: account.to_string(), requests, wait_seconds: None, rate: None, remaining };
    };
    let beyond = requests.saturating_sub(u64::from(remaining));
    Cost {
        account: account.to_string(),
        requests,
        wait_seconds: Some((beyond * window).div_ceil(u64::from(limit))),
        rate: Some(format!("{limit}/{}", unit(window))),
        remaining: Some(remaining),
    }
}

fn unit(window: u64) -> String {
    match window {
        3600 => "h".into(),
        60 => "min".into(),
        1 => "s".into(),
        other => format!("{other} s"),
    }
}

/// `2 h 04 m` (to the nearest minute), `12 m` (rounded up), `40 s`.
pub fn duration(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} m", seconds.div_ceil(60)),
        _ => {
            let minutes = (seconds + 30) / 60;
            format!("{} h {:02} m", minutes / 60, minutes % 60)
        }
    }
}

/// `orsay/orsay-main: 412 requests, about 1 h 13 m at 200/h (171 left now)`.
pub fn describe(cost: &Cost) -> String {
    let requests = format!("{}: {} request{}", cost.account, cost.requests, if cost.requests == 1 { "" } else { "s" });
    match (cost.wait_seconds, &cost.rate, cost.remaining) {
        (Some(0), Some(rate), Some(left)) => format!("{requests}, within the budget left ({left} at {rate})"),
        (Some(wait), Some(rate), Some(left)) => {
            format!("{requests}, about {} at {rate} ({left} left now)", duration(wait))
        }
        _ => match cost.remaining {
            Some(left) if cost.requests <= u64::from(left) => {
                format!("{requests}, within the {left} the API says are left")
            }
            Some(left) => format!("{requests}, more than the {left} the API says are left: the rest wait for it"),
            None => format!("{requests} (no budget set)"),
        },
    }
}

/// The plan's cost line, when it writes anything: an estimate, since other
/// clients (the dashboard, the controller, other runners) share the budget.
pub fn line(plan: &Plan) -> Option<String> {
    let costs = costs(plan);
    if costs.is_empty() {
        return None;
    }
    let parts: Vec<String> = costs.iter().map(describe).collect();
    Some(format!("Apply cost (an estimate; other clients share each budget): {}.", parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(remaining: u32, limit: u32, window: u64) -> AccountUsage {
        AccountUsage {
            account: "orsay/orsay-main".into(),
            requests: 1,
            remaining: Some(remaining),
            limit: Some(limit),
            window: None,
            window_seconds: Some(window),
        }
    }

    #[test]
    fn requests_past_the_budget_left_wait_at_its_rate() {
        let cost = cost("orsay/orsay-main", 412, Some(&usage(0, 200, 3600)));
        assert_eq!(describe(&cost), "orsay/orsay-main: 412 requests, about 2 h 04 m at 200/h (0 left now)");
        let cost = cost_of(612, usage(200, 200, 3600));
        assert_eq!(cost.wait_seconds, Some(412 * 3600 / 200), "the 200 left go at once");
    }

    fn cost_of(requests: u64, usage: AccountUsage) -> Cost {
        cost(&usage.account.clone(), requests, Some(&usage))
    }

    #[test]
    fn requests_within_the_budget_left_do_not_wait() {
        let cost = cost_of(12, usage(171, 200, 3600));
        assert_eq!(describe(&cost), "orsay/orsay-main: 12 requests, within the budget left (171 at 200/h)");
    }

    #[test]
    fn a_budget_only_the_api_told_of_is_compared_with_what_is_left() {
        let told = AccountUsage { window_seconds: None, ..usage(998, 1000, 0) };
        assert_eq!(describe(&cost_of(8, told)), "orsay/orsay-main: 8 requests, within the 998 the API says are left");
    }

    #[test]
    fn an_account_without_a_budget_says_so() {
        assert_eq!(describe(&cost("orqis/main", 3, None)), "orqis/main: 3 requests (no budget set)");
    }

    #[test]
    fn durations_read_as_hours_and_minutes() {
        assert_eq!(duration(7416), "2 h 04 m");
        assert_eq!(duration(61), "2 m");
        assert_eq!(duration(40), "40 s");
    }
}
