//! Commands about mailreg itself: man pages, generated from the one clap definition in
//! `cli.rs`, so they cannot drift from `--help` (shell completions: `completions.rs`).
//!
//! Under `-o json` the generated text goes into a field of one JSON document, as every other
//! command's output does.

use std::path::Path;

use clap::CommandFactory;
use serde_json::json;

use crate::cli::{Cli, Global, OutputFormat};
use crate::error::{Error, ExitCode, Result};

/// One man page: its file name (`mailreg-plan.1`) and its roff text.
pub struct Page {
    pub file: String,
    pub roff: String,
}

/// Every man page: `mailreg.1`, then one per subcommand, nested ones included
/// (`mailreg-google-import-client.1`), in the order `--help` lists them.
pub fn pages() -> Result<Vec<Page>> {
    fn walk(cmd: &clap::Command, out: &mut Vec<Page>) -> Result<()> {
        // The page header's source field names the program and its version, on every page
        // (clap_mangen would put the subcommand's name there, without a version).
        let man = clap_mangen::Man::new(cmd.clone())
            .source(concat!("mailreg ", env!("CARGO_PKG_VERSION")));
        let mut roff = Vec::new();
        man.render(&mut roff)
            .map_err(|e| Error::io(format!("rendering the man page: {e}")))?;
        out.push(Page {
            file: man.get_filename(),
            roff: String::from_utf8_lossy(&roff).into_owned(),
        });
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, out)?;
        }
        Ok(())
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Building sets each subcommand's display name (`mailreg-plan`), which names its page.
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, &mut out)?;
    Ok(out)
}

/// `mailreg man [COMMAND...] [--dir DIR]`.
pub fn man(command: &[String], dir: Option<&Path>, global: &Global) -> Result<ExitCode> {
    let all = pages()?;
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("{}: {e}", dir.display())))?;
        let mut written = Vec::new();
        for page in &all {
            let path = dir.join(&page.file);
            std::fs::write(&path, &page.roff)
                .map_err(|e| Error::io(format!("{}: {e}", path.display())))?;
            written.push(path.display().to_string());
        }
        match global.output {
            OutputFormat::Json => println!("{}", json!({ "written": written })),
            OutputFormat::Text if !global.quiet => {
                written.iter().for_each(|p| println!("{p}"));
            }
            OutputFormat::Text => {}
        }
        return Ok(ExitCode::Success);
    }
    let wanted = if command.is_empty() {
        "mailreg.1".to_owned()
    } else {
        format!("mailreg-{}.1", command.join("-"))
    };
    let page = all.iter().find(|p| p.file == wanted).ok_or_else(|| {
        let known: Vec<&str> = all
            .iter()
            .filter_map(|p| p.file.strip_prefix("mailreg-")?.strip_suffix(".1"))
            .collect();
        Error::bad_input(format!(
            "no man page for `{}`; pages exist for: {}",
            command.join(" "),
            known.join(", ")
        ))
    })?;
    match global.output {
        OutputFormat::Json => println!("{}", json!({"page": page.file, "roff": page.roff})),
        OutputFormat::Text => print!("{}", page.roff),
    }
    Ok(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_subcommand_has_a_page() {
        let files: Vec<String> = super::pages()
            .unwrap()
            .into_iter()
            .map(|p| p.file)
            .collect();
        for f in [
            "mailreg.1",
            "mailreg-plan.1",
            "mailreg-apply.1",
            "mailreg-destroy.1",
            "mailreg-rotate.1",
            "mailreg-google.1",
            "mailreg-google-import-client.1",
            "mailreg-google-undelete.1",
            "mailreg-man.1",
        ] {
            assert!(files.contains(&f.to_owned()), "{f} missing from {files:?}");
        }
    }
}
