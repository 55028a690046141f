//! seqops: outreach sequences, AI agents, schedules and secrets as code.
//!
//! The library holds everything both faces (the CLI and, later, the
//! Kubernetes controller) share: loading and validating manifests, the
//! vendor-neutral engine (diff, plan, apply, state), the providers and the
//! sandbox emulators.

pub mod clock;
pub mod controller;
pub mod engine;
pub mod external;
pub mod files;
pub mod kube_state;
pub mod manifest;
pub mod operator;
pub mod providers;
pub mod render;
pub mod sandbox;
pub mod words;
