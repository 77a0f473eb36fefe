//! The resources of one spec and environment, as the engine orders them.
//!
//! | key | what | needs |
//! | --- | --- | --- |
//! | `microsoft` | the Entra app, its secret, admin consent | |
//! | `microsoft.app_roles` | app access: the app's service principal, Exchange app roles (consent) | `microsoft` |
//! | `exchange` | app access: Exchange's service principal, each mailbox's FullAccess/SendAs | `microsoft.app_roles` |
//! | `google` | the project, the Gmail API, the OAuth client's gap | |
//! | `mailboxes` | the mailboxes' IMAP/POP/SMTP AUTH settings (`up`) | |
//! | `google.console` | the person's console step for the OAuth client | `google`, `microsoft` |
//! | `secrets` | every `[[secret]]` destination | `microsoft`, `google` |
//! | `output[i]` | each `[[output]]` file | its provider (and `google.console` for Google) |
//!
//! Commands choose which families take part ([`Scope`]); the engine derives the order.

use std::sync::Arc;

use crate::engine::Resources;
use crate::error::Result;
use crate::google::GoogleProvider;
use crate::google::console::ConsoleStep;
use crate::http::Http;
use crate::mailbox::resource::MailboxSettings;
use crate::microsoft::MicrosoftProvider;
use crate::output::resource::OutputFile;
use crate::secrets::Stores;
use crate::spec::Spec;

/// Which families of resources a command manages.
#[derive(Clone, Copy, Debug)]
pub struct Scope {
    /// The registrations themselves (and what hangs on them: the console step, the mailbox
    /// settings). `gc` leaves them out when it cleans up after the registrations it deleted.
    pub registrations: bool,
    /// The `[[secret]]` destinations (`destroy --keep-secrets` leaves them out).
    pub stores: bool,
    /// The `[[output]]` files (`destroy --keep-outputs` leaves them out).
    pub outputs: bool,
    /// The Microsoft mailboxes' protocol settings (`up`, `plan --mailboxes`).
    pub mailboxes: bool,
}

impl Scope {
    /// What `apply` and `destroy` manage by default.
    pub const REGISTRATION: Scope = Scope {
        registrations: true,
        stores: true,
        outputs: true,
        mailboxes: false,
    };
}

/// The resources, with typed handles on those whose results commands report.
pub struct Stack {
    pub resources: Resources,
    pub microsoft: Option<Arc<MicrosoftProvider>>,
    pub google: Option<Arc<GoogleProvider>>,
    pub stores: Arc<Stores>,
    pub outputs: Vec<Arc<OutputFile>>,
    pub mailboxes: Option<Arc<MailboxSettings>>,
}

impl Stack {
    pub fn new(spec: &Spec, http: &Http, scope: Scope) -> Result<Stack> {
        let mut resources: Resources = Vec::new();
        let microsoft = match spec.microsoft {
            Some(_) if scope.registrations => Some(Arc::new(MicrosoftProvider::new(spec, http)?)),
            _ => None,
        };
        if let Some(m) = &microsoft {
            resources.push(m.clone());
            if let Some((roles, rights)) = m.app_access(http)? {
                resources.push(Arc::new(roles));
                resources.push(Arc::new(rights));
            }
        }
        let google = match spec.google {
            Some(_) if scope.registrations => Some(Arc::new(GoogleProvider::new(spec, http)?)),
            _ => None,
        };
        if let Some(g) = &google {
            resources.push(g.clone());
            resources.push(Arc::new(ConsoleStep));
        }
        let users: Vec<String> = spec
            .microsoft
            .as_ref()
            .map(|m| m.mailbox_addresses())
            .unwrap_or_default();
        let mailboxes = match scope.registrations && scope.mailboxes && !users.is_empty() {
            true => Some(Arc::new(MailboxSettings::new(
                crate::mailbox::microsoft::Checker::new(spec, http)?,
                users,
            ))),
            false => None,
        };
        if let Some(m) = &mailboxes {
            resources.push(m.clone());
        }
        // Built for every command (rotate delivers to them outside a plan); a resource only
        // when the spec has some and the command manages them.
        let stores = Arc::new(Stores::new(spec, http));
        if scope.stores && !spec.secrets.is_empty() {
            resources.push(stores.clone());
        }
        let outputs: Vec<Arc<OutputFile>> = match scope.outputs {
            true => (0..spec.outputs.len())
                .map(|i| Arc::new(OutputFile::new(spec, i)))
                .collect(),
            false => Vec::new(),
        };
        for o in &outputs {
            resources.push(o.clone());
        }
        Ok(Stack {
            resources,
            microsoft,
            google,
            stores,
            outputs,
            mailboxes,
        })
    }

    /// What this run wrote to the output files.
    pub fn written(&self) -> Vec<crate::output::Written> {
        self.outputs.iter().flat_map(|o| o.written()).collect()
    }

    /// What this destroy did with the output files (removed, or kept and why).
    pub fn removals(&self) -> Vec<crate::output::Removal> {
        self.outputs.iter().flat_map(|o| o.removals()).collect()
    }
}
