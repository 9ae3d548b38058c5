//! `google.api.http` path templates: parsing and matching.
//!
//! The grammar (from `google/api/http.proto`):
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! A template is flattened into segment matchers; each variable remembers the span of matchers
//! it covers, so `{name=shelves/*/books/*}` and `{id}` are matched the same way.

/// One matcher of a flattened template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Exactly this text.
    Literal(String),
    /// Any one non-empty segment (`*`, or a variable without a pattern).
    One,
    /// Any number of segments, only last (`**`).
    Rest,
}

/// A field path bound to a span of segments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Variable {
    field_path: Vec<String>,
    start: usize,
    end: usize,
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    source: String,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
    verb: Option<String>,
}

/// How well a template matched a path: compared field by field, greater is more specific, so
/// that a literal segment wins over a variable and a verb over none.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Specificity {
    has_verb: bool,
    ranks: Vec<u8>,
}

/// A template matched against a path: the specificity and each variable's decoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathMatch {
    pub(crate) specificity: Specificity,
    pub(crate) bindings: Vec<(Vec<String>, String)>,
}

impl PathTemplate {
    /// Parses a template such as `/api/v1/tables/{table.id}` or `/v1/{name=shelves/*}:publish`.
    pub(crate) fn parse(source: &str) -> Result<Self, String> {
        let fail = |why: &str| format!("path template {source:?}: {why}");
        let rest = source.strip_prefix('/').ok_or_else(|| fail("must start with /"))?;
        // The verb is the text after a ':' outside braces that follows the last '/' outside braces.
        let (mut depth, mut last_slash, mut last_colon) = (0i32, None, None);
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                '/' if depth == 0 => last_slash = Some(i),
                ':' if depth == 0 => last_colon = Some(i),
                _ => {}
            }
            if !(0..=1).contains(&depth) {
                return Err(fail("unbalanced or nested braces"));
            }
        }
        if depth != 0 {
            return Err(fail("unbalanced braces"));
        }
        let (path, verb) = match last_colon {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
                let verb = &rest[colon + 1..];
                if verb.is_empty() || !verb.chars().all(is_literal_char) {
                    return Err(fail("bad verb"));
                }
                (&rest[..colon], Some(verb.to_owned()))
            }
            _ => (rest, None),
        };

        let mut template =
            PathTemplate { source: source.to_owned(), segments: Vec::new(), variables: Vec::new(), verb };
        for piece in split_outside_braces(path) {
            if let Some(inner) = piece.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
                let field_path: Vec<String> = field.split('.').map(str::to_owned).collect();
                if field_path.iter().any(|part| !is_ident(part)) {
                    return Err(fail("bad variable name"));
                }
                let start = template.segments.len();
                for part in pattern.split('/') {
                    template.segments.push(parse_plain_segment(part).map_err(|why| fail(&why))?);
                }
                let end = template.segments.len();
                template.variables.push(Variable { field_path, start, end });
            } else {
                template.segments.push(parse_plain_segment(piece).map_err(|why| fail(&why))?);
            }
        }
        let rest_at = template.segments.iter().position(|s| *s == Segment::Rest);
        if rest_at.is_some_and(|at| at + 1 != template.segments.len()) {
            return Err(fail("** may only be the last segment"));
        }
        Ok(template)
    }

    /// The template as written in the annotation.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The field paths bound by variables, in order.
    pub(crate) fn field_paths(&self) -> impl Iterator<Item = &[String]> {
        self.variables.iter().map(|v| v.field_path.as_slice())
    }

    /// The template in OpenAPI form: each variable as `{field.path}`, anonymous wildcards kept.
    pub(crate) fn openapi_path(&self) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < self.segments.len() {
            out.push('/');
            if let Some(var) = self.variables.iter().find(|v| v.start == i) {
                out.push('{');
                out.push_str(&var.field_path.join("."));
                out.push('}');
                i = var.end.max(i + 1);
                continue;
            }
            match &self.segments[i] {
                Segment::Literal(text) => out.push_str(text),
                Segment::One => out.push('*'),
                Segment::Rest => out.push_str("**"),
            }
            i += 1;
        }
        if self.segments.is_empty() {
            out.push('/');
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }

    /// Matches a request path (still percent-encoded, without the query). Variable values are
    /// percent-decoded; a value that does not decode to UTF-8 makes the path not match.
    pub(crate) fn matches(&self, path: &str) -> Option<PathMatch> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => {
                // The verb is split off the last segment only, at its last ':'.
                let (head, tail) = rest.rsplit_once(':')?;
                if tail != verb {
                    return None;
                }
                head
            }
            None => rest,
        };
        let parts: Vec<&str> = if rest.is_empty() { Vec::new() } else { rest.split('/').collect() };
        let mut ranks = Vec::with_capacity(self.segments.len());
        let mut spans = Vec::with_capacity(self.segments.len());
        let mut at = 0;
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => {
                    if parts.get(at) != Some(&text.as_str()) {
                        return None;
                    }
                    ranks.push(2);
                    spans.push((at, at + 1));
                    at += 1;
                }
                Segment::One => {
                    if parts.get(at).is_none_or(|p| p.is_empty()) {
                        return None;
                    }
                    ranks.push(1);
                    spans.push((at, at + 1));
                    at += 1;
                }
                Segment::Rest => {
                    ranks.push(0);
                    spans.push((at, parts.len()));
                    at = parts.len();
                }
            }
        }
        if at != parts.len() {
            return None;
        }
        let mut bindings = Vec::with_capacity(self.variables.len());
        for var in &self.variables {
            let from = spans.get(var.start).map_or(at, |s| s.0);
            let to = var.end.checked_sub(1).and_then(|last| spans.get(last)).map_or(from, |s| s.1);
            let mut decoded = Vec::with_capacity(to.saturating_sub(from));
            for part in parts.get(from..to)? {
                decoded.push(percent_encoding::percent_decode_str(part).decode_utf8().ok()?.into_owned());
            }
            bindings.push((var.field_path.clone(), decoded.join("/")));
        }
        Some(PathMatch { specificity: Specificity { has_verb: self.verb.is_some(), ranks }, bindings })
    }
}

/// Splits at the '/' that are not inside braces.
fn split_outside_braces(path: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in path.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '/' if depth == 0 => {
                pieces.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&path[start..]);
    pieces
}

fn parse_plain_segment(text: &str) -> Result<Segment, String> {
    match text {
        "*" => Ok(Segment::One),
        "**" => Ok(Segment::Rest),
        "" => Err("empty segment".to_owned()),
        literal if literal.chars().all(is_literal_char) => Ok(Segment::Literal(literal.to_owned())),
        other => Err(format!("bad segment {other:?}")),
    }
}

/// Characters a literal may hold: URL path characters except the template's own punctuation.
fn is_literal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.~!$&'()+,;@%".contains(c)
}

fn is_ident(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        let matched = PathTemplate::parse(template).unwrap().matches(path)?;
        Some(matched.bindings.into_iter().map(|(field, value)| (field.join("."), value)).collect())
    }

    fn pair(field: &str, value: &str) -> (String, String) {
        (field.to_owned(), value.to_owned())
    }

    #[test]
    fn literals_and_variables() {
        assert_eq!(bindings("/api/v1/tables", "/api/v1/tables"), Some(vec![]));
        assert_eq!(bindings("/api/v1/tables/{id}", "/api/v1/tables/42"), Some(vec![pair("id", "42")]));
        assert_eq!(bindings("/api/v1/tables/{id}", "/api/v1/tables"), None);
        assert_eq!(bindings("/api/v1/tables/{id}", "/api/v1/tables/"), None, "a variable is never empty");
        assert_eq!(bindings("/api/v1/tables/{id}", "/api/v1/tables/4/2"), None);
        assert_eq!(bindings("/api/v1/tables/{id=*}", "/api/v1/tables/7"), Some(vec![pair("id", "7")]));
        assert_eq!(bindings("/api/v1/tables", "/api/v1/tasks"), None);
    }

    #[test]
    fn nested_and_multi_segment_variables() {
        assert_eq!(
            bindings("/api/v1/tables/{table.id}", "/api/v1/tables/9"),
            Some(vec![pair("table.id", "9")])
        );
        assert_eq!(
            bindings("/v1/{name=shelves/*/books/*}", "/v1/shelves/1/books/2"),
            Some(vec![pair("name", "shelves/1/books/2")])
        );
        assert_eq!(bindings("/v1/{name=shelves/*/books/*}", "/v1/shelves/1/cds/2"), None);
        assert_eq!(bindings("/v1/{path=**}", "/v1/a/b/c"), Some(vec![pair("path", "a/b/c")]));
        assert_eq!(
            bindings("/v1/{a}/x/{b.c}", "/v1/first/x/second"),
            Some(vec![pair("a", "first"), pair("b.c", "second")])
        );
    }

    #[test]
    fn values_are_percent_decoded() {
        assert_eq!(
            bindings("/v1/tables/by-name/{name}", "/v1/tables/by-name/dw.ods%20user%2Fx"),
            Some(vec![pair("name", "dw.ods user/x")])
        );
        assert_eq!(bindings("/v1/tables/by-name/{name}", "/v1/tables/by-name/%FF"), None);
    }

    #[test]
    fn verbs() {
        assert_eq!(bindings("/api/v1/lineage:analyzeSql", "/api/v1/lineage:analyzeSql"), Some(vec![]));
        assert_eq!(bindings("/api/v1/lineage:analyzeSql", "/api/v1/lineage"), None);
        assert_eq!(bindings("/api/v1/lineage:analyzeSql", "/api/v1/lineage:other"), None);
        assert_eq!(
            bindings("/api/v1/tables/{table_id}/drift:acknowledge", "/api/v1/tables/3/drift:acknowledge"),
            Some(vec![pair("table_id", "3")])
        );
        assert_eq!(
            bindings("/v1/{name=shelves/*}:publish", "/v1/shelves/5:publish"),
            Some(vec![pair("name", "shelves/5")])
        );
        assert_eq!(bindings("/v1/things/{id}", "/v1/things/5:publish"), Some(vec![pair("id", "5:publish")]));
    }

    #[test]
    fn a_literal_wins_over_a_variable() {
        let literal = PathTemplate::parse("/api/v1/tasks/callback").unwrap();
        let variable = PathTemplate::parse("/api/v1/tasks/{id}").unwrap();
        let by_literal = literal.matches("/api/v1/tasks/callback").unwrap();
        let by_variable = variable.matches("/api/v1/tasks/callback").unwrap();
        assert!(by_literal.specificity > by_variable.specificity);
        let deep_literal = PathTemplate::parse("/v1/{a}/b/c").unwrap().matches("/v1/x/b/c").unwrap();
        let deep_variable = PathTemplate::parse("/v1/{a}/b/{c}").unwrap().matches("/v1/x/b/c").unwrap();
        assert!(deep_literal.specificity > deep_variable.specificity);
        let verb = PathTemplate::parse("/v1/x:watch").unwrap().matches("/v1/x:watch").unwrap();
        let plain = PathTemplate::parse("/v1/{id}").unwrap().matches("/v1/x:watch").unwrap();
        assert!(verb.specificity > plain.specificity);
    }

    #[test]
    fn openapi_form() {
        let form = |t: &str| PathTemplate::parse(t).unwrap().openapi_path();
        assert_eq!(form("/api/v1/tables/{table.id}"), "/api/v1/tables/{table.id}");
        assert_eq!(form("/api/v1/tables/{id=*}"), "/api/v1/tables/{id}");
        assert_eq!(form("/v1/{name=shelves/*}:publish"), "/v1/{name}:publish");
        assert_eq!(form("/api/v1/lineage:analyzeSql"), "/api/v1/lineage:analyzeSql");
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in ["api/v1", "/v1/{id", "/v1/{a{b}}", "/v1/{1x}", "/v1//x", "/v1/**/x", "/v1/x:", "/v1/a b"]
        {
            assert!(PathTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
