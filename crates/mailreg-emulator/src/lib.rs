//! mailreg's cloud emulator: an in-process HTTP server on 127.0.0.1 that speaks the wire formats
//! of the calls mailreg makes.
//!
//! - [`graph`]: the Entra token endpoint and Microsoft Graph v1.0 (applications and their upsert,
//!   secrets, service principals and grants, deleted items, query options, validation).
//! - [`google`]: Google's OAuth token endpoint and metadata server, Resource Manager v3 projects,
//!   long-running operations and Service Usage v1.
//! - [`exchange`]: Exchange Online's admin endpoint for the mailbox readiness cmdlets; Graph
//!   users and licence details live in [`graph`], Gmail's settings in [`google`];
//!   [`exchange_app`]: its service principals and mailbox rights for app-only access.
//! - [`keyvault`]: the Azure Key Vault data plane for secrets (set, get, soft delete, recover,
//!   purge), and (in [`google`]) Secret Manager v1: the stores `[[secret]]` writes to.
//! - [`mail`]: IMAP, POP3 and SMTP logins with the tokens the emulator's sign-in issues,
//!   gated by the mailbox's Exchange settings as they stand after propagation.
//! - [`server`]: the HTTP server that routes to both fakes, with faults (429, 5xx, dropped
//!   connections, latency, rate limits) and a request log.
//!
//! The fakes are pure state machines over [`wire::EmuRequest`] / [`wire::EmuResponse`]: the
//! caller supplies the time and every id comes from a seeded generator, so runs are repeatable.
//! It is a crate of its own so that it depends on nothing of mailreg's: the tests and benchmarks
//! exercise mailreg against it exactly as they would against the clouds, and `mailreg emulator`
//! and `mailreg demo` serve it to users who rehearse their pipelines offline.

pub mod exchange;
pub mod exchange_app;
pub mod google;
pub mod graph;
pub mod keyvault;
pub mod mail;
pub mod server;
pub mod wire;

pub use exchange::{Cas, ExchangeAccess, MailboxSeed};
pub use server::{Emulator, EmulatorConfig, Fault, FaultKind, LoggedRequest};
