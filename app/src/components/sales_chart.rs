//! The merchant's sales chart, meant for above the order list: net sales per day for the
//! last 30 days, one small chart per currency (amounts in different currencies are never added),
//! and the payment success rate per provider. Drawn as SVG on the server — no chart library, and
//! readable without JavaScript — with the same figures in compact tables for screen readers.
//! The SVG markup is built from numbers and the shop's own labels only (no stored text).

use crate::api::admin_orders::get_sales_report;
use crate::model::utc::day_label;
use crate::model::{CurrencySales, Money, SalesReport};
use leptos::prelude::*;

/// Drawing area of the bars, in SVG user units, and the margins around it for the axes' labels.
const WIDTH: i64 = 300;
const HEIGHT: i64 = 100;
const LEFT: i64 = 70;
const TOP: i64 = 8;
const BOTTOM: i64 = 22;

/// One bar: its slot from the left and its height (0..=[`HEIGHT`]).
fn bar_height(value: i64, max: i64) -> i64 {
    if value <= 0 || max <= 0 {
        return 0;
    }
    // Integer math; a non-zero value is at least one unit tall so it stays visible.
    (i128::from(value) * i128::from(HEIGHT) / i128::from(max)).max(1) as i64
}

/// The SVG of one currency's net sales per day: bars over a dated x axis (first, middle and last
/// day) and a y axis marked 0, half and the best day's amount.
pub fn sales_svg(report: &SalesReport, sales: &CurrencySales) -> String {
    let code = sales.currency.code();
    let max = sales.per_day.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let slot = WIDTH / report.days.max(1);
    let last_day = report.first_day + report.days - 1;
    let baseline = TOP + HEIGHT;
    let mut svg = format!(
        r#"<svg role="img" aria-labelledby="sales-{code}-title" viewBox="0 0 {w} {h}" class="chart"><title id="sales-{code}-title">Net sales in {code} per day from {} to {}: {} in total</title><g transform="translate({LEFT} {TOP})">"#,
        day_label(report.first_day),
        day_label(last_day),
        sales.total,
        w = LEFT + WIDTH + 4,
        h = TOP + HEIGHT + BOTTOM,
    );
    for (day, value) in &sales.per_day {
        let index = day - report.first_day;
        if !(0..report.days).contains(&index) {
            continue;
        }
        let height = bar_height(*value, max);
        svg.push_str(&format!(
            r#"<rect x="{}" y="{}" width="{}" height="{height}" class="bar"><title>{}: {}</title></rect>"#,
            index * slot + 1,
            HEIGHT - height,
            (slot - 2).max(1),
            day_label(*day),
            Money::new(*value, sales.currency),
        ));
    }
    svg.push_str("</g>");
    // The y axis: 0, half and the best day, each with a faint grid line.
    for (value, y) in [(0, baseline), (max / 2, TOP + HEIGHT / 2), (max, TOP)] {
        if value == 0 && y != baseline {
            continue;
        }
        svg.push_str(&format!(
            r#"<line x1="{LEFT}" y1="{y}" x2="{x2}" y2="{y}" class="grid"/><text x="{lx}" y="{ty}" class="label" text-anchor="end">{}</text>"#,
            Money::new(value, sales.currency),
            x2 = LEFT + WIDTH,
            lx = LEFT - 4,
            ty = y + 3,
        ));
    }
    svg.push_str(&format!(
        r#"<line x1="{LEFT}" y1="{baseline}" x2="{x2}" y2="{baseline}" class="axis"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{baseline}" class="axis"/>"#,
        x2 = LEFT + WIDTH,
    ));
    // The x axis: the first, middle and last day.
    let middle = report.days / 2;
    for (index, anchor) in [(0, "start"), (middle, "middle"), (report.days - 1, "end")] {
        let x = match anchor {
            "start" => LEFT,
            "end" => LEFT + WIDTH,
            _ => LEFT + index * slot + slot / 2,
        };
        svg.push_str(&format!(
            r#"<text x="{x}" y="{}" class="label" text-anchor="{anchor}">{}</text>"#,
            baseline + 14,
            day_label(report.first_day + index),
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// The SVG of each provider's success rate, one horizontal bar each.
pub fn success_svg(report: &SalesReport) -> String {
    let row = 20;
    let height = row * report.providers.len().max(1) as i64;
    let mut svg = format!(
        r#"<svg role="img" aria-labelledby="success-title" viewBox="0 0 {WIDTH} {height}" class="chart rates"><title id="success-title">Payment success rate per provider over the last {} days</title>"#,
        report.days
    );
    for (i, p) in report.providers.iter().enumerate() {
        let y = i as i64 * row;
        let label_width = 100;
        let bar = (WIDTH - label_width) * p.per_mille() / 1000;
        svg.push_str(&format!(
            r#"<text x="0" y="{}" class="label">{}</text><rect x="{label_width}" y="{}" width="{bar}" height="{}" class="bar"><title>{}: {} ({} of {})</title></rect>"#,
            y + 14,
            p.provider.label(),
            y + 3,
            row - 6,
            p.provider.label(),
            p.rate_label(),
            p.paid,
            p.ended,
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// The chart, loading its own figures (merchant only; others see the refusal's text).
#[component]
pub fn SalesChart() -> impl IntoView {
    let report = Resource::new(|| (), |_| get_sales_report());
    view! {
        <section aria-labelledby="sales-heading" class="sales-chart">
            <h2 id="sales-heading">"Sales, last 30 days"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(report) => view! { <SalesFigures report /> }.into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The charts and their tables for a loaded report.
#[component]
pub fn SalesFigures(report: SalesReport) -> impl IntoView {
    let charts = report
        .currencies
        .iter()
        .map(|c| {
            let svg = sales_svg(&report, c);
            let caption = format!("Net sales in {} per day", c.currency.code());
            view! {
                <figure class="chart-figure">
                    <figcaption class="hint">{caption}</figcaption>
                    <div inner_html=svg></div>
                </figure>
            }
        })
        .collect_view();
    let rows = report
        .currencies
        .iter()
        .flat_map(|c| {
            c.per_day.iter().map(move |(day, net)| {
                view! {
                    <tr>
                        <th scope="row">{day_label(*day)}</th>
                        <td>{c.currency.code()}</td>
                        <td>{Money::new(*net, c.currency).to_string()}</td>
                    </tr>
                }
            })
        })
        .collect_view();
    let totals = report
        .currencies
        .iter()
        .map(|c| view! { <tr><th scope="row">"Total"</th><td>{c.currency.code()}</td><td>{c.total.to_string()}</td></tr> })
        .collect_view();
    let success = success_svg(&report);
    let providers = report
        .providers
        .iter()
        .map(|p| {
            view! {
                <tr>
                    <th scope="row">{p.provider.label()}</th>
                    <td>{p.paid}</td>
                    <td>{p.ended}</td>
                    <td>{p.rate_label()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="hint">"Net sales: paid orders' totals minus refunds, by the day (UTC) the order was placed."</p>
        {if report.currencies.is_empty() {
            view! { <p>"No paid orders in these days."</p> }.into_any()
        } else {
            view! { <div class="charts">{charts}</div> }.into_any()
        }}
        <details class="figures">
        <summary>"Net sales per day as a table"</summary>
        <table class="chart-figures compact" data-testid="sales-figures">
            <caption class="visually-hidden">"Net sales per day"</caption>
            <thead><tr><th scope="col">"Day"</th><th scope="col">"Currency"</th><th scope="col">"Net sales"</th></tr></thead>
            <tbody>{rows}</tbody>
            <tfoot>{totals}</tfoot>
        </table>
        </details>
        <figure class="chart-figure" inner_html=success></figure>
        <details class="figures">
        <summary>"Payment success per provider as a table"</summary>
        <table class="chart-figures compact" data-testid="success-figures">
            <caption class="visually-hidden">"Payment success per provider (paid ÷ attempts that reached an end)"</caption>
            <thead><tr>
                <th scope="col">"Provider"</th><th scope="col">"Paid"</th>
                <th scope="col">"Ended"</th><th scope="col">"Success rate"</th>
            </tr></thead>
            <tbody>{providers}</tbody>
        </table>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Currency, ProviderId, ProviderSuccess};

    fn report() -> SalesReport {
        SalesReport {
            first_day: 20_000,
            days: 30,
            currencies: vec![CurrencySales {
                currency: Currency::Usd,
                per_day: vec![(20_000, 1800), (20_029, 3600)],
                total: Money::new(5400, Currency::Usd),
            }],
            providers: vec![ProviderSuccess {
                provider: ProviderId::Stripe,
                paid: 2,
                ended: 3,
            }],
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_figures_render_as_labelled_svg_and_tables() {
        use leptos::tachys::view::RenderHtml;
        let owner = Owner::new();
        owner.set();
        let html = view! { <SalesFigures report=report() /> }.to_html();
        assert!(
            html.contains(r#"<svg role="img" aria-labelledby="sales-USD-title""#),
            "{html}"
        );
        assert!(
            html.contains(r#"<svg role="img" aria-labelledby="success-title""#),
            "{html}"
        );
        assert!(
            html.contains(r#"<th scope="row">2024-11-02</th><td>USD</td><td>$36.00</td>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<th scope="row">Stripe</th><td>2</td><td>3</td><td>66.7 %</td>"#),
            "{html}"
        );
    }

    #[test]
    fn bars_scale_to_the_largest_day() {
        assert_eq!(bar_height(3600, 3600), HEIGHT);
        assert_eq!(bar_height(1800, 3600), HEIGHT / 2);
        assert_eq!(bar_height(1, 1_000_000), 1, "a small day stays visible");
        assert_eq!(bar_height(0, 3600), 0);
    }

    #[test]
    fn the_svg_is_labelled_and_draws_one_bar_per_day_with_sales() {
        let r = report();
        let svg = sales_svg(&r, &r.currencies[0]);
        assert!(svg.starts_with(r#"<svg role="img" aria-labelledby="sales-USD-title""#));
        assert!(
            svg.contains("Net sales in USD per day from 2024-10-04 to 2024-11-02: $54.00 in total"),
            "{svg}"
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(r#"<rect x="1" y="50" width="8" height="50" class="bar"><title>2024-10-04: $18.00</title>"#), "{svg}");
        // Axes: the best day's amount, half of it and zero; the first, middle and last day.
        for label in [
            "$36.00</text>",
            "$18.00</text>",
            "$0.00</text>",
            ">2024-10-04</text>",
            ">2024-10-19</text>",
            ">2024-11-02</text>",
        ] {
            assert!(svg.contains(label), "{label}: {svg}");
        }
        assert!(
            svg.contains(r#"<rect x="291" y="0" width="8" height="100""#),
            "{svg}"
        );
        let success = success_svg(&r);
        assert!(success.contains("Stripe: 66.7 % (2 of 3)"), "{success}");
        assert!(success.contains(r#"width="133""#), "{success}");
    }
}
