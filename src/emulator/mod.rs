//! The built-in cloud emulator: an in-process HTTP server on 127.0.0.1 that speaks the wire
//! formats of the calls mailreg makes (Entra token endpoint and Graph in [`graph`]; Google's
//! token endpoint, Resource Manager and Service Usage in [`google`]).
//!
//! It serves three users: the integration tests (which switch faults on and read the request
//! log), `mailreg emulator` (pipelines rehearsed offline) and `mailreg demo`.

pub mod google;
pub mod graph;
pub mod server;
pub mod wire;

pub use server::{Emulator, EmulatorConfig, Fault, FaultKind, LoggedRequest};
