//! The spec's Microsoft mailboxes' protocol settings as a resource of the plan (`up`): each
//! mailbox whose IMAP, POP or SMTP AUTH is off gets one `Set-CASMailbox`, shown with the
//! registration's changes and confirmed once.
//!
//! The reads go out with the registration's (they need nothing of it); `down` leaves the
//! mailboxes as they are: mailreg did not create them, and other clients may rely on the
//! protocols it switched on.

use std::sync::Mutex;

use super::Report;
use super::microsoft::{CasFix, Checker};
use crate::engine::{
    ApplyPlan, Carries, Ctx, Observes, Planned, ProviderPlan, ProviderStatus, Resource, Upstream,
};
use crate::error::Result;

/// The key of the mailbox settings in the resource graph.
pub const KEY: &str = "mailboxes";

pub struct MailboxSettings {
    checker: Checker,
    users: Vec<String>,
    /// What the plan's reads found, for the command's report.
    reports: Mutex<Vec<Report>>,
}

impl MailboxSettings {
    pub fn new(checker: Checker, users: Vec<String>) -> MailboxSettings {
        MailboxSettings {
            checker,
            users,
            reports: Default::default(),
        }
    }
}

#[async_trait::async_trait]
impl Resource for MailboxSettings {
    fn key(&self) -> String {
        KEY.into()
    }

    async fn plan<'a>(&'a self, _ctx: &Ctx, _up: &Upstream) -> Result<Box<dyn ApplyPlan + 'a>> {
        let checked = self.checker.check(&self.users).await?;
        *self.reports.lock().expect("reports") = checked.iter().map(|c| c.report.clone()).collect();
        let (plan, fixes) = self.checker.fix_plan(&checked);
        Ok(Planned::new(self, plan.changes, fixes))
    }

    async fn plan_destroy<'a>(
        &'a self,
        _ctx: &Ctx,
        _up: &Upstream,
    ) -> Result<Box<dyn ProviderPlan + 'a>> {
        Ok(Planned::new(self, Vec::new(), Vec::new()))
    }
}

#[async_trait::async_trait]
impl Carries<Vec<CasFix>> for MailboxSettings {
    async fn carry_out(&self, ctx: &Ctx, fixes: Vec<CasFix>) -> Result<()> {
        for f in &fixes {
            ctx.progress.step(
                "mailboxes",
                format!("switching on protocols for {}", f.user),
            );
            self.checker.set_cas(f).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Observes<Vec<CasFix>> for MailboxSettings {
    async fn status(&self, _ctx: &Ctx, _w: &Vec<CasFix>) -> Result<Option<ProviderStatus>> {
        Ok(None)
    }
}
