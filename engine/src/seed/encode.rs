//! CSV rows of the five tables, and the one way this module writes ids and money.
//!
//! Rows are encoded into in-memory `csv::Writer<Vec<u8>>`s (one per chunk of
//! deals, so workers never share a writer); the csv crate does the quoting.
//! Ids, dates and amounts are formatted into stack buffers instead of with
//! `format!`, because a million deals make some five million history rows and
//! allocation per field is what showed up when profiling.

use super::calendar::Calendar;
use super::catalogue::PRODUCTS;
use super::deals::Deal;
use super::lifecycle::HistoryRow;
use super::params::{DEAL_TYPES, LEAD_SOURCES};
use super::world::{World, SEGMENTS, TEAMS};

/// A row sink for one table.
pub(crate) type RowWriter = csv::Writer<Vec<u8>>;

/// Headers of the five tables, in file order.
pub(crate) const REPS_HEADER: [&str; 6] =
    ["rep_id", "name", "manager", "team", "start_date", "quota"];
pub(crate) const ACCOUNTS_HEADER: [&str; 8] = [
    "account_id",
    "name",
    "sector",
    "employees",
    "revenue",
    "region",
    "segment",
    "parent_account_id",
];
pub(crate) const PRODUCTS_HEADER: [&str; 4] = ["product_id", "name", "series", "list_price"];
pub(crate) const DEALS_HEADER: [&str; 16] = [
    "deal_id",
    "name",
    "account_id",
    "owner_id",
    "product_id",
    "amount",
    "currency",
    "stage",
    "forecast_category",
    "created_date",
    "close_date",
    "closed_date",
    "outcome",
    "lead_source",
    "deal_type",
    "last_activity_date",
];
pub(crate) const HISTORY_HEADER: [&str; 7] = [
    "deal_id",
    "stage",
    "entered_at",
    "exited_at",
    "amount",
    "close_date",
    "forecast_category",
];

/// A fresh in-memory row writer (no header: headers are written once per file).
pub(crate) fn row_writer(capacity: usize) -> RowWriter {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(capacity))
}

/// Formats small values without allocating.
#[derive(Default)]
pub(crate) struct Scratch {
    buf: [u8; 24],
}

impl Scratch {
    /// `prefix` followed by `n` zero-padded to at least `width` digits, e.g. `D0000042`.
    pub(crate) fn id(&mut self, prefix: u8, width: usize, n: usize) -> &[u8] {
        let mut digits = [0u8; 20];
        let mut len = 0;
        let mut v = n;
        while v > 0 || len < width {
            digits[len] = b'0' + (v % 10) as u8;
            v /= 10;
            len += 1;
        }
        self.buf[0] = prefix;
        for i in 0..len {
            self.buf[1 + i] = digits[len - 1 - i];
        }
        &self.buf[..=len]
    }

    /// Cents as dollars with two decimals, e.g. `12345.60`.
    pub(crate) fn money(&mut self, cents: i64) -> &[u8] {
        let negative = cents < 0;
        let mut v = cents.unsigned_abs();
        let mut rev = [0u8; 24];
        let mut len = 0;
        for _ in 0..2 {
            rev[len] = b'0' + (v % 10) as u8;
            v /= 10;
            len += 1;
        }
        rev[len] = b'.';
        len += 1;
        loop {
            rev[len] = b'0' + (v % 10) as u8;
            v /= 10;
            len += 1;
            if v == 0 {
                break;
            }
        }
        if negative {
            rev[len] = b'-';
            len += 1;
        }
        for i in 0..len {
            self.buf[i] = rev[len - 1 - i];
        }
        &self.buf[..len]
    }

    /// A plain unsigned integer.
    pub(crate) fn count(&mut self, n: u64) -> &[u8] {
        self.id(b'0', 1, n as usize).get(1..).unwrap_or_default()
    }
}

const DEAL_ID_WIDTH: usize = 7;
const ACCOUNT_ID_WIDTH: usize = 5;
const REP_ID_WIDTH: usize = 4;
const PRODUCT_ID_WIDTH: usize = 2;

/// Writes `reps.csv`'s rows.
pub(crate) fn write_reps(w: &mut RowWriter, world: &World, cal: &Calendar) -> csv::Result<()> {
    let mut s = Scratch::default();
    for (i, rep) in world.reps.iter().enumerate() {
        w.write_field(s.id(b'R', REP_ID_WIDTH, i + 1))?;
        w.write_field(&rep.name)?;
        w.write_field(&world.managers[rep.manager])?;
        w.write_field(TEAMS[rep.team])?;
        w.write_field(cal.text(rep.start))?;
        w.write_field(s.money(rep.quota_cents))?;
        w.write_record(None::<&[u8]>)?;
    }
    Ok(())
}

/// Writes `accounts.csv`'s rows.
pub(crate) fn write_accounts(w: &mut RowWriter, world: &World) -> csv::Result<()> {
    let mut s = Scratch::default();
    for (i, a) in world.accounts.iter().enumerate() {
        w.write_field(s.id(b'A', ACCOUNT_ID_WIDTH, i + 1))?;
        w.write_field(&a.name)?;
        w.write_field(a.sector)?;
        w.write_field(s.count(u64::from(a.employees)))?;
        w.write_field(s.money(a.revenue_cents))?;
        w.write_field(TEAMS[a.region])?;
        w.write_field(SEGMENTS[a.segment])?;
        match a.parent {
            Some(p) => w.write_field(s.id(b'A', ACCOUNT_ID_WIDTH, p + 1))?,
            None => w.write_field(b"")?,
        }
        w.write_record(None::<&[u8]>)?;
    }
    Ok(())
}

/// Writes `products.csv`'s rows.
pub(crate) fn write_products(w: &mut RowWriter) -> csv::Result<()> {
    let mut s = Scratch::default();
    for (i, p) in PRODUCTS.iter().enumerate() {
        w.write_field(s.id(b'P', PRODUCT_ID_WIDTH, i + 1))?;
        w.write_field(p.name)?;
        w.write_field(p.series)?;
        w.write_field(s.money((p.list_price * 100.0).round() as i64))?;
        w.write_record(None::<&[u8]>)?;
    }
    Ok(())
}

/// Encodes one deal: its `deals.csv` row and its `stage_history.csv` rows.
pub(crate) struct DealEncoder<'a> {
    pub(crate) world: &'a World,
    pub(crate) cal: &'a Calendar,
    scratch: Scratch,
    id: Vec<u8>,
    name: String,
}

impl<'a> DealEncoder<'a> {
    /// An encoder over the shared world and calendar.
    pub(crate) fn new(world: &'a World, cal: &'a Calendar) -> Self {
        Self {
            world,
            cal,
            scratch: Scratch::default(),
            id: Vec::new(),
            name: String::new(),
        }
    }

    /// Writes deal `index` (0-based) to `deals` and its `history` to `rows`.
    pub(crate) fn write(
        &mut self,
        deals: &mut RowWriter,
        rows: &mut RowWriter,
        index: usize,
        deal: &Deal,
        history: &[HistoryRow],
    ) -> csv::Result<()> {
        let (cal, s) = (self.cal, &mut self.scratch);
        self.id.clear();
        self.id
            .extend_from_slice(s.id(b'D', DEAL_ID_WIDTH, index + 1));
        for (k, row) in history.iter().enumerate() {
            rows.write_field(&self.id)?;
            rows.write_field(row.stage.name())?;
            rows.write_field(cal.text(row.entered))?;
            match history.get(k + 1) {
                Some(next) => rows.write_field(cal.text(next.entered))?,
                None => rows.write_field(b"")?,
            }
            rows.write_field(s.money(row.amount_cents))?;
            rows.write_field(cal.text(row.close))?;
            rows.write_field(row.stage.forecast_category())?;
            rows.write_record(None::<&[u8]>)?;
        }

        let last = history.last().expect("every deal has its creation row");
        let account = &self.world.accounts[deal.account];
        self.name.clear();
        self.name.push_str(&account.name);
        self.name.push_str(" - ");
        self.name.push_str(PRODUCTS[deal.product].name);
        if deal.deal_type > 0 {
            self.name.push(' ');
            self.name.push_str(DEAL_TYPES[deal.deal_type]);
        }
        deals.write_field(&self.id)?;
        deals.write_field(&self.name)?;
        deals.write_field(s.id(b'A', ACCOUNT_ID_WIDTH, deal.account + 1))?;
        deals.write_field(s.id(b'R', REP_ID_WIDTH, deal.owner + 1))?;
        deals.write_field(s.id(b'P', PRODUCT_ID_WIDTH, deal.product + 1))?;
        deals.write_field(s.money(last.amount_cents))?;
        deals.write_field(b"USD")?;
        deals.write_field(last.stage.name())?;
        deals.write_field(last.stage.forecast_category())?;
        deals.write_field(cal.text(deal.created))?;
        deals.write_field(cal.text(last.close))?;
        match deal.closed {
            Some(day) => deals.write_field(cal.text(day))?,
            None => deals.write_field(b"")?,
        }
        deals.write_field(last.stage.outcome())?;
        deals.write_field(LEAD_SOURCES[deal.lead_source])?;
        deals.write_field(DEAL_TYPES[deal.deal_type])?;
        deals.write_field(cal.text(deal.last_activity))?;
        deals.write_record(None::<&[u8]>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_money_are_formatted_like_a_crm() {
        let mut s = Scratch::default();
        assert_eq!(s.id(b'D', 7, 42), b"D0000042");
        assert_eq!(s.id(b'A', 5, 1_234_567), b"A1234567");
        assert_eq!(s.money(0), b"0.00");
        assert_eq!(s.money(5), b"0.05");
        assert_eq!(s.money(1_234_560), b"12345.60");
        assert_eq!(s.money(-250), b"-2.50");
        assert_eq!(s.count(0), b"0");
        assert_eq!(s.count(907), b"907");
    }
}
