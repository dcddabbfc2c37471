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
//! The bound sums, over every open bracket or `CASE` (a *frame*): one, the
//! logical operators (AND, OR, NOT) chained in it plus the longest chain of
//! other operators between them (since the last list boundary: a comma, a
//! `CASE` branch or a clause keyword of a query), and the set operations
//! and joins chained in it. Flat lists (`IN (…)`, select lists, `CASE`
//! branches) do not deepen the tree and cost nothing. Keywords that are
//! clause starts in a query but operators inside an expression (`IS
//! DISTINCT FROM`, `EXTRACT(… FROM …)`, `TIMESTAMP WITH TIME ZONE`, `WITHIN
//! GROUP`) are told apart by where they stand.
//!
//! Subqueries inside expressions (`(SELECT …)`, `IN (SELECT …)`, `EXISTS`)
//! have a limit of their own: DataFusion's planning time doubles with each
//! level of them (12 levels took 0.3 s, 16 took 4 s and 20 took a minute on
//! a debug build), so a deep one would run for hours rather than fail.
//! Derived tables (`FROM (SELECT …)`) and CTE bodies cost little and are not
//! limited so. Joins in one FROM clause have a limit too: planning them
//! grows with about the cube of their number (100 took 3 s, 200 took 30 s on
//! a debug build).

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
/// shape of statement this deep was run on a debug build with DataFusion's
/// recursion guards keeping [`super::GUARDED_STACK`] free.
pub const MAX_DEPTH: usize = 500;

/// One open bracket or `CASE`.
#[derive(Default)]
struct Frame {
    /// Closed by `END` rather than a bracket.
    case: bool,
    /// A query: a SELECT (or a leading WITH) was seen in it.
    query: bool,
    /// Significant tokens seen in it so far.
    tokens: usize,
    /// Logical operators chained since the last list boundary.
    logic: usize,
    /// Other operators since the last logical operator or boundary.
    chain: usize,
    /// The longest such chain since the last boundary.
    longest: usize,
    /// Tables joined in the current FROM clause.
    joins: usize,
    /// Set operations (UNION, …) chained in it.
    sets: usize,
    /// Between `FROM` and the next clause: commas join tables.
    in_from: bool,
    /// A subquery inside an expression.
    subquery: bool,
}

impl Frame {
    fn depth(&self) -> usize {
        1 + self.logic + self.chain.max(self.longest) + self.joins + self.sets
    }

    /// A list boundary: the next item starts a new expression.
    fn boundary(&mut self) {
        self.logic = 0;
        self.chain = 0;
        self.longest = 0;
    }
}

/// Refuses `sql` when it nests deeper than the bounds above. Text that does
/// not tokenize passes: the parser reports it, located.
pub fn check(sql: &str) -> Result<(), QueryError> {
    let dialect = GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize_with_location() else {
        return Ok(());
    };
    let significant: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut frames = vec![Frame::default()];
    let mut subqueries = 0;
    // Whether the last token put the next in a table position: a clause
    // FROM, JOIN, LATERAL, a comma in a FROM list, or AS (a CTE body).
    let mut table_position = false;
    for (i, TokenWithSpan { token, span }) in significant.iter().copied().enumerate() {
        let prev = i.checked_sub(1).map(|j| &significant[j].token);
        let next = significant.get(i + 1).map(|t| &t.token);
        let top = frames.len() - 1;
        let first_in_frame = frames[top].tokens == 0;
        frames[top].tokens += 1;
        let kind = classify(token, prev, next, &frames[top], first_in_frame);
        let after_table_position = std::mem::replace(
            &mut table_position,
            match (&kind, token) {
                (Kind::Boundary { from: Some(true) } | Kind::Join, _) => true,
                (Kind::Comma, _) => frames[top].in_from,
                (_, Token::Word(w)) => {
                    w.quote_style.is_none() && matches!(w.keyword, Keyword::LATERAL | Keyword::AS)
                }
                _ => false,
            },
        );
        match kind {
            Kind::Open { case } => {
                // A bracket that starts with SELECT/WITH is a subquery; one
                // in a table position (or a CTE body) is not counted.
                let table_position = after_table_position;
                let starts_query = matches!(next, Some(Token::Word(w))
                    if w.quote_style.is_none() && matches!(w.keyword, Keyword::SELECT | Keyword::WITH));
                let subquery = !case && starts_query && !table_position;
                subqueries += usize::from(subquery);
                frames.push(Frame {
                    case,
                    subquery,
                    ..Frame::default()
                });
            }
            Kind::Subscript => {
                frames[top].chain += 1;
                frames.push(Frame::default());
            }
            Kind::Close { end } => {
                // `END` closes a CASE only; a stray closer is the parser's to report.
                if frames.len() > 1 && (!end || frames[top].case) {
                    subqueries -= usize::from(frames[top].subquery);
                    frames.pop();
                }
            }
            Kind::StatementEnd => {
                frames.truncate(1);
                frames[0] = Frame::default();
                subqueries = 0;
            }
            Kind::Query => {
                let frame = &mut frames[top];
                frame.query = true;
                frame.boundary();
                frame.joins = 0;
                frame.in_from = false;
            }
            Kind::Boundary { from } => {
                let frame = &mut frames[top];
                frame.boundary();
                if let Some(from) = from {
                    frame.in_from = from;
                }
            }
            Kind::Comma => {
                let frame = &mut frames[top];
                frame.boundary();
                frame.joins += usize::from(frame.in_from);
            }
            Kind::Logic => {
                let frame = &mut frames[top];
                frame.logic += 1;
                frame.longest = frame.longest.max(frame.chain);
                frame.chain = 0;
            }
            Kind::Operator => frames[top].chain += 1,
            Kind::Join => frames[top].joins += 1,
            Kind::SetOperation => frames[top].sets += 1,
            Kind::Value => {}
        }
        let at = || Location {
            line: span.start.line,
            column: span.start.column,
            width: 1,
        };
        let too_deep = |message: String| {
            Err(QueryError::TooDeep {
                message,
                location: Some(at()),
            })
        };
        if frames.len() > MAX_NESTING + 1 {
            return too_deep(format!(
                "the statement nests more than {MAX_NESTING} levels of parentheses, CASE or subqueries"
            ));
        }
        if frames[frames.len() - 1].joins >= MAX_JOINS {
            return too_deep(format!(
                "the statement joins more than {MAX_JOINS} tables in one FROM clause \
                 (planning time grows with the cube of their number); join in steps with WITH clauses"
            ));
        }
        if subqueries > MAX_SUBQUERY_NESTING {
            return too_deep(format!(
                "the statement nests more than {MAX_SUBQUERY_NESTING} subqueries inside expressions \
                 (planning time doubles with each level); use WITH clauses or joins instead"
            ));
        }
        if frames.iter().map(Frame::depth).sum::<usize>() > MAX_DEPTH {
            return too_deep(format!(
                "the statement is nested too deeply: more than {MAX_DEPTH} operations on one path \
                 (a long chain of operators, AND/OR, joins or UNIONs); \
                 use IN (…) for long OR lists, or split it with a WITH clause"
            ));
        }
    }
    Ok(())
}

/// What a token does to the depth.
enum Kind {
    Open {
        case: bool,
    },
    /// `[` after a value: an index into it, one level deeper.
    Subscript,
    Close {
        end: bool,
    },
    StatementEnd,
    /// SELECT (or a WITH starting a frame): a query begins.
    Query,
    /// Ends an expression; `from` says whether a FROM list starts (Some(true))
    /// or ends (Some(false)).
    Boundary {
        from: Option<bool>,
    },
    Comma,
    /// AND, OR, NOT.
    Logic,
    /// Chains an expression one level deeper.
    Operator,
    /// Joins one more table.
    Join,
    /// Chains a set operation one level deeper.
    SetOperation,
    Value,
}

fn is_word(token: Option<&Token>, keyword: Keyword) -> bool {
    matches!(token, Some(Token::Word(w)) if w.quote_style.is_none() && w.keyword == keyword)
}

/// Whether a `[` after this token indexes into a value.
fn ends_value(token: Option<&Token>) -> bool {
    match token {
        Some(Token::Word(w)) => w.quote_style.is_some() || w.keyword == Keyword::NoKeyword,
        Some(Token::RParen | Token::RBracket | Token::Number(..)) => true,
        Some(t) => is_literal(t),
        None => false,
    }
}

fn classify(
    token: &Token,
    prev: Option<&Token>,
    next: Option<&Token>,
    frame: &Frame,
    first_in_frame: bool,
) -> Kind {
    let boundary = |from| Kind::Boundary { from };
    // In a query, a clause keyword ends the expression before it; inside an
    // expression the same word is part of it.
    let clause = |from| {
        if frame.query {
            boundary(from)
        } else {
            Kind::Value
        }
    };
    match token {
        Token::LBracket if ends_value(prev) => Kind::Subscript,
        Token::LParen | Token::LBracket | Token::LBrace => Kind::Open { case: false },
        Token::RParen | Token::RBracket | Token::RBrace => Kind::Close { end: false },
        Token::Comma => Kind::Comma,
        Token::SemiColon => Kind::StatementEnd,
        // `t.case`, `t.end`: a name after a dot.
        Token::Word(_) if matches!(prev, Some(Token::Period)) => Kind::Value,
        Token::Word(w) if w.quote_style.is_some() => Kind::Value,
        Token::Word(w) => match w.keyword {
            Keyword::CASE => Kind::Open { case: true },
            Keyword::END => Kind::Close { end: true },
            Keyword::SELECT => Kind::Query,
            Keyword::WITH if first_in_frame => Kind::Query,
            // IS DISTINCT FROM is an operator; so is FROM outside a query
            // (EXTRACT(… FROM …), SUBSTRING(… FROM …)).
            Keyword::FROM if frame.query && !is_word(prev, Keyword::DISTINCT) => {
                boundary(Some(true))
            }
            Keyword::FROM => Kind::Operator,
            Keyword::GROUP | Keyword::ORDER if is_word(next, Keyword::BY) => clause(Some(false)),
            Keyword::WHERE
            | Keyword::HAVING
            | Keyword::LIMIT
            | Keyword::OFFSET
            | Keyword::QUALIFY
            | Keyword::WINDOW => clause(Some(false)),
            Keyword::WHEN | Keyword::THEN | Keyword::ELSE if frame.case => boundary(None),
            Keyword::ON | Keyword::USING | Keyword::BY => boundary(None),
            Keyword::AND | Keyword::OR | Keyword::XOR | Keyword::NOT => Kind::Logic,
            Keyword::IS
            | Keyword::IN
            | Keyword::LIKE
            | Keyword::ILIKE
            | Keyword::BETWEEN
            | Keyword::SIMILAR
            | Keyword::COLLATE
            | Keyword::AT
            | Keyword::ESCAPE
            | Keyword::OVERLAPS
            | Keyword::REGEXP
            | Keyword::RLIKE
            | Keyword::MEMBER
            | Keyword::OPERATOR
            | Keyword::DIV => Kind::Operator,
            Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT => Kind::SetOperation,
            Keyword::JOIN => Kind::Join,
            _ => Kind::Value,
        },
        Token::EOF
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
            other => panic!(
                "expected TooDeep for {}…, got {other:?}",
                &sql[..sql.len().min(60)]
            ),
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

    /// What reports write every day passes.
    #[test]
    fn ordinary_report_sql_passes() {
        for sql in [
            "WITH w AS (SELECT owner_id, sum(amount) FILTER (WHERE stage = 'Won') AS won FROM deals GROUP BY owner_id ORDER BY 2 DESC) \
             SELECT r.name, w.won, rank() OVER (PARTITION BY r.team ORDER BY w.won DESC) FROM w JOIN reps r ON r.rep_id = w.owner_id",
            "SELECT EXTRACT(YEAR FROM created_date), SUBSTRING(name FROM 1 FOR 3), a IS DISTINCT FROM b FROM deals",
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount), CAST(x AS TIMESTAMP WITH TIME ZONE) FROM deals",
            "SELECT make_array(1, 2)[1], drivers[1]['feature'], t.case, t.end FROM t",
            "SELECT x::int::text, j->>'a', j->'b'->'c' FROM t",
        ] {
            check(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        // Many AND-ed comparisons: the comparisons are not chained.
        let conditions: Vec<String> = (0..400).map(|i| format!("a{i} = {i}")).collect();
        check(&format!(
            "SELECT 1 FROM t WHERE {}",
            conditions.join(" AND ")
        ))
        .unwrap();
        // Joins in separate branches of a UNION each have their own budget.
        let branch = "SELECT 1 FROM a JOIN b ON true JOIN c ON true JOIN d ON true";
        check(&vec![branch; 30].join(" UNION ALL ")).unwrap();
        // DISTINCT FROM in a long select list does not join tables.
        let columns: Vec<String> = (0..80).map(|i| format!("c{i}")).collect();
        check(&format!(
            "SELECT a IS DISTINCT FROM b, {} FROM t",
            columns.join(", ")
        ))
        .unwrap();
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
            vec!["a = 1"; 600].join(" OR ")
        ));
        too_deep(&format!("SELECT {}true", "NOT ".repeat(600)));
        too_deep(&vec!["SELECT 1"; 600].join(" UNION ALL "));
    }

    /// Words that are clause keywords elsewhere do not reset a chain inside
    /// an expression, and postfix indexing counts.
    #[test]
    fn chains_through_clause_words_and_subscripts_are_refused() {
        let segment = format!("{}NULL::TIMESTAMP WITH TIME ZONE", "1+".repeat(100));
        too_deep(&format!(
            "SELECT {}",
            vec![segment.as_str(); 20].join(" + ")
        ));
        too_deep(&format!(
            "SELECT {}",
            vec!["true IS DISTINCT FROM true"; 300].join(" IS DISTINCT FROM ")
        ));
        too_deep(&format!(
            "SELECT named_struct('a', 1){}",
            "['a']".repeat(600)
        ));
        too_deep(&format!(
            "SELECT {}",
            vec!["a OVERLAPS b"; 300].join(" OVERLAPS ")
        ));
        let nested = |n: usize| {
            format!(
                "SELECT 1 IS DISTINCT FROM {}1{}",
                "(SELECT 1 IS DISTINCT FROM ".repeat(n),
                ")".repeat(n)
            )
        };
        too_deep(&nested(MAX_SUBQUERY_NESTING + 1));
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
        // Derived tables, CTE bodies and siblings are not nested subqueries.
        let derived = |n: usize| {
            format!(
                "SELECT * FROM {}t{}",
                "(SELECT * FROM ".repeat(n),
                ") x".repeat(n)
            )
        };
        check(&derived(40)).unwrap();
        let ctes: Vec<String> = (0..30)
            .map(|i| format!("c{i} AS (SELECT {i} AS x)"))
            .collect();
        check(&format!("WITH {} SELECT * FROM c0", ctes.join(", "))).unwrap();
        let siblings: Vec<String> = (0..50).map(|i| format!("(SELECT {i})")).collect();
        check(&format!("SELECT {}", siblings.join(", "))).unwrap();
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
    fn statements_and_quoted_words_do_not_add_up() {
        let statements = vec![chain(400, "+"); 5].join(";\n");
        check(&statements).unwrap();
        // A quoted identifier named like a keyword is a name.
        check(&format!("SELECT {}", vec!["\"case\""; 200].join(", "))).unwrap();
    }
}
