//! mailreg: mailbox OAuth app registrations as code.
//!
//! Data flows one way: `spec` → provider reads (`microsoft`, `google`) → `plan` → `engine`
//! apply → `credentials` → `output` (and `secrets`). See the README's architecture section.
//!
//! The library exists for the binary and the tests: it exposes what they use and nothing
//! else, so the modules below stay free to change.

// The binary: parse, log, run, report.
pub mod cli;
pub mod commands;
pub mod error;
pub mod interrupt;
pub mod logging;
// The tests: the credentials store and the run lock, exercised directly.
pub mod credentials;
pub mod lock;

mod clock;
mod engine;
mod google;
mod http;
mod jwt;
mod mail;
mod mailbox;
mod microsoft;
mod output;
mod plan;
mod secrets;
mod spec;
mod stack;
mod verify;

/// Google operation polling's schedule, which the benchmark measures against.
pub use google::api::{POLL_FIRST, poll_times};
