//! Leader election through a coordination.k8s.io Lease: of several
//! replicas, only the holder reconciles. The holder renews the Lease; a
//! Lease not renewed for its duration may be taken over.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use serde_json::json;

/// One replica's claim on the Lease.
/// The longest a Lease written by someone else is taken to last: an hour,
/// whatever it says.
const MAX_LEASE_SECONDS: i64 = 3600;

pub struct LeaseLock {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

/// What an attempt found.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// This replica holds the Lease (it took or renewed it).
    Leading,
    /// Another replica holds it and renewed it in time.
    HeldBy(String),
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn micro(at: time::OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    at.format(&format).unwrap_or_default()
}

impl LeaseLock {
    pub fn new(api: Api<Lease>, name: impl Into<String>, identity: impl Into<String>, duration: Duration) -> Self {
        Self { api, name: name.into(), identity: identity.into(), duration }
    }

    fn lease(
        &self,
        resource_version: Option<String>,
        acquired: String,
        transitions: i64,
    ) -> Result<Lease, kube::Error> {
        let lease = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.name, "resourceVersion": resource_version},
            "spec": {
                "holderIdentity": self.identity, "leaseDurationSeconds": self.duration.as_secs(),
                "acquireTime": acquired, "renewTime": micro(now()), "leaseTransitions": transitions,
            },
        });
        serde_json::from_value(lease).map_err(kube::Error::SerdeError)
    }

    /// Takes the Lease if it is free or expired, renews it if held, and
    /// otherwise says who holds it. A conflicting write means another
    /// replica won this round.
    pub async fn try_lead(&self) -> Result<Attempt, kube::Error> {
        let Some(current) = self.api.get_opt(&self.name).await? else {
            let lease = self.lease(None, micro(now()), 0)?;
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Leading),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::HeldBy("another replica".into())),
                Err(error) => Err(error),
            };
        };
        let value = serde_json::to_value(&current).unwrap_or_default();
        let spec = &value["spec"];
        let holder = spec["holderIdentity"].as_str().unwrap_or_default().to_string();
        let transitions = spec["leaseTransitions"].as_i64().unwrap_or(0);
        let version = current.metadata.resource_version.clone();
        let lease = if holder == self.identity {
            self.lease(version, spec["acquireTime"].as_str().map_or_else(|| micro(now()), str::to_string), transitions)?
        } else {
            let renewed = spec["renewTime"]
                .as_str()
                .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
            // Anyone who can edit the Lease can write any number here: it
            // is bounded before it meets the clock.
            let duration = spec["leaseDurationSeconds"].as_i64().unwrap_or(15).clamp(1, MAX_LEASE_SECONDS);
            let expires = renewed.and_then(|at| at.checked_add(time::Duration::seconds(duration)));
            if !holder.is_empty() && expires.is_some_and(|at| at > now()) {
                return Ok(Attempt::HeldBy(holder));
            }
            self.lease(version, micro(now()), transitions.saturating_add(1).min(i64::from(i32::MAX)))?
        };
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(Attempt::Leading),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::HeldBy("another replica".into())),
            Err(error) => Err(error),
        }
    }

    /// How long the holder goes on leading without a renewal: two thirds
    /// of the Lease's duration (client-go's 10 s of 15 s).
    pub fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }

    /// Gives the Lease up if this holder has it, so the next one need not
    /// wait for it to expire.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(current) = self.api.get_opt(&self.name).await? else { return Ok(()) };
        let held = current.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(self.identity.as_str());
        if !held {
            return Ok(());
        }
        let lease = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.name, "resourceVersion": current.metadata.resource_version},
            "spec": {"holderIdentity": null, "leaseDurationSeconds": self.duration.as_secs()},
        });
        let lease: Lease = serde_json::from_value(lease).map_err(kube::Error::SerdeError)?;
        self.api.replace(&self.name, &PostParams::default(), &lease).await?;
        Ok(())
    }

    /// Waits until this replica leads, then runs `work` while renewing the
    /// Lease; returns when leadership is lost or `work` ends.
    pub async fn lead<F: std::future::Future<Output = ()>>(&self, work: F) {
        // The Lease this replica writes may be taken over a duration after
        // the renewTime it holds, which is no earlier than the moment the
        // call that wrote it was sent: the renew deadline counts from there,
        // not from its answer, which a slow API server may give late. (The
        // clock is tokio's, which tests can pause.)
        let taken = loop {
            let sent = tokio::time::Instant::now();
            match tokio::time::timeout(self.duration / 3, self.try_lead()).await {
                Ok(Ok(Attempt::Leading)) => break sent,
                Ok(Ok(Attempt::HeldBy(holder))) => tracing::info!("{holder} leads; waiting"),
                Ok(Err(error)) => tracing::warn!("cannot read the Lease {}: {error}", self.name),
                Err(_) => tracing::warn!("reading the Lease {} timed out", self.name),
            }
            tokio::time::sleep(self.duration / 3).await;
        };
        tracing::info!("{} leads", self.identity);
        // Stop at the renew deadline itself, whatever a call is doing then:
        // two thirds of the Lease's duration after the last call that wrote
        // it was sent, so two replicas never lead at once.
        let renew = async {
            let mut renewed = taken;
            loop {
                let attempt = async {
                    tokio::time::sleep(self.duration / 6).await;
                    let sent = tokio::time::Instant::now();
                    (sent, tokio::time::timeout(self.duration / 6, self.try_lead()).await)
                };
                tokio::select! {
                    () = tokio::time::sleep_until(renewed + self.renew_deadline()) => {
                        tracing::error!("cannot renew the Lease within {:?}; stopping", self.renew_deadline());
                        return;
                    }
                    (sent, attempt) = attempt => match attempt {
                        Ok(Ok(Attempt::Leading)) => renewed = sent,
                        Ok(Ok(Attempt::HeldBy(holder))) => {
                            tracing::error!("lost the Lease to {holder}; stopping");
                            return;
                        }
                        Ok(Err(error)) => tracing::warn!("cannot renew the Lease: {error}"),
                        Err(_) => tracing::warn!("renewing the Lease timed out"),
                    },
                }
            }
        };
        tokio::select! {
            _ = work => {}
            _ = renew => {}
        }
    }
}
