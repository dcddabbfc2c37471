//! A bound on how deeply a statement nests, checked on its tokens before it
//! is parsed.
//!
//! A statement's syntax tree is as deep as its longest chain of operators
//! (`1+1+…+1` is a left-deep tree of binary expressions), plus its nesting of
//! parentheses, `CASE` and subqueries. The parser, the planner and the
//! printers of DataFusion walk that tree recursively, so a deep enough
//! statement overflows the thread's stack and aborts the process — no error,
//! no cleanup, and under `watch`/`serve` the server dies with it. Checking
//! the depth on the parsed tree would itself recurse (and dropping that tree
//! does too), so the check runs on the flat token list instead: it computes
//! an upper bound of the tree's depth in one loop and refuses the statement,
//! pointing at the token where the bound was crossed.
//!
//! The bound counts, for every open bracket or `CASE` (a *frame*), the
//! operators chained since the last list boundary (a comma, `WHEN`, `THEN`,
//! `ELSE`, or a clause keyword such as `FROM` or `WHERE`) and the set
//! operations and joins chained in it. Flat lists (`IN (…)`, select lists,
//! `CASE` branches) do not deepen the tree and cost nothing.
//!
//! Subqueries inside expressions (`(SELECT …)`, `IN (SELECT …)`, `EXISTS`)
//! have a limit of their own: DataFusion's planning time doubles with each
//! level of them (12 levels took 0.3 s, 16 took 4 s and 20 took a minute on
//! a debug build), so a deep one would run for hours rather than fail.
//! Derived tables (`FROM (SELECT …)`) cost little and are not limited so.
//! Joins in one FROM clause have a limit too: planning them grows with about
//! the cube of their number (100 took 3 s, 200 took 30 s on a debug build).

use super::{Location, QueryError};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// Most brackets, `CASE` expressions and subqueries open at once.
pub const MAX_NESTING: usize = 64;

/// Most subqueries inside expressions open at once.
pub const MAX_SUBQUERY_NESTING: usize = 10;

/// Most tables joined in one FROM clause.
pub const MAX_JOINS: usize = 64;

/// Most nested operations a statement may have on its deepest path. Every
/// shape of statement this deep was run on a debug build within an 8 MiB
/// stack (the size of every thread that plans or runs SQL here).
pub const MAX_DEPTH: usize = 500;

/// One open bracket or `CASE`.
#[derive(Default)]
struct Frame {
    /// Closed by `END` rather than a bracket.
    case: bool,
    /// Operators since the last list boundary.
    chain: usize,
    /// Tables joined in this frame's FROM clause.
    joins: usize,
    /// Set operations (UNION, …) in this frame.
    sets: usize,
    /// Between `FROM` and the next clause: commas join tables.
    in_from: bool,
    /// A subquery inside an expression.
    subquery: bool,
}

impl Frame {
    fn depth(&self) -> usize {
        1 + self.chain + self.joins + self.sets
    }
}

/// Refuses `sql` when it nests deeper than [`MAX_NESTING`] or [`MAX_DEPTH`].
/// Text that does not tokenize passes: the parser reports it, located.
pub fn check(sql: &str) -> Result<(), QueryError> {
    let dialect = GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize_with_location() else {
        return Ok(());
    };
    let mut frames = vec![Frame::default()];
    // The sum of the frames' depths, kept up to date.
    let mut depth = 1;
    let mut subqueries = 0;
    // Whether the last token (not counting whitespace) names a table
    // position (FROM, JOIN, LATERAL or a comma in a FROM list), and whether
    // it opened a bracket (then `SELECT` makes the bracket a subquery).
    let mut after_table_position = false;
    let mut opened: Option<bool> = None;
    for TokenWithSpan { token, span } in &tokens {
        if matches!(token, Token::Whitespace(_)) {
            continue;
        }
        let top = frames.len() - 1;
        let derived = opened.take();
        let kind = classify(token);
        if let (Some(false), Kind::Boundary { select: true, .. }) = (derived, &kind) {
            frames[top].subquery = true;
            subqueries += 1;
        }
        let table_position = match (token, &kind) {
            (Token::Word(w), _) => {
                w.quote_style.is_none()
                    && matches!(w.keyword, Keyword::FROM | Keyword::JOIN | Keyword::LATERAL)
            }
            (_, Kind::Comma) => frames[top].in_from,
            _ => false,
        };
        match kind {
            Kind::Open { case } => {
                frames.push(Frame {
                    case,
                    ..Frame::default()
                });
                depth += 1;
                if !case {
                    opened = Some(after_table_position);
                }
            }
            Kind::Close { end } => {
                // `END` closes a CASE only; a stray closer is the parser's to report.
                if frames.len() > 1 && (!end || frames[top].case) {
                    depth -= frames[top].depth();
                    subqueries -= usize::from(frames[top].subquery);
                    frames.pop();
                }
            }
            Kind::Boundary {
                from, statement, ..
            } => {
                if statement {
                    frames.truncate(1);
                    frames[0] = Frame::default();
                    depth = 1;
                    subqueries = 0;
                    after_table_position = false;
                    continue;
                }
                let frame = &mut frames[top];
                depth -= frame.chain;
                frame.chain = 0;
                if let Some(from) = from {
                    frame.in_from = from;
                }
            }
            Kind::Comma => {
                let frame = &mut frames[top];
                depth -= frame.chain;
                frame.chain = 0;
                if frame.in_from {
                    frame.joins += 1;
                    depth += 1;
                }
            }
            Kind::Operator => {
                frames[top].chain += 1;
                depth += 1;
            }
            Kind::Join => {
                frames[top].joins += 1;
                depth += 1;
            }
            Kind::SetOperation => {
                frames[top].sets += 1;
                depth += 1;
            }
            Kind::Value => {}
        }
        after_table_position = table_position;
        let at = || Location {
            line: span.start.line,
            column: span.start.column,
            width: 1,
        };
        if frames.len() > MAX_NESTING + 1 {
            return Err(QueryError::TooDeep {
                message: format!(
                    "the statement nests more than {MAX_NESTING} levels of parentheses, CASE or subqueries"
                ),
                location: Some(at()),
            });
        }
        if frames[frames.len() - 1].joins >= MAX_JOINS {
            return Err(QueryError::TooDeep {
                message: format!(
                    "the statement joins more than {MAX_JOINS} tables in one FROM clause \
                     (planning time grows with the cube of their number); join in steps with WITH clauses"
                ),
                location: Some(at()),
            });
        }
        if subqueries > MAX_SUBQUERY_NESTING {
            return Err(QueryError::TooDeep {
                message: format!(
                    "the statement nests more than {MAX_SUBQUERY_NESTING} subqueries inside expressions \
                     (planning time doubles with each level); use WITH clauses or joins instead"
                ),
                location: Some(at()),
            });
        }
        if depth > MAX_DEPTH {
            return Err(QueryError::TooDeep {
                message: format!(
                    "the statement is nested too deeply: more than {MAX_DEPTH} operations on one path \
                     (a long chain of operators, AND/OR, joins or UNIONs); \
                     use IN (…) for long OR lists, or split it with a WITH clause"
                ),
                location: Some(at()),
            });
        }
    }
    Ok(())
}

/// What a token does to the depth.
enum Kind {
    Open {
        case: bool,
    },
    Close {
        end: bool,
    },
    /// Ends an expression; `from` says whether a FROM list starts (Some(true))
    /// or ends (Some(false)); `statement` ends the whole statement; `select`
    /// starts a query (SELECT or WITH).
    Boundary {
        from: Option<bool>,
        statement: bool,
        select: bool,
    },
    Comma,
    /// Chains an expression one level deeper.
    Operator,
    /// Joins one more table.
    Join,
    /// Chains a set operation one level deeper.
    SetOperation,
    Value,
}

fn classify(token: &Token) -> Kind {
    let boundary = |from| Kind::Boundary {
        from,
        statement: false,
        select: false,
    };
    match token {
        Token::LParen | Token::LBracket | Token::LBrace => Kind::Open { case: false },
        Token::RParen | Token::RBracket | Token::RBrace => Kind::Close { end: false },
        Token::Comma => Kind::Comma,
        Token::SemiColon => Kind::Boundary {
            from: None,
            statement: true,
            select: false,
        },
        Token::Word(w) => match w.keyword {
            Keyword::CASE if w.quote_style.is_none() => Kind::Open { case: true },
            Keyword::END if w.quote_style.is_none() => Kind::Close { end: true },
            _ if w.quote_style.is_some() => Kind::Value,
            Keyword::FROM => boundary(Some(true)),
            Keyword::SELECT | Keyword::WITH => Kind::Boundary {
                from: Some(false),
                statement: false,
                select: true,
            },
            Keyword::WHEN
            | Keyword::THEN
            | Keyword::ELSE
            | Keyword::WHERE
            | Keyword::GROUP
            | Keyword::HAVING
            | Keyword::ORDER
            | Keyword::LIMIT
            | Keyword::OFFSET
            | Keyword::QUALIFY
            | Keyword::WINDOW => boundary(Some(false)),
            Keyword::ON | Keyword::USING | Keyword::BY => boundary(None),
            Keyword::AND
            | Keyword::OR
            | Keyword::XOR
            | Keyword::NOT
            | Keyword::IS
            | Keyword::IN
            | Keyword::LIKE
            | Keyword::ILIKE
            | Keyword::BETWEEN
            | Keyword::SIMILAR
            | Keyword::COLLATE
            | Keyword::AT
            | Keyword::ESCAPE => Kind::Operator,
            Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT => Kind::SetOperation,
            Keyword::JOIN => Kind::Join,
            _ => Kind::Value,
        },
        Token::Whitespace(_)
        | Token::EOF
        | Token::Number(..)
        | Token::Char(_)
        | Token::Period
        | Token::Colon
        | Token::Placeholder(_)
        | Token::Question => Kind::Value,
        t if is_literal(t) => Kind::Value,
        // Every other symbol is an operator of some dialect.
        _ => Kind::Operator,
    }
}

fn is_literal(token: &Token) -> bool {
    matches!(
        token,
        Token::SingleQuotedString(_)
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
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize, op: &str) -> String {
        format!("SELECT {}", vec!["1"; n].join(op))
    }

    fn too_deep(sql: &str) -> Location {
        match check(sql) {
            Err(QueryError::TooDeep { location, .. }) => location.expect("located"),
            other => panic!("expected TooDeep for {}…, got {other:?}", &sql[..40]),
        }
    }

    #[test]
    fn flat_lists_cost_nothing() {
        let values: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
        check(&format!(
            "SELECT * FROM t WHERE x IN ({})",
            values.join(",")
        ))
        .unwrap();
        let columns: Vec<String> = (0..2_000).map(|i| format!("a + {i} AS c{i}")).collect();
        check(&format!("SELECT {} FROM t", columns.join(", "))).unwrap();
        let branches: Vec<String> = (0..2_000)
            .map(|i| format!("WHEN x = {i} THEN {i}"))
            .collect();
        check(&format!("SELECT CASE {} END FROM t", branches.join(" "))).unwrap();
        check(&chain(MAX_DEPTH - 1, "+")).unwrap();
    }

    #[test]
    fn chains_are_refused_where_they_cross_the_bound() {
        let sql = chain(5_000, "+");
        let at = too_deep(&sql);
        assert_eq!(at.line, 1);
        // "SELECT " then "1+" per term: the operator that crosses the bound.
        assert_eq!(at.column as usize, 7 + 2 * MAX_DEPTH);
        too_deep(&format!(
            "SELECT count(*) FROM t WHERE {}",
            vec!["a = 1"; 400].join(" OR ")
        ));
        too_deep(&vec!["SELECT 1"; 600].join(" UNION ALL "));
    }

    #[test]
    fn joins_in_one_from_clause_are_limited() {
        let joins = |n: usize| {
            format!(
                "SELECT * FROM t0 {}",
                (1..n)
                    .map(|i| format!(" JOIN t{i} ON true"))
                    .collect::<String>()
            )
        };
        let commas = |n: usize| {
            format!(
                "SELECT * FROM {} WHERE a = 1",
                (0..n)
                    .map(|i| format!("t{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        check(&joins(MAX_JOINS)).unwrap();
        check(&commas(MAX_JOINS)).unwrap();
        too_deep(&joins(MAX_JOINS + 1));
        too_deep(&commas(MAX_JOINS + 1));
        // Joins in separate subqueries each have their own budget.
        let two = format!("SELECT * FROM ({}) a, ({}) b", joins(40), joins(40));
        check(&two).unwrap();
    }

    #[test]
    fn nesting_is_refused_past_its_limit() {
        let n = MAX_NESTING + 1;
        too_deep(&format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n)));
        too_deep(&format!(
            "SELECT {}1{}",
            "CASE WHEN true THEN ".repeat(n),
            " END".repeat(n)
        ));
        let n = MAX_NESTING;
        check(&format!(
            "SELECT {}1{}",
            "(".repeat(n - 1),
            ")".repeat(n - 1)
        ))
        .unwrap();
    }

    #[test]
    fn subqueries_in_expressions_have_their_own_limit() {
        let scalar = |n: usize| format!("SELECT {}1{}", "(SELECT ".repeat(n), ")".repeat(n));
        check(&scalar(MAX_SUBQUERY_NESTING)).unwrap();
        too_deep(&scalar(MAX_SUBQUERY_NESTING + 1));
        let within = |n: usize| {
            format!(
                "SELECT 1 FROM t WHERE a IN {}(SELECT a FROM t){}",
                "(SELECT a FROM t WHERE a IN ".repeat(n),
                ")".repeat(n)
            )
        };
        check(&within(MAX_SUBQUERY_NESTING - 1)).unwrap();
        too_deep(&within(MAX_SUBQUERY_NESTING + 1));
        // Derived tables and siblings are not nested subqueries.
        let derived = |n: usize| {
            format!(
                "SELECT * FROM {}t{}",
                "(SELECT * FROM ".repeat(n),
                ") x".repeat(n)
            )
        };
        check(&derived(40)).unwrap();
        let siblings: Vec<String> = (0..50).map(|i| format!("(SELECT {i})")).collect();
        check(&format!("SELECT {}", siblings.join(", "))).unwrap();
    }

    #[test]
    fn statements_and_quoted_words_do_not_add_up() {
        let statements = vec![chain(400, "+"); 5].join(";\n");
        check(&statements).unwrap();
        // A quoted identifier named like a keyword is a name.
        check(&format!("SELECT {}", vec!["\"case\""; 200].join(", "))).unwrap();
    }
}
