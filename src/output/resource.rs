//! One `[[output]]` entry as a resource of the plan: the file (and, beside an `agileapps`
//! output, its paste sheet) rendered from the credentials on record.
//!
//! It needs its provider's registration (and, for Google, the console step that brings the
//! client), so it is written after them and removed before them. Its plan compares what the
//! file holds with what the record renders now, and expects a rewrite when the registration's
//! plan changes the credentials (a new secret, a new registration, a changed redirect URI).

use std::sync::Mutex;

use serde_json::json;

use super::{Removal, Written, files_of, output_path, removable, remove, render, write_one};
use crate::engine::{
    ApplyPlan, Carries, Ctx, Observes, Planned, ProviderPlan, ProviderStatus, Resource, Upstream,
};
use crate::error::Result;
use crate::plan::{Action, Change};
use crate::spec::{Provider, Spec};

pub struct OutputFile {
    spec: Spec,
    index: usize,
    /// What this run wrote, for the command's report.
    written: Mutex<Vec<Written>>,
    /// What `destroy` found, for the command's report (kept files included).
    removals: Mutex<Vec<Removal>>,
}

/// The key of output `i` in the resource graph.
pub fn key(i: usize) -> String {
    format!("output[{i}]")
}

pub enum OutputWork {
    Write,
    Remove(Vec<(std::path::PathBuf, Removal)>),
}

impl OutputFile {
    pub fn new(spec: &Spec, index: usize) -> OutputFile {
        OutputFile {
            spec: spec.clone(),
            index,
            written: Default::default(),
            removals: Default::default(),
        }
    }

    pub fn written(&self) -> Vec<Written> {
        self.written.lock().expect("outputs").clone()
    }

    pub fn removals(&self) -> Vec<Removal> {
        self.removals.lock().expect("outputs").clone()
    }

    fn provider(&self) -> Provider {
        self.spec.outputs[self.index].provider
    }

    fn address(&self) -> String {
        let path = &self.spec.outputs[self.index].path;
        format!("output[{path}]")
    }
}

/// Whether applying `c` changes what an output renders: the client, its secret, its redirect
/// URIs or scopes. Consent and deleted items do not.
fn changes_credentials(c: &Change) -> bool {
    matches!(
        c.resource,
        "application" | "client_secret" | "project" | "oauth_client"
    ) && c.action != Action::Delete
}

#[async_trait::async_trait]
impl Resource for OutputFile {
    fn key(&self) -> String {
        key(self.index)
    }

    fn needs(&self) -> Vec<String> {
        match self.provider() {
            Provider::Microsoft => vec!["microsoft".into()],
            Provider::Google => vec!["google".into(), crate::google::console::KEY.into()],
        }
    }

    async fn plan<'a>(&'a self, ctx: &Ctx, up: &Upstream) -> Result<Box<dyn ApplyPlan + 'a>> {
        let provider = self.provider().as_str();
        let upstream = up.changes().await?;
        let renews = upstream
            .iter()
            .any(|c| c.provider == provider && changes_credentials(c));
        let record = ctx.record().await;
        let out = &self.spec.outputs[self.index];
        let mut missing = false;
        let mut differs = false;
        let mut pending = false;
        for (path, template) in files_of(&self.spec, self.index) {
            let current = std::fs::read(&path).ok();
            missing |= current.is_none();
            match render(&self.spec, self.index, &template, &record)? {
                None => pending = true,
                Some(text) => differs |= current.as_deref() != Some(text.as_bytes()),
            }
        }
        let reason = match (renews, pending, differs) {
            (true, _, _) => Some("rendered with the credentials this apply makes"),
            (false, false, true) if missing => Some("rendered from the credentials on record"),
            (false, false, true) => Some("its content differs from the credentials on record"),
            // Credentials not complete, and nothing in this run completes them (a Google
            // client not imported yet): nothing to write.
            _ => None,
        };
        let changes = match reason {
            None => Vec::new(),
            Some(why) => vec![
                Change::new(
                    "output",
                    "file",
                    if missing {
                        Action::Create
                    } else {
                        Action::Update
                    },
                )
                .address(self.address())
                .reason(why)
                .field("template", serde_json::Value::Null, json!(out.template))
                .field(
                    "path",
                    serde_json::Value::Null,
                    json!(output_path(&self.spec, out).display().to_string()),
                ),
            ],
        };
        Ok(Planned::new(self, changes, OutputWork::Write))
    }

    /// Decided against the record as it is before the destroy: the files hold its (soon dead)
    /// secret. A file changed by hand since is kept and reported, not deleted.
    async fn plan_destroy<'a>(
        &'a self,
        ctx: &Ctx,
        _up: &Upstream,
    ) -> Result<Box<dyn ProviderPlan + 'a>> {
        let record = ctx.record().await;
        let found: Vec<_> = removable(&self.spec, &record)?
            .into_iter()
            .filter(|(p, _)| files_of(&self.spec, self.index).iter().any(|(f, _)| f == p))
            .collect();
        // One change per `[[output]]`, addressed as apply addresses it; its files in the reason.
        let gone: Vec<&str> = found
            .iter()
            .filter(|(_, r)| r.status == "removed")
            .map(|(_, r)| r.path.as_str())
            .collect();
        let changes = match gone.is_empty() {
            true => Vec::new(),
            false => vec![
                Change::new("output", "file", Action::Delete)
                    .address(self.address())
                    .reason(format!("removes {}", gone.join(", "))),
            ],
        };
        Ok(Planned::new(self, changes, OutputWork::Remove(found)))
    }
}

#[async_trait::async_trait]
impl Carries<OutputWork> for OutputFile {
    async fn carry_out(&self, ctx: &Ctx, work: OutputWork) -> Result<()> {
        match work {
            OutputWork::Write => {
                // The record as the registration (and the person, for Google) left it.
                let record = ctx.record().await;
                let done = write_one(&self.spec, self.index, &record)?;
                *self.written.lock().expect("outputs") = done;
                Ok(())
            }
            OutputWork::Remove(found) => {
                remove(&found)?;
                *self.removals.lock().expect("outputs") =
                    found.into_iter().map(|(_, r)| r).collect();
                Ok(())
            }
        }
    }
}

#[async_trait::async_trait]
impl Observes<OutputWork> for OutputFile {
    async fn status(&self, _ctx: &Ctx, _work: &OutputWork) -> Result<Option<ProviderStatus>> {
        Ok(None)
    }
}
