//! Long-running operations of Resource Manager and Service Usage.

use super::*;

impl GoogleState {
    /// `GET v3/operations/*` and `GET v1/operations/*`: the first `operation_polls` polls answer
    /// not done, then done with `response` or `error` (ref §1/§2). Unknown names — including
    /// `operations/noop.DONE_OPERATION` (ref §2: must not be polled) — are 404 (inferred).
    pub(super) fn poll_operation(&mut self, name: &str, api: Api) -> Handled {
        let Some(op) = self.operations.get_mut(name).filter(|o| o.api == api) else {
            return Err(google_error(
                404,
                "NOT_FOUND",
                &format!("Operation '{name}' not found."),
                vec![],
            ));
        };
        let pending = match self.config.operation_duration {
            Some(d) => self.now - op.created < d,
            None => op.polls_left > 0,
        };
        if pending {
            op.polls_left = op.polls_left.saturating_sub(1);
            return Ok(EmuResponse::json(
                200,
                &operation_json(name, op.pending_metadata.as_ref(), None),
            ));
        }
        let first_done = !op.applied;
        op.applied = true;
        let outcome = op.outcome.clone();
        let done_metadata = op.done_metadata.clone();
        let result = match outcome {
            Outcome::Error(status) => ("error", status),
            Outcome::Project(number) => {
                let mut view = self
                    .projects
                    .iter()
                    .find(|p| p.number == number)
                    .map(project_json)
                    .unwrap_or_else(|| json!({}));
                view["@type"] = json!(T_PROJECT);
                ("response", view)
            }
            Outcome::Service {
                number,
                service,
                enable,
            } => {
                if first_done && let Some(p) = self.projects.iter_mut().find(|p| p.number == number)
                {
                    if enable {
                        p.services.insert(service.clone());
                    } else {
                        p.services.remove(&service);
                    }
                }
                let ty = if enable {
                    T_ENABLE_RESP
                } else {
                    T_DISABLE_RESP
                };
                (
                    "response",
                    json!({"@type": ty, "service": service_json(number, &service, enable)}),
                )
            }
        };
        Ok(EmuResponse::json(
            200,
            &operation_json(name, done_metadata.as_ref(), Some(result)),
        ))
    }
}
