//! Gmail's settings endpoints that `mailreg verify` reads with the mailbox's own token before it
//! logs in: `GET /gmail/v1/users/me/settings/imap` and `…/pop` (reference/exchange-admin.md,
//! "Gmail"; google-discovery/gmail.v1.json).
//!
//! The emulator plays one Gmail account: the mailbox's token comes from whichever OAuth server
//! the test or rehearsal uses, so any bearer token is accepted as that account's. A missing
//! token is the 401 Google answers. Tests switch IMAP off (`imap_enabled = false`) or POP on.

use serde_json::json;

use crate::wire::{EmuRequest, EmuResponse};

/// The account's IMAP and POP settings.
#[derive(Clone, Debug)]
pub struct GmailState {
    pub imap_enabled: bool,
    /// `disabled`, `fromNowOn` or `allMail`.
    pub pop_access_window: String,
}

impl Default for GmailState {
    /// A Workspace account as created: IMAP on, POP off.
    fn default() -> Self {
        GmailState {
            imap_enabled: true,
            pop_access_window: "disabled".into(),
        }
    }
}

impl GmailState {
    /// Handles `/gmail/v1/…`; `None` for other paths.
    pub fn handle(&self, req: &EmuRequest) -> Option<EmuResponse> {
        let rest = req.path.strip_prefix("/gmail/v1/")?;
        if req.bearer().is_none_or(|t| t.trim().is_empty()) {
            return Some(EmuResponse::json(
                401,
                &json!({"error": {"code": 401,
                "message": "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                "status": "UNAUTHENTICATED"}}),
            ));
        }
        let body = match (req.method.as_str(), rest) {
            ("GET", "users/me/settings/imap") => json!({"enabled": self.imap_enabled,
                "autoExpunge": true, "expungeBehavior": "archive", "maxFolderSize": 0}),
            ("GET", "users/me/settings/pop") => json!({"accessWindow": self.pop_access_window,
                "disposition": "leaveInInbox"}),
            _ => {
                return Some(EmuResponse::json(
                    404,
                    &json!({"error": {"code": 404,
                    "message": format!("the emulator does not serve {} {}", req.method, req.path),
                    "status": "NOT_FOUND"}}),
                ));
            }
        };
        Some(EmuResponse::json(200, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(g: &GmailState, path: &str, token: bool) -> EmuResponse {
        let headers = if token {
            vec![("authorization".into(), "Bearer any".into())]
        } else {
            Vec::new()
        };
        let req = EmuRequest {
            method: "GET".into(),
            path: path.into(),
            headers,
            ..Default::default()
        };
        g.handle(&req).expect("a Gmail path")
    }

    #[test]
    fn settings_follow_the_state_and_need_a_token() {
        let mut g = GmailState::default();
        let imap = get(&g, "/gmail/v1/users/me/settings/imap", true);
        assert_eq!(imap.body_json().unwrap()["enabled"], true);
        g.imap_enabled = false;
        let imap = get(&g, "/gmail/v1/users/me/settings/imap", true);
        assert_eq!(imap.body_json().unwrap()["enabled"], false);
        let pop = get(&g, "/gmail/v1/users/me/settings/pop", true);
        assert_eq!(pop.body_json().unwrap()["accessWindow"], "disabled");
        assert_eq!(
            get(&g, "/gmail/v1/users/me/settings/imap", false).status,
            401
        );
        assert_eq!(get(&g, "/gmail/v1/users/me/labels", true).status, 404);
        let other = EmuRequest {
            path: "/v1.0/applications".into(),
            ..Default::default()
        };
        assert!(g.handle(&other).is_none());
    }
}
