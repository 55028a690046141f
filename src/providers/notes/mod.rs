#![cfg(feature = "test-kind")]

//! Notes: a test-only provider, built with the `test-kind` feature. Its
//! API is the smallest a vendor can have (notes made, read, changed in
//! place, replaced when their title changes, deleted), so that what a kind
//! needs, and no more, shows: its spec type, what the API allows, its
//! mapping, its client and its emulator, in this folder, and one line
//! outside it (`pub mod notes;` in `providers/mod.rs`). `tests/test_kind.rs` plans, applies and
//! reconciles a Note through the sandbox.

mod client;
pub mod emulator;
pub mod mapping;
pub mod spec;
pub mod wire;

use std::sync::Arc;

use super::{Account, ExternalClient};
use crate::external::KindFacts;
use crate::manifest::kind::{Kind, KindSpec};
use crate::manifest::provider::ProviderType;

impl Kind for spec::NoteSpec {
    type Resource = spec::Note;
    const API_VERSION: &'static str = "notes.seqops.dev/v1alpha1";
    const KIND: &'static str = "Note";
    const PROVIDER: Option<ProviderType> = Some(TYPE);
    const FACTS: Option<&'static KindFacts> = Some(&mapping::NOTE_FACTS);
}

pub const NOTE_KIND: KindSpec = KindSpec::of::<spec::NoteSpec>();

/// The type its Provider manifests name: `type: notes`.
pub const TYPE: ProviderType = ProviderType::new("notes", 6);

pub const PROVIDER: super::Provider = super::Provider {
    provider_type: TYPE,
    kinds: &[NOTE_KIND],
    client_for,
    emulator: |config| emulator::NotesEmulator::new(config),
    dialect: super::http::DETAIL_DIALECT,
    base_url: "https://notes.invalid/api",
    rate: None,
    sandbox_path: emulator::BASE_PATH,
    sandbox_key: "notes_sandbox_seqops",
    export_filters: &[],
    probes: &[],
};

super::register!(PROVIDER);

pub fn client_for(account: &Arc<Account>, key_kind: &str) -> Option<Arc<dyn ExternalClient>> {
    (NOTE_KIND.key_kind == key_kind).then(|| Arc::new(client::NoteClient(account.clone())) as _)
}
