//! Maps a field path (`microsoft.redirect_uris[0]`) back to a line and column of the spec file.
//!
//! The spec is merged (environment overrides) and deserialised from plain values, which carry no
//! positions; errors carry a path instead, and this module finds where that path is written. An
//! override in `[env.<env>]` wins over the base value, as it does in the merge.

use toml::de::{DeTable, DeValue};

/// One step of a field path.
#[derive(Clone, Debug, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Parses `a.b[2].c` into segments.
pub fn parse_path(path: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                segs.push(Seg::Key(rest[..i].to_owned()));
            }
            rest = &rest[i..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(n) = stripped[..end].parse() {
                    segs.push(Seg::Index(n));
                }
                rest = stripped.get(end + 1..).unwrap_or("");
            }
        } else if !rest.is_empty() {
            segs.push(Seg::Key(rest.to_owned()));
        }
    }
    segs
}

/// The source text of a spec, kept to locate errors found after parsing.
#[derive(Clone, Debug)]
pub struct Locator {
    text: String,
    env: String,
}

impl Locator {
    pub fn new(text: String, env: &str) -> Self {
        Locator {
            text,
            env: env.to_owned(),
        }
    }

    /// 1-based line and column of the value at `path`, or of its nearest written ancestor.
    pub fn locate(&self, path: &str) -> Option<(usize, usize)> {
        let doc = DeTable::parse(&self.text).ok()?;
        let segs = parse_path(path);
        let mut override_path = vec![Seg::Key("env".into()), Seg::Key(self.env.clone())];
        override_path.extend(segs.iter().cloned());
        let span = find(doc.get_ref(), &override_path, true)
            .or_else(|| find(doc.get_ref(), &segs, false))?;
        Some(self.line_col(span.start))
    }

    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rfind('\n').map(|i| offset - i).unwrap_or(offset + 1);
        (line, col)
    }
}

/// Walks the spanned document. With `exact`, only a full match counts (used for overrides, so
/// an override table that does not mention the field does not steal the location).
fn find(table: &DeTable<'_>, segs: &[Seg], exact: bool) -> Option<std::ops::Range<usize>> {
    let Some((Seg::Key(first), rest)) = segs.split_first() else {
        return None;
    };
    let value = table.get(first.as_str())?;
    let mut best = value.span();
    let mut current: &DeValue<'_> = value.get_ref();
    for (i, seg) in rest.iter().enumerate() {
        let next = match (seg, current) {
            (Seg::Key(k), DeValue::Table(t)) => t.get(k.as_str()),
            (Seg::Index(n), DeValue::Array(a)) => a.get(*n),
            _ => None,
        };
        match next {
            Some(v) => {
                best = v.span();
                current = v.get_ref();
            }
            None if exact => return None,
            None => {
                let _ = i;
                break;
            }
        }
    }
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        assert_eq!(
            parse_path("microsoft.redirect_uris[1]"),
            vec![
                Seg::Key("microsoft".into()),
                Seg::Key("redirect_uris".into()),
                Seg::Index(1)
            ]
        );
        assert_eq!(
            parse_path("output[0].path"),
            vec![
                Seg::Key("output".into()),
                Seg::Index(0),
                Seg::Key("path".into())
            ]
        );
    }

    #[test]
    fn locates_base_values_and_overrides() {
        let text = "name = \"x\"\n\n[microsoft]\ntenant = \"t\"\nredirect_uris = [\n  \"https://a\",\n  \"https://b\",\n]\n\n[env.prod]\nmicrosoft.tenant = \"p\"\n";
        let test = Locator::new(text.into(), "test");
        assert_eq!(test.locate("microsoft.tenant"), Some((4, 10)));
        assert_eq!(test.locate("microsoft.redirect_uris[1]"), Some((7, 3)));
        // A missing field points at its nearest written ancestor.
        assert_eq!(test.locate("microsoft.permissions").map(|l| l.0), Some(3));
        let prod = Locator::new(text.into(), "prod");
        assert_eq!(prod.locate("microsoft.tenant"), Some((11, 20)));
        assert_eq!(prod.locate("microsoft.redirect_uris[0]"), Some((6, 3)));
    }
}
