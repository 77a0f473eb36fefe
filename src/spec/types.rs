//! Every wrong type at once.
//!
//! serde stops at the first value of the wrong type, so `redirect_uris = "…"` and then
//! `secret_lifetime_days = "90"` took two runs. This deserialises, and on a type error records
//! it, puts a stand-in of the expected type where the value was (serde's message says which
//! type), and deserialises again, until the whole tree fits. The caller drops what later checks
//! say about the stand-ins.

use super::{Problem, SpecBody, locate::Seg, locate::parse_path};

/// More would mean a loop: each round replaces one value.
const MAX_ROUNDS: usize = 64;

/// The typed spec (when every value could be made to fit) and one problem per wrong type.
pub fn deserialize(mut root: toml::Table) -> (Option<SpecBody>, Vec<Problem>) {
    let mut problems = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let e =
            match serde_path_to_error::deserialize::<_, SpecBody>(toml::Value::Table(root.clone()))
            {
                Ok(body) => return (Some(body), problems),
                Err(e) => e,
            };
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        let message = e.into_inner().message().trim().to_owned();
        let found = value_at(&root, &field).cloned();
        let stand_in = stand_in(&message);
        problems.push(Problem::new(
            field.clone(),
            with_suggestion(&message, found.as_ref()),
        ));
        match (stand_in, found) {
            (Some(v), Some(_)) if !field.is_empty() => set_at(&mut root, &field, v),
            // A missing field, or a type serde names in a way not known here: nothing to put in
            // its place, so stop at what was found.
            _ => return (None, problems),
        }
    }
    (None, problems)
}

/// A value of the type serde expected, read from its message ("expected u32").
fn stand_in(message: &str) -> Option<toml::Value> {
    let expected = message.rsplit_once("expected ")?.1.trim();
    Some(match expected {
        "u8" | "u16" | "u32" | "u64" | "i32" | "i64" | "usize" => toml::Value::Integer(1),
        "a boolean" => toml::Value::Boolean(false),
        "a string" => toml::Value::String(String::new()),
        "a sequence" => toml::Value::Array(Vec::new()),
        e if e.starts_with("struct ") || e == "a map" => toml::Value::Table(toml::Table::new()),
        e => {
            // An enum: "one of `a`, `b`" or "`a` or `b`"; its first variant fits.
            let first = e.split('`').nth(1)?;
            toml::Value::String(first.to_owned())
        }
    })
}

/// serde's message, and where the fix is plain (quotes around a number, a string where a
/// list is wanted), the fix.
fn with_suggestion(message: &str, found: Option<&toml::Value>) -> String {
    let expected = message.rsplit_once("expected ").map(|(_, e)| e.trim());
    match (found, expected) {
        (Some(toml::Value::String(s)), Some(e))
            if matches!(e, "u8" | "u16" | "u32" | "u64" | "i32" | "i64" | "usize")
                && s.trim().parse::<i64>().is_ok() =>
        {
            format!("{message}; write the number without quotes: {}", s.trim())
        }
        (Some(toml::Value::String(s)), Some("a sequence")) => {
            format!("{message}; write a list, even of one: [{s:?}]")
        }
        (Some(toml::Value::String(s)), Some("a boolean")) if s == "true" || s == "false" => {
            format!("{message}; write it without quotes: {s}")
        }
        _ => message.to_owned(),
    }
}

fn value_at<'a>(root: &'a toml::Table, field: &str) -> Option<&'a toml::Value> {
    let segs = parse_path(field);
    let (Seg::Key(first), rest) = segs.split_first()? else {
        return None;
    };
    let mut v = root.get(first)?;
    for seg in rest {
        v = match (seg, v) {
            (Seg::Key(k), toml::Value::Table(t)) => t.get(k)?,
            (Seg::Index(i), toml::Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

fn set_at(root: &mut toml::Table, field: &str, value: toml::Value) {
    let segs = parse_path(field);
    let Some((Seg::Key(first), rest)) = segs.split_first() else {
        return;
    };
    let Some(mut v) = root.get_mut(first) else {
        return;
    };
    for seg in rest {
        let next = match (seg, v) {
            (Seg::Key(k), toml::Value::Table(t)) => t.get_mut(k),
            (Seg::Index(i), toml::Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        let Some(n) = next else { return };
        v = n;
    }
    *v = value;
}

#[cfg(test)]
mod tests {
    use crate::spec::Spec;

    #[test]
    fn every_wrong_type_is_reported_with_its_fix() {
        let text = "name = \"x-mail\"\n[microsoft]\ntenant = \"contoso.onmicrosoft.com\"\nredirect_uris = \"https://a.example.com/cb\"\nsecret_lifetime_days = \"90\"\nadmin_consent = \"yes\"\n";
        let e = Spec::parse("s.toml".as_ref(), text, "test").unwrap_err();
        assert_eq!(
            e.message,
            "s.toml:4:17: microsoft.redirect_uris: invalid type: string \"https://a.example.com/cb\", expected a sequence; write a list, even of one: [\"https://a.example.com/cb\"]\n\
             s.toml:5:24: microsoft.secret_lifetime_days: invalid type: string \"90\", expected u32; write the number without quotes: 90\n\
             s.toml:6:17: microsoft.admin_consent: invalid type: string \"yes\", expected a boolean"
        );
    }
}
