//! Accounts.

use crate::model::{CurrentUser, Email, Role};
use sqlx::{AnyConnection, Row as _};

/// An account with its password hash, for the login check only.
#[derive(Debug, Clone)]
pub struct UserWithHash {
    pub user: CurrentUser,
    pub password_hash: String,
}

fn user_from_row(row: &super::Row) -> Result<CurrentUser, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(CurrentUser {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: Role::parse(&role)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown role {role:?}").into()))?,
    })
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<CurrentUser>, sqlx::Error> {
    let row = sqlx::query("SELECT id, email, role FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn by_email(
    conn: &mut AnyConnection,
    email: &Email,
) -> Result<Option<UserWithHash>, sqlx::Error> {
    let row = sqlx::query("SELECT id, email, role, password_hash FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(UserWithHash {
            user: user_from_row(&r)?,
            password_hash: r.try_get("password_hash")?,
        })
    })
    .transpose()
}

/// Insert an account; `None` if the email is taken.
pub async fn insert(
    conn: &mut AnyConnection,
    email: &Email,
    password_hash: &str,
    role: Role,
) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO users (email, password_hash, role, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email) DO NOTHING RETURNING id",
    )
    .bind(email.as_str())
    .bind(password_hash)
    .bind(role.as_str())
    .bind(super::now_ms())
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.try_get("id")).transpose()
}

/// Create the account or reset its password and role (the bootstrap merchant).
pub async fn upsert(
    conn: &mut AnyConnection,
    email: &Email,
    password_hash: &str,
    role: Role,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (email, password_hash, role, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role",
    )
    .bind(email.as_str())
    .bind(password_hash)
    .bind(role.as_str())
    .bind(super::now_ms())
    .execute(conn)
    .await?;
    Ok(())
}
