//! The demo catalogue: 26 products in five currencies, for trying the shop
//! ([`crate::server::config::DemoCatalogue`] says when it is wanted). A live shop starts empty.

use super::{Backend, Db};

const DEMO_SQL: &str = include_str!("demo_catalogue.sql");

/// When to load the demo catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Only if this is the database's first start (the choice is made once, for good).
    OnFirstStart,
    /// Whenever the catalogue has no products at all, first start or not.
    IntoAnEmptyCatalogue,
    /// Never (the first start records that the demo was not loaded).
    Never,
}

/// Load the demo catalogue if `load` and the database say so; true if it was loaded now. The
/// first start's choice is claimed in the same transaction, so instances starting together on
/// one PostgreSQL database load it at most once.
pub async fn load(db: &Db, load: Load) -> Result<bool, sqlx::Error> {
    db.committed(async |tx| {
        let first_start = sqlx::query(
            "INSERT INTO demo_catalogue (id, decided_at, loaded) VALUES (1, $1, 0) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(super::now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let wanted = match load {
            Load::OnFirstStart => first_start,
            Load::IntoAnEmptyCatalogue => true,
            Load::Never => false,
        };
        // Archived products count: their orders still name them.
        let empty = sqlx::query("SELECT 1 FROM products LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?
            .is_none();
        if !(wanted && empty) {
            return Ok(false);
        }
        sqlx::raw_sql(DEMO_SQL).execute(&mut *tx).await?;
        if db.backend == Backend::Postgres {
            // Explicit ids do not advance the identity sequence.
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('products', 'id'), \
                 (SELECT MAX(id) FROM products))",
            )
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE demo_catalogue SET loaded = 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        Ok(true)
    })
    .await
}
