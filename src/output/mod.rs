//! Mailbox config outputs: the credentials rendered through templates (minijinja) into the
//! files a mailbox application reads, so nobody copies a secret by hand.
//!
//! One context per provider (documented in the README, built in [`context`]); the built-in
//! templates live in `templates/` and are compiled into the binary, a user template is a path
//! relative to the spec. Rendering is strict: an undefined variable is an error that names the
//! template, its line and the expression.

pub mod context;

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};

use crate::credentials::{Record, write_private};
use crate::error::{Error, Result};
use crate::spec::{OutputSpec, Spec};
pub use context::{MailboxContext, Provider};

/// The built-in templates, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("agileapps", include_str!("../../templates/agileapps.j2")),
    ("json", include_str!("../../templates/json.j2")),
    ("env", include_str!("../../templates/env.j2")),
    ("yaml", include_str!("../../templates/yaml.j2")),
];

pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// A template ready to render: its display name and source.
#[derive(Clone, Debug)]
pub struct Template {
    pub name: String,
    source: String,
}

impl Template {
    /// A built-in name (`agileapps`), or a path (relative to the spec's folder).
    pub fn resolve(template: &str, spec_dir: &Path) -> std::result::Result<Template, String> {
        if let Some((name, src)) = BUILTIN.iter().find(|(n, _)| *n == template) {
            return Ok(Template {
                name: format!("templates/{name}.j2"),
                source: (*src).to_owned(),
            });
        }
        let looks_like_path = template.contains('/') || template.contains('.');
        if !looks_like_path {
            return Err(format!(
                "{template:?} is not a built-in template ({}) nor a path to one",
                builtin_names().join(", ")
            ));
        }
        let path = spec_dir.join(template);
        let source = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read template {}: {e}", path.display()))?;
        Ok(Template {
            name: path.display().to_string(),
            source,
        })
    }

    /// Renders strictly. Errors name the template, the line and, for an undefined value, the
    /// expression that was undefined.
    pub fn render(&self, ctx: &MailboxContext) -> Result<String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let fail = |e: minijinja::Error| {
            let line = e.line().map(|l| format!(":{l}")).unwrap_or_default();
            let what = match (e.kind(), e.range()) {
                (minijinja::ErrorKind::UndefinedError, Some(r)) => {
                    let expr = self.source.get(r).unwrap_or("").trim();
                    format!("undefined variable `{expr}` (see the template context in the README)")
                }
                _ => {
                    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
                    format!("{}{detail}", e.kind())
                }
            };
            Error::bad_input(format!("template {}{line}: {what}", self.name))
        };
        env.add_template("t", &self.source).map_err(fail)?;
        let tmpl = env.get_template("t").map_err(fail)?;
        let mut out = tmpl.render(minijinja::value::Serde(ctx)).map_err(fail)?;
        if !out.ends_with('\n') {
            out.push('\n');
        }
        Ok(out)
    }
}

/// Checks every `[[output]]` template before anything is sent: it exists, compiles, and
/// renders against a placeholder context with the output's `vars`.
pub fn check_templates(spec: &Spec) -> Result<()> {
    for (i, out) in spec.outputs.iter().enumerate() {
        let tmpl = Template::resolve(&out.template, &spec_dir(spec))
            .map_err(|m| spec.field_error(&format!("output[{i}].template"), m))?;
        let mut ctx = context::sample(out.provider);
        ctx.vars = out.vars.clone();
        tmpl.render(&ctx)
            .map_err(|e| spec.field_error(&format!("output[{i}].template"), e.message))?;
    }
    Ok(())
}

/// The folder relative paths in a spec are taken from.
pub fn spec_dir(spec: &Spec) -> PathBuf {
    spec.file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned()
}

/// Where an output is written.
pub fn output_path(spec: &Spec, out: &OutputSpec) -> PathBuf {
    spec_dir(spec).join(&out.path)
}

/// Checks, before anything is sent to a cloud, that every output file can be written: its
/// folder exists or can be made, and a file can be created there.
pub fn check_writable(spec: &Spec) -> Result<()> {
    for (i, out) in spec.outputs.iter().enumerate() {
        let path = output_path(spec, out);
        let dir = path.parent().unwrap_or(Path::new("."));
        let probe = std::fs::create_dir_all(dir).and_then(|_| tempfile::tempfile_in(dir).map(drop));
        if let Err(e) = probe {
            return Err(spec.field_error(
                &format!("output[{i}].path"),
                format!("{} cannot be written: {e}", path.display()),
            ));
        }
        if path.is_dir() {
            return Err(spec.field_error(
                &format!("output[{i}].path"),
                format!("{} is a folder", path.display()),
            ));
        }
    }
    Ok(())
}

/// What [`write_all`] did with one output.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Written {
    pub path: String,
    pub provider: Provider,
    pub template: String,
    /// `written`, `unchanged`, or `pending` (the provider's credentials are not complete yet).
    pub status: &'static str,
}

/// Renders every `[[output]]` whose provider has complete credentials, atomically and 0600.
/// A file whose content would not change is left alone.
pub fn write_all(spec: &Spec, record: &Record) -> Result<Vec<Written>> {
    let mut done = Vec::new();
    for (i, out) in spec.outputs.iter().enumerate() {
        let path = output_path(spec, out);
        let shown = path.display().to_string();
        let status = match context::for_record(record, out.provider, &out.vars, true) {
            None => "pending",
            Some(ctx) => {
                let tmpl = Template::resolve(&out.template, &spec_dir(spec))
                    .map_err(|m| spec.field_error(&format!("output[{i}].template"), m))?;
                let text = tmpl.render(&ctx)?;
                if std::fs::read(&path).ok().as_deref() == Some(text.as_bytes()) {
                    "unchanged"
                } else {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            Error::io(format!("{}: {e}", dir.display())).with_source(e)
                        })?;
                    }
                    write_private(&path, text.as_bytes())?;
                    "written"
                }
            }
        };
        done.push(Written {
            path: shown,
            provider: out.provider,
            template: out.template.clone(),
            status,
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_and_undefined_variables_are_named() {
        let e = Template::resolve("agileaps", Path::new(".")).unwrap_err();
        assert_eq!(
            e,
            "\"agileaps\" is not a built-in template (agileapps, json, env, yaml) nor a path to one"
        );
        let t = Template {
            name: "my.j2".into(),
            source: "a\nclient={{ client_id }}\nmail={{ vars.emial }}\n".into(),
        };
        let ctx = context::sample(Provider::Microsoft);
        let e = t.render(&ctx).unwrap_err();
        assert_eq!(
            e.message,
            "template my.j2:3: undefined variable `vars.emial` (see the template context in the README)"
        );
        let t = Template {
            name: "bad.j2".into(),
            source: "{% if %}".into(),
        };
        assert!(
            t.render(&ctx)
                .unwrap_err()
                .message
                .starts_with("template bad.j2:1: syntax error")
        );
    }

    #[test]
    fn every_builtin_renders_for_both_providers() {
        for (name, _) in BUILTIN {
            let t = Template::resolve(name, Path::new(".")).unwrap();
            for p in [Provider::Microsoft, Provider::Google] {
                let out = t.render(&context::sample(p)).unwrap();
                if *name == "json" || *name == "agileapps" {
                    serde_json::from_str::<serde_json::Value>(&out)
                        .unwrap_or_else(|e| panic!("{name}/{p:?}: {e}\n{out}"));
                }
            }
        }
    }
}
