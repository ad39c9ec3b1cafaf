//! Reusable pieces of the pages.

pub mod feedback;
pub mod layout;
pub mod product_tile;
pub mod order_list;
