//! DolphinScheduler placeholder rendering with a position map back to the
//! original text.

use std::collections::HashMap;

/// Prefix of the token that stands for an unknown `${name}` placeholder.
pub(super) const VAR_TOKEN_PREFIX: &str = "dsvar_";
/// Prefix of the token that stands for a `$[...]` time expression.
pub(super) const TIME_TOKEN_PREFIX: &str = "dstime_";

/// Values that themselves contain placeholders are rendered again, as
/// DolphinScheduler does, but only this deep so that cycles terminate.
const MAX_NESTING: usize = 4;

/// Substituted values are caller-controlled, so a few placeholders with huge
/// values could otherwise multiply the text without bound.
pub(super) const MAX_RENDERED_BYTES: usize = 64 * 1024 * 1024;

/// Renders DolphinScheduler placeholders so that the text can be parsed.
///
/// * `${name}` is replaced by `params[name]` (looked up as written, then
///   trimmed). Values are rendered again (up to 4 levels), as DolphinScheduler
///   resolves placeholders inside values.
/// * An unknown `${name}` (including built-ins such as `${system.biz.date}`)
///   becomes `dsvar_<name>`: the name lowercased, every character other than
///   an ASCII letter or digit turned into `_`. The token is valid inside a
///   string literal, on its own, and inside an identifier (`ods_${env}_user`
///   becomes `ods_dsvar_env_user`).
/// * A time expression `$[...]` (`$[yyyyMMdd]`, `$[yyyy-MM-dd-1]`,
///   `$[add_months(yyyyMMdd,-1)]`) becomes `dstime_<expression>` with the same
///   sanitising, e.g. `dstime_yyyymmdd_1`.
///
/// A placeholder ends at the first `}` (or `]`) on the same line; `$` not
/// followed by a complete placeholder is kept as is. Tokens never contain a
/// newline, so line numbers only move when a substituted value has newlines.
/// Once the rendered text would exceed 64 MiB, known values are no longer
/// substituted and their token is used instead.
#[must_use]
pub fn render_placeholders(sql: &str, params: &HashMap<String, String>) -> String {
    render(sql, params).text
}

/// One replaced placeholder, in char offsets.
#[derive(Debug, Clone, Copy)]
struct Replacement {
    rendered_start: usize,
    rendered_end: usize,
    original_start: usize,
    original_end: usize,
}

/// Rendered text plus what is needed to point back into the original text.
#[derive(Debug, Default)]
pub(super) struct Rendered {
    pub(super) text: String,
    replacements: Vec<Replacement>,
    /// Lowercase token and the placeholder it stands for, longest token first.
    tokens: Vec<(String, String)>,
    /// Set when [`MAX_RENDERED_BYTES`] stopped a substitution.
    pub(super) over_budget: bool,
}

impl Rendered {
    /// Maps a char offset in the rendered text to one in the original text;
    /// offsets inside a substituted value map to the placeholder's `$`.
    pub(super) fn original_offset(&self, rendered: usize) -> usize {
        let idx = self.replacements.partition_point(|r| r.rendered_start <= rendered);
        let Some(prev) = idx.checked_sub(1).and_then(|i| self.replacements.get(i)) else {
            return rendered;
        };
        if rendered < prev.rendered_end {
            prev.original_start
        } else {
            prev.original_end + (rendered - prev.rendered_end)
        }
    }

    /// Puts the original placeholder text back where a token appears in a
    /// (lowercase) table name or a message.
    pub(super) fn restore(&self, text: &str) -> String {
        if self.tokens.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        // Single left-to-right pass so a restored placeholder is never
        // rewritten again.
        'outer: while !rest.is_empty() {
            for (token, original) in &self.tokens {
                if let Some(after) = rest.strip_prefix(token.as_str()) {
                    out.push_str(original);
                    rest = after;
                    continue 'outer;
                }
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Var,
    Time,
}

/// A complete placeholder at the start of a string.
struct Placeholder<'a> {
    kind: Kind,
    inner: &'a str,
    /// Byte length of the whole placeholder, `$` and delimiters included.
    len: usize,
}

fn placeholder_at(s: &str) -> Option<Placeholder<'_>> {
    let rest = s.strip_prefix('$')?;
    let (kind, close, body) = if let Some(body) = rest.strip_prefix('{') {
        (Kind::Var, '}', body)
    } else if let Some(body) = rest.strip_prefix('[') {
        (Kind::Time, ']', body)
    } else {
        return None;
    };
    for (i, c) in body.char_indices() {
        if c == close {
            let inner = body.get(..i)?;
            if inner.trim().is_empty() {
                return None;
            }
            return Some(Placeholder { kind, inner, len: 2 + i + c.len_utf8() });
        }
        // Stopping at `$` keeps scanning linear: no candidate placeholder
        // is ever scanned past the start of the next one.
        if matches!(c, '\n' | '\r' | '$') || (kind == Kind::Var && c == '{') {
            return None;
        }
    }
    None
}

fn token_for(kind: Kind, inner: &str) -> String {
    let prefix = match kind {
        Kind::Var => VAR_TOKEN_PREFIX,
        Kind::Time => TIME_TOKEN_PREFIX,
    };
    let mut token = String::with_capacity(prefix.len() + inner.len());
    token.push_str(prefix);
    token.extend(
        inner.trim().chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }),
    );
    token
}

pub(super) fn render(sql: &str, params: &HashMap<String, String>) -> Rendered {
    let mut rendered = Rendered::default();
    let mut text = String::with_capacity(sql.len());
    render_into(sql, params, 0, &mut text, &mut rendered, true);
    rendered.text = text;
    rendered.tokens.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    rendered.tokens.dedup_by(|a, b| a.0 == b.0);
    rendered
}

/// Appends the rendering of `src` to `out`. Only the top level records
/// position replacements: a nested value maps to its outer placeholder.
fn render_into(
    src: &str,
    params: &HashMap<String, String>,
    depth: usize,
    out: &mut String,
    state: &mut Rendered,
    top_level: bool,
) {
    let mut rest = src;
    // Offsets only matter at the top level, where `out` starts empty.
    let mut original_chars = 0usize;
    let mut rendered_chars = 0usize;
    while let Some(pos) = rest.find('$') {
        let (Some(before), Some(from_dollar)) = (rest.get(..pos), rest.get(pos..)) else {
            break;
        };
        out.push_str(before);
        let n = before.chars().count();
        original_chars += n;
        rendered_chars += n;

        let Some(ph) = placeholder_at(from_dollar) else {
            out.push('$');
            original_chars += 1;
            rendered_chars += 1;
            rest = from_dollar.get(1..).unwrap_or_default();
            continue;
        };
        let before_len = out.len();
        let value = match ph.kind {
            Kind::Var => params.get(ph.inner).or_else(|| params.get(ph.inner.trim())),
            Kind::Time => None,
        };
        let fits = value.is_some_and(|v| out.len() + v.len() <= MAX_RENDERED_BYTES);
        match value {
            Some(v) if fits && depth < MAX_NESTING => {
                render_into(v, params, depth + 1, out, state, false);
            }
            _ => {
                if value.is_some() && !fits {
                    state.over_budget = true;
                }
                let token = token_for(ph.kind, ph.inner);
                out.push_str(&token);
                let original = from_dollar.get(..ph.len).unwrap_or_default();
                state.tokens.push((token, original.to_owned()));
            }
        }
        let placeholder_chars = from_dollar.get(..ph.len).unwrap_or_default().chars().count();
        let value_chars = out.get(before_len..).unwrap_or_default().chars().count();
        if top_level {
            state.replacements.push(Replacement {
                rendered_start: rendered_chars,
                rendered_end: rendered_chars + value_chars,
                original_start: original_chars,
                original_end: original_chars + placeholder_chars,
            });
        }
        original_chars += placeholder_chars;
        rendered_chars += value_chars;
        rest = from_dollar.get(ph.len..).unwrap_or_default();
    }
    out.push_str(rest);
}
