//! Tokenising, splitting and parsing a script with dialect fall-backs.

use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect, GenericDialect, HiveDialect, MySqlDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use super::SqlDialect;

/// Longest run of chained operators (`a OR b OR ...`, `... UNION ...`) one
/// statement may contain. The parser builds such chains iteratively, without
/// its recursion limit, but walking and dropping the tree recurses once per
/// link, so an unbounded chain could overflow the stack.
pub(super) const MAX_CHAIN: usize = 10_000;

/// Joins without `ON`/`USING` followed by another join nest recursively in
/// the parser (`a JOIN b JOIN c`), with large stack frames.
const MAX_OPEN_JOINS: usize = 300;

/// Statements that never move data and that the parser may not know
/// (`ADD JAR`, Hive `SET k=v` with odd values, ...). They are skipped when no
/// dialect can parse them.
const SKIPPABLE: &[&str] = &[
    "ADD",
    "ANALYZE",
    "COMPUTE",
    "DESC",
    "DESCRIBE",
    "DFS",
    "EXPLAIN",
    "INVALIDATE",
    "LIST",
    "MSCK",
    "REFRESH",
    "RESET",
    "SET",
    "SHOW",
];

/// What the collector consumes, in script order.
#[derive(Debug)]
pub(super) enum Unit {
    /// Statements parsed from one piece of the script.
    Statements(Vec<Statement>),
    /// Hive `[WITH ...] FROM src INSERT ... SELECT ... [INSERT ...]`, which
    /// the parser does not support: the `FROM` part parsed as a query and
    /// each insert parsed on its own, analysed together as one statement.
    MultiInsert { source: Vec<Statement>, inserts: Vec<Statement> },
}

/// A failure, located in the rendered text when the location is known.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) message: String,
    pub(super) at: Option<Location>,
}

impl Failure {
    fn new(message: impl Into<String>, at: Option<Location>) -> Self {
        Self { message: message.into(), at }
    }
}

/// Parses `text` (already rendered) into units.
///
/// The whole script is first parsed with the chosen dialect. If that fails
/// it is split at top-level `;` and each statement is tried with the chosen
/// dialect, then the other one, then the generic dialect, then as a Hive
/// multi-insert, then through [`repairs`]; statements in [`SKIPPABLE`] that
/// still fail are ignored. A statement nothing can parse yields the chosen
/// dialect's error.
pub(super) fn parse_script(text: &str, dialect: SqlDialect) -> Result<Vec<Unit>, Failure> {
    let (mysql, hive, generic) = (MySqlDialect {}, HiveDialect {}, GenericDialect {});
    let dialects: [&dyn Dialect; 3] = match dialect {
        SqlDialect::MySql => [&mysql, &hive, &generic],
        SqlDialect::Hive => [&hive, &mysql, &generic],
    };

    let tokens = tokenize_any(text, &dialects)?;
    if !tokens.iter().any(|t| is_significant(&t.token)) {
        return Err(Failure::new(
            "no SQL statement found: the input is empty or contains only whitespace and comments",
            None,
        ));
    }
    check_chains(&tokens)?;

    if let Ok(statements) = parse_text(dialects[0], text) {
        return Ok(vec![Unit::Statements(statements)]);
    }

    let chunks = split(&tokens);
    let mut bounds = Vec::with_capacity(chunks.len() * 2);
    for chunk in &chunks {
        bounds.push(chunk.start);
        bounds.push(chunk.end);
    }
    let offsets = byte_offsets(text, &bounds);

    let mut units = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        let significant: Vec<&TokenWithSpan> = tokens
            .get(chunk.tokens.clone())
            .unwrap_or_default()
            .iter()
            .filter(|t| is_significant(&t.token))
            .collect();
        if significant.is_empty() {
            continue;
        }
        let piece = match (offsets.get(2 * i), offsets.get(2 * i + 1)) {
            (Some(&from), Some(&to)) => text.get(from..to).unwrap_or_default(),
            _ => "",
        };
        units.push(parse_chunk(piece, chunk, &significant, &dialects)?);
    }
    Ok(units)
}

fn parse_chunk(
    piece: &str,
    chunk: &Chunk,
    significant: &[&TokenWithSpan],
    dialects: &[&dyn Dialect; 3],
) -> Result<Unit, Failure> {
    let first_error = match parse_text(dialects[0], piece) {
        Ok(statements) => return Ok(Unit::Statements(statements)),
        Err(e) => e,
    };
    for dialect in dialects.iter().skip(1) {
        if let Ok(statements) = parse_text(*dialect, piece) {
            return Ok(Unit::Statements(statements));
        }
    }
    if let Some(unit) = parse_multi_insert(significant, dialects) {
        return Ok(unit);
    }
    for repaired in repairs(significant) {
        if let Some(statements) = dialects.iter().find_map(|d| parse_tokens(*d, repaired.clone())) {
            return Ok(Unit::Statements(statements));
        }
    }
    if is_skippable(significant) {
        return Ok(Unit::Statements(Vec::new()));
    }

    let (message, relative) = split_location(&first_error);
    let at = match relative {
        Some(rel) => Some(absolute(chunk.start, rel)),
        // The parser reports no position for an unexpected end of input:
        // point just past the statement's last token instead.
        None => significant
            .last()
            .filter(|_| !matches!(first_error, ParserError::RecursionLimitExceeded))
            .map(|t| t.span.end)
            .or_else(|| significant.first().map(|t| t.span.start)),
    };
    Err(Failure::new(message, at))
}

/// A statement starting with a [`SKIPPABLE`] keyword, unless a later line
/// starts with a data statement keyword: then a `;` is probably missing (or
/// swallowed by a `#` comment) and skipping would hide that statement.
fn is_skippable(significant: &[&TokenWithSpan]) -> bool {
    let Some(Token::Word(first)) = significant.first().map(|t| &t.token) else {
        return false;
    };
    if first.quote_style.is_some() || !SKIPPABLE.iter().any(|k| first.value.eq_ignore_ascii_case(k)) {
        return false;
    }
    let mut line = significant.first().map_or(0, |t| t.span.start.line);
    for t in significant.iter().skip(1) {
        let starts_line = t.span.start.line > line;
        line = t.span.start.line;
        if starts_line
            && let Token::Word(w) = &t.token
            && matches!(
                w.keyword,
                Keyword::INSERT
                    | Keyword::UPDATE
                    | Keyword::DELETE
                    | Keyword::MERGE
                    | Keyword::CREATE
                    | Keyword::REPLACE
                    | Keyword::SELECT
                    | Keyword::WITH
                    | Keyword::FROM
                    | Keyword::TRUNCATE
                    | Keyword::DROP
                    | Keyword::ALTER
                    | Keyword::LOAD
                    | Keyword::RENAME
                    | Keyword::USE
            )
        {
            return false;
        }
    }
    true
}

fn parse_text(dialect: &dyn Dialect, text: &str) -> Result<Vec<Statement>, ParserError> {
    let statements = Parser::new(dialect).try_with_sql(text)?.parse_statements()?;
    match keyword_as_table(&statements) {
        Some(keyword) => Err(ParserError::ParserError(format!("Expected: a table name, found: {keyword}"))),
        None => Ok(statements),
    }
}

fn parse_tokens(dialect: &dyn Dialect, tokens: Vec<TokenWithSpan>) -> Option<Vec<Statement>> {
    let statements = Parser::new(dialect).with_tokens_with_locations(tokens).parse_statements().ok()?;
    keyword_as_table(&statements).is_none().then_some(statements)
}

/// Clause keywords no warehouse takes as an unquoted table name. Some dialects' parsers accept
/// them there (Hive reads `select * from where` as a table named `where`), which would turn a
/// typo into lineage; such a parse is treated as a failure so the next dialect, or the error,
/// takes over.
const CLAUSE_KEYWORDS: &[&str] = &[
    "WHERE", "FROM", "SELECT", "GROUP", "ORDER", "HAVING", "LIMIT", "JOIN", "ON", "UNION", "INSERT", "INTO",
    "VALUES", "SET", "AND", "OR", "AS", "BY",
];

/// The first unquoted clause keyword used as a table name in `statements`.
fn keyword_as_table(statements: &[Statement]) -> Option<String> {
    statements.iter().find_map(|statement| {
        let mut found = None;
        let _ = sqlparser::ast::visit_relations(statement, |name| {
            found = name.0.iter().find_map(|part| {
                part.as_ident()
                    .filter(|ident| ident.quote_style.is_none())
                    .filter(|ident| CLAUSE_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&ident.value)))
                    .map(|ident| ident.value.clone())
            });
            if found.is_some() {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        });
        found
    })
}

fn tokenize_any(text: &str, dialects: &[&dyn Dialect; 3]) -> Result<Vec<TokenWithSpan>, Failure> {
    let mut first_error = None;
    for dialect in dialects {
        match Tokenizer::new(*dialect, text).with_unescape(false).tokenize_with_location() {
            Ok(tokens) => return Ok(tokens),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(match first_error {
        Some(e) => {
            let at = (e.location.line > 0).then_some(e.location);
            Failure::new(e.message, at)
        }
        None => Failure::new("the SQL could not be tokenized", None),
    })
}

fn is_significant(token: &Token) -> bool {
    !matches!(token, Token::Whitespace(_) | Token::EOF | Token::SemiColon)
}

/// One `;`-separated piece: the text range and the token range.
#[derive(Debug)]
struct Chunk {
    start: Location,
    end: Location,
    tokens: std::ops::Range<usize>,
}

fn split(tokens: &[TokenWithSpan]) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = Location::new(1, 1);
    let mut first = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.token == Token::SemiColon {
            chunks.push(Chunk { start, end: t.span.start, tokens: first..i });
            start = t.span.end;
            first = i + 1;
        }
    }
    chunks.push(Chunk { start, end: Location::new(u64::MAX, u64::MAX), tokens: first..tokens.len() });
    chunks
}

/// Byte offsets of ascending `locations` (as the tokenizer counts them: lines
/// split at `\n`, columns in chars) in one pass over `text`.
pub(super) fn byte_offsets(text: &str, locations: &[Location]) -> Vec<usize> {
    let mut out = Vec::with_capacity(locations.len());
    let mut chars = text.char_indices().peekable();
    let (mut line, mut column) = (1u64, 1u64);
    for loc in locations {
        while (line, column) < (loc.line, loc.column) {
            match chars.next() {
                Some((_, '\n')) => {
                    line += 1;
                    column = 1;
                }
                Some(_) => column += 1,
                None => break,
            }
        }
        out.push(chars.peek().map_or(text.len(), |(b, _)| *b));
    }
    out
}

/// Turns a location inside a chunk into one in the whole text.
fn absolute(chunk_start: Location, rel: Location) -> Location {
    if rel.line <= 1 {
        Location::new(chunk_start.line, chunk_start.column.saturating_add(rel.column.saturating_sub(1)))
    } else {
        Location::new(chunk_start.line.saturating_add(rel.line - 1), rel.column)
    }
}

/// Splits sqlparser's `"... at Line: L, Column: C"` into message and location.
fn split_location(error: &ParserError) -> (String, Option<Location>) {
    let message = match error {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.as_str(),
        ParserError::RecursionLimitExceeded => {
            return ("the statement is nested too deeply (parser recursion limit exceeded)".to_owned(), None);
        }
    };
    let marker = " at Line: ";
    if let Some(idx) = message.rfind(marker)
        && let (Some(head), Some(tail)) = (message.get(..idx), message.get(idx + marker.len()..))
        && let Some((line, column)) = tail.split_once(", Column: ")
        && let (Ok(line), Ok(column)) = (line.trim().parse::<u64>(), column.trim().parse::<u64>())
    {
        let at = (line > 0).then(|| Location::new(line, column));
        return (head.to_owned(), at);
    }
    (message.to_owned(), None)
}

/// Hive's multi-insert `[WITH ...] FROM src INSERT ... SELECT ...
/// [INSERT ...]`: parsed as `[WITH ...] SELECT * FROM src` plus one
/// `[WITH ...] INSERT ...` per insert, so CTEs stay in scope everywhere.
fn parse_multi_insert(significant: &[&TokenWithSpan], dialects: &[&dyn Dialect; 3]) -> Option<Unit> {
    let top = top_level(significant);
    let from = top.iter().copied().find(|&i| keyword(significant.get(i)) == Some(Keyword::FROM))?;
    if from > 0 && keyword(significant.first()) != Some(Keyword::WITH) {
        return None;
    }
    let starts: Vec<usize> = top
        .into_iter()
        .filter(|&i| i > from && keyword(significant.get(i)) == Some(Keyword::INSERT))
        .collect();
    let first_insert = *starts.first()?;
    let with = owned(significant.get(..from)?);

    let mut source_tokens = with.clone();
    source_tokens.push(TokenWithSpan::wrap(Token::make_keyword("SELECT")));
    source_tokens.push(TokenWithSpan::wrap(Token::Mul));
    source_tokens.extend(owned(significant.get(from..first_insert)?));
    let source = dialects.iter().find_map(|d| parse_tokens(*d, source_tokens.clone()))?;

    let mut inserts = Vec::new();
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(significant.len());
        let mut piece = with.clone();
        piece.extend(owned(significant.get(start..end)?));
        inserts.extend(dialects.iter().find_map(|d| parse_tokens(*d, piece.clone()))?);
    }
    Some(Unit::MultiInsert { source, inserts })
}

fn keyword(token: Option<&&TokenWithSpan>) -> Option<Keyword> {
    match token.map(|t| &t.token) {
        Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    }
}

fn owned(tokens: &[&TokenWithSpan]) -> Vec<TokenWithSpan> {
    tokens.iter().map(|t| (*t).clone()).collect()
}

/// Indices of the tokens outside any parentheses.
fn top_level(tokens: &[&TokenWithSpan]) -> Vec<usize> {
    let mut depth = 0usize;
    let mut indices = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match t.token {
            Token::LParen => depth = depth.saturating_add(1),
            Token::RParen => depth = depth.saturating_sub(1),
            _ if depth == 0 => indices.push(i),
            _ => {}
        }
    }
    indices
}

/// Rewrites of statements sqlparser rejects but whose lineage is clear,
/// tried when no dialect parses the statement as written.
fn repairs(significant: &[&TokenWithSpan]) -> Vec<Vec<TokenWithSpan>> {
    [
        insert_without_extras(significant),
        update_commas_as_joins(significant),
        create_head_and_source(significant),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Doris `INSERT INTO t [PARTITION (...)] WITH LABEL l ...` and Hive
/// `INSERT OVERWRITE TABLE t PARTITION (...) IF NOT EXISTS ...`: drops the
/// label and the condition, which do not change the lineage.
fn insert_without_extras(significant: &[&TokenWithSpan]) -> Option<Vec<TokenWithSpan>> {
    if keyword(significant.first()) != Some(Keyword::INSERT) {
        return None;
    }
    let top = top_level(significant);
    let is_label = |i: usize| {
        keyword(significant.get(i)) == Some(Keyword::WITH)
            && matches!(
                significant.get(i + 1).map(|t| &t.token),
                Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("LABEL")
            )
    };
    let is_if_not_exists = |i: usize| {
        keyword(significant.get(i)) == Some(Keyword::IF)
            && keyword(significant.get(i + 1)) == Some(Keyword::NOT)
            && keyword(significant.get(i + 2)) == Some(Keyword::EXISTS)
    };
    // Both extras are three tokens long; only the first query keyword
    // bounds the search so that nothing inside the query is touched.
    let query = top
        .iter()
        .copied()
        .find(|&i| matches!(keyword(significant.get(i)), Some(Keyword::SELECT | Keyword::VALUES)))
        .unwrap_or(significant.len());
    let drop: Vec<usize> =
        top.into_iter().filter(|&i| i < query && (is_label(i) || is_if_not_exists(i))).collect();
    if drop.is_empty() {
        return None;
    }
    Some(
        significant
            .iter()
            .enumerate()
            .filter(|(i, _)| !drop.iter().any(|&d| (d..d + 3).contains(i)))
            .map(|(_, t)| (*t).clone())
            .collect(),
    )
}

/// MySQL `UPDATE t1, t2 SET ...`: the comma is a cross join.
fn update_commas_as_joins(significant: &[&TokenWithSpan]) -> Option<Vec<TokenWithSpan>> {
    if keyword(significant.first()) != Some(Keyword::UPDATE) {
        return None;
    }
    let top = top_level(significant);
    let set = top.iter().copied().find(|&i| keyword(significant.get(i)) == Some(Keyword::SET))?;
    let commas: Vec<usize> = top
        .into_iter()
        .take_while(|&i| i < set)
        .filter(|&i| significant.get(i).is_some_and(|t| t.token == Token::Comma))
        .collect();
    if commas.is_empty() {
        return None;
    }
    let mut tokens = Vec::with_capacity(significant.len() + commas.len());
    for (i, t) in significant.iter().enumerate() {
        if commas.contains(&i) {
            tokens.push(TokenWithSpan::wrap(Token::make_keyword("CROSS")));
            tokens.push(TokenWithSpan::wrap(Token::make_keyword("JOIN")));
        } else {
            tokens.push((*t).clone());
        }
    }
    Some(tokens)
}

/// `CREATE [...] TABLE|VIEW [IF NOT EXISTS] name <options> [AS query]` with
/// options sqlparser does not know (Doris `ENGINE=OLAP DUPLICATE KEY(...)
/// DISTRIBUTED BY ...`, Hive `COMMENT` before a view's `AS`, ...): keeps the
/// head, then `AS query` or `LIKE source`, and drops the options.
fn create_head_and_source(significant: &[&TokenWithSpan]) -> Option<Vec<TokenWithSpan>> {
    if keyword(significant.first()) != Some(Keyword::CREATE) {
        return None;
    }
    let mut i = 1;
    while !matches!(keyword(significant.get(i)), Some(Keyword::TABLE | Keyword::VIEW)) {
        keyword(significant.get(i))?;
        i += 1;
    }
    let is_table = keyword(significant.get(i)) == Some(Keyword::TABLE);
    i += 1;
    if keyword(significant.get(i)) == Some(Keyword::IF) {
        i += 3;
    }
    let name_end = name_end(significant, i)?;
    let mut tokens = owned(significant.get(..name_end)?);
    let rest = significant.get(name_end..)?;
    let top = top_level(rest);
    let query = top.iter().copied().find(|&k| {
        keyword(rest.get(k)) == Some(Keyword::AS)
            && (matches!(keyword(rest.get(k + 1)), Some(Keyword::SELECT | Keyword::WITH | Keyword::FROM))
                || rest.get(k + 1).is_some_and(|t| t.token == Token::LParen))
    });
    let like = top.iter().copied().find(|&k| is_table && keyword(rest.get(k)) == Some(Keyword::LIKE));
    if let Some(k) = query {
        tokens.extend(owned(rest.get(k..)?));
    } else if let Some(k) = like {
        tokens.extend(owned(rest.get(k..name_end_or(rest, k + 1))?));
    }
    (tokens.len() < significant.len()).then_some(tokens)
}

/// End (exclusive) of a dotted name starting at `start`.
fn name_end(tokens: &[&TokenWithSpan], start: usize) -> Option<usize> {
    if !matches!(tokens.get(start).map(|t| &t.token), Some(Token::Word(_))) {
        return None;
    }
    let mut end = start + 1;
    while tokens.get(end).is_some_and(|t| t.token == Token::Period)
        && matches!(tokens.get(end + 1).map(|t| &t.token), Some(Token::Word(_)))
    {
        end += 2;
    }
    Some(end)
}

fn name_end_or(tokens: &[&TokenWithSpan], start: usize) -> usize {
    name_end(tokens, start).unwrap_or(start)
}

#[derive(Debug, Default)]
struct Level {
    run: usize,
    set_ops: usize,
    open_joins: usize,
}

/// Rejects statements whose syntax trees could be too deep to parse, walk
/// or drop; see [`MAX_CHAIN`] and [`MAX_OPEN_JOINS`]. The estimates are
/// conservative, summed along the current nesting path: every operator
/// since the last `,`, `WHEN`/`THEN`/`ELSE` or clause keyword, every set
/// operator, and every join still waiting for its `ON`/`USING`.
fn check_chains(tokens: &[TokenWithSpan]) -> Result<(), Failure> {
    let mut stack = vec![Level::default()];
    let (mut chain, mut joins) = (0usize, 0usize);
    let mut previous = None;
    for t in tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_))) {
        let word = match &t.token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
            _ => None,
        };
        // A clause keyword ends any expression at this level.
        if matches!(
            word,
            Some(
                Keyword::SELECT
                    | Keyword::FROM
                    | Keyword::JOIN
                    | Keyword::ON
                    | Keyword::USING
                    | Keyword::WHERE
                    | Keyword::GROUP
                    | Keyword::HAVING
                    | Keyword::QUALIFY
                    | Keyword::WINDOW
                    | Keyword::ORDER
                    | Keyword::LIMIT
                    | Keyword::SET
                    | Keyword::VALUES
            )
        ) && let Some(level) = stack.last_mut()
        {
            chain = chain.saturating_sub(level.run);
            level.run = 0;
        }
        match (&t.token, word) {
            (Token::SemiColon, _) => {
                stack.clear();
                stack.push(Level::default());
                (chain, joins) = (0, 0);
            }
            (Token::LParen, _) | (_, Some(Keyword::CASE)) => stack.push(Level::default()),
            (Token::RParen | Token::RBracket, _) | (_, Some(Keyword::END)) => {
                if stack.len() > 1
                    && let Some(level) = stack.pop()
                {
                    chain = chain.saturating_sub(level.run + level.set_ops);
                    joins = joins.saturating_sub(level.open_joins);
                }
            }
            (Token::Comma, _) | (_, Some(Keyword::WHEN | Keyword::THEN | Keyword::ELSE)) => {
                if let Some(level) = stack.last_mut() {
                    chain = chain.saturating_sub(level.run);
                    level.run = 0;
                }
            }
            (_, Some(Keyword::UNION | Keyword::EXCEPT | Keyword::INTERSECT | Keyword::MINUS)) => {
                if let Some(level) = stack.last_mut() {
                    level.set_ops += 1;
                    chain += 1;
                }
            }
            // sqlparser nests `a JOIN b JOIN c ... ON ... ON ...` through
            // recursion that its depth limit does not cover.
            (_, Some(Keyword::JOIN)) if !matches!(previous, Some(Keyword::CROSS | Keyword::NATURAL)) => {
                if let Some(level) = stack.last_mut() {
                    level.open_joins += 1;
                    joins += 1;
                }
            }
            (_, Some(Keyword::ON | Keyword::USING | Keyword::SELECT)) => {
                if let Some(level) = stack.last_mut() {
                    let closed = if word == Some(Keyword::SELECT) {
                        level.open_joins
                    } else {
                        level.open_joins.min(1)
                    };
                    level.open_joins -= closed;
                    joins = joins.saturating_sub(closed);
                }
            }
            (Token::LBracket, _) => {
                if let Some(level) = stack.last_mut() {
                    level.run += 1;
                    chain += 1;
                }
                stack.push(Level::default());
            }
            (token, keyword) if is_chain_link(token, keyword) => {
                if let Some(level) = stack.last_mut() {
                    level.run += 1;
                    chain += 1;
                }
            }
            _ => {}
        }
        previous = word;
        if chain > MAX_CHAIN || joins > MAX_OPEN_JOINS {
            return Err(Failure::new(
                format!(
                    "the statement is too complex to analyse (more than {MAX_CHAIN} chained \
                     operators or {MAX_OPEN_JOINS} joins without ON)"
                ),
                Some(t.span.start),
            ));
        }
    }
    Ok(())
}

fn is_chain_link(token: &Token, keyword: Option<Keyword>) -> bool {
    match token {
        Token::Word(_) => matches!(
            keyword,
            Some(
                Keyword::AND
                    | Keyword::OR
                    | Keyword::XOR
                    | Keyword::NOT
                    | Keyword::IS
                    | Keyword::IN
                    | Keyword::LIKE
                    | Keyword::ILIKE
                    | Keyword::RLIKE
                    | Keyword::REGEXP
                    | Keyword::SIMILAR
                    | Keyword::BETWEEN
                    | Keyword::DIV
                    | Keyword::COLLATE
                    | Keyword::AT
                    | Keyword::OVERLAPS
                    | Keyword::MEMBER
                    | Keyword::OPERATOR
            )
        ),
        Token::EOF
        | Token::Number(..)
        | Token::Char(_)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::TripleSingleQuotedString(_)
        | Token::TripleDoubleQuotedString(_)
        | Token::DollarQuotedString(_)
        | Token::SingleQuotedByteStringLiteral(_)
        | Token::DoubleQuotedByteStringLiteral(_)
        | Token::TripleSingleQuotedByteStringLiteral(_)
        | Token::TripleDoubleQuotedByteStringLiteral(_)
        | Token::SingleQuotedRawStringLiteral(_)
        | Token::DoubleQuotedRawStringLiteral(_)
        | Token::TripleSingleQuotedRawStringLiteral(_)
        | Token::TripleDoubleQuotedRawStringLiteral(_)
        | Token::NationalStringLiteral(_)
        | Token::QuoteDelimitedStringLiteral(_)
        | Token::NationalQuoteDelimitedStringLiteral(_)
        | Token::EscapedStringLiteral(_)
        | Token::UnicodeStringLiteral(_)
        | Token::HexStringLiteral(_)
        | Token::Comma
        | Token::Whitespace(_)
        | Token::LParen
        | Token::RParen
        | Token::LBrace
        | Token::RBrace
        | Token::RBracket
        | Token::Period
        | Token::SemiColon
        | Token::Placeholder(_) => false,
        _ => true,
    }
}
