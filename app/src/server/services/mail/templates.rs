//! The emails' words: each kind of message as a subject, a plain-text body and an HTML body (sent
//! together as `multipart/alternative`). Plain functions rather than a template engine: the
//! messages are short, the compiler checks every field, and every value that came from a shopper
//! or a product name goes through [`escape`] in the HTML part.
//!
//! Amounts use the shop's one money format (`Money`'s `Display`: `$1,234.50`, `¥1,500`).

use crate::model::{Money, OrderLineView};
use std::fmt::Write as _;

/// What every message about an order may show.
#[derive(Debug, Clone)]
pub struct OrderFacts {
    pub reference: String,
    pub lines: Vec<OrderLineView>,
    pub total: Money,
    /// The order page; for a guest order it carries the guest key, like the link the order page
    /// shows, since a guest has no account to log in with.
    pub order_url: String,
    /// Where to shop again (the cart).
    pub cart_url: String,
}

/// One message to write.
#[derive(Debug, Clone)]
pub enum Letter {
    /// To the shopper, on *Paid*.
    Confirmation(OrderFacts),
    /// To the shopper, on *Failed*.
    PaymentFailed(OrderFacts),
    /// To the shopper, on *Expired*.
    Expired(OrderFacts),
    /// To the shopper: `amount` of the order was refunded.
    Refund { order: OrderFacts, amount: Money },
    /// To the merchant, on *Needs review*: `why` is the ledger's note; `admin_url` the merchant's
    /// order page.
    NeedsReview {
        order: OrderFacts,
        why: String,
        admin_url: String,
    },
}

/// A message's subject and its two bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The shop's one HTML escaper (element content and attribute values).
pub use crate::server::html::escape;

/// Paragraphs of a message: text, or a link with its label.
enum Part<'a> {
    Para(String),
    Link(&'a str, &'a str),
    Lines(&'a OrderFacts),
}

/// Write `parts` once as plain text and once as HTML, under `shop`'s name.
fn compose(subject: String, shop: &str, parts: &[Part<'_>]) -> Rendered {
    let mut text = String::new();
    let mut html =
        String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = writeln!(html, "<title>{}</title></head><body>", escape(&subject));
    for part in parts {
        match part {
            Part::Para(p) => {
                let _ = write!(text, "{p}\n\n");
                let _ = writeln!(html, "<p>{}</p>", escape(p));
            }
            Part::Link(label, url) => {
                let _ = write!(text, "{label}:\n{url}\n\n");
                let _ = writeln!(
                    html,
                    "<p><a href=\"{}\">{}</a></p>",
                    escape(url),
                    escape(label)
                );
            }
            Part::Lines(order) => {
                write_lines(&mut text, &mut html, order);
            }
        }
    }
    let _ = write!(text, "-- \n{shop}\n");
    let _ = write!(html, "<p>{}</p>\n</body></html>\n", escape(shop));
    Rendered {
        subject,
        text,
        html,
    }
}

fn write_lines(text: &mut String, html: &mut String, order: &OrderFacts) {
    html.push_str(
        "<table>\n<thead><tr><th scope=\"col\">Product</th><th scope=\"col\">Quantity</th>\
         <th scope=\"col\">Unit price</th><th scope=\"col\">Line total</th></tr></thead>\n<tbody>\n",
    );
    for line in &order.lines {
        let _ = writeln!(
            text,
            "  {} x {} at {} = {}",
            line.quantity, line.name, line.unit_price, line.line_total
        );
        let _ = writeln!(
            html,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&line.name),
            line.quantity,
            escape(&line.unit_price.to_string()),
            escape(&line.line_total.to_string())
        );
    }
    let _ = write!(text, "  Total: {}\n\n", order.total);
    let _ = writeln!(
        html,
        "</tbody>\n<tfoot><tr><th scope=\"row\" colspan=\"3\">Total</th><td>{}</td></tr></tfoot>\n</table>",
        escape(&order.total.to_string())
    );
}

/// The subject and bodies of `letter`, signed with the shop's name.
pub fn render(letter: &Letter, shop: &str) -> Rendered {
    match letter {
        Letter::Confirmation(o) => compose(
            format!("Order {} confirmed", o.reference),
            shop,
            &[
                Part::Para(format!(
                    "Thank you for your order {}. We have received your payment.",
                    o.reference
                )),
                Part::Lines(o),
                Part::Link("See your order at any time", &o.order_url),
            ],
        ),
        Letter::PaymentFailed(o) => compose(
            format!("Payment for order {} did not go through", o.reference),
            shop,
            &[
                Part::Para(format!(
                    "The payment for your order {} ({}) did not go through, so the order was not placed and no money was taken.",
                    o.reference, o.total
                )),
                Part::Link("Try again from your cart", &o.cart_url),
                Part::Link("The order", &o.order_url),
            ],
        ),
        Letter::Expired(o) => compose(
            format!("Order {} expired unpaid", o.reference),
            shop,
            &[
                Part::Para(format!(
                    "Your order {} ({}) was not paid in time, so we closed it and released the items it held. No money was taken.",
                    o.reference, o.total
                )),
                Part::Link("Shop again from your cart", &o.cart_url),
                Part::Link("The order", &o.order_url),
            ],
        ),
        Letter::Refund { order: o, amount } => compose(
            format!("Refund for order {}", o.reference),
            shop,
            &[
                Part::Para(format!(
                    "We refunded {amount} of your order {} (total {}). Your bank may take a few days to show it.",
                    o.reference, o.total
                )),
                Part::Link("See your order", &o.order_url),
            ],
        ),
        Letter::NeedsReview {
            order: o,
            why,
            admin_url,
        } => compose(
            format!("Order {} needs review", o.reference),
            shop,
            &[
                Part::Para(format!(
                    "Order {} ({}) needs a person to look at its payment.",
                    o.reference, o.total
                )),
                Part::Para(format!("Why: {why}")),
                Part::Link("Open the order", admin_url),
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Currency;

    fn facts(name: &str, currency: Currency, unit: i64, qty: i64) -> OrderFacts {
        OrderFacts {
            reference: "ORD-000042".into(),
            lines: vec![OrderLineView {
                name: name.into(),
                quantity: qty,
                unit_price: Money::new(unit, currency),
                line_total: Money::new(unit * qty, currency),
            }],
            total: Money::new(unit * qty, currency),
            order_url: "https://shop.example.com/orders/ORD-000042?key=abc&x=1".into(),
            cart_url: "https://shop.example.com/cart".into(),
        }
    }

    #[test]
    fn confirmation_lists_lines_and_total_in_the_shops_money_format() {
        let r = render(
            &Letter::Confirmation(facts("Mug", Currency::Usd, 61_725, 2)),
            "Storefront",
        );
        assert_eq!(r.subject, "Order ORD-000042 confirmed");
        assert!(
            r.text.contains("2 x Mug at $617.25 = $1,234.50"),
            "{}",
            r.text
        );
        assert!(r.text.contains("Total: $1,234.50"), "{}", r.text);
        assert!(r
            .text
            .contains("https://shop.example.com/orders/ORD-000042?key=abc&x=1"));
        assert!(r.html.contains("<td>$1,234.50</td>"), "{}", r.html);
        // The link's `&` is escaped inside the attribute.
        assert!(r
            .html
            .contains("href=\"https://shop.example.com/orders/ORD-000042?key=abc&amp;x=1\""));
        let yen = render(
            &Letter::Confirmation(facts("Tea", Currency::Jpy, 1_500, 1)),
            "Storefront",
        );
        assert!(yen.text.contains("Total: ¥1,500"), "{}", yen.text);
    }

    #[test]
    fn escapes_names_and_notes_in_html_only() {
        let evil = "<script>alert('x')</script> & \"Co\"";
        let r = render(
            &Letter::Confirmation(facts(evil, Currency::Eur, 500, 1)),
            "Shop <b>",
        );
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r
            .html
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;"));
        assert!(r.html.contains("Shop &lt;b&gt;"));
        assert!(r.text.contains(evil), "plain text stays as written");
        let r = render(
            &Letter::NeedsReview {
                order: facts("Mug", Currency::Usd, 100, 1),
                why: "amount <1.00> differs".into(),
                admin_url: "https://shop.example.com/admin/orders/ORD-000042".into(),
            },
            "Storefront",
        );
        assert!(r.html.contains("Why: amount &lt;1.00&gt; differs"));
        assert_eq!(r.subject, "Order ORD-000042 needs review");
    }

    #[test]
    fn notes_link_back_to_the_cart_and_refunds_name_the_amount() {
        for letter in [
            Letter::PaymentFailed(facts("Mug", Currency::Usd, 100, 1)),
            Letter::Expired(facts("Mug", Currency::Usd, 100, 1)),
        ] {
            let r = render(&letter, "Storefront");
            assert!(
                r.text.contains("https://shop.example.com/cart"),
                "{}",
                r.text
            );
            assert!(r.html.contains("href=\"https://shop.example.com/cart\""));
            assert!(r.subject.contains("ORD-000042"));
        }
        let r = render(
            &Letter::Refund {
                order: facts("Mug", Currency::Eur, 2_000, 1),
                amount: Money::new(550, Currency::Eur),
            },
            "Storefront",
        );
        assert!(r
            .text
            .contains("We refunded €5.50 of your order ORD-000042 (total €20.00)"));
    }
}
