//! What the other crates share and would otherwise each write again:
//! writing files atomically ([`fs`]) and formatting numbers the way the
//! reports show them ([`numbers`]). It depends on nothing of revintel's.

pub mod fs;
pub mod numbers;
