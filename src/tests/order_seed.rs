//! Many orders fast, for the order-list benchmark: `seed(pool, n, customers)` writes `n` orders
//! with their lines and one attempt each, spread over about a year, across every status, provider
//! and currency, with a few customers owning thousands. Multi-row INSERTs (values bound), a
//! transaction per batch; ids are given so a batch needs no round trip per order.

use sqlx::AnyPool;
use std::time::Instant;

/// A year of orders ending now-ish: 2025-12-01 00:00 UTC.
const START_MS: i64 = 1_764_547_200_000;
const YEAR_MS: i64 = 365 * 86_400_000;
const BATCH: usize = 500;
/// The seeded catalogue's products.
const PRODUCTS: i64 = 24;

/// A small deterministic generator (xorshift64*): the same data on every run and backend.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An item of `choices` by weight.
    fn pick<T: Copy>(&mut self, choices: &[(T, u64)]) -> T {
        let total: u64 = choices.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total);
        for (item, weight) in choices {
            if roll < *weight {
                return *item;
            }
            roll -= weight;
        }
        choices[0].0
    }
}

const STATUSES: [(&str, u64); 8] = [
    ("paid", 60),
    ("awaiting_payment", 5),
    ("failed", 10),
    ("cancelled", 8),
    ("expired", 10),
    ("refunded", 3),
    ("partially_refunded", 2),
    ("needs_review", 2),
];
const PROVIDERS: [(&str, u64); 7] = [
    ("stripe", 35),
    ("paypal", 20),
    ("alipay", 8),
    ("sslcommerz", 12),
    ("square", 10),
    ("braintree", 8),
    ("authorizenet", 7),
];
const CURRENCIES: [(&str, u64); 5] = [
    ("USD", 50),
    ("EUR", 25),
    ("BDT", 12),
    ("CNY", 8),
    ("JPY", 5),
];

/// Who placed an order: `heavy` customers own thousands each, the rest share a long tail, and a
/// third are guests.
fn owner(rng: &mut Rng, heavy: &[i64], tail: &[i64]) -> Option<i64> {
    let roll = rng.below(100);
    if roll < 30 {
        None
    } else if roll < 30 + 5 * heavy.len() as u64 {
        Some(heavy[((roll - 30) / 5) as usize])
    } else {
        Some(tail[rng.below(tail.len() as u64) as usize])
    }
}

enum Value {
    Int(i64),
    Text(String),
    /// A NULL of a BIGINT column (PostgreSQL checks the bound type).
    NullInt,
    /// A NULL of a TEXT column.
    NullText,
}

async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    head: &str,
    width: usize,
    rows: Vec<Value>,
) {
    if rows.is_empty() {
        return;
    }
    let tuples = (0..rows.len() / width)
        .map(|r| {
            let cells = (1..=width)
                .map(|c| format!("${}", r * width + c))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({cells})")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("{head} VALUES {tuples}");
    let mut query = sqlx::query(&sql);
    for value in rows {
        query = match value {
            Value::Int(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::NullInt => query.bind(None::<i64>),
            Value::NullText => query.bind(None::<String>),
        };
    }
    query.execute(&mut **tx).await.expect("seed insert");
}

/// Add `tail` plain customers (they never log in: a placeholder hash); their ids.
pub async fn customers(pool: &AnyPool, tail: usize) -> Vec<i64> {
    let mut tx = pool.begin().await.unwrap();
    let rows = (0..tail)
        .flat_map(|i| {
            [
                Value::Text(format!("tail-{i}@example.com")),
                Value::Text("!".into()),
                Value::Text("customer".into()),
                Value::Int(START_MS),
            ]
        })
        .collect();
    insert(
        &mut tx,
        "INSERT INTO users (email, password_hash, role, created_at)",
        4,
        rows,
    )
    .await;
    tx.commit().await.unwrap();
    let rows = sqlx::query("SELECT id FROM users WHERE email LIKE 'tail-%' ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    rows.iter().map(|r| sqlx::Row::get(r, "id")).collect()
}

/// Write orders `1..=n` (the database must have none yet). Returns how long it took.
pub async fn seed(
    pool: &AnyPool,
    postgres: bool,
    n: i64,
    heavy: &[i64],
    tail: &[i64],
) -> std::time::Duration {
    let started = Instant::now();
    let emails: std::collections::HashMap<i64, String> = sqlx::query("SELECT id, email FROM users")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (sqlx::Row::get(r, "id"), sqlx::Row::get(r, "email")))
        .collect();
    let names: std::collections::HashMap<i64, String> =
        sqlx::query("SELECT id, name FROM products")
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (sqlx::Row::get(r, "id"), sqlx::Row::get(r, "name")))
            .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut id = 1;
    while id <= n {
        let last = (id + BATCH as i64 - 1).min(n);
        let (mut orders, mut lines, mut attempts) = (Vec::new(), Vec::new(), Vec::new());
        for order_id in id..=last {
            let user = owner(&mut rng, heavy, tail);
            let email = match user {
                Some(u) => emails[&u].clone(),
                None => format!("guest-{}@example.com", rng.below(20_000)),
            };
            let status = rng.pick(&STATUSES);
            let provider = rng.pick(&PROVIDERS);
            let currency = rng.pick(&CURRENCIES);
            let created = START_MS + order_id * (YEAR_MS / n) + rng.below(60_000) as i64;
            let count = 1 + rng.below(3) as i64;
            let first = 1 + rng.below(PRODUCTS as u64) as i64;
            let mut total = 0;
            for k in 0..count {
                let product = (first - 1 + k * 7) % PRODUCTS + 1;
                let quantity = 1 + rng.below(3) as i64;
                let unit = if currency == "JPY" {
                    1500
                } else {
                    1200 + 100 * product
                };
                total += unit * quantity;
                lines.extend([
                    Value::Int(order_id),
                    Value::Int(product),
                    Value::Text(
                        names
                            .get(&product)
                            .cloned()
                            .unwrap_or_else(|| format!("Product {product}")),
                    ),
                    Value::Int(unit),
                    Value::Int(quantity),
                    Value::Int(unit * quantity),
                ]);
            }
            let refunded = match status {
                "refunded" => total,
                "partially_refunded" => total / 2,
                _ => 0,
            };
            let reference = format!("ORD-{order_id:06}");
            orders.extend([
                Value::Int(order_id),
                Value::Text(reference.clone()),
                Value::Text(format!("bench-{order_id}")),
                user.map(Value::Int).unwrap_or(Value::NullInt),
                Value::Text("token".into()),
                Value::Text(email),
                Value::Text(format!("Customer {}", order_id % 997)),
                Value::Text("{}".into()),
                Value::Text(currency.into()),
                Value::Int(total),
                Value::Text(status.into()),
                Value::Int(created),
                Value::Text(provider.into()),
                Value::Int(refunded),
            ]);
            let paid = attempt_state(status) == "paid";
            attempts.extend([
                Value::Int(order_id),
                Value::Text(format!("{reference}-A1")),
                Value::Text(provider.into()),
                Value::Text(attempt_state(status).into()),
                Value::Text(format!("cs_bench_{order_id}")),
                if paid {
                    Value::Text(format!("pi_bench_{order_id}"))
                } else {
                    Value::NullText
                },
                Value::Int(created),
            ]);
        }
        let mut tx = pool.begin().await.unwrap();
        insert(&mut tx, "INSERT INTO orders (id, reference, idempotency_key, user_id, guest_token, email, name, address, \
             currency, total_minor, status, created_at, provider, refunded_minor, updated_at)", 15,
            orders.chunks(14).flat_map(|c| {
                let created = match &c[11] { Value::Int(v) => *v, _ => 0 };
                c.iter().map(clone_value).chain([Value::Int(created)]).collect::<Vec<_>>()
            }).collect()).await;
        insert(&mut tx, "INSERT INTO order_lines (order_id, product_id, name, unit_minor, quantity, line_minor)", 6, lines).await;
        insert(&mut tx, "INSERT INTO payment_attempts (order_id, reference, provider, state, provider_session_id, \
             provider_payment_id, created_at, updated_at)", 8,
            attempts.chunks(7).flat_map(|c| {
                let created = match &c[6] { Value::Int(v) => *v, _ => 0 };
                c.iter().map(clone_value).chain([Value::Int(created)]).collect::<Vec<_>>()
            }).collect()).await;
        tx.commit().await.unwrap();
        id = last + 1;
    }
    if postgres {
        for table in ["orders", "payment_attempts"] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .execute(pool)
            .await
            .unwrap();
        }
        // Index-only scans need the visibility map that VACUUM writes.
        sqlx::query("VACUUM ANALYZE").execute(pool).await.unwrap();
    } else {
        sqlx::query("ANALYZE").execute(pool).await.unwrap();
    }
    started.elapsed()
}

fn clone_value(v: &Value) -> Value {
    match v {
        Value::Int(i) => Value::Int(*i),
        Value::Text(t) => Value::Text(t.clone()),
        Value::NullInt => Value::NullInt,
        Value::NullText => Value::NullText,
    }
}

/// The state of an order's one attempt, from the order's status.
fn attempt_state(status: &str) -> &'static str {
    match status {
        "awaiting_payment" => "open",
        "failed" => "failed",
        "cancelled" => "cancelled",
        "expired" => "expired",
        "needs_review" => "needs_review",
        _ => "paid",
    }
}
