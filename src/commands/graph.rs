//! `mailreg graph`: the spec's resources in the order the engine derives, with their needs.

use serde_json::json;

use super::{Open, open};
use crate::cli::{Global, OutputFormat, Target};
use crate::error::{ExitCode, Result};
use crate::stack::Scope;

pub fn run(target: &Target, global: &Global, mailboxes: bool) -> Result<ExitCode> {
    let how = Open {
        scope: Scope {
            mailboxes,
            ..Scope::REGISTRATION
        },
        ..Open::READ
    };
    let s = open(target, global, how)?;
    let order = crate::engine::describe(&s.stack.resources)?;
    match global.output {
        OutputFormat::Json => {
            let doc: Vec<_> = order
                .iter()
                .map(|(key, needs)| json!({"resource": key, "needs": needs}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        }
        OutputFormat::Text if !global.quiet => {
            for (i, (key, needs)) in order.iter().enumerate() {
                match needs.is_empty() {
                    true => println!("{:>2}. {key}", i + 1),
                    false => println!("{:>2}. {key}  (after {})", i + 1, needs.join(", ")),
                }
            }
        }
        OutputFormat::Text => {}
    }
    Ok(ExitCode::Success)
}
