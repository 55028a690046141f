//! Providers: the shared HTTP layer, the table of providers, and one folder
//! per vendor API. The contract they implement is [`crate::external`].

pub mod account;
pub mod destination;
pub mod gary;
pub mod http;
pub mod listings;
pub mod notes;
pub mod orchagent;
pub mod orqis;
pub mod orsay;
pub mod paging;
pub mod probe;
pub mod ratelimit;
pub mod topo;

pub use crate::external::{error, sources, *};
pub use account::{Account, AccountSettings, Usage};

use std::sync::Arc;

use crate::manifest::provider::{ProviderType, Rate};
use crate::manifest::{self, KindSpec};
use crate::sandbox::{Emulator, EmulatorConfig};

/// Makes the client of one kind (by key kind) in one account.
pub type ClientFactory = fn(&Arc<Account>, &str) -> Option<Arc<dyn ExternalClient>>;

/// Everything seqops needs to know of one provider, in one value: each
/// provider's `mod.rs` defines its `PROVIDER` and registers it with
/// [`register!`]; [`all`] lists them.
pub struct Provider {
    pub provider_type: ProviderType,
    /// The kinds its Provider manages.
    pub kinds: &'static [KindSpec],
    /// The client of one kind in one account.
    pub client_for: ClientFactory,
    /// Its sandbox emulator.
    pub emulator: fn(EmulatorConfig) -> Arc<dyn Emulator>,
    /// How its API words errors and budgets.
    pub dialect: http::Dialect,
    /// The vendor's base URL.
    pub base_url: &'static str,
    /// The vendor's documented limit, paced to unless a Provider says
    /// otherwise.
    pub rate: Option<Rate>,
    /// Where the emulator answers what the vendor's base URL does, inside a
    /// sandbox (`/orsay/api/v1`).
    pub sandbox_path: &'static str,
    /// The key the CLI uses under `--sandbox` when none is set.
    pub sandbox_key: &'static str,
    /// The filters `seqops export` takes for this provider (`sequence`,
    /// `status`).
    pub export_filters: &'static [&'static str],
    /// The endpoints its clients read, for `seqops check`.
    pub probes: &'static [probe::Probe],
}

/// Every provider built in, in no order (a linker's): [`all`] sorts it.
#[linkme::distributed_slice]
pub static REGISTERED: [&'static Provider];

/// Registers a provider's `PROVIDER`, from its own `mod.rs`: its type
/// joins the types a Provider manifest may name, and it joins [`all`].
/// Adding a provider is its folder, this line in it, and its `pub mod`
/// line above.
macro_rules! register {
    ($provider:path) => {
        #[linkme::distributed_slice($crate::providers::REGISTERED)]
        static REGISTERED: &$crate::providers::Provider = &$provider;
        #[linkme::distributed_slice($crate::manifest::provider::PROVIDER_TYPES)]
        static REGISTERED_TYPE: $crate::manifest::provider::ProviderType = $provider.provider_type;
    };
}
pub(crate) use register;

/// Every provider seqops speaks, in the order they are listed.
pub fn all() -> Vec<&'static Provider> {
    let mut providers = REGISTERED.to_vec();
    providers.sort_by_key(|p| p.provider_type);
    providers
}

/// The provider of a type, when seqops speaks it.
pub fn descriptor(provider_type: ProviderType) -> Option<&'static Provider> {
    REGISTERED.iter().copied().find(|p| p.provider_type == provider_type)
}

/// What a kind (by key kind) allows, known without connecting anywhere.
pub fn facts_for(key_kind: &str) -> Option<&'static KindFacts> {
    REGISTERED.iter().flat_map(|p| p.kinds.iter()).find(|k| k.key_kind == key_kind).and_then(|k| k.facts)
}

/// Every kind seqops knows, the Provider kind first.
pub fn kinds() -> Vec<KindSpec> {
    std::iter::once(manifest::PROVIDER_KIND).chain(all().into_iter().flat_map(|p| p.kinds.iter().cloned())).collect()
}

/// Every provider's emulator, for a sandbox.
pub fn emulators(config: EmulatorConfig) -> Vec<Arc<dyn Emulator>> {
    all().into_iter().map(|p| (p.emulator)(config.clone())).collect()
}

/// The client for `key_kind` in `account`, when its provider manages it.
pub fn client_for(account: &Arc<Account>, key_kind: &str) -> Option<Arc<dyn ExternalClient>> {
    (descriptor(account.settings.provider_type)?.client_for)(account, key_kind)
}

/// Where a provider's emulator answers inside a sandbox at `origin`
/// (`http://127.0.0.1:PORT`).
pub fn sandbox_base_url(provider_type: ProviderType, origin: &str) -> String {
    let path = descriptor(provider_type).map_or("", |p| p.sandbox_path);
    format!("{origin}{path}")
}

/// How a provider's API speaks beyond HTTP.
pub fn dialect(provider_type: ProviderType) -> http::Dialect {
    descriptor(provider_type).map_or(http::DETAIL_DIALECT, |p| p.dialect)
}

/// Where an account's API is and how fast seqops allows itself to go
/// there: the sandbox's emulator when an origin is given, else the
/// Provider's base URL, else the vendor's; the Provider's pacing (which may
/// turn pacing off), else the vendor's documented limit.
/// The URL is checked before any request: a key goes only to the vendor's
/// host, a loopback address, or a host in `allowed` (the operator's).
pub fn endpoint(
    provider_type: ProviderType,
    base_url: Option<&str>,
    pacing: Option<Option<Rate>>,
    sandbox_origin: Option<&str>,
    allowed: &[String],
) -> Result<(String, Option<Rate>), String> {
    let provider = descriptor(provider_type);
    let vendor_url = provider.map_or("", |p| p.base_url);
    let url = match (sandbox_origin, base_url) {
        (Some(origin), _) => sandbox_base_url(provider_type, origin),
        (None, Some(url)) => url.to_string(),
        (None, None) => vendor_url.to_string(),
    };
    destination::check(provider_type.as_str(), vendor_url, &url, allowed)?;
    Ok((url, pacing.unwrap_or_else(|| provider.and_then(|p| p.rate))))
}

/// The accounts of a run, by Provider name: what the engine is handed to
/// reach them.
pub struct Accounts(std::collections::BTreeMap<String, Arc<Account>>);

impl Accounts {
    pub fn new(accounts: impl IntoIterator<Item = Arc<Account>>) -> Arc<Self> {
        Arc::new(Self(accounts.into_iter().map(|a| (a.settings.name.clone(), a)).collect()))
    }
}

impl Clients for Accounts {
    fn client(&self, account: &str, key_kind: &str) -> Result<Arc<dyn ExternalClient>, String> {
        let account = self.0.get(account).ok_or_else(|| format!("no Provider named `{account}` is configured"))?;
        client_for(account, key_kind)
            .ok_or_else(|| format!("provider `{}` does not manage {key_kind}", account.settings.provider_type.as_str()))
    }

    fn refusal(&self, account: &str) -> Option<String> {
        self.0.get(account)?.usage.refusal()
    }

    fn usage(&self) -> Vec<AccountUsage> {
        self.0
            .values()
            .map(|a| AccountUsage {
                account: a.label(),
                requests: a.usage.made(),
                remaining: a.limiter.remaining(),
                limit: a.limiter.limit().or_else(|| a.limiter.server_limit()),
                window: a.limiter.rate().map(|r| r.window_text()),
                window_seconds: a.limiter.rate().map(|r| r.window.as_secs()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kind's declaration names every annotation its provider reads:
    /// the renew annotation among them, and each one of the provider's
    /// own group, so the controller passes exactly these.
    #[test]
    fn each_kind_declares_the_annotations_its_provider_reads() {
        for provider in all() {
            for kind in provider.kinds {
                let facts = kind.facts.expect("facts for every kind");
                if let Some(renew) = facts.renew() {
                    assert!(kind.annotations.contains(&renew.annotation), "{}: {}", kind.kind, renew.annotation);
                }
                let group = format!("{}.seqops.dev/", provider.provider_type.as_str());
                for annotation in kind.annotations {
                    assert!(annotation.starts_with(&group), "{}: {annotation} is not of {group}", kind.kind);
                    assert!(kind.reads_annotation(annotation));
                }
                assert!(!kind.reads_annotation("example.com/other"));
            }
        }
    }
}
