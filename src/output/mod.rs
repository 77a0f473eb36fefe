//! Mailbox config outputs: the credentials rendered through templates (minijinja) into the
//! files a mailbox application reads, so nobody copies a secret by hand.
//!
//! One context per provider (documented in the README, built in [`context`]); the built-in
//! templates live in `templates/` and are compiled into the binary, a user template is a path
//! relative to the spec. Rendering is strict: an undefined variable is an error that names the
//! template, its line and the expression.

pub mod context;
pub mod resource;

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};

use crate::credentials::{Record, write_private};
use crate::error::{Error, Result};
use crate::spec::{OutputSpec, Problem, Spec};
pub use context::{MailboxContext, Provider};

/// The built-in templates, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("agileapps", include_str!("../../templates/agileapps.j2")),
    ("json", include_str!("../../templates/json.j2")),
    ("env", include_str!("../../templates/env.j2")),
    ("yaml", include_str!("../../templates/yaml.j2")),
    (
        "agileapps-sheet",
        include_str!("../../templates/agileapps-sheet.j2"),
    ),
];

/// The paste sheet written beside every `agileapps` output (`<file stem>.paste.txt`): a person
/// fills in AgileApps' form from labels, not from JSON keys.
pub const AGILEAPPS_SHEET: &str = "agileapps-sheet";

/// Where the paste sheet of an `agileapps` output goes: beside it, `<stem>.paste.txt`.
pub fn sheet_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "agileapps".into());
    path.with_file_name(format!("{stem}.paste.txt"))
}

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
            let names = builtin_names();
            let near = crate::spec::keys::suggest(template, &names)
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            return Err(format!(
                "{template:?} is not a built-in template ({}) nor a path to one{near}",
                names.join(", ")
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
        self.render_value(ctx)
    }

    fn render_value(&self, ctx: &impl serde::Serialize) -> Result<String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // minijinja's own `tojson` escapes `&`, `<`, `>` and `'` for HTML (`\u0026`): valid JSON,
        // but a URL with a query no longer reads as the URL a person pastes. These files are
        // not HTML; write JSON as serde_json does.
        env.add_filter("tojson", tojson);
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

/// minijinja's `tojson` (its spacing, its `indent`), with the escapes it adds for HTML
/// (`\u0026`, `\u003c`, `\u003e`, `\u0027`) written as the characters, as serde_json does.
fn tojson(
    value: &minijinja::Value,
    indent: Option<minijinja::Value>,
    args: minijinja::value::Kwargs,
) -> std::result::Result<minijinja::Value, minijinja::Error> {
    let json = minijinja::filters::tojson(value, indent, args)?;
    Ok(minijinja::Value::from_safe_string(unescape_html(
        json.as_str().unwrap_or_default(),
    )))
}

/// Undoes the HTML escapes in JSON text. Escapes are read in pairs, so an escaped backslash
/// followed by `u0026` in the data stays as it was.
fn unescape_html(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let esc = &rest[i..];
        let plain = [
            ("\\u0026", '&'),
            ("\\u003c", '<'),
            ("\\u003e", '>'),
            ("\\u0027", '\''),
        ]
        .into_iter()
        .find(|(e, _)| esc.starts_with(e));
        match plain {
            Some((e, c)) => {
                out.push(c);
                rest = &esc[e.len()..];
            }
            None => {
                let n = esc[1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&esc[..1 + n]);
                rest = &esc[1 + n..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Undefined names one render finds, at most: each round fills one in and renders again.
const MAX_UNDEFINED: usize = 20;

/// Every problem of every `[[output]]` template, before anything is sent: an unknown built-in
/// name, a syntax error, each undefined variable (with the close name when there is one).
/// Strict rendering stops at the first undefined name, so each one found is given a stand-in
/// value and the template rendered again, against the placeholder context and the output's
/// `vars`.
pub fn template_problems(body: &crate::spec::SpecBody, spec_dir: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, out) in body.outputs.iter().enumerate() {
        let field = format!("output[{i}].template");
        if out.template.trim().is_empty() {
            continue;
        }
        let tmpl = match Template::resolve(&out.template, spec_dir) {
            Ok(t) => t,
            Err(m) => {
                problems.push(Problem::new(field, m));
                continue;
            }
        };
        let mut ctx = context::sample_for(out.provider, access_of(body.microsoft.as_ref()));
        ctx.vars = out.vars.clone();
        let mut value = serde_json::to_value(&ctx).unwrap_or_default();
        for _ in 0..MAX_UNDEFINED {
            let e = match tmpl.render_value(&value) {
                Ok(_) => break,
                Err(e) => e,
            };
            let Some(path) = undefined_path(&e.message) else {
                problems.push(Problem::new(field.clone(), e.message));
                break;
            };
            let (message, filled) = undefined_message(&e.message, &path, &mut value);
            problems.push(Problem::new(field.clone(), message));
            if !filled {
                break;
            }
        }
    }
    problems
}

/// The dotted name of an "undefined variable `a.b`" message, when it is a plain name.
fn undefined_path(message: &str) -> Option<Vec<String>> {
    let rest = message.split_once("undefined variable `")?.1;
    let expr = rest.split_once('`')?.0;
    let segs: Vec<String> = expr.split('.').map(|s| s.trim().to_owned()).collect();
    segs.iter()
        .all(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .then_some(segs)
}

/// The message with a did-you-mean from the names defined beside the missing one, and whether
/// a stand-in was put in the context for the next round.
fn undefined_message(
    message: &str,
    path: &[String],
    ctx: &mut serde_json::Value,
) -> (String, bool) {
    let mut at = ctx;
    for (n, seg) in path.iter().enumerate() {
        let serde_json::Value::Object(map) = at else {
            return (message.to_owned(), false);
        };
        if !map.contains_key(seg) {
            let known: Vec<&str> = map.keys().map(String::as_str).collect();
            let mut msg = message.to_owned();
            if let Some(near) = crate::spec::keys::suggest(seg, &known) {
                let mut name = path[..n].to_vec();
                name.push(near.to_owned());
                msg = msg.replace(
                    " (see the template context",
                    &format!(
                        "; did you mean `{}`? (see the template context",
                        name.join(".")
                    ),
                );
            }
            let mut stand_in = serde_json::Value::String(String::new());
            for s in path[n + 1..].iter().rev() {
                stand_in = serde_json::json!({ s.clone(): stand_in });
            }
            map.insert(seg.clone(), stand_in);
            return (msg, true);
        }
        at = map.get_mut(seg).expect("just checked");
    }
    (message.to_owned(), false)
}

/// Checks every `[[output]]` template before anything is sent: it exists, compiles, and
/// renders against a placeholder context with the output's `vars`.
pub fn check_templates(spec: &Spec) -> Result<()> {
    for (i, out) in spec.outputs.iter().enumerate() {
        let tmpl = Template::resolve(&out.template, &spec_dir(spec))
            .map_err(|m| spec.field_error(&format!("output[{i}].template"), m))?;
        let mut ctx = context::sample_for(out.provider, access_of(spec.microsoft.as_ref()));
        ctx.vars = out.vars.clone();
        tmpl.render(&ctx)
            .map_err(|e| spec.field_error(&format!("output[{i}].template"), e.message))?;
    }
    Ok(())
}

/// The access a spec's Microsoft registration has (delegated when it has none).
fn access_of(ms: Option<&crate::spec::MicrosoftSpec>) -> crate::spec::Access {
    ms.map(|m| m.access).unwrap_or_default()
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

/// Checks, before anything is sent to a cloud, that every output file can be written: the
/// nearest existing folder on its path is a folder where files can be created. Nothing is made
/// here (a refused or failed apply leaves no empty folder behind); [`write_all`] makes the
/// missing folders when it writes.
pub fn check_writable(spec: &Spec) -> Result<()> {
    for (i, out) in spec.outputs.iter().enumerate() {
        let path = output_path(spec, out);
        let dir = path.parent().unwrap_or(Path::new("."));
        let existing = dir
            .ancestors()
            .find(|a| a.as_os_str().is_empty() || a.exists())
            .filter(|a| !a.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let probe = if existing.is_dir() {
            tempfile::tempfile_in(existing).map(drop)
        } else {
            Err(std::io::Error::other(format!(
                "{} is not a folder",
                existing.display()
            )))
        };
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

/// Renders output `i`'s files (the paste sheet too) from `record`; `pending` while its
/// provider's credentials are not complete.
pub fn write_one(spec: &Spec, i: usize, record: &Record) -> Result<Vec<Written>> {
    let provider = spec.outputs[i].provider;
    let mut done = Vec::new();
    for (path, template) in files_of(spec, i) {
        let status = match render(spec, i, &template, record)? {
            None => "pending",
            Some(text) => write_if_changed(&path, &text)?,
        };
        done.push(Written {
            path: path.display().to_string(),
            provider,
            template,
            status,
        });
    }
    Ok(done)
}

/// Renders every `[[output]]` whose provider has complete credentials, atomically and 0600.
/// A file whose content would not change is left alone.
pub fn write_all(spec: &Spec, record: &Record) -> Result<Vec<Written>> {
    let mut done = Vec::new();
    for i in 0..spec.outputs.len() {
        done.extend(write_one(spec, i, record)?);
    }
    Ok(done)
}

/// The files output `i` renders, each with its template: the output itself, and beside an
/// `agileapps` output its paste sheet.
fn files_of(spec: &Spec, i: usize) -> Vec<(PathBuf, String)> {
    let out = &spec.outputs[i];
    let path = output_path(spec, out);
    let mut files = vec![(path.clone(), out.template.clone())];
    if out.template == "agileapps" {
        files.push((sheet_path(&path), AGILEAPPS_SHEET.to_owned()));
    }
    files
}

/// The text `template` renders for output `i` from `record`, or `None` while its provider's
/// credentials are not complete.
fn render(spec: &Spec, i: usize, template: &str, record: &Record) -> Result<Option<String>> {
    let out = &spec.outputs[i];
    let Some(ctx) = context::for_spec(spec, record, out.provider, &out.vars, true) else {
        return Ok(None);
    };
    let tmpl = Template::resolve(template, &spec_dir(spec))
        .map_err(|m| spec.field_error(&format!("output[{i}].template"), m))?;
    tmpl.render(&ctx).map(Some)
}

/// Writes `text` atomically and 0600, making missing folders; a file that already holds it is
/// left alone. Returns `written` or `unchanged`. A secret file that git would commit is
/// warned about.
fn write_if_changed(path: &Path, text: &str) -> Result<&'static str> {
    if std::fs::read(path).ok().as_deref() == Some(text.as_bytes()) {
        return Ok("unchanged");
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("{}: {e}", dir.display())).with_source(e))?;
    }
    write_private(path, text.as_bytes())?;
    crate::credentials::warn_if_git_would_track(path);
    Ok("written")
}

/// What `destroy` does with one rendered output.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Removal {
    pub path: String,
    /// `removed`, or `kept` (with the reason).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// The outputs (paste sheets included) that `destroy` may remove: those whose file still holds
/// exactly what mailreg renders from `record` (the record as it was before the destroy). A
/// file changed by hand since is somebody's work: kept, and reported.
pub fn removable(spec: &Spec, record: &Record) -> Result<Vec<(PathBuf, Removal)>> {
    let mut found = Vec::new();
    for i in 0..spec.outputs.len() {
        for (path, template) in files_of(spec, i) {
            let Ok(current) = std::fs::read(&path) else {
                continue;
            };
            let ours = render(spec, i, &template, record)?.is_some_and(|t| t.as_bytes() == current);
            let removal = Removal {
                path: path.display().to_string(),
                status: if ours { "removed" } else { "kept" },
                reason: (!ours).then_some("its content changed since mailreg wrote it"),
            };
            found.push((path, removal));
        }
    }
    Ok(found)
}

/// Removes the files [`removable`] found to be mailreg's.
pub fn remove(found: &[(PathBuf, Removal)]) -> Result<()> {
    for (path, r) in found.iter().filter(|(_, r)| r.status == "removed") {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::io(format!("removing {}: {e}", r.path)).with_source(e));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_and_undefined_variables_are_named() {
        let e = Template::resolve("agileaps", Path::new(".")).unwrap_err();
        assert_eq!(
            e,
            "\"agileaps\" is not a built-in template (agileapps, json, env, yaml, agileapps-sheet) nor a path to one; did you mean `agileapps`?"
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
    fn json_is_written_without_html_escapes() {
        assert_eq!(
            unescape_html(r#"{"u": "a?b=1\u0026c=\u003cd\u003e\u0027", "k": "\\u0026\\"}"#),
            r#"{"u": "a?b=1&c=<d>'", "k": "\\u0026\\"}"#
        );
    }

    #[test]
    fn every_builtin_renders_for_both_providers() {
        for (name, _) in BUILTIN {
            let t = Template::resolve(name, Path::new(".")).unwrap();
            let samples = [
                context::sample(Provider::Microsoft),
                context::sample(Provider::Google),
                context::sample_for(Provider::Microsoft, crate::spec::Access::App),
            ];
            for ctx in samples {
                let p = (ctx.provider, ctx.access);
                let out = t.render(&ctx).unwrap();
                if *name == "json" || *name == "agileapps" {
                    serde_json::from_str::<serde_json::Value>(&out)
                        .unwrap_or_else(|e| panic!("{name}/{p:?}: {e}\n{out}"));
                }
            }
        }
    }
}
