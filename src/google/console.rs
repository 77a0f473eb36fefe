//! The Google OAuth client as a resource whose change is a person's console step.
//!
//! Google has no API for the client (the only one was shut down in 2026): the Google provider
//! reads what is on record and plans `+ google.oauth_client` with the checklist; this resource
//! is the step itself. It runs after every cloud resource is done (the person is asked once,
//! with nothing else still moving on the screen), and hands the step to the run's
//! [`Console`](crate::engine::Console): on a terminal, the person does it and the client is
//! imported; without one, the step stays pending and the run ends with exit code 5.

use crate::engine::{
    ApplyPlan, Carries, Ctx, Observes, Planned, ProviderPlan, ProviderStatus, Resource, Upstream,
};
use crate::error::Result;

/// The key of the console step in the resource graph.
pub const KEY: &str = "google.console";

pub struct ConsoleStep;

/// Nothing to decide at plan time: the Google provider's plan shows the client's change.
pub struct Ask;

#[async_trait::async_trait]
impl Resource for ConsoleStep {
    fn key(&self) -> String {
        KEY.into()
    }

    /// After every cloud: the person is asked when nothing else is still running.
    fn needs(&self) -> Vec<String> {
        vec!["google".into(), "microsoft".into()]
    }

    async fn plan<'a>(&'a self, _ctx: &Ctx, _up: &Upstream) -> Result<Box<dyn ApplyPlan + 'a>> {
        Ok(Planned::new(self, Vec::new(), Ask))
    }

    async fn plan_destroy<'a>(
        &'a self,
        _ctx: &Ctx,
        _up: &Upstream,
    ) -> Result<Box<dyn ProviderPlan + 'a>> {
        Ok(Planned::new(self, Vec::new(), Ask))
    }
}

#[async_trait::async_trait]
impl Carries<Ask> for ConsoleStep {
    async fn carry_out(&self, ctx: &Ctx, _work: Ask) -> Result<()> {
        let steps = ctx.manual_steps();
        if steps.is_empty() {
            return Ok(());
        }
        let Some(console) = ctx.console.clone() else {
            ctx.set_manual_steps_done(false);
            return Ok(());
        };
        ctx.progress.finish();
        for step in &steps {
            if !console.perform(step).await? {
                ctx.set_manual_steps_done(false);
                return Ok(());
            }
        }
        ctx.set_manual_steps_done(true);
        Ok(())
    }
}

#[async_trait::async_trait]
impl Observes<Ask> for ConsoleStep {
    async fn status(&self, _ctx: &Ctx, _work: &Ask) -> Result<Option<ProviderStatus>> {
        Ok(None)
    }
}
