//! The sandboxes' objects in their store, typed: one [`Kind`] for each kind of object a provider
//! keeps (its sessions, payments, refunds…), and one way to change an object, a compare-and-set on
//! the data it was read with ([`Loaded::save`]), so that two requests racing on one object change
//! it once and the other reads it again.
//!
//! An object is any `Serialize + DeserializeOwned` value: a typed struct, or a `serde_json::Value`
//! where the provider's wire shape is easier kept as it is. Writes are each a write transaction of
//! their own ([`Db::committed`]); reads may run on any connection.

use super::store;
use app::server::db::Db;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sqlx::AnyConnection;
use std::ops::Deref;

/// How often a change that met a concurrent one reads the object again and retries, where the
/// provider retries rather than refusing at once.
pub const TRIES: usize = 5;

/// One kind of object: the provider that keeps it, and the prefix of its ids in the store (the
/// store's id is the prefix and the object's own id).
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub provider: &'static str,
    pub prefix: &'static str,
}

/// An object as read from the store, with the data it was read from (what [`Loaded::save`]
/// compares). It reads as the object itself.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    kind: Kind,
    id: String,
    data: String,
    pub value: T,
}

impl<T> Deref for Loaded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

fn encode<T: Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

impl Kind {
    pub const fn new(provider: &'static str, prefix: &'static str) -> Kind {
        Kind { provider, prefix }
    }

    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// The object with this id (without the prefix); `None` if there is none, or if its data is
    /// not one of these.
    pub async fn load<T: DeserializeOwned>(
        &self,
        db: &Db,
        id: &str,
    ) -> Result<Option<Loaded<T>>, sqlx::Error> {
        let mut conn = db.pool.acquire().await?;
        let found = store::get(&mut conn, &self.key(id)).await?;
        Ok(found.and_then(|object| self.loaded(object)))
    }

    /// Store a new object under this id, unless one is there already: true if stored.
    pub async fn insert<T: Serialize>(
        &self,
        db: &Db,
        id: &str,
        value: &T,
    ) -> Result<bool, sqlx::Error> {
        self.insert_in(db, None, id, value).await
    }

    /// [`Kind::insert`] in `tx` (to commit with the rest of a request's work), or without one in
    /// a write transaction of its own.
    pub async fn insert_in<T: Serialize>(
        &self,
        db: &Db,
        tx: Option<&mut AnyConnection>,
        id: &str,
        value: &T,
    ) -> Result<bool, sqlx::Error> {
        let (key, data) = (self.key(id), encode(value)?);
        let insert = async |conn: &mut AnyConnection| {
            store::insert(conn, self.provider, &key, None, "", 200, &data).await
        };
        store::within(db, tx, insert).await
    }

    /// The objects of this kind whose data contains `needle` (a reference, an id inside them),
    /// oldest first.
    pub async fn search<T: DeserializeOwned>(
        &self,
        db: &Db,
        needle: &str,
    ) -> Result<Vec<Loaded<T>>, sqlx::Error> {
        let mut conn = db.pool.acquire().await?;
        let found = store::search(&mut conn, self.provider, self.prefix, needle).await?;
        Ok(found
            .into_iter()
            .filter_map(|object| self.loaded(object))
            .collect())
    }

    fn loaded<T: DeserializeOwned>(&self, object: store::SandboxObject) -> Option<Loaded<T>> {
        Some(Loaded {
            kind: *self,
            id: object.id.strip_prefix(self.prefix)?.to_string(),
            value: serde_json::from_str(&object.data).ok()?,
            data: object.data,
        })
    }
}

impl<T> Loaded<T> {
    /// The object's id (without its kind's prefix).
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl<T: Serialize> Loaded<T> {
    /// Put `after` in this object's place if nobody changed it since it was read
    /// (compare-and-set): false, and nothing written, if somebody did.
    pub async fn save(&self, db: &Db, after: &T) -> Result<bool, sqlx::Error> {
        let (key, data) = (self.kind.key(&self.id), encode(after)?);
        let old = Some(self.data.as_str());
        db.committed(async |conn| store::update(conn, &key, 200, &data, old).await)
            .await
    }

    /// Put `after` in this object's place whatever happened to it meanwhile.
    pub async fn overwrite(&self, db: &Db, after: &T) -> Result<(), sqlx::Error> {
        let (key, data) = (self.kind.key(&self.id), encode(after)?);
        db.committed(async |conn| store::update(conn, &key, 200, &data, None).await)
            .await?;
        Ok(())
    }
}

/// An object as the provider's API shows it: without the sandbox's own fields, whose names start
/// with `_` (`_sandbox_refunds`, `_deleted`…).
pub fn shown(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.retain(|k, _| !k.starts_with('_'));
    }
    object
}
