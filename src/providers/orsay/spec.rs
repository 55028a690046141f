//! The `Sequence` kind as manifests write it.

use kube::core::{Message, Rule};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::duration::Duration;
use crate::manifest::selector::{NameRef, Selector};

/// An Orsay DM sequence.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "orsay.seqops.dev",
    version = "v1alpha1",
    kind = "Sequence",
    namespaced,
    category = "seqops",
    shortname = "orsayseq"
)]
#[x_kube(
    validation = crate::manifest::policy::one_spelling(),
    validation = crate::manifest::policy::reads_first(),
    validation = no_agent_ref(),
    validation = profile_on_trigger_channel()
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SequenceSpec {
    /// The `orsay` Provider to use; optional when exactly one is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<NameRef>,
    /// `ObserveOnly`: read the remote object and report drift; change nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<crate::manifest::policy::ManagementPolicy>,
    /// What seqops may do (Crossplane's set): `Observe`, `Create`,
    /// `Update`, `Delete`, `LateInitialize`, or `*` (the default); `[]`
    /// pauses. `[Observe]` is `managementPolicy: ObserveOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policies: Option<Vec<crate::manifest::policy::Policy>>,
    /// The sequence's display name in Orsay.
    #[x_kube(validation = Rule::new("self.trim() != ''").message("a sequence needs a non-empty name"))]
    pub name: String,
    /// What starts the sequence; it also fixes the channel and direction.
    pub trigger: Trigger,
    /// Whether the sequence runs (Orsay's default: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// The AI agent that answers: `{lookup: "Sales Agent"}` or `{id: ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Selector>,
    /// An agent managed by seqops, by manifest name. Orsay agents are made in
    /// Orsay's dashboard, so for Orsay use `agent` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_ref: Option<NameRef>,
    /// The connected account that sends: `{instagram: username}`,
    /// `{whatsapp: name}` or `{id: ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(
        "(has(self.instagram) ? 1 : 0) + (has(self.whatsapp) ? 1 : 0) + (has(self.id) ? 1 : 0) == 1"
    ).message(ONE_PROFILE))]
    pub profile: Option<ProfileSelector>,
    /// How long to wait before the first answer (Orsay's default: 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_response_delay: Option<Duration>,
    /// The steps, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<Vec<FlowStep>>,
    /// An agent that decides which conversations to take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtering_agent: Option<Selector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub should_continue_existing_conversations: Option<bool>,
    /// Keywords that trigger the sequence; their order does not matter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    /// Accounts whose followers or commenters are targeted; order does not matter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_accounts: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_agent_on_conversation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_manual_approval: Option<bool>,
}

/// One step of a sequence's flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowStep {
    /// How long after the previous step this one runs.
    #[serde(default)]
    pub delay: Duration,
    /// The message text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// A WhatsApp message template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Follow-ups sent when the contact does not answer, each after the
    /// previous one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followup_delays: Option<Vec<Duration>>,
}

/// The ten triggers Orsay documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Trigger {
    InstagramMessage,
    InstagramComment,
    InstagramStoryReply,
    InstagramLeadFinderNewFollower,
    InstagramLeadFinderOtherAccountFollowers,
    InstagramLeadFinderNewLike,
    InstagramLeadFinderOtherAccountComment,
    WhatsappMessage,
    ContactCreated,
    ContactSubscribedToSequence,
}

/// The wire names of every trigger, with the channel and type each implies.
pub const TRIGGERS: [(&str, &str, &str); 10] = [
    ("INSTAGRAM_MESSAGE", "INSTAGRAM", "INBOUND"),
    ("INSTAGRAM_COMMENT", "INSTAGRAM", "OUTBOUND"),
    ("INSTAGRAM_STORY_REPLY", "INSTAGRAM", "INBOUND"),
    ("INSTAGRAM_LEAD_FINDER_NEW_FOLLOWER", "INSTAGRAM", "OUTBOUND"),
    ("INSTAGRAM_LEAD_FINDER_OTHER_ACCOUNT_FOLLOWERS", "INSTAGRAM", "OUTBOUND"),
    ("INSTAGRAM_LEAD_FINDER_NEW_LIKE", "INSTAGRAM", "OUTBOUND"),
    ("INSTAGRAM_LEAD_FINDER_OTHER_ACCOUNT_COMMENT", "INSTAGRAM", "OUTBOUND"),
    ("WHATSAPP_MESSAGE", "WHATSAPP", "INBOUND"),
    ("CONTACT_CREATED", "WHATSAPP", "OUTBOUND"),
    ("CONTACT_SUBSCRIBED_TO_SEQUENCE", "WHATSAPP", "OUTBOUND"),
];

/// The channel (`INSTAGRAM` or `WHATSAPP`) and type (`INBOUND` or
/// `OUTBOUND`) a trigger implies.
pub fn channel_and_type(trigger: &str) -> Option<(&'static str, &'static str)> {
    TRIGGERS.iter().find(|(name, _, _)| *name == trigger).map(|(_, channel, kind)| (*channel, *kind))
}

/// Which connected account sends the sequence's messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ProfileFields", into = "ProfileFields")]
pub enum ProfileSelector {
    Instagram(String),
    Whatsapp(String),
    Id(String),
}

/// The written form of a [`ProfileSelector`]: exactly one field.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileFields {
    /// The Instagram username of a connected profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instagram: Option<String>,
    /// The name of a connected WhatsApp profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<String>,
    /// A profile id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl TryFrom<ProfileFields> for ProfileSelector {
    type Error = String;
    fn try_from(fields: ProfileFields) -> Result<Self, String> {
        match (fields.instagram, fields.whatsapp, fields.id) {
            (Some(name), None, None) => Ok(ProfileSelector::Instagram(name)),
            (None, Some(name), None) => Ok(ProfileSelector::Whatsapp(name)),
            (None, None, Some(id)) => Ok(ProfileSelector::Id(id)),
            _ => Err(ONE_PROFILE.into()),
        }
    }
}

impl From<ProfileSelector> for ProfileFields {
    fn from(selector: ProfileSelector) -> Self {
        match selector {
            ProfileSelector::Instagram(name) => ProfileFields { instagram: Some(name), ..Default::default() },
            ProfileSelector::Whatsapp(name) => ProfileFields { whatsapp: Some(name), ..Default::default() },
            ProfileSelector::Id(id) => ProfileFields { id: Some(id), ..Default::default() },
        }
    }
}

impl JsonSchema for ProfileSelector {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProfileSelector".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        ProfileFields::json_schema(generator)
    }
}

const ONE_PROFILE: &str = "set exactly one of `instagram: <username>`, `whatsapp: <name>` and `id: <profile id>`";

/// Orsay's agents are made in its dashboard: `agentRef` is refused, with
/// the fix for each way it was written.
fn no_agent_ref() -> Rule {
    Rule::new("!has(self.agentRef)")
        .message(Message::Expression(
            "has(self.agent) ? 'set one of `agent` and `agentRef`, not both' : 'Orsay agents are made in Orsay\\'s dashboard and cannot be managed by seqops: name one with `agent: {lookup: \"<display name>\"}` or `agent: {id: <agent id>}`'".into(),
        ))
        .field_path(".agentRef")
}

/// A profile named by channel is on the trigger's channel. Every
/// Instagram trigger's name, and no other, begins `INSTAGRAM` (a test holds
/// [`TRIGGERS`] to that), which is cheaper for CEL to ask than a list.
fn profile_on_trigger_channel() -> Rule {
    let on_instagram = "self.trigger.startsWith('INSTAGRAM')";
    Rule::new(format!(
        "!has(self.profile) || !(has(self.profile.instagram) || has(self.profile.whatsapp)) \
         || {on_instagram} == has(self.profile.instagram)"
    ))
    .message(Message::Expression(format!(
        "'trigger ' + self.trigger + ' runs on ' + ({on_instagram} ? 'INSTAGRAM' : 'WHATSAPP') \
         + ', but the profile is ' + (has(self.profile.instagram) ? 'an INSTAGRAM' : 'a WHATSAPP') + ' profile'"
    )))
    .field_path(".profile")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_is_on_instagram_exactly_when_its_name_begins_instagram() {
        for (name, channel, _) in TRIGGERS {
            assert_eq!(name.starts_with("INSTAGRAM"), channel == "INSTAGRAM", "{name}");
        }
    }
}
