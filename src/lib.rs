//! mailreg: mailbox OAuth app registrations as code.
//!
//! Data flows one way: [`spec`] → provider reads → [`plan`] → [`engine`] apply → [`credentials`]
//! → outputs. See the README's architecture section.

pub mod cli;
pub mod clock;
pub mod commands;
pub mod credentials;
pub mod engine;
pub mod error;
pub mod google;
pub mod http;
pub mod interrupt;
pub mod lock;
pub mod logging;
pub mod mailbox;
pub mod microsoft;
pub mod output;
pub mod plan;
pub mod secrets;
pub mod spec;
pub mod verify;
