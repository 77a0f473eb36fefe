//! mailreg: mailbox OAuth app registrations as code.
//!
//! Data flows one way: [`spec`] → provider reads → [`plan`] → [`engine`] apply → [`credentials`]
//! → outputs. See the README's architecture section.

pub mod clock;
pub mod error;
pub mod http;
pub mod spec;
pub mod credentials;
pub mod engine;
pub mod microsoft;
pub mod plan;
