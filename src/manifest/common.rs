//! The fields every kind's spec may carry beside its own, read as types:
//! which Provider manages the object, what seqops may do to it, and where
//! a value shown once goes. The engine and the controller read these from
//! any kind's spec (a loaded manifest, a saved plan, a record in state, a
//! cluster object) without knowing the kind.

use std::collections::BTreeSet;

use serde::de::{Deserializer, IgnoredAny};
use serde::Deserialize;

use super::policy::{ManagementPolicy, Policy};
use super::provider::SecretKeyRef;
use super::secret::WriteSecretTo;
use super::selector::NameRef;

/// A spec's common fields. Read leniently: a spec from an older state that
/// does not say one of them well says nothing of it, as before.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Common {
    #[serde(default, deserialize_with = "lenient")]
    pub provider_ref: Option<NameRef>,
    #[serde(default, deserialize_with = "lenient")]
    management_policy: Option<ManagementPolicy>,
    #[serde(default, deserialize_with = "lenient")]
    management_policies: Option<Vec<Lenient<Policy>>>,
    #[serde(default, deserialize_with = "lenient")]
    pub write_secret_to: Option<WriteSecretTo>,
}

/// A value of `T`, or anything else (kept as nothing).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Known(T),
    Other(IgnoredAny),
}

impl<T> Lenient<T> {
    fn known(self) -> Option<T> {
        match self {
            Lenient::Known(value) => Some(value),
            Lenient::Other(_) => None,
        }
    }
}

/// A field read on its own: a value that does not read as `T` is none, and
/// leaves the other fields of the view it is in as they are.
pub fn lenient<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    Ok(Option::<Lenient<T>>::deserialize(deserializer)?.and_then(Lenient::known))
}

impl Common {
    /// The common fields of a spec; none of a value that is no object.
    pub fn of(spec: &serde_json::Value) -> Common {
        Common::deserialize(spec).unwrap_or_default()
    }

    /// The policies the spec allows: `managementPolicies` when given (`[]`
    /// allows nothing, which pauses), `[Observe]` under `managementPolicy:
    /// ObserveOnly`, everything otherwise.
    pub fn allowed(&self) -> BTreeSet<Policy> {
        if let Some(list) = &self.management_policies {
            let policies: BTreeSet<Policy> =
                list.iter().filter_map(|p| if let Lenient::Known(p) = p { Some(*p) } else { None }).collect();
            if policies.contains(&Policy::All) {
                return everything();
            }
            return policies;
        }
        if self.management_policy == Some(ManagementPolicy::ObserveOnly) {
            return BTreeSet::from([Policy::Observe]);
        }
        everything()
    }

    /// The Provider the spec names, if it names one.
    pub fn provider_name(&self) -> Option<&str> {
        self.provider_ref.as_ref().map(|r| r.name.as_str())
    }

    /// The file a value shown once is written to (the CLI's).
    pub fn output_file(&self) -> Option<&str> {
        self.write_secret_to.as_ref()?.file.as_deref()
    }

    /// The Secret a value shown once is written to (the controller's).
    pub fn output_secret(&self) -> Option<&SecretKeyRef> {
        self.write_secret_to.as_ref()?.secret_ref.as_ref()
    }
}

pub(super) fn everything() -> BTreeSet<Policy> {
    BTreeSet::from([Policy::Observe, Policy::Create, Policy::Update, Policy::Delete, Policy::LateInitialize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies_read_as_before_and_a_word_unknown_is_passed_over() {
        let spec = json!({"managementPolicies": ["Observe", "Sideways", "Update"]});
        assert_eq!(Common::of(&spec).allowed(), BTreeSet::from([Policy::Observe, Policy::Update]));
        assert_eq!(
            Common::of(&json!({"managementPolicy": "ObserveOnly"})).allowed(),
            BTreeSet::from([Policy::Observe])
        );
        assert_eq!(Common::of(&json!({"managementPolicies": "all"})).allowed(), everything());
        assert_eq!(Common::of(&json!(null)).allowed(), everything());
    }

    #[test]
    fn where_a_value_shown_once_goes_is_read_from_any_kind() {
        let spec = json!({"name": "k", "writeSecretTo": {"file": "out/key"}, "providerRef": {"name": "eu"}});
        let common = Common::of(&spec);
        assert_eq!((common.output_file(), common.provider_name()), (Some("out/key"), Some("eu")));
    }
}
