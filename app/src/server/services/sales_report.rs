//! The sales chart's figures: for the last [`DAYS`] days (UTC), net sales per day and
//! currency — paid orders' totals minus what was refunded of them, by the day the order was
//! placed — and each provider's payment success rate: paid ÷ attempts that reached an end (paid,
//! failed, cancelled, expired, needs review) among attempts created in those days. One grouped
//! query per figure.

use crate::model::utc::{day_of, DAY_MS};
use crate::model::{Currency, CurrencySales, Money, ProviderId, ProviderSuccess, SalesReport};
use crate::server::db::admin_orders as db;
use crate::server::db::Db;
use crate::server::error::{ServerError, ServerResult};

/// How many days the chart covers, today included.
pub const DAYS: i64 = 30;

/// The report for the [`DAYS`] days up to and including the day of `now` (ms since the epoch).
pub async fn report(db: &Db, now: i64) -> ServerResult<SalesReport> {
    let first_day = day_of(now) - (DAYS - 1);
    let since = first_day * DAY_MS;
    let mut conn = db.pool.acquire().await?;
    let sales = db::daily_sales(&mut conn, since).await?;
    let outcomes = db::provider_outcomes(&mut conn, since).await?;
    drop(conn);

    let mut currencies: Vec<CurrencySales> = Vec::new();
    for (day, code, net) in sales {
        let currency: Currency = code
            .parse()
            .map_err(|_| ServerError::Internal(format!("order currency {code:?}")))?;
        let entry = match currencies.iter_mut().position(|c| c.currency == currency) {
            Some(i) => &mut currencies[i],
            None => {
                currencies.push(CurrencySales {
                    currency,
                    per_day: Vec::new(),
                    total: Money::zero(currency),
                });
                currencies.last_mut().expect("just pushed")
            }
        };
        entry.per_day.push((day, net));
        entry.total = entry
            .total
            .checked_add(Money::new(net, currency))
            .map_err(|e| ServerError::Internal(e.to_string()))?;
    }
    currencies.sort_by_key(|c| Currency::ALL.iter().position(|x| *x == c.currency));
    let providers = outcomes
        .into_iter()
        .map(|(provider, ended, paid)| {
            Ok(ProviderSuccess {
                provider: ProviderId::parse(&provider)
                    .ok_or_else(|| ServerError::Internal(format!("provider {provider:?}")))?,
                paid,
                ended,
            })
        })
        .collect::<ServerResult<Vec<_>>>()?;
    Ok(SalesReport {
        first_day,
        days: DAYS,
        currencies,
        providers,
    })
}
